"""Copy tables between the DuckDB file and the Spark catalog through Parquet files.

With ``CDP_ENGINE=spark`` the DuckDB file stays where the loader validates extracts
and where identity resolution keeps its state, and Spark stores the tables dbt reads
and writes. These helpers move whole tables, or some rows of them, across.

Each copy writes Parquet files into a new folder under ``transfer_dir()`` and
deletes the folder when the copy is done, because the files hold personal data.
Spark must be able to read that folder: in local mode any local path works, and on
a cluster it has to be a file system that the driver and executors share.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb

from orchestration.settings import spark_dir

logger = logging.getLogger(__name__)

# DuckDB type name -> Spark SQL type name. DuckDB's TIMESTAMP has no time zone and
# becomes Spark's TIMESTAMP. Spark reads that in the session time zone, which
# spark_conf() sets to UTC, so the wall-clock values stay the same.
_SPARK_TYPES = {
    "VARCHAR": "string",
    "BIGINT": "bigint",
    "INTEGER": "int",
    "SMALLINT": "smallint",
    "TINYINT": "tinyint",
    "HUGEINT": "decimal(38,0)",
    "UBIGINT": "decimal(20,0)",
    "UINTEGER": "bigint",
    "DOUBLE": "double",
    "FLOAT": "float",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
    "UUID": "string",
}
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


class UnsupportedColumnTypeError(TypeError):
    """A DuckDB column has a type the Spark engine does not copy yet."""


def transfer_dir() -> Path:
    """Folder for the Parquet files of copies between DuckDB and Spark."""
    return spark_dir() / "transfer"


def spark_type(duckdb_type: str) -> str:
    """Return the Spark SQL type for a DuckDB type name, such as DECIMAL(38,9)."""
    name = duckdb_type.upper()
    decimal = _DECIMAL.fullmatch(name)
    if decimal:
        return f"decimal({decimal[1]},{decimal[2]})"
    if name in _SPARK_TYPES:
        return _SPARK_TYPES[name]
    raise UnsupportedColumnTypeError(
        f"no Spark type for the DuckDB type {duckdb_type}; add it to _SPARK_TYPES "
        "in orchestration/spark_tables.py"
    )


def duckdb_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    """Return (name, DuckDB type) of each column of ``table``, in table order."""
    return [(row[0], row[1]) for row in con.execute(f"describe {table}").fetchall()]


def spark_columns(spark, table: str) -> list[tuple[str, str]]:
    """Return (name, Spark SQL type) of each column of a Spark table."""
    return [
        (field.name, field.dataType.simpleString())
        for field in spark.table(table).schema.fields
    ]


def spark_table_exists(spark, table: str) -> bool:
    return spark.catalog.tableExists(table)


@contextmanager
def transfer_folder(label: str) -> Iterator[Path]:
    """Yield a new empty folder for one copy; delete it and its files afterwards."""
    root = transfer_dir()
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def copy_to_spark(
    con: duckdb.DuckDBPyConnection,
    source: str,
    spark_table: str,
    *,
    mode: str = "overwrite",
    where: str | None = None,
    parameters: Sequence | None = None,
) -> int:
    """Copy the rows of the DuckDB table ``source`` into the Spark table ``spark_table``.

    ``mode`` is ``overwrite`` (replace the Spark table and its schema) or ``append``
    (add rows, matching columns by name). ``where`` filters the rows with a DuckDB
    condition that may use ``?`` ``parameters``. Each column keeps its name and gets
    the Spark type of its DuckDB type. Returns the number of rows copied.
    """
    from orchestration.spark_session import spark_session

    if mode not in ("overwrite", "append"):
        raise ValueError(f"mode must be overwrite or append, not {mode!r}")
    with transfer_folder(_label(spark_table)) as folder:
        frame, rows = _export_to_spark(con, source, folder, where, parameters)
        database = spark_table.split(".")[0]
        spark_session().sql(f"create database if not exists {database}")
        frame.write.mode(mode).format("parquet").saveAsTable(spark_table)
    logger.info(
        "copied %d rows from DuckDB %s to Spark %s (%s)",
        rows,
        source,
        spark_table,
        mode,
    )
    return rows


@contextmanager
def spark_frame_of(con: duckdb.DuckDBPyConnection, source: str) -> Iterator:
    """Yield a Spark DataFrame of the rows of the DuckDB table ``source``.

    The DataFrame reads Parquet files that are deleted when the block ends, so
    anything Spark should keep has to be written or checkpointed inside the block.
    Columns keep their names and get the Spark types of their DuckDB types.
    """
    with transfer_folder(_label(source)) as folder:
        frame, _ = _export_to_spark(con, source, folder)
        yield frame


def _export_to_spark(
    con: duckdb.DuckDBPyConnection,
    source: str,
    folder: Path,
    where: str | None = None,
    parameters: Sequence | None = None,
) -> tuple:
    """Write ``source``'s rows to Parquet in ``folder``; return (DataFrame, rows)."""
    from pyspark.sql import functions as F

    from orchestration.spark_session import spark_session

    columns = duckdb_columns(con, source)
    condition = f" where {where}" if where else ""
    path = folder / "rows.parquet"
    con.execute(
        f"copy (select * from {source}{condition}) to '{path}' (format parquet)",
        parameters,
    )
    rows = con.execute(f"select count(*) from read_parquet('{path}')").fetchall()[0][0]
    frame = (
        spark_session()
        .read.parquet(str(path))
        .select(
            *(
                F.col(_quoted(name)).cast(spark_type(kind)).alias(name)
                for name, kind in columns
            )
        )
    )
    return frame, rows


def copy_from_spark(
    con: duckdb.DuckDBPyConnection, spark_query: str, target: str
) -> int:
    """Replace the DuckDB table ``target`` with the rows of a Spark SQL query.

    ``spark_query`` is a table name or a select statement. Spark TIMESTAMP columns
    arrive as DuckDB TIMESTAMP in UTC. Returns the number of rows copied.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampType

    from orchestration.spark_session import spark_session

    spark = spark_session()
    if spark_query.lstrip().lower().startswith(("select", "with")):
        frame = spark.sql(spark_query)
    else:
        frame = spark.table(spark_query)
    # Spark writes TIMESTAMP as UTC instants, which DuckDB would read as TIMESTAMP
    # WITH TIME ZONE; as TIMESTAMP_NTZ it keeps the UTC wall-clock time without a zone.
    frame = frame.select(
        *(
            F.col(_quoted(field.name)).cast("timestamp_ntz").alias(field.name)
            if isinstance(field.dataType, TimestampType)
            else F.col(_quoted(field.name))
            for field in frame.schema.fields
        )
    )
    # A two-part name is schema.table; a three-part one names its database too.
    parts = target.split(".")
    schema = parts[0] if len(parts) == 2 else None
    with transfer_folder(_label(target)) as folder:
        path = folder / "rows"
        frame.write.mode("overwrite").parquet(str(path))
        if schema:
            con.execute(f"create schema if not exists {schema}")
        con.execute(
            f"create or replace table {target} as "
            f"select * from read_parquet('{path}/*.parquet')"
        )
    rows = con.execute(f"select count(*) from {target}").fetchall()[0][0]
    logger.info(
        "copied %d rows from Spark %s to DuckDB %s", rows, _short(spark_query), target
    )
    return rows


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _label(table: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_]+", "_", table)[:40]
    return f"{safe}-{uuid.uuid4().hex[:8]}"


def _short(query: str) -> str:
    text = " ".join(query.split())
    return text if len(text) <= 60 else text[:57] + "..."
