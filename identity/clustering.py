"""Connected components over all links.

Every record is a node; identifier links and Splink links above the threshold are
edges. Records in one connected component are one customer, whichever kind of link
joined them. Components are found by min-label propagation in SQL. In each round every
record takes the smallest label among itself and its neighbours, and then each label is
replaced by that record's own label until it points at a root (pointer jumping). The
rounds repeat until no label changes, which labels every component with its smallest
record_key.

That label, ``cluster_key``, names a component within one run only.
``identity.stable_ids`` turns components into customer ids that persist across runs.
"""

from __future__ import annotations

import logging

import duckdb

from identity.graph import IDENTIFIER_LINKS
from identity.splink_model import SPLINK_LINKS
from identity.sql import fetch_value
from identity.tables import PERSON_RECORDS, scratch_table

logger = logging.getLogger(__name__)

EDGES = scratch_table("cluster_edges")
LABELS = scratch_table("cluster_labels")
NEXT_LABELS = scratch_table("cluster_labels_next")
RECORD_CLUSTERS = scratch_table("record_clusters")

# A guard against a loop that never settles, which would be a bug because labels only
# decrease. The 2,000-customer sample settles in 4 rounds.
MAX_ROUNDS = 1000


def cluster_records(con: duckdb.DuckDBPyConnection) -> int:
    """Write ``record_clusters`` (record_key, cluster_key) to the scratch database.

    Uses ``identifier_links`` and ``splink_links`` from the scratch database and
    every record of ``intermediate.int_person_records``, linked or not. cluster_key
    is the smallest record_key of the record's component. Returns the number of
    components.
    """
    _write_edges(con)
    con.execute(f"""
        create or replace table {LABELS} as
        select record_key, record_key as label from {PERSON_RECORDS}
    """)

    rounds = _propagate_labels(con)
    con.execute(f"""
        create or replace table {RECORD_CLUSTERS} as
        select record_key, label as cluster_key
        from {LABELS}
    """)

    customers = fetch_value(
        con, f"select count(distinct cluster_key) from {RECORD_CLUSTERS}"
    )
    logger.info("Clustered records into %d customers in %d rounds", customers, rounds)
    return customers


def _write_edges(con: duckdb.DuckDBPyConnection) -> None:
    # Both directions, so one join finds every neighbour of a record.
    con.execute(f"""
        create or replace table {EDGES} as
        with links as (
            select record_key_l, record_key_r from {IDENTIFIER_LINKS}
            union
            select record_key_l, record_key_r from {SPLINK_LINKS}
        )

        select record_key_l as record_key, record_key_r as neighbour from links
        union
        select record_key_r as record_key, record_key_l as neighbour from links
    """)


def _propagate_labels(con: duckdb.DuckDBPyConnection) -> int:
    for round_number in range(1, MAX_ROUNDS + 1):
        con.execute(f"""
            create or replace table {NEXT_LABELS} as
            with candidate_labels as (
                select record_key, label from {LABELS}
                union all
                select e.record_key, n.label
                from {EDGES} as e
                inner join {LABELS} as n
                    on e.neighbour = n.record_key
            )

            select record_key, min(label) as label
            from candidate_labels
            group by record_key
        """)
        changed = _replace_labels(con)
        logger.debug("Clustering round %d changed %d labels", round_number, changed)
        if changed == 0:
            return round_number
        _jump_to_root_labels(con)

    raise RuntimeError(
        f"Connected components did not converge in {MAX_ROUNDS} rounds, although "
        "labels only decrease; report this as a bug in identity/clustering.py"
    )


def _jump_to_root_labels(con: duckdb.DuckDBPyConnection) -> None:
    # A label is itself a record_key with a smaller or equal label, so labels form a
    # forest. Replacing each label by its label's label halves every path to a root.
    while True:
        con.execute(f"""
            create or replace table {NEXT_LABELS} as
            select r.record_key, parent.label
            from {LABELS} as r
            inner join {LABELS} as parent
                on r.label = parent.record_key
        """)
        if _replace_labels(con) == 0:
            return


def _replace_labels(con: duckdb.DuckDBPyConnection) -> int:
    changed = fetch_value(
        con,
        f"""
        select count(*)
        from {NEXT_LABELS} as n
        inner join {LABELS} as o using (record_key)
        where n.label <> o.label
    """,
    )
    con.execute(f"create or replace table {LABELS} as from {NEXT_LABELS}")
    return changed
