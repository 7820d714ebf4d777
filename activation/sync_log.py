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

from datetime import UTC, date, datetime
from typing import NamedTuple

import duckdb
import pyarrow as pa

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


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    for statement in DDL:
        con.execute(statement)


def has_tables(con: duckdb.DuckDBPyConnection) -> bool:
    return (
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'activation' and table_name = 'audience_snapshots' "
            "and table_catalog = current_database()"
        ).fetchone()[0]
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
    row = con.execute(
        "select run_date, finished_at, status from activation.sync_runs "
        "where destination = ? and segment = ? "
        "order by finished_at desc limit 1",
        [destination, segment],
    ).fetchone()
    return LastSync(*row) if row else None


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
    return con.execute(
        "select max(run_date) from activation.audience_snapshots "
        "where destination = ? and segment = ?",
        [destination, segment],
    ).fetchone()[0]


def base_run_date(con, destination: str, segment: str, run_date: date) -> date | None:
    """Run date of the snapshot a sync for ``run_date`` compares against."""
    if not has_tables(con):
        return None
    return con.execute(
        "select max(run_date) from activation.audience_snapshots "
        "where destination = ? and segment = ? and run_date < ?",
        [destination, segment, run_date],
    ).fetchone()[0]


def read_snapshot(con, destination: str, segment: str, run_date: date | None) -> dict:
    """Return ``{customer_id: (match_key, record_hash, payload)}`` of one snapshot."""
    if run_date is None:
        return {}
    rows = con.execute(
        "select customer_id, match_key, record_hash, payload "
        "from activation.audience_snapshots "
        "where destination = ? and segment = ? and run_date = ?",
        [destination, segment, run_date],
    ).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


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


def removal_reasons(con, customer_ids: list[str], consent_filter: str) -> dict:
    """Why each id left the audience: merged into another id, no longer a known
    customer, no consent, or out of the segment."""
    if not customer_ids:
        return {}
    con.register("activation_removed_ids", pa.table({"customer_id": customer_ids}))
    try:
        merged = "null"
        lookup_join = ""
        if _exists(con, "identity", "customer_id_lookup"):
            merged = "l.current_customer_id"
            lookup_join = (
                "left join identity.customer_id_lookup as l "
                "on l.customer_id = r.customer_id "
                "and l.current_customer_id <> l.customer_id"
            )
        rows = con.execute(
            f"select r.customer_id, {merged} as merged_into, "
            "c.customer_id is not null as is_customer, "
            f"coalesce({consent_filter}, false) as has_consent "
            "from activation_removed_ids as r "
            "left join marts.dim_customers as c on c.customer_id = r.customer_id "
            f"{lookup_join}"
        ).fetchall()
    finally:
        con.unregister("activation_removed_ids")
    reasons = {}
    for customer_id, merged_into, is_customer, has_consent in rows:
        if merged_into:
            reasons[customer_id] = f"merged into {merged_into}"
        elif not is_customer:
            reasons[customer_id] = "no longer a known customer"
        elif not has_consent:
            reasons[customer_id] = "no consent or suppressed"
        else:
            reasons[customer_id] = "left the segment"
    return reasons


def _exists(con, schema: str, table: str) -> bool:
    return (
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? "
            "and table_name = ? and table_catalog = current_database()",
            [schema, table],
        ).fetchone()[0]
        > 0
    )


def write_snapshot(
    con, destination: str, segment: str, run_date: date, rows: list[tuple]
) -> None:
    """Replace the snapshot of ``run_date`` and drop those older than its base.

    ``rows`` are ``(customer_id, match_key, record_hash, payload)``.
    """
    base = base_run_date(con, destination, segment, run_date)
    con.execute(
        "delete from activation.audience_snapshots where destination = ? "
        "and segment = ? and (run_date = ? or run_date < ?)",
        [destination, segment, run_date, base or run_date],
    )
    columns = list(zip(*rows, strict=True)) if rows else [[], [], [], []]
    table = pa.table(
        {
            name: pa.array(list(values), type=pa.string())
            for name, values in zip(
                ("customer_id", "match_key", "record_hash", "payload"),
                columns,
                strict=True,
            )
        }
    )
    con.register("activation_snapshot_rows", table)
    try:
        con.execute(
            "insert into activation.audience_snapshots "
            "select ?, ?, ?, customer_id, match_key, record_hash, payload "
            "from activation_snapshot_rows",
            [destination, segment, run_date],
        )
    finally:
        con.unregister("activation_snapshot_rows")


def record_changes(
    con, sync_id: str, destination: str, segment: str, run_date: date, outcomes
) -> None:
    """Log this attempt's outcomes; earlier unsettled rows of the run date go.

    ``outcomes`` are ``(customer_id, action, record_hash, status, reason)``;
    outcomes settled by an earlier attempt are left out by the caller.
    """
    now = _now()
    con.execute(
        "delete from activation.sync_changes where destination = ? and segment = ? "
        f"and run_date = ? and status not in {SETTLED}",
        [destination, segment, run_date],
    )
    _insert_rows(
        con,
        "activation.sync_changes",
        [(sync_id, destination, segment, run_date, *o, now) for o in outcomes],
    )


def record_failures(
    con, sync_id: str, destination: str, segment: str, run_date: date, failures
) -> None:
    """Add this attempt's failures and resolve earlier ones that did not fail again.

    ``failures`` are ``(customer_id, action, reason)``.
    """
    now = _now()
    failed_ids = [f[0] for f in failures]
    con.register("activation_failed_ids", pa.table({"customer_id": failed_ids}))
    try:
        con.execute(
            "update activation.failed_rows set resolved_at = ?, resolved_sync_id = ? "
            "where destination = ? and segment = ? and resolved_at is null "
            "and customer_id not in (select customer_id from activation_failed_ids)",
            [now, sync_id, destination, segment],
        )
    finally:
        con.unregister("activation_failed_ids")
    _insert_rows(
        con,
        "activation.failed_rows",
        [
            (sync_id, destination, segment, run_date, *f, now, None, None)
            for f in failures
        ],
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
