"""The two-stage clustering against scipy's connected components of the record graph."""

from __future__ import annotations

import random

import duckdb
import numpy as np
import pytest
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from identity.clustering import RECORD_CLUSTERS, cluster_records
from identity.graph import IDENTIFIER_LINKS
from identity.scratch import scratch_database
from identity.splink_model import SPLINK_LINKS


def cluster_keys(records: list[str], links: list[tuple[str, str]]) -> dict[str, str]:
    """Cluster ``records`` joined by ``links`` and return record -> cluster_key."""
    with duckdb.connect() as con, scratch_database(con):
        con.execute("create schema intermediate")
        con.execute("create table intermediate.int_person_records (record_key varchar)")
        if records:
            con.executemany(
                "insert into intermediate.int_person_records values (?)",
                [[key] for key in records],
            )
        half = len(links) // 2
        ordered = [(min(left, right), max(left, right)) for left, right in links]
        con.execute(
            f"create table {IDENTIFIER_LINKS} (record_key_l varchar, "
            "record_key_r varchar, identifier_type varchar)"
        )
        con.execute(
            f"create table {SPLINK_LINKS} (record_key_l varchar, record_key_r varchar)"
        )
        if ordered[:half]:
            con.executemany(
                f"insert into {IDENTIFIER_LINKS} values (?, ?, 'email')",
                ordered[:half],
            )
        if ordered[half:]:
            con.executemany(f"insert into {SPLINK_LINKS} values (?, ?)", ordered[half:])
        cluster_records(con)
        return dict(con.execute(f"from {RECORD_CLUSTERS}").fetchall())


def scipy_cluster_keys(
    records: list[str], links: list[tuple[str, str]]
) -> dict[str, str]:
    index = {key: i for i, key in enumerate(records)}
    rows = [index[left] for left, _ in links]
    columns = [index[right] for _, right in links]
    graph = coo_array(
        (np.ones(len(links)), (rows, columns)), shape=(len(records), len(records))
    )
    _, labels = connected_components(graph, directed=False)
    smallest: dict[int, str] = {}
    for key in sorted(records):
        smallest.setdefault(labels[index[key]], key)
    return {key: smallest[labels[index[key]]] for key in records}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_components_match_scipy_on_random_graph(seed):
    rng = random.Random(seed)
    records = [f"src:{rng.randrange(10**9):09d}" for _ in range(3000)]
    records = sorted(set(records))
    links = [tuple(rng.sample(records, 2)) for _ in range(2000)]

    assert cluster_keys(records, links) == scipy_cluster_keys(records, links)


def test_long_chain_is_one_component():
    # The chain's keys alternate between both ends of the sorted order, so the
    # path runs long through both stages. The smallest key sits at one end.
    records = [f"r:{i:05d}" for i in range(500)]
    order = [
        records[i // 2] if i % 2 == 0 else records[-1 - i // 2] for i in range(500)
    ]
    links = list(zip(order, order[1:], strict=False))

    keys = cluster_keys(records, links)

    assert set(keys.values()) == {"r:00000"}


def test_unlinked_records_are_their_own_cluster():
    records = ["a:1", "a:2", "b:1"]

    keys = cluster_keys(records, [("a:2", "b:1")])

    assert keys == {"a:1": "a:1", "a:2": "a:2", "b:1": "a:2"}


def test_no_records_give_no_clusters():
    assert cluster_keys([], []) == {}
