"""Pairwise and cluster-level scores of a clustering against ground truth.

A pair of records is a true pair when both belong to the same person, and a predicted
pair when both got the same customer_id. Pair counts come from group sizes, because a
group of n records contains n * (n - 1) / 2 pairs:

- predicted pairs: summed over customers,
- true pairs: summed over persons,
- correct pairs: summed over (customer, person) groups, the records a customer and a
  person share.

So no pair is ever materialized, and the cost is a few GROUP BYs over the records.
``score_clusters`` adds scores per record and per cluster from the same group sizes.
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


@dataclass(frozen=True)
class ClusterMetrics:
    """Cluster-level scores of a predicted grouping, each in [0, 1].

    B-cubed precision is the mean, over records, of the share of the record's
    predicted cluster that belongs to its true person, and B-cubed recall the mean
    share of its true person that landed in its predicted cluster. A cluster counts as exact when it contains all records of one person
    and no others: exact_cluster_precision is the share of predicted clusters that
    are exact, exact_cluster_recall the share of persons whose records form one.
    adjusted_rand_index is the Rand index corrected for chance, in the form
    scikit-learn's adjusted_rand_score computes: 1 for identical groupings, about 0
    for random ones, and it can be negative. It is None when both groupings put every record alone, or every record
    in one cluster, because the index is then undefined.
    """

    records: int
    predicted_clusters: int
    true_clusters: int
    exact_clusters: int
    b_cubed_precision: float
    b_cubed_recall: float
    b_cubed_f1: float
    exact_cluster_precision: float
    exact_cluster_recall: float
    adjusted_rand_index: float | None


def score_clusters(
    con: duckdb.DuckDBPyConnection, relation_sql: str
) -> ClusterMetrics | None:
    """Compute cluster-level scores of a predicted grouping against a true one.

    ``relation_sql`` has the same shape as for ``score_groupings``. Returns None when
    it has no rows.
    """
    row = fetch_row(
        con,
        f"""
        with labelled as (
            select predicted_id, true_id from {relation_sql}
        ),

        predicted as (
            select predicted_id, count(*) as n from labelled group by predicted_id
        ),

        truth as (
            select true_id, count(*) as n from labelled group by true_id
        ),

        shared as (
            select predicted_id, true_id, count(*) as n
            from labelled
            group by predicted_id, true_id
        ),

        shared_sized as (
            select s.n, p.n as predicted_n, t.n as true_n
            from shared as s
            inner join predicted as p using (predicted_id)
            inner join truth as t using (true_id)
        )

        select
            (select count(*) from labelled),
            (select count(*) from predicted),
            (select count(*) from truth),
            (select count(*) from shared_sized where n = predicted_n and n = true_n),
            (select sum(n * n / predicted_n) from shared_sized),
            (select sum(n * n / true_n) from shared_sized),
            (select coalesce(sum(n * (n - 1) // 2), 0) from predicted),
            (select coalesce(sum(n * (n - 1) // 2), 0) from truth),
            (select coalesce(sum(n * (n - 1) // 2), 0) from shared)
    """,
    )
    records, predicted_clusters, true_clusters, exact = (int(v) for v in row[:4])
    if records == 0:
        return None

    b_cubed_precision = float(row[4]) / records
    b_cubed_recall = float(row[5]) / records
    return ClusterMetrics(
        records=records,
        predicted_clusters=predicted_clusters,
        true_clusters=true_clusters,
        exact_clusters=exact,
        b_cubed_precision=b_cubed_precision,
        b_cubed_recall=b_cubed_recall,
        b_cubed_f1=_harmonic_mean(b_cubed_precision, b_cubed_recall),
        exact_cluster_precision=exact / predicted_clusters,
        exact_cluster_recall=exact / true_clusters,
        adjusted_rand_index=_adjusted_rand_index(records, *(int(v) for v in row[6:])),
    )


# Fields the matcher compares. A record with none of them can be linked only through
# an identifier it shares with another record.
EVIDENCE_COLUMNS = (
    "first_name last_name email phone birth_date street postal_code".split()
)


def linkable_records_sql(person_records: str, identifiers: str) -> str:
    """Return a query of the record_keys that carry anything to link them by.

    A record is linkable when it has at least one of ``EVIDENCE_COLUMNS`` or shares
    an identifier value with another record. Any other record (an anonymous web
    device that never logged in, say) contains nothing to match on, so
    no method can place it with its person. Scores restricted to linkable records
    separate what the matcher missed from what the data cannot tell.
    """
    evidence = " or ".join(f"{column} is not null" for column in EVIDENCE_COLUMNS)
    return f"""(
        select record_key from {person_records} where {evidence}
        union
        select record_key from {identifiers}
        where (identifier_type, identifier_value) in (
            select identifier_type, identifier_value
            from {identifiers}
            group by identifier_type, identifier_value
            having count(distinct record_key) > 1
        )
    )"""


def _harmonic_mean(precision: float, recall: float) -> float:
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def _adjusted_rand_index(
    records: int, predicted_pairs: int, true_pairs: int, correct_pairs: int
) -> float | None:
    # On pair counts: the number of correct pairs expected from random groupings
    # with the same cluster sizes is subtracted from the count and from its maximum.
    all_pairs = records * (records - 1) // 2
    if all_pairs == 0:
        return None
    expected = predicted_pairs * true_pairs / all_pairs
    maximum = (predicted_pairs + true_pairs) / 2
    if maximum == expected:
        return None
    return (correct_pairs - expected) / (maximum - expected)


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
