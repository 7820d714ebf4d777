"""Preview of id changes under another match threshold: reports and writes nothing."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import duckdb
import pytest

from identity.preview import main, preview_identity_changes, read_only_warehouse
from identity.resolve import resolve_identities

from .conftest import write_warehouse

# The saved model scores the Katharina typo pair at about 0.9999998, so this
# threshold drops the only Splink link of the fixture.
STRICT_THRESHOLD = 0.9999999


def minted_id(record_key: str) -> str:
    return "cus_" + hashlib.md5(record_key.encode()).hexdigest()[:16]


def table_checksums(con: duckdb.DuckDBPyConnection) -> dict[str, tuple]:
    tables = con.execute(
        "select schema_name || '.' || table_name from duckdb_tables() "
        "where database_name = current_database() order by 1"
    ).fetchall()
    return {
        table: con.execute(
            f"select count(*), coalesce(sum(hash(t)), 0) from {table} as t"
        ).fetchall()[0]
        for (table,) in tables
    }


@pytest.fixture
def resolved_warehouse(tmp_path, person_record) -> Path:
    """A warehouse after one run: Katharina's two records (one customer, linked by
    Splink only), her husband and a stranger."""
    katharina = {
        "first_name": "Katharina",
        "birth_date": date(1984, 3, 12),
        "street": "Lindenstraße 12",
        "postal_code": "04109",
        "city": "Leipzig",
    }
    records = [
        person_record(
            "crm_contacts",
            "1",
            last_name="Schmidt",
            email="k.schmidt@web.de",
            **katharina,
        ),
        person_record(
            "crm_contacts",
            "2",
            last_name="Schmitd",
            email="kathi84@gmx.de",
            **katharina,
        ),
        person_record(
            "crm_contacts",
            "3",
            first_name="Markus",
            last_name="Schmidt",
            birth_date=date(1979, 11, 2),
            street="Lindenstraße 12",
            postal_code="04109",
            city="Leipzig",
            email="markus.schmidt@t-online.de",
        ),
        person_record(
            "crm_contacts",
            "4",
            first_name="Jürgen",
            last_name="Weiß",
            birth_date=date(1961, 7, 30),
            street="Bergstraße 3",
            postal_code="80331",
            city="München",
            email="juergen.weiss@gmx.de",
        ),
    ]
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        write_warehouse(con, records)
        resolve_identities(con, run_id="night-1")
    return path


def test_stricter_threshold_reports_split(resolved_warehouse):
    with read_only_warehouse(resolved_warehouse) as con:
        before = table_checksums(con)
        preview = preview_identity_changes(con, threshold=STRICT_THRESHOLD)
        after = table_checksums(con)

    katharina = minted_id("crm_contacts:1")
    assert preview.customers_before == 3
    assert preview.id_changes.customers == 4
    assert preview.id_changes.split == 1
    assert preview.id_changes.merged == 0
    assert preview.split_samples == ((katharina, minted_id("crm_contacts:2"), 1),)
    assert preview.merge_samples == ()
    assert after == before


def test_preview_on_writable_connection_writes_nothing(resolved_warehouse):
    with duckdb.connect(str(resolved_warehouse)) as con:
        before = table_checksums(con)
        preview_identity_changes(con, threshold=STRICT_THRESHOLD)
        after = table_checksums(con)
        databases = con.execute("select database_name from duckdb_databases()")
        database_names = {row[0] for row in databases.fetchall()}

    assert after == before
    assert "identity_scratch" not in database_names


def test_same_threshold_reports_no_changes(resolved_warehouse):
    with read_only_warehouse(resolved_warehouse) as con:
        preview = preview_identity_changes(con)

    changes = preview.id_changes
    assert (changes.kept, changes.minted, changes.merged, changes.split) == (3, 0, 0, 0)


def test_lower_threshold_reports_merge(resolved_warehouse):
    # Markus shares Katharina's address and surname, so a low enough threshold links
    # him. The saved model scores the pair between 1e-5 and 1e-4, because their
    # first names differ. Both ids were issued in the same run, so the smaller id
    # survives.
    katharina, markus = minted_id("crm_contacts:1"), minted_id("crm_contacts:3")
    assert markus < katharina

    with read_only_warehouse(resolved_warehouse) as con:
        preview = preview_identity_changes(con, threshold=1e-6)

    assert preview.id_changes.merged >= 1
    assert (katharina, markus, 2) in preview.merge_samples


def test_command_prints_ids_only(resolved_warehouse, capsys):
    file_before = hashlib.sha256(resolved_warehouse.read_bytes()).hexdigest()

    main(["--warehouse", str(resolved_warehouse), "--threshold", str(STRICT_THRESHOLD)])

    output = capsys.readouterr().out
    assert "ids split:           1" in output
    assert minted_id("crm_contacts:1") in output
    assert "Katharina" not in output
    assert "@" not in output
    file_after = hashlib.sha256(resolved_warehouse.read_bytes()).hexdigest()
    assert file_after == file_before


def test_missing_model_is_rejected(resolved_warehouse, tmp_path):
    with read_only_warehouse(resolved_warehouse) as con:
        with pytest.raises(FileNotFoundError, match="never trains a model"):
            preview_identity_changes(con, model_path=tmp_path / "missing.json")
