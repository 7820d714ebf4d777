"""Keep Spark's ``raw`` database equal to the raw tables the loader writes in DuckDB.

With ``CDP_ENGINE=spark`` the loader still parses, validates and records every file
in the DuckDB file: ``raw.<source>``, ``raw.<source>__rejects`` and
``raw._load_log`` there stay the record of what was loaded. After each load, the
source's tables are mirrored into Spark tables of the same names, as Parquet, which
dbt on Spark reads.

The mirror compares rows per extract, keyed by ``(_file, _file_sha256)``:

- Extracts that DuckDB has and Spark lacks are appended.
- The Spark table is rewritten from DuckDB when Spark has an extract that DuckDB no
  longer has (a re-delivered file replaced it, or a full refresh dropped it).
- It is also rewritten when an extract's row count differs (an erasure deleted
  rows) or the columns differ.

Running it again therefore adds nothing, like loading the same night twice, and a
run that stopped between the DuckDB load and the Spark write is completed by the
next one. ``raw._load_log`` is small and rewritten whole each time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb

from ingestion.sources import SOURCES, Source
from orchestration.spark_tables import (
    copy_to_spark,
    duckdb_columns,
    spark_columns,
    spark_table_exists,
    spark_type,
)

logger = logging.getLogger(__name__)

RAW_DATABASE = "raw"
LOAD_LOG = "raw._load_log"

ExtractCounts = dict[tuple[str, str], int]


@dataclass(frozen=True)
class MirrorResult:
    """Outcome of one mirror run for one Spark table.

    action is ``unchanged``, ``appended`` or ``rewritten``; rows_copied counts the
    rows written to Spark, rows_in_spark the rows in the table afterwards.
    """

    table: str
    action: str
    extracts_copied: int
    rows_copied: int
    rows_in_spark: int


def mirror_source(con: duckdb.DuckDBPyConnection, source: Source) -> list[MirrorResult]:
    """Mirror one source's raw and rejects tables and the load log into Spark."""
    results = [
        mirror_table(con, f"{RAW_DATABASE}.{source.table}"),
        mirror_table(con, f"{RAW_DATABASE}.{source.table}__rejects"),
    ]
    mirror_load_log(con)
    return results


def mirror_all_sources(con: duckdb.DuckDBPyConnection) -> list[MirrorResult]:
    """Mirror every source whose raw table exists in DuckDB, and the load log."""
    present = {
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'raw' and table_catalog = current_database()"
        ).fetchall()
    }
    results = []
    for source in SOURCES:
        if source.table in present:
            results.extend(mirror_source(con, source))
    return results


def mirror_load_log(con: duckdb.DuckDBPyConnection) -> bool:
    """Rewrite Spark's load log unless it already matches DuckDB's; return whether.

    The load log gains or changes rows with every file loaded, rejected, replaced
    or erased from, and each of those changes a count or the newest load time.
    """
    from orchestration.spark_session import spark_session

    spark = spark_session()
    if spark_table_exists(spark, LOAD_LOG):
        duckdb_print = con.execute(
            _LOAD_LOG_FINGERPRINT.format(micros="epoch_us")
        ).fetchall()[0]
        spark_print = spark.sql(
            _LOAD_LOG_FINGERPRINT.format(micros="unix_micros")
        ).collect()[0]
        if tuple(duckdb_print) == tuple(spark_print):
            return False
    copy_to_spark(con, LOAD_LOG, LOAD_LOG)
    return True


# Runs on DuckDB and on Spark SQL; {micros} turns a timestamp into microseconds.
# It leaves out file_stat, which a Spark copy from before that column lacks, so
# Spark's file_stat can lag DuckDB's. Only the DuckDB loader reads it.
_LOAD_LOG_FINGERPRINT = f"""
select
    count(*),
    sum(case when status = 'loaded' then 1 else 0 end),
    coalesce(sum(rows_read), 0),
    coalesce(sum(rows_loaded), 0),
    coalesce(sum(rows_rejected), 0),
    coalesce(sum(rows_erased), 0),
    coalesce({{micros}}(max(loaded_at)), 0)
from {LOAD_LOG}
"""


def mirror_table(con: duckdb.DuckDBPyConnection, table: str) -> MirrorResult:
    """Bring the Spark copy of one DuckDB raw table up to date; see the module doc."""
    from orchestration.spark_session import spark_session

    spark = spark_session()
    duckdb_extracts = _duckdb_extract_counts(con, table)
    spark_extracts = None
    if spark_table_exists(spark, table):
        spark_extracts = _spark_extract_counts(spark, table)
    reason = _rewrite_reason(con, spark, table, duckdb_extracts, spark_extracts)
    if reason is not None:
        logger.info("rewriting Spark %s from DuckDB: %s", table, reason)
        rows = copy_to_spark(con, table, table, mode="overwrite")
        return MirrorResult(table, "rewritten", len(duckdb_extracts), rows, rows)

    missing = sorted(set(duckdb_extracts) - set(spark_extracts))
    if not missing:
        rows = sum(spark_extracts.values())
        return MirrorResult(table, "unchanged", 0, 0, rows)

    copied = _append_extracts(con, table, missing)
    rows = sum(spark_extracts.values()) + copied
    logger.info(
        "appended %d extracts (%d rows) to Spark %s", len(missing), copied, table
    )
    return MirrorResult(table, "appended", len(missing), copied, rows)


def drop_spark_raw_tables() -> None:
    """Drop every mirrored raw table and the load log in Spark, for a full refresh."""
    from orchestration.spark_session import spark_session

    spark = spark_session()
    for source in SOURCES:
        spark.sql(f"drop table if exists {RAW_DATABASE}.{source.table}")
        spark.sql(f"drop table if exists {RAW_DATABASE}.{source.table}__rejects")
    spark.sql(f"drop table if exists {LOAD_LOG}")
    logger.warning(
        "full refresh: dropped the Spark raw tables of %d sources and %s",
        len(SOURCES),
        LOAD_LOG,
    )


def _rewrite_reason(
    con: duckdb.DuckDBPyConnection,
    spark,
    table: str,
    duckdb_extracts: ExtractCounts,
    spark_extracts: ExtractCounts | None,
) -> str | None:
    """Return why the Spark table must be rewritten whole, or None to append."""
    if spark_extracts is None:
        return "no Spark table yet"
    expected = sorted(
        (name.lower(), spark_type(kind)) for name, kind in duckdb_columns(con, table)
    )
    actual = sorted((name.lower(), kind) for name, kind in spark_columns(spark, table))
    if expected != actual:
        return "columns differ"
    for extract, rows in spark_extracts.items():
        if extract not in duckdb_extracts:
            return f"extract {extract[0]} is no longer in DuckDB"
        if duckdb_extracts[extract] != rows:
            return (
                f"extract {extract[0]} has {rows} rows in Spark and "
                f"{duckdb_extracts[extract]} in DuckDB"
            )
    return None


def _duckdb_extract_counts(con: duckdb.DuckDBPyConnection, table: str) -> ExtractCounts:
    rows = con.execute(
        f"select _file, _file_sha256, count(*) from {table} group by all"
    ).fetchall()
    return {(file, sha): count for file, sha, count in rows}


def _spark_extract_counts(spark, table: str) -> ExtractCounts:
    rows = spark.sql(
        f"select _file, _file_sha256, count(*) as n from {table} group by 1, 2"
    ).collect()
    return {(row[0], row[1]): row[2] for row in rows}


def _append_extracts(
    con: duckdb.DuckDBPyConnection, table: str, extracts: list[tuple[str, str]]
) -> int:
    # A file name contains no slash, so file/sha256 identifies an extract.
    keys = [f"{file}/{sha}" for file, sha in extracts]
    placeholders = ", ".join("?" for _ in keys)
    return copy_to_spark(
        con,
        table,
        table,
        mode="append",
        where=f"_file || '/' || _file_sha256 in ({placeholders})",
        parameters=keys,
    )
