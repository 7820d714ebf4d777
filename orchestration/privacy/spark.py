"""The privacy steps' share of the Spark engine (``CDP_ENGINE=spark``).

The erasure step keeps the privacy tables in the DuckDB file on both engines. On
Spark, dbt builds the analytics views and the snapshot in the Spark catalog, so two
things have to reach Spark as well:

- the pseudonym key, which ``stg_privacy__pseudonym_keys`` reads from
  ``privacy.settings``. Only that row is copied; the salt of the suppression list
  stays in the DuckDB file.
- the erasure of a person's rows from the tables dbt builds. A night rebuilds most
  of them, but the snapshot keeps its history, and an incremental model keeps its
  old rows, so the rows are deleted at once, as on DuckDB.

Spark's Parquet tables have no DELETE, so a table that contains the person is written
again without them and swapped in by renaming, as ``macros/spark/snapshot.sql``
does for the snapshot.
"""

from __future__ import annotations

import functools
import logging
import operator

import duckdb

from orchestration.privacy import store

logger = logging.getLogger(__name__)

SETTINGS = "privacy.settings"
PSEUDONYM_KEY = store.PSEUDONYM_KEY_SETTING


def mirror_pseudonym_key(con: duckdb.DuckDBPyConnection) -> bool:
    """Copy the pseudonym key to Spark's ``privacy.settings`` unless it is there.

    Returns whether the Spark table was written. ``store.pseudonym_key`` makes
    the key in the DuckDB file on first use.
    """
    from orchestration.spark_session import spark_session
    from orchestration.spark_tables import copy_to_spark, spark_table_exists

    spark = spark_session()
    key = store.pseudonym_key(con)
    if spark_table_exists(spark, SETTINGS):
        rows = spark.sql(
            f"select value from {SETTINGS} where name = '{PSEUDONYM_KEY}'"
        ).collect()
        if [row[0] for row in rows] == [key]:
            return False
    copy_to_spark(con, SETTINGS, SETTINGS, where="name = ?", parameters=[PSEUDONYM_KEY])
    logger.info("copied the pseudonym key to Spark %s", SETTINGS)
    return True


def erase_derived_rows(con: duckdb.DuckDBPyConnection, result) -> None:
    """Delete one erasure request's rows from Spark's derived schemas.

    The ``erase_elsewhere`` hook of ``erasure.process_pending_requests``: it reads
    the request's customer ids and record keys from the temp tables of ``con`` and
    adds the rows deleted per Spark table to ``result`` (an ``ErasureResult``).
    """
    from orchestration.privacy.erasure import DERIVED_SCHEMAS

    values = {
        "customer_id": _column(con, "select customer_id from _erasure_customers"),
        "record_key": _column(con, "select record_key from _erasure_keys"),
    }
    for table, rows in erase_from_spark_tables(DERIVED_SCHEMAS, values).items():
        result.add(f"spark:{table}", rows)


def _column(con: duckdb.DuckDBPyConnection, query: str) -> list[str]:
    return [row[0] for row in con.execute(query).fetchall()]


def erase_from_spark_tables(
    schemas: tuple[str, ...], values: dict[str, list[str]]
) -> dict[str, int]:
    """Delete the rows whose column matches one of ``values[column]`` from every
    Spark table in ``schemas``. Returns the rows deleted per table.

    Views are left alone, because they hold no rows. A table is rewritten only
    when it contains a matching row.
    """
    from pyspark.sql import functions as F

    from orchestration.spark_session import spark_session

    spark = spark_session()
    deleted = {}
    for schema in schemas:
        if not spark.catalog.databaseExists(schema):
            continue
        for table in spark.catalog.listTables(schema):
            if table.tableType == "VIEW" or table.isTemporary:
                continue
            name = f"{schema}.{table.name}"
            frame = spark.table(name)
            matches = [
                F.coalesce(F.col(column).isin(ids), F.lit(False))
                for column, ids in values.items()
                if ids and column in frame.columns
            ]
            if not matches:
                continue
            matched = functools.reduce(operator.or_, matches)
            rows = frame.where(matched).count()
            if rows:
                _rewrite_table(spark, name, frame.where(~matched))
                deleted[name] = rows
    return deleted


def _rewrite_table(spark, name: str, frame) -> None:
    """Replace the table ``name`` with the rows of ``frame``, which reads it.

    Spark cannot overwrite a table that the same query reads, so the rows go to a
    new table first, which then takes the old one's name.
    """
    rewritten = f"{name}__erasure"
    backup = f"{name}__erasure_backup"
    provider = _provider(spark, name)
    spark.sql(f"drop table if exists {rewritten}")
    frame.write.format(provider).saveAsTable(rewritten)

    # NOTE: two renames, not one transaction. A failure between them leaves the
    # table under the backup name, from where a rename restores it. Table and column
    # comments are not copied. The next dbt run writes them again.
    spark.sql(f"drop table if exists {backup}")
    spark.sql(f"alter table {name} rename to {backup}")
    spark.sql(f"alter table {rewritten} rename to {name}")
    spark.sql(f"drop table {backup}")
    logger.info("rewrote Spark %s without the erased rows", name)


def _provider(spark, name: str) -> str:
    """Return the table's data source, such as ``parquet``."""
    rows = spark.sql(f"describe table extended {name}").collect()
    for row in rows:
        if row[0] == "Provider":
            return row[1].lower()
    return "parquet"
