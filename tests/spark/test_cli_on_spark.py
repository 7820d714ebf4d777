"""The read-only commands print and return the same on Spark as on DuckDB.

``cdp trace``, ``cdp export-subject`` and ``cdp serve`` run with
``CDP_ENGINE=spark`` on the Spark build of ``tests/spark/conftest.py``: its Spark
catalog, and the DuckDB file of the Spark engine, which has no schema that dbt
builds, so the marts and the intermediate tables can only come from Spark. The
same commands run with ``CDP_ENGINE=duckdb`` on the small warehouse after the
same destinations synced. The outputs must match, apart from the times the runs
wrote. Each command on Spark must leave no copy of the tables behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from orchestration import cli
from orchestration.cli import main
from orchestration.customer360.app import create_app
from orchestration.customer360.auth import Credentials
from orchestration.spark_snapshot import SNAPSHOT_FILE
from tests.spark.spark_build import RUN_DATE

pytestmark = pytest.mark.skipif(
    shutil.which("java") is None,
    reason="Spark needs a Java runtime (17 or newer), and java is not on PATH",
)

CUSTOMER_ID = "anna"
# The fictional address of the small warehouse's Anna, never printed by a test.
EMAIL = "anna.mueller@example.de"
# Lena is the one customer that a destination received in the small warehouse, so
# her trace has an export row and a file name.
TRACED_CUSTOMER_ID = "lena"
DESTINATION = "mailchimp_reactivation"
SEGMENT = "engaged_non_buyers"
# Keys of the export whose values are times of a run, which differ between the
# Spark build and the DuckDB twin. They record when the export was written, when a
# sync logged a row, and when the membership snapshot saw an entry or exit.
RUN_TIME_KEYS = {
    "generated_at",
    "recorded_at",
    "entered_at",
    "left_at",
    "_processed_at",
}
CREDENTIALS = Credentials("staff", "correct horse battery staple")
AUTH = (CREDENTIALS.username, CREDENTIALS.password)
SERVE_START_SECONDS = 180
# The segment tag's tooltip names when the snapshot saw the entry, a run time.
ENTERED_AT = re.compile(r", since [^\"]*\"")
SNAPSHOT_NOTICE = re.compile(r"<p class=\"muted snapshot\">[^\n]*</p>\n")


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``tempfile`` at an empty folder, where the snapshots are written."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def engine_env(spark_build: dict, duckdb_activation: Path, engine: str) -> dict:
    """Environment of a command on ``engine``, reading that engine's tables."""
    env = {"CDP_ENGINE": engine, "CDP_RUN_DATE": RUN_DATE}
    if engine == "spark":
        env["CDP_WAREHOUSE"] = str(spark_build["engine_file"])
        env["CDP_SPARK_DIR"] = str(spark_build["spark_dir"])
    else:
        env["CDP_WAREHOUSE"] = str(duckdb_activation / "warehouse.duckdb")
    return env


def run_command(arguments: list[str], env: dict) -> tuple[str, float]:
    """Run a ``cdp`` command in this process; return its output and seconds."""
    started = time.monotonic()
    result = CliRunner().invoke(main, arguments, env=env)
    seconds = time.monotonic() - started
    assert result.exit_code == 0, f"{env['CDP_ENGINE']}: {result.output[-3000:]}"
    return result.output, seconds


def without_run_times(value):
    """Return ``value`` with every key of ``RUN_TIME_KEYS`` removed, at any depth."""
    if isinstance(value, dict):
        return {
            key: without_run_times(item)
            for key, item in value.items()
            if key not in RUN_TIME_KEYS
        }
    if isinstance(value, list):
        return [without_run_times(item) for item in value]
    return value


def test_trace_matches_duckdb(
    spark_build, duckdb_activation, private_tmp, tmp_path, monkeypatch
):
    assert spark_build["result"].returncode == 0, "the Spark build steps failed"
    # A wide console keeps each table row and path on one line.
    monkeypatch.setattr(cli.console, "width", 250)
    arguments = ["trace", "--destination", DESTINATION, "--segment", SEGMENT]
    arguments += ["--customer-id", TRACED_CUSTOMER_ID]
    # Both engines read their DuckDB file at the same path, so the dbt manifest
    # that the trace parses for the first run (per CDP_WAREHOUSE) serves the second.
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(duckdb_activation / "warehouse.duckdb", warehouse)
    duckdb_env = engine_env(spark_build, duckdb_activation, "duckdb")
    spark_env = engine_env(spark_build, duckdb_activation, "spark")

    expected, _ = run_command(arguments, duckdb_env | {"CDP_WAREHOUSE": str(warehouse)})
    shutil.copyfile(spark_build["engine_file"], warehouse)
    actual, seconds = run_command(
        arguments, spark_env | {"CDP_WAREHOUSE": str(warehouse)}
    )
    print(f"cdp trace on Spark: {seconds:.1f} s")

    assert f"Trace of {TRACED_CUSTOMER_ID}" in expected
    assert f"{SEGMENT}.csv" in expected
    # A boolean, so a failure shows no line of the trace.
    same = actual == expected
    assert same, "the trace on Spark differs from the trace on DuckDB"
    assert list(private_tmp.iterdir()) == []


def test_export_subject_matches_duckdb(spark_build, duckdb_activation, private_tmp):
    assert spark_build["result"].returncode == 0, "the Spark build steps failed"
    documents = {}
    for engine in ("duckdb", "spark"):
        out = private_tmp.parent / f"{engine}.json"
        arguments = ["export-subject", "--email", EMAIL, "--out", str(out)]
        _, seconds = run_command(
            arguments, engine_env(spark_build, duckdb_activation, engine)
        )
        print(f"cdp export-subject on {engine}: {seconds:.1f} s")
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        documents[engine] = json.loads(out.read_text(encoding="utf-8"))

    expected = without_run_times(documents["duckdb"])
    actual = without_run_times(documents["spark"])
    assert expected["customer_ids"] == [CUSTOMER_ID]
    filled = [
        name for name, rows in expected.items() if isinstance(rows, list) and rows
    ]
    assert len(filled) >= 12, f"only these sections have rows: {filled}"
    assert sorted(actual) == sorted(expected)
    for section, rows in expected.items():
        same = actual[section] == rows
        assert same, f"section {section} differs"
    assert list(private_tmp.iterdir()) == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_login(process: subprocess.Popen, base_url: str) -> None:
    """Wait until the server responds to a logged-in request, or fail if it exits."""
    deadline = time.monotonic() + SERVE_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read()[-3000:]
            raise AssertionError(
                f"cdp serve exited with {process.returncode}: {output}"
            )
        try:
            if httpx.get(f"{base_url}/", auth=AUTH, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"cdp serve did not respond within {SERVE_START_SECONDS} s")


def lookups(get, post) -> dict[str, tuple[int, str]]:
    """Look Anna up by email, by a name shared by several customers, and open her
    profile; return each response's status and body, or redirect target."""
    by_email = post("/search", data={"q": EMAIL}, follow_redirects=False)
    by_name = post("/search", data={"q": "l"}, follow_redirects=False)
    profile = get(f"/customers/{CUSTOMER_ID}")
    return {
        "search by email": (by_email.status_code, by_email.headers.get("location")),
        "search by name": (by_name.status_code, by_name.text),
        "profile": (profile.status_code, ENTERED_AT.sub('"', profile.text)),
    }


@pytest.fixture
def spark_server(spark_build, tmp_path):
    """Start ``cdp serve`` on the Spark engine; yield (process, URL, temp folder)."""
    assert spark_build["result"].returncode == 0, "the Spark build steps failed"
    private = tmp_path / "serve_tmp"
    private.mkdir()
    port = free_port()
    env = dict(
        os.environ,
        CDP_ENGINE="spark",
        CDP_WAREHOUSE=str(spark_build["engine_file"]),
        CDP_SPARK_DIR=str(spark_build["spark_dir"]),
        CDP_SERVE_USER=CREDENTIALS.username,
        CDP_SERVE_PASSWORD=CREDENTIALS.password,
        TMPDIR=str(private),
        COLUMNS="250",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process, f"http://127.0.0.1:{port}", private
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_answers_lookups_like_duckdb(spark_build, spark_server):
    process, base_url, private = spark_server
    started = time.monotonic()
    wait_for_login(process, base_url)
    print(f"cdp serve on Spark answered after {time.monotonic() - started:.1f} s")

    snapshots = list(private.glob(f"*/{SNAPSHOT_FILE}"))
    assert len(snapshots) == 1
    assert stat.S_IMODE(snapshots[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(snapshots[0].parent.stat().st_mode) == 0o700
    with httpx.Client(base_url=base_url, auth=AUTH, timeout=30) as client:
        assert client.get("/", auth=None).status_code == 401
        actual = lookups(client.get, client.post)
    with TestClient(create_app(spark_build["duckdb"], CREDENTIALS)) as client:
        expected = lookups(
            lambda path: client.get(path, auth=AUTH),
            lambda path, **options: client.post(path, auth=AUTH, **options),
        )

    assert expected["search by email"] == (303, f"/customers/{CUSTOMER_ID}")
    assert "Data as of " in actual["profile"][1]
    assert actual["search by email"] == expected["search by email"]
    for name in ("search by name", "profile"):
        status, body = actual[name]
        assert status == expected[name][0], f"{name}: status differs"
        same = SNAPSHOT_NOTICE.sub("", body) == expected[name][1]
        assert same, f"{name}: page differs"

    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert "Serving a snapshot of the Spark tables taken at" in output
    assert list(private.iterdir()) == []
