"""The KPI report asset, materialized by Dagster on the small warehouse."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.kpi_report.assets import build_kpi_report
from orchestration.resources import DuckDBWarehouse

RUN_DATE = "2026-11-30"


@dg.asset(key=dg.AssetKey(["raw", "shop_orders"]))
def shop_orders_stand_in() -> None:
    """An upstream asset of the report whose check fails with a warning."""


@dg.asset_check(asset=shop_orders_stand_in)
def rows_accounted_for() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN)


kpi_report = build_kpi_report(
    [
        rows_accounted_for.check_key,
        dg.AssetCheckKey(shop_orders_stand_in.key, "never_run"),
    ]
)


@pytest.fixture(scope="module")
def environment(tmp_path_factory) -> Path:
    """Point the reports folder at a temporary one; return the report's path."""
    reports = tmp_path_factory.mktemp("reports")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDP_REPORTS", str(reports))
        patch.setenv("CDP_RUN_DATE", RUN_DATE)
        yield reports / "kpi" / RUN_DATE / "index.html"


def materialize_report(warehouse: Path, instance: dg.DagsterInstance) -> None:
    result = dg.materialize(
        [kpi_report],
        instance=instance,
        resources={"warehouse": DuckDBWarehouse(path=str(warehouse))},
    )
    assert result.success


@pytest.fixture(scope="module")
def report(small_warehouse, tmp_path_factory, environment) -> str:
    """Materialize the report twice on one instance; both runs write the same bytes."""
    warehouse = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    shutil.copyfile(small_warehouse, warehouse)
    with dg.DagsterInstance.ephemeral() as instance:
        check_run = dg.materialize(
            [shop_orders_stand_in, rows_accounted_for], instance=instance
        )
        assert check_run.success
        materialize_report(warehouse, instance)
        first = environment.read_bytes()
        materialize_report(warehouse, instance)
    assert environment.read_bytes() == first
    return first.decode("utf-8")


def personal_values(warehouse: Path) -> set[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select email, phone, first_name, last_name, street "
            "from marts.customer_source_records"
        ).fetchall()
    return {value for row in rows for value in row if value}


def test_report_has_every_section(report):
    for section in (
        'id="revenue"',
        'id="monthly-kpis"',
        'id="cohorts"',
        'id="segments"',
        'id="campaign-performance"',
        'id="identity-runs"',
        'id="cluster-metrics"',
        'id="load-totals"',
        'id="asset-checks"',
    ):
        assert section in report, section
    assert report.count("<svg") == 4


def test_report_shows_figures(report):
    # Max's CHF 700 order in January 2025, converted to EUR.
    assert "745.50" in report
    assert "2025-01" in report
    assert "Herbst" in report
    assert "lapsed_buyers" in report
    assert "missing required column order_name" in report
    assert "failed (warn)" in report
    assert "0 of 1\nasset checks" in report


def test_report_loads_nothing_from_network(report):
    assert "<script" not in report
    assert "<link" not in report
    addresses = set(re.findall(r"https?://[^\"' )]+", report))
    assert addresses == {"http://www.w3.org/2000/svg"}


def test_report_has_no_personal_data(report, small_warehouse):
    values = personal_values(small_warehouse)
    assert "anna.mueller@example.de" in values
    for value in values:
        assert value not in report, value


def test_report_without_marts_says_so(tmp_path, environment):
    warehouse = tmp_path / "empty.duckdb"
    duckdb.connect(str(warehouse)).close()
    with dg.DagsterInstance.ephemeral() as instance:
        materialize_report(warehouse, instance)
    page = environment.read_text()
    assert "No data: marts.mgmt_kpis_monthly does not exist yet" in page
    assert "No data: raw._load_log does not exist yet" in page
    assert "No asset check has run yet." in page
