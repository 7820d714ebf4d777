"""Property-based tests of the destination-specific normalizers on strange input.

A vendor normalizer may refuse a value with InvalidValue, which sends the row to
failed_rows; any other exception would stop a sync. What it returns must come out
the same when normalized again, and a hashed value must be a SHA-256 hex digest
that is not hashed a second time.
"""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activation.vendors import (
    InvalidValue,
    country_code,
    e164_phone,
    google_email,
    hashed,
    letters_only,
    lower_trimmed,
    mailchimp_email,
    meta_country,
    meta_phone,
    plain_email,
    sha256_hex,
    truncate_utf8,
    without_spaces,
)

NORMALIZERS = {
    "plain_email": plain_email,
    "mailchimp_email": mailchimp_email,
    "google_email": google_email,
    "e164_phone": e164_phone,
    "meta_phone": meta_phone,
    "lower_trimmed": lower_trimmed,
    "letters_only": letters_only,
    "without_spaces": without_spaces,
    "country_code": country_code,
    "meta_country": meta_country,
}
HEX64 = re.compile(r"[0-9a-f]{64}")

TRICKY = [
    "\u200b", "\u200d", "\u202e", "\ufeff", "\x00", "\u0301", "👍🏽", "ß", "İ", "ﬁ",
    "@", "+", ".", " ", "\t", "gmail.com", "googlemail.com", "0049", "+49",
]  # fmt: skip
values = st.one_of(
    st.text(),
    st.lists(
        st.one_of(st.sampled_from(TRICKY), st.characters(codec="utf-8")), max_size=30
    ).map("".join),
    st.sampled_from(
        [
            "Jane.Doe+news@GMail.com",
            " anna@example.de ",
            "+49 30 1234567",
            "030 1234567",
            "DE",
            "de",
            "Müller-Lüdenscheidt",
            "a" * 64,
            "f" * 64,
        ]
    ),
)
regions = st.sampled_from([None, "DE", "AT", "", "xx"])

fuzz_settings = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def normalize_or_none(normalize, value, *args):
    try:
        return normalize(value, *args)
    except InvalidValue:
        return None


@pytest.mark.parametrize("name", NORMALIZERS)
@fuzz_settings
@given(value=values, form=st.sampled_from(["NFC", "NFD", "NFKC", "NFKD"]))
def test_vendor_normalizer_only_refuses(name, value, form):
    result = normalize_or_none(NORMALIZERS[name], unicodedata.normalize(form, value))
    assert result is None or isinstance(result, str)


@pytest.mark.parametrize("name", NORMALIZERS)
@fuzz_settings
@given(value=values)
def test_vendor_normalizer_idempotent(name, value):
    normalize = NORMALIZERS[name]
    once = normalize_or_none(normalize, value)
    if once is not None:
        assert normalize(once) == once


@fuzz_settings
@given(value=values, region=regions)
def test_phones_in_vendor_form(value, region):
    google = normalize_or_none(e164_phone, value, region)
    meta = normalize_or_none(meta_phone, value, region)
    if google is not None and not HEX64.fullmatch(google):
        assert re.fullmatch(r"\+[1-9]\d{1,14}", google)
        assert meta == google.removeprefix("+")


@fuzz_settings
@given(value=values)
def test_hash_is_hex_and_not_hashed_twice(value):
    digest = normalize_or_none(hashed(lower_trimmed), value)
    if digest is not None:
        assert HEX64.fullmatch(digest)
        assert sha256_hex(digest) == digest


@fuzz_settings
@given(value=values, limit=st.integers(min_value=0, max_value=300))
def test_truncation_keeps_valid_utf8(value, limit):
    cut = truncate_utf8(value, limit)
    assert len(cut.encode("utf-8")) <= limit
    assert value.startswith(cut)
