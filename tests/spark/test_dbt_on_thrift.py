"""Functional test: dbt's ``spark_thrift`` target, served by the project's Thrift server.

``orchestration/spark_thrift.py`` serves a Spark session on which the
``cdp_normalize_*`` functions are registered. Here that server runs in its own
process (``thrift_server.py``) with the raw tables of the small warehouse. The dbt
command line, a second process, builds one staging model that calls the normalizer
functions on the ``spark_thrift`` target, with the model's data and unit tests. The model's rows must equal those of the DuckDB build. A third client,
PyHive, opens its own connection and calls a normalizer function, which shows
that every connection shares the session and its functions.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestration.settings import DBT_PROJECT_DIR
from orchestration.spark_thrift import connect, require_loopback
from tests.spark.compare import compare_table
from tests.spark.spark_build import (
    ENGINE_FILE,
    NIGHTLY_ASSET,
    NIGHTLY_MODEL,
    NIGHTLY_REPORT,
    NIGHTLY_SCHEMA,
    export_inputs,
    without_dbt_schemas,
)

pytestmark = pytest.mark.skipif(
    shutil.which("java") is None,
    reason="Spark needs a Java runtime (17 or newer), and java is not on PATH",
)

SERVER_SCRIPT = Path(__file__).with_name("thrift_server.py")
REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
# Seconds allowed for starting Spark with a Hive metastore and loading the raw tables.
START_TIMEOUT = 300


MODEL_TABLE = f"{NIGHTLY_SCHEMA}.{NIGHTLY_MODEL}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def listening_addresses(port: int) -> set[str]:
    """Addresses with a TCP socket listening on ``port``, read from ``/proc/net``.

    Each row of ``/proc/net/tcp`` contains the local address as hexadecimal in the
    machine's byte order, and state ``0A`` for a listening socket.
    """
    addresses = set()
    for table, family in [("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)]:
        path = Path("/proc/net") / table
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            address, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:
                continue
            raw = bytes.fromhex(address)
            # The kernel prints each 32-bit word in the machine's byte order.
            if sys.byteorder == "little":
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            addresses.add(socket.inet_ntop(family, raw))
    return addresses


def wait_until_listening(server: subprocess.Popen, log: Path) -> None:
    """Read the server's output until it prints that it listens; fail with its log if it
    exits or takes longer than ``START_TIMEOUT`` seconds."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([server.stdout], [], [], 1)
        if ready:
            line = server.stdout.readline()
            if line.startswith("listening on"):
                return
            if line == "" and server.poll() is not None:
                break
    server.kill()
    server.wait()
    pytest.fail(
        f"the Thrift server did not start (exit status {server.returncode}):\n"
        + log.read_text(encoding="utf-8", errors="replace")[-4000:]
    )


@pytest.fixture(scope="module")
def thrift_build(small_warehouse: Path, tmp_path_factory: pytest.TempPathFactory):
    """Start the Thrift server, run dbt and PyHive against it, then stop it.

    Return each step's result for the tests."""
    folder = tmp_path_factory.mktemp("thrift")
    inputs = export_inputs(small_warehouse, folder / "inputs")
    port = free_port()
    env = dict(
        os.environ,
        CDP_SPARK_DIR=str(folder / "spark"),
        CDP_SPARK_THRIFT_HOST=HOST,
        CDP_SPARK_THRIFT_PORT=str(port),
        DO_NOT_TRACK="1",
        PYSPARK_PYTHON=sys.executable,
        # The server script imports the test helpers as the package tests.
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
        ),
    )
    report = folder / NIGHTLY_REPORT
    engine_file = without_dbt_schemas(small_warehouse, folder / ENGINE_FILE)
    job_env = dict(env, CDP_SPARK_DBT_METHOD="thrift", DAGSTER_HOME=str(folder))
    log = folder / "server.log"
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as server_log:
        server = subprocess.Popen(
            [sys.executable, str(SERVER_SCRIPT), str(inputs), str(port)]
            + [str(engine_file), str(report)],
            cwd=folder,
            env=job_env,
            stdout=subprocess.PIPE,
            stderr=server_log,
            text=True,
        )
    try:
        wait_until_listening(server, log)
        server_seconds = time.monotonic() - started
        addresses = listening_addresses(port)

        dbt = Path(sys.executable).with_name("dbt")
        project = ["--project-dir", str(DBT_PROJECT_DIR)]
        project += ["--profiles-dir", str(DBT_PROJECT_DIR)]
        paths = ["--target-path", str(folder / "target"), "--log-path", str(folder)]
        dbt_result = subprocess.run(
            [str(dbt), "build", "--select", NIGHTLY_MODEL, "--target", "spark_thrift"]
            + project
            + paths,
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

        with connect(HOST, port) as connection:
            cursor = connection.cursor()
            cursor.execute("select cdp_normalize_email('  Anna.Berg@Example.COM ')")
            normalized = cursor.fetchone()[0]
            cursor.execute(f"select count(*) from {MODEL_TABLE}")
            row_count = cursor.fetchone()[0]
    finally:
        # Ctrl+C, which pyspark would turn into KeyboardInterrupt if the server
        # did not handle it.
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=120)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stdout.close()

    return {
        "dbt": dbt_result,
        "normalized": normalized,
        "row_count": row_count,
        "job_report": json.loads(report.read_text()) if report.exists() else None,
        "addresses": addresses,
        "server_returncode": server.returncode,
        "server_log": log,
        "server_seconds": server_seconds,
        "warehouse": folder / "spark" / "warehouse",
        "views": folder / "views",
        "duckdb": small_warehouse,
    }


def test_dbt_build_passes_on_thrift_target(thrift_build):
    result = thrift_build["dbt"]
    output = result.stdout[-6000:] + result.stderr[-3000:]
    print(
        f"server started and nightly job done after {thrift_build['server_seconds']:.0f} s"
    )
    assert result.returncode == 0, output
    # The model, its data tests and its unit tests all pass.
    summary = re.search(r"PASS=(\d+) .* TOTAL=(\d+)", result.stdout)
    assert summary, output
    passed, total = map(int, summary.groups())
    assert passed == total > 1, output


def test_nightly_job_builds_model_over_thrift(thrift_build):
    report = thrift_build["job_report"]
    log = thrift_build["server_log"].read_text(encoding="utf-8", errors="replace")
    assert report is not None, log[-4000:]
    assert report["success"], report
    assert report["failed_steps"] == []
    # The job's dbt step reads the row count through the Thrift server.
    assert report["materialized"] == {NIGHTLY_ASSET: thrift_build["row_count"]}


def test_nightly_job_runs_model_checks_over_thrift(thrift_build):
    report = thrift_build["job_report"]
    assert report is not None
    checks = [key for key, _ in report["checks"]]
    assert checks, "the job ran no check of the model"
    assert all(passed for _, passed in report["checks"]), report["checks"]


def test_model_built_over_thrift_matches_duckdb(thrift_build):
    compare_table(thrift_build, NIGHTLY_SCHEMA, NIGHTLY_MODEL)


def test_new_connection_sees_normalizer_functions(thrift_build):
    assert thrift_build["normalized"] == "anna.berg@example.com"
    assert thrift_build["row_count"] > 0


def test_server_stops_cleanly_on_ctrl_c(thrift_build):
    log = thrift_build["server_log"].read_text(encoding="utf-8", errors="replace")
    assert thrift_build["server_returncode"] == 0, log[-4000:]


@pytest.mark.skipif(
    not Path("/proc/net/tcp").exists(), reason="reads listening sockets from /proc"
)
def test_server_listens_on_loopback_only(thrift_build):
    addresses = [ipaddress.ip_address(text) for text in thrift_build["addresses"]]
    assert addresses, "nothing listens on the server's port"
    for address in addresses:
        # Java listens on IPv6 sockets, where 127.0.0.1 reads ::ffff:127.0.0.1.
        address = getattr(address, "ipv4_mapped", None) or address
        assert address.is_loopback, f"the server listens on {address}"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10"])
def test_command_rejects_non_loopback_address(host):
    from click.testing import CliRunner

    from orchestration.cli import main

    result = CliRunner().invoke(main, ["spark-thrift", "--host", host])
    assert result.exit_code == 2, result.output
    assert "not a loopback address" in result.output


def test_command_rejects_port_in_use():
    from click.testing import CliRunner

    from orchestration.cli import main

    with socket.socket() as other_server:
        other_server.bind((HOST, 0))
        other_server.listen()
        port = other_server.getsockname()[1]
        result = CliRunner().invoke(main, ["spark-thrift", "--port", str(port)])
    assert result.exit_code == 2, result.output
    assert f"port {port} on {HOST} is in use" in result.output


def test_server_accepts_loopback_names():
    for host in ["127.0.0.1", "localhost", "::1"]:
        require_loopback(host)
