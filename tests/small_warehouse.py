"""A small warehouse with every mart, for tests of the apps that read the marts.

It is a copy of the ``built_warehouse`` fixture: the raw rows and record customers
of ``tests/dbt/test_dbt_project.py`` (Anna, Jonas, Lea, Max, Lena and a bounced
address) built by the real dbt project, with a pseudonym key for the analytics
views. The identity metrics, the identifier links between records and the load
log, which the identity step and the loader write in a nightly run, are added with
their own DDL.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import duckdb

from identity.health import write_cluster_metrics
from ingestion.loader import LOAD_LOG_DDL

RESOLVED_AT = datetime(2026, 12, 1, 3, 10)

# One file per source loaded, plus one rejected file.
LOAD_LOG_ROWS = [
    ("crm_contacts", "crm_contacts_2026-11-30.csv", "loaded", 4, 4, 0, None),
    ("shop_orders", "shop_orders_2026-11-30.csv", "loaded", 6, 5, 1, None),
    (
        "shop_orders",
        "shop_orders_2026-11-29.csv",
        "rejected",
        None,
        None,
        None,
        "missing required column order_name",
    ),
]


def build_small_warehouse(
    folder: Path, built_warehouse: Path, built_target: Path
) -> Path:
    """Copy the built warehouse and its dbt manifest to ``folder``, then add the
    tables of a nightly run that dbt does not build."""
    warehouse = folder / "warehouse.duckdb"
    shutil.copyfile(built_warehouse, warehouse)
    (folder / "target").mkdir()
    shutil.copyfile(built_target / "manifest.json", folder / "target" / "manifest.json")

    with duckdb.connect(str(warehouse)) as con:
        add_identity_metrics(con)
        add_match_pairs(con)
        add_load_log(con)
    return warehouse


def add_identity_metrics(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "create table identity.resolution_metrics (resolved_at timestamp, "
        "records bigint, customers bigint, pairs_deterministic bigint, "
        'pairs_splink bigint, "precision" double, recall double, f1 double)'
    )
    records, customers = con.execute(
        "select count(*), count(distinct customer_id) from identity.record_customers"
    ).fetchone()
    con.execute(
        "insert into identity.resolution_metrics values (?, ?, ?, 9, 0, 1.0, 0.9, 0.947)",
        [RESOLVED_AT, records, customers],
    )
    write_cluster_metrics(con, RESOLVED_AT)


def add_match_pairs(con: duckdb.DuckDBPyConnection) -> None:
    """Link the records of each customer that share an identifier, as the identity
    step's identifier graph does, so ``cdp trace`` can explain a customer."""
    con.execute(
        "create table identity.match_pairs (record_key_l varchar not null, "
        "record_key_r varchar not null, link_type varchar not null, "
        "match_probability double, match_weight double)"
    )
    con.execute("""
        insert into identity.match_pairs
        select distinct
            l.record_key, r.record_key, 'identifier:' || l.identifier_type, 1.0, null
        from intermediate.int_identifiers as l
        inner join intermediate.int_identifiers as r
            on r.identifier_type = l.identifier_type
            and r.identifier_value = l.identifier_value
            and r.record_key > l.record_key
        inner join identity.record_customers as cl on cl.record_key = l.record_key
        inner join identity.record_customers as cr
            on cr.record_key = r.record_key and cr.customer_id = cl.customer_id
    """)


def add_load_log(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(LOAD_LOG_DDL)
    for row in LOAD_LOG_ROWS:
        con.execute(
            "insert into raw._load_log (source, file, sha256, status, rows_read, "
            "rows_loaded, rows_rejected, message, loaded_at) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [row[0], row[1], "0" * 64, row[2], *row[3:], RESOLVED_AT],
        )
