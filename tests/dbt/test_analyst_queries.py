"""Functional test: every query in docs/analyst_queries.md runs and returns rows.

The queries run on an analyst copy, read-only, as an analyst would run them on
``data/analytics.duckdb``. The copy is written by ``write_analyst_copy`` from a
copy of the ``small_warehouse`` fixture, the real dbt project built on the rows
of ``test_dbt_project.py``. A query that names a mart or a column the analytics
tables lack fails here.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest

from orchestration.analyst_copy import write_analyst_copy

DOC = Path(__file__).resolve().parents[2] / "docs" / "analyst_queries.md"
SQL_BLOCK = re.compile(r"^```sql\n(.*?)^```", re.DOTALL | re.MULTILINE)


def queries_by_heading() -> dict[str, str]:
    """Map each second-level heading of the document to the sql block below it."""
    queries = {}
    for section in DOC.read_text().split("\n## ")[1:]:
        heading = section.splitlines()[0]
        blocks = SQL_BLOCK.findall(section)
        assert len(blocks) == 1, f"section {heading!r} has {len(blocks)} sql blocks"
        queries[heading] = blocks[0]
    return queries


QUERIES = queries_by_heading()


@pytest.fixture(scope="module")
def analyst_copy(small_warehouse, tmp_path_factory) -> Path:
    """Write ``analytics.duckdb`` from a writable copy of the small warehouse.

    The file keeps the name of the nightly job's copy, because DuckDB names the
    catalog after the file and the queries name ``analytics.<table>``.
    """
    folder = tmp_path_factory.mktemp("analyst_copy")
    warehouse = folder / "warehouse.duckdb"
    shutil.copyfile(small_warehouse, warehouse)
    target = folder / "analytics.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        write_analyst_copy(con, target)
    warehouse.unlink()
    return target


def test_doc_has_example_queries():
    assert len(QUERIES) >= 6
    assert len(SQL_BLOCK.findall(DOC.read_text())) == len(QUERIES)


@pytest.mark.parametrize("sql", QUERIES.values(), ids=QUERIES.keys())
def test_doc_queries_name_no_marts(sql):
    assert "marts." not in sql


def test_analyst_copy_has_no_marts(analyst_copy):
    with duckdb.connect(str(analyst_copy), read_only=True) as con:
        with pytest.raises(duckdb.CatalogException):
            con.execute("select * from marts.fct_orders").fetchall()


@pytest.mark.parametrize("sql", QUERIES.values(), ids=QUERIES.keys())
def test_analyst_query_returns_rows(analyst_copy, sql):
    with duckdb.connect(str(analyst_copy), read_only=True) as con:
        rows = con.execute(sql).fetchall()

    assert len(rows) >= 1
