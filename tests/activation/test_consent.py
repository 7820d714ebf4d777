"""No person without consent, or on the suppression list, reaches any destination.

Every destination type runs against the warehouse from conftest.py, where the segment
models claim that everyone consented. The check collects every value of every output
(file cells, HTTP row keys and fields) and compares it with every form of the
excluded people's data: raw, normalized by each vendor rule, and hashed.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from activation.destinations import parse_destination
from activation.sync import sync_destination
from activation.vendors import VENDOR_FIELDS, InvalidValue

RUN_DATE = date(2026, 11, 30)
SEGMENTS = ["engaged_non_buyers", "high_value_customers", "lapsed_buyers"]
PLAIN_FIELDS = {
    "customer_id": "customer_id",
    "email": "email",
    "phone": "phone",
    "first_name": "first_name",
    "last_name": "last_name",
    "city": "city",
    "postal_code": "postal_code",
}
VENDOR_SOURCES = {
    "mailchimp": {
        "Email Address": "email",
        "First Name": "first_name",
        "Last Name": "last_name",
    },
    "google_ads": {
        "Email": "email",
        "Phone": "phone",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Country": "country_code",
        "Zip": "postal_code",
    },
    "meta": {
        "email": "email",
        "phone": "phone",
        "fn": "first_name",
        "ln": "last_name",
        "ct": "city",
        "country": "country_code",
    },
}
# Shared with consented people, so not evidence of a leak.
SHARED_COLUMNS = {"country_code"}


def every_form(con, customer_id: str) -> set[str]:
    """All values of one person, raw and as every vendor rule would send them."""
    cursor = con.execute(
        "select * from marts.dim_customers where customer_id = ?", [customer_id]
    )
    names = [d[0] for d in cursor.description]
    person = dict(zip(names, cursor.fetchone(), strict=True))
    forms = {customer_id}
    for column, value in person.items():
        if not isinstance(value, str) or column in SHARED_COLUMNS:
            continue
        forms.add(value)
        for rules in VENDOR_FIELDS.values():
            for rule in rules.values():
                args = (person["country_code"],) if rule.needs_region else ()
                try:
                    normalized = rule.normalize(value, *args)
                except InvalidValue:
                    continue
                if normalized:
                    forms.add(normalized)
    return forms


def output_values(folder: Path) -> set[str]:
    values: set[str] = set()
    for path in folder.rglob("*"):
        if path.suffix == ".csv":
            with path.open(encoding="utf-8", newline="") as handle:
                for row in csv.reader(handle):
                    values.update(row)
        elif path.suffix == ".parquet":
            for column in pq.read_table(path).to_pydict().values():
                values.update(v for v in column if v is not None)
    return values


def payload_values(bodies: list[str]) -> set[str]:
    values: set[str] = set()
    for body in bodies:
        for row in json.loads(body)["rows"]:
            values.add(row["key"])
            values.update(v for v in row["fields"].values() if v is not None)
    return values


def destination_of(type_: str, url: str | None = None):
    entry = {
        "name": f"all_{type_}",
        "type": type_,
        "consent": "email",
        "mode": "mirror",
        "segments": SEGMENTS,
        "fields": VENDOR_SOURCES.get(type_, PLAIN_FIELDS),
    }
    if type_ == "http":
        entry["http"] = {"url": url, "requests_per_second": 500}
    return parse_destination(entry, Path("test.yml"))


@pytest.mark.parametrize(
    "type_", ["csv", "parquet", "mailchimp", "google_ads", "meta", "http"]
)
def test_no_unconsented_or_suppressed_output(con, tmp_path, audience_server, type_):
    server = audience_server() if type_ == "http" else None
    destination = destination_of(type_, server.url if server else None)

    result = sync_destination(con, destination, tmp_path, RUN_DATE)
    sync_destination(con, destination, tmp_path, RUN_DATE)

    if server is not None:
        sent = payload_values(server.bodies)
        raw_text = "\n".join(server.bodies)
    else:
        sent = output_values(result.folder)
        raw_text = "\n".join(
            p.read_text(encoding="utf-8", errors="ignore")
            for p in result.folder.iterdir()
        )
    for excluded in ("cus_b", "cus_c", "cus_d", "cus_e"):
        leaked = every_form(con, excluded) & sent
        assert not leaked, f"{excluded} reached {type_}"
        for raw in every_form(con, excluded):
            if "@" in raw:
                assert raw not in raw_text, f"{excluded} reached {type_}"
    for included in ("cus_a", "cus_f"):
        assert every_form(con, included) & sent, f"{included} missing in {type_}"
