"""Loader tests on real DuckDB files and hand-written landing files."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from ingestion.loader import load_source
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
