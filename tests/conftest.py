"""Fixtures shared across test folders, and the order in which test files start."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

# Test files that run the whole nightly job, a Spark build or a dbt build, longest
# first. `make test` gives each file to one of the pytest-xdist workers in collection
# order, so these start first and the last files to start are short ones. The order
# follows the per-file totals of a run with --junitxml on the 2-core machine.
LONGEST_FIRST = (
    "tests/test_end_to_end.py",
    "tests/spark/test_dbt_on_spark.py",
    "tests/privacy/test_erasure_end_to_end.py",
    "tests/test_soak.py",
    "tests/spark/test_engine_spark.py",
    "tests/test_determinism.py",
    "tests/test_incremental_nights.py",
    "tests/dbt/test_segments.py",
    "tests/orchestration/test_staging_gates.py",
    "tests/dbt/test_survivorship.py",
    "tests/orchestration/test_concurrent_runs.py",
)


def pytest_configure(config: pytest.Config) -> None:
    # Without --no-loadscope-reorder, pytest-xdist sorts files by their number of
    # tests, which puts the long end-to-end files, with few tests each, at the end.
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the files of LONGEST_FIRST to the front, keeping the order within a file."""
    rank = {path: index for index, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


def build_once(
    tmp_path_factory: pytest.TempPathFactory,
    worker_id: str,
    name: str,
    build: Callable[[Path], object],
) -> Path:
    """Run ``build`` on the folder ``name`` once per test session for all workers.

    The pytest-xdist workers share one temporary root; the first to take the lock
    builds and the others wait for it. A folder left by a failed build is removed, so
    the next worker starts again from an empty folder.
    """
    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        root = root.parent
    folder = root / name
    with FileLock(str(root / f"{name}.lock")):
        if not (folder / "built").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / "built").touch()
    return folder


@pytest.fixture(scope="session")
def built_warehouse(
    tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> tuple[Path, Path]:
    """Build the project on the rows of tests/dbt/test_dbt_project.py, with its data
    and unit tests, once per test session for all workers.

    Returns the warehouse file and dbt's artifact folder, which tests only read. dbt
    opens a warehouse for writing, and DuckDB then lets no other process read it, so
    a test that runs dbt on the warehouse works on a copy.
    """
    from tests.dbt.test_dbt_project import build_warehouse

    folder = build_once(tmp_path_factory, worker_id, "dbt_build", build_warehouse)
    return folder / "warehouse.duckdb", folder / "target"


@pytest.fixture(scope="session")
def small_warehouse(
    built_warehouse: tuple[Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
    worker_id: str,
) -> Path:
    """A warehouse with every mart and the tables of a nightly run that dbt does not
    build, once per test session for all workers. Tests only read the file."""
    from tests.small_warehouse import build_small_warehouse

    def build(folder: Path) -> None:
        build_small_warehouse(folder, *built_warehouse)

    return build_once(tmp_path_factory, worker_id, "small_warehouse", build) / (
        "warehouse.duckdb"
    )


@pytest.fixture(scope="session")
def generated_night(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The folder of one ``cdp run`` on a generated sample, run once per test session
    for all workers (tests/generated_night.py). Tests only read it, and a test that
    runs the job again works on a copy."""
    from tests.generated_night import run_first_night

    folder = build_once(tmp_path_factory, worker_id, "generated_night", run_first_night)
    return folder / "night"


@pytest.fixture(scope="module", autouse=True)
def restore_environment():
    """Undo what a test module's code wrote into os.environ.

    Importing the Dagster definitions exports every resolved path (warehouse,
    outbox, analyst file) into the environment for dbt and Dagster subprocesses.
    Left in place, a later module in the same worker would send its runs to the
    earlier module's folders.
    """
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
