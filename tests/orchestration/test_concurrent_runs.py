"""Two runs started together on one warehouse, in real processes.

Each run loads the raw sources through Dagster with the real warehouse resource. One
process imitates ``cdp run`` (the run lock around a Dagster run in the same
process), the other a run launched from the Dagster UI, the schedule or the sensor
(only the resource takes the lock). The first run pauses until the test has seen the
second one waiting, so the overlap does not depend on timing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from ingestion.generator import generate
from ingestion.sources import SOURCES
from orchestration.run_lock import lock_path_for, read_holder

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_SECONDS = 300

RUN_SCRIPT = """
import logging, sys, time
from pathlib import Path

import dagster as dg

from ingestion.assets import source_assets
from orchestration.resources import DuckDBWarehouse
from orchestration.run_lock import run_lock

mode, warehouse, release = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")


@dg.asset(deps=[asset.key for asset in source_assets])
def pause_after_load(warehouse: DuckDBWarehouse) -> None:
    deadline = time.monotonic() + 240
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.2)


def load() -> None:
    result = dg.materialize(
        [*source_assets, pause_after_load],
        resources={"warehouse": DuckDBWarehouse(path=str(warehouse))},
    )
    assert result.success


if mode == "cdp":
    with run_lock(warehouse, wait_seconds=240, run_description="cdp run"):
        load()
else:
    load()
print("run finished", flush=True)
"""


def start_run(mode: str, root: Path, name: str) -> tuple[subprocess.Popen, Path]:
    log_path = root / f"{name}.log"
    env = os.environ | {
        "CDP_LANDING_DIR": str(root / "landing"),
        "CDP_WAREHOUSE": str(root / "warehouse.duckdb"),
        "PYTHONPATH": os.pathsep.join(
            [str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]
        ),
    }
    command = [
        sys.executable,
        "-c",
        RUN_SCRIPT,
        mode,
        str(root / "warehouse.duckdb"),
        str(root / "release"),
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root
        )
    return process, log_path


def wait_until(condition, description: str) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {description}")
        time.sleep(0.2)


def lock_held_by(warehouse: Path, pid: int) -> bool:
    holder = read_holder(lock_path_for(warehouse))
    return holder is not None and holder.get("pid") == pid


@pytest.mark.parametrize(
    ("first_mode", "second_mode"), [("cdp", "dagster"), ("dagster", "cdp")]
)
def test_parallel_runs_write_in_turn(tmp_path, first_mode, second_mode):
    generate(customers=20, seed=5, out=tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"

    first, first_log = start_run(first_mode, tmp_path, "first")
    wait_until(lambda: lock_held_by(warehouse, first.pid), "the first run's lock")
    second, second_log = start_run(second_mode, tmp_path, "second")
    wait_until(
        lambda: "another run is writing" in second_log.read_text(),
        "the second run to wait",
    )
    (tmp_path / "release").touch()
    first.wait(timeout=TIMEOUT_SECONDS)
    second.wait(timeout=TIMEOUT_SECONDS)

    first_output = first_log.read_text()
    second_output = second_log.read_text()
    assert first.returncode == 0, first_output[-3000:]
    assert second.returncode == 0, second_output[-3000:]
    assert f"held by pid {first.pid}" in second_output
    assert "acquired the warehouse run lock" in second_output
    assert "Could not set lock" not in first_output + second_output

    with duckdb.connect(str(warehouse), read_only=True) as con:
        for source in SOURCES:
            in_table = con.execute(
                f"select count(*) from raw.{source.table}"
            ).fetchone()
            logged, loads, files = con.execute(
                "select coalesce(sum(rows_loaded), 0), count(*), count(distinct file) "
                "from raw._load_log where source = ? and status = 'loaded'",
                [source.name],
            ).fetchone()
            assert in_table[0] == logged, source.name
            assert logged > 0, source.name
            assert loads == files, source.name
