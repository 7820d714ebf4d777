"""Load Parquet files into the Spark catalog, then serve it over Thrift.

Run as a script by ``test_dbt_on_thrift.py``, so the Spark JVM and its Derby
metastore belong to one process that the test stops at the end:

    python thrift_server.py PARQUET_DIR PORT

PARQUET_DIR is as for ``spark_steps.py``. The server listens on 127.0.0.1:PORT
until SIGTERM.
"""

from __future__ import annotations

import sys
from pathlib import Path

from orchestration.spark_thrift import serve
from tests.spark.spark_steps import load_tables

if __name__ == "__main__":
    parquet_dir, port = sys.argv[1:]
    serve("127.0.0.1", int(port), lambda spark: load_tables(spark, Path(parquet_dir)))
