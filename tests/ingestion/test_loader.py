"""Loader tests on real DuckDB files and hand-written landing files."""

from __future__ import annotations

import gzip
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from ingestion import loader
from ingestion.loader import (
    FULL_REFRESH_VARIABLE,
    landing_files,
    load_source,
    reset_raw,
    reset_raw_if_requested,
)
from ingestion.readers import extra_column_name
from ingestion.sources import CRM_CONTACTS, HELPDESK_TICKETS, WEB_EVENTS, Source

CRM_HEADER = ",".join(CRM_CONTACTS.columns)


def write(landing: Path, source: Source, name: str, content: str | bytes) -> Path:
    folder = landing / source.landing_folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.fixture
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


def crm_row(record_id: str, first: str = "Anna", email: str = "a@example.de") -> str:
    values = [record_id, first, "Müller", email] + [""] * (
        len(CRM_CONTACTS.columns) - 4
    )
    return ",".join(values)


def test_csv_rows_loaded_with_lineage(con, tmp_path):
    landing = tmp_path / "landing"
    body = "\n".join([CRM_HEADER, crm_row("1"), crm_row("2", "Jörg")]) + "\n"
    write(landing, CRM_CONTACTS, "crm_contacts_2026-11-30.csv", body)

    [result] = load_source(con, CRM_CONTACTS, landing)

    assert result.status == "loaded"
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (2, 2, 0)
    rows = con.execute(
        "select record_id, first_name, _file, _row_number from raw.crm_contacts "
        "order by record_id"
    ).fetchall()
    assert rows == [
        ("1", "Anna", "crm_contacts_2026-11-30.csv", 1),
        ("2", "Jörg", "crm_contacts_2026-11-30.csv", 2),
    ]


def test_same_content_loaded_once(con, tmp_path):
    landing = tmp_path / "landing"
    body = "\n".join([CRM_HEADER, crm_row("1")]) + "\n"
    write(landing, CRM_CONTACTS, "crm_contacts_2026-11-30.csv", body)

    load_source(con, CRM_CONTACTS, landing)
    [second] = load_source(con, CRM_CONTACTS, landing)

    assert second.status == "skipped"
    assert con.execute("select count(*) from raw.crm_contacts").fetchone()[0] == 1


@pytest.fixture
def stat_of_new_files(monkeypatch):
    """Let files written a moment ago get a file_stat, as older files do."""
    monkeypatch.setattr(loader, "RECENT_CHANGE_SECONDS", 0)


def test_new_file_gets_no_stat(con, tmp_path, caplog):
    landing = tmp_path / "landing"
    body = "\n".join([CRM_HEADER, crm_row("1")]) + "\n"
    write(landing, CRM_CONTACTS, "crm_contacts_2026-11-30.csv", body)
    load_source(con, CRM_CONTACTS, landing)

    with caplog.at_level(logging.INFO, logger="ingestion.loader"):
        [second] = load_source(con, CRM_CONTACTS, landing)

    assert second.status == "skipped"
    assert "content already loaded" in caplog.text
    assert con.execute("select file_stat from raw._load_log").fetchall() == [(None,)]


@pytest.mark.usefixtures("stat_of_new_files")
def test_unchanged_file_skipped_without_reading(con, tmp_path, caplog):
    landing = tmp_path / "landing"
    body = "\n".join([CRM_HEADER, crm_row("1")]) + "\n"
    write(landing, CRM_CONTACTS, "crm_contacts_2026-11-30.csv", body)
    [first] = load_source(con, CRM_CONTACTS, landing)

    with caplog.at_level(logging.INFO, logger="ingestion.loader"):
        [second] = load_source(con, CRM_CONTACTS, landing)

    assert second.status == "skipped"
    assert second.sha256 == first.sha256
    assert "unchanged since it was loaded" in caplog.text
    assert con.execute("select count(*) from raw.crm_contacts").fetchone()[0] == 1


def rewrite_keeping_mtime(path: Path, body: str) -> None:
    """Write ``body`` to ``path`` and set its modification time back, as a copy
    that preserves times would. Its change time still moves."""
    before = path.stat()
    time.sleep(0.01)
    path.write_text(body, encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


@pytest.mark.usefixtures("stat_of_new_files")
def test_same_size_rewrite_loaded(con, tmp_path):
    landing = tmp_path / "landing"
    name = "crm_contacts_2026-11-30.csv"
    path = write(landing, CRM_CONTACTS, name, "\n".join([CRM_HEADER, crm_row("1")]))
    load_source(con, CRM_CONTACTS, landing)

    rewrite_keeping_mtime(path, "\n".join([CRM_HEADER, crm_row("1", "Anne")]))
    [result] = load_source(con, CRM_CONTACTS, landing)

    assert result.status == "loaded"
    assert con.execute("select first_name from raw.crm_contacts").fetchall() == [
        ("Anne",)
    ]


@pytest.mark.usefixtures("stat_of_new_files")
def test_touched_file_rehashed_then_skipped(con, tmp_path, caplog):
    landing = tmp_path / "landing"
    body = "\n".join([CRM_HEADER, crm_row("1")]) + "\n"
    path = write(landing, CRM_CONTACTS, "crm_contacts_2026-11-30.csv", body)
    load_source(con, CRM_CONTACTS, landing)
    rewrite_keeping_mtime(path, body)

    with caplog.at_level(logging.INFO, logger="ingestion.loader"):
        [rehashed] = load_source(con, CRM_CONTACTS, landing)
        [unread] = load_source(con, CRM_CONTACTS, landing)

    assert (rehashed.status, unread.status) == ("skipped", "skipped")
    assert "content already loaded" in caplog.records[0].getMessage()
    assert "unchanged since it was loaded" in caplog.records[-1].getMessage()
    assert con.execute("select count(*) from raw.crm_contacts").fetchone()[0] == 1


def test_bad_csv_rows_go_to_rejects(con, tmp_path):
    landing = tmp_path / "landing"
    too_many = crm_row("3") + ",extra"
    missing_id = crm_row("")
    body = "\n".join([CRM_HEADER, crm_row("1"), too_many, missing_id]) + "\n"
    write(landing, CRM_CONTACTS, "crm_contacts_2026-11-30.csv", body)

    [result] = load_source(con, CRM_CONTACTS, landing)

    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 1, 2)
    reasons = [
        r[0]
        for r in con.execute(
            "select reason from raw.crm_contacts__rejects order by line_number"
        ).fetchall()
    ]
    assert any("Expected Number of Columns" in r for r in reasons)
    assert "missing required value: record_id" in reasons


def test_quoted_line_breaks_and_bom(con, tmp_path):
    landing = tmp_path / "landing"
    body = "\ufeff" + CRM_HEADER + "\n" + crm_row("1", '"An\nna"') + "\n"
    write(landing, CRM_CONTACTS, "crm_contacts_2026-11-30.csv", body)

    [result] = load_source(con, CRM_CONTACTS, landing)

    assert result.rows_loaded == 1
    first = con.execute("select first_name from raw.crm_contacts").fetchone()[0]
    assert first == "An\nna"


def test_missing_required_column_rejects_file(con, tmp_path):
    landing = tmp_path / "landing"
    write(landing, CRM_CONTACTS, "crm_contacts_2026-11-30.csv", "First Name\nAnna\n")

    [result] = load_source(con, CRM_CONTACTS, landing)

    assert result.status == "rejected"
    assert "missing required column(s): Record ID" in result.message
    assert con.execute("select count(*) from raw.crm_contacts").fetchone()[0] == 0


def test_empty_file_rejected_with_reason(con, tmp_path):
    landing = tmp_path / "landing"
    write(landing, CRM_CONTACTS, "crm_contacts_2026-11-30.csv", b"")

    [result] = load_source(con, CRM_CONTACTS, landing)

    assert result.status == "rejected"
    assert "empty file" in result.message


def test_jsonl_invalid_lines_rejected(con, tmp_path):
    landing = tmp_path / "landing"
    lines = [
        json.dumps({"messageId": "m1", "type": "track", "traits": {"email": "x"}}),
        "{not json",
        "",
        json.dumps({"messageId": "m2", "type": "page"}),
    ]
    write(landing, WEB_EVENTS, "web_events_2026-11-30.jsonl", "\n".join(lines) + "\n")

    [result] = load_source(con, WEB_EVENTS, landing)

    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 2, 1)
    traits = con.execute(
        "select traits from raw.web_events where message_id = 'm1'"
    ).fetchone()[0]
    assert json.loads(traits) == {"email": "x"}
    rejected = con.execute(
        "select line_number, raw_line from raw.web_events__rejects"
    ).fetchall()
    assert rejected == [(2, "{not json")]


def test_jsonl_lines_other_than_objects_rejected(con, tmp_path):
    landing = tmp_path / "landing"
    lines = [
        "[1, 2]",
        '"m0"',
        "42",
        " \t" + json.dumps({"messageId": "m1", "type": "track"}),
        "null",
        json.dumps({"messageId": "m2", "type": "page"}),
    ]
    write(landing, WEB_EVENTS, "web_events_2026-11-30.jsonl", "\n".join(lines) + "\n")

    [result] = load_source(con, WEB_EVENTS, landing)

    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (6, 2, 4)
    loaded = con.execute(
        "select _row_number, message_id from raw.web_events order by _row_number"
    ).fetchall()
    assert loaded == [(4, "m1"), (6, "m2")]
    rejected = con.execute(
        "select line_number, reason from raw.web_events__rejects order by line_number"
    ).fetchall()
    assert [line for line, _ in rejected] == [1, 2, 3, 5]
    assert {reason for _, reason in rejected} == {
        "invalid JSON: not one JSON object on the line"
    }


def test_json_document_flattened(con, tmp_path):
    landing = tmp_path / "landing"
    document = {
        "tickets": [
            {
                "id": 7,
                "requester": {"name": "Eva Öz", "email": "e@x.at"},
                "description": "line one\nline two",
                "via": {"channel": "email"},
            },
            "not a ticket",
        ]
    }
    write(
        landing,
        HELPDESK_TICKETS,
        "helpdesk_tickets_2026-11-30.json",
        json.dumps(document),
    )

    [result] = load_source(con, HELPDESK_TICKETS, landing)

    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (2, 1, 1)
    row = con.execute(
        "select ticket_id, requester_name, channel, description "
        "from raw.helpdesk_tickets"
    ).fetchone()
    assert row == ("7", "Eva Öz", "email", "line one\nline two")


def test_truncated_json_document_rejected(con, tmp_path):
    landing = tmp_path / "landing"
    write(
        landing,
        HELPDESK_TICKETS,
        "helpdesk_tickets_2026-11-30.json",
        '{"tickets": [{"id": 1}',
    )

    [result] = load_source(con, HELPDESK_TICKETS, landing)

    assert result.status == "rejected"
    assert "line 1" in result.message
    assert "invalid JSON" in result.message


def test_load_log_balances_per_file(con, tmp_path):
    landing = tmp_path / "landing"
    write(
        landing,
        CRM_CONTACTS,
        "crm_contacts_2026-11-29.csv",
        "\n".join([CRM_HEADER, crm_row("1"), crm_row("")]) + "\n",
    )
    write(
        landing,
        CRM_CONTACTS,
        "crm_contacts_2026-11-30.csv",
        "\n".join([CRM_HEADER, crm_row("2")]) + "\n",
    )

    load_source(con, CRM_CONTACTS, landing)

    log = con.execute(
        "select file, rows_read, rows_loaded, rows_rejected from raw._load_log "
        "order by file"
    ).fetchall()
    assert log == [
        ("crm_contacts_2026-11-29.csv", 2, 1, 1),
        ("crm_contacts_2026-11-30.csv", 1, 1, 0),
    ]


def test_jsonl_with_byte_order_mark_loads(con, tmp_path):
    landing = tmp_path / "landing"
    line = json.dumps({"messageId": "m1", "type": "track"})
    write(landing, WEB_EVENTS, "web_events_2026-11-30.jsonl", "\ufeff" + line + "\n")

    [result] = load_source(con, WEB_EVENTS, landing)

    assert (result.rows_loaded, result.rows_rejected) == (1, 0)


def test_unreadable_json_number_rejects_file(con, tmp_path):
    landing = tmp_path / "landing"
    document = '{"tickets": [{"id": ' + "9" * 5000 + "}]}"
    write(landing, HELPDESK_TICKETS, "helpdesk_tickets_2026-11-30.json", document)

    [result] = load_source(con, HELPDESK_TICKETS, landing)

    assert result.status == "rejected"
    assert "unreadable JSON" in result.message


def test_json_document_with_bom_loads(con, tmp_path):
    landing = tmp_path / "landing"
    document = "\ufeff" + json.dumps({"tickets": [{"id": 1}]})
    write(landing, HELPDESK_TICKETS, "helpdesk_tickets_2026-11-30.json", document)

    [result] = load_source(con, HELPDESK_TICKETS, landing)

    assert result.rows_loaded == 1


def test_redelivered_file_replaces_old_version(con, tmp_path):
    landing = tmp_path / "landing"
    name = "crm_contacts_2026-11-30.csv"
    write(landing, CRM_CONTACTS, name, "\n".join([CRM_HEADER, crm_row("1")]) + "\n")
    load_source(con, CRM_CONTACTS, landing)
    body = "\n".join([CRM_HEADER, crm_row("1", "Anne"), crm_row("2")]) + "\n"
    write(landing, CRM_CONTACTS, name, body)

    [result] = load_source(con, CRM_CONTACTS, landing)

    assert result.status == "loaded"
    rows = con.execute(
        "select record_id, first_name from raw.crm_contacts order by record_id"
    ).fetchall()
    assert rows == [("1", "Anne"), ("2", "Anna")]
    statuses = con.execute(
        "select status from raw._load_log order by loaded_at"
    ).fetchall()
    assert statuses == [("superseded",), ("loaded",)]


def test_duplicate_header_rejects_file(con, tmp_path):
    landing = tmp_path / "landing"
    write(
        landing, CRM_CONTACTS, "crm_contacts_2026-11-30.csv", "Record ID,Email,Email\n"
    )

    [result] = load_source(con, CRM_CONTACTS, landing)

    assert result.status == "rejected"
    assert "duplicate column(s) in the header: email" in result.message


def test_invalid_utf8_line_rejected_alone(con, tmp_path):
    landing = tmp_path / "landing"
    good = json.dumps({"messageId": "m1", "type": "track"}).encode()
    body = good + b"\n" + b'{"messageId": "\xff\xfe"}' + b"\n"
    body += json.dumps({"messageId": "m3", "type": "page"}).encode() + b"\n"
    write(landing, WEB_EVENTS, "web_events_2026-11-30.jsonl", body)

    [result] = load_source(con, WEB_EVENTS, landing)

    assert result.status == "loaded"
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 2, 1)


def test_unmatched_file_names_reported(con, tmp_path, caplog):
    landing = tmp_path / "landing"
    write(landing, CRM_CONTACTS, "CRM_CONTACTS_2026-11-30.CSV", CRM_HEADER + "\n")

    with caplog.at_level("WARNING"):
        results = load_source(con, CRM_CONTACTS, landing)

    assert results == []
    assert "ignored CRM_CONTACTS_2026-11-30.CSV" in caplog.text
    assert "crm_contacts_*.csv or crm_contacts_*.csv.gz" in caplog.text


def raw_rows(con, table: str) -> list[tuple]:
    """Rows of a raw table without ``_loaded_at``, which differs between loads."""
    columns = [
        row[0]
        for row in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'raw' and table_name = ? and column_name "
            "<> '_loaded_at' order by ordinal_position",
            [table],
        ).fetchall()
    ]
    select_list = ", ".join(f'"{c}"' for c in columns)
    return con.execute(f"select {select_list} from raw.{table} order by all").fetchall()


def load_log(con) -> list[tuple]:
    return con.execute(
        "select source, file, sha256, status, rows_read, rows_loaded, rows_rejected "
        "from raw._load_log order by source, file, loaded_at"
    ).fetchall()


def raw_tables(con) -> set[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = 'raw'"
    ).fetchall()
    return {row[0] for row in rows}


def write_reset_landing(landing: Path) -> None:
    write(
        landing,
        CRM_CONTACTS,
        "crm_contacts_2026-11-29.csv",
        "\n".join([CRM_HEADER, crm_row("1"), crm_row("")]) + "\n",
    )
    write(
        landing,
        CRM_CONTACTS,
        "crm_contacts_2026-11-30.csv",
        "\n".join([CRM_HEADER + ",Lead Score", crm_row("2") + ",7"]) + "\n",
    )
    line = json.dumps({"messageId": "m1", "type": "track"})
    write(landing, WEB_EVENTS, "web_events_2026-11-30.jsonl", line + "\n{bad\n")


def test_reset_raw_drops_raw_tables(con, tmp_path):
    landing = tmp_path / "landing"
    write_reset_landing(landing)
    load_source(con, CRM_CONTACTS, landing)
    load_source(con, WEB_EVENTS, landing)

    reset_raw(con)

    assert raw_tables(con) == set()


def test_reset_raw_then_reload_same_rows(tmp_path):
    landing = tmp_path / "landing"
    write_reset_landing(landing)
    warehouse = str(tmp_path / "warehouse.duckdb")
    tables = [
        "crm_contacts",
        "crm_contacts__rejects",
        "web_events",
        "web_events__rejects",
    ]
    with duckdb.connect(warehouse) as con:
        load_source(con, CRM_CONTACTS, landing)
        load_source(con, WEB_EVENTS, landing)
        before = {table: raw_rows(con, table) for table in tables}
        log_before = load_log(con)

    with duckdb.connect(warehouse) as con:
        reset_raw(con)
        crm = load_source(con, CRM_CONTACTS, landing)
        web = load_source(con, WEB_EVENTS, landing)
        after = {table: raw_rows(con, table) for table in tables}
        log_after = load_log(con)

    assert [r.status for r in crm + web] == ["loaded", "loaded", "loaded"]
    assert after == before
    assert log_after == log_before
    assert len(log_after) == 3
    assert {row[3] for row in log_after} == {"loaded"}


def test_reset_raw_on_empty_warehouse(con):
    reset_raw(con)

    assert raw_tables(con) == set()


@pytest.mark.parametrize(
    ("value", "expected"), [("1", True), ("0", False), ("", False), (None, False)]
)
def test_full_refresh_variable(con, tmp_path, monkeypatch, value, expected):
    landing = tmp_path / "landing"
    write_reset_landing(landing)
    load_source(con, CRM_CONTACTS, landing)
    if value is None:
        monkeypatch.delenv(FULL_REFRESH_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(FULL_REFRESH_VARIABLE, value)

    ran = reset_raw_if_requested(con)

    assert ran is expected
    assert ("_load_log" not in raw_tables(con)) is expected


def gzipped(content: str) -> bytes:
    return gzip.compress(content.encode("utf-8"))


def test_gzip_csv_loads(con, tmp_path):
    landing = tmp_path / "landing"
    body = "\ufeff" + "\n".join([CRM_HEADER, crm_row("1"), crm_row("2", "Jörg")])
    write(landing, CRM_CONTACTS, "crm_contacts_2026-11-30.csv.gz", gzipped(body))

    [result] = load_source(con, CRM_CONTACTS, landing)

    assert result.status == "loaded"
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (2, 2, 0)
    rows = con.execute(
        "select record_id, first_name, _file from raw.crm_contacts order by record_id"
    ).fetchall()
    assert rows == [
        ("1", "Anna", "crm_contacts_2026-11-30.csv.gz"),
        ("2", "Jörg", "crm_contacts_2026-11-30.csv.gz"),
    ]


def test_gzip_csv_bad_rows_rejected(con, tmp_path):
    landing = tmp_path / "landing"
    body = "\n".join([CRM_HEADER, crm_row("1"), crm_row("3") + ",extra", crm_row("")])
    write(landing, CRM_CONTACTS, "crm_contacts_2026-11-30.csv.gz", gzipped(body))

    [result] = load_source(con, CRM_CONTACTS, landing)

    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 1, 2)


def test_gzip_jsonl_loads(con, tmp_path):
    landing = tmp_path / "landing"
    lines = [
        json.dumps({"messageId": "m1", "type": "track", "traits": {"email": "x"}}),
        "{not json",
        json.dumps({"messageId": "m2", "type": "page"}),
    ]
    body = gzipped("\n".join(lines) + "\n")
    write(landing, WEB_EVENTS, "web_events_2026-11-30.jsonl.gz", body)

    [result] = load_source(con, WEB_EVENTS, landing)

    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 2, 1)
    traits = con.execute(
        "select traits from raw.web_events where message_id = 'm1'"
    ).fetchone()[0]
    assert json.loads(traits) == {"email": "x"}
    rejected = con.execute(
        "select line_number, raw_line from raw.web_events__rejects"
    ).fetchall()
    assert rejected == [(2, "{not json")]


def test_gzip_json_document_loads(con, tmp_path):
    landing = tmp_path / "landing"
    document = {"tickets": [{"id": 7, "requester": {"name": "Eva Öz"}}, "not one"]}
    body = gzipped("\ufeff" + json.dumps(document, ensure_ascii=False))
    write(landing, HELPDESK_TICKETS, "helpdesk_tickets_2026-11-30.json.gz", body)

    [result] = load_source(con, HELPDESK_TICKETS, landing)

    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (2, 1, 1)
    row = con.execute(
        "select ticket_id, requester_name from raw.helpdesk_tickets"
    ).fetchone()
    assert row == ("7", "Eva Öz")


def test_landing_files_lists_both_forms(tmp_path):
    landing = tmp_path / "landing"
    names = [
        "crm_contacts_2026-11-30.csv",
        "crm_contacts_2026-11-29.csv.gz",
        "crm_contacts_2026-11-30.csv.gz",
        "crm_contacts_2026-11-28.csv",
    ]
    for name in names:
        write(landing, CRM_CONTACTS, name, b"")
    write(landing, CRM_CONTACTS, "crm_contacts_2026-11-30.csv.zip", b"")

    found = [p.name for p in landing_files(CRM_CONTACTS, landing)]

    assert found == [
        "crm_contacts_2026-11-28.csv",
        "crm_contacts_2026-11-29.csv.gz",
        "crm_contacts_2026-11-30.csv",
        "crm_contacts_2026-11-30.csv.gz",
    ]


def truncated_gzip(content: str) -> bytes:
    """A gzip stream cut off in the middle, as after an interrupted transfer."""
    data = gzip.compress(content.encode("utf-8"))
    return data[: len(data) // 2]


def corrupted_gzip(content: str) -> bytes:
    """A gzip stream with one byte flipped where DuckDB still decompresses it."""
    data = bytearray(gzip.compress(content.encode("utf-8")))
    data[len(data) // 2] ^= 0xFF
    return bytes(data)


CORRUPT_CSV = "\n".join([CRM_HEADER] + [crm_row(str(i)) for i in range(5000)])

BROKEN_GZIP_CASES = [
    (
        CRM_CONTACTS,
        "crm_contacts_2026-11-29.csv.gz",
        truncated_gzip("\n".join([CRM_HEADER] + [crm_row(str(i)) for i in range(500)])),
    ),
    (CRM_CONTACTS, "crm_contacts_2026-11-29.csv.gz", b"Record ID\n1\n"),
    (CRM_CONTACTS, "crm_contacts_2026-11-29.csv.gz", corrupted_gzip(CORRUPT_CSV)),
    (
        WEB_EVENTS,
        "web_events_2026-11-29.jsonl.gz",
        truncated_gzip(json.dumps({"messageId": "m1", "type": "track"}) * 50),
    ),
    (WEB_EVENTS, "web_events_2026-11-29.jsonl.gz", b'{"messageId": "m1"}\n'),
    (
        HELPDESK_TICKETS,
        "helpdesk_tickets_2026-11-29.json.gz",
        truncated_gzip(json.dumps({"tickets": [{"id": i} for i in range(50)]})),
    ),
    (HELPDESK_TICKETS, "helpdesk_tickets_2026-11-29.json.gz", b'{"tickets": []}'),
]

GOOD_FILES = {
    CRM_CONTACTS.name: (
        "crm_contacts_2026-11-30.csv",
        "\n".join([CRM_HEADER, crm_row("1")]) + "\n",
    ),
    WEB_EVENTS.name: (
        "web_events_2026-11-30.jsonl.gz",
        gzipped(json.dumps({"messageId": "m1", "type": "track"}) + "\n"),
    ),
    HELPDESK_TICKETS.name: (
        "helpdesk_tickets_2026-11-30.json",
        json.dumps({"tickets": [{"id": 1}]}),
    ),
}


@pytest.mark.parametrize(
    ("source", "name", "content"),
    BROKEN_GZIP_CASES,
    ids=[
        "csv-truncated",
        "csv-not-gzip",
        "csv-crc-mismatch",
        "jsonl-truncated",
        "jsonl-not-gzip",
        "json-truncated",
        "json-not-gzip",
    ],
)
def test_broken_gzip_rejects_that_file(con, tmp_path, source, name, content):
    landing = tmp_path / "landing"
    write(landing, source, name, content)
    write(landing, source, *GOOD_FILES[source.name])

    broken, good = load_source(con, source, landing)

    assert broken.status == "rejected"
    assert "invalid gzip file" in broken.message
    assert good.status == "loaded"
    assert good.rows_loaded == 1
    rows = con.execute(f"select count(*) from raw.{source.table}").fetchone()[0]
    assert rows == 1
    logged = con.execute(
        "select status from raw._load_log where file = ?", [name]
    ).fetchall()
    assert logged == [("rejected",)]


@pytest.mark.parametrize(
    ("header", "position", "expected"),
    [
        ("Lead Score", 3, "extra_lead_score"),
        ("  lead_score  ", 3, "extra_lead_score"),
        ("leadScore", 3, "extra_lead_score"),
        ("Lead-Score (%)", 3, "extra_lead_score"),
        ("UTM Source 2", 3, "extra_utm_source_2"),
        ("Größe", 3, "extra_größe"),
        ("", 7, "extra_column_7"),
        ("%%", 2, "extra_column_2"),
    ],
)
def test_extra_column_name(header, position, expected):
    assert extra_column_name(header, position) == expected


def column_types(con, table: str) -> dict[str, str]:
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'raw' and table_name = ?",
        [table],
    ).fetchall()
    return dict(rows)


def test_extra_csv_columns_kept(con, tmp_path, caplog):
    landing = tmp_path / "landing"
    write(
        landing,
        CRM_CONTACTS,
        "crm_contacts_2026-11-29.csv",
        "\n".join([CRM_HEADER, crm_row("1")]) + "\n",
    )
    header = CRM_HEADER + ",Lead Score,utmSource"
    body = "\n".join([header, crm_row("2") + ",42,newsletter", crm_row("3") + ",,"])
    write(landing, CRM_CONTACTS, "crm_contacts_2026-11-30.csv", body + "\n")

    with caplog.at_level("WARNING"):
        first, second = load_source(con, CRM_CONTACTS, landing)

    assert first.new_columns == ()
    assert second.new_columns == ("extra_lead_score", "extra_utm_source")
    assert (second.rows_read, second.rows_loaded, second.rows_rejected) == (2, 2, 0)
    assert "extra_lead_score, extra_utm_source" in caplog.text
    rows = con.execute(
        "select record_id, extra_lead_score, extra_utm_source from raw.crm_contacts "
        "order by record_id"
    ).fetchall()
    assert rows == [("1", None, None), ("2", "42", "newsletter"), ("3", None, None)]
    types = column_types(con, "crm_contacts")
    assert types["extra_lead_score"] == "VARCHAR"
    assert types["extra_utm_source"] == "VARCHAR"


def test_extra_column_in_later_file_reused(con, tmp_path):
    landing = tmp_path / "landing"
    for day, record_id in (("29", "1"), ("30", "2")):
        body = "\n".join([CRM_HEADER + ",Lead Score", crm_row(record_id) + ",5"])
        write(landing, CRM_CONTACTS, f"crm_contacts_2026-11-{day}.csv", body + "\n")

    results = load_source(con, CRM_CONTACTS, landing)

    assert [r.status for r in results] == ["loaded", "loaded"]
    assert [r.new_columns for r in results] == [("extra_lead_score",)] * 2
    values = con.execute(
        "select extra_lead_score from raw.crm_contacts order by record_id"
    ).fetchall()
    assert values == [("5",), ("5",)]


def test_extra_columns_with_same_name_reject_file(con, tmp_path):
    landing = tmp_path / "landing"
    header = CRM_HEADER + ",Lead Score,lead_score"
    write(landing, CRM_CONTACTS, "crm_contacts_2026-11-30.csv", header + "\n")

    [result] = load_source(con, CRM_CONTACTS, landing)

    assert result.status == "rejected"
    assert "duplicate column(s) in the header: extra_lead_score" in result.message


def test_header_only_file_keeps_column_types(con, tmp_path):
    landing = tmp_path / "landing"
    write(
        landing,
        CRM_CONTACTS,
        "crm_contacts_2026-11-29.csv",
        "\n".join([CRM_HEADER, crm_row("1")]) + "\n",
    )
    load_source(con, CRM_CONTACTS, landing)
    types_before = column_types(con, "crm_contacts")
    write(
        landing,
        CRM_CONTACTS,
        "crm_contacts_2026-11-30.csv",
        CRM_HEADER + ",Lead Score\n",
    )

    [_, result] = load_source(con, CRM_CONTACTS, landing)

    assert result.status == "loaded"
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (0, 0, 0)
    types_after = column_types(con, "crm_contacts")
    assert types_after == {**types_before, "extra_lead_score": "VARCHAR"}
    assert con.execute("select count(*) from raw.crm_contacts").fetchone()[0] == 1


def test_csv_columns_in_other_order(con, tmp_path):
    landing = tmp_path / "landing"
    header = list(reversed(CRM_CONTACTS.columns))
    values = {"Record ID": "1", "First Name": "Anna", "Email": "a@example.de"}
    row = [values.get(name, "") for name in header]
    body = "\n".join([",".join(header), ",".join(row)]) + "\n"
    write(landing, CRM_CONTACTS, "crm_contacts_2026-11-30.csv", body)

    [result] = load_source(con, CRM_CONTACTS, landing)

    assert result.status == "loaded"
    assert result.new_columns == ()
    loaded = con.execute(
        "select record_id, first_name, email, last_name from raw.crm_contacts"
    ).fetchone()
    assert loaded == ("1", "Anna", "a@example.de", None)


CRASH_ROWS_PER_FILE = 200_000

# Loads every CRM file of the landing folder into the warehouse. It prints "loading"
# before the first file and the loader's log lines, which tell the test how far it got.
LOAD_SCRIPT = """
import logging
import sys
from pathlib import Path

import duckdb

from ingestion.loader import load_source
from ingestion.sources import CRM_CONTACTS

logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
con = duckdb.connect(sys.argv[1])
print("loading", flush=True)
load_source(con, CRM_CONTACTS, Path(sys.argv[2]))
"""


def write_large_crm_file(landing: Path, day: str) -> None:
    folder = landing / CRM_CONTACTS.landing_folder
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"crm_contacts_2026-11-{day}.csv").open("w", encoding="utf-8") as f:
        f.write(CRM_HEADER + "\n")
        for i in range(CRASH_ROWS_PER_FILE):
            f.write(
                f"{day}-{i},Anna,Müller,anna.{i}@example.de,+49301234{i},"
                f"Hauptstr. {i},10115,Berlin,DE,1990-01-01,2026-11-01,2026-11-{day},"
                "true\n"
            )


@pytest.fixture(scope="module")
def large_landing(tmp_path_factory):
    """Two CRM extracts of 200,000 rows each, and a warehouse with a clean load."""
    root = tmp_path_factory.mktemp("crash")
    landing = root / "landing"
    for day in ("29", "30"):
        write_large_crm_file(landing, day)
    clean = root / "clean.duckdb"
    with duckdb.connect(str(clean)) as con:
        load_source(con, CRM_CONTACTS, landing)
    return landing, clean


def differing_rows(con, table: str, columns: list[str]) -> int:
    """Distinct rows whose count differs between ``raw.<table>`` and the same table
    in the attached ``clean`` warehouse (faster here than ``except all``)."""
    select_list = ", ".join(f'"{c}"' for c in columns)
    return con.execute(
        f"select count(*) from (select {select_list}, "
        "count(*) filter (where side = 1) as crashed, "
        "count(*) filter (where side = 2) as clean "
        f"from (select {select_list}, 1 as side from raw.{table} "
        f"union all select {select_list}, 2 from clean.raw.{table}) "
        "group by all having crashed <> clean)"
    ).fetchone()[0]


def wait_for_line(process: subprocess.Popen, prefix: str) -> None:
    for line in process.stdout:
        if line.startswith(prefix):
            return
    pytest.fail(f"the load process ended without printing {prefix!r}")


@pytest.mark.parametrize(
    "kill_after_line",
    ["loading", "loaded crm_contacts_2026-11-29.csv"],
    ids=["during-first-file", "during-second-file"],
)
def test_load_after_kill_matches_clean_load(large_landing, tmp_path, kill_after_line):
    landing, clean = large_landing
    warehouse = tmp_path / "crashed.duckdb"
    process = subprocess.Popen(
        [sys.executable, "-c", LOAD_SCRIPT, str(warehouse), str(landing)],
        stdout=subprocess.PIPE,
        text=True,
    )
    wait_for_line(process, kill_after_line)
    time.sleep(0.3)
    still_loading = process.poll() is None
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stdout.close()
    assert still_loading, "the load ended before the kill; use larger files"

    with duckdb.connect(str(warehouse)) as con:
        results = load_source(con, CRM_CONTACTS, landing)
        con.execute(f"attach '{clean}' as clean (read_only)")
        row_columns = [*CRM_CONTACTS.raw_columns, "_file", "_row_number"]
        log_columns = ["source", "file", "sha256", "status", "rows_read"]
        log_columns += ["rows_loaded", "rows_rejected", "message"]
        rows_differing = differing_rows(con, "crm_contacts", row_columns)
        log_differing = differing_rows(con, "_load_log", log_columns)
        row_count = con.execute("select count(*) from raw.crm_contacts").fetchone()[0]
        log_count = con.execute("select count(*) from raw._load_log").fetchone()[0]

    assert {r.status for r in results} <= {"loaded", "skipped"}
    assert rows_differing == 0
    assert log_differing == 0
    assert row_count == 2 * CRASH_ROWS_PER_FILE
    assert log_count == 2
