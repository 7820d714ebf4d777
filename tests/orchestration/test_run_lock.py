"""Run-lock tests with real processes holding the lock file."""

import subprocess
import sys
import time

import pytest

from orchestration.run_lock import RunLockTimeout, run_lock

HOLD_LOCK = """
import sys, time
from pathlib import Path
from orchestration.run_lock import run_lock
with run_lock(Path(sys.argv[1]), wait_seconds=0):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold_lock_in_subprocess(warehouse, seconds: float) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(warehouse), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "locked"
    return process


def test_second_run_waits_for_first(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    holder = hold_lock_in_subprocess(warehouse, 2)

    started = time.monotonic()
    with run_lock(warehouse, wait_seconds=30, poll_seconds=0.2):
        waited = time.monotonic() - started
    holder.wait(timeout=10)

    assert waited >= 1.0


def test_lock_timeout_names_lock_file(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    holder = hold_lock_in_subprocess(warehouse, 10)

    with pytest.raises(RunLockTimeout, match="warehouse.duckdb.run.lock"):
        with run_lock(warehouse, wait_seconds=0.5, poll_seconds=0.1):
            pass
    holder.kill()
    holder.wait(timeout=10)


def test_lock_released_after_run(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    with run_lock(warehouse, wait_seconds=0):
        pass

    with run_lock(warehouse, wait_seconds=0):
        pass
