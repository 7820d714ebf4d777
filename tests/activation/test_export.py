"""Audience export tests on a real DuckDB file with hand-made marts."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from activation.destinations import Destination, load_destinations
from activation.export import export_destination, neutralize_formula

RUN_DATE = date(2026, 11, 30)


@pytest.fixture
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    connection.execute("create schema marts")
    connection.execute(
        "create table marts.dim_customers as select * from (values "
        "('c1', 'a@example.de', 'Anna', true, false), "
        "('c2', 'b@example.de', 'Ben', false, false), "
        "('c3', 'c@example.de', 'Cem', true, true), "
        "('c4', null, 'Dora', true, false)"
        ") as t(customer_id, email, first_name, has_email_consent, is_email_suppressed)"
    )
    connection.execute(
        "create table marts.segment_everyone as "
        "select customer_id, true as has_email_consent from marts.dim_customers"
    )
    yield connection
    connection.close()


@pytest.fixture
def destination() -> Destination:
    return Destination(
        name="newsletter",
        description="test destination",
        consent="email",
        segments=("everyone",),
        fields={"email": "email", "first_name": "first_name"},
    )


def read_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_only_consented_people_exported(con, destination, tmp_path):
    folder, [exported] = export_destination(con, destination, tmp_path, RUN_DATE)

    rows = read_rows(folder / exported.file)
    assert [r["email"] for r in rows] == ["a@example.de"]
    assert exported.row_count == 1


def test_segment_consent_column_not_trusted(con, destination, tmp_path):
    """The segment marks everyone as consented; dim_customers does not."""
    folder, _ = export_destination(con, destination, tmp_path, RUN_DATE)

    emails = {r["email"] for r in read_rows(folder / "everyone.csv")}
    assert "b@example.de" not in emails
    assert "c@example.de" not in emails


def test_manifest_lists_rows_and_hash(con, destination, tmp_path):
    folder, [exported] = export_destination(con, destination, tmp_path, RUN_DATE)

    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["destination"] == "newsletter"
    assert manifest["run_date"] == "2026-11-30"
    assert manifest["files"][0]["row_count"] == 1
    assert manifest["files"][0]["sha256"] == exported.sha256
    assert folder == tmp_path / "newsletter" / "2026-11-30"


def test_rerun_same_night_changes_nothing(con, destination, tmp_path):
    folder, _ = export_destination(con, destination, tmp_path, RUN_DATE)
    first_csv = (folder / "everyone.csv").read_bytes()
    first_manifest = (folder / "manifest.json").read_bytes()

    export_destination(con, destination, tmp_path, RUN_DATE)

    assert (folder / "everyone.csv").read_bytes() == first_csv
    assert (folder / "manifest.json").read_bytes() == first_manifest
    logged = con.execute("select count(*) from activation.exports").fetchone()[0]
    assert logged == 1
    assert not list(folder.glob(".*.tmp"))


def test_shipped_destinations_parse():
    destinations = load_destinations()

    assert destinations
    assert all(d.consent == "email" for d in destinations)


def test_invalid_destination_rejected(tmp_path):
    config = tmp_path / "destinations.yml"
    config.write_text(
        "destinations:\n  - name: x\n    consent: carrier_pigeon\n"
        "    segments: [a]\n    fields: {email: email}\n"
    )

    with pytest.raises(ValueError, match="consent must be one of"):
        load_destinations(config)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-1+2", "'-1+2"),
        ("+4930123456", "+4930123456"),
        ("Anna", "Anna"),
        (None, None),
    ],
)
def test_spreadsheet_formulas_neutralized(value, expected):
    assert neutralize_formula(value) == expected
