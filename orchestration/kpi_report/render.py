"""Turn the report figures into one self-contained HTML page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import jinja2

from orchestration.kpi_report import svg
from orchestration.kpi_report.data import MAX_COHORT_MONTHS, Rows

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class CheckResult:
    """The newest evaluation of one Dagster asset check."""

    asset: str
    check: str
    outcome: str
    evaluated_at: str


def _float(value) -> float | None:
    return None if value is None else float(value)


def format_cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def monthly_charts(monthly: Rows | None) -> dict[str, str]:
    if not monthly or not monthly.rows:
        return {}
    months = monthly.column("month")
    revenue = svg.Series(
        "revenue (EUR)", [_float(v) for v in monthly.column("revenue_eur")]
    )
    new = svg.Series(
        "new customers", [_float(v) for v in monthly.column("new_customers")]
    )
    returning = svg.Series(
        "returning customers",
        [_float(v) for v in monthly.column("returning_customers")],
    )
    return {
        "revenue": svg.bar_chart(months, [revenue], "Revenue by month in EUR"),
        "customers": svg.bar_chart(
            months, [new, returning], "New and returning customers", stacked=True
        ),
    }


def cohort_heatmap(cohorts: Rows | None) -> str | None:
    if not cohorts or not cohorts.rows:
        return None
    names = sorted(set(cohorts.column("cohort")))
    offsets = [str(month) for month in range(MAX_COHORT_MONTHS)]
    grid: list[list[float | None]] = [[None] * len(offsets) for _ in names]
    sizes: dict[str, int] = {}
    for row in cohorts.dicts():
        grid[names.index(row["cohort"])][row["months_since_first_order"]] = _float(
            row["retention_rate"]
        )
        sizes[row["cohort"]] = row["cohort_customers"]
    labels = [f"{name} ({sizes[name]:,})" for name in names]
    return svg.heatmap(labels, offsets, grid, "Cohort retention")


def segment_chart(segment_sizes: Rows | None) -> str | None:
    if not segment_sizes or not segment_sizes.rows:
        return None
    days = sorted(set(segment_sizes.column("day")))
    segments = sorted(set(segment_sizes.column("segment_name")))
    members = {
        (r["day"], r["segment_name"]): r["members"] for r in segment_sizes.dicts()
    }
    series = [
        svg.Series(name, [_float(members.get((day, name), 0)) for day in days])
        for name in segments
    ]
    return svg.line_chart(days, series, "Segment members over time")


def render_report(
    results: dict[str, Rows | None],
    checks: list[CheckResult] | None,
    run_date: date,
) -> str:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["cell"] = format_cell
    environment.filters["label"] = lambda name: name.replace("_", " ")
    charts = monthly_charts(results["monthly"])
    return environment.get_template("kpi_report.html").render(
        run_date=run_date,
        results=results,
        checks=checks,
        revenue_chart=charts.get("revenue"),
        customers_chart=charts.get("customers"),
        cohort_chart=cohort_heatmap(results["cohorts"]),
        segment_chart=segment_chart(results["segment_sizes"]),
    )
