"""Load landing files into ``raw.<source>`` tables, one transaction per file.

Every file ends in the load log ``raw._load_log`` with rows read, loaded and rejected,
and ``rows_read = rows_loaded + rows_rejected + rows_erased + rows_purged`` holds for
each loaded file. Rows that fail parsing or the contract go to
``raw.<source>__rejects`` with the file, line and reason. Rows that carry an email
address or phone number on the suppression list of erased people
(``privacy.suppressed_identifiers``) are dropped and counted as ``rows_erased``; the
erasure step moves rows it deletes later to that count as well. Rows that the
retention step (``orchestration/privacy/retention.py``) deletes for their age move
from ``rows_loaded`` to ``rows_purged``. A file whose content hash is already in
the load log is skipped, so loading the same night twice adds nothing. A file
whose size, modification time, change time and inode are those logged when it was
loaded is skipped without reading it (``file_stat``), a stricter rsync quick check.
On Linux any write to the file, even one that restores its modification time,
moves its change time, so the file is hashed again.
``reset_raw`` drops all of it, so the next load rebuilds ``raw`` from every
landing file. Whatever removes raw rows (a replaced file, erasure, retention) sets
the file's ``rows_removed_at``. The incremental staging models look for gone rows
only in files stamped after they last wrote them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingestion import readers
from ingestion.column_types import apply_column_types, sql_type
from ingestion.sources import SOURCES, Source

logger = logging.getLogger(__name__)

FULL_REFRESH_VARIABLE = "CDP_FULL_REFRESH"
# A file changed more recently than this gets no file_stat (see file_stat).
RECENT_CHANGE_SECONDS = 2.0

LOAD_LOG_DDL = """
create table if not exists raw._load_log (
    source varchar not null,
    file varchar not null,
    sha256 varchar not null,
    status varchar not null,
    rows_read bigint,
    rows_loaded bigint,
    rows_rejected bigint,
    message varchar,
    loaded_at timestamp not null,
    rows_erased bigint default 0,
    rows_purged bigint default 0,
    rows_removed_at timestamp,
    file_stat varchar
)
"""

# line_number is the record number after the header for CSV, the physical line for
# JSON lines, the array index for JSON arrays and the row number for Parquet, which
# is the unit of the raw tables' _row_number too.
REJECTS_COLUMNS = "_file varchar, line_number bigint, raw_line varchar, reason varchar"


@dataclass(frozen=True)
class FileLoadResult:
    """Outcome of one landing file: loaded, skipped (already loaded) or rejected."""

    source: str
    file: str
    sha256: str
    status: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    message: str | None = None
    # Rows dropped because they carry an identifier of an erased person.
    rows_erased: int = 0
    # Columns of the file outside the source contract, kept as VARCHAR in raw.
    new_columns: tuple[str, ...] = ()


def file_sha256(path: Path, line_scan: readers.LineLengthScan | None = None) -> str:
    """Return the file's sha256 in hex, and feed every block read to ``line_scan``."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            if line_scan is not None:
                line_scan.feed(block)
    return digest.hexdigest()


EXTRACT_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def landing_files(source: Source, landing_dir: Path) -> list[Path]:
    """List a source's extracts in name order, which is extract-date order.

    NOTE: staging keeps the version of a record from the file whose name sorts
    last. That is the newest extract only while names carry an ISO date
    (``crm_contacts_2026-11-30.csv``), so ``load_source`` warns about other names.
    """
    folder = landing_dir / source.landing_folder
    matched = {p for pattern in source.file_patterns for p in folder.glob(pattern)}
    return sorted((p for p in matched if p.is_file()), key=lambda p: p.name)


def unmatched_files(source: Source, landing_dir: Path) -> list[Path]:
    """Files in a source's folder that its pattern does not match (never loaded)."""
    folder = landing_dir / source.landing_folder
    if not folder.is_dir():
        return []
    matched = set(landing_files(source, landing_dir))
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p not in matched and not p.name.startswith(".")
    )


def ensure_tables(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    con.execute("create schema if not exists raw")
    con.execute(LOAD_LOG_DDL)
    # Load logs made before erasure and retention existed lack these columns.
    for column in ("rows_erased", "rows_purged"):
        con.execute(
            f"alter table raw._load_log add column if not exists {column} bigint "
            "default 0"
        )
    for column, column_type in (
        ("rows_removed_at", "timestamp"),
        ("file_stat", "varchar"),
    ):
        con.execute(
            f"alter table raw._load_log add column if not exists {column} {column_type}"
        )
    columns = ", ".join(f'"{c}" {sql_type(source, c)}' for c in source.raw_columns)
    con.execute(
        f"create table if not exists raw.{source.table} ({columns}, "
        "_file varchar, _row_number bigint, _file_sha256 varchar, "
        "_loaded_at timestamp)"
    )
    _check_column_types(con, source)
    con.execute(
        f"create table if not exists raw.{source.table}__rejects "
        f"({REJECTS_COLUMNS}, _file_sha256 varchar, _loaded_at timestamp)"
    )


class ContractChangedError(Exception):
    """A raw table's column types no longer match the source contract."""


def _check_column_types(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    """Add contract columns the raw table lacks, and raise when the contract changed
    a column's type since the raw table was made.

    Loading on would mix values parsed two ways in one column; a full refresh
    rebuilds the table with the new types from every landing file.
    """
    actual = dict(
        con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'raw' and table_name = ?",
            [source.table],
        ).fetchall()
    )
    expected = {
        c: con.execute(f"select typeof(null::{sql_type(source, c)})").fetchone()[0]
        for c in source.raw_columns
    }
    added = [c for c in source.raw_columns if actual and c not in actual]
    for column in added:
        con.execute(
            f'alter table raw.{source.table} add column "{column}" '
            f"{sql_type(source, column)}"
        )
    if added:
        logger.warning(
            "the contract of %s gained column(s) %s; added to raw.%s, empty for "
            "rows loaded before",
            source.name,
            ", ".join(added),
            source.table,
        )
    changed = sorted(
        f"{c} is {actual[c]}, contract says {expected[c]}"
        for c in source.raw_columns
        if c in actual and actual[c] != expected[c]
    )
    if changed:
        raise ContractChangedError(
            f"raw.{source.table} no longer matches the contract of {source.name}: "
            + "; ".join(changed)
            + ". Run `cdp run --full-refresh` to reload raw with the new types."
        )


def reset_raw(con: duckdb.DuckDBPyConnection) -> None:
    """Drop every source's raw table, its rejects table and the load log.

    Without the load log no file counts as loaded, so the next ``load_source`` of each
    source loads every landing file again. Columns added for headers outside the
    contract go too, and come back from the files that still have them.
    """
    con.begin()
    try:
        for source in SOURCES:
            con.execute(f"drop table if exists raw.{source.table}")
            con.execute(f"drop table if exists raw.{source.table}__rejects")
        con.execute("drop table if exists raw._load_log")
        con.commit()
    except Exception:
        con.rollback()
        raise
    logger.warning(
        "full refresh: dropped the raw tables of %d sources and raw._load_log",
        len(SOURCES),
    )


def full_refresh_requested() -> bool:
    return os.environ.get(FULL_REFRESH_VARIABLE, "").strip() == "1"


def reset_raw_if_requested(con: duckdb.DuckDBPyConnection) -> bool:
    """Call ``reset_raw`` when ``CDP_FULL_REFRESH=1`` and return whether it ran."""
    if not full_refresh_requested():
        return False
    reset_raw(con)
    return True


def file_stat(path: Path) -> str | None:
    """Return the size, modification and change times (ns) and inode of the file
    behind ``path`` as text. Writing the file changes it, and reading does not.

    Returns None for a file changed less than ``RECENT_CHANGE_SECONDS`` ago. Some
    file systems stamp times from a clock that advances every few milliseconds, so
    a second write in the same tick would leave the text unchanged. Such a file is
    hashed on every load until it has been left alone for that long.
    NOTE: on Linux any write moves the change time. Other systems (Windows, FAT,
    some network and FUSE mounts) may report another time as st_ctime, and there
    a same-size rewrite that keeps the modification time would be skipped.
    """
    stat = path.stat()
    if time.time_ns() - stat.st_ctime_ns < RECENT_CHANGE_SECONDS * 1e9:
        return None
    return f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}:{stat.st_ino}"


def sha_of_unchanged_file(
    con: duckdb.DuckDBPyConnection, source: Source, file_name: str, stat: str | None
) -> str | None:
    """Return the logged hash of the loaded file ``file_name`` when its logged
    ``file_stat`` is ``stat``, else None."""
    if stat is None:
        return None
    row = con.execute(
        "select sha256 from raw._load_log where source = ? and file = ? "
        "and file_stat = ? and status = 'loaded' limit 1",
        [source.name, file_name, stat],
    ).fetchone()
    return row[0] if row else None


def _remember_file_stat(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    file_name: str,
    sha: str,
    stat: str | None,
) -> None:
    """Log ``stat`` for the loaded file of this name and hash, so the next night
    skips it unread. This covers load logs from before ``file_stat`` and files that
    the erasure step rewrote."""
    if stat is None:
        return
    con.execute(
        "update raw._load_log set file_stat = ? where source = ? and file = ? "
        "and sha256 = ? and status = 'loaded'",
        [stat, source.name, file_name, sha],
    )


def already_loaded(con: duckdb.DuckDBPyConnection, source: Source, sha: str) -> bool:
    row = con.execute(
        "select count(*) from raw._load_log "
        "where source = ? and sha256 = ? and status = 'loaded'",
        [source.name, sha],
    ).fetchone()
    return row[0] > 0


def load_source(
    con: duckdb.DuckDBPyConnection, source: Source, landing_dir: Path
) -> list[FileLoadResult]:
    """Load every new file of one source; return one result per file seen."""
    ensure_tables(con, source)
    folder = landing_dir / source.landing_folder
    if not folder.is_dir():
        logger.warning("no landing folder %s for source %s", folder, source.name)
    for path in unmatched_files(source, landing_dir):
        logger.warning(
            "ignored %s: the name does not match %s",
            path.name,
            " or ".join(source.file_patterns),
        )
    results = []
    for path in landing_files(source, landing_dir):
        if not EXTRACT_DATE.search(path.name):
            logger.warning(
                "%s has no YYYY-MM-DD extract date in its name; newer extracts "
                "are recognized by name order",
                path.name,
            )
        results.append(load_file(con, source, path))
    return results


def load_file(
    con: duckdb.DuckDBPyConnection, source: Source, path: Path
) -> FileLoadResult:
    # Taken before the file is read, so a write during the read shows up next night.
    stat = file_stat(path)
    sha = sha_of_unchanged_file(con, source, path.name, stat)
    if sha is not None:
        logger.info("skipped %s: unchanged since it was loaded", path.name)
        return FileLoadResult(source.name, path.name, sha, "skipped")
    # One read of a plain file serves the hash and the line length check.
    line_scan = readers.line_scan_for(source, path)
    sha = file_sha256(path, line_scan)
    if already_loaded(con, source, sha):
        logger.info("skipped %s: content already loaded", path.name)
        _remember_file_stat(con, source, path.name, sha, stat)
        return FileLoadResult(source.name, path.name, sha, "skipped")

    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    con.begin()
    try:
        result = _load_in_transaction(
            con, source, path, sha, loaded_at, line_scan, stat
        )
        con.commit()
    except Exception as error:  # noqa: BLE001 - any failure rejects this file only
        con.rollback()
        result = _record_rejected_file(con, source, path, sha, loaded_at, error)
    readers.drop_stage_tables(con)
    return result


def _load_in_transaction(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    path: Path,
    sha: str,
    loaded_at: datetime,
    line_scan: readers.LineLengthScan | None = None,
    stat: str | None = None,
) -> FileLoadResult:
    staged = readers.stage_file(con, source, path, line_scan)
    _reject_missing_required(con, source, staged)
    erased = drop_suppressed_rows(con, source, staged, path.name)
    apply_column_types(con, source, staged.rows, staged.rejects)
    _add_extra_columns(con, source, staged.extra_columns, path.name)
    _remove_previous_version(con, source, path.name)

    loaded = _insert_rows(con, source, staged, path.name, sha, loaded_at)
    rejected = _insert_rejects(con, source, staged, path.name, sha, loaded_at)
    read = staged.read_count
    if read != loaded + rejected + erased:
        raise readers.SourceFileError(
            f"{path}: row accounting failed: read {read}, loaded {loaded}, "
            f"rejected {rejected}, erased {erased}"
        )

    result = FileLoadResult(
        source.name,
        path.name,
        sha,
        "loaded",
        read,
        loaded,
        rejected,
        rows_erased=erased,
        new_columns=staged.extra_columns,
    )
    _log_result(con, result, loaded_at, stat)
    logger.info(
        "loaded %s into raw.%s: %d read, %d loaded, %d rejected, %d erased",
        path.name,
        source.table,
        read,
        loaded,
        rejected,
        erased,
    )
    return result


def _add_extra_columns(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    extra_columns: tuple[str, ...],
    file_name: str,
) -> None:
    """Add a file's columns outside the contract to the raw table as nullable text.

    Rows of earlier files contain null there. Contract columns keep their type.
    """
    if not extra_columns:
        return
    logger.warning(
        "%s has %d column(s) outside the contract of %s, kept in raw.%s as VARCHAR: %s",
        file_name,
        len(extra_columns),
        source.name,
        source.table,
        ", ".join(extra_columns),
    )
    for column in extra_columns:
        con.execute(
            f'alter table raw.{source.table} add column if not exists "{column}" '
            "varchar"
        )


def _remove_previous_version(
    con: duckdb.DuckDBPyConnection, source: Source, file_name: str
) -> None:
    """Replace the rows of an earlier file with the same name but other content.

    A source system that re-delivers a corrected extract under the same name means
    the new version to count instead of the old one, not on top of it.
    """
    previous = con.execute(
        "select count(*) from raw._load_log "
        "where source = ? and file = ? and status = 'loaded'",
        [source.name, file_name],
    ).fetchone()[0]
    if not previous:
        return
    logger.warning(
        "%s was loaded before with other content; replacing that version", file_name
    )
    con.execute(f"delete from raw.{source.table} where _file = ?", [file_name])
    con.execute(f"delete from raw.{source.table}__rejects where _file = ?", [file_name])
    con.execute(
        "update raw._load_log set status = 'superseded', rows_removed_at = ? "
        "where source = ? and file = ? and status = 'loaded'",
        [datetime.now(UTC).replace(tzinfo=None), source.name, file_name],
    )


def _reject_missing_required(
    con: duckdb.DuckDBPyConnection, source: Source, staged: readers.StagedFile
) -> None:
    """Move rows without a value in a required column to the file's rejects."""
    missing_any = " or ".join(
        f"nullif(trim(\"{column}\"), '') is null" for column in source.required
    )
    if not missing_any:
        return
    # One scan finds whether any row lacks a value, and most files have none.
    found = con.execute(
        f"select exists (select 1 from {staged.rows} where {missing_any})"
    ).fetchone()[0]
    if not found:
        return
    for column in source.required:
        con.execute(
            f"insert into {staged.rejects} "
            f"select _row_number, to_json(t)::varchar, "
            f"'missing required value: {column}' "
            f"from {staged.rows} as t where nullif(trim(\"{column}\"), '') is null"
        )
        con.execute(
            f"delete from {staged.rows} where nullif(trim(\"{column}\"), '') is null"
        )


def drop_suppressed_rows(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    staged: readers.StagedFile,
    file_name: str,
) -> int:
    """Delete staged rows and rejects that carry a suppressed email or phone number.

    Their row numbers go to ``privacy.landing_redactions``, so the erasure step
    removes them from the landing file too. Returns how many were dropped. Costs
    nothing while the suppression list is empty.
    """
    from ingestion.dbt_udfs import register_functions
    from orchestration.privacy import store
    from orchestration.privacy.identifiers import (
        raw_identifier_hashes_sql,
        reject_token_hashes_sql,
    )

    if not store.suppressed_hash_count(con):
        return 0
    register_functions(con)
    parameters = {"salt": store.salt(con)}
    suppressed = "(select identifier_hash from privacy.suppressed_identifiers)"
    matches = raw_identifier_hashes_sql(source.name, staged.rows, "_row_number")
    tokens = reject_token_hashes_sql(staged.rejects, "line_number", "raw_line")
    con.execute(
        "create or replace temp table _suppressed_rows as "
        f"select row_id from ({matches}) where identifier_hash in {suppressed} "
        f"union select row_id from ({tokens}) where identifier_hash in {suppressed}",
        parameters,
    )
    con.execute(
        "insert into privacy.landing_redactions "
        "select ?, ?, row_id from _suppressed_rows",
        [source.name, file_name],
    )
    rows = con.execute(
        f"delete from {staged.rows} where _row_number in "
        "(select row_id from _suppressed_rows)"
    ).fetchone()[0]
    rejects = con.execute(
        f"delete from {staged.rejects} where line_number in "
        "(select row_id from _suppressed_rows)"
    ).fetchone()[0]
    if rows or rejects:
        logger.warning(
            "dropped %d rows and %d rejects of %s for raw.%s: they carry an "
            "identifier of an erased person",
            rows,
            rejects,
            source.name,
            source.table,
        )
    return rows + rejects


def _insert_rows(con, source, staged, file_name, sha, loaded_at) -> int:
    names = [*source.raw_columns, *staged.extra_columns]
    columns = ", ".join(f'"{c}"' for c in names)
    # The readers store the staged rows in _row_number order, and DuckDB keeps
    # that order (preserve_insertion_order), so no sort is needed.
    con.execute(
        f"insert into raw.{source.table} ({columns}, _file, _row_number, "
        f"_file_sha256, _loaded_at) select {columns}, ?, _row_number, ?, ? "
        f"from {staged.rows}",
        [file_name, sha, loaded_at],
    )
    return con.execute(f"select count(*) from {staged.rows}").fetchone()[0]


def _insert_rejects(con, source, staged, file_name, sha, loaded_at) -> int:
    con.execute(
        f"insert into raw.{source.table}__rejects "
        f"select ?, line_number, raw_line, reason, ?, ? from {staged.rejects} "
        "order by line_number",
        [file_name, sha, loaded_at],
    )
    rejected = con.execute(f"select count(*) from {staged.rejects}").fetchone()[0]
    if rejected:
        logger.warning(
            "rejected %d rows of %s into raw.%s__rejects",
            rejected,
            file_name,
            source.table,
        )
    return rejected


def _log_result(
    con: duckdb.DuckDBPyConnection,
    result: FileLoadResult,
    loaded_at: datetime,
    stat: str | None = None,
) -> None:
    con.execute(
        "insert into raw._load_log (source, file, sha256, status, rows_read, "
        "rows_loaded, rows_rejected, message, loaded_at, rows_erased, file_stat) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            result.source,
            result.file,
            result.sha256,
            result.status,
            result.rows_read,
            result.rows_loaded,
            result.rows_rejected,
            result.message,
            loaded_at,
            result.rows_erased,
            stat,
        ],
    )


def _record_rejected_file(con, source, path, sha, loaded_at, error) -> FileLoadResult:
    """Log a file that could not be loaded at all; none of its rows are kept."""
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    # DuckDB quotes the offending input after "Input:"; keep source data out of logs.
    message = message.split("  Input:")[0].split(" Input:")[0]
    logger.error("rejected file %s for raw.%s: %s", path, source.table, message)
    result = FileLoadResult(source.name, path.name, sha, "rejected", message=message)
    _log_result(con, result, loaded_at)
    return result
