"""The accuracy benchmark on a small hard-mode sample, through its real command.

One run of ``python -m identity.benchmark --dataset hard`` generates 300 customers,
loads them with the real loader and dbt, and scores all three methods. The
recordlinkage method needs an interpreter with recordlinkage 0.16, which cannot share
this project's pandas 3, so its checks skip when none is configured.
"""

from __future__ import annotations

import json
from datetime import date

import duckdb
import numpy as np
import pytest

from identity.benchmark import __main__ as benchmark
from identity.benchmark.datasets import GROUND_TRUTH
from identity.benchmark.methods import MethodUnavailable, find_recordlinkage_python
from identity.benchmark.runner import EXACT_EMAIL, METHODS, PROJECT, RECORDLINKAGE
from ingestion.generator.clock import TimeWindow
from ingestion.generator.countries import COUNTRIES
from ingestion.generator.hard_mode import add_twins, hard_mode_settings
from ingestion.generator.people import draw_people
from ingestion.generator.pools import build_pools

# Generating and building a hard-mode warehouse takes about a minute, so these run
# with the benchmarks (make test-slow), not in make test.
pytestmark = pytest.mark.slow

CUSTOMERS = 300
SEED = 42
SCORES = (
    "precision",
    "recall",
    "f1",
    "b_cubed_precision",
    "b_cubed_recall",
    "b_cubed_f1",
    "exact_cluster_recall",
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("benchmark")
    results_path = folder / "results" / "identity_accuracy.jsonl"
    exit_code = benchmark.main(
        [
            "--dataset",
            "hard",
            "--customers",
            str(CUSTOMERS),
            "--seed",
            str(SEED),
            "--work-dir",
            str(folder / "work"),
            "--results",
            str(results_path),
            "--page",
            str(folder / "BENCHMARKS.md"),
        ]
    )
    lines = results_path.read_text(encoding="utf-8").splitlines()
    return {
        "exit_code": exit_code,
        "lines": lines,
        "record": json.loads(lines[-1]),
        "warehouse": folder / "work" / "hard" / "warehouse.duckdb",
    }


def results_by_method(run) -> dict[str, dict]:
    return {result["method"]: result for result in run["record"]["results"]}


def recordlinkage_available() -> bool:
    try:
        find_recordlinkage_python(None)
    except MethodUnavailable:
        return False
    return True


def test_command_appends_one_record(run):
    assert run["exit_code"] == 0
    assert len(run["lines"]) == 1
    assert run["record"]["customers"] == CUSTOMERS
    assert run["record"]["machine"]["cpu_count"] >= 1


def test_command_checks_hard_mode_targets(run):
    targets = run["record"]["targets"]

    assert [(t["dataset"], t["score"]) for t in targets] == [
        ("hard", "precision"),
        ("hard", "recall, linkable"),
    ]
    assert all(isinstance(t["passed"], bool) for t in targets)


def test_command_reports_all_three_methods(run):
    results = results_by_method(run)

    assert set(results) == set(METHODS)
    assert {result["dataset"] for result in results.values()} == {"hard"}


@pytest.mark.parametrize("method", [EXACT_EMAIL, PROJECT])
def test_scores_are_between_zero_and_one(run, method):
    result = results_by_method(run)[method]

    assert not result["skipped"]
    for score in SCORES:
        assert 0.0 <= result[score] <= 1.0, score
    assert -1.0 <= result["adjusted_rand_index"] <= 1.0
    assert result["seconds"] >= 0


@pytest.mark.parametrize("method", [EXACT_EMAIL, PROJECT])
def test_recall_stays_under_the_ceiling_of_linkable_records(run, method):
    result = results_by_method(run)[method]

    # Hard mode has anonymous web devices with nothing to match on, so the ceiling
    # is below one, and no method links such a record to its person.
    assert 0.5 < result["recall_ceiling"] < 1.0
    assert result["recall"] <= result["recall_ceiling"] + 1e-9
    assert result["recall"] <= result["linkable_recall"] <= 1.0


def test_recordlinkage_scores_are_between_zero_and_one(run):
    if not recordlinkage_available():
        pytest.skip("no interpreter with recordlinkage 0.16 configured")
    result = results_by_method(run)[RECORDLINKAGE]

    assert not result["skipped"]
    for score in SCORES:
        assert 0.0 <= result[score] <= 1.0, score


def test_recordlinkage_skip_gives_reason(run):
    if recordlinkage_available():
        pytest.skip("recordlinkage is configured, so the method ran")
    result = results_by_method(run)[RECORDLINKAGE]

    assert result["skipped"]
    assert result["precision"] is None
    assert "recordlinkage" in result["detail"]


def test_ground_truth_has_shared_household_emails(run):
    with duckdb.connect(str(run["warehouse"]), read_only=True) as con:
        shared = con.execute(f"""
            with records as (
                select lower(trim(p.email)) as email, t.person_id
                from intermediate.int_person_records as p
                inner join {GROUND_TRUTH} as t using (record_key)
                where p.email is not null
            )

            select count(*) from (
                select email from records
                group by email
                having count(distinct person_id) > 1
            )
        """).fetchall()[0][0]

    assert shared > 0


def test_ground_truth_has_twin_records(run):
    # Twins: two persons whose records share last name, birth date and postal code
    # under different first names.
    with duckdb.connect(str(run["warehouse"]), read_only=True) as con:
        twins = con.execute(f"""
            with records as (
                select p.*, t.person_id
                from intermediate.int_person_records as p
                inner join {GROUND_TRUTH} as t using (record_key)
                where p.birth_date is not null
            )

            select count(*)
            from records as l
            inner join records as r
                on l.last_name = r.last_name
                and l.birth_date = r.birth_date
                and l.postal_code = r.postal_code
                and l.person_id < r.person_id
                and l.first_name <> r.first_name
        """).fetchall()[0][0]

    assert twins > 0


def test_twins_share_birth_date_and_home():
    settings = hard_mode_settings()
    rng = np.random.default_rng(SEED)
    pools = build_pools(COUNTRIES, SEED)
    people = draw_people(
        rng, 2000, pools, TimeWindow.before(date(2026, 11, 30)), settings.person
    )

    pairs = add_twins(rng, people, pools, settings.person.twins)

    siblings, twins = pairs[:, 0], pairs[:, 1]
    assert len(pairs) == round(2000 * settings.person.twins)
    assert (people.birth_date[siblings] == people.birth_date[twins]).all()
    assert (people.last_name[siblings] == people.last_name[twins]).all()
    assert (people.home.street[siblings] == people.home.street[twins]).all()
    assert (people.first_name[siblings] != people.first_name[twins]).all()
    assert (people.email[siblings] != people.email[twins]).all()
