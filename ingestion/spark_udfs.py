"""Spark SQL functions for the normalizers, the Spark counterpart of ``dbt_udfs``.

The staging models call ``cdp_normalize_*`` through the dispatch macros in
``dbt_project/macros/normalization.sql``. On DuckDB a dbt-duckdb plugin registers
them on each connection. dbt-spark has no plugin hook, and an ``on-run-start`` hook
runs SQL only, so ``register_functions`` must run on the Spark session before dbt
sends its first query (``orchestration.spark_dbt.run_dbt_on_spark`` does this).

Spark runs the functions in Python worker processes. Those workers import this
module and ``ingestion.normalize``, so they need the project's Python
(``PYSPARK_PYTHON``) and its import path (``PYTHONPATH``).
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

from ingestion.dbt_udfs import CACHE_SIZE, FUNCTIONS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _apply(name: str, *values: str | None) -> str | None:
    """Call the normalizer registered under ``name``, cached per worker process."""
    function, _ = FUNCTIONS[name]
    return function(*values)


def register_functions(spark: SparkSession) -> None:
    """Register every ``cdp_*`` normalizer as a temporary function of ``spark``.

    Temporary functions live as long as the session, and dbt-spark's session method
    reuses this process's active session, so dbt's queries find them. A null input
    reaches the Python function, which returns null for it, as on DuckDB.
    """
    from pyspark.sql.functions import udf
    from pyspark.sql.types import StringType

    for name in FUNCTIONS:
        # Arrow batches rows between the JVM and the Python worker.
        function = udf(functools.partial(_apply, name), StringType(), useArrow=True)
        spark.udf.register(name, function)
    logger.debug("registered %d normalizer functions on Spark", len(FUNCTIONS))
