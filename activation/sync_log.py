"""Sync state and receipts in the warehouse schema ``activation``.

- ``audience_snapshots``: what each destination has per segment after the sync of a
  run date (customer id, key, record hash and the values sent). The next night's
  diff is computed against the newest snapshot before its run date, so running a
  night again computes the same diff and writes the same files. Only that base and
  the newest snapshot are kept.
- ``sync_runs``: one row per sync attempt of a destination and segment, with counts.
- ``sync_changes``: one row per person added, changed, removed or sent again, with
  its status. A change that succeeded for a run date is never sent again for it.
- ``failed_rows``: rows the destination did not accept, with the reason. Failed rows
  stay out of the snapshot, so the next sync sends them again; a later sync that
  no longer fails them sets ``resolved_at``.
- ``exports``: every file written, with row count and sha256 (read by ``cdp summary``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import NamedTuple

import duckdb
import pyarrow as pa

from identity.sql import fetch_value

DDL = [
    "create schema if not exists activation",
    """
    create table if not exists activation.audience_snapshots (
        destination varchar not null,
        segment varchar not null,
        run_date date not null,
        customer_id varchar not null,
        match_key varchar not null,
        record_hash varchar not null,
        payload varchar not null
    )
    """,
    """
    create table if not exists activation.sync_runs (
        sync_id varchar not null,
        destination varchar not null,
        destination_type varchar not null,
        segment varchar not null,
        mode varchar not null,
        run_date date not null,
        base_run_date date,
        status varchar not null,
        rows_total bigint not null,
        rows_added bigint not null,
        rows_changed bigint not null,
        rows_removed bigint not null,
        rows_unchanged bigint not null,
        rows_sent bigint not null,
        rows_failed bigint not null,
        model_version varchar not null,
        started_at timestamp not null,
        finished_at timestamp not null
    )
    """,
    """
    create table if not exists activation.sync_changes (
        sync_id varchar not null,
        destination varchar not null,
        segment varchar not null,
        run_date date not null,
        customer_id varchar not null,
        action varchar not null,
        record_hash varchar not null,
        status varchar not null,
        reason varchar,
        recorded_at timestamp not null
    )
    """,
    """
    create table if not exists activation.failed_rows (
        sync_id varchar not null,
        destination varchar not null,
        segment varchar not null,
        run_date date not null,
        customer_id varchar not null,
        action varchar not null,
        reason varchar not null,
        failed_at timestamp not null,
        resolved_at timestamp,
        resolved_sync_id varchar
    )
    """,
    """
    create table if not exists activation.exports (
        destination varchar not null,
        segment varchar not null,
        run_date date not null,
        file varchar not null,
        row_count bigint not null,
        sha256 varchar not null,
        exported_at timestamp not null
    )
    """,
]

# Statuses of a change that reached the destination or was settled without sending.
SETTLED = ("written", "accepted", "skipped", "omitted")

# One outcome per row of a sync, as ``activation.sync_changes`` logs it.
OUTCOME_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("action", pa.string()),
        ("record_hash", pa.string()),
        ("status", pa.string()),
        ("reason", pa.string()),
    ]
)


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, **tables: pa.Table) -> Iterator[None]:
    """Make Arrow tables readable by name in SQL for the duration of the block."""
    for name, table in tables.items():
        con.register(name, table)
    try:
        yield
    finally:
        for name in tables:
            con.unregister(name)


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    for statement in DDL:
        con.execute(statement)


def has_tables(con: duckdb.DuckDBPyConnection) -> bool:
    return (
        fetch_value(
            con,
            "select count(*) from information_schema.tables "
            "where table_schema = 'activation' and table_name = 'audience_snapshots' "
            "and table_catalog = current_database()",
        )
        > 0
    )


class LastSync(NamedTuple):
    """The newest finished sync of a destination and segment in ``sync_runs``."""

    run_date: date
    # UTC, without a time zone, as stored.
    finished_at: datetime
    # succeeded, or partial when the destination rejected some rows.
    status: str


def last_sync(con, destination: str, segment: str) -> LastSync | None:
    """Return the newest sync of any run date that finished, or None.

    A sync that stopped with an error records no row, so it never shows here.
    """
    if not has_tables(con):
        return None
    rows = con.execute(
        "select run_date, finished_at, status from activation.sync_runs "
        "where destination = ? and segment = ? "
        "order by finished_at desc limit 1",
        [destination, segment],
    ).fetchall()
    return LastSync(*rows[0]) if rows else None


def exported_sha256(con, destination: str, run_date: date) -> dict[str, str]:
    """Return ``{file name: sha256}`` of the files recorded for a run date."""
    if not has_tables(con):
        return {}
    rows = con.execute(
        "select file, sha256 from activation.exports "
        "where destination = ? and run_date = ?",
        [destination, run_date],
    ).fetchall()
    return dict(rows)


def latest_run_date(con, destination: str, segment: str) -> date | None:
    if not has_tables(con):
        return None
    return fetch_value(
        con,
        "select max(run_date) from activation.audience_snapshots "
        "where destination = ? and segment = ?",
        [destination, segment],
    )


def base_run_date(con, destination: str, segment: str, run_date: date) -> date | None:
    """Run date of the snapshot a sync for ``run_date`` compares against."""
    if not has_tables(con):
        return None
    return fetch_value(
        con,
        "select max(run_date) from activation.audience_snapshots "
        "where destination = ? and segment = ? and run_date < ?",
        [destination, segment, run_date],
    )


def snapshot_relation(con) -> str:
    """Return ``activation.audience_snapshots``, or an empty relation with its
    columns until the first sync creates the table, so a plan can run on a
    read-only warehouse."""
    if has_tables(con):
        return "activation.audience_snapshots"
    return (
        "(select null::varchar as destination, null::varchar as segment, "
        "null::date as run_date, null::varchar as customer_id, "
        "null::varchar as match_key, null::varchar as record_hash, "
        "null::varchar as payload where false)"
    )


def settled_changes(con, destination: str, segment: str, run_date: date) -> set:
    """(customer_id, action, record_hash) already settled by an earlier attempt."""
    if not has_tables(con):
        return set()
    rows = con.execute(
        "select customer_id, action, record_hash from activation.sync_changes "
        "where destination = ? and segment = ? and run_date = ? "
        f"and status in {SETTLED}",
        [destination, segment, run_date],
    ).fetchall()
    return set(rows)


def write_snapshot(
    con, destination: str, segment: str, run_date: date, rows: pa.Table
) -> None:
    """Replace the snapshot of ``run_date`` and drop those older than its base.

    ``rows`` has the columns ``customer_id``, ``match_key``, ``record_hash`` and
    ``payload``.
    """
    base = base_run_date(con, destination, segment, run_date)
    con.execute(
        "delete from activation.audience_snapshots where destination = ? "
        "and segment = ? and (run_date = ? or run_date < ?)",
        [destination, segment, run_date, base or run_date],
    )
    with registered(con, activation_snapshot_rows=rows):
        con.execute(
            "insert into activation.audience_snapshots "
            "select ?, ?, ?, customer_id, match_key, record_hash, payload "
            "from activation_snapshot_rows",
            [destination, segment, run_date],
        )


# SQL condition, true when an earlier attempt of the run date settled outcome ``o``.
SETTLED_BEFORE = f"""exists (
    select 1 from activation.sync_changes as s
    where s.destination = $destination and s.segment = $segment
        and s.run_date = $run_date and s.status in {SETTLED}
        and s.customer_id = o.customer_id and s.action = o.action
        and s.record_hash = o.record_hash
)"""


def count_sent(
    con, destination: str, segment: str, run_date: date, outcomes: pa.Table
) -> int:
    """Count the outcomes written or accepted that no earlier attempt of the run
    date settled. ``outcomes`` is a table of OUTCOME_SCHEMA."""
    with registered(con, activation_outcomes=outcomes):
        return fetch_value(
            con,
            "select count(*) from activation_outcomes as o "
            "where o.status in ('written', 'accepted') "
            f"and not {SETTLED_BEFORE}",
            {"destination": destination, "segment": segment, "run_date": run_date},
        )


def record_changes(
    con,
    sync_id: str,
    destination: str,
    segment: str,
    run_date: date,
    outcomes: pa.Table,
    log_unchanged: bool,
) -> None:
    """Log this attempt's outcomes; earlier unsettled rows of the run date go.

    ``outcomes`` is a table of OUTCOME_SCHEMA. Outcomes that an earlier attempt
    of the run date settled are left out, and so are those of unchanged rows
    unless ``log_unchanged``.
    """
    parameters = {"destination": destination, "segment": segment, "run_date": run_date}
    con.execute(
        "delete from activation.sync_changes where destination = $destination "
        "and segment = $segment and run_date = $run_date "
        f"and status not in {SETTLED}",
        parameters,
    )
    with registered(con, activation_outcomes=outcomes):
        con.execute(
            "insert into activation.sync_changes "
            "select $sync_id, $destination, $segment, $run_date, o.customer_id, "
            "o.action, o.record_hash, o.status, o.reason, $now "
            "from activation_outcomes as o "
            "where (o.action <> 'unchanged' or $log_unchanged) "
            f"and not {SETTLED_BEFORE}",
            parameters
            | {"sync_id": sync_id, "now": _now(), "log_unchanged": log_unchanged},
        )


def record_failures(
    con, sync_id: str, destination: str, segment: str, run_date: date, failures
) -> None:
    """Add this attempt's failures and resolve earlier ones that did not fail again.

    ``failures`` is a table of OUTCOME_SCHEMA whose rows all failed.
    """
    now = _now()
    with registered(con, activation_failures=failures):
        con.execute(
            "update activation.failed_rows set resolved_at = ?, resolved_sync_id = ? "
            "where destination = ? and segment = ? and resolved_at is null "
            "and customer_id not in (select customer_id from activation_failures)",
            [now, sync_id, destination, segment],
        )
        con.execute(
            "insert into activation.failed_rows "
            "select ?, ?, ?, ?, customer_id, action, reason, ?, null, null "
            "from activation_failures",
            [sync_id, destination, segment, run_date, now],
        )


def record_run(con, row: dict) -> None:
    columns = ", ".join(row)
    placeholders = ", ".join("?" for _ in row)
    con.execute(
        f"insert into activation.sync_runs ({columns}) values ({placeholders})",
        list(row.values()),
    )


def record_exports(con, destination: str, run_date: date, files) -> None:
    """Replace this destination's file rows for the run date, so a rerun adds none."""
    con.execute(
        "delete from activation.exports where destination = ? and run_date = ?",
        [destination, run_date],
    )
    now = _now()
    _insert_rows(
        con,
        "activation.exports",
        [
            (destination, f.segment, run_date, f.file, f.row_count, f.sha256, now)
            for f in files
        ],
    )


def _insert_rows(con, table: str, rows: list[tuple]) -> None:
    """Insert rows in the table's column order in one statement, through Arrow."""
    if not rows:
        return
    columns = [f"c{i}" for i in range(len(rows[0]))]
    data = pa.Table.from_pylist([dict(zip(columns, r, strict=True)) for r in rows])
    con.register("activation_insert_rows", data)
    try:
        con.execute(f"insert into {table} select * from activation_insert_rows")
    finally:
        con.unregister("activation_insert_rows")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
