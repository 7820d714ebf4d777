"""Splink skips pairs that identifier links join already, and clusters stay the same."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from identity.clustering import (
    IDENTIFIER_COMPONENTS,
    RECORD_CLUSTERS,
    cluster_records,
)
from identity.graph import IDENTIFIER_LINKS
from identity.resolve import DEFAULT_THRESHOLD, link_records
from identity.scratch import scratch_database
from identity.splink_model import DEFAULT_MODEL_PATH, SCORED_PAIRS, SPLINK_LINKS
from identity.sql import fetch_value

Link = tuple[str, str, float]


@dataclass(frozen=True)
class LinkingRun:
    clusters: dict[str, str]
    scored_pairs: int
    # Splink links whose records lie in different identifier components.
    cross_links: set[Link]
    # Splink links inside one identifier component.
    inner_links: set[Link]
    # Every identifier link and Splink link, as clustering reads them.
    all_links: set[tuple[str, str]]


def link_and_cluster(con: duckdb.DuckDBPyConnection, skip: bool) -> LinkingRun:
    with scratch_database(con) as splink_cursor:
        link_records(
            con,
            splink_cursor,
            DEFAULT_MODEL_PATH,
            DEFAULT_THRESHOLD,
            skip_linked_pairs=skip,
        )
        cluster_records(con)
        links = con.execute(f"""
            select s.record_key_l, s.record_key_r, round(s.match_probability, 12),
                l.component = r.component
            from {SPLINK_LINKS} as s
            inner join {IDENTIFIER_COMPONENTS} as l on s.record_key_l = l.record_key
            inner join {IDENTIFIER_COMPONENTS} as r on s.record_key_r = r.record_key
        """).fetchall()
        all_links = con.execute(f"""
            select record_key_l, record_key_r from {IDENTIFIER_LINKS}
            union
            select record_key_l, record_key_r from {SPLINK_LINKS}
        """).fetchall()
        return LinkingRun(
            clusters=dict(con.execute(f"from {RECORD_CLUSTERS}").fetchall()),
            scored_pairs=fetch_value(con, f"select count(*) from {SCORED_PAIRS}"),
            cross_links={tuple(row[:3]) for row in links if not row[3]},
            inner_links={tuple(row[:3]) for row in links if row[3]},
            all_links={tuple(row) for row in all_links},
        )


def smallest_key_components(
    records: list[str], links: set[tuple[str, str]]
) -> dict[str, str]:
    """Label each record with the smallest record of its component (union-find)."""
    parent = {record: record for record in records}

    def root(record: str) -> str:
        while parent[record] != record:
            parent[record] = parent[parent[record]]
            record = parent[record]
        return record

    for left, right in links:
        low, high = sorted((root(left), root(right)))
        parent[high] = low
    return {record: root(record) for record in records}


def write_decisions(
    con: duckdb.DuckDBPyConnection, decisions: list[tuple[str, str, str]]
) -> None:
    con.execute("create schema if not exists identity")
    con.execute("""
        create or replace table identity.review_decisions (
            left_record_key varchar, right_record_key varchar, decision varchar,
            reviewer varchar, decided_at timestamp
        )
    """)
    con.executemany(
        "insert into identity.review_decisions "
        "values (?, ?, ?, 'tester', timestamp '2026-12-01 10:00')",
        decisions,
    )


def test_skip_keeps_clusters_and_cross_links(build_warehouse, synthetic_population):
    con = build_warehouse(synthetic_population(150, 11))
    first = link_and_cluster(con, skip=False)
    assert first.inner_links, "the sample needs Splink links that repeat identifiers"
    assert first.cross_links, "the sample needs Splink links that join components"

    # A reviewer rejects one link of each kind and joins two unrelated records, so
    # the comparison also covers decisions on skipped and on scored pairs.
    inner, cross = min(first.inner_links), min(first.cross_links)
    records = sorted(first.clusters)
    write_decisions(
        con,
        [
            (inner[0], inner[1], "no match"),
            (cross[0], cross[1], "no match"),
            (records[0], records[-1], "match"),
        ],
    )
    full = link_and_cluster(con, skip=False)
    skipped = link_and_cluster(con, skip=True)

    # Clustering itself is checked against components computed here from every
    # link of the run without the skip.
    expected = smallest_key_components(records, full.all_links)
    assert full.clusters == expected
    assert skipped.clusters == expected
    assert skipped.cross_links == full.cross_links
    assert not skipped.inner_links
    assert skipped.scored_pairs < full.scored_pairs
    assert full.clusters != first.clusters
