"""Purge raw rows older than their source's retention period, in raw and on disk.

Runs in the nightly job after the raw tables are loaded and before dbt builds
staging. For every source with a ``retention`` in ``ingestion/sources.py``:

1. The cutoff is the run date minus the retention days, at midnight UTC. A row is
   purged when its event time is before the cutoff and it matches ``only_when``.
   Rows whose event time does not read as a timestamp are kept and counted.
2. The purged rows leave their landing files, which are rewritten like erasure
   rewrites them, and the rows after them in the file get new row numbers. A
   landing file left with no loaded row is deleted, and its rejected rows leave
   ``raw.<source>__rejects`` with it.
3. The rows leave ``raw.<source>``. In ``raw._load_log`` their count moves from
   ``rows_loaded`` (and ``rows_rejected``) to ``rows_purged`` of their file, so
   ``rows_read = rows_loaded + rows_rejected + rows_erased + rows_purged`` still
   holds, and the file's new sha256 is recorded so it is not loaded again.
4. ``privacy.retention_log`` gets one row per run date, source and target with
   the cutoff and the rows purged. It contains no personal data.

A second run of the same night finds nothing older than the cutoff and adds zero
to the counts, so purging is idempotent.

NOTE: three things outlive the period. Rejected rows have no readable event time,
so they go only with their file. Landing files the loader rejected as a whole have
no rows in raw and are never purged. ``identity.customer_ids`` keeps the record key
that minted each customer id, for a web visitor its anonymous id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from ingestion.loader import ensure_tables, file_sha256
from ingestion.sources import SOURCES, Source
from orchestration.privacy import landing

logger = logging.getLogger(__name__)

LOG_DDL = [
    "create schema if not exists privacy",
    """
    create table if not exists privacy.retention_log (
        run_date date not null,
        source varchar not null,
        target varchar not null,
        cutoff date not null,
        rows_purged bigint not null,
        files_deleted bigint not null,
        primary key (run_date, source, target)
    )
    """,
]


@dataclass
class PurgeResult:
    """What one source lost to its retention period on one run date."""

    source: str
    cutoff: date
    rows: int = 0
    rejects: int = 0
    landing_rows: int = 0
    files_rewritten: int = 0
    files_deleted: int = 0
    # Rows kept because none of their event time columns reads as a timestamp.
    rows_without_event_time: int = 0


def cutoff_date(source: Source, run_date: date) -> date:
    """First day whose rows the source keeps on ``run_date``."""
    assert source.retention is not None
    return run_date - timedelta(days=source.retention.days)


def _label(column: str) -> str:
    """SQL reading a label as the staging models do (see macro email_activity_type)."""
    spaced = f"translate(\"{column}\", chr(9) || chr(10) || chr(13), '   ')"
    return f"replace(replace(lower(trim({spaced})), ' ', '_'), '-', '_')"


def _event_time_sql(source: Source) -> str:
    parts = []
    for column in source.retention.event_time:
        if source.column_type(column) in ("timestamp", "date"):
            parts.append(f'cast("{column}" as timestamptz)')
        else:
            parts.append(f'try_cast("{column}" as timestamptz)')
    return f"coalesce({', '.join(parts)})"


def _purge_condition(source: Source) -> str:
    conditions = [f"{_event_time_sql(source)} < $cutoff"]
    for column, values in source.retention.only_when.items():
        listed = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
        conditions.append(f"{_label(column)} in ({listed})")
    return " and ".join(conditions)


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return (
        con.execute(
            "select count(*) from information_schema.tables where table_schema = 'raw' "
            "and table_name = ? and table_catalog = current_database()",
            [table],
        ).fetchone()[0]
        > 0
    )


def purge_expired_rows(
    con: duckdb.DuckDBPyConnection, landing_dir: Path, run_date: date
) -> list[PurgeResult]:
    """Purge every source with a retention period; return one result per source."""
    for statement in LOG_DDL:
        con.execute(statement)
    results = []
    for source in SOURCES:
        if source.retention is None or not _exists(con, source.table):
            continue
        results.append(purge_source(con, source, landing_dir, run_date))
    return results


def purge_source(
    con: duckdb.DuckDBPyConnection, source: Source, landing_dir: Path, run_date: date
) -> PurgeResult:
    """Purge one source's rows that are older than its retention period."""
    ensure_tables(con, source)
    for statement in LOG_DDL:
        con.execute(statement)
    cutoff = cutoff_date(source, run_date)
    result = PurgeResult(source.name, cutoff)
    parameters = {"cutoff": datetime.combine(cutoff, datetime.min.time(), UTC)}
    table = f"raw.{source.table}"
    con.execute(
        "create or replace temp table _purged_rows as "
        f"select _file as file, _row_number as row_number from {table} "
        f"where {_purge_condition(source)}",
        parameters,
    )
    result.rows_without_event_time = con.execute(
        f"select count(*) from {table} where {_event_time_sql(source)} is null"
    ).fetchone()[0]

    changes = _rewrite_landing_files(con, source, landing_dir, result)
    con.begin()
    try:
        _delete_rows(con, source, result, changes)
        _log(con, source, run_date, result)
        con.commit()
    except Exception:
        con.rollback()
        raise
    _report(source, result)
    return result


@dataclass(frozen=True)
class LandingChange:
    """What the purge did to one landing file: deleted it (no sha256) or removed
    rows, leaving the file with a new sha256."""

    sha256: str | None
    removed: frozenset[int]


def _rewrite_landing_files(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    landing_dir: Path,
    result: PurgeResult,
) -> dict[str, LandingChange]:
    """Remove the purged rows from their landing files and delete the files that
    keep no loaded row; return the change per file."""
    rows = con.execute(
        "select p.file, list(p.row_number), "
        f"(select count(*) from raw.{source.table} as r where r._file = p.file) "
        "from _purged_rows as p group by p.file order by p.file"
    ).fetchall()
    changes: dict[str, LandingChange] = {}
    for file, numbers, loaded in rows:
        path = landing_dir / source.landing_folder / file
        if loaded == len(numbers):
            if path.is_file():
                path.unlink()
                result.landing_rows += len(numbers)
                result.files_deleted += 1
            changes[file] = LandingChange(None, frozenset(numbers))
            continue
        if not path.is_file():
            continue
        removed = landing.remove_rows(source, path, set(numbers))
        result.landing_rows += removed
        if removed:
            result.files_rewritten += 1
            changes[file] = LandingChange(file_sha256(path), frozenset(numbers))
    return changes


def _delete_rows(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    result: PurgeResult,
    changes: dict[str, LandingChange],
) -> None:
    table = f"raw.{source.table}"
    result.rows = con.execute(
        f"delete from {table} where (_file, _row_number) in "
        "(select file, row_number from _purged_rows)"
    ).fetchone()[0]
    emptied = [file for file, change in changes.items() if change.sha256 is None]
    rejects = dict.fromkeys(emptied, 0)
    for file in emptied:
        rejects[file] = con.execute(
            f"delete from {table}__rejects where _file = ?", [file]
        ).fetchone()[0]
    result.rejects = sum(rejects.values())

    purged = con.execute(
        "select file, count(*) from _purged_rows group by file"
    ).fetchall()
    removed_at = datetime.now(UTC).replace(tzinfo=None)
    for file, rows in purged:
        con.execute(
            "update raw._load_log set rows_loaded = rows_loaded - ?, "
            "rows_rejected = rows_rejected - ?, "
            "rows_purged = coalesce(rows_purged, 0) + ?, rows_removed_at = ? "
            "where source = ? and file = ? and status = 'loaded'",
            [
                rows,
                rejects.get(file, 0),
                rows + rejects.get(file, 0),
                removed_at,
                source.name,
                file,
            ],
        )
    for file, change in changes.items():
        if change.sha256 is None:
            continue
        con.execute(
            "update raw._load_log set sha256 = ? "
            "where source = ? and file = ? and status = 'loaded'",
            [change.sha256, source.name, file],
        )
        landing.renumber_rows(con, source, file, set(change.removed))


def _log(
    con: duckdb.DuckDBPyConnection, source: Source, run_date: date, result: PurgeResult
) -> None:
    targets = [
        (f"raw.{source.table}", result.rows, 0),
        (f"raw.{source.table}__rejects", result.rejects, 0),
        (f"landing/{source.landing_folder}", result.landing_rows, result.files_deleted),
    ]
    for target, rows, files in targets:
        con.execute(
            "insert into privacy.retention_log values (?, ?, ?, ?, ?, ?) "
            "on conflict (run_date, source, target) do update set "
            "cutoff = excluded.cutoff, "
            "rows_purged = rows_purged + excluded.rows_purged, "
            "files_deleted = files_deleted + excluded.files_deleted",
            [run_date, source.name, target, result.cutoff, rows, files],
        )


def _report(source: Source, result: PurgeResult) -> None:
    logger.info(
        "retention of %s (%d days, cutoff %s): purged %d rows and %d rejects from "
        "raw.%s, %d rows from %d landing files, deleted %d landing files",
        source.name,
        source.retention.days,
        result.cutoff,
        result.rows,
        result.rejects,
        source.table,
        result.landing_rows,
        result.files_rewritten,
        result.files_deleted,
    )
    if result.rows_without_event_time:
        logger.warning(
            "%d rows of raw.%s have no event time that reads as a timestamp in %s; "
            "they are kept whatever their age",
            result.rows_without_event_time,
            source.table,
            ", ".join(source.retention.event_time),
        )
