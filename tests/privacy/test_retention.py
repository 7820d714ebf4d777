"""Retention purge on real DuckDB files and landing files written by hand: rows,
landing files, the load log, the purge log, reruns and row numbers.

The nightly job's own purge runs in ``test_erasure_end_to_end.py``.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ingestion.loader import file_sha256, load_source
from ingestion.sources import CRM_CONTACTS, EMAIL_ACTIVITY, WEB_EVENTS, Retention
from orchestration.privacy import landing, retention

RUN_DATE = date(2026, 11, 30)
# WEB_EVENTS keeps 760 days: the cutoff is 2024-10-31.
CUTOFF = date(2024, 10, 31)


def event(message_id: str, received_at: str | None) -> str:
    row = {"messageId": message_id, "type": "page", "anonymousId": "a-1"}
    if received_at is not None:
        row["receivedAt"] = received_at
    return json.dumps(row) + "\n"


def write_web_file(landing_dir: Path, name: str, events: list[str]) -> Path:
    folder = landing_dir / WEB_EVENTS.landing_folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(events), encoding="utf-8")
    return path


@pytest.fixture
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


@pytest.fixture
def landing_dir(tmp_path: Path) -> Path:
    return tmp_path / "landing"


def load_log(con, file: str) -> tuple:
    return con.execute(
        "select rows_read, rows_loaded, rows_rejected, rows_purged, sha256 "
        "from raw._load_log where file = ? and status = 'loaded'",
        [file],
    ).fetchone()


def raw_rows(con) -> list[tuple]:
    return con.execute(
        "select message_id, _row_number from raw.web_events order by _row_number"
    ).fetchall()


def test_old_rows_leave_raw_and_file(con, landing_dir):
    path = write_web_file(
        landing_dir,
        "web_events_2026-11-30.jsonl",
        [
            event("old-1", "2024-09-01T10:00:00Z"),
            event("new-1", "2026-11-01T10:00:00Z"),
            event("old-2", "2024-10-30T23:59:59Z"),
            event("edge", "2024-10-31T00:00:00Z"),
            event("new-2", "2026-11-02T10:00:00Z"),
        ],
    )
    load_source(con, WEB_EVENTS, landing_dir)

    [result] = retention.purge_expired_rows(con, landing_dir, RUN_DATE)

    assert (result.cutoff, result.rows, result.files_deleted) == (CUTOFF, 2, 0)
    assert [m for m, _ in raw_rows(con)] == ["new-1", "edge", "new-2"]
    text = path.read_text(encoding="utf-8")
    assert "old-1" not in text
    assert "old-2" not in text
    read, loaded, rejected, purged, sha = load_log(con, path.name)
    assert (read, loaded, rejected, purged) == (5, 3, 0, 2)
    assert sha == file_sha256(path)


def test_row_numbers_follow_rewritten_file(con, landing_dir):
    """After the purge each raw row's number points at its own line, so a later
    erasure or purge of the same file removes the right rows."""
    path = write_web_file(
        landing_dir,
        "web_events_2026-11-30.jsonl",
        [
            event("old-1", "2024-09-01T10:00:00Z"),
            event("new-1", "2026-11-01T10:00:00Z"),
            event("old-2", "2024-09-02T10:00:00Z"),
            event("new-2", "2026-11-02T10:00:00Z"),
        ],
    )
    load_source(con, WEB_EVENTS, landing_dir)
    retention.purge_expired_rows(con, landing_dir, RUN_DATE)

    lines = path.read_text(encoding="utf-8").splitlines()
    for message_id, row_number in raw_rows(con):
        assert json.loads(lines[row_number - 1])["messageId"] == message_id
    [(new_2,)] = con.execute(
        "select _row_number from raw.web_events where message_id = 'new-2'"
    ).fetchall()
    landing.remove_rows(WEB_EVENTS, path, {new_2})
    assert [
        json.loads(line)["messageId"] for line in path.read_text().splitlines()
    ] == ["new-1"]


def test_file_without_kept_rows_deleted(con, landing_dir):
    old = write_web_file(
        landing_dir,
        "web_events_2024-09-30.jsonl",
        [
            event("old-1", "2024-09-01T10:00:00Z"),
            "{not json\n",
            event("old-2", "2024-09-02T10:00:00Z"),
        ],
    )
    new = write_web_file(
        landing_dir, "web_events_2026-11-30.jsonl", [event("new-1", "2026-11-01")]
    )
    load_source(con, WEB_EVENTS, landing_dir)
    rejects_before = con.execute(
        "select count(*) from raw.web_events__rejects"
    ).fetchone()[0]

    [result] = retention.purge_expired_rows(con, landing_dir, RUN_DATE)

    assert rejects_before == 1
    assert not old.exists()
    assert new.exists()
    assert (result.rows, result.rejects, result.files_deleted) == (2, 1, 1)
    assert load_log(con, old.name)[:4] == (3, 0, 0, 3)
    rejects = con.execute("select count(*) from raw.web_events__rejects").fetchone()[0]
    assert rejects == 0


def test_rerun_purges_nothing_more(con, landing_dir):
    write_web_file(
        landing_dir,
        "web_events_2026-11-30.jsonl",
        [event("old-1", "2024-09-01T10:00:00Z"), event("new-1", "2026-11-01")],
    )
    load_source(con, WEB_EVENTS, landing_dir)
    retention.purge_expired_rows(con, landing_dir, RUN_DATE)
    log_before = con.execute(
        "select * from privacy.retention_log order by all"
    ).fetchall()
    load_before = con.execute("select * from raw._load_log").fetchall()

    [again] = retention.purge_expired_rows(con, landing_dir, RUN_DATE)

    assert again.rows == 0
    assert con.execute(
        "select * from privacy.retention_log order by all"
    ).fetchall() == (log_before)
    assert con.execute("select * from raw._load_log").fetchall() == load_before
    assert [r.status for r in load_source(con, WEB_EVENTS, landing_dir)] == ["skipped"]
    logged = con.execute(
        "select target, cutoff, rows_purged, files_deleted from privacy.retention_log "
        "where run_date = ? order by target",
        [RUN_DATE],
    ).fetchall()
    assert logged == [
        ("landing/web_events", CUTOFF, 1, 0),
        ("raw.web_events", CUTOFF, 1, 0),
        ("raw.web_events__rejects", CUTOFF, 0, 0),
    ]


def test_rows_without_event_time_kept(con, landing_dir):
    write_web_file(
        landing_dir,
        "web_events_2026-11-30.jsonl",
        [event("no-time", None), event("bad-time", "yesterday")],
    )
    load_source(con, WEB_EVENTS, landing_dir)

    [result] = retention.purge_expired_rows(con, landing_dir, RUN_DATE)

    assert result.rows == 0
    assert result.rows_without_event_time == 2
    assert len(raw_rows(con)) == 2


def test_consent_evidence_outlives_retention(con, landing_dir):
    folder = landing_dir / EMAIL_ACTIVITY.landing_folder
    folder.mkdir(parents=True)
    header = ",".join(EMAIL_ACTIVITY.columns)
    rows = [
        f"c1,Herbst,a@example.de,{action},2024-09-01 08:00:00,"
        for action in ("sent", " Open", "Soft-Bounce", "unsubscribe", "bounce", "spam")
    ]
    (folder / "email_activity_2026-11-30.csv").write_text(
        "\n".join([header, *rows]) + "\n", encoding="utf-8"
    )
    load_source(con, EMAIL_ACTIVITY, landing_dir)

    [result] = retention.purge_expired_rows(con, landing_dir, RUN_DATE)

    kept = con.execute("select action from raw.email_activity order by 1").fetchall()
    assert result.rows == 3
    assert kept == [("bounce",), ("spam",), ("unsubscribe",)]


def test_source_without_retention_untouched(con, landing_dir):
    folder = landing_dir / CRM_CONTACTS.landing_folder
    folder.mkdir(parents=True)
    values = {"record_id": "1", "email": "a@example.de", "create_date": "2001-01-01"}
    line = ",".join(values.get(column, "") for column in CRM_CONTACTS.raw_columns)
    (folder / "crm_contacts_2026-11-30.csv").write_text(
        ",".join(CRM_CONTACTS.columns) + "\n" + line + "\n", encoding="utf-8"
    )
    load_source(con, CRM_CONTACTS, landing_dir)

    results = retention.purge_expired_rows(con, landing_dir, RUN_DATE)

    assert CRM_CONTACTS.retention is None
    assert results == []
    assert con.execute("select count(*) from raw.crm_contacts").fetchone()[0] == 1


def test_retention_outside_contract_rejected():
    with pytest.raises(ValueError, match="outside the contract: created"):
        dataclasses.replace(
            WEB_EVENTS, retention=Retention(days=30, event_time=("created",))
        )
    with pytest.raises(ValueError, match="days >= 1"):
        dataclasses.replace(WEB_EVENTS, retention=Retention(0, ("timestamp",)))
