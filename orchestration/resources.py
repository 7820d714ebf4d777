"""Dagster resources: the DuckDB warehouse and the dbt command line."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource

from orchestration import settings
from orchestration.dbt_project import dbt_project


class DuckDBWarehouse(dg.ConfigurableResource):
    """The warehouse file. Assets open, write and close it, so dbt can open it next."""

    path: str

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        con = duckdb.connect(self.path, read_only=read_only)
        try:
            yield con
        finally:
            con.close()


def build_resources() -> dict[str, dg.ConfigurableResource]:
    settings.export_settings_to_environment()
    return {
        "warehouse": DuckDBWarehouse(path=str(settings.warehouse_path())),
        "dbt": DbtCliResource(
            project_dir=dbt_project,
            profiles_dir=str(settings.DBT_PROJECT_DIR),
            # The venv's dbt, so the command works without an activated venv.
            dbt_executable=str(Path(sys.executable).with_name("dbt")),
        ),
    }
