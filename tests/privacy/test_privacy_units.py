"""Erasure building blocks on real DuckDB files and hand-written landing files:
landing rewrites by the loader's row numbers, suppression at load, request storage,
compaction and the access document."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from activation.destinations import parse_destination
from activation.sync import sync_destination
from activation.vendors import sha256_hex
from ingestion.loader import file_sha256, load_source
from ingestion.sources import CRM_CONTACTS, HELPDESK_TICKETS, WEB_EVENTS
from orchestration.privacy import access, erasure, landing, store
from tests.activation.conftest import create_warehouse

CRM_HEADER = ",".join(CRM_CONTACTS.columns)


def crm_line(record_id: str, email: str, phone: str = "") -> str:
    values = [record_id, "Anna", "Muster", email, phone]
    return ",".join(values + [""] * (len(CRM_CONTACTS.columns) - len(values)))


def write_crm(landing_dir: Path, name: str, lines: list[str]) -> Path:
    folder = landing_dir / CRM_CONTACTS.landing_folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join([CRM_HEADER, *lines]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


def test_csv_rewrite_keeps_other_bytes(tmp_path):
    quoted = '3,"Anna\nMaria",Muster,c@example.de' + "," * 9
    path = write_crm(
        tmp_path,
        "crm_contacts_2026-11-30.csv",
        [crm_line("1", "a@example.de"), crm_line("2", "b@example.de"), quoted],
    )
    original = path.read_text(encoding="utf-8").split("\n")

    removed = landing.remove_rows(CRM_CONTACTS, path, {2})

    assert removed == 1
    kept = path.read_text(encoding="utf-8").split("\n")
    assert kept == [original[0], original[1], original[3], original[4], ""]


def test_quoted_line_break_counts_once(tmp_path):
    quoted = '1,"Anna\nMaria",Muster,a@example.de' + "," * 9
    path = write_crm(
        tmp_path, "crm_contacts_2026-11-30.csv", [quoted, crm_line("2", "b@x.de")]
    )
    landing.remove_rows(CRM_CONTACTS, path, {1})
    assert (
        path.read_text(encoding="utf-8")
        == CRM_HEADER + "\n" + crm_line("2", "b@x.de") + "\n"
    )


def test_gzip_jsonl_rewrite(tmp_path):
    path = tmp_path / "web_events_2026-11-30.jsonl.gz"
    lines = [json.dumps({"messageId": str(i), "type": "page"}) for i in range(3)]
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))

    assert landing.remove_rows(WEB_EVENTS, path, {2}) == 1
    text = gzip.decompress(path.read_bytes()).decode()
    assert text == lines[0] + "\n" + lines[2] + "\n"


def test_json_array_rewrite(tmp_path):
    path = tmp_path / "helpdesk_tickets_2026-11-30.json"
    path.write_text(json.dumps({"tickets": [{"id": 1}, {"id": 2}, {"id": 3}]}))

    assert landing.remove_rows(HELPDESK_TICKETS, path, {1, 3}) == 2
    assert json.loads(path.read_text()) == {"tickets": [{"id": 2}]}


def test_request_stores_only_hash(con):
    store.ensure_tables(con)
    request_id = store.record_request(con, "email", " Anna.Muster@Example.DE ")

    row = con.execute(
        "select identifier_type, identifier_hash, status from privacy.erasure_requests"
    ).fetchone()
    salt = store.salt(con)
    assert row == (
        "email",
        store.identifier_hash(salt, "email", "anna.muster@example.de"),
        "pending",
    )
    suppressed = con.execute(
        "select request_id from privacy.suppressed_identifiers"
    ).fetchall()
    assert suppressed == [(request_id,)]


def test_invalid_identifier_rejected(con):
    store.ensure_tables(con)
    with pytest.raises(store.InvalidIdentifierError):
        store.record_request(con, "phone", "not a number")


def test_loader_drops_suppressed_rows(con, tmp_path):
    landing_dir = tmp_path / "landing"
    write_crm(
        landing_dir,
        "crm_contacts_2026-11-30.csv",
        [
            crm_line("1", "keep@example.de"),
            crm_line("2", "other@example.de", "0171 5550123"),
            crm_line("3", "ANNA.MUSTER@example.de"),
        ],
    )
    store.ensure_tables(con)
    store.record_request(con, "phone", "+49 171 5550123")
    store.record_request(con, "email", "anna.muster@example.de")

    [result] = load_source(con, CRM_CONTACTS, landing_dir)

    assert (result.rows_read, result.rows_loaded, result.rows_erased) == (3, 1, 2)
    ids = con.execute("select record_id from raw.crm_contacts").fetchall()
    assert ids == [("1",)]
    redactions = con.execute(
        "select row_number from privacy.landing_redactions order by 1"
    ).fetchall()
    assert redactions == [(2,), (3,)]


def test_dropped_rows_leave_landing_file(con, tmp_path):
    landing_dir = tmp_path / "landing"
    path = write_crm(
        landing_dir,
        "crm_contacts_2026-11-30.csv",
        [crm_line("1", "keep@example.de"), crm_line("2", "anna@example.de")],
    )
    store.ensure_tables(con)
    store.record_request(con, "email", "anna@example.de")
    load_source(con, CRM_CONTACTS, landing_dir)

    folders = erasure.DataFolders(landing_dir, tmp_path / "out", tmp_path / "rep")
    erasure.process_pending_requests(con, folders)

    assert b"anna@example.de" not in path.read_bytes()
    logged = con.execute("select sha256 from raw._load_log").fetchone()[0]
    assert logged == file_sha256(path)
    assert [r.status for r in load_source(con, CRM_CONTACTS, landing_dir)] == [
        "skipped"
    ]


def test_redaction_renumbers_later_rows(con, tmp_path):
    """Rows after a redacted one move up in the file, and so do their numbers."""
    landing_dir = tmp_path / "landing"
    path = write_crm(
        landing_dir,
        "crm_contacts_2026-11-30.csv",
        [
            crm_line("1", "keep@example.de"),
            crm_line("2", "anna@example.de"),
            crm_line("3", "ben@example.de"),
        ],
    )
    store.ensure_tables(con)
    store.record_request(con, "email", "anna@example.de")
    load_source(con, CRM_CONTACTS, landing_dir)

    folders = erasure.DataFolders(landing_dir, tmp_path / "out", tmp_path / "rep")
    erasure.process_pending_requests(con, folders)

    numbers = con.execute(
        "select record_id, _row_number from raw.crm_contacts order by 1"
    ).fetchall()
    assert numbers == [("1", 1), ("3", 2)]
    landing.remove_rows(CRM_CONTACTS, path, {2})
    assert b"ben@example.de" not in path.read_bytes()
    assert b"keep@example.de" in path.read_bytes()


def test_erasure_deletes_analyst_copy(con, tmp_path):
    copy = tmp_path / "analytics.duckdb"
    with duckdb.connect(str(copy)) as analyst_copy:
        analyst_copy.execute("create table customers (customer_pseudonym varchar)")
    store.ensure_tables(con)
    request_id = store.record_request(con, "email", "anna@example.de")

    folders = erasure.DataFolders(
        tmp_path / "landing", tmp_path / "out", tmp_path / "rep", copy
    )
    erasure.process_pending_requests(con, folders)

    assert not copy.exists()
    logged = con.execute(
        "select target, rows_affected from privacy.erasure_log where request_id = ?",
        [request_id],
    ).fetchall()
    assert ("analyst_copy:analytics.duckdb", 0) in logged


def test_erasure_hook_sees_scope_and_logs(con, tmp_path):
    """The hook for copies outside DuckDB, such as Spark's, reads the request's
    scope tables, and what it adds to the result reaches the erasure log."""
    store.ensure_tables(con)
    request_id = store.record_request(con, "email", "anna@example.de")
    scope_sizes = []

    def erase_elsewhere(connection, result):
        scope_sizes.append(
            connection.execute(
                "select (select count(*) from _erasure_customers), "
                "(select count(*) from _erasure_keys)"
            ).fetchone()
        )
        result.add("spark:snapshots.segment_memberships_snapshot", 3)

    folders = erasure.DataFolders(
        tmp_path / "landing", tmp_path / "out", tmp_path / "rep"
    )
    erasure.process_pending_requests(con, folders, erase_elsewhere)

    assert scope_sizes == [(0, 0)]
    logged = con.execute(
        "select target, rows_affected from privacy.erasure_log where request_id = ?",
        [request_id],
    ).fetchall()
    assert ("spark:snapshots.segment_memberships_snapshot", 3) in logged


def test_failed_erasure_hook_keeps_request_pending(con, tmp_path):
    store.ensure_tables(con)
    store.record_request(con, "email", "anna@example.de")

    def erase_elsewhere(connection, result):
        raise RuntimeError("Spark is unavailable")

    folders = erasure.DataFolders(
        tmp_path / "landing", tmp_path / "out", tmp_path / "rep"
    )
    with pytest.raises(RuntimeError):
        erasure.process_pending_requests(con, folders, erase_elsewhere)

    assert len(store.pending_requests(con)) == 1


@pytest.mark.parametrize("night", [date(2026, 11, 30), date(2026, 12, 1)])
def test_erased_person_removed_by_next_sync(tmp_path, night):
    """The sync after an erasure removes the person with digests, on a later night
    and on a rerun of the night that sent them."""
    con = create_warehouse(tmp_path / "warehouse.duckdb")
    destination = parse_destination(
        {
            "name": "newsletter",
            "type": "mailchimp",
            "consent": "email",
            "mode": "diff",
            "segments": ["lapsed_buyers"],
            "fields": {"Email Address": "email"},
        },
        Path("test.yml"),
    )
    sync_destination(con, destination, tmp_path / "out", date(2026, 11, 30))
    con.execute("create temp table _erasure_customers as select 'cus_f' as customer_id")
    erasure._digest_activation_rows(con, erasure.ErasureResult("request"))
    con.execute("delete from marts.dim_customers where customer_id = 'cus_f'")

    result = sync_destination(con, destination, tmp_path / "out", night)

    removed = (result.folder / "lapsed_buyers_removed.csv").read_text().splitlines()
    assert removed == ["Email Address", sha256_hex("frida@example.at")]
    con.close()


def test_compaction_clears_deleted_values(tmp_path):
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.t as select 'person' || i || '@example.de' as email "
            "from range(5000) as r(i)"
        )
        con.execute("comment on column marts.t.email is 'Address.'")
        con.execute("delete from marts.t where email = 'person42@example.de'")
        con.execute("checkpoint")
    assert b"person42@example.de" in path.read_bytes()

    erasure.compact_warehouse(path)

    assert b"person42@example.de" not in path.read_bytes()
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("select count(*) from marts.t").fetchone()[0] == 4999
        comment = con.execute(
            "select comment from duckdb_columns() where table_name = 't'"
        ).fetchone()[0]
        assert comment == "Address."


def test_access_finds_customer_by_email(con):
    con.execute("create schema intermediate")
    con.execute("create schema identity")
    con.execute("create schema marts")
    con.execute(
        "create table intermediate.int_identifiers as select 'crm_contacts:1' as "
        "record_key, 'email' as identifier_type, 'anna@example.de' as "
        "identifier_value"
    )
    con.execute(
        "create table identity.record_customers as select 'crm_contacts:1' as "
        "record_key, 'crm_contacts' as source, '1' as source_record_id, "
        "'cus_1' as customer_id"
    )
    con.execute(
        "create table marts.dim_customers as select 'cus_1' as customer_id, "
        "'anna@example.de' as email union all select 'cus_2', 'b@example.de'"
    )

    key = store.pseudonym_key(con)

    document = access.collect_subject(con, "email", "anna@example.de")

    assert document["customer_ids"] == ["cus_1"]
    assert document["analytics_pseudonyms"] == {"cus_1": store.pseudonym(key, "cus_1")}
    assert document["customers"] == [
        {"customer_id": "cus_1", "email": "anna@example.de"}
    ]
    assert document["orders"] == []


@pytest.mark.parametrize(("records", "dropped"), [(1, True), (0, False)])
def test_erasure_drops_name_ranges(con, records, dropped):
    """The incremental identity state keys term frequency ranges by a hash of each
    name, so erasing a person's records drops it and the next run starts afresh."""
    con.execute("create schema identity")
    con.execute("""
        create table identity.incremental_tf_ranges as
        select 'last_name' as column_name, md5('Rarename') as value_hash,
            -20.0 as min_log2_tf, -19.0 as max_log2_tf
    """)
    con.execute("create table identity.incremental_state as select 'key' as state_key")
    con.execute("create temp table _erasure_keys (record_key varchar)")
    con.execute("create temp table _erasure_customers (customer_id varchar)")
    result = erasure.ErasureResult("request")
    result.records = records

    erasure._delete_identity_rows(con, result)

    tables = {
        name
        for (name,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'identity'"
        ).fetchall()
    }
    assert ("incremental_tf_ranges" not in tables) is dropped
    assert ("incremental_state" not in tables) is dropped
    assert ("identity.incremental_tf_ranges" in result.rows) is dropped
