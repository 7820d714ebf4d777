"""Functional test: the incremental customer_timeline and its stored pseudonyms.

marts.customer_timeline computes a customer again only when the customer's
touchpoints no longer match the fingerprint in its rows, and
marts.pseudonymized_customer_timeline contains the rows of
analytics.customer_timeline.
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

# Pseudonym column -> the customer_timeline column it replaces.
PSEUDONYM_COLUMNS = {
    "touchpoint_pseudonym": "touchpoint_id",
    "customer_pseudonym": "customer_id",
    "source_record_pseudonym": "source_record_id",
}
VIEW_COLUMNS_SQL = """
    select column_name from information_schema.columns
    where table_schema = 'analytics' and table_name = 'customer_timeline'
    order by ordinal_position
"""
TIMELINE_COLUMNS = (
    "touchpoint_id, customer_id, occurred_at, source, touchpoint_type, "
    "source_record_id, detail, touchpoint_number"
)


def expected_pseudonyms(con: duckdb.DuckDBPyConnection, key: str) -> set[tuple]:
    """Return the three pseudonyms of every touchpoint, computed in Python."""
    ids = ", ".join(PSEUDONYM_COLUMNS.values())
    return {
        tuple(None if value is None else store.pseudonym(key, value) for value in row)
        for row in con.execute(f"select {ids} from marts.customer_timeline").fetchall()
    }


def stored_pseudonyms(con: duckdb.DuckDBPyConnection) -> set[tuple]:
    selected = ", ".join(PSEUDONYM_COLUMNS)
    return set(
        con.execute(
            f"select {selected} from marts.pseudonymized_customer_timeline"
        ).fetchall()
    )


def timeline_rows(con: duckdb.DuckDBPyConnection, customer_id: str) -> list[tuple]:
    return con.execute(
        f"select {TIMELINE_COLUMNS} from marts.customer_timeline "
        "where customer_id = ? order by touchpoint_number",
        [customer_id],
    ).fetchall()


def two_customers_with_touchpoints(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        customer_id
        for (customer_id,) in con.execute(
            "select customer_id from marts.customer_timeline "
            "group by customer_id having count(*) >= 2 order by 1 limit 2"
        ).fetchall()
    ]


def run_timeline_models(warehouse, tmp_path) -> None:
    result = run_dbt(
        [
            "run",
            "--select",
            "customer_timeline_fingerprints customer_timeline "
            "pseudonymized_customer_timeline",
        ],
        warehouse,
        tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:]


def test_stored_timeline_pseudonyms_are_hmac(con):
    expected = expected_pseudonyms(con, pseudonym_key(con))
    touchpoints = con.execute(
        "select count(*) from marts.customer_timeline"
    ).fetchone()[0]

    assert touchpoints >= 2
    assert len(expected) == touchpoints
    assert stored_pseudonyms(con) == expected


def test_timeline_view_reads_the_stored_rows(con):
    columns = [name for (name,) in con.execute(VIEW_COLUMNS_SQL).fetchall()]
    selected = ", ".join(columns)
    view_rows = con.execute(
        f"select {selected} from analytics.customer_timeline"
    ).fetchall()
    stored_rows = con.execute(
        f"select {selected} from marts.pseudonymized_customer_timeline"
    ).fetchall()

    assert "touchpoint_number" in columns
    assert "customer_id" not in columns
    assert sorted(view_rows, key=repr) == sorted(stored_rows, key=repr)


def test_rows_carry_current_fingerprint(con):
    mismatched = con.execute(
        "select count(*) from marts.customer_timeline as timeline "
        "left join marts.customer_timeline_fingerprints as fingerprints "
        "using (customer_id) "
        "where fingerprints.touchpoints_fingerprint "
        "is distinct from timeline._touchpoints_fingerprint"
    ).fetchone()[0]
    customers = con.execute(
        "select count(distinct customer_id) from marts.customer_timeline"
    ).fetchone()[0]
    fingerprints = con.execute(
        "select count(*) from marts.customer_timeline_fingerprints"
    ).fetchone()[0]

    assert mismatched == 0
    assert customers == fingerprints


def test_fingerprint_ends_with_touchpoint_count(con):
    """The count distinguishes one copy of a touchpoint from three, which XOR cannot."""
    mismatched = con.execute(
        "select count(*) from marts.customer_timeline_fingerprints as fingerprints "
        "inner join (select customer_id, count(*) as touchpoints "
        "from marts.customer_timeline group by customer_id) as counted "
        "using (customer_id) "
        "where not ends_with(fingerprints.touchpoints_fingerprint, "
        "':' || counted.touchpoints)"
    ).fetchone()[0]

    assert mismatched == 0


def test_night_computes_only_changed_customers(writable_copy, tmp_path):
    """A customer whose stored fingerprint no longer matches is computed again, in
    both tables. A matching customer stays as stored, so the run did not read it."""
    with duckdb.connect(str(writable_copy)) as con:
        untouched, changed = two_customers_with_touchpoints(con)
        expected = timeline_rows(con, changed)
        expected_pseudonyms_of_changed = con.execute(
            "select touchpoint_pseudonym from marts.pseudonymized_customer_timeline "
            "where customer_id = ? order by 1",
            [changed],
        ).fetchall()
        con.execute(
            "update marts.customer_timeline set detail = 'stale', "
            "touchpoint_number = touchpoint_number + 100 "
            "where customer_id in (?, ?)",
            [untouched, changed],
        )
        con.execute(
            "update marts.customer_timeline set _touchpoints_fingerprint = 'old' "
            "where customer_id = ?",
            [changed],
        )
        con.execute(
            "update marts.pseudonymized_customer_timeline "
            "set touchpoint_pseudonym = 'stale' where customer_id in (?, ?)",
            [untouched, changed],
        )

    run_timeline_models(writable_copy, tmp_path)
    with duckdb.connect(str(writable_copy), read_only=True) as con:
        assert timeline_rows(con, changed) == expected
        assert {row[6] for row in timeline_rows(con, untouched)} == {"stale"}
        assert (
            con.execute(
                "select touchpoint_pseudonym from "
                "marts.pseudonymized_customer_timeline where customer_id = ? "
                "order by 1",
                [changed],
            ).fetchall()
            == expected_pseudonyms_of_changed
        )
        assert con.execute(
            "select distinct touchpoint_pseudonym from "
            "marts.pseudonymized_customer_timeline where customer_id = ?",
            [untouched],
        ).fetchall() == [("stale",)]


def test_table_without_fingerprints_is_recomputed(writable_copy, tmp_path):
    """A timeline table from before the fingerprint column gets the column, and its
    next run computes every customer."""
    with duckdb.connect(str(writable_copy)) as con:
        (customer_id, *_) = two_customers_with_touchpoints(con)
        expected = timeline_rows(con, customer_id)
        con.execute("alter table marts.customer_timeline drop _touchpoints_fingerprint")
        con.execute("alter table marts.customer_timeline drop _processed_at")
        con.execute(
            "update marts.customer_timeline set detail = 'stale' where customer_id = ?",
            [customer_id],
        )

    run_timeline_models(writable_copy, tmp_path)

    with duckdb.connect(str(writable_copy), read_only=True) as con:
        assert timeline_rows(con, customer_id) == expected
        assert con.execute(
            "select count(*) from marts.customer_timeline "
            "where _touchpoints_fingerprint is null or _processed_at is null"
        ).fetchone() == (0,)


def test_customers_without_touchpoints_deleted(writable_copy, tmp_path):
    with duckdb.connect(str(writable_copy)) as con:
        (customer_id, *_) = two_customers_with_touchpoints(con)
        for table in ("customer_timeline", "pseudonymized_customer_timeline"):
            con.execute(
                f"insert into marts.{table} select * replace ("
                "'gone-customer' as customer_id, "
                "touchpoint_id || '-gone' as touchpoint_id) "
                f"from marts.{table} where customer_id = ?",
                [customer_id],
            )

    run_timeline_models(writable_copy, tmp_path)
    with duckdb.connect(str(writable_copy), read_only=True) as con:
        for table in ("customer_timeline", "pseudonymized_customer_timeline"):
            assert con.execute(
                f"select count(*) from marts.{table} "
                "where customer_id = 'gone-customer'"
            ).fetchone() == (0,), table


def test_new_key_replaces_stored_timeline_pseudonyms(writable_copy, tmp_path):
    check_new_key_replaces_pseudonyms(
        writable_copy,
        tmp_path,
        "analytics.customer_timeline",
        "pseudonymized_customer_timeline",
        expected_pseudonyms,
        stored_pseudonyms,
    )
