"""Private DuckDB snapshots for the read-only commands on the Spark engine.

``cdp trace``, ``cdp export-subject`` and ``cdp serve`` query DuckDB. With
``CDP_ENGINE=spark``, dbt writes its schemas (``SPARK_SCHEMAS``) into the Spark
catalog, while identity, activation and privacy keep their tables in the DuckDB
file. Each command lists the tables it reads. ``private_snapshot`` copies them,
from wherever they live and under the same names, into a new DuckDB file that
only its owner can read, and the command runs its DuckDB code on that file.

A listed table that exists in neither place is left out, as the DuckDB code
leaves out a table that the warehouse does not have yet.

The copy from Spark runs in a child process (``python -m
orchestration.spark_snapshot``). Its Spark JVM exits with it and releases the
embedded Derby metastore, which admits one process at a time. Otherwise
``cdp serve`` would hold the metastore for as long as it runs, and the nightly
job could not start Spark.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb

from orchestration import settings

logger = logging.getLogger(__name__)

# Schemas that dbt builds, in the Spark catalog when CDP_ENGINE=spark. Every other
# schema (identity, activation, privacy, raw) is read from the DuckDB file, where
# it is kept on both engines.
SPARK_SCHEMAS = ("staging", "intermediate", "marts", "analytics", "snapshots")
SNAPSHOT_FILE = "cdp_snapshot.duckdb"
# Lines of the child's error output shown when the copy from Spark fails.
ERROR_TAIL_LINES = 20


class SnapshotError(RuntimeError):
    """Copying the tables of a command into its private DuckDB file failed."""


def is_spark_table(table: str) -> bool:
    """Return whether ``table`` (schema.table) lives in the Spark catalog on Spark."""
    return table.split(".")[0] in SPARK_SCHEMAS


@contextmanager
def warehouse_for_reading(tables: Sequence[str], label: str) -> Iterator[Path]:
    """Yield the DuckDB file a read-only command queries: ``CDP_WAREHOUSE`` on the
    DuckDB engine, a private snapshot of ``tables`` on the Spark engine."""
    if settings.engine() != "spark":
        yield settings.warehouse_path()
        return
    with private_snapshot(tables, label) as path:
        yield path


@contextmanager
def private_snapshot(tables: Sequence[str], label: str) -> Iterator[Path]:
    """Yield a new DuckDB file with a copy of ``tables``; delete it afterwards.

    The file sits in a new folder of the system's temporary directory (``TMPDIR``)
    that only its owner can open, and the file itself has mode 0600, because it
    contains personal data. The folder is deleted when the block ends, also after an
    error or SIGTERM. A process killed with SIGKILL leaves it behind.
    """
    folder = Path(tempfile.mkdtemp(prefix=f"cdp-{label}-"))
    restore_handler = _exit_on_sigterm()
    try:
        path = folder / SNAPSHOT_FILE
        counts = write_snapshot(path, tables)
        logger.info(
            "copied %d tables, %d rows, into the private file %s",
            len(counts),
            sum(counts.values()),
            path,
        )
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        restore_handler()


def _exit_on_sigterm() -> Callable[[], None]:
    """Make SIGTERM raise SystemExit, so ``finally`` blocks delete the snapshot;
    return a function that puts the previous handler back.

    Python's default action for SIGTERM ends the process at once. uvicorn, which
    runs ``cdp serve``, stops on SIGTERM and then raises the signal again with the
    handler that was installed before it started, which is this one.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGTERM, _raise_system_exit)
    return lambda: signal.signal(signal.SIGTERM, previous)


def _raise_system_exit(signal_number: int, frame) -> None:
    raise SystemExit(128 + signal_number)


def write_snapshot(path: Path, tables: Sequence[str]) -> dict[str, int]:
    """Copy ``tables`` into a new DuckDB file at ``path``; return rows per table.

    Tables in ``SPARK_SCHEMAS`` come from the Spark catalog, the others from the
    DuckDB file ``CDP_WAREHOUSE``. Raises ``SnapshotError`` when a copy fails.
    """
    with duckdb.connect(str(path)):
        pass
    os.chmod(path, 0o600)

    # TODO: every table is copied whole, so cdp export-subject copies all rows of
    # the web events to export one person. Copying only the rows of the person's
    # customer ids and record keys would scale with the person instead.
    spark_tables = sorted({t for t in tables if is_spark_table(t)})
    warehouse_tables = sorted({t for t in tables if not is_spark_table(t)})
    counts = _copy_from_spark_in_child(path, spark_tables) if spark_tables else {}
    if warehouse_tables:
        counts |= _copy_from_warehouse(path, warehouse_tables)
    return counts


def _copy_from_spark_in_child(path: Path, tables: list[str]) -> dict[str, int]:
    command = [sys.executable, "-m", __name__, str(path), *tables]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.splitlines()[-ERROR_TAIL_LINES:])
        raise SnapshotError(
            f"copying {len(tables)} tables from the Spark catalog in "
            f"{settings.spark_dir()} failed with exit status {result.returncode}. "
            "If a nightly run holds the Derby metastore, wait for it to finish. "
            f"The last lines of the copy's error output:\n{tail}"
        )
    lines = result.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def _copy_from_warehouse(path: Path, tables: list[str]) -> dict[str, int]:
    """Copy the tables that the DuckDB file contains; skip those it lacks."""
    from orchestration.resources import CONNECT_TIMEOUT_SECONDS, connect_with_retry

    warehouse = settings.warehouse_path()
    counts = {}
    # Read-only, and waiting for a nightly writer, as the commands do on DuckDB.
    con = connect_with_retry(warehouse, True, CONNECT_TIMEOUT_SECONDS, logger)
    try:
        con.execute(f"attach '{_escaped(path)}' as private_snapshot (read_only false)")
        for table in tables:
            if not _duckdb_table_exists(con, table):
                logger.debug("the DuckDB file has no %s; not copied", table)
                continue
            schema = table.split(".")[0]
            con.execute(f"create schema if not exists private_snapshot.{schema}")
            con.execute(
                f"create table private_snapshot.{table} as select * from {table}"
            )
            counts[table] = con.execute(
                f"select count(*) from private_snapshot.{table}"
            ).fetchone()[0]
        con.execute("detach private_snapshot")
    finally:
        con.close()
    return counts


def _duckdb_table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    return (
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? "
            "and table_name = ? and table_catalog = current_database()",
            [schema, name],
        ).fetchone()[0]
        > 0
    )


def _escaped(path: Path) -> str:
    return str(path).replace("'", "''")


def copy_spark_tables(path: Path, tables: Sequence[str]) -> dict[str, int]:
    """Copy each of ``tables`` that the Spark catalog has into the DuckDB file at
    ``path``, under the same name; return rows per table. Runs in the child."""
    from orchestration.spark_session import spark_session
    from orchestration.spark_tables import copy_from_spark, spark_table_exists

    spark = spark_session()
    counts = {}
    with duckdb.connect(str(path)) as con:
        for table in tables:
            if not spark_table_exists(spark, table):
                logger.debug("the Spark catalog has no %s; not copied", table)
                continue
            counts[table] = copy_from_spark(con, table, table)
        con.execute("checkpoint")
    return counts


def main(arguments: list[str]) -> int:
    """Entry point of the child: ``python -m orchestration.spark_snapshot FILE TABLE...``.

    Prints the rows copied per table as one JSON line on stdout.
    """
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    path, *tables = arguments
    counts = copy_spark_tables(Path(path), tables)
    print(json.dumps(counts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
