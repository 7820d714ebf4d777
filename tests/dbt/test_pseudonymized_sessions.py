"""Functional test: marts.pseudonymized_sessions contains the rows of analytics.sessions.

Runs on the ``small_warehouse`` fixture, and on a copy of it where a test changes
rows or the key and runs dbt again.
"""

from __future__ import annotations

import duckdb

from orchestration.privacy import store
from tests.dbt.test_dbt_project import run_dbt
from tests.dbt.test_pseudonymized_events import (
    check_new_key_replaces_pseudonyms,
    con,
    pseudonym_key,
    writable_copy,
)

__all__ = ["con", "writable_copy"]

# Pseudonym column -> the fct_sessions column it replaces.
PSEUDONYM_COLUMNS = {
    "session_pseudonym": "session_id",
    "visitor_pseudonym": "visitor_id",
    "customer_pseudonym": "customer_id",
}
VIEW_COLUMNS_SQL = """
    select column_name from information_schema.columns
    where table_schema = 'analytics' and table_name = 'sessions'
    order by ordinal_position
"""


def expected_pseudonyms(con: duckdb.DuckDBPyConnection, key: str) -> set[tuple]:
    """Return the three pseudonyms of every session, computed in Python."""
    ids = ", ".join(PSEUDONYM_COLUMNS.values())
    return {
        tuple(None if value is None else store.pseudonym(key, value) for value in row)
        for row in con.execute(f"select {ids} from marts.fct_sessions").fetchall()
    }


def stored_pseudonyms(con: duckdb.DuckDBPyConnection) -> set[tuple]:
    selected = ", ".join(PSEUDONYM_COLUMNS)
    return set(
        con.execute(f"select {selected} from marts.pseudonymized_sessions").fetchall()
    )


def visitor_pseudonym_of(con: duckdb.DuckDBPyConnection, session_id: str) -> str:
    return con.execute(
        "select visitor_pseudonym from marts.pseudonymized_sessions "
        "where session_id = ?",
        [session_id],
    ).fetchone()[0]


def test_stored_session_pseudonyms_are_hmac(con):
    expected = expected_pseudonyms(con, pseudonym_key(con))
    sessions = con.execute("select count(*) from marts.fct_sessions").fetchone()[0]

    assert sessions >= 2
    assert len(expected) == sessions
    assert stored_pseudonyms(con) == expected


def test_session_view_reads_the_stored_rows(con):
    columns = [name for (name,) in con.execute(VIEW_COLUMNS_SQL).fetchall()]
    selected = ", ".join(columns)
    view_rows = con.execute(f"select {selected} from analytics.sessions").fetchall()
    stored_rows = con.execute(
        f"select {selected} from marts.pseudonymized_sessions"
    ).fetchall()

    assert "landing_page" in columns
    assert "session_id" not in columns
    assert sorted(view_rows, key=repr) == sorted(stored_rows, key=repr)


def test_night_computes_only_newer_sessions(writable_copy, tmp_path):
    """A visitor whose fct_sessions rows are newer than the table is computed again.
    A visitor written before stays as stored, so the run did not read it."""
    with duckdb.connect(str(writable_copy)) as con:
        rows = con.execute(
            "select min(session_id) from marts.pseudonymized_sessions "
            "group by visitor_id order by 1 limit 2"
        ).fetchall()
        untouched, changed = (session_id for (session_id,) in rows)
        expected = visitor_pseudonym_of(con, changed)
        con.execute(
            "update marts.pseudonymized_sessions set visitor_pseudonym = 'stale' "
            "where session_id in (?, ?)",
            [untouched, changed],
        )
        con.execute(
            "update marts.fct_sessions set _processed_at = ("
            "select max(_processed_at) + interval 1 second "
            "from marts.pseudonymized_sessions) where session_id = ?",
            [changed],
        )

    result = run_dbt(
        ["run", "--select", "pseudonymized_sessions"], writable_copy, tmp_path
    )

    assert result.returncode == 0, result.stdout[-3000:]
    with duckdb.connect(str(writable_copy), read_only=True) as con:
        assert visitor_pseudonym_of(con, changed) == expected
        assert visitor_pseudonym_of(con, untouched) == "stale"


def test_new_key_replaces_stored_session_pseudonyms(writable_copy, tmp_path):
    check_new_key_replaces_pseudonyms(
        writable_copy,
        tmp_path,
        "analytics.sessions",
        "pseudonymized_sessions",
        expected_pseudonyms,
        stored_pseudonyms,
    )
