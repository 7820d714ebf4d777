"""Fixtures shared by the dbt tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dbt.test_dbt_project import build_warehouse


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Build the project on the rows of test_dbt_project once per test session.

    Returns the warehouse file and dbt's artifact folder. Tests only read them, so
    test_dbt_project, the catalog test and the analyst query test share one build.
    """
    folder = tmp_path_factory.mktemp("dbt_build")
    return build_warehouse(folder), folder / "target"
