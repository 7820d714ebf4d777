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

The exit code is 1 when a dbt or activation step fails.
"""

from __future__ import annotations

import json
import os
import sys
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


def main(parquet_dir: str, steps_json: str) -> int:
    from orchestration.spark_dbt import prepare_spark_for_dbt, run_dbt_on_spark

    spark = prepare_spark_for_dbt()
    load_tables(spark, Path(parquet_dir))

    for kind, *arguments in json.loads(steps_json):
        if kind == "sql":
            spark.sql(arguments[0])
        elif kind == "pseudonym_key":
            mirror_pseudonym_key(arguments[0])
        elif kind == "export_views":
            export_views(spark, arguments[0])
        elif kind == "activate":
            if not activate(arguments[0]):
                return 1
        elif not run_dbt_on_spark(arguments).success:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
