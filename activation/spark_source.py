"""Audience tables from the Spark catalog, for activation on the Spark engine.

Activation keeps its state (audience snapshots, sync logs, exports) in the DuckDB
file and reads each audience there. With ``CDP_ENGINE=spark``, dbt builds
``marts.dim_customers``, the segment tables and the email suppression list in
Spark, so before a destination syncs, the tables it reads are copied into the
DuckDB file under the same names. They hold one row per customer or segment
member; no event table is copied.
"""

from __future__ import annotations

import logging

import duckdb

from activation.audience import CUSTOMERS, SUPPRESSIONS
from activation.destinations import Destination

logger = logging.getLogger(__name__)

# (run id, table) pairs copied in this process, so the destinations of one run
# copy dim_customers once between them.
_copied_in_run: set[tuple[str, str]] = set()


def audience_tables(destination: Destination) -> list[str]:
    """Return the tables ``destination``'s sync reads from the marts."""
    segments = [f"marts.{destination.segment_model(s)}" for s in destination.segments]
    return [CUSTOMERS, SUPPRESSIONS, *segments]


def copy_audience_tables(
    con: duckdb.DuckDBPyConnection, destination: Destination, run_id: str | None = None
) -> dict[str, int]:
    """Copy the Spark tables ``destination`` reads into the DuckDB file behind ``con``.

    With ``run_id``, a table already copied during that run is not copied again.
    Returns the rows copied per table.
    """
    from orchestration.spark_tables import copy_from_spark

    copied = {}
    for table in audience_tables(destination):
        if run_id is not None and (run_id, table) in _copied_in_run:
            continue
        copied[table] = copy_from_spark(con, table, table)
        if run_id is not None:
            _copied_in_run.add((run_id, table))
    return copied
