"""The staging suites of incremental models check the rows of the latest write.

A night that adds 1% of the orders validates that 1%, because earlier nights
validated the rows they wrote. Models without ``_processed_at`` are checked whole.
"""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from orchestration.quality_checks import build_staging_check
from orchestration.resources import DuckDBWarehouse

EARLIER = "2026-11-30 02:00:00"
LATEST = "2026-12-01 02:00:00"


def write_orders(path, rows, with_watermark=True):
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists staging")
        watermark = ", _processed_at timestamp" if with_watermark else ""
        con.execute(
            "create or replace table staging.stg_shop__orders "
            f"(order_id varchar, total decimal(12, 2){watermark})"
        )
        for row in rows:
            values = row if with_watermark else row[:2]
            marks = ", ".join("?" for _ in values)
            con.execute(
                f"insert into staging.stg_shop__orders values ({marks})", values
            )


def run_check(path):
    check = build_staging_check("stg_shop__orders")
    context = dg.build_asset_check_context()
    return check(context, warehouse=DuckDBWarehouse(path=str(path)))


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    monkeypatch.setenv("CDP_ENGINE", "duckdb")
    return tmp_path / "warehouse.duckdb"


def earlier_orders(count, total="10.00"):
    return [(f"#{n}", total, EARLIER) for n in range(count)]


def test_check_reads_latest_write_only(warehouse):
    # The earlier night's check reported its negative total. Tonight's rows are
    # valid, so tonight's check passes.
    rows = [*earlier_orders(50), ("#bad", "-5.00", EARLIER), ("#new", "12.00", LATEST)]
    write_orders(warehouse, rows)

    result = run_check(warehouse)

    assert result.passed
    assert result.metadata["rows_validated"].value == 1


def test_check_fails_on_bad_latest_row(warehouse):
    rows = [*earlier_orders(50), ("#new", "12.00", LATEST), ("#bad", "-5.00", LATEST)]
    write_orders(warehouse, rows)

    result = run_check(warehouse)

    assert not result.passed
    assert result.metadata["rows_validated"].value == 2
    assert (
        result.metadata["critical: expect_column_values_to_be_between(total)"].value
        == 1
    )


def test_check_reads_whole_table_without_watermark(warehouse):
    rows = [*earlier_orders(50), ("#bad", "-5.00", EARLIER), ("#new", "12.00", LATEST)]
    write_orders(warehouse, rows, with_watermark=False)

    result = run_check(warehouse)

    assert not result.passed
    assert result.metadata["rows_validated"].value == 52
