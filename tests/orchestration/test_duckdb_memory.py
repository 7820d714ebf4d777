"""The memory limit and spill folder of the warehouse connections and dbt's profile."""

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from orchestration import settings
from orchestration.resources import DuckDBWarehouse
from tests.dbt.test_dbt_project import run_dbt


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("CDP_WAREHOUSE", str(path))
    monkeypatch.delenv("CDP_DUCKDB_MEMORY_LIMIT", raising=False)
    monkeypatch.delenv("CDP_DUCKDB_TEMP_DIR", raising=False)
    return path


def current_settings(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    return con.execute(
        "select current_setting('memory_limit'), current_setting('temp_directory')"
    ).fetchall()[0]


def test_default_limit_is_35_percent(warehouse: Path):
    with duckdb.connect() as reference:
        reference.execute("set memory_limit = '35%'")
        expected, _ = current_settings(reference)

    with DuckDBWarehouse(path=str(warehouse)).connect() as con:
        limit, temp_directory = current_settings(con)

    assert limit == expected
    assert temp_directory == f"{warehouse}.tmp"


def test_limit_and_folder_from_environment(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("CDP_DUCKDB_MEMORY_LIMIT", "1GiB")
    monkeypatch.setenv("CDP_DUCKDB_TEMP_DIR", str(tmp_path / "spill"))

    with DuckDBWarehouse(path=str(warehouse)).connect(read_only=False) as con:
        limit, temp_directory = current_settings(con)

    assert limit == "1.0 GiB"
    assert temp_directory == str(tmp_path / "spill")


def test_invalid_limit_names_the_variable(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("CDP_DUCKDB_MEMORY_LIMIT", "lots")

    with pytest.raises(ValueError, match="CDP_DUCKDB_MEMORY_LIMIT is 'lots'"):
        with DuckDBWarehouse(path=str(warehouse)).connect():
            pass


def test_configured_connection_accepts_frames(warehouse: Path):
    # DuckDB 2.0 refuses register() while a result is partly fetched.
    with DuckDBWarehouse(path=str(warehouse)).connect() as con:
        con.register("frame", pd.DataFrame({"value": [1, 2]}))
        total = con.execute("select sum(value) from frame").fetchall()[0][0]

    assert total == 3


def test_spills_past_the_limit(warehouse: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CDP_DUCKDB_MEMORY_LIMIT", "128MiB")

    with DuckDBWarehouse(path=str(warehouse)).connect() as con:
        # About 400 MB of text, three times the limit.
        con.execute(
            "create temp table wide as select range as id, repeat('x', 200) as text "
            "from range(2000000)"
        )
        rows = con.execute("select count(*) from wide").fetchall()[0][0]
        spilled = con.execute(
            "select count(*) from duckdb_temporary_files()"
        ).fetchall()[0][0]

    assert rows == 2_000_000
    assert spilled > 0


def test_dbt_profile_sets_limit_and_folder(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("CDP_DUCKDB_MEMORY_LIMIT", "1GiB")
    duckdb.connect(str(warehouse)).close()

    result = run_dbt(
        [
            "show",
            "--inline",
            "select current_setting('memory_limit') as memory_limit, "
            "current_setting('temp_directory') as temp_directory",
            "--output",
            "json",
        ],
        warehouse,
        tmp_path,
    )

    assert result.returncode == 0, result.stdout[-3000:]
    assert '"memory_limit": "1.0 GiB"' in result.stdout
    assert f'"temp_directory": "{warehouse}.tmp"' in result.stdout
    assert settings.duckdb_temp_directory() == Path(f"{warehouse}.tmp")


SPILLING_MODEL = """
{{ config(materialized='table') }}
select i, md5(cast(i as varchar)) as digest
from range(3000000) as numbers(i)
order by digest
"""
NEXT_MODEL = """
{{ config(materialized='table') }}
select count(*) as row_count from {{ ref('spilling') }}
"""


def spilling_project(folder: Path) -> Path:
    """Write a dbt project with the real profile: a model that spills, then another."""
    models = folder / "models"
    models.mkdir(parents=True)
    (folder / "dbt_project.yml").write_text(
        "name: spill_check\nversion: '1.0'\nprofile: cdp\n"
        "flags:\n  send_anonymous_usage_stats: false\n",
        encoding="utf-8",
    )
    profile = settings.DBT_PROJECT_DIR / "profiles.yml"
    (folder / "profiles.yml").write_text(profile.read_text(encoding="utf-8"))
    (models / "spilling.sql").write_text(SPILLING_MODEL, encoding="utf-8")
    (models / "after_spill.sql").write_text(NEXT_MODEL, encoding="utf-8")
    return folder


def test_dbt_models_run_after_a_spill(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # dbt-duckdb applies profile settings before every model, and DuckDB rejects a
    # new temp_directory once a query has spilled, so the limit and folder must be
    # set once per connection.
    monkeypatch.setenv("CDP_DUCKDB_MEMORY_LIMIT", "100MB")
    project = spilling_project(tmp_path / "project")

    result = run_dbt(["build"], warehouse, tmp_path, project_dir=project)

    output = result.stdout[-4000:]
    assert result.returncode == 0, output
    assert "PASS=2" in output
    with duckdb.connect(str(warehouse), read_only=True) as con:
        [(count,)] = con.execute("select row_count from main.after_spill").fetchall()
    assert count == 3_000_000
