"""Stable customer ids: carry each customer's id from one run to the next.

Clustering labels each run's components afresh. This module maps them to the ids that
earlier runs issued, using tables in the ``identity`` schema that runs update in place
and never drop. dbt does not build that schema and a full refresh drops only ``raw``,
so the ids survive both:

- ``customer_id_map``: one row per record ever resolved, with its current id. A record
  missing from a run keeps its row, so it gets its id back when it returns.
- ``customer_ids``: one row per id ever issued, with the run that issued it.
- ``customer_id_history``: one row per change of an id. 'merge': the old id's records
  joined a cluster that kept an older id, and the old id is retired. 'split': some of
  the old id's records are now in another cluster, with the new id, and the old id
  stays on its largest part.
- ``customer_id_lookup``: every id ever issued, with the id that replaces it now after
  following chains of merges (an active id maps to itself).

The rules, applied set-based in SQL:

1. An id of the previous run is at home in the cluster that now contains the largest
   number of its records, ties going to the cluster with the smallest cluster_key.
   Each other cluster with some of its records gets a 'split' row from it.
2. A cluster at home to several previous ids keeps the oldest, which is the one issued
   first, ties going to the smaller id. The others get a 'merge' row into it.
3. A cluster at home to no previous id gets a new id: 'cus_' and 16 hex digits of the
   md5 of its smallest record_key, so a first run is reproducible. When that
   record_key minted an id before, the md5 covers the key and the number of earlier
   mints from it instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import duckdb

from identity.clustering import RECORD_CLUSTERS
from identity.sql import fetch_row, fetch_value
from identity.tables import (
    CUSTOMER_ID_HISTORY,
    CUSTOMER_ID_LOOKUP,
    CUSTOMER_ID_MAP,
    CUSTOMER_IDS,
    IDENTITY_SCHEMA,
    scratch_table,
)

logger = logging.getLogger(__name__)

# Working tables of one assignment, in the scratch database.
ID_PARTS = scratch_table("customer_id_parts")
CLUSTER_IDS = scratch_table("cluster_customer_ids")
ID_CHANGES = scratch_table("customer_id_changes")
NEW_IDS = scratch_table("customer_ids_new")
ID_MAP_CHANGES = scratch_table("customer_id_map_changes")

# Final record -> customer id of this run: (record_key, customer_id).
RECORD_CUSTOMER_IDS = scratch_table("record_customer_ids")

_TABLE_COLUMNS = {
    CUSTOMER_ID_MAP: """
        record_key varchar not null,
        customer_id varchar not null,
        first_seen_run_id varchar not null,
        first_seen_at timestamp not null,
        assigned_run_id varchar not null,
        assigned_at timestamp not null
    """,
    CUSTOMER_IDS: """
        customer_id varchar not null,
        minted_from_record_key varchar not null,
        issued_run_id varchar not null,
        issued_at timestamp not null
    """,
    CUSTOMER_ID_HISTORY: """
        old_customer_id varchar not null,
        new_customer_id varchar not null,
        change varchar not null,
        records bigint not null,
        run_id varchar not null,
        changed_at timestamp not null
    """,
    CUSTOMER_ID_LOOKUP: """
        customer_id varchar not null,
        current_customer_id varchar not null
    """,
}


@dataclass(frozen=True)
class CustomerIdChanges:
    """Counts from one id assignment.

    kept counts clusters that kept an earlier id, minted those that got a new one.
    merged counts earlier ids retired into an older id, split those that lost records
    to another cluster. ``records`` and ``customers`` are this run's totals.
    """

    records: int
    customers: int
    kept: int
    minted: int
    merged: int
    split: int


def create_customer_id_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the persistent id tables in the warehouse where they are missing."""
    con.execute(f"create schema if not exists {IDENTITY_SCHEMA}")
    for table, columns in _TABLE_COLUMNS.items():
        con.execute(f"create table if not exists {table} ({columns})")


def assign_customer_ids(
    con: duckdb.DuckDBPyConnection, run_id: str, assigned_at: datetime
) -> CustomerIdChanges:
    """Give every cluster of ``record_clusters`` a customer id, in the scratch database.

    Reads the id tables of the warehouse behind ``con`` and writes nothing there, so
    it also runs on a warehouse attached read-only. Missing id tables count as empty.
    Writes ``record_customer_ids`` (record_key, customer_id), ``customer_id_changes``
    (this run's history rows) and the rows that change in the id tables to the
    scratch database, for ``save_customer_ids`` to apply.
    """
    id_map = _existing_or_empty(con, CUSTOMER_ID_MAP)
    issued = _existing_or_empty(con, CUSTOMER_IDS)
    parameters = {"run_id": run_id, "assigned_at": assigned_at}

    _write_id_parts(con, id_map)
    _write_cluster_ids(con, issued)
    _check_minted_ids_are_unused(con, issued)
    _write_record_ids_and_changes(con, parameters)
    _write_id_map_changes(con, id_map, parameters)

    changes = _count_changes(con)
    logger.info(
        "Assigned ids to %d customers: %d kept an earlier id, %d new; %d ids merged "
        "into older ones, %d ids split",
        changes.customers,
        changes.kept,
        changes.minted,
        changes.merged,
        changes.split,
    )
    return changes


def save_customer_ids(con: duckdb.DuckDBPyConnection) -> None:
    """Apply the result of ``assign_customer_ids`` to the warehouse id tables.

    Runs no transaction of its own, so the caller can commit it together with
    ``identity.record_customers``. Only reads the scratch database, because one
    DuckDB transaction may write to one database only. Writes only the rows that
    change, so a quiet night writes little however many records there are. The
    tables must exist (``create_customer_id_tables``).
    """
    con.execute(f"insert into {CUSTOMER_IDS} from {NEW_IDS}")
    con.execute(f"insert into {CUSTOMER_ID_HISTORY} from {ID_CHANGES}")
    con.execute(f"""
        delete from {CUSTOMER_ID_MAP}
        where record_key in (select record_key from {ID_MAP_CHANGES})
    """)
    con.execute(f"insert into {CUSTOMER_ID_MAP} from {ID_MAP_CHANGES}")

    # Every merge of this run points at an id active in this run, so redirecting
    # whatever pointed at the merged id keeps each chain one step long.
    con.execute(f"""
        insert into {CUSTOMER_ID_LOOKUP}
        select customer_id, customer_id from {NEW_IDS}
    """)
    con.execute(f"""
        update {CUSTOMER_ID_LOOKUP} as l
        set current_customer_id = c.new_customer_id
        from {ID_CHANGES} as c
        where c.change = 'merge'
            and l.current_customer_id = c.old_customer_id
    """)


def _existing_or_empty(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """Return ``table``, or an empty relation with its columns when it is missing."""
    schema, name = table.split(".")
    exists = fetch_value(
        con,
        """
        select count(*) from duckdb_tables()
        where database_name = current_database()
            and schema_name = ? and table_name = ?
        """,
        [schema, name],
    )
    if exists:
        return table
    columns = [line.split()[:2] for line in _TABLE_COLUMNS[table].strip().splitlines()]
    casts = ", ".join(f"null::{kind} as {column}" for column, kind in columns)
    return f"(select {casts} where false)"


def _write_id_parts(con: duckdb.DuckDBPyConnection, id_map: str) -> None:
    # One row per (earlier id, cluster now holding some of its records). part_rank 1
    # is the id's home: most records, then the smallest cluster_key.
    con.execute(f"""
        create or replace table {ID_PARTS} as
        select
            m.customer_id as previous_id,
            c.cluster_key,
            count(*) as records,
            row_number() over (
                partition by m.customer_id
                order by count(*) desc, c.cluster_key
            ) as part_rank
        from {RECORD_CLUSTERS} as c
        inner join {id_map} as m
            on c.record_key = m.record_key
        group by m.customer_id, c.cluster_key
    """)


def _write_cluster_ids(con: duckdb.DuckDBPyConnection, issued: str) -> None:
    con.execute(f"""
        create or replace table {CLUSTER_IDS} as
        with clusters as (
            select distinct cluster_key from {RECORD_CLUSTERS}
        ),

        home_ids as (
            select
                p.cluster_key,
                p.previous_id,
                row_number() over (
                    partition by p.cluster_key
                    order by i.issued_at nulls last, p.previous_id
                ) as age_rank
            from {ID_PARTS} as p
            left join {issued} as i
                on p.previous_id = i.customer_id
            where p.part_rank = 1
        ),

        earlier_mints as (
            select minted_from_record_key as cluster_key, count(*) as mints
            from {issued}
            group by minted_from_record_key
        ),

        minted as (
            select
                c.cluster_key,
                'cus_' || left(
                    md5(
                        case
                            when m.mints is null then c.cluster_key
                            else c.cluster_key || '#' || m.mints
                        end
                    ),
                    16
                ) as customer_id
            from clusters as c
            left join earlier_mints as m
                on c.cluster_key = m.cluster_key
        )

        select
            c.cluster_key,
            coalesce(h.previous_id, m.customer_id) as customer_id,
            h.previous_id is null as is_minted
        from clusters as c
        left join home_ids as h
            on c.cluster_key = h.cluster_key
            and h.age_rank = 1
        inner join minted as m
            on c.cluster_key = m.cluster_key
    """)


def _check_minted_ids_are_unused(con: duckdb.DuckDBPyConnection, issued: str) -> None:
    # Ids are 64-bit hash prefixes, so a collision is unlikely but not impossible.
    # Reusing an id would silently join two customers' histories, so stop instead.
    reused, duplicated = fetch_row(
        con,
        f"""
        select
            count(*) filter (where i.customer_id is not null),
            count(*) - count(distinct c.customer_id)
        from {CLUSTER_IDS} as c
        left join {issued} as i
            on c.customer_id = i.customer_id
        where c.is_minted
        """,
    )
    if reused or duplicated:
        raise RuntimeError(
            f"{reused + duplicated} new customer ids collide with ids issued before "
            "or in this run, although ids are derived from distinct record keys. "
            f"Check {CUSTOMER_IDS} for rows that were edited by hand"
        )


def _write_record_ids_and_changes(
    con: duckdb.DuckDBPyConnection, parameters: dict
) -> None:
    con.execute(f"""
        create or replace table {RECORD_CUSTOMER_IDS} as
        select r.record_key, c.customer_id
        from {RECORD_CLUSTERS} as r
        inner join {CLUSTER_IDS} as c
            on r.cluster_key = c.cluster_key
    """)
    con.execute(
        f"""
        create or replace table {NEW_IDS} as
        select
            customer_id,
            cluster_key as minted_from_record_key,
            $run_id::varchar as issued_run_id,
            $assigned_at::timestamp as issued_at
        from {CLUSTER_IDS}
        where is_minted
        """,
        parameters,
    )
    # An id's home part keeps the id unless an older id wins the cluster (a merge).
    # Its other parts always end up under another id (a split).
    con.execute(
        f"""
        create or replace table {ID_CHANGES} as
        select
            p.previous_id as old_customer_id,
            c.customer_id as new_customer_id,
            case when p.part_rank = 1 then 'merge' else 'split' end as change,
            p.records,
            $run_id::varchar as run_id,
            $assigned_at::timestamp as changed_at
        from {ID_PARTS} as p
        inner join {CLUSTER_IDS} as c
            on p.cluster_key = c.cluster_key
        where p.previous_id <> c.customer_id
        """,
        parameters,
    )


def _count_changes(con: duckdb.DuckDBPyConnection) -> CustomerIdChanges:
    records, customers, minted = fetch_row(
        con,
        f"""
        select
            (select count(*) from {RECORD_CLUSTERS}),
            count(*),
            count(*) filter (where is_minted)
        from {CLUSTER_IDS}
        """,
    )
    merged, split = fetch_row(
        con,
        f"""
        select
            count(distinct old_customer_id) filter (where change = 'merge'),
            count(distinct old_customer_id) filter (where change = 'split')
        from {ID_CHANGES}
        """,
    )
    return CustomerIdChanges(
        records=records,
        customers=customers,
        kept=customers - minted,
        minted=minted,
        merged=merged,
        split=split,
    )


def _write_id_map_changes(
    con: duckdb.DuckDBPyConnection, id_map: str, parameters: dict
) -> None:
    # Records of this run whose id is new or changed, plus records missing from this
    # run whose id was merged away, so a returning record rejoins the survivor.
    # Missing records otherwise keep their row and get their id back when they return.
    con.execute(
        f"""
        create or replace table {ID_MAP_CHANGES} as
        select
            r.record_key,
            r.customer_id,
            coalesce(m.first_seen_run_id, $run_id) as first_seen_run_id,
            coalesce(m.first_seen_at, $assigned_at) as first_seen_at,
            $run_id::varchar as assigned_run_id,
            $assigned_at::timestamp as assigned_at
        from {RECORD_CUSTOMER_IDS} as r
        left join {id_map} as m
            on r.record_key = m.record_key
        where r.customer_id is distinct from m.customer_id
        union all
        select
            m.record_key,
            g.new_customer_id as customer_id,
            m.first_seen_run_id,
            m.first_seen_at,
            $run_id::varchar as assigned_run_id,
            $assigned_at::timestamp as assigned_at
        from {id_map} as m
        inner join {ID_CHANGES} as g
            on m.customer_id = g.old_customer_id
            and g.change = 'merge'
        anti join {RECORD_CUSTOMER_IDS} as r
            on m.record_key = r.record_key
        """,
        parameters,
    )
