"""Health metrics and the asset checks on identity/record_customers, in Dagster."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from identity.assets import identity_resolution
from identity.health import compute_cluster_metrics
from identity.resolve import resolve_identities
from orchestration.resources import DuckDBWarehouse
from tests.identity.conftest import write_warehouse


def people(person_record, count: int, shared_email: bool) -> list:
    """``count`` persons with two records each, sharing an email when asked."""
    records = []
    for person in range(count):
        for source in ("crm", "shop"):
            email = (
                f"p{person}@example.com" if shared_email else f"{source}{person}@x.de"
            )
            records.append(
                person_record(
                    source, str(person), first_name=f"Name{person}", email=email
                )
            )
    return records


def materialize(path, succeeds: bool = True) -> dict[str, dg.AssetCheckEvaluation]:
    result = dg.materialize(
        [identity_resolution],
        resources={"warehouse": DuckDBWarehouse(path=str(path))},
        raise_on_error=False,
    )
    # A failed blocking check fails the run, so downstream assets do not start.
    assert result.success is succeeds
    return {
        evaluation.check_name: evaluation
        for evaluation in result.get_asset_check_evaluations()
    }


@pytest.fixture(autouse=True)
def no_ground_truth(monkeypatch, tmp_path):
    monkeypatch.setenv("CDP_GROUND_TRUTH", str(tmp_path / "missing.csv"))
    monkeypatch.setenv("CDP_REPORTS", str(tmp_path / "reports"))


def test_cluster_metrics_count_sizes(build_warehouse, person_record):
    records = people(person_record, 3, shared_email=True) + [
        person_record("crm", "alone", first_name="Solo")
    ]
    con = build_warehouse(records)

    resolve_identities(con)
    metrics = compute_cluster_metrics(con, large_cluster_size=1)

    assert metrics.records == 7
    assert metrics.customers == 4
    assert metrics.largest_cluster_size == 2
    assert metrics.large_clusters == 3
    assert metrics.merged_record_share == pytest.approx(6 / 7)
    assert metrics.merge_rate == pytest.approx(3 / 7)


def test_checks_pass_on_stable_runs(tmp_path, person_record):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        write_warehouse(con, people(person_record, 4, shared_email=False))

    materialize(path)
    checks = materialize(path)

    assert set(checks) == {
        "largest_cluster_size",
        "large_clusters",
        "merged_record_share",
        "merge_rate_change",
    }
    assert all(check.passed for check in checks.values())


def test_merge_rate_jump_fails(tmp_path, person_record):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        write_warehouse(con, people(person_record, 4, shared_email=False))
    materialize(path)

    with duckdb.connect(str(path)) as con:
        write_warehouse(con, people(person_record, 4, shared_email=True))
    checks = materialize(path, succeeds=False)

    jump = checks["merge_rate_change"]
    assert not jump.passed
    assert jump.severity == dg.AssetCheckSeverity.ERROR
    assert jump.metadata["merge_rate_change"].value == pytest.approx(0.5)
    assert not checks["merged_record_share"].passed
    assert checks["largest_cluster_size"].passed
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute("select count(*) from identity.cluster_metrics").fetchall()
    assert rows == [(2,)]
