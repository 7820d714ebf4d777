"""Run-lock tests with real processes holding the lock file or the DuckDB file."""

import logging
import subprocess
import sys
import threading
import time

import dagster as dg
import pytest

from orchestration.resources import DuckDBWarehouse, WarehouseLockedError
from orchestration.run_lock import RunLockTimeout, lock_path_for, read_holder, run_lock

HOLD_LOCK = """
import sys, time
from pathlib import Path
from orchestration.run_lock import run_lock
with run_lock(Path(sys.argv[1]), wait_seconds=0, run_description="holder test"):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""

HOLD_DUCKDB = """
import sys, time
import duckdb
con = duckdb.connect(sys.argv[1])
print("open", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def start_holder(script: str, path, seconds: float, ready: str) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == ready
    return process


def hold_lock_in_subprocess(warehouse, seconds: float) -> subprocess.Popen:
    return start_holder(HOLD_LOCK, warehouse, seconds, "locked")


def hold_duckdb_in_subprocess(warehouse, seconds: float) -> subprocess.Popen:
    return start_holder(HOLD_DUCKDB, warehouse, seconds, "open")


def stop(process: subprocess.Popen) -> None:
    process.kill()
    process.wait(timeout=10)


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
    stop(holder)


def test_lock_timeout_names_holder_pid(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    holder = hold_lock_in_subprocess(warehouse, 10)

    with pytest.raises(RunLockTimeout) as raised:
        with run_lock(warehouse, wait_seconds=0.3, poll_seconds=0.1):
            pass
    stop(holder)

    message = str(raised.value)
    assert f"held by pid {holder.pid}" in message
    assert "holder test" in message
    assert "--lock-wait" in message


def test_waiting_logs_holder_and_acquired(tmp_path, caplog):
    warehouse = tmp_path / "warehouse.duckdb"
    holder = hold_lock_in_subprocess(warehouse, 1)

    with caplog.at_level(logging.INFO, logger="orchestration.run_lock"):
        with run_lock(warehouse, wait_seconds=30, poll_seconds=0.1):
            pass
    holder.wait(timeout=10)

    messages = [record.getMessage() for record in caplog.records]
    assert any("another run is writing" in m for m in messages)
    assert any(f"held by pid {holder.pid}" in m for m in messages)
    assert any(m.startswith("acquired the warehouse run lock") for m in messages)


def test_lock_file_names_holder(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"

    with run_lock(warehouse, wait_seconds=0, run_description="unit test"):
        holder = read_holder(lock_path_for(warehouse))

    assert holder["run"] == "unit test"
    assert holder["pid"] > 0
    assert "started_at" in holder
    assert read_holder(lock_path_for(warehouse)) is None


def test_lock_released_after_run(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    with run_lock(warehouse, wait_seconds=0):
        pass

    with run_lock(warehouse, wait_seconds=0):
        pass


def test_same_thread_reenters_without_waiting(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"

    with run_lock(warehouse, wait_seconds=0, run_description="outer"):
        with run_lock(warehouse, wait_seconds=0, run_description="inner"):
            holder = read_holder(lock_path_for(warehouse))
        still_held = read_holder(lock_path_for(warehouse))

    assert holder["run"] == "outer"
    assert still_held["run"] == "outer"


def test_other_thread_waits_for_holder(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    outcome = {}

    def take_lock() -> None:
        try:
            with run_lock(warehouse, wait_seconds=0.3):
                outcome["acquired"] = True
        except RunLockTimeout as error:
            outcome["error"] = str(error)

    with run_lock(warehouse, wait_seconds=0):
        thread = threading.Thread(target=take_lock)
        thread.start()
        thread.join(timeout=10)

    assert "acquired" not in outcome
    assert "another thread of this process" in outcome["error"]


def test_dagster_run_holds_lock_file(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    observed = {}

    @dg.asset
    def probe(warehouse: DuckDBWarehouse) -> None:
        observed["holder"] = read_holder(lock_path_for(tmp_path / "warehouse.duckdb"))
        waiting = subprocess.run(
            [sys.executable, "-c", HOLD_LOCK, str(tmp_path / "warehouse.duckdb"), "0"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        observed["returncode"] = waiting.returncode
        observed["stderr"] = waiting.stderr

    result = dg.materialize(
        [probe], resources={"warehouse": DuckDBWarehouse(path=str(warehouse))}
    )

    assert result.success
    assert observed["holder"]["run"] == f"Dagster run {result.run_id}"
    assert observed["returncode"] != 0
    assert "RunLockTimeout" in observed["stderr"]


def test_dagster_run_times_out_with_holder(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    holder = hold_lock_in_subprocess(warehouse, 30)

    @dg.asset
    def never_runs(warehouse: DuckDBWarehouse) -> None:
        raise AssertionError("the run lock should have stopped this run")

    resource = DuckDBWarehouse(path=str(warehouse), lock_wait_seconds=0.5)
    with pytest.raises(dg.DagsterResourceFunctionError) as raised:
        dg.materialize([never_runs], resources={"warehouse": resource})
    stop(holder)

    cause = raised.value.__cause__
    assert isinstance(cause, RunLockTimeout)
    assert f"held by pid {holder.pid}" in str(cause)


def test_connect_names_duckdb_holder(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    holder = hold_duckdb_in_subprocess(warehouse, 30)
    resource = DuckDBWarehouse(path=str(warehouse), connect_timeout_seconds=1)

    started = time.monotonic()
    with pytest.raises(WarehouseLockedError) as raised:
        with resource.connect():
            pass
    waited = time.monotonic() - started
    stop(holder)

    message = str(raised.value)
    assert str(warehouse) in message
    assert f"process {holder.pid}" in message
    assert "Close the other connection" in message
    assert "read_only=True" in message
    assert waited >= 1.0


def test_connect_retries_until_holder_closes(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    holder = hold_duckdb_in_subprocess(warehouse, 1.5)
    resource = DuckDBWarehouse(path=str(warehouse), connect_timeout_seconds=60)

    with resource.connect() as con:
        value = con.execute("select 42").fetchone()[0]
    holder.wait(timeout=10)

    assert value == 42
