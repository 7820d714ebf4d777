"""Paths and settings from environment variables, with defaults under ``data/``.

Every path is made absolute, because dbt runs with the dbt project as its working
directory and would otherwise resolve a relative warehouse path differently.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

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


def identity_incremental() -> bool:
    """Return whether identity reuses stored Splink comparison vectors.

    Reads ``CDP_IDENTITY_INCREMENTAL``: ``1`` for yes, ``0`` or unset for no.
    """
    value = os.environ.get("CDP_IDENTITY_INCREMENTAL", "0").strip()
    if value not in ("0", "1"):
        raise ValueError(f"CDP_IDENTITY_INCREMENTAL is {value!r}; expected 0 or 1")
    return value == "1"


ENGINES = ("duckdb", "spark")


def engine() -> str:
    """Warehouse engine (``CDP_ENGINE``): ``duckdb`` (default) or ``spark``."""
    value = os.environ.get("CDP_ENGINE", "duckdb").strip().lower()
    if value not in ENGINES:
        raise ValueError(f"CDP_ENGINE is {value!r}; expected one of {', '.join(ENGINES)}")
    return value


def duckdb_only_message(feature: str) -> str:
    """Return the error text for a feature that does not run on Spark yet."""
    return (
        f"{feature} reads the marts from the DuckDB file and does not support "
        "CDP_ENGINE=spark yet; the Spark engine builds the marts in the Spark "
        "catalog. Query them there, or run the DuckDB engine (see docs/spark.md)."
    )


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
