"""Functional test: stored event pseudonyms equal the HMAC of the ids they replace.

``marts.event_pseudonyms`` keeps the pseudonyms of ``analytics.events``
so that a night hashes only new and changed events. Runs on the ``small_warehouse``
fixture, and on a copy of it where a test changes rows or the key.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from orchestration.privacy import store
from tests.dbt.test_dbt_project import run_dbt

PSEUDONYM_COLUMNS = {
    "event_pseudonym": "event_id",
    "customer_pseudonym": "customer_id",
    "visitor_pseudonym": "visitor_id",
    "session_pseudonym": "session_id",
}
# analytics.events with the ids behind its pseudonyms, in the column order of
# PSEUDONYM_COLUMNS.
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


def view_pseudonyms(con: duckdb.DuckDBPyConnection) -> set[tuple]:
    selected = ", ".join(PSEUDONYM_COLUMNS)
    return set(con.execute(f"select {selected} from analytics.events").fetchall())


def stored_pseudonyms(con: duckdb.DuckDBPyConnection) -> set[tuple]:
    selected = ", ".join(PSEUDONYM_COLUMNS)
    return set(con.execute(f"select {selected} from marts.event_pseudonyms").fetchall())


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
    stored = set(
        con.execute(
            "select event_id, customer_id, visitor_id, session_id "
            "from marts.event_pseudonyms"
        ).fetchall()
    )
    assert stored == set(con.execute(EVENT_IDS_SQL).fetchall())


def test_view_uses_stored_pseudonyms(con):
    assert view_pseudonyms(con) == stored_pseudonyms(con)


def test_view_hashes_stale_and_missing_rows(writable_copy):
    with duckdb.connect(str(writable_copy)) as con:
        expected = expected_pseudonyms(con, pseudonym_key(con))
        known = con.execute(
            "select event_id from marts.event_pseudonyms "
            "where customer_id is not null order by event_id limit 2"
        ).fetchall()
        moved, missing = known[0][0], known[1][0]
        # A stored row whose customer changed since, and an event with no row.
        con.execute(
            "update marts.event_pseudonyms "
            "set customer_id = 'moved-away', customer_pseudonym = 'stale' "
            "where event_id = ?",
            [moved],
        )
        con.execute(
            "delete from marts.event_pseudonyms where event_id = ?",
            [missing],
        )

        assert view_pseudonyms(con) == expected


def test_new_key_replaces_stored_pseudonyms(writable_copy, tmp_path):
    new_key = "ab" * 32
    with duckdb.connect(str(writable_copy)) as con:
        old_pseudonyms = stored_pseudonyms(con)
        con.execute(
            "update privacy.settings set value = ? where name = ?",
            [new_key, store.PSEUDONYM_KEY_SETTING],
        )
        expected = expected_pseudonyms(con, new_key)

        # Before dbt runs, the view computes every pseudonym under the new key.
        assert view_pseudonyms(con) == expected

    result = run_dbt(["run", "--select", "event_pseudonyms"], writable_copy, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    with duckdb.connect(str(writable_copy), read_only=True) as con:
        fingerprints = con.execute(
            "select count(distinct key_fingerprint) from marts.event_pseudonyms"
        ).fetchone()[0]

        assert stored_pseudonyms(con) == expected
        assert stored_pseudonyms(con).isdisjoint(old_pseudonyms)
        assert fingerprints == 1
