"""The dbt project built once per test session on the rows of ``test_dbt_project``.

Session scope lets several test modules read one build instead of running the
whole project again for each module.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.dbt.test_dbt_project import (
    create_raw_tables,
    create_record_customers,
    run_dbt,
)


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Build the project once and return the warehouse file and dbt's artifact folder."""
    folder = tmp_path_factory.mktemp("dbt_build")
    warehouse = folder / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        create_raw_tables(con)
        create_record_customers(con)

    result = run_dbt(["build"], warehouse, folder)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    return warehouse, folder / "target"
