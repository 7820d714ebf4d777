"""Connected components over all links.

Every record is a node; identifier links and Splink links above the threshold are
edges. Records in one connected component are one customer, whichever kind of link
joined them. Components are found by min-label propagation in SQL. In each round every
record takes the smallest label among itself and its neighbours, and then each label is
replaced by that record's own label until it points at a root (pointer jumping). The
rounds repeat until no label changes, which labels every component with its smallest
record_key.

The rounds run on integer node numbers, given in record_key order so that the
smallest number is the smallest record_key, because joins and GROUP BYs on integers
are several times faster than on the text keys. Because labels only decrease, a round
changed no label exactly when the sum of the labels stayed the same, so convergence
needs no join with the previous labels.

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

NODES = scratch_table("cluster_nodes")
EDGES = scratch_table("cluster_edges")
LABELS = scratch_table("cluster_labels")
RECORD_CLUSTERS = scratch_table("record_clusters")

# A guard against a loop that never settles, which would be a bug because labels only
# decrease. The 2,000-customer sample settles in 4 rounds, 990,000 records in 7.
MAX_ROUNDS = 1000


def cluster_records(con: duckdb.DuckDBPyConnection) -> int:
    """Write ``record_clusters`` (record_key, cluster_key) to the scratch database.

    Uses ``identifier_links`` and ``splink_links`` from the scratch database and
    every record of ``intermediate.int_person_records``, linked or not. cluster_key
    is the smallest record_key of the record's component. Returns the number of
    components.
    """
    _write_nodes_and_edges(con)
    con.execute(f"""
        create or replace table {LABELS} as
        select node, node as label from {NODES}
    """)

    rounds = _propagate_labels(con)
    con.execute(f"""
        create or replace table {RECORD_CLUSTERS} as
        select n.record_key, root.record_key as cluster_key
        from {NODES} as n
        inner join {LABELS} as l
            on n.node = l.node
        inner join {NODES} as root
            on l.label = root.node
    """)

    customers = fetch_value(
        con, f"select count(distinct cluster_key) from {RECORD_CLUSTERS}"
    )
    logger.info("Clustered records into %d customers in %d rounds", customers, rounds)
    return customers


def _write_nodes_and_edges(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"""
        create or replace table {NODES} as
        select record_key, row_number() over (order by record_key) as node
        from {PERSON_RECORDS}
    """)
    # Both directions, so one join finds every neighbour of a record. Duplicates are
    # removed on the node numbers, which is cheaper than on the record keys.
    con.execute(f"""
        create or replace table {EDGES} as
        with links as (
            select record_key_l, record_key_r from {IDENTIFIER_LINKS}
            union all
            select record_key_l, record_key_r from {SPLINK_LINKS}
        ),

        numbered as (
            select distinct l.node as node_l, r.node as node_r
            from links
            inner join {NODES} as l on links.record_key_l = l.record_key
            inner join {NODES} as r on links.record_key_r = r.record_key
        )

        select node_l as node, node_r as neighbour from numbered
        union all
        select node_r, node_l from numbered
    """)


def _propagate_labels(con: duckdb.DuckDBPyConnection) -> int:
    label_sum = _label_sum(con)
    for round_number in range(1, MAX_ROUNDS + 1):
        con.execute(f"""
            create or replace table {LABELS} as
            with candidate_labels as (
                select node, label from {LABELS}
                union all
                select e.node, n.label
                from {EDGES} as e
                inner join {LABELS} as n
                    on e.neighbour = n.node
            )

            select node, min(label) as label
            from candidate_labels
            group by node
        """)
        previous_sum, label_sum = label_sum, _label_sum(con)
        logger.debug(
            "Clustering round %d lowered the label sum by %d",
            round_number,
            previous_sum - label_sum,
        )
        if label_sum == previous_sum:
            return round_number
        label_sum = _jump_to_root_labels(con, label_sum)

    raise RuntimeError(
        f"Connected components did not converge in {MAX_ROUNDS} rounds, although "
        "labels only decrease; report this as a bug in identity/clustering.py"
    )


def _jump_to_root_labels(con: duckdb.DuckDBPyConnection, label_sum: int) -> int:
    # A label is itself a node with a smaller or equal label, so labels form a
    # forest. Replacing each label by its label's label halves every path to a root.
    while True:
        con.execute(f"""
            create or replace table {LABELS} as
            select r.node, parent.label
            from {LABELS} as r
            inner join {LABELS} as parent
                on r.label = parent.node
        """)
        previous_sum, label_sum = label_sum, _label_sum(con)
        if label_sum == previous_sum:
            return label_sum


def _label_sum(con: duckdb.DuckDBPyConnection) -> int:
    return fetch_value(con, f"select coalesce(sum(label), 0) from {LABELS}")
