"""Record hashes and payloads of audience rows. They must stay what json.dumps
writes, because each sync compares them with the snapshots of earlier syncs."""

from __future__ import annotations

import hashlib
import json

import pytest

from activation.audience import read_audience, record_hash
from tests.activation.test_export import make_destination

AWKWARD_VALUES = [
    ("anna@example.com", "Anna", None),
    ('quote " and backslash \\', "tab\tnew\nline", "\x00\x0b\x1f\x7f"),
    ("Müller", "東京", "😀 \u2028 \u2029"),
    ("",),
]


@pytest.mark.parametrize("values", AWKWARD_VALUES)
def test_record_hash_is_sha256_of_json(values):
    compact = json.dumps(list(values), ensure_ascii=False, separators=(",", ":"))

    assert record_hash(values) == hashlib.sha256(compact.encode("utf-8")).hexdigest()


def test_audience_payload_and_hash_are_json(con):
    con.execute(
        "update marts.dim_customers set first_name = ?, last_name = ? "
        "where customer_id = 'cus_f'",
        ['Fri"da\\\x0b\x1f', "Müller 😀\u2028"],
    )
    destination = make_destination(
        fields={
            "customer_id": "customer_id",
            "email": "email",
            "first_name": "first_name",
            "last_name": "last_name",
        }
    )

    audience = read_audience(con, destination, "lapsed_buyers")

    rows = audience.rows.to_pylist()
    assert [r["customer_id"] for r in rows] == ["cus_a", "cus_f"]
    for row in rows:
        values = audience.values[row["position"]]
        assert row["payload"] == json.dumps(list(values), ensure_ascii=False)
        assert row["record_hash"] == record_hash(values)
    assert audience.values[1][2] == 'Fri"da\\\x0b\x1f'
