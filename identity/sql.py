"""Small helpers for running SQL on DuckDB connections."""

from __future__ import annotations

from typing import Any

import duckdb


def fetch_row(
    con: duckdb.DuckDBPyConnection, sql: str, parameters: Any = None
) -> tuple[Any, ...]:
    """Run a query that returns one row and return that row.

    Uses fetchall(), because in duckdb 2.0 a result read with fetchone() stays open
    and the connection rejects further con.sql() calls, Splink's included, until it
    is read to the end.
    """
    rows = con.execute(sql, parameters).fetchall()
    if len(rows) != 1:
        raise ValueError(f"expected one row, got {len(rows)} from: {sql}")
    return rows[0]


def fetch_value(
    con: duckdb.DuckDBPyConnection, sql: str, parameters: Any = None
) -> Any:
    """Run a query that returns one row and one column and return that value."""
    return fetch_row(con, sql, parameters)[0]


def quote_identifier(name: str) -> str:
    """Quote a DuckDB identifier, e.g. a database named after a file with a dash."""
    return '"' + name.replace('"', '""') + '"'


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Return whether a table or view exists.

    ``name`` is ``schema.table`` in the current database or ``database.schema.table``.
    """
    parts = name.split(".")
    if len(parts) not in (2, 3):
        raise ValueError(
            f"invalid table name {name!r}: expected schema.table or database.schema.table"
        )
    catalog = "current_database()" if len(parts) == 2 else "?"
    return bool(
        fetch_value(
            con,
            "select count(*) from information_schema.tables where table_catalog = "
            f"{catalog} and table_schema = ? and table_name = ?",
            parts,
        )
    )
