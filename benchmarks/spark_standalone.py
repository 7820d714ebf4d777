"""The nightly job on a Spark standalone cluster, against the DuckDB engine.

``python -m benchmarks.spark_standalone --customers 200`` starts a Spark master and
one worker (1 core, 2 GB) with pyspark's own launcher, bound to 127.0.0.1, and
runs ``cdp run`` with ``CDP_ENGINE=spark`` and ``CDP_SPARK_MASTER`` set to that
master. It then stops the cluster, runs ``cdp run`` with ``CDP_ENGINE=duckdb`` on
the same generated extracts, and compares the audience files of both outboxes by
sha256. Manifests are compared without ``generated_at``, the time they were
written. The cluster stops even when a step fails.

Every file of the check lives under ``--workdir``, except dbt's artifacts under
``dbt_project/target/``. ``conf/`` contains hive-site.xml (an embedded Derby
metastore in ``metastore_db/``) and spark-defaults.conf. Beside it are the logs
and work folders of master and worker, the Spark warehouse, and one folder per
engine with its DuckDB file, outbox and Dagster history.

NOTE: master, worker, driver and metastore share one machine and one file system,
so this checks the project's cluster settings and the executor's Python workers,
not shared storage or a metastore service (docs/spark.md, "On a cluster").
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from benchmarks.nightly_scale import STAGE_ORDER, stage_of, step_windows
from ingestion.generator import generate

REPOSITORY = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
RUN_DATE = "2026-11-30"
MANIFEST = "manifest.json"
STARTUP_TIMEOUT_SECONDS = 120
RUN_TIMEOUT_SECONDS = 3600

HIVE_SITE = """<?xml version="1.0"?>
<configuration>
  <property>
    <name>javax.jdo.option.ConnectionURL</name>
    <value>jdbc:derby:;databaseName={metastore};create=true</value>
  </property>
</configuration>
"""


class CheckFailed(click.ClickException):
    """A step of the check failed. The message names the log to read."""


def spark_class() -> Path:
    """Return pyspark's ``bin/spark-class``, the launcher of master and worker."""
    import pyspark

    return Path(pyspark.__file__).parent / "bin" / "spark-class"


def write_spark_conf(workdir: Path) -> Path:
    """Write ``conf/`` for the driver: metastore, warehouse folder, driver address.

    The project sets no warehouse folder or Derby metastore for a non-local master,
    so both come from here, as they would from a cluster's SPARK_CONF_DIR.
    """
    conf = workdir / "conf"
    conf.mkdir(parents=True)
    metastore = workdir / "metastore_db"
    (conf / "hive-site.xml").write_text(HIVE_SITE.format(metastore=metastore))
    defaults = {
        "spark.sql.warehouse.dir": workdir / "spark-warehouse",
        "spark.driver.host": HOST,
        "spark.driver.bindAddress": HOST,
        # Derby writes derby.log into its system home, else into the working folder.
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={workdir}",
    }
    lines = [f"{key} {value}\n" for key, value in defaults.items()]
    (conf / "spark-defaults.conf").write_text("".join(lines))
    return conf


def cluster_environment(workdir: Path) -> dict[str, str]:
    """Return the environment of master, worker and driver: 127.0.0.1 only.

    ``SPARK_LOCAL_IP`` also binds the web UIs to 127.0.0.1. ``PYTHONPATH`` reaches
    the executor's Python workers, which import this checkout's normalizers.
    """
    python_path = [str(REPOSITORY), os.environ.get("PYTHONPATH", "")]
    return dict(
        os.environ,
        SPARK_LOCAL_IP=HOST,
        SPARK_CONF_DIR=str(workdir / "conf"),
        SPARK_LOCAL_DIRS=str(workdir / "local"),
        SPARK_MASTER_OPTS="-Dspark.master.rest.enabled=false",
        PYTHONPATH=os.pathsep.join(path for path in python_path if path),
        PYSPARK_PYTHON=sys.executable,
    )


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((HOST, port)) == 0


def wait_for_line(log: Path, text: str, process: subprocess.Popen) -> None:
    """Wait until ``text`` appears in ``log``, and raise if the process ends first."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if log.is_file() and text in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            raise CheckFailed(
                f"{log.stem} exited with status {process.returncode}. See {log}"
            )
        time.sleep(1)
    raise CheckFailed(
        f"{log.stem} did not log {text!r} within {STARTUP_TIMEOUT_SECONDS} s. See {log}"
    )


class StandaloneCluster:
    """One Spark master and one worker, started with pyspark's launcher.

    Used as a context manager, which stops both processes on the way out, also
    when the block raises.
    """

    def __init__(self, workdir: Path, port: int, cores: int, memory: str) -> None:
        self.workdir = workdir
        self.port = port
        self.cores = cores
        self.memory = memory
        self.processes: list[subprocess.Popen] = []

    @property
    def master_url(self) -> str:
        return f"spark://{HOST}:{self.port}"

    def _launch(self, name: str, arguments: list[str]) -> subprocess.Popen:
        log = (self.workdir / "logs" / f"{name}.log").open("w")
        # spark-class ends in exec, so the child is the JVM itself.
        process = subprocess.Popen(
            [str(spark_class()), *arguments],
            env=cluster_environment(self.workdir),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def __enter__(self) -> StandaloneCluster:
        if port_is_open(self.port):
            raise CheckFailed(
                f"port {self.port} on {HOST} is in use. Pass another --port"
            )
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        master = self._launch(
            "master",
            [
                "org.apache.spark.deploy.master.Master",
                "--host",
                HOST,
                "--port",
                str(self.port),
                "--webui-port",
                "0",
            ],
        )
        wait_for_line(self.workdir / "logs" / "master.log", "elected leader", master)

        worker = self._launch(
            "worker",
            [
                "org.apache.spark.deploy.worker.Worker",
                self.master_url,
                "--host",
                HOST,
                "--cores",
                str(self.cores),
                "--memory",
                self.memory,
                "--webui-port",
                "0",
                "--work-dir",
                str(self.workdir / "work"),
            ],
        )
        wait_for_line(
            self.workdir / "logs" / "worker.log", "Successfully registered", worker
        )

    def stop(self) -> None:
        """Stop worker, then master: SIGTERM, and SIGKILL after 30 seconds."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes.clear()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def executor_tasks(self) -> int:
        """Return the number of tasks the worker's executors finished."""
        logs = (self.workdir / "work").glob("app-*/*/stderr")
        return sum(
            log.read_text(errors="replace").count("Finished task") for log in logs
        )


def run_environment(folder: Path, data: Path, engine: str) -> dict[str, str]:
    """Return the environment of a ``cdp run`` whose state lives under ``folder``."""
    return {
        "CDP_WAREHOUSE": str(folder / "warehouse.duckdb"),
        "CDP_LANDING_DIR": str(data / "landing"),
        "CDP_GROUND_TRUTH": str(data / "ground_truth" / "ground_truth.csv"),
        "CDP_OUTBOX": str(folder / "outbox"),
        "CDP_REPORTS": str(folder / "reports"),
        "CDP_ANALYST_COPY": str(folder / "analytics.duckdb"),
        "CDP_RUN_DATE": RUN_DATE,
        "DAGSTER_HOME": str(folder / "dagster"),
        "DO_NOT_TRACK": "1",
        "CDP_ENGINE": engine,
    }


def spark_settings(workdir: Path, master_url: str) -> dict[str, str]:
    """Return the cluster settings of docs/spark.md, pointed at this cluster."""
    return {
        "CDP_SPARK_MASTER": master_url,
        "CDP_SPARK_DIR": str(workdir / "spark"),
        "CDP_SPARK_CHECKPOINT_DIR": str(workdir / "checkpoints"),
    }


def run_night(folder: Path, env: dict[str, str], console: Console) -> float:
    """Run ``cdp run`` with ``env`` and return its wall time in seconds."""
    (folder / "dagster").mkdir(parents=True)
    log_path = folder / "cdp_run.log"
    command = [str(Path(sys.executable).parent / "cdp"), "run"]
    console.log(f"cdp run with CDP_ENGINE={env['CDP_ENGINE']} (log: {log_path})")
    started = time.monotonic()
    with log_path.open("w") as log:
        status = subprocess.run(
            command,
            env=env,
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=RUN_TIMEOUT_SECONDS,
        ).returncode
    seconds = time.monotonic() - started
    if status != 0:
        raise CheckFailed(f"cdp run exited with status {status}. See {log_path}")
    return seconds


def stage_seconds(folder: Path) -> dict[str, float]:
    """Return the seconds per stage of the run recorded under ``folder/dagster``."""
    seconds: dict[str, float] = {}
    for step_key, start, end in step_windows(folder / "dagster"):
        stage = stage_of(step_key)
        seconds[stage] = seconds.get(stage, 0.0) + end - start
    return {stage: seconds[stage] for stage in STAGE_ORDER if stage in seconds}


def outbox_digests(outbox: Path) -> dict[str, str]:
    """Return the sha256 of each file under ``outbox``, by relative path.

    A manifest's digest leaves out ``generated_at``, the time it was written.
    """
    digests = {}
    for path in sorted(p for p in outbox.rglob("*") if p.is_file()):
        content = path.read_bytes()
        if path.name == MANIFEST:
            manifest = json.loads(content)
            manifest.pop("generated_at", None)
            content = json.dumps(manifest, sort_keys=True).encode()
        digests[str(path.relative_to(outbox))] = hashlib.sha256(content).hexdigest()
    return digests


def compare_outboxes(expected: Path, actual: Path) -> list[str]:
    """Return the relative paths whose digests differ or that exist on one side only."""
    left, right = outbox_digests(expected), outbox_digests(actual)
    return sorted(
        name for name in left.keys() | right.keys() if left.get(name) != right.get(name)
    )


def run_check(
    customers: int, seed: int, workdir: Path, port: int, console: Console
) -> dict:
    """Run both engines on one generated data set and return timings and differences."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    data = workdir / "data"
    generate(customers, seed, data)
    conf = write_spark_conf(workdir)
    timings: dict[str, float] = {}

    started = time.monotonic()
    with StandaloneCluster(workdir, port, cores=1, memory="2g") as cluster:
        timings["cluster start"] = time.monotonic() - started
        console.log(f"cluster at {cluster.master_url}; logs in {workdir / 'logs'}")
        env = cluster_environment(workdir) | {"SPARK_CONF_DIR": str(conf)}
        env |= run_environment(workdir / "spark_run", data, "spark")
        env |= spark_settings(workdir, cluster.master_url)
        timings["spark engine run"] = run_night(workdir / "spark_run", env, console)
        tasks = cluster.executor_tasks()
    if tasks == 0:
        raise CheckFailed(f"the worker's executors ran no task. See {workdir / 'work'}")

    env = dict(os.environ) | run_environment(workdir / "duckdb_run", data, "duckdb")
    timings["duckdb engine run"] = run_night(workdir / "duckdb_run", env, console)
    outboxes = [workdir / f"{engine}_run" / "outbox" for engine in ("duckdb", "spark")]
    return {
        "timings": timings,
        "stages": {
            engine: stage_seconds(workdir / f"{engine}_run")
            for engine in ("spark", "duckdb")
        },
        "executor_tasks": tasks,
        "files": len(outbox_digests(outboxes[0])),
        "differences": compare_outboxes(*outboxes),
    }


def stage_table(stages: dict[str, dict[str, float]]) -> Table:
    """Return seconds per stage of the nightly job, one column per engine.

    Steps of one stage run one after another, so the seconds of its steps add up.
    """
    table = Table(title="Seconds per stage")
    table.add_column("stage")
    for engine in stages:
        table.add_column(engine, justify="right")
    names = [name for name in STAGE_ORDER if any(name in s for s in stages.values())]
    for name in names:
        cells = [f"{seconds.get(name, 0.0):.1f}" for seconds in stages.values()]
        table.add_row(name, *cells)
    return table


def print_result(result: dict, customers: int, console: Console) -> None:
    """Print wall times, seconds per stage and the executors' task count."""
    table = Table(title=f"Spark standalone check, {customers} customers")
    table.add_column("step")
    table.add_column("seconds", justify="right")
    for step, seconds in result["timings"].items():
        table.add_row(step, f"{seconds:.1f}")
    console.print(table)
    console.print(stage_table(result["stages"]))
    console.print(
        f"tasks finished by the worker's executors: {result['executor_tasks']}"
    )


@click.command()
@click.option(
    "--customers", default=200, show_default=True, help="Customers to generate."
)
@click.option(
    "--seed", default=7, show_default=True, help="Random seed of the generator."
)
@click.option(
    "--workdir",
    type=click.Path(path_type=Path),
    default=Path("/tmp/cluster"),
    show_default=True,
    help="Folder for every file of the check, emptied first.",
)
@click.option(
    "--port", default=7077, show_default=True, help="Master port on 127.0.0.1."
)
def main(customers: int, seed: int, workdir: Path, port: int) -> None:
    """Run the nightly job on a local standalone cluster and on DuckDB, and compare."""
    if shutil.which("java") is None:
        raise click.ClickException("Spark needs a Java runtime (17 or 21) on PATH")
    console = Console()
    result = run_check(customers, seed, workdir.resolve(), port, console)

    (workdir / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print_result(result, customers, console)

    if result["differences"]:
        listed = "\n  ".join(result["differences"])
        raise CheckFailed(f"outbox files that differ between the engines:\n  {listed}")
    console.print(f"all {result['files']} outbox files match the DuckDB engine's")


if __name__ == "__main__":
    main()
