"""The Dagster asset that writes ``<reports>/kpi/<run date>/index.html``."""

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb

from ingestion.sources import SOURCES
from orchestration import settings
from orchestration.kpi_report.data import QUERY_TABLES, Rows, collect
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


def collect_with_spark(warehouse: DuckDBWarehouse) -> dict[str, Rows | None]:
    """Run the report queries on copies of their tables, for ``CDP_ENGINE=spark``.

    The marts come from the Spark catalog, the identity metrics and the load log
    from the DuckDB file, all into an in-memory DuckDB database. The marts it
    reads are aggregates, except segment_membership_history with one row per
    segment stay.
    """
    from orchestration.spark_session import spark_session
    from orchestration.spark_tables import copy_from_spark, spark_table_exists

    tables = sorted(set(QUERY_TABLES.values()))
    with duckdb.connect() as report_con:
        with warehouse.connect(read_only=True) as con:
            for schema, table in tables:
                if schema != "marts" and _duckdb_table_exists(con, schema, table):
                    rows = con.sql(f"select * from {schema}.{table}")
                    report_con.register("copied_rows", rows.to_arrow_table())
                    report_con.execute(f"create schema if not exists {schema}")
                    report_con.execute(
                        f"create table {schema}.{table} as select * from copied_rows"
                    )
                    report_con.unregister("copied_rows")
        for schema, table in tables:
            name = f"{schema}.{table}"
            if schema == "marts" and spark_table_exists(spark_session(), name):
                copy_from_spark(report_con, name, name)
        return collect(report_con)


def _duckdb_table_exists(
    con: duckdb.DuckDBPyConnection, schema: str, table: str
) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? "
            "and table_name = ? and table_catalog = current_database()",
            [schema, table],
        ).fetchall()[0][0]
    )


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
        if settings.engine() == "spark":
            results = collect_with_spark(warehouse)
        else:
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
