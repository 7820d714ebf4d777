"""The Spark build and its DuckDB twin, built once per test session for all workers.

``tests/spark/test_dbt_on_spark.py`` compares what the build wrote with the DuckDB
engine, and ``tests/spark/test_cli_on_spark.py`` runs the read-only commands on it.
pytest-xdist may give the two files to different workers, so the build runs
through ``build_once``: the first worker builds, the other waits and reads it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import build_once
from tests.spark.spark_build import (
    build_duckdb_activation,
    build_spark,
    load_spark_build,
)


@pytest.fixture(scope="session")
def spark_build(
    small_warehouse: Path, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> dict:
    """Run ``dbt build`` and the other Spark steps once; a failed build is returned
    with its exit status and output, so the tests report it."""
    folder = build_once(
        tmp_path_factory,
        worker_id,
        "spark_build",
        lambda target: build_spark(target, small_warehouse),
    )
    return load_spark_build(folder, small_warehouse)


@pytest.fixture(scope="session")
def duckdb_activation(
    small_warehouse: Path, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Path:
    """Return the folder with the small warehouse after every destination synced on
    the DuckDB engine (``warehouse.duckdb``) and its outbox (``outbox``)."""
    return build_once(
        tmp_path_factory,
        worker_id,
        "duckdb_activation",
        lambda target: build_duckdb_activation(target, small_warehouse),
    )
