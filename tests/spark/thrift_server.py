"""Load Parquet files into the Spark catalog, then serve it over Thrift.

Run as a script by ``test_dbt_on_thrift.py``, so the Spark JVM and its Derby
metastore belong to one process that the test stops at the end:

    python thrift_server.py PARQUET_DIR PORT [WAREHOUSE REPORT]

PARQUET_DIR is as for ``spark_steps.py``. With WAREHOUSE and REPORT, the nightly
job of the Dagster definitions first builds the staging model of
``spark_build.NIGHTLY_ASSET`` in this process, as ``spark_steps.py`` runs it. With
``CDP_SPARK_DBT_METHOD=thrift`` and ``CDP_SPARK_THRIFT_PORT`` set, the job's dbt
step sends its queries through the server. The job shares the server's Spark
session, because local Derby admits one process. The server
listens on 127.0.0.1:PORT until SIGINT or SIGTERM.
"""

from __future__ import annotations

import sys
from pathlib import Path

from orchestration.spark_thrift import serve
from tests.spark.spark_build import NIGHTLY_ASSET
from tests.spark.spark_steps import load_tables, run_nightly_selection

if __name__ == "__main__":
    parquet_dir, port, *job = sys.argv[1:]
    serve(
        "127.0.0.1",
        int(port),
        prepare=lambda spark: load_tables(spark, Path(parquet_dir)),
        ready=(lambda: run_nightly_selection(*job, NIGHTLY_ASSET)) if job else None,
    )
