"""Pairwise precision, recall and F1 of a clustering against ground truth.

A pair of records is a true pair when both belong to the same person, and a predicted
pair when both got the same customer_id. Pair counts come from group sizes, because a
group of n records contains n * (n - 1) / 2 pairs:

- predicted pairs: summed over customers,
- true pairs: summed over persons,
- correct pairs: summed over (customer, person) groups, the records a customer and a
  person share.

So no pair is ever materialized, and the cost is a few GROUP BYs over the records.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb

from identity.sql import fetch_row

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PairwiseMetrics:
    """Pair counts and scores over the records that have a ground-truth person.

    precision is None when no pair was predicted, recall is None when the ground truth
    has no pair, and f1 is None when either is None or both are zero.
    """

    records: int
    predicted_pairs: int
    true_pairs: int
    correct_pairs: int
    precision: float | None
    recall: float | None
    f1: float | None


def score_groupings(
    con: duckdb.DuckDBPyConnection, relation_sql: str
) -> PairwiseMetrics:
    """Score a predicted grouping against a true one.

    ``relation_sql`` is a table name or a parenthesized query with one row per record
    and the columns ``predicted_id`` and ``true_id``.
    """
    records, predicted, true, correct = fetch_row(
        con,
        f"""
        with labelled as (
            select predicted_id, true_id from {relation_sql}
        ),

        predicted as (
            select count(*) as n from labelled group by predicted_id
        ),

        truth as (
            select count(*) as n from labelled group by true_id
        ),

        shared as (
            select count(*) as n from labelled group by predicted_id, true_id
        )

        select
            (select count(*) from labelled),
            (select coalesce(sum(n * (n - 1) // 2), 0) from predicted),
            (select coalesce(sum(n * (n - 1) // 2), 0) from truth),
            (select coalesce(sum(n * (n - 1) // 2), 0) from shared)
    """,
    )

    precision = correct / predicted if predicted else None
    recall = correct / true if true else None
    f1 = None
    if precision is not None and recall is not None and precision + recall > 0:
        f1 = 2 * precision * recall / (precision + recall)
    return PairwiseMetrics(
        int(records), int(predicted), int(true), int(correct), precision, recall, f1
    )


def evaluate_against_ground_truth(
    con: duckdb.DuckDBPyConnection,
    record_customers_sql: str,
    ground_truth_path: Path,
) -> PairwiseMetrics:
    """Score the clustering in ``record_customers_sql`` against a ground-truth CSV.

    ``record_customers_sql`` has the columns record_key and customer_id. The CSV has
    the header source,source_record_id,person_id, and a record's key is
    source || ':' || source_record_id. Records missing from either side are left out
    of the scores and counted in the log.
    """
    con.execute(
        """
        create or replace temp table identity_ground_truth as
        select distinct source || ':' || source_record_id as record_key, person_id
        from read_csv($path, all_varchar = true, header = true)
        """,
        {"path": str(ground_truth_path)},
    )
    try:
        _log_unmatched_records(con, record_customers_sql)
        metrics = score_groupings(
            con,
            f"""(
                select rc.customer_id as predicted_id, gt.person_id as true_id
                from {record_customers_sql} as rc
                inner join identity_ground_truth as gt using (record_key)
            )""",
        )
    finally:
        con.execute("drop table if exists identity_ground_truth")

    logger.info(
        "Pairwise precision %s, recall %s, F1 %s over %d records (%d predicted "
        "pairs, %d true pairs, %d correct)",
        _format_score(metrics.precision),
        _format_score(metrics.recall),
        _format_score(metrics.f1),
        metrics.records,
        metrics.predicted_pairs,
        metrics.true_pairs,
        metrics.correct_pairs,
    )
    return metrics


def _log_unmatched_records(
    con: duckdb.DuckDBPyConnection, record_customers_sql: str
) -> None:
    without_truth, without_customer, ambiguous = fetch_row(
        con,
        f"""
        select
            (select count(*) from {record_customers_sql} as rc
             anti join identity_ground_truth as gt using (record_key)),
            (select count(*) from identity_ground_truth as gt
             anti join {record_customers_sql} as rc using (record_key)),
            (select count(*) from (
                select record_key from identity_ground_truth
                group by record_key having count(*) > 1
            ))
    """,
    )
    if without_truth or without_customer:
        logger.warning(
            "Evaluation left out %d resolved records missing from the ground truth "
            "and %d ground-truth records missing from the resolved records",
            without_truth,
            without_customer,
        )
    if ambiguous:
        logger.warning(
            "The ground truth assigns %d records to more than one person; those "
            "records count once per person, which skews the scores",
            ambiguous,
        )


def _format_score(score: float | None) -> str:
    return "n/a" if score is None else f"{score:.4f}"
