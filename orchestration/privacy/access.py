"""Collect everything the warehouse stores about one person, for an access request.

The person is found as identity resolution sees them: the records that carry the
email or phone number (``intermediate.int_identifiers``), or the customer id (a
retired id resolves through ``identity.customer_id_lookup``), then every customer
those records belong to. Tables that a warehouse does not have yet are left out.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.privacy import store

# Section of the document -> (table, column holding the customer id).
CUSTOMER_SECTIONS = {
    "customers": ("marts.dim_customers", "customer_id"),
    "emails": ("marts.customer_emails", "customer_id"),
    "phones": ("marts.customer_phones", "customer_id"),
    "addresses": ("marts.customer_addresses", "customer_id"),
    "traits": ("marts.customer_traits", "customer_id"),
    "email_consent": ("marts.customer_email_consent", "customer_id"),
    "consent": ("marts.customer_consent", "customer_id"),
    "consent_history": ("marts.consent_ledger", "customer_id"),
    "segments": ("marts.segment_membership_history", "customer_id"),
    "orders": ("marts.fct_orders", "customer_id"),
    "support_tickets": ("marts.fct_support_tickets", "customer_id"),
    "email_activity": ("marts.fct_email_activities", "customer_id"),
    "web_events": ("marts.fct_events", "customer_id"),
    "identities": ("identity.record_customers", "customer_id"),
    "source_records": ("marts.customer_source_records", "customer_id"),
    "exports": ("activation.sync_changes", "customer_id"),
    "audiences_held_by_destinations": ("activation.audience_snapshots", "customer_id"),
    "customer_id_changes": ("marts.customer_id_changes", "old_customer_id_now"),
}
# Section -> (table, column holding the record key), for the person's records.
RECORD_SECTIONS = {
    "person_records": ("intermediate.int_person_records", "record_key"),
    "consent_signals": ("intermediate.int_email_consent_signals", "record_key"),
}
ID_LOOKUP = "identity.customer_id_lookup"
IDENTIFIERS = "intermediate.int_identifiers"
RECORD_CUSTOMERS = "identity.record_customers"
SETTINGS = "privacy.settings"


def subject_tables() -> list[str]:
    """Return every table ``collect_subject`` reads, as schema.table.

    The Spark engine copies exactly these tables into the file that
    ``cdp export-subject`` reads, from the Spark catalog or the DuckDB file. The
    export is complete on Spark because the queries below take their table names
    from the same constants: a section added to ``CUSTOMER_SECTIONS`` or
    ``RECORD_SECTIONS`` is copied too, and the Spark tests compare the export
    with the DuckDB engine's.

    NOTE: on both engines the export covers only the tables listed here. The
    segment tables (``marts.segment_*``) and the membership snapshot also carry
    customer ids and are not exported.
    """
    sections = [*CUSTOMER_SECTIONS.values(), *RECORD_SECTIONS.values()]
    return [
        ID_LOOKUP,
        IDENTIFIERS,
        RECORD_CUSTOMERS,
        SETTINGS,
        *(table for table, _ in sections),
    ]


def _exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, table = qualified.split(".")
    return (
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? "
            "and table_name = ? and table_catalog = current_database()",
            [schema, table],
        ).fetchone()[0]
        > 0
    )


def _rows(con, table: str, column: str, values: list[str]) -> list[dict]:
    if not values or not _exists(con, table):
        return []
    placeholders = ", ".join("?" for _ in values)
    cursor = con.execute(
        f'select * from {table} where "{column}" in ({placeholders}) order by all',
        values,
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def find_customer_ids(
    con: duckdb.DuckDBPyConnection, kind: str, normalized: str
) -> list[str]:
    """Return the current customer ids of the person, sorted."""
    ids: set[str] = set()
    if kind == "customer_id":
        ids.add(normalized)
        if _exists(con, ID_LOOKUP):
            rows = con.execute(
                f"select current_customer_id from {ID_LOOKUP} where customer_id = ?",
                [normalized],
            ).fetchall()
            ids = {r[0] for r in rows} or ids
    elif _exists(con, IDENTIFIERS) and _exists(con, RECORD_CUSTOMERS):
        rows = con.execute(
            f"select distinct r.customer_id from {IDENTIFIERS} as i "
            f"join {RECORD_CUSTOMERS} as r using (record_key) "
            "where i.identifier_type = ? and i.identifier_value = ?",
            [kind, normalized],
        ).fetchall()
        ids = {r[0] for r in rows}
    return sorted(ids)


def collect_subject(con: duckdb.DuckDBPyConnection, kind: str, normalized: str) -> dict:
    """Return one JSON-ready document about the person with one list per section."""
    customer_ids = find_customer_ids(con, kind, normalized)
    document: dict = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "requested_by": kind,
        "customer_ids": customer_ids,
    }
    for section, (table, column) in CUSTOMER_SECTIONS.items():
        document[section] = _rows(con, table, column, customer_ids)
    record_keys = [r["record_key"] for r in document["identities"]]
    for section, (table, column) in RECORD_SECTIONS.items():
        document[section] = _rows(con, table, column, record_keys)
    document["analytics_pseudonyms"] = _pseudonyms(con, customer_ids)
    return document


def _pseudonyms(con: duckdb.DuckDBPyConnection, customer_ids: list[str]) -> dict:
    """Map each customer id to its pseudonym in the analytics schema and the
    analyst copy. Empty while the warehouse has no pseudonym key."""
    if not customer_ids or not _exists(con, SETTINGS):
        return {}
    row = con.execute(
        f"select value from {SETTINGS} where name = ?",
        [store.PSEUDONYM_KEY_SETTING],
    ).fetchone()
    if row is None:
        return {}
    return {
        customer_id: store.pseudonym(row[0], customer_id)
        for customer_id in customer_ids
    }


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a new file that only its owner can read (mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.write("\n")
