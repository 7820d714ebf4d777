"""Pairwise and cluster-level scores on groupings small enough to count by hand."""

from __future__ import annotations

import duckdb
import pytest

from identity.evaluation import (
    evaluate_against_ground_truth,
    score_clusters,
    score_groupings,
)


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def load_grouping(con, rows: list[tuple[str, str, str]]) -> None:
    con.execute(
        "create or replace table grouping "
        "(record_key varchar, predicted_id varchar, true_id varchar)"
    )
    con.executemany("insert into grouping values (?, ?, ?)", rows)


def test_scores_match_hand_computed_values(con):
    # Predicted {a, b, c}, {d}, {e, f}; true {a, b}, {c, d}, {e, f}.
    # Predicted pairs: ab ac bc ef = 4. True pairs: ab cd ef = 3. Correct: ab ef = 2.
    load_grouping(
        con,
        [
            ("a", "P1", "T1"),
            ("b", "P1", "T1"),
            ("c", "P1", "T2"),
            ("d", "P2", "T2"),
            ("e", "P3", "T3"),
            ("f", "P3", "T3"),
        ],
    )

    metrics = score_groupings(con, "grouping")

    assert metrics.records == 6
    assert metrics.predicted_pairs == 4
    assert metrics.true_pairs == 3
    assert metrics.correct_pairs == 2
    assert metrics.precision == pytest.approx(0.5)
    assert metrics.recall == pytest.approx(2 / 3)
    assert metrics.f1 == pytest.approx(4 / 7)


def test_scores_are_none_when_no_pair_is_predicted(con):
    load_grouping(con, [("a", "P1", "T1"), ("b", "P2", "T1")])

    metrics = score_groupings(con, "grouping")

    assert metrics.predicted_pairs == 0
    assert metrics.precision is None
    assert metrics.recall == 0.0
    assert metrics.f1 is None


def test_ground_truth_csv_is_joined_on_record_key(con, tmp_path):
    con.execute(
        "create table clusters as select * from (values "
        "('crm_contacts:1', 'cus_a'), ('shop_orders:#1001', 'cus_a'), "
        "('email_activity:anna@web.de', 'cus_b'), ('social_leads:9', 'cus_c')"
        ") as t(record_key, customer_id)"
    )
    ground_truth = tmp_path / "ground_truth.csv"
    ground_truth.write_text(
        "source,source_record_id,person_id\n"
        "crm_contacts,1,p1\n"
        "shop_orders,#1001,p1\n"
        "email_activity,anna@web.de,p1\n",
        encoding="utf-8",
    )

    metrics = evaluate_against_ground_truth(con, "clusters", ground_truth)

    assert metrics.records == 3
    assert metrics.predicted_pairs == 1
    assert metrics.true_pairs == 3
    assert metrics.precision == pytest.approx(1.0)
    assert metrics.recall == pytest.approx(1 / 3)


def test_cluster_scores_match_hand_computed_values(con):
    # Predicted {a, b, c}, {d}, {e, f}; true {a, b}, {c, d}, {e, f}.
    # B-cubed precision per record: 2/3 2/3 1/3 1 1 1, recall: 1 1 1/2 1/2 1 1.
    # Only {e, f} is an exact cluster. Adjusted Rand index from the pair counts:
    # expected correct pairs 4 * 3 / 15 = 0.8, so (2 - 0.8) / (3.5 - 0.8) = 4/9.
    load_grouping(
        con,
        [
            ("a", "P1", "T1"),
            ("b", "P1", "T1"),
            ("c", "P1", "T2"),
            ("d", "P2", "T2"),
            ("e", "P3", "T3"),
            ("f", "P3", "T3"),
        ],
    )

    metrics = score_clusters(con, "grouping")

    assert metrics.records == 6
    assert metrics.predicted_clusters == 3
    assert metrics.true_clusters == 3
    assert metrics.exact_clusters == 1
    assert metrics.b_cubed_precision == pytest.approx(7 / 9)
    assert metrics.b_cubed_recall == pytest.approx(5 / 6)
    assert metrics.b_cubed_f1 == pytest.approx(2 * (7 / 9) * (5 / 6) / (7 / 9 + 5 / 6))
    assert metrics.exact_cluster_precision == pytest.approx(1 / 3)
    assert metrics.exact_cluster_recall == pytest.approx(1 / 3)
    assert metrics.adjusted_rand_index == pytest.approx(4 / 9)


def test_cluster_scores_of_perfect_grouping(con):
    load_grouping(con, [("a", "P1", "T1"), ("b", "P1", "T1"), ("c", "P2", "T2")])

    metrics = score_clusters(con, "grouping")

    assert metrics.b_cubed_precision == pytest.approx(1.0)
    assert metrics.b_cubed_recall == pytest.approx(1.0)
    assert metrics.exact_cluster_precision == pytest.approx(1.0)
    assert metrics.exact_cluster_recall == pytest.approx(1.0)
    assert metrics.adjusted_rand_index == pytest.approx(1.0)


def test_adjusted_rand_index_undefined_for_singletons(con):
    load_grouping(con, [("a", "P1", "T1"), ("b", "P2", "T2")])

    metrics = score_clusters(con, "grouping")

    assert metrics.adjusted_rand_index is None
    assert metrics.exact_cluster_recall == pytest.approx(1.0)


def test_cluster_scores_none_without_records(con):
    con.execute("create table grouping (predicted_id varchar, true_id varchar)")

    assert score_clusters(con, "grouping") is None
