"""Fixtures shared across test folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from filelock import FileLock


@pytest.fixture(scope="session")
def small_warehouse(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A warehouse with every mart, built once per test session for all workers.

    The pytest-xdist workers share one temporary root; the first to take the lock
    builds the warehouse and the others wait for it. Tests only read the file.
    """
    from tests.small_warehouse import build_small_warehouse

    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        root = root.parent
    folder = root / "small_warehouse"
    with FileLock(str(root / "small_warehouse.lock")):
        if not (folder / "built").exists():
            folder.mkdir(exist_ok=True)
            build_small_warehouse(folder)
            (folder / "built").touch()
    return folder / "warehouse.duckdb"


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

