"""Normalization rules per destination type."""

from __future__ import annotations

import hashlib

import pytest

from activation.vendors import (
    VENDOR_FIELDS,
    InvalidValue,
    e164_phone,
    google_email,
    letters_only,
    mailchimp_email,
    meta_country,
    meta_phone,
    plain_email,
    sha256_hex,
    truncate_utf8,
    without_spaces,
)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def google(field: str, value, region=None):
    rule = VENDOR_FIELDS["google_ads"][field]
    return rule.normalize(value, region) if rule.needs_region else rule.normalize(value)


def meta(field: str, value, region=None):
    rule = VENDOR_FIELDS["meta"][field]
    return rule.normalize(value, region) if rule.needs_region else rule.normalize(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  Anna.Schmidt@Example.DE ", "anna.schmidt@example.de"),
        ("anna.schmidt+news@gmail.com", "annaschmidt@gmail.com"),
        ("A.N.N.A+x+y@GoogleMail.com", "anna@googlemail.com"),
        # Dots and + stay for other domains, and in a gmail domain's name.
        ("anna.s+promo@example.de", "anna.s+promo@example.de"),
    ],
)
def test_google_email_rules(value, expected):
    assert google_email(value) == expected


def test_google_email_hashed():
    assert google("Email", "Anna.S+x@gmail.com") == sha("annas@gmail.com")


def test_google_phone_e164_with_plus_hashed():
    assert e164_phone("030 1234567", "DE") == "+49301234567"
    assert google("Phone", "030 1234567", "DE") == sha("+49301234567")


def test_google_names_lowercased_trimmed_hashed():
    assert google("First Name", "  Anna Lena ") == sha("anna lena")
    assert google("Last Name", "Müller") == sha("müller")


def test_google_country_and_zip_unhashed():
    assert google("Country", " de ") == "DE"
    assert google("Zip", " 10115 ") == "10115"


def test_google_invalid_country_rejected():
    with pytest.raises(InvalidValue, match="two-letter"):
        google("Country", "Germany")


def test_meta_email_keeps_gmail_dots():
    assert plain_email(" Anna.S+x@GMAIL.com ") == "anna.s+x@gmail.com"
    assert meta("email", " Anna.S+x@GMAIL.com ") == sha("anna.s+x@gmail.com")


def test_meta_phone_digits_without_plus():
    assert meta_phone("+43 664 1234567") == "436641234567"
    assert meta_phone("0664 1234567", "AT") == "436641234567"
    assert meta("phone", "+43 664 1234567") == sha("436641234567")


def test_meta_names_letters_only():
    assert letters_only(" Anne-Marie O'Neil ") == "annemarieoneil"
    assert letters_only("Jürgen") == "jürgen"
    assert meta("fn", "Jürgen") == sha("jürgen")


def test_meta_city_lowercase_without_spaces():
    assert without_spaces("Bad Homburg") == "badhomburg"
    assert meta("ct", "Bad Homburg") == sha("badhomburg")


def test_meta_country_lowercase_hashed():
    assert meta_country("DE") == "de"
    assert meta("country", "DE") == sha("de")


@pytest.mark.parametrize(
    ("vendor", "field", "value"),
    [
        ("google_ads", "Email", "a@gmail.com"),
        ("google_ads", "Phone", "+49301234567"),
        ("meta", "email", "a@example.de"),
        ("meta", "fn", "Anna"),
        ("meta", "country", "de"),
    ],
)
def test_existing_hash_not_hashed_again(vendor, field, value):
    digest = sha(value)
    rule = VENDOR_FIELDS[vendor][field]
    args = (None,) if rule.needs_region else ()

    assert rule.normalize(digest, *args) == digest


def test_uppercase_hex_is_hashed():
    """Only lowercase hex counts as a digest; anything else is data."""
    digest = sha("a@example.de").upper()
    assert sha256_hex(digest) == sha(digest)


def test_empty_value_not_hashed():
    assert sha256_hex(None) is None
    assert sha256_hex("") is None
    assert meta("fn", "  ") is None


@pytest.mark.parametrize("value", ["no-at-sign", "a b@example.de", "@example.de"])
def test_malformed_email_rejected(value):
    with pytest.raises(InvalidValue):
        plain_email(value)


def test_mailchimp_rejects_non_ascii_local_part():
    assert mailchimp_email("anna@bücher.de") == "anna@bücher.de"
    with pytest.raises(InvalidValue, match="after the @"):
        mailchimp_email("jürgen@example.de")


def test_mailchimp_names_cut_to_byte_limit():
    name = "Ä" * 200  # 400 bytes in UTF-8
    rule = VENDOR_FIELDS["mailchimp"]["First Name"]

    cut = truncate_utf8(rule.normalize(name), 255)

    assert len(cut.encode("utf-8")) == 254
    assert cut == "Ä" * 127


def test_truncate_keeps_whole_characters():
    assert truncate_utf8("ab€", 4) == "ab"
    assert truncate_utf8("ab€", 5) == "ab€"
    assert truncate_utf8("😀x", 3) == ""
    assert truncate_utf8(None, 3) is None


def test_phone_invalid_rejected():
    with pytest.raises(InvalidValue, match="not a valid number"):
        e164_phone("+49 123", None)
    with pytest.raises(InvalidValue, match="does not parse"):
        e164_phone("+49 1", None)
