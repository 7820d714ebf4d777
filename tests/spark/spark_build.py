"""The Spark build that the tests in this folder share, and its DuckDB twin.

The small warehouse of ``tests/small_warehouse.py`` is built on DuckDB. Its raw
tables and the identity step's tables go to a local Spark catalog through Parquet
files, and its pseudonym key goes to Spark's ``privacy.settings`` as the erasure
step copies it. Then one Spark process (``spark_steps.py``) runs ``dbt build`` on
the ``spark`` target, a second snapshot, the destination and analyst file assets
with ``CDP_ENGINE=spark``, and the nightly job for one staging model. ``build_duckdb_activation`` runs the destination assets on the DuckDB
engine over a copy of the small warehouse, for the comparisons.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from ingestion.dbt_udfs import FUNCTIONS
from ingestion.sources import SOURCES

STEPS_SCRIPT = Path(__file__).with_name("spark_steps.py")
IDENTITY_TABLES = ["record_customers", "customer_id_history", "customer_id_lookup"]

# Schemas dbt builds. The DuckDB file of the Spark engine has none of them, so its
# audiences can only come from Spark.
DBT_SCHEMAS = ["staging", "intermediate", "marts", "analytics", "snapshots"]
RUN_DATE = "2026-12-01"

ANALYST_FILE = "analytics.duckdb"
# The staging model that the nightly job rebuilds through the Dagster definitions.
# It calls the normalizer functions, which the job's dbt step must register.
NIGHTLY_SCHEMA, NIGHTLY_MODEL = "staging", "stg_crm__contacts"
NIGHTLY_ASSET = f"{NIGHTLY_SCHEMA}/{NIGHTLY_MODEL}"
NIGHTLY_REPORT = "nightly_selection.json"

MEMBERSHIPS = "marts.segment_memberships"
BUILT_MEMBERSHIPS = "marts.segment_memberships__built"
LEAVING = ("anna", "lapsed_buyers")
ENTERING = ("lena", "new_customers", "crm-marketing")


def snapshot_steps(dbt_paths: list[str]) -> list[list[str]]:
    """Steps that snapshot memberships changed by one exit and one entry, then put
    the built memberships back for the comparison with DuckDB."""
    customer_id, segment_name = LEAVING
    return [
        ["sql", f"alter table {MEMBERSHIPS} rename to {BUILT_MEMBERSHIPS}"],
        [
            "sql",
            f"create table {MEMBERSHIPS} using parquet as "
            f"select * from {BUILT_MEMBERSHIPS} "
            f"where not (customer_id = '{customer_id}' and segment_name = '{segment_name}') "
            f"union all select {', '.join(repr(value) for value in ENTERING)}",
        ],
        ["dbt", "snapshot", *dbt_paths],
        ["sql", f"drop table {MEMBERSHIPS}"],
        ["sql", f"alter table {BUILT_MEMBERSHIPS} rename to {MEMBERSHIPS}"],
    ]


def nightly_selection_steps(warehouse: Path, report: Path) -> list[list[str]]:
    """Steps that drop the nightly model's table and the normalizer functions, then
    run the nightly job for that model alone."""
    steps = [["sql", f"drop table {NIGHTLY_SCHEMA}.{NIGHTLY_MODEL}"]]
    steps += [["sql", f"drop temporary function {name}"] for name in FUNCTIONS]
    return [*steps, ["nightly_selection", str(warehouse), str(report), NIGHTLY_ASSET]]


def export_inputs(warehouse: Path, folder: Path) -> Path:
    """Write the tables that the dbt sources read as one Parquet file each."""
    tables = [f"raw.{source.table}" for source in SOURCES]
    tables += [f"identity.{table}" for table in IDENTITY_TABLES]
    folder.mkdir()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table in tables:
            con.execute(f"copy {table} to '{folder / table}.parquet' (format parquet)")
    return folder


def without_dbt_schemas(warehouse: Path, target: Path) -> Path:
    """Copy ``warehouse`` to ``target`` and drop every schema dbt builds."""
    shutil.copyfile(warehouse, target)
    with duckdb.connect(str(target)) as con:
        for schema in DBT_SCHEMAS:
            con.execute(f"drop schema if exists {schema} cascade")
    return target


# DuckDB file of the Spark engine: the small warehouse without the dbt schemas.
# Named after neither a catalog nor a schema it contains, so that DuckDB resolves
# names such as activation.exports.
ENGINE_FILE = "spark_engine.duckdb"
RESULT_FILE = "spark_steps.json"


def build_spark(folder: Path, small_warehouse: Path) -> None:
    """Run ``dbt build`` and the other steps on Spark in ``folder``, and save the
    process's exit status, output and duration for ``load_spark_build``."""
    inputs = export_inputs(small_warehouse, folder / "inputs")
    dbt_paths = ["--target-path", str(folder / "target"), "--log-path", str(folder)]
    engine_file = without_dbt_schemas(small_warehouse, folder / ENGINE_FILE)
    steps = [
        ["pseudonym_key", str(engine_file)],
        ["dbt", "build", *dbt_paths],
        *snapshot_steps(dbt_paths),
        ["export_views", str(folder / "views")],
        ["activate", str(engine_file)],
        ["analyst_copy", str(engine_file)],
        *nightly_selection_steps(engine_file, folder / NIGHTLY_REPORT),
    ]
    env = dict(
        os.environ,
        CDP_ANALYST_COPY=str(folder / ANALYST_FILE),
        DAGSTER_HOME=str(folder / "dagster"),
        CDP_OUTBOX=str(folder / "outbox"),
        CDP_RUN_DATE=RUN_DATE,
        CDP_SPARK_DIR=str(folder / "spark"),
        DO_NOT_TRACK="1",
        PYSPARK_PYTHON=sys.executable,
    )

    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(STEPS_SCRIPT), str(inputs), json.dumps(steps)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    saved = {
        "args": result.args,
        "returncode": result.returncode,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "seconds": time.monotonic() - started,
    }
    (folder / RESULT_FILE).write_text(json.dumps(saved), encoding="utf-8")


def load_spark_build(folder: Path, small_warehouse: Path) -> dict:
    """Return the paths and the saved outcome of ``build_spark`` in ``folder``."""
    saved = json.loads((folder / RESULT_FILE).read_text(encoding="utf-8"))
    result = subprocess.CompletedProcess(
        saved["args"], saved["returncode"], saved["stdout"], saved["stderr"]
    )
    return {
        "result": result,
        "seconds": saved["seconds"],
        "warehouse": folder / "spark" / "warehouse",
        "spark_dir": folder / "spark",
        "engine_file": folder / ENGINE_FILE,
        "duckdb": small_warehouse,
        "outbox": folder / "outbox",
        "views": folder / "views",
        "analyst_file": folder / ANALYST_FILE,
        "nightly_report": folder / NIGHTLY_REPORT,
    }


def build_duckdb_activation(folder: Path, small_warehouse: Path) -> None:
    """Run every destination asset on the DuckDB engine over a copy of the small
    warehouse in ``folder``, with the Spark build's run date."""
    from activation.assets import destination_assets
    from orchestration.resources import DuckDBWarehouse

    warehouse = folder / "warehouse.duckdb"
    shutil.copyfile(small_warehouse, warehouse)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDP_ENGINE", "duckdb")
        patch.setenv("CDP_OUTBOX", str(folder / "outbox"))
        patch.setenv("CDP_RUN_DATE", RUN_DATE)
        result = dg.materialize(
            destination_assets,
            resources={"warehouse": DuckDBWarehouse(path=str(warehouse))},
        )
    if not result.success:
        raise RuntimeError("the destination assets failed on the DuckDB engine")
