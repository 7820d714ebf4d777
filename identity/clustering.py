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

Clustering runs in two stages. ``label_identifier_components`` finds the components
of the identifier links alone, before Splink runs, so that Splink can skip the pairs
that identifier links already join (``splink_model.skip_identifier_linked_pairs``).
``cluster_records`` then joins those components along the Splink links: each
identifier component is one node, labelled with its smallest record's number.

That label, ``cluster_key``, names a component within one run only.
``identity.stable_ids`` turns components into customer ids that persist across runs.
"""

from __future__ import annotations

import logging

import duckdb

from identity.graph import IDENTIFIER_LINKS
from identity.splink_model import SPLINK_LINKS
from identity.sql import fetch_value, table_exists
from identity.tables import PERSON_RECORDS, scratch_table

logger = logging.getLogger(__name__)

NODES = scratch_table("cluster_nodes")
IDENTIFIER_COMPONENTS = scratch_table("identifier_components")
EDGES = scratch_table("cluster_edges")
LABELS = scratch_table("cluster_labels")
RECORD_CLUSTERS = scratch_table("record_clusters")

# A guard against a loop that never settles, which would be a bug because labels only
# decrease. The 2,000-customer sample settles in 4 rounds, 990,000 records in 7.
MAX_ROUNDS = 1000


def label_identifier_components(con: duckdb.DuckDBPyConnection) -> int:
    """Write ``identifier_components`` (record_key, node, component) to scratch.

    Uses ``identifier_links`` from the scratch database and every record of
    ``intermediate.int_person_records``. node numbers the records in record_key
    order, and component is the smallest node of the record's component in the
    graph of identifier links alone. Returns the number of components.
    """
    con.execute(f"""
        create or replace table {NODES} as
        select record_key, row_number() over (order by record_key) as node
        from {PERSON_RECORDS}
    """)
    _write_edges(con, f"select record_key_l, record_key_r from {IDENTIFIER_LINKS}")
    con.execute(f"""
        create or replace table {LABELS} as
        select node, node as label from {NODES}
    """)

    rounds = _propagate_labels(con)
    con.execute(f"""
        create or replace table {IDENTIFIER_COMPONENTS} as
        select n.record_key, n.node, l.label as component
        from {NODES} as n
        inner join {LABELS} as l using (node)
    """)
    components = fetch_value(
        con, f"select count(distinct component) from {IDENTIFIER_COMPONENTS}"
    )
    logger.info(
        "Identifier links join the records into %d components in %d rounds",
        components,
        rounds,
    )
    return components


def cluster_records(con: duckdb.DuckDBPyConnection) -> int:
    """Write ``record_clusters`` (record_key, cluster_key) to the scratch database.

    Uses ``identifier_links`` and ``splink_links`` from the scratch database and
    every record of ``intermediate.int_person_records``, linked or not. Reuses
    ``identifier_components`` when the run wrote it already (``resolve.link_records``
    does), so the identifier links must not change in between. cluster_key is the
    smallest record_key of the record's component. Returns the number of components.
    """
    if not table_exists(con, IDENTIFIER_COMPONENTS):
        label_identifier_components(con)

    # Each identifier component is one node, numbered by its smallest record, so
    # the smallest label of a cluster still names its smallest record_key.
    _write_edges(
        con,
        f"select record_key_l, record_key_r from {SPLINK_LINKS}",
        node_column="component",
    )
    con.execute(f"""
        create or replace table {LABELS} as
        select distinct component as node, component as label
        from {IDENTIFIER_COMPONENTS}
    """)

    rounds = _propagate_labels(con)
    con.execute(f"""
        create or replace table {RECORD_CLUSTERS} as
        select c.record_key, root.record_key as cluster_key
        from {IDENTIFIER_COMPONENTS} as c
        inner join {LABELS} as l
            on c.component = l.node
        inner join {IDENTIFIER_COMPONENTS} as root
            on l.label = root.node
    """)

    customers = fetch_value(
        con, f"select count(distinct cluster_key) from {RECORD_CLUSTERS}"
    )
    logger.info("Clustered records into %d customers in %d rounds", customers, rounds)
    return customers


def _write_edges(
    con: duckdb.DuckDBPyConnection, links_sql: str, node_column: str = "node"
) -> None:
    """Write ``cluster_edges`` (node, neighbour) from record pairs.

    ``links_sql`` selects (record_key_l, record_key_r). With ``node_column``
    "component", the edges join identifier components instead of records, and
    links inside one component are left out.
    """
    nodes = NODES if node_column == "node" else IDENTIFIER_COMPONENTS
    # Both directions, so one join finds every neighbour of a record. Duplicates are
    # removed on the node numbers, which is cheaper than on the record keys.
    con.execute(f"""
        create or replace table {EDGES} as
        with numbered as (
            select distinct l.{node_column} as node_l, r.{node_column} as node_r
            from ({links_sql}) as links
            inner join {nodes} as l on links.record_key_l = l.record_key
            inner join {nodes} as r on links.record_key_r = r.record_key
            where l.{node_column} <> r.{node_column}
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
