"""Stable customer ids: the assignment rules on hand-made clusters, then whole runs.

The first half feeds clusters straight into ``assign_customer_ids`` on a real DuckDB
file, one call per night. The second half runs ``resolve_identities`` with records
linked by shared identifiers, so Splink plays no part in which records cluster.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta

import duckdb
import pytest

from identity.clustering import RECORD_CLUSTERS
from identity.resolve import resolve_identities
from identity.scratch import scratch_database
from identity.stable_ids import (
    CustomerIdChanges,
    assign_customer_ids,
    create_customer_id_tables,
    save_customer_ids,
)

from .conftest import write_warehouse

FIRST_NIGHT = datetime(2026, 12, 1, 2, 0)

ID_TABLES = (
    "identity.customer_id_map",
    "identity.customer_ids",
    "identity.customer_id_history",
    "identity.customer_id_lookup",
)


def minted_id(record_key: str) -> str:
    return "cus_" + hashlib.md5(record_key.encode()).hexdigest()[:16]


class Nights:
    """Runs the id assignment on one warehouse, one call per night."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.night = 0

    def run(self, clusters: list[list[str]]) -> CustomerIdChanges:
        self.night += 1
        rows = [(key, min(cluster)) for cluster in clusters for key in cluster]
        create_customer_id_tables(self.con)
        with scratch_database(self.con):
            self.con.execute(
                f"create table {RECORD_CLUSTERS} (record_key varchar, cluster_key varchar)"
            )
            if rows:
                self.con.executemany(
                    f"insert into {RECORD_CLUSTERS} values (?, ?)", rows
                )
            changes = assign_customer_ids(
                self.con,
                f"night-{self.night}",
                FIRST_NIGHT + timedelta(days=self.night - 1),
            )
            self.con.begin()
            save_customer_ids(self.con)
            self.con.commit()
        return changes

    def ids(self) -> dict[str, str]:
        rows = self.con.execute(
            "select record_key, customer_id from identity.customer_id_map"
        ).fetchall()
        return dict(rows)

    def history(self) -> list[tuple]:
        return self.con.execute(
            "select old_customer_id, new_customer_id, change, records, run_id "
            "from identity.customer_id_history order by changed_at, change, 1, 2"
        ).fetchall()

    def lookup(self) -> dict[str, str]:
        rows = self.con.execute(
            "select customer_id, current_customer_id from identity.customer_id_lookup"
        ).fetchall()
        return dict(rows)


@pytest.fixture
def nights(warehouse) -> Nights:
    return Nights(warehouse)


def test_first_run_mints_from_smallest_key(nights):
    changes = nights.run([["b", "a"], ["c"]])

    assert nights.ids() == {
        "a": minted_id("a"),
        "b": minted_id("a"),
        "c": minted_id("c"),
    }
    assert (changes.customers, changes.minted, changes.kept) == (2, 2, 0)
    assert nights.history() == []
    assert nights.lookup() == {
        minted_id("a"): minted_id("a"),
        minted_id("c"): minted_id("c"),
    }


def test_identical_run_keeps_ids(nights):
    nights.run([["a", "b"], ["c"]])
    first = nights.ids()

    changes = nights.run([["a", "b"], ["c"]])

    assert nights.ids() == first
    assert (changes.kept, changes.minted, changes.merged, changes.split) == (2, 0, 0, 0)
    assert nights.history() == []
    issued = nights.con.execute("select count(*) from identity.customer_ids").fetchall()
    assert issued == [(2,)]


def test_new_smaller_key_keeps_id(nights):
    # An id derived from the cluster's smallest key would change here, but the
    # stored id stays.
    nights.run([["m"]])

    nights.run([["a", "m"]])

    assert nights.ids() == {"a": minted_id("m"), "m": minted_id("m")}
    assert nights.history() == []


def test_merge_keeps_older_id(nights):
    older, younger = minted_id("x"), minted_id("y")
    assert older > younger, "the older id must sort last to tell age from id order"
    nights.run([["x"]])
    nights.run([["x"], ["y"]])

    changes = nights.run([["x", "y"]])

    assert nights.ids() == {"x": older, "y": older}
    assert nights.history() == [(younger, older, "merge", 1, "night-3")]
    assert (changes.merged, changes.split, changes.minted) == (1, 0, 0)
    assert nights.lookup()[younger] == older


def test_merge_of_same_age_keeps_smaller_id(nights):
    nights.run([["x"], ["y"]])

    nights.run([["x", "y"]])

    smaller, larger = sorted([minted_id("x"), minted_id("y")])
    assert set(nights.ids().values()) == {smaller}
    assert nights.history() == [(larger, smaller, "merge", 1, "night-2")]


def test_split_keeps_id_on_larger_part(nights):
    nights.run([["a", "b", "c"]])
    original = minted_id("a")

    changes = nights.run([["a"], ["b", "c"]])

    ids = nights.ids()
    assert ids["b"] == ids["c"] == original
    # "a" minted the original id already, so its new id is salted with the count.
    assert ids["a"] == minted_id("a#1")
    assert nights.history() == [(original, minted_id("a#1"), "split", 1, "night-2")]
    assert (changes.split, changes.minted, changes.kept) == (1, 1, 1)
    assert nights.lookup()[original] == original


def test_split_tie_goes_to_smaller_key(nights):
    nights.run([["a", "b"]])

    nights.run([["a"], ["b"]])

    assert nights.ids() == {"a": minted_id("a"), "b": minted_id("b")}
    assert nights.history() == [(minted_id("a"), minted_id("b"), "split", 1, "night-2")]


def test_split_part_joining_other_id(nights):
    # Two of X's records stay, one moves to Y's cluster: X splits into Y.
    nights.run([["x1", "x2", "x3"], ["y1"]])
    x_id, y_id = minted_id("x1"), minted_id("y1")

    nights.run([["x1", "x2"], ["x3", "y1"]])

    assert nights.ids() == {"x1": x_id, "x2": x_id, "x3": y_id, "y1": y_id}
    assert nights.history() == [(x_id, y_id, "split", 1, "night-2")]


def test_lookup_follows_merge_chain(nights):
    nights.run([["c"]])
    nights.run([["c"], ["b"]])
    nights.run([["c"], ["b"], ["a"]])
    nights.run([["c"], ["a", "b"]])
    nights.run([["a", "b", "c"]])

    a_id, b_id, c_id = minted_id("a"), minted_id("b"), minted_id("c")
    assert [row[:3] for row in nights.history()] == [
        (a_id, b_id, "merge"),
        (b_id, c_id, "merge"),
    ]
    assert nights.lookup() == {a_id: c_id, b_id: c_id, c_id: c_id}


def test_missing_record_keeps_id_until_back(nights):
    nights.run([["a"], ["z"]])

    nights.run([["z"]])
    nights.run([["a"], ["z"]])

    assert nights.ids() == {"a": minted_id("a"), "z": minted_id("z")}
    assert nights.history() == []
    first_seen = nights.con.execute(
        "select first_seen_run_id, assigned_run_id from identity.customer_id_map "
        "where record_key = 'a'"
    ).fetchall()
    assert first_seen == [("night-1", "night-1")]


def test_missing_record_follows_merge(nights):
    nights.run([["o"]])
    nights.run([["o"], ["a", "b"]])

    nights.run([["a", "o"]])

    assert nights.ids() == {
        "a": minted_id("o"),
        "b": minted_id("o"),
        "o": minted_id("o"),
    }


def test_assignment_without_id_tables_writes_nothing(warehouse):
    with scratch_database(warehouse):
        warehouse.execute(
            f"create table {RECORD_CLUSTERS} as "
            "select * from (values ('a', 'a'), ('b', 'a')) as t(record_key, cluster_key)"
        )

        changes = assign_customer_ids(warehouse, "preview", FIRST_NIGHT)

    assert (changes.records, changes.customers, changes.minted) == (2, 1, 1)
    tables = warehouse.execute("select count(*) from duckdb_tables()").fetchall()
    assert tables == [(0,)]


@pytest.mark.slow
def test_assignment_of_one_million_records(nights, capsys):
    # Night 1: 1M records in clusters of 4. Night 2: every 100th cluster merges with
    # its neighbour and every 100th other cluster loses one record.
    create_customer_id_tables(nights.con)
    clusters_sql = """
        select
            printf('r%07d', i) as record_key,
            printf('r%07d', i - i % 4) as cluster_key
        from range(1000000) as t(i)
    """
    next_clusters_sql = """
        select
            printf('r%07d', i) as record_key,
            case
                when (i // 4) % 100 = 1 then printf('r%07d', i - i % 4 - 4)
                when (i // 4) % 100 = 50 and i % 4 = 3 then printf('r%07d', i)
                else printf('r%07d', i - i % 4)
            end as cluster_key
        from range(1000000) as t(i)
    """
    timings = []
    for night, sql in enumerate((clusters_sql, next_clusters_sql), start=1):
        with scratch_database(nights.con):
            nights.con.execute(f"create table {RECORD_CLUSTERS} as {sql}")
            started = time.perf_counter()
            changes = assign_customer_ids(
                nights.con, f"night-{night}", FIRST_NIGHT + timedelta(days=night)
            )
            nights.con.begin()
            save_customer_ids(nights.con)
            nights.con.commit()
            timings.append(time.perf_counter() - started)

    assert (changes.records, changes.merged, changes.split) == (1_000_000, 2500, 2500)
    assert changes.customers == 250_000 - 2500 + 2500
    with capsys.disabled():
        print(
            f"\nid assignment of 1M records: {timings[0]:.2f} s first night, "
            f"{timings[1]:.2f} s second night"
        )


# Whole runs through resolve_identities.


def anna(person_record, source_record_id: str, **fields):
    """An Anna whose records link only through the identifiers they share."""
    return person_record("crm_contacts", source_record_id, first_name="Anna", **fields)


def test_identical_resolve_runs_keep_ids(build_warehouse, person_record):
    con = build_warehouse(
        [
            anna(person_record, "1", last_name="Lange", email="anna@lange.de"),
            anna(person_record, "2", last_name="Lange", email="anna@lange.de"),
            anna(person_record, "3", last_name="Koch", email="anna@koch.de"),
        ]
    )

    resolve_identities(con, run_id="night-1")
    first = dict(
        con.execute(
            "select record_key, customer_id from identity.record_customers"
        ).fetchall()
    )
    result = resolve_identities(con, run_id="night-2")
    second = dict(
        con.execute(
            "select record_key, customer_id from identity.record_customers"
        ).fetchall()
    )

    assert second == first
    assert result.id_changes.kept == 2
    assert con.execute(
        "select count(*) from identity.customer_id_history"
    ).fetchall() == [(0,)]


def test_ids_survive_rebuild_of_everything_else(tmp_path, person_record):
    path = tmp_path / "warehouse.duckdb"
    shop = person_record("shop_orders", "7", first_name="Anna", email="anna@lange.de")
    crm = anna(person_record, "1", last_name="Lange", email="anna@lange.de")
    with duckdb.connect(str(path)) as con:
        write_warehouse(con, [shop])
        resolve_identities(con, run_id="night-1")
        write_warehouse(con, [shop, crm])
        resolve_identities(con, run_id="night-2")

        # Drop every table but the id tables, as a rebuild from empty sources would.
        for (table,) in con.execute(
            "select schema_name || '.' || table_name from duckdb_tables()"
        ).fetchall():
            if table not in ID_TABLES:
                con.execute(f"drop table {table}")

        write_warehouse(con, [crm, shop])
        resolve_identities(con, run_id="rebuild")
        ids = con.execute(
            "select distinct customer_id from identity.record_customers"
        ).fetchall()

    # The cluster's smallest key is now the CRM record, but the shop record came first.
    assert ids == [(minted_id("shop_orders:7"),)]


def test_resolve_merge_keeps_older_id(build_warehouse, person_record):
    first = anna(person_record, "1", last_name="Lange", city="Köln", email="a@lange.de")
    second = anna(
        person_record, "2", last_name="Weber", city="Kiel", email="a@weber.de"
    )
    bridge = anna(person_record, "3", last_name="Weber", email="a@lange.de")
    older, younger = minted_id("crm_contacts:1"), minted_id("crm_contacts:2")
    assert older > younger, "the older id must sort last to tell age from id order"

    con = build_warehouse([first])
    resolve_identities(con, run_id="night-1")
    build_warehouse([first, second])
    resolve_identities(con, run_id="night-2")
    build_warehouse(
        [first, second, bridge],
        extra_identifiers=[("crm_contacts:3", "email", "a@weber.de")],
    )
    result = resolve_identities(con, run_id="night-3")

    ids = con.execute(
        "select distinct customer_id from identity.record_customers"
    ).fetchall()
    assert ids == [(older,)]
    history = con.execute(
        "select old_customer_id, new_customer_id, change, run_id "
        "from identity.customer_id_history"
    ).fetchall()
    assert history == [(younger, older, "merge", "night-3")]
    assert result.id_changes.merged == 1


def test_resolve_split_keeps_id_on_larger_part(build_warehouse, person_record):
    records = [
        anna(person_record, key, last_name="Lange", email="anna@lange.de")
        for key in ("1", "2", "3")
    ]
    con = build_warehouse(records)
    resolve_identities(con, run_id="night-1")
    original = minted_id("crm_contacts:1")

    records[0] = anna(person_record, "1", last_name="Lange", email="anna@web.de")
    build_warehouse(records)
    result = resolve_identities(con, run_id="night-2")

    ids = dict(
        con.execute(
            "select record_key, customer_id from identity.record_customers"
        ).fetchall()
    )
    assert ids["crm_contacts:2"] == ids["crm_contacts:3"] == original
    assert ids["crm_contacts:1"] == minted_id("crm_contacts:1#1")
    history = con.execute(
        "select old_customer_id, new_customer_id, change, records "
        "from identity.customer_id_history"
    ).fetchall()
    assert history == [(original, minted_id("crm_contacts:1#1"), "split", 1)]
    assert result.id_changes.split == 1
