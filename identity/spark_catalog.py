"""Identity resolution's inputs and outputs in the Spark catalog (``CDP_ENGINE=spark``).

dbt on Spark writes the three tables identity resolution reads into Spark's
``intermediate`` database. Before a run they are copied into the DuckDB file under
the same names, and the identifier graph, clustering and stable ids run there as on
the DuckDB engine. Their tables hold one row per person record, identifier or
consent signal, far fewer than the event tables that stay in Spark. The id tables that carry customer
ids from night to night stay in the DuckDB file too. After the run, every table of
DuckDB's ``identity`` schema is copied whole into Spark's ``identity`` database,
with the same names and columns, where the marts read them.
"""

from __future__ import annotations

import logging

import duckdb

from identity.tables import (
    EMAIL_CONSENT_SIGNALS,
    IDENTIFIERS,
    IDENTITY_SCHEMA,
    PERSON_RECORDS,
)
from orchestration.spark_tables import copy_from_spark, copy_to_spark

logger = logging.getLogger(__name__)

INPUT_TABLES = (PERSON_RECORDS, IDENTIFIERS, EMAIL_CONSENT_SIGNALS)


def copy_inputs_from_spark(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Replace the DuckDB copies of the intermediate tables identity reads.

    Returns the rows copied per table.
    """
    return {table: copy_from_spark(con, table, table) for table in INPUT_TABLES}


def publish_identity_tables(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Overwrite Spark's ``identity`` tables with DuckDB's; return rows per table."""
    tables = [
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = ? and table_catalog = current_database() "
            "and table_type = 'BASE TABLE' order by table_name",
            [IDENTITY_SCHEMA],
        ).fetchall()
    ]
    copied = {}
    for table in tables:
        name = f"{IDENTITY_SCHEMA}.{table}"
        copied[name] = copy_to_spark(con, name, name)
    logger.info(
        "copied %d identity tables to Spark's %s database", len(copied), IDENTITY_SCHEMA
    )
    return copied
