"""A failing staging gate stops a real nightly run before identity resolution.

Runs ``cdp run`` in a subprocess on a small generated set with one order total made
negative. The raw checks and the dbt tests accept it, so only the Great Expectations
suite on ``staging/stg_shop__orders`` can stop the night.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from ingestion.generator import generate

PROJECT_ROOT = Path(__file__).resolve().parents[2]
GATE_STEP = "staging__stg_shop__orders_great_expectations_suite"


def make_first_order_total_negative(landing: Path) -> None:
    path = next((landing / "shop_orders").glob("shop_orders_*.csv"))
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    total = rows[0].index("Total")
    first_order = next(row for row in rows[1:] if row[total])
    first_order[total] = "-" + first_order[total]
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)


def isolated_env(root: Path) -> dict[str, str]:
    return os.environ | {
        "CDP_WAREHOUSE": str(root / "warehouse.duckdb"),
        "CDP_LANDING_DIR": str(root / "landing"),
        "CDP_GROUND_TRUTH": str(root / "ground_truth" / "ground_truth.csv"),
        "CDP_OUTBOX": str(root / "outbox"),
        "CDP_REPORTS": str(root / "reports"),
        "CDP_RUN_DATE": "2026-11-30",
        "DAGSTER_HOME": str(root / "dagster"),
        "PYTHONPATH": os.pathsep.join(
            [str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]
        ),
    }


@pytest.fixture(scope="module")
def blocked_night(tmp_path_factory):
    root = tmp_path_factory.mktemp("gate")
    generate(customers=30, seed=11, out=root)
    make_first_order_total_negative(root / "landing")

    result = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "run"],
        env=isolated_env(root),
        cwd=root,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return root, result


def tables_in(warehouse: Path, schema: str) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select table_name from information_schema.tables where table_schema = ?",
            [schema],
        ).fetchall()
    return [row[0] for row in rows]


def test_negative_total_fails_the_night(blocked_night):
    _, result = blocked_night

    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert GATE_STEP in result.stderr


def test_staging_built_identity_and_marts_skipped(blocked_night):
    root, _ = blocked_night
    warehouse = root / "warehouse.duckdb"

    assert "stg_shop__orders" in tables_in(warehouse, "staging")
    assert "int_person_records" in tables_in(warehouse, "intermediate")
    assert tables_in(warehouse, "identity") == []
    assert tables_in(warehouse, "marts") == []
    assert not (root / "outbox").exists()


def test_gate_metadata_counts_unexpected_rows(blocked_night):
    root, _ = blocked_night
    with dg.DagsterInstance.from_config(str(root / "dagster")) as instance:
        run = instance.get_runs(limit=1)[0]
        records = instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
    evaluations = [
        record.event_log_entry.dagster_event.event_specific_data for record in records
    ]
    gate = next(
        e
        for e in evaluations
        if e.asset_key == dg.AssetKey(["staging", "stg_shop__orders"])
        and e.check_name == "great_expectations_suite"
    )
    metadata = {key: value.value for key, value in gate.metadata.items()}

    assert not gate.passed
    assert gate.severity == dg.AssetCheckSeverity.ERROR
    assert metadata["critical: expect_column_values_to_be_between(total)"] == 1
    assert metadata["critical_failures"] == 1
    assert (
        "| critical | expect_column_values_to_be_between | total | no | 1 |"
        in (metadata["expectations"])
    )
