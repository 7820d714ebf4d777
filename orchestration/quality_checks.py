"""Great Expectations suites attached to Dagster assets as blocking checks.

A failing blocking check stops the assets downstream of it, so a broken golden
record never reaches the audience exports.

Dagster blocks only the steps that read a checked asset directly, and only when they
run in a later step than the asset. The staging models are built in the same dbt
step as the intermediate models, so their checks cannot stop those. The checks run
after that step. Identity resolution depends on the checked models (see
``identity/assets.py``), so a critical failure stops it. The marts read identity's
output, so they and the exports are skipped too. Every suite's thresholds are in
``ingestion/quality.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
import duckdb
import pandas as pd
from dagster import AssetCheckExecutionContext

from ingestion.quality import (
    STAGING_RULES,
    ExpectationOutcome,
    describe_critical,
    validate_frame,
)
from orchestration import settings
from orchestration.resources import DuckDBWarehouse

DIM_CUSTOMERS_COLUMNS = "customer_id, email, phone, has_email_consent"
STAGING_SCHEMA = "staging"
# The column in which the incremental models record the run that wrote a row.
WATERMARK = "_processed_at"


def staging_key(model: str) -> dg.AssetKey:
    """Return the dagster-dbt asset key of a staging model: ``staging/<model>``."""
    return dg.AssetKey([STAGING_SCHEMA, model])


@dg.asset_check(
    asset=dg.AssetKey(["marts", "dim_customers"]),
    name="great_expectations_suite",
    blocking=True,
    description="Great Expectations suite dim_customers: unique customer ids, valid "
    "email and E.164 phone, a consent flag on every row.",
)
def dim_customers_expectations(
    context, warehouse: DuckDBWarehouse
) -> dg.AssetCheckResult:
    frame = read_columns(
        warehouse, "marts.dim_customers", DIM_CUSTOMERS_COLUMNS.split(", ")
    )
    outcomes = validate_frame(frame, "dim_customers")
    log_critical(context, "marts/dim_customers", outcomes)
    return check_result(outcomes, rows_validated=len(frame))


def build_staging_check(model: str) -> dg.AssetChecksDefinition:
    """Build the blocking Great Expectations check of one staging model."""
    rules = STAGING_RULES[model]

    @dg.asset_check(
        asset=staging_key(model),
        name="great_expectations_suite",
        blocking=True,
        description=f"Great Expectations suite {model}: at least one row, unique "
        "and present keys, and a minimum share of rows with the fields identity "
        "resolution and the marts read. Critical failures stop identity "
        "resolution and so the marts and the exports; warnings are recorded "
        "here and do not block.",
    )
    def _check(context, warehouse: DuckDBWarehouse) -> dg.AssetCheckResult:
        table = f"{STAGING_SCHEMA}.{model}"
        newest_only = settings.engine() == "duckdb" and has_watermark(warehouse, model)
        frame = read_columns(warehouse, table, rules.columns, newest_only=newest_only)
        outcomes = validate_frame(frame, model)
        log_critical(context, f"{STAGING_SCHEMA}/{model}", outcomes)
        return check_result(outcomes, rows_validated=len(frame))

    _check.__name__ = f"check_{model}_expectations"
    return _check


def has_watermark(warehouse: DuckDBWarehouse, model: str) -> bool:
    """Return whether the staging model is incremental (has ``_processed_at``)."""
    with warehouse.connect(read_only=True) as con:
        found = con.execute(
            "select count(*) from information_schema.columns "
            "where table_schema = ? and table_name = ? and column_name = ?",
            [STAGING_SCHEMA, model, WATERMARK],
        ).fetchall()
    return found[0][0] > 0


def read_columns(
    warehouse: DuckDBWarehouse,
    table: str,
    columns: Sequence[str],
    newest_only: bool = False,
) -> pd.DataFrame:
    """Read ``columns`` of ``table`` from the engine's warehouse into pandas.

    ``newest_only`` keeps the rows of an incremental model's latest write, those
    with the newest ``_processed_at``: a night that adds 1% of the events checks
    that 1%, and a first night or a full refresh checks every row. Uniqueness
    across the whole table stays covered by the dbt tests.

    With ``CDP_ENGINE=spark`` the table is read from the Spark catalog, through an
    in-memory DuckDB database.
    """
    if settings.engine() == "spark":
        from orchestration.spark_tables import copy_from_spark

        selected = ", ".join(f"`{c}`" for c in columns)
        with duckdb.connect() as con:
            copy_from_spark(con, f"select {selected} from {table}", "checked_rows")
            return con.execute("select * from checked_rows").df()

    selected = ", ".join(f'"{c}"' for c in columns)
    newest = (
        f" where {WATERMARK} = (select max({WATERMARK}) from {table})"
        if newest_only
        else ""
    )
    with warehouse.connect(read_only=True) as con:
        return con.execute(f"select {selected} from {table}{newest}").df()


def log_critical(
    context: AssetCheckExecutionContext,
    asset: str,
    outcomes: Sequence[ExpectationOutcome],
) -> None:
    """Log one error line naming the failed critical expectations, if any."""
    described = describe_critical(list(outcomes))
    if described:
        context.log.error(f"{asset}: Great Expectations suite failed: {described}")


def check_result(
    outcomes: Sequence[ExpectationOutcome], rows_validated: int
) -> dg.AssetCheckResult:
    """Turn suite outcomes into a check result that blocks on critical failures.

    Warnings alone give a failed check of severity WARN, which Dagster shows but
    which does not block downstream assets.
    """
    critical = [o for o in outcomes if not o.success and o.severity == "critical"]
    warnings = [o for o in outcomes if not o.success and o.severity != "critical"]
    metadata: dict[str, object] = {
        _metadata_label(o): o.unexpected_count or 0 for o in outcomes
    }
    metadata |= {
        "rows_validated": rows_validated,
        "critical_failures": len(critical),
        "warnings": len(warnings),
        "expectations": dg.MetadataValue.md(outcome_table(outcomes)),
    }
    if critical:
        severity = dg.AssetCheckSeverity.ERROR
    else:
        severity = dg.AssetCheckSeverity.WARN
    return dg.AssetCheckResult(
        passed=not critical and not warnings, severity=severity, metadata=metadata
    )


def outcome_table(outcomes: Sequence[ExpectationOutcome]) -> str:
    """Render one Markdown row per expectation with its unexpected count and share."""
    lines = [
        "| severity | expectation | column | passed | unexpected rows | unexpected % "
        "| required share | observed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        percent = "" if o.unexpected_percent is None else f"{o.unexpected_percent:.2f}"
        lines.append(
            f"| {o.severity} | {o.expectation} | {o.column or ''} "
            f"| {'yes' if o.success else 'no'} | {_blank_if_none(o.unexpected_count)} "
            f"| {percent} | {_blank_if_none(o.mostly)} "
            f"| {_blank_if_none(o.observed_value)} |"
        )
    return "\n".join(lines)


def _metadata_label(outcome: ExpectationOutcome) -> str:
    return f"{outcome.severity}: {outcome.expectation}({outcome.column or ''})"


def _blank_if_none(value: object) -> str:
    return "" if value is None else str(value)


staging_checks = [build_staging_check(model) for model in STAGING_RULES]
