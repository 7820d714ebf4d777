"""dbt's command line runs the project's generic test ``unique_and_not_null``, and
dbt's ``unique`` with the project's DuckDB version, on inline rows of an empty
DuckDB file and reports the failing rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.dbt.test_dbt_project import run_dbt


def failing_rows(
    tmp_path: Path, values: str, test: str = "unique_and_not_null"
) -> list[dict]:
    """Return the rows that the generic test ``test`` reports for a column ``v``
    containing ``values`` (SQL literals, such as ``(1), (null)``)."""
    rows = f"(select * from (values {values}) as t(v))"
    inline = f"""{{{{ test_{test}(model="{rows}", column_name='v') }}}}"""
    result = run_dbt(
        ["show", "--inline", inline, "--output", "json", "--log-format", "json"],
        tmp_path / "empty.duckdb",
        tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    for line in result.stdout.splitlines():
        event = json.loads(line)
        if event["info"]["name"] == "ShowNode":
            return json.loads(event["data"]["preview"])
    pytest.fail("dbt show printed no rows")


def test_unique_and_not_null_reports_duplicates_and_nulls(tmp_path):
    rows = failing_rows(tmp_path, "(1), (1), (2), (null), (null), (3)")
    by_value = {row["tested_value"]: row["row_count"] for row in rows}
    assert by_value == {1: 2, None: 2}


def test_unique_and_not_null_passes_distinct_values(tmp_path):
    assert failing_rows(tmp_path, "(1), (2), (3)") == []


def test_unique_reports_repeated_values_and_ignores_nulls(tmp_path):
    rows = failing_rows(
        tmp_path, "('a'), ('b'), ('a'), ('c'), ('a'), ('b'), (null), (null)", "unique"
    )
    by_value = {row["unique_field"]: row["n_records"] for row in rows}
    assert by_value == {"a": 3, "b": 2}


def test_unique_passes_distinct_values(tmp_path):
    assert failing_rows(tmp_path, "('a'), ('b'), (null), (null)", "unique") == []
