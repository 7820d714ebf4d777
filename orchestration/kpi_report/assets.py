"""The Dagster asset that writes ``<reports>/kpi/<run date>/index.html``."""

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from ingestion.sources import SOURCES
from orchestration import settings
from orchestration.kpi_report.data import collect
from orchestration.kpi_report.render import CheckResult, render_report
from orchestration.resources import DuckDBWarehouse

UPSTREAM = [
    dg.AssetKey(["marts", "mgmt_kpis_monthly"]),
    dg.AssetKey(["marts", "mgmt_cohort_retention"]),
    dg.AssetKey(["marts", "segment_membership_history"]),
    dg.AssetKey(["marts", "campaign_performance"]),
    dg.AssetKey(["identity", "record_customers"]),
    *[dg.AssetKey(["raw", source.name]) for source in SOURCES],
]


def report_path(run_date) -> Path:
    return settings.reports_dir() / "kpi" / str(run_date) / "index.html"


def latest_check_results(
    instance: dg.DagsterInstance, check_keys: list[dg.AssetCheckKey]
) -> list[CheckResult]:
    """Read the newest evaluation of each asset check from Dagster's event log.

    The Great Expectations suites and the load checks store their results there,
    not in the warehouse. Checks that never ran are left out.
    """
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        check_keys
    )
    results = []
    for key in sorted(check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        record = records.get(key)
        # A planned record belongs to a run that has not evaluated the check yet.
        if record is None or record.status.value == "PLANNED":
            continue
        evaluation = record.evaluation
        if evaluation is None:
            outcome = "error, no result"
        elif evaluation.passed:
            outcome = "passed"
        else:
            outcome = f"failed ({evaluation.severity.value.lower()})"
        evaluated_at = datetime.fromtimestamp(record.create_timestamp, UTC)
        results.append(
            CheckResult(
                asset=key.asset_key.to_user_string(),
                check=key.name,
                outcome=outcome,
                evaluated_at=evaluated_at.strftime("%Y-%m-%d %H:%M"),
            )
        )
    return results


def build_kpi_report(check_keys: Sequence[dg.AssetCheckKey]) -> dg.AssetsDefinition:
    """Build the report asset; its data-quality section lists ``check_keys``.

    The keys are passed in because a run of the report alone does not carry the
    rest of the graph, so the asset cannot look its checks up at run time.
    """

    @dg.asset(
        key=dg.AssetKey(["reports", "kpi"]),
        deps=UPSTREAM,
        group_name="reports",
        kinds={"html"},
        owners=["team:analytics-engineering"],
        description="KPI report for management: revenue, new and returning "
        "customers, cohort retention, segment sizes, campaigns, identity resolution "
        "and data quality, as one HTML page with inline SVG charts that opens "
        "offline. Aggregates only, no personal data.",
    )
    def kpi_report(
        context: dg.AssetExecutionContext, warehouse: DuckDBWarehouse
    ) -> dg.MaterializeResult:
        with warehouse.connect(read_only=True) as con:
            results = collect(con)
        checks = latest_check_results(context.instance, list(check_keys))

        run_date = settings.run_date()
        path = report_path(run_date)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_report(results, checks, run_date), encoding="utf-8")

        missing = sorted(name for name, rows in results.items() if rows is None)
        context.log.info(
            f"wrote the KPI report to {path}: {len(checks)} check results, "
            f"{len(missing)} sections without data"
        )
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(path)),
                "months": len(results["monthly"].rows) if results["monthly"] else 0,
                "check_results": len(checks),
                "sections_without_data": ", ".join(missing) or "none",
            }
        )

    return kpi_report
