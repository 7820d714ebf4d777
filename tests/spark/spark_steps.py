"""Load Parquet files into the Spark catalog, then run SQL and dbt steps on Spark.

Run as a script by ``test_dbt_on_spark.py``, so that Spark's JVM, its Derby
metastore and the catalog under ``CDP_SPARK_DIR`` belong to one short-lived process
and no other test shares them:

    python spark_steps.py PARQUET_DIR STEPS_JSON

PARQUET_DIR contains one ``<database>.<table>.parquet`` file per table to load.
STEPS_JSON is a list of steps, run in order:

- ``["sql", statement]`` runs a Spark SQL statement.
- ``["dbt", arg, ...]`` runs dbt on the ``spark`` target.
- ``["pseudonym_key", warehouse]`` copies the pseudonym key of the DuckDB file
  ``warehouse`` to Spark, as the erasure step of the nightly job does.
- ``["export_views", folder]`` writes the rows of every view in the Spark
  catalog to ``folder/<database>.<view>/`` as Parquet, since views have no files.
- ``["activate", warehouse]`` materializes every destination asset with
  ``CDP_ENGINE=spark`` on the DuckDB file ``warehouse``, so the audiences are
  copied from the Spark tables this process built. ``CDP_OUTBOX`` and
  ``CDP_RUN_DATE`` come from the environment.
- ``["analyst_copy", warehouse]`` materializes the analyst file asset with
  ``CDP_ENGINE=spark``, so the file is copied from the Spark catalog this process
  built. ``CDP_ANALYST_COPY`` comes from the environment.
- ``["nightly_selection", warehouse, report, asset_key, ...]`` runs the nightly
  job of the project's Dagster definitions with ``CDP_ENGINE=spark`` on the DuckDB
  file ``warehouse``, for the given assets only (keys such as
  ``staging/stg_crm__contacts``), and writes what the run materialized and
  checked to the JSON file ``report``.

The exit code is 1 when a dbt, activation or analyst file step fails; a failed
nightly job selection shows in its report only.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path


def load_tables(spark, parquet_dir: Path) -> None:
    """Create each table from its Parquet file, replacing any of the same name.

    DuckDB writes its TIMESTAMP columns as timestamps without time zone, which Spark
    reads as TIMESTAMP_NTZ. They become Spark's TIMESTAMP, the type the staging
    models cast to, as the session time zone is UTC.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampNTZType

    for path in sorted(parquet_dir.glob("*.parquet")):
        database, table = path.stem.split(".")
        frame = spark.read.parquet(str(path))
        for field in frame.schema.fields:
            if isinstance(field.dataType, TimestampNTZType):
                frame = frame.withColumn(
                    field.name, F.col(field.name).cast("timestamp")
                )

        spark.sql(f"create database if not exists {database}")
        frame.write.mode("overwrite").format("parquet").saveAsTable(
            f"{database}.{table}"
        )


def mirror_pseudonym_key(warehouse: str) -> None:
    import duckdb

    from orchestration.privacy.spark import mirror_pseudonym_key

    with duckdb.connect(warehouse) as con:
        mirror_pseudonym_key(con)


def export_views(spark, folder: str) -> None:
    for database in spark.catalog.listDatabases():
        for table in spark.catalog.listTables(database.name):
            if table.tableType == "VIEW" and not table.isTemporary:
                name = f"{database.name}.{table.name}"
                spark.table(name).write.parquet(f"{folder}/{name}")


def activate(warehouse: str) -> bool:
    """Run the real destination assets on the Spark engine; return whether all passed."""
    import dagster as dg

    from activation.assets import destination_assets
    from orchestration.resources import DuckDBWarehouse

    os.environ["CDP_ENGINE"] = "spark"
    result = dg.materialize(
        destination_assets, resources={"warehouse": DuckDBWarehouse(path=warehouse)}
    )
    return result.success


def write_analyst_copy(warehouse: str) -> bool:
    """Run the real analyst file asset on the Spark engine and return whether it
    passed."""
    import dagster as dg

    from orchestration.analyst_copy import analyst_copy
    from orchestration.resources import DuckDBWarehouse

    os.environ["CDP_ENGINE"] = "spark"
    result = dg.materialize(
        [analyst_copy], resources={"warehouse": DuckDBWarehouse(path=warehouse)}
    )
    return result.success


def run_nightly_selection(warehouse: str, report: str, *asset_keys: str) -> bool:
    """Run the nightly job of ``orchestration.definitions`` for ``asset_keys`` on the
    Spark engine, as ``cdp run`` and the Dagster UI run it, and return whether it
    passed.

    The definitions read the engine and the warehouse when they are imported, so
    both are set first. The dbt artifacts of the run are deleted afterwards.
    """
    import dagster as dg

    os.environ["CDP_ENGINE"] = "spark"
    os.environ["CDP_WAREHOUSE"] = warehouse
    from orchestration.definitions import defs
    from orchestration.settings import DBT_PROJECT_DIR

    selection = [dg.AssetKey(key.split("/")) for key in asset_keys]
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("nightly").execute_in_process(
            instance=instance, asset_selection=selection, raise_on_error=False
        )
    # The dbt steps write them to dbt_project/target/spark-<run>-<step>.
    for folder in DBT_PROJECT_DIR.joinpath("target").glob(
        f"spark-{result.run_id[:8]}-*"
    ):
        shutil.rmtree(folder)
    materialized = {}
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        row_count = materialization.metadata.get("dagster/row_count")
        materialized[materialization.asset_key.to_user_string()] = (
            row_count.value if row_count is not None else None
        )
    checks = [
        [check.asset_check_key.to_user_string(), check.passed]
        for check in (
            event.asset_check_evaluation_data
            for event in result.all_events
            if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        )
    ]
    failed_steps = [event.step_key for event in result.get_step_failure_events()]
    body = {
        "success": result.success,
        "materialized": materialized,
        "checks": checks,
        "failed_steps": failed_steps,
    }
    Path(report).write_text(json.dumps(body), encoding="utf-8")
    return result.success


def main(parquet_dir: str, steps_json: str) -> int:
    from orchestration.spark_dbt import prepare_spark_for_dbt, run_dbt_on_spark

    spark = prepare_spark_for_dbt()
    load_tables(spark, Path(parquet_dir))

    for kind, *arguments in json.loads(steps_json):
        started = time.monotonic()
        if kind == "sql":
            spark.sql(arguments[0])
        elif kind == "pseudonym_key":
            mirror_pseudonym_key(arguments[0])
        elif kind == "export_views":
            export_views(spark, arguments[0])
        elif kind == "activate":
            if not activate(arguments[0]):
                return 1
        elif kind == "analyst_copy":
            if not write_analyst_copy(arguments[0]):
                return 1
        elif kind == "nightly_selection":
            # The report carries the outcome, so a failed run fails the tests
            # that read it and not every test of the build.
            run_nightly_selection(*arguments)
        elif not run_dbt_on_spark(arguments).success:
            return 1
        if kind != "sql":
            print(f"step {kind}: {time.monotonic() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
