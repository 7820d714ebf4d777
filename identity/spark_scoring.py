"""Splink scoring on Spark, for the Spark engine (``CDP_ENGINE=spark``).

Identity resolution prepares the matching records in its DuckDB scratch database,
as on the DuckDB engine. This module sends them to Spark, where Splink's
``SparkAPI`` counts the blocked pairs and scores them with the saved model, its SQL
rendered for Spark (``splink_model.model_for_dialect``). The predictions from the
review band up come back to the scratch database. The rest of the run (review
decisions, clustering, stable ids, charts) works on them there, as on DuckDB.

Splink writes its intermediate tables, record values included, as Parquet under a
folder of its own inside ``checkpoint_dir()``, and the folder is deleted when
scoring ends.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import sqlglot
from splink import Linker, SparkAPI

from identity.splink_model import (
    DEFAULT_REVIEW_MIN_PROBABILITY,
    MATCHING_RECORDS,
    comparison_budget,
    count_blocked_pairs,
    enforce_comparison_budget,
    keep_scored_pairs,
    model_for_dialect,
    skip_identifier_linked_pairs,
)
from identity.sql import fetch_value
from identity.tables import scratch_table
from orchestration.spark_session import checkpoint_dir, spark_session
from orchestration.spark_tables import copy_from_spark, spark_frame_of

logger = logging.getLogger(__name__)

# The Spark temporary view of the matching records; Splink reads it by name.
RECORDS_VIEW = "identity_matching_records"
# Splink's predictions copied back from Spark into the scratch database.
PREDICTIONS_COPY = scratch_table("identity_spark_predictions")


def predict_links_on_spark(
    splink_cursor: duckdb.DuckDBPyConnection,
    model_path: Path,
    threshold: float,
    min_probability: float = DEFAULT_REVIEW_MIN_PROBABILITY,
    max_comparisons: int | None = None,
    on_predictions: Callable[[str], None] | None = None,
    prior: float | None = None,
    skip_linked_pairs: bool = False,
) -> int:
    """Score the blocked pairs on Spark; write them to scratch like ``predict_links``.

    Reads ``MATCHING_RECORDS`` from the scratch database behind ``splink_cursor``
    and leaves ``SCORED_PAIRS`` and ``SPLINK_LINKS`` there. Raises
    ComparisonBudgetExceededError before scoring when the blocking rules would
    generate more than ``max_comparisons`` pairs (default: ``comparison_budget``).
    ``on_predictions`` gets the name of the predictions' copy in the scratch
    database, which contains the compared values, before that copy is dropped.
    ``prior`` replaces the saved model's probability that two random records match
    (see ``training.estimate_prior``), as on DuckDB. ``skip_linked_pairs`` skips
    the pairs in one identifier component, as ``splink_model.create_linker`` does.
    Returns the number of pairs at or above ``threshold``.
    """
    records = fetch_value(splink_cursor, f"select count(*) from {MATCHING_RECORDS}")
    if max_comparisons is None:
        max_comparisons = comparison_budget(records)
    settings = model_for_dialect(model_path, "spark")
    if prior is not None:
        settings["probability_two_random_records_match"] = prior
    if skip_linked_pairs:
        settings = skip_identifier_linked_pairs(settings)
    # Explanations and charts need each pair's comparison vector and match weights;
    # neither switch changes a score (see splink_model.create_linker).
    settings["retain_matching_columns"] = True
    settings["retain_intermediate_calculation_columns"] = True

    spark = spark_session()
    with (
        spark_frame_of(splink_cursor, MATCHING_RECORDS) as frame,
        _splink_checkpoints(spark),
    ):
        frame.createOrReplaceTempView(RECORDS_VIEW)
        linker = _spark_linker(spark, settings)
        counts = count_blocked_pairs(linker, _register_records(spark))
        scored = enforce_comparison_budget(counts, max_comparisons)
        logger.info("scoring %d record pairs of %d records on Spark", scored, records)

        predictions = linker.inference.predict(
            threshold_match_probability=min(threshold, min_probability),
            warning_mode="never",
        )
        copy_from_spark(
            splink_cursor,
            f"select * from {predictions.physical_name}",
            PREDICTIONS_COPY,
        )
        linker.table_management.delete_tables_created_by_splink_from_db()
        spark.catalog.dropTempView(RECORDS_VIEW)

    pairs = keep_scored_pairs(
        splink_cursor, PREDICTIONS_COPY, threshold, on_predictions
    )
    splink_cursor.execute(f"drop table {PREDICTIONS_COPY}")
    return pairs


class PlainSparkAPI(SparkAPI):
    """Splink's SparkAPI, writing its SQL with sqlglot's own Spark dialect.

    NOTE: Splink 5.0.0 transpiles every query to its dialect "customspark", a
    subclass of sqlglot's Spark generator. sqlglotc 30.30.0, which dagster-dbt
    pulls in through sqlglot[rs], compiles those generators with mypyc, and
    compiled classes reject interpreted subclasses ("interpreted classes cannot
    inherit from compiled"). customspark only writes a double literal as 1.5D in
    place of CAST(1.5 AS DOUBLE). The numbers Splink casts are Python float reprs
    of at most 17 digits, so Spark reads both forms as the same double. Drop this
    class once sqlglotc is gone or Splink no longer subclasses.
    """

    def _setup_for_execute_sql(self, sql: str, physical_name: str) -> str:
        return sqlglot.transpile(sql, read="spark", write="spark", pretty=True)[0]


def _spark_api(spark) -> PlainSparkAPI:
    # break_lineage_method="parquet" writes each intermediate table to the
    # checkpoint folder and reads it back, which keeps Spark's query plans short.
    # Splink's default partition count is half of spark.sql.shuffle.partitions.
    return PlainSparkAPI(spark_session=spark, break_lineage_method="parquet")


def _spark_linker(spark, settings: dict) -> Linker:
    records = _spark_api(spark).register(RECORDS_VIEW)
    return Linker(records, settings, log_level=None)


def _register_records(spark):
    """Register the matching records with a database API of their own for counting."""
    return _spark_api(spark).register(RECORDS_VIEW)


@contextmanager
def _splink_checkpoints(spark) -> Iterator[str]:
    """Point Spark's checkpoint folder at a new subfolder; delete it afterwards.

    The session keeps pointing at the deleted folder, because setting another one
    would create it. Nothing but Splink checkpoints in this project, and the next
    run sets its own folder.
    """
    folder = f"{checkpoint_dir().rstrip('/')}/identity-{uuid.uuid4().hex[:12]}"
    spark.sparkContext.setCheckpointDir(folder)
    try:
        yield folder
    finally:
        _delete_folder(spark, folder)


def _delete_folder(spark, folder: str) -> None:
    # Hadoop's file system API reaches local paths, HDFS and object stores alike.
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(folder)
    file_system = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if file_system.exists(path):
        file_system.delete(path, True)
        logger.debug("deleted Splink's checkpoint folder %s", folder)
