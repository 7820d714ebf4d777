"""The Spark session of the Spark engine (``CDP_ENGINE=spark``).

Local mode keeps its tables as Parquet under ``CDP_SPARK_DIR/warehouse`` and its
catalog in an embedded Derby metastore under ``CDP_SPARK_DIR/metastore``, so a
table written by one process (ingestion, identity) is visible to the next (dbt).
Derby admits one process at a time; the nightly job runs its steps one after
another, which fits. On a cluster, set ``CDP_SPARK_MASTER`` and point Spark at the
cluster's metastore through ``SPARK_CONF_DIR`` instead.

NOTE: only ``benchmarks/spark_standalone.py`` runs a non-local master, a
standalone cluster on one machine. docs/spark.md lists what a cluster of several
machines still needs.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache

from orchestration.settings import spark_dir


def spark_conf() -> dict[str, str]:
    """Settings every Spark session of the project starts with.

    dbt-spark's session method calls ``SparkSession.builder.getOrCreate()``, so the
    same settings reach it through ``PYSPARK_SUBMIT_ARGS`` (see ``export_spark_conf``).
    The local warehouse folder and Derby metastore are set only for a ``local``
    master; on a cluster both come from ``SPARK_CONF_DIR`` (hive-site.xml).
    """
    from splink.backends.spark import similarity_jar_location

    root = spark_dir()
    master = os.environ.get("CDP_SPARK_MASTER", "local[2]")
    conf = {
        "spark.master": master,
        "spark.app.name": "cdp",
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.session.timeZone": "UTC",
        # Small data on two cores: the default 200 shuffle partitions cost more in
        # task start-up than they save.
        "spark.sql.shuffle.partitions": os.environ.get(
            "CDP_SPARK_SHUFFLE_PARTITIONS", "4"
        ),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # Splink's string similarity functions (jaro_winkler, damerau_levenshtein)
        # for identity resolution; a jar can only join a session when it starts.
        "spark.jars": similarity_jar_location(),
        # Read only by a Thrift server started on this session
        # (orchestration/spark_thrift.py): its connections then share this session
        # and the cdp_normalize_* functions registered on it. A static setting, so
        # it cannot be set once the session runs.
        "spark.sql.hive.thriftServer.singleSession": "true",
    }
    if master.startswith("local"):
        conf |= {
            "spark.sql.warehouse.dir": str(root / "warehouse"),
            "spark.hadoop.javax.jdo.option.ConnectionURL": (
                f"jdbc:derby:;databaseName={root / 'metastore'};create=true"
            ),
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={root}",
            # The metastore keeps a column comment in 256 characters. Spark then
            # stores a view whose comment is longer in its own format, but only
            # after the metastore tried the write ten times two seconds apart:
            # 20 s for each such analytics view. The embedded Derby metastore
            # has nothing a retry could wait for.
            "spark.hadoop.hive.hmshandler.retry.attempts": "1",
            "spark.hadoop.hive.hmshandler.retry.interval": "0ms",
            # Local mode needs no network: the driver's RPC and block manager
            # ports listen on loopback, not on the machine's public address.
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.driver.host": "127.0.0.1",
        }
    return conf


def checkpoint_dir() -> str:
    """Folder where Splink writes its intermediate tables (``CDP_SPARK_CHECKPOINT_DIR``).

    A URI such as ``hdfs://...`` on a cluster, where every executor must reach it.
    """
    default = str(spark_dir() / "checkpoints")
    return os.environ.get("CDP_SPARK_CHECKPOINT_DIR") or default


def export_spark_conf() -> None:
    """Pass ``spark_conf`` to sessions created by other code in this process."""
    args = " ".join(f"--conf {key}={value}" for key, value in spark_conf().items())
    os.environ["PYSPARK_SUBMIT_ARGS"] = f"{args} pyspark-shell"


@lru_cache(maxsize=1)
def spark_session():
    """Start (once per process) and return the project's Spark session."""
    from pyspark.sql import SparkSession

    spark_dir().mkdir(parents=True, exist_ok=True)
    # Python UDFs run in worker processes started with PYSPARK_PYTHON, read once
    # when the session starts. This interpreter can import the project; the
    # default, python3 on PATH, may lack its packages.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    for key, value in spark_conf().items():
        builder = builder.config(key, value)
    session = builder.enableHiveSupport().getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
