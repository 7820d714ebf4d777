"""Paths and settings from environment variables, with defaults under ``data/``.

Every path is made absolute, because dbt runs with the dbt project as its working
directory and would otherwise resolve a relative warehouse path differently.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DAGSTER_TEMPLATE = Path(__file__).resolve().parent / "dagster.yaml"
# Time zone of the nightly schedule and of run dates.
SCHEDULE_TIMEZONE = "Europe/Berlin"

# Switch off usage statistics of dbt and Great Expectations before either is imported.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


def _path_from_env(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    path = Path(value) if value else default
    return path if path.is_absolute() else (Path.cwd() / path).resolve()


def warehouse_path() -> Path:
    """DuckDB warehouse file (``CDP_WAREHOUSE``)."""
    return _path_from_env("CDP_WAREHOUSE", PROJECT_ROOT / "data" / "warehouse.duckdb")


def analyst_copy_path() -> Path:
    """DuckDB file with only the analytics schema, for analysts
    (``CDP_ANALYST_COPY``); ``analytics.duckdb`` beside the warehouse by default."""
    return _path_from_env(
        "CDP_ANALYST_COPY", warehouse_path().parent / "analytics.duckdb"
    )


def landing_dir() -> Path:
    """Folder with one subfolder of extracts per source (``CDP_LANDING_DIR``)."""
    return _path_from_env("CDP_LANDING_DIR", PROJECT_ROOT / "data" / "landing")


def ground_truth_path() -> Path:
    """Optional file of source record to true person (``CDP_GROUND_TRUTH``)."""
    default = PROJECT_ROOT / "data" / "ground_truth" / "ground_truth.csv"
    return _path_from_env("CDP_GROUND_TRUTH", default)


def outbox_dir() -> Path:
    """Folder that receives audience files, one subfolder per destination."""
    return _path_from_env("CDP_OUTBOX", PROJECT_ROOT / "data" / "outbox")


def run_date() -> date:
    """Return the night being run: ``CDP_RUN_DATE`` if set, else today in Berlin."""
    value = os.environ.get("CDP_RUN_DATE")
    if value:
        return date.fromisoformat(value)
    return datetime.now(ZoneInfo(SCHEDULE_TIMEZONE)).date()


def reports_dir() -> Path:
    """Folder for run reports such as identity charts (``CDP_REPORTS``)."""
    return _path_from_env("CDP_REPORTS", PROJECT_ROOT / "data" / "reports")


def dagster_home() -> Path:
    """Dagster's instance folder (``DAGSTER_HOME``): run history and event logs."""
    return _path_from_env("DAGSTER_HOME", PROJECT_ROOT / ".dagster")


# 35% of the machine's physical memory, as DuckDB reads it. DuckDB's own default of
# 80% assumes it is the only large consumer. A run also keeps Python heaps in memory
# (Splink, pandas in the quality checks and lifetime value, the dbt process), and it
# relies on the OS file cache for the landing files. The limit covers DuckDB's
# buffer manager only, and past it DuckDB spills to the temporary directory.
# The limit applies to each process, and a dbt step is a process of its own beside
# the Dagster run process. With `dbt run --select` on generated data, the dbt
# process peaked at the limit plus 0.2 to 0.4 GB of Python and dbt: 1.27 GB under
# 1GiB and 0.77 GB under 500MiB (customer_golden_fields, 100,000 customers), 1.44
# GB under 1GiB (stg_email__activities, 1,000,000). The Dagster process returns
# its freed memory after each step (orchestration.memory) and held 0.96 GB beside
# the dbt steps at 100,000 customers. By estimate, at 35% of 24 GB the two stay
# under 12 GB together. A nightly run at 100,000 customers under 820MiB, the same
# share of memory per customer as 35% at 1,000,000, finished without errors.
DEFAULT_DUCKDB_MEMORY_LIMIT = "35%"


def duckdb_memory_limit() -> str:
    """DuckDB memory limit (``CDP_DUCKDB_MEMORY_LIMIT``): a size such as ``8GiB``
    or a share of physical memory such as ``35%``."""
    value = os.environ.get("CDP_DUCKDB_MEMORY_LIMIT", "").strip()
    return value or DEFAULT_DUCKDB_MEMORY_LIMIT


def duckdb_temp_directory() -> Path:
    """Folder DuckDB spills to past its memory limit (``CDP_DUCKDB_TEMP_DIR``).

    The default, ``<warehouse>.tmp``, is DuckDB's own default for a database file.
    dbt's connections get the same settings from the plugin ``ingestion.dbt_udfs``.
    """
    return _path_from_env("CDP_DUCKDB_TEMP_DIR", Path(f"{warehouse_path()}.tmp"))


def configure_duckdb(con: duckdb.DuckDBPyConnection) -> None:
    """Apply the memory limit and spill folder to the DuckDB instance behind ``con``.

    Both settings belong to the database instance, so they also hold for other
    connections to it in this process. DuckDB cannot move a temporary directory
    it has spilled to, so the folder is set only when it differs.
    """
    limit = duckdb_memory_limit()
    try:
        con.execute(f"set memory_limit = {_sql_string(limit)}")
    except duckdb.Error as error:
        raise ValueError(
            f"CDP_DUCKDB_MEMORY_LIMIT is {limit!r}, which DuckDB rejected; use a "
            f"size such as 8GiB or a share of memory such as 50% ({error})"
        ) from error
    folder = str(duckdb_temp_directory())
    # fetchall, because DuckDB 2.0 keeps a partly fetched result open, and
    # con.register() raises while one is.
    [(current,)] = con.execute("select current_setting('temp_directory')").fetchall()
    if current != folder:
        con.execute(f"set temp_directory = {_sql_string(folder)}")


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def identity_incremental() -> bool:
    """Return whether identity reuses stored Splink comparison vectors.

    Reads ``CDP_IDENTITY_INCREMENTAL``: ``1`` or unset for yes, ``0`` for no. At
    1,000,000 customers an incremental night with 1% new or changed records took
    78.8 s instead of 99.3 s, and the first night, which stores the vectors,
    120.8 s (BENCHMARKS.md). The Spark engine always scores every pair.
    """
    value = os.environ.get("CDP_IDENTITY_INCREMENTAL", "1").strip()
    if value not in ("0", "1"):
        raise ValueError(f"CDP_IDENTITY_INCREMENTAL is {value!r}; expected 0 or 1")
    return value == "1"


ENGINES = ("duckdb", "spark")


def engine() -> str:
    """Warehouse engine (``CDP_ENGINE``): ``duckdb`` (default) or ``spark``."""
    value = os.environ.get("CDP_ENGINE", "duckdb").strip().lower()
    if value not in ENGINES:
        raise ValueError(
            f"CDP_ENGINE is {value!r}; expected one of {', '.join(ENGINES)}"
        )
    return value


SPARK_DBT_METHODS = ("session", "thrift")


def spark_dbt_method() -> str:
    """Return how the job's dbt steps reach Spark (``CDP_SPARK_DBT_METHOD``).

    ``session`` (default): dbt runs in the job's process on its Spark session.
    ``thrift``: the dbt command line sends the queries to the Thrift server of the
    ``spark_thrift`` target (``CDP_SPARK_THRIFT_HOST`` and ``CDP_SPARK_THRIFT_PORT``).
    """
    value = os.environ.get("CDP_SPARK_DBT_METHOD", "session").strip().lower()
    if value not in SPARK_DBT_METHODS:
        raise ValueError(
            f"CDP_SPARK_DBT_METHOD is {value!r}; expected one of "
            f"{', '.join(SPARK_DBT_METHODS)}"
        )
    return value


def spark_dir() -> Path:
    """Folder of the local Spark warehouse and metastore (``CDP_SPARK_DIR``)."""
    return _path_from_env("CDP_SPARK_DIR", PROJECT_ROOT / "data" / "spark")


def export_settings_to_environment() -> None:
    """Publish the resolved paths so dbt and Dagster subprocesses see the same ones."""
    os.environ["CDP_WAREHOUSE"] = str(warehouse_path())
    os.environ["CDP_ANALYST_COPY"] = str(analyst_copy_path())
    os.environ["CDP_LANDING_DIR"] = str(landing_dir())
    os.environ["CDP_OUTBOX"] = str(outbox_dir())
    os.environ["CDP_REPORTS"] = str(reports_dir())
    os.environ["DAGSTER_HOME"] = str(dagster_home())
    os.environ["CDP_ENGINE"] = engine()
    os.environ["CDP_SPARK_DIR"] = str(spark_dir())
