"""Functional test: every query in docs/analyst_queries.md runs and returns rows.

The queries run on the warehouse of the ``built_warehouse`` fixture, read-only, as
an analyst would run them in the DuckDB command line client.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

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


def test_doc_has_example_queries():
    assert len(QUERIES) >= 6
    assert len(SQL_BLOCK.findall(DOC.read_text())) == len(QUERIES)


@pytest.mark.parametrize("sql", QUERIES.values(), ids=QUERIES.keys())
def test_analyst_query_returns_rows(built_warehouse, sql):
    warehouse, _ = built_warehouse
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(sql).fetchall()

    assert len(rows) >= 1
