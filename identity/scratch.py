"""An in-memory scratch database for one identity-resolution run.

Splink creates its working tables (``__splink__df_concat``, blocked pairs, term
frequency tables, predictions) with unqualified names in the connection's default
database. Pointing a separate cursor at an attached in-memory database keeps those
tables out of the warehouse file, and detaching it at the end drops all of them,
including the ones a failed run leaves behind.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from identity.sql import fetch_value, quote_identifier
from identity.tables import SCRATCH_DATABASE

logger = logging.getLogger(__name__)


@contextmanager
def scratch_database(
    con: duckdb.DuckDBPyConnection,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Attach the scratch database and yield a cursor that uses it as its default.

    ``con`` keeps its own default database, so warehouse tables stay reachable from it
    by their usual names and scratch tables by ``identity_scratch.main.<name>``. The
    yielded cursor shares ``con``'s database instance, so Splink reads the input
    tables in place without copying them into another process or file.
    """
    warehouse = fetch_value(con, "select current_database()")
    con.execute(f"detach database if exists {SCRATCH_DATABASE}")
    con.execute(f"attach ':memory:' as {SCRATCH_DATABASE}")
    cursor = con.cursor()
    cursor.execute(f"use {SCRATCH_DATABASE}")
    logger.debug("Attached scratch database %s", SCRATCH_DATABASE)

    try:
        yield cursor
    finally:
        _close_cursor(cursor, warehouse)
        con.execute(f"detach database if exists {SCRATCH_DATABASE}")
        logger.debug("Detached scratch database %s", SCRATCH_DATABASE)


def _close_cursor(cursor: duckdb.DuckDBPyConnection, warehouse: str) -> None:
    # A database cannot be detached while a connection uses it as its default, and a
    # failed statement can leave the cursor inside an aborted transaction.
    try:
        cursor.execute("rollback")
    except duckdb.Error:
        pass
    cursor.execute(f"use {quote_identifier(warehouse)}")
    cursor.close()
