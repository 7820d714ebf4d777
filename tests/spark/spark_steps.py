"""Load Parquet files into the Spark catalog, then run SQL and dbt steps on Spark.

Run as a script by ``test_dbt_on_spark.py``, so that Spark's JVM, its Derby
metastore and the catalog under ``CDP_SPARK_DIR`` belong to one short-lived process
and no other test shares them:

    python spark_steps.py PARQUET_DIR STEPS_JSON

PARQUET_DIR contains one ``<database>.<table>.parquet`` file per table to load.
STEPS_JSON is a list of ``["sql", statement]`` and ``["dbt", arg, ...]`` steps,
run in order. The exit code is 1 when a dbt step fails.
"""

from __future__ import annotations

import json
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


def main(parquet_dir: str, steps_json: str) -> int:
    from orchestration.spark_dbt import prepare_spark_for_dbt, run_dbt_on_spark

    spark = prepare_spark_for_dbt()
    load_tables(spark, Path(parquet_dir))

    for kind, *arguments in json.loads(steps_json):
        if kind == "sql":
            spark.sql(arguments[0])
        elif not run_dbt_on_spark(arguments).success:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
