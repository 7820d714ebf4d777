"""Compare tables that Spark wrote with the same tables on DuckDB.

DuckDB reads the Parquet files of Spark's local warehouse, and the rows of Spark
views from the Parquet files that the Spark process exported. Messages name tables
and columns, never a value that could be personal data.
"""

from __future__ import annotations

import math
from pathlib import Path

import duckdb

# Columns holding the time of the run that wrote the row, which differ between the
# two builds: segment_membership_history's snapshot times and the incremental
# models' watermark.
RUN_TIME_COLUMNS = {"entered_at", "left_at", "_processed_at"}
# Fingerprints use each engine's own hash function (cdp.rows_fingerprint), so they
# differ between the engines by design.
ENGINE_HASH_COLUMNS = {
    "records_fingerprint",
    "_inputs_fingerprint",
    "touchpoints_fingerprint",
    "_touchpoints_fingerprint",
}
UNCOMPARED_COLUMNS = RUN_TIME_COLUMNS | ENGINE_HASH_COLUMNS


def spark_table(spark_build: dict, schema: str, table: str) -> str:
    """DuckDB expression reading a Spark table's Parquet files, or the rows of a
    Spark view as the Spark process exported them."""
    view = spark_build["views"] / f"{schema}.{table}"
    folder = (
        view if view.exists() else spark_build["warehouse"] / f"{schema}.db" / table
    )
    return f"read_parquet('{folder}/*.parquet')"


def fetch(sql: str, warehouse: Path | None = None) -> tuple[list[str], list[tuple]]:
    with duckdb.connect(
        str(warehouse) if warehouse else ":memory:", read_only=bool(warehouse)
    ) as con:
        cursor = con.execute(sql)
        return [column[0] for column in cursor.description], cursor.fetchall()


def sort_key(row: tuple) -> tuple:
    """Order rows by their values, with floats rounded so that close values sort
    together and None first."""
    return tuple(
        (value is not None, round(value, 6) if isinstance(value, float) else str(value))
        for value in row
    )


def assert_same_rows(
    name: str, columns: list[str], duckdb_rows: list[tuple], spark_rows: list[tuple]
) -> None:
    """Compare two row sets in any order. Messages name the column, never a value
    that could be personal data."""
    assert len(spark_rows) == len(duckdb_rows), f"{name}: row counts differ"
    pairs = zip(
        sorted(duckdb_rows, key=sort_key), sorted(spark_rows, key=sort_key), strict=True
    )
    for duckdb_row, spark_row in pairs:
        for column, duckdb_value, spark_value in zip(
            columns, duckdb_row, spark_row, strict=True
        ):
            if isinstance(duckdb_value, float) and isinstance(spark_value, float):
                same = math.isclose(
                    duckdb_value, spark_value, rel_tol=1e-9, abs_tol=1e-12
                )
            else:
                same = duckdb_value == spark_value
            assert same, f"{name}.{column} differs"


def compare_table(spark_build: dict, schema: str, table: str) -> None:
    names, _ = fetch(f"select * from {schema}.{table} limit 0", spark_build["duckdb"])
    spark_names, _ = fetch(
        f"select * from {spark_table(spark_build, schema, table)} limit 0"
    )
    assert spark_names == names, f"{schema}.{table}: columns differ"

    compared = [name for name in names if name not in UNCOMPARED_COLUMNS]
    columns = ", ".join(f'"{name}"' for name in compared)
    _, duckdb_rows = fetch(
        f"select {columns} from {schema}.{table}", spark_build["duckdb"]
    )
    _, spark_rows = fetch(
        f"select {columns} from {spark_table(spark_build, schema, table)}"
    )
    assert_same_rows(f"{schema}.{table}", compared, duckdb_rows, spark_rows)
