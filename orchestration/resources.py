"""Dagster resources: the DuckDB warehouse and the dbt command line.

Both resources hold the warehouse run lock (``orchestration/run_lock.py``) from the
start of a Dagster run to its end, so runs started from the UI, the schedule, the
sensor or ``cdp run`` write one at a time. The job runs on the in-process executor,
so resources are set up once per run, in the run's process and thread.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import version as package_version
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource
from packaging.version import Version
from pydantic import Field, PrivateAttr

from orchestration import settings
from orchestration.dbt_project import dbt_project
from orchestration.run_lock import run_lock

logger = logging.getLogger(__name__)

# DuckDB 2.0 IOException text when another process holds the file, for example:
# Could not set lock on file "/data/w.duckdb": Conflicting lock is held in
# /usr/bin/python3 (PID 4242) by user anna. See also https://duckdb.org/docs/...
DUCKDB_LOCK_MESSAGE = "Could not set lock on file"
DUCKDB_LOCK_HOLDER = re.compile(r"held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")

# Long enough for an analyst's short query to finish, short enough that a shell left
# open fails the step within a minute and names the process to close.
CONNECT_TIMEOUT_SECONDS = 60.0


class WarehouseLockedError(duckdb.IOException):
    """Another process kept DuckDB's lock on the warehouse file past the retry time."""


class DuckDBWarehouse(dg.ConfigurableResource):
    """The warehouse file. Assets open, write and close it, so dbt can open it next.

    During a Dagster run the resource holds the warehouse run lock, so a second run
    waits for the first instead of failing on DuckDB's file lock.
    """

    path: str
    lock_wait_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="Seconds a run waits for another run on the same warehouse to "
        "finish before it fails.",
    )
    connect_timeout_seconds: float = Field(
        default=CONNECT_TIMEOUT_SECONDS,
        ge=0,
        description="Seconds to retry opening the file while another process, such "
        "as a DuckDB shell or a notebook, holds DuckDB's lock on it.",
    )

    # The run's log during a Dagster run, so retries show in the UI's event log.
    _run_log: logging.Logger | None = PrivateAttr(default=None)

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator:
        self._run_log = context.log
        with hold_run_lock(Path(self.path), self.lock_wait_seconds, context):
            yield self

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        con = connect_with_retry(
            Path(self.path),
            read_only,
            self.connect_timeout_seconds,
            self._run_log or logger,
        )
        try:
            yield con
        finally:
            con.close()


class WarehouseDbtCliResource(DbtCliResource):
    """The dbt command line, which writes to ``warehouse`` and so holds its run lock.

    A run that selects only dbt models does not set up the top-level ``warehouse``
    resource. Dagster sets up a nested resource together with the resource that
    contains it, so the nested ``warehouse`` takes the run lock for dbt runs too.
    """

    warehouse: DuckDBWarehouse

    # NOTE: the two overrides below replace private methods of dagster-dbt 0.29.
    # Check them when upgrading dagster-dbt; without them every dbt step still
    # works, only slower.
    @property
    def _cli_version(self) -> Version:
        """dbt-core's version, read from the installed package.

        dagster-dbt runs `dbt --version` in a subprocess for it once per run (2.5 s
        on a 2-core machine). The dbt executable is this environment's own, so the
        installed package has the same version.
        """
        return Version(package_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        """Skip the dbt adapter that dagster-dbt builds in this process.

        dagster-dbt loads the dbt project, profile and macros before every dbt
        command (0.9 to 1.7 s a step at 100,000 customers) only to serve
        fetch_row_counts() and fetch_column_metadata(). The project calls neither:
        orchestration.dbt_assets counts the rows itself once dbt has exited.
        """
        return None


@contextmanager
def hold_run_lock(
    warehouse: Path, wait_seconds: float, context: dg.InitResourceContext
) -> Iterator[Path]:
    """Hold the warehouse run lock for a Dagster run, logging to the run's log."""
    run_id = context.run.run_id if context.run is not None else "no run id"
    log = context.log or logger
    with run_lock(
        warehouse,
        wait_seconds=wait_seconds,
        run_description=f"Dagster run {run_id}",
        log=log,
    ) as lock_path:
        yield lock_path


def connect_with_retry(
    path: Path, read_only: bool, timeout_seconds: float, log: logging.Logger
) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file, retrying with backoff while another process locks it.

    The connection gets the memory limit and spill folder of ``settings``. Raises
    ``WarehouseLockedError`` after ``timeout_seconds``; other DuckDB errors are
    raised at once.
    """
    deadline = time.monotonic() + timeout_seconds
    delay = 0.1
    attempts = 0
    while True:
        attempts += 1
        try:
            con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as error:
            if DUCKDB_LOCK_MESSAGE not in str(error):
                raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _locked_error(path, read_only, timeout_seconds, error) from error
            if attempts == 1:
                log.warning(
                    "warehouse %s is locked by %s; retrying for up to %.0f s",
                    path,
                    _lock_holder(error),
                    timeout_seconds,
                )
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 5.0)
            continue
        if attempts > 1:
            log.info("opened warehouse %s after %d attempts", path, attempts)
        try:
            settings.configure_duckdb(con)
        except BaseException:
            con.close()
            raise
        return con


def _lock_holder(error: duckdb.IOException) -> str:
    match = DUCKDB_LOCK_HOLDER.search(str(error))
    if match is None:
        return "another process (DuckDB did not name it)"
    return f"process {match['pid']} ({match['program']})"


def _locked_error(
    path: Path, read_only: bool, timeout_seconds: float, error: duckdb.IOException
) -> WarehouseLockedError:
    mode = "read-only" if read_only else "writing"
    return WarehouseLockedError(
        f"could not open the warehouse {path} for {mode}: {_lock_holder(error)} "
        f"holds DuckDB's lock on the file, still after {timeout_seconds:.0f} s of "
        "retries. DuckDB allows one writing process, and any other open connection, "
        "read-only ones included, keeps a writer out. Close the other connection (a "
        "DuckDB shell, a notebook, a SQL client) and run again; to read while no run "
        f"writes, connect with read_only=True. DuckDB reported: {error}"
    )


def build_resources() -> dict[str, dg.ConfigurableResource]:
    settings.export_settings_to_environment()
    warehouse = DuckDBWarehouse(path=str(settings.warehouse_path()))
    return {
        "warehouse": warehouse,
        "dbt": WarehouseDbtCliResource(
            project_dir=dbt_project,
            profiles_dir=str(settings.DBT_PROJECT_DIR),
            # The venv's dbt, so the command works without an activated venv.
            dbt_executable=str(Path(sys.executable).with_name("dbt")),
            warehouse=warehouse,
        ),
    }
