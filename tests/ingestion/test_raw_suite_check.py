"""The raw sources' Great Expectations check, run on a real DuckDB warehouse.

A source without rules of its own gets the suite every source has (at least one
row). A source that has not delivered any file yet warns instead of stopping the
night, and a critical failure names the failed expectation in the run's log.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from ingestion.assets import build_quality_check
from ingestion.loader import load_source
from ingestion.quality import RAW_RULES, validate_frame
from ingestion.sources import Source
from orchestration.resources import DuckDBWarehouse

NEW_SOURCE = Source(
    name="erp_orders",
    description="Orders from an ERP, one row per order.",
    file_pattern="erp_orders_*.csv",
    file_format="csv",
    columns={"Belegnummer": "order_id", "Betrag": "amount"},
    required=("order_id",),
    key=("order_id",),
)


def test_source_without_rules_gets_row_count_suite():
    assert NEW_SOURCE.name not in RAW_RULES

    outcomes = validate_frame(pd.DataFrame({"order_id": []}), "raw_erp_orders")

    assert [(o.expectation, o.success) for o in outcomes] == [
        ("expect_table_row_count_to_be_between", False)
    ]


def run_check(warehouse: Path) -> tuple[dg.AssetCheckEvaluation, str]:
    """Run the check in a Dagster run and return its evaluation and the run's log."""

    @dg.asset(key=["raw", NEW_SOURCE.table])
    def raw_table() -> None:
        return None

    resource = DuckDBWarehouse(path=str(warehouse))
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [raw_table, build_quality_check(NEW_SOURCE)],
            resources={"warehouse": resource},
            instance=instance,
            raise_on_error=False,
        )
        log = "\n".join(
            entry.user_message for entry in instance.all_logs(result.run_id)
        )
    return result.get_asset_check_evaluations()[0], log


def load(warehouse: Path, landing: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        load_source(con, NEW_SOURCE, landing)


def test_source_without_files_only_warns(tmp_path: Path):
    warehouse = tmp_path / "warehouse.duckdb"
    load(warehouse, tmp_path / "landing")

    evaluation, log = run_check(warehouse)

    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert "no extract of source erp_orders has been loaded yet" in log


@pytest.mark.parametrize(
    ("lines", "passed"),
    [(["Belegnummer,Betrag", "B-1,10"], True), (["Belegnummer,Betrag"], False)],
)
def test_newest_extract_decides(tmp_path: Path, lines, passed):
    folder = tmp_path / "landing" / NEW_SOURCE.landing_folder
    folder.mkdir(parents=True)
    (folder / "erp_orders_2026-12-05.csv").write_text("\n".join(lines) + "\n")
    warehouse = tmp_path / "warehouse.duckdb"
    load(warehouse, tmp_path / "landing")

    evaluation, log = run_check(warehouse)

    assert evaluation.passed is passed
    failure_logged = "expect_table_row_count_to_be_between(): observed 0" in log
    assert failure_logged is not passed
