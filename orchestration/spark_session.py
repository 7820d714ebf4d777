"""The Spark session of the Spark engine (``CDP_ENGINE=spark``).

Local mode keeps its tables as Parquet under ``CDP_SPARK_DIR/warehouse`` and its
catalog in an embedded Derby metastore under ``CDP_SPARK_DIR/metastore``, so a
table written by one process (ingestion, identity) is visible to the next (dbt).
Derby admits one process at a time; the nightly job runs its steps one after
another, which fits. On a cluster, set ``CDP_SPARK_MASTER`` and point Spark at the
cluster's metastore through ``SPARK_CONF_DIR`` instead.
"""

from __future__ import annotations

import os
from functools import lru_cache

from orchestration.settings import spark_dir


def spark_conf() -> dict[str, str]:
    """Settings every Spark session of the project starts with.

    dbt-spark's session method calls ``SparkSession.builder.getOrCreate()``, so the
    same settings reach it through ``PYSPARK_SUBMIT_ARGS`` (see ``export_spark_conf``).
    """
    root = spark_dir()
    metastore = root / "metastore"
    return {
        "spark.master": os.environ.get("CDP_SPARK_MASTER", "local[2]"),
        "spark.app.name": "cdp",
        "spark.sql.warehouse.dir": str(root / "warehouse"),
        "spark.sql.catalogImplementation": "hive",
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={metastore};create=true"
        ),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={root}",
        "spark.sql.session.timeZone": "UTC",
        # Small data on two cores: the default 200 shuffle partitions cost more in
        # task start-up than they save.
        "spark.sql.shuffle.partitions": os.environ.get("CDP_SPARK_SHUFFLE_PARTITIONS", "4"),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }


def export_spark_conf() -> None:
    """Pass ``spark_conf`` to sessions created by other code in this process."""
    args = " ".join(f"--conf {key}={value}" for key, value in spark_conf().items())
    os.environ["PYSPARK_SUBMIT_ARGS"] = f"{args} pyspark-shell"


@lru_cache(maxsize=1)
def spark_session():
    """Start (once per process) and return the project's Spark session."""
    from pyspark.sql import SparkSession

    spark_dir().mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder
    for key, value in spark_conf().items():
        builder = builder.config(key, value)
    session = builder.enableHiveSupport().getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
