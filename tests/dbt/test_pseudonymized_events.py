"""Functional test: marts.pseudonymized_events contains the rows of analytics.events.

The table stores each event's pseudonyms, page and session fields so that reading
``analytics.events`` hashes nothing and a night computes only new and changed
events. Runs on the ``small_warehouse`` fixture, and on a copy of it where a test
changes rows or the key and runs dbt again.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from orchestration.privacy import store
from tests.dbt.test_dbt_project import run_dbt

PSEUDONYM_COLUMNS = (
    "event_pseudonym",
    "customer_pseudonym",
    "visitor_pseudonym",
    "session_pseudonym",
)
# The ids behind PSEUDONYM_COLUMNS, in the same order, for every event.
EVENT_IDS_SQL = """
    select
        events.event_id,
        events.customer_id,
        coalesce(events.anonymous_id, 'user:' || events.user_id),
        session_events.session_id
    from marts.fct_events as events
    left join marts.fct_session_events as session_events
        on events.event_id = session_events.event_id
"""
VIEW_COLUMNS_SQL = """
    select column_name from information_schema.columns
    where table_schema = 'analytics' and table_name = 'events'
    order by ordinal_position
"""


def pseudonym_key(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute(
        "select value from privacy.settings where name = ?",
        [store.PSEUDONYM_KEY_SETTING],
    ).fetchone()[0]


def expected_pseudonyms(con: duckdb.DuckDBPyConnection, key: str) -> set[tuple]:
    """Return the four pseudonyms of every event, computed in Python."""
    return {
        tuple(None if value is None else store.pseudonym(key, value) for value in row)
        for row in con.execute(EVENT_IDS_SQL).fetchall()
    }


def stored_pseudonyms(con: duckdb.DuckDBPyConnection) -> set[tuple]:
    selected = ", ".join(PSEUDONYM_COLUMNS)
    return set(
        con.execute(f"select {selected} from marts.pseudonymized_events").fetchall()
    )


def visitor_pseudonym_of(con: duckdb.DuckDBPyConnection, event_id: str) -> str:
    return con.execute(
        "select visitor_pseudonym from marts.pseudonymized_events where event_id = ?",
        [event_id],
    ).fetchone()[0]


def check_new_key_replaces_pseudonyms(
    warehouse: Path, tmp_path: Path, view: str, model: str, expected_of, stored_of
) -> str:
    """Replace the pseudonym key of ``warehouse`` and check that ``view`` raises an
    error until ``model`` runs, and that the run then stores only pseudonyms under
    the new key. ``expected_of(con, key)`` computes them in Python and
    ``stored_of(con)`` reads them from the model. Returns the new key."""
    new_key = "cd" * 32
    with duckdb.connect(str(warehouse)) as con:
        old_pseudonyms = stored_of(con)
        con.execute(
            "update privacy.settings set value = ? where name = ?",
            [new_key, store.PSEUDONYM_KEY_SETTING],
        )
        expected = expected_of(con, new_key)

        # Until dbt runs, the view raises an error instead of showing old pseudonyms.
        with pytest.raises(duckdb.Error, match="earlier pseudonym key"):
            con.execute(f"select count(*) from {view}").fetchall()

    result = run_dbt(["run", "--select", model], warehouse, tmp_path)

    assert result.returncode == 0, result.stdout[-3000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert stored_of(con) == expected
        assert stored_of(con).isdisjoint(old_pseudonyms)
    return new_key


@pytest.fixture(scope="module")
def con(small_warehouse):
    with duckdb.connect(str(small_warehouse), read_only=True) as connection:
        yield connection


@pytest.fixture
def writable_copy(small_warehouse, tmp_path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(small_warehouse, path)
    return path


def test_stored_pseudonyms_are_hmac_of_ids(con):
    key = pseudonym_key(con)
    expected = expected_pseudonyms(con, key)
    events = con.execute("select count(*) from marts.fct_events").fetchone()[0]

    assert len(expected) == events
    assert events >= 4
    assert stored_pseudonyms(con) == expected


def test_stored_ids_match_events(con):
    stored = con.execute(
        "select event_id, customer_id from marts.pseudonymized_events order by 1"
    ).fetchall()
    events = con.execute(
        "select event_id, customer_id from marts.fct_events order by 1"
    ).fetchall()

    assert stored == events


def test_view_reads_the_stored_rows(con):
    columns = [name for (name,) in con.execute(VIEW_COLUMNS_SQL).fetchall()]
    selected = ", ".join(columns)
    view_rows = con.execute(f"select {selected} from analytics.events").fetchall()
    stored_rows = con.execute(
        f"select {selected} from marts.pseudonymized_events"
    ).fetchall()

    assert "page_path" in columns
    assert "event_id" not in columns
    assert sorted(view_rows, key=repr) == sorted(stored_rows, key=repr)


def test_night_computes_only_newer_events(writable_copy, tmp_path):
    """Rows whose fct_events or fct_session_events row is newer than the table are
    computed again. A row written before stays as stored, so the run did not read it."""
    with duckdb.connect(str(writable_copy)) as con:
        untouched, from_events, from_sessions = (
            event_id
            for (event_id,) in con.execute(
                "select event_id from marts.pseudonymized_events "
                "where session_pseudonym is not null "
                "order by event_id limit 3"
            ).fetchall()
        )
        expected = visitor_pseudonym_of(con, from_events)
        con.execute(
            "update marts.pseudonymized_events set visitor_pseudonym = 'stale' "
            "where event_id in (?, ?, ?)",
            [untouched, from_events, from_sessions],
        )
        newer = "(select max(_processed_at) + interval 1 second from marts.pseudonymized_events)"
        con.execute(
            f"update marts.fct_events set _processed_at = {newer} where event_id = ?",
            [from_events],
        )
        con.execute(
            f"update marts.fct_session_events set _processed_at = {newer} "
            "where event_id = ?",
            [from_sessions],
        )

    result = run_dbt(
        ["run", "--select", "pseudonymized_events"], writable_copy, tmp_path
    )

    assert result.returncode == 0, result.stdout[-3000:]
    with duckdb.connect(str(writable_copy), read_only=True) as con:
        assert visitor_pseudonym_of(con, from_events) == expected
        assert visitor_pseudonym_of(con, from_sessions) != "stale"
        assert visitor_pseudonym_of(con, untouched) == "stale"


def test_new_key_replaces_stored_pseudonyms(writable_copy, tmp_path):
    new_key = check_new_key_replaces_pseudonyms(
        writable_copy,
        tmp_path,
        "analytics.events",
        "pseudonymized_events",
        expected_pseudonyms,
        stored_pseudonyms,
    )

    with duckdb.connect(str(writable_copy), read_only=True) as con:
        expected = expected_pseudonyms(con, new_key)
        fingerprints = con.execute(
            "select count(distinct key_fingerprint) from marts.pseudonymized_events"
        ).fetchone()[0]
        view_pseudonyms = set(
            con.execute(
                f"select {', '.join(PSEUDONYM_COLUMNS)} from analytics.events"
            ).fetchall()
        )

        assert fingerprints == 1
        assert view_pseudonyms == expected


def test_run_drops_retired_event_pseudonyms(writable_copy, tmp_path):
    with duckdb.connect(str(writable_copy)) as con:
        con.execute(
            "create table marts.event_pseudonyms as "
            "select event_id, event_pseudonym from marts.pseudonymized_events"
        )
    result = run_dbt(
        ["run", "--select", "pseudonymized_events"], writable_copy, tmp_path
    )
    assert result.returncode == 0, result.stdout[-3000:]
    with duckdb.connect(str(writable_copy), read_only=True) as con:
        tables = con.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts' "
            "and table_name like '%pseudonym%' order by 1"
        ).fetchall()
    assert tables == [
        ("pseudonymized_customer_timeline",),
        ("pseudonymized_events",),
        ("pseudonymized_sessions",),
    ]
