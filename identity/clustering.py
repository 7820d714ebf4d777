"""Connected components over all links.

Every record is a node; identifier links and Splink links above the threshold are
edges. Records in one connected component are one customer, whichever kind of link
joined them. Each component is labelled with its smallest record_key.

The records get integer node numbers in record_key order, so the smallest number is
the smallest record_key. The edges go from DuckDB to scipy's ``connected_components``
as two integer arrays, and the labels come back as a table. At 4.2 million
records and 7.5 million identifier links, ``label_identifier_components`` took
6.5 s this way and about 17 s with min-label propagation in SQL, which joins all
edges in several rounds (``benchmarks.identity_scale`` warehouse).

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
import numpy as np
import pandas as pd
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

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

    _label_components(con)
    con.execute(f"""
        create or replace table {IDENTIFIER_COMPONENTS} as
        select n.record_key, n.node, l.label as component
        from {NODES} as n
        inner join {LABELS} as l using (node)
    """)
    components = fetch_value(
        con, f"select count(distinct component) from {IDENTIFIER_COMPONENTS}"
    )
    logger.info("Identifier links join the records into %d components", components)
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

    _label_components(con)
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
    logger.info("Clustered records into %d customers", customers)
    return customers


def _write_edges(
    con: duckdb.DuckDBPyConnection, links_sql: str, node_column: str = "node"
) -> None:
    """Write ``cluster_edges`` (node, neighbour) from record pairs.

    ``links_sql`` selects (record_key_l, record_key_r). With ``node_column``
    "component", the edges join identifier components instead of records, and
    links inside one component are left out. Each edge appears once, in one
    direction.
    """
    nodes = NODES if node_column == "node" else IDENTIFIER_COMPONENTS
    # Duplicates are removed on the node numbers, which is cheaper than on the
    # record keys.
    con.execute(f"""
        create or replace table {EDGES} as
        select distinct l.{node_column} as node, r.{node_column} as neighbour
        from ({links_sql}) as links
        inner join {nodes} as l on links.record_key_l = l.record_key
        inner join {nodes} as r on links.record_key_r = r.record_key
        where l.{node_column} <> r.{node_column}
    """)


def _label_components(con: duckdb.DuckDBPyConnection) -> None:
    """Give every node of ``cluster_labels`` the smallest node of its component along
    ``cluster_edges`` as its label, replacing the table."""
    nodes = con.execute(f"select node from {LABELS}").fetchnumpy()["node"]
    edges = con.execute(f"select node, neighbour from {EDGES}").fetchnumpy()
    # Node numbers index the matrix. Numbers that are no node (0, and in the second
    # stage those of records that do not name their component) have no edge, so
    # each is a component of its own and labels nothing.
    largest = max(
        nodes.max(initial=0),
        edges["node"].max(initial=0),
        edges["neighbour"].max(initial=0),
    )
    size = int(largest) + 1
    graph = coo_array(
        (
            np.ones(len(edges["node"]), dtype=np.int8),
            (edges["node"], edges["neighbour"]),
        ),
        shape=(size, size),
    )
    _, component_of = connected_components(graph, directed=False)
    # np.unique returns the first index of each component, which is its smallest
    # node number.
    _, smallest = np.unique(component_of, return_index=True)
    labels = pd.DataFrame({"node": nodes, "label": smallest[component_of[nodes]]})
    con.register("component_labels", labels)
    try:
        con.execute(
            f"create or replace table {LABELS} as "
            "select node, cast(label as bigint) as label from component_labels"
        )
    finally:
        con.unregister("component_labels")
