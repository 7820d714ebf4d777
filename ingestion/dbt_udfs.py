"""DuckDB scalar functions for the normalizers, registered on every dbt connection.

dbt-duckdb loads this module as a plugin (``plugins: - module: ingestion.dbt_udfs``
in ``dbt_project/profiles.yml``) and calls ``Plugin.configure_connection`` on each
connection it opens. The functions exist only on connections that registered them,
so a model calling them must be materialized as a table: a view would fail when a
plain DuckDB client (the identity step, an analyst) reads it.

The staging models call these functions only through the dispatch macros in
``dbt_project/macros/normalization.sql``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from dbt.adapters.duckdb.plugins import BasePlugin

from ingestion import normalize
from orchestration import settings

logger = logging.getLogger(__name__)

# Number of distinct inputs each function caches within one process. The same
# address or phone number recurs across sources, and parsing is the expensive part.
CACHE_SIZE = 1 << 18


def _first_name(value: object) -> str | None:
    return normalize.split_full_name(value)[0]


def _last_name(value: object) -> str | None:
    return normalize.split_full_name(value)[1]


# SQL name -> (Python function, number of VARCHAR arguments).
FUNCTIONS: dict[str, tuple[Callable[..., str | None], int]] = {
    "cdp_normalize_email": (normalize.normalize_email, 1),
    "cdp_normalize_phone": (normalize.normalize_phone, 2),
    "cdp_normalize_name": (normalize.normalize_name, 1),
    "cdp_normalize_postal_code": (normalize.normalize_postal_code, 2),
    "cdp_normalize_country": (normalize.normalize_country, 1),
    "cdp_first_name_from_full_name": (_first_name, 1),
    "cdp_last_name_from_full_name": (_last_name, 1),
}


def _vectorize(
    function: Callable[..., str | None], arity: int
) -> Callable[..., pa.Array]:
    """Wrap a row function as an Arrow UDF that takes and returns whole columns.

    DuckDB reads the number of arguments from the Python signature, so each arity
    gets its own wrapper instead of one taking ``*columns``.
    """
    cached = functools.lru_cache(maxsize=CACHE_SIZE)(function)

    def apply_rows(*columns: pa.ChunkedArray) -> pa.Array:
        rows = zip(*(column.to_pylist() for column in columns), strict=True)
        return pa.array([cached(*row) for row in rows], type=pa.string())

    def apply_present(*columns: pa.ChunkedArray) -> pa.Array:
        # Every normalizer returns None for a None first argument, so only the rows
        # with a first argument reach Python. Most web events carry no traits, so
        # this skips most rows of stg_web__events.
        values = columns[0]
        if values.null_count == 0:
            return apply_rows(*columns)
        empty = pa.nulls(len(values), type=pa.string())
        if values.null_count == len(values):
            return empty
        present = pc.is_valid(values).combine_chunks()
        results = apply_rows(*(column.filter(present) for column in columns))
        return pc.replace_with_mask(empty, present, results)

    def apply_one(values: pa.ChunkedArray) -> pa.Array:
        return apply_present(values)

    def apply_two(values: pa.ChunkedArray, context: pa.ChunkedArray) -> pa.Array:
        return apply_present(values, context)

    wrappers = {1: apply_one, 2: apply_two}
    return wrappers[arity]


def _registered_names(conn: duckdb.DuckDBPyConnection) -> set[str]:
    rows = conn.execute(
        "select distinct function_name from duckdb_functions() "
        "where function_name like 'cdp\\_%' escape '\\'"
    ).fetchall()
    return {name for (name,) in rows}


def register_functions(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the ``cdp_*`` scalar functions on ``conn``, keeping any that exist.

    Nulls reach the Python functions (null handling 'special'), which return None for
    them, so a null input gives a null output and never an error.
    """
    existing = _registered_names(conn)
    for name, (function, arity) in FUNCTIONS.items():
        if name in existing:
            continue
        conn.create_function(
            name,
            _vectorize(function, arity),
            ["VARCHAR"] * arity,
            "VARCHAR",
            type="arrow",
            null_handling="special",
        )
    logger.debug("registered %d normalizer functions", len(FUNCTIONS) - len(existing))


class Plugin(BasePlugin):
    """dbt-duckdb plugin that registers the normalizer functions and applies the
    project's DuckDB memory limit and spill folder."""

    def configure_connection(self, conn: duckdb.DuckDBPyConnection) -> None:
        # Once per connection, before any model runs: DuckDB cannot switch its
        # temporary directory after a query has spilled to it.
        settings.configure_duckdb(conn)
        register_functions(conn)
