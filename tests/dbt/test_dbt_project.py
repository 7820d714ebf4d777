"""Functional test: real ``dbt build`` against a DuckDB file with hand-written rows.

The raw tables take their columns from ``ingestion.sources``, so a renamed source
column breaks this test before it breaks a nightly run. ``identity.record_customers``
is written by hand in place of the identity step. Six people appear:

- Anna: CRM contact, two orders (one refunded), web user with an anonymous id,
  email recipient who unsubscribed after opting in.
- Jonas: Austrian CRM contact, one recent order (a new customer), one helpdesk
  ticket.
- Lea: Swiss CRM contact only.
- Max: one old CHF order worth 700 (high value, lapsed and at churn risk).
- Lena: lead-form consent and email opens and clicks, no order.
- Bounce: an email address that hard-bounced.

A seventh web visitor stays anonymous and must not become a customer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from identity.stable_ids import create_customer_id_tables
from ingestion.sources import SOURCES
from orchestration.privacy import store

PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
DBT = Path(sys.executable).with_name("dbt")
LOADED_AT = datetime(2026, 12, 1, 3, 0, 0)

CRM_CONTACTS = [
    # An older export of Anna, superseded by the next file.
    {
        "record_id": "101",
        "first_name": "Anna",
        "last_name": "Müller",
        "marketing_email_opt_in": "false",
        "last_modified_date": "2026-01-01 10:00:00",
        "_file": "crm_contacts_2026-11-29.csv",
    },
    {
        "record_id": "101",
        "first_name": "anna",
        "last_name": "MÜLLER",
        "email": " Anna.Mueller@Example.DE ",
        "phone_number": "030 1234567",
        "street_address": "hauptstraße  5",
        "postal_code": "10115",
        "city": "berlin",
        "country": "Deutschland",
        "date_of_birth": "12.04.1985",
        "create_date": "2024-03-05 14:22:10",
        "last_modified_date": "2026-06-01 10:00:00",
        "marketing_email_opt_in": "true",
        "_file": "crm_contacts_2026-11-30.csv",
    },
    {
        "record_id": "102",
        "first_name": "Jonas",
        "last_name": "Huber",
        "email": "jonas.huber@example.at",
        "phone_number": "0664 1234567",
        "street_address": "Ringstraße 1",
        "postal_code": "1010",
        "city": "Wien",
        "country": "Österreich",
        "date_of_birth": "1990-01-31",
        "create_date": "2025-02-01 09:00:00",
        "last_modified_date": "2025-02-01 09:00:00",
        "marketing_email_opt_in": "false",
        "_file": "crm_contacts_2026-11-30.csv",
    },
    {
        "record_id": "103",
        "first_name": "Lea",
        "last_name": "Meier",
        "email": "lea.meier@example.ch",
        "phone_number": "044 668 18 00",
        "postal_code": "8001",
        "city": "Zürich",
        "country": "Schweiz",
        "create_date": "2025-03-01 09:00:00",
        "last_modified_date": "2025-03-01 09:00:00",
        "marketing_email_opt_in": "yes",
        "_file": "crm_contacts_2026-11-30.csv",
    },
]

ORDER_FILE = "shop_orders_2026-11-30.csv"
SHOP_ORDERS = [
    {
        "order_name": "#1001",
        "email": "anna.mueller@example.de",
        "financial_status": "paid",
        "accepts_marketing": "yes",
        "currency": "EUR",
        "total": "120.50",
        "created_at": "2026-05-01 10:15:00 +0200",
        "lineitem_quantity": "2",
        "lineitem_name": "Tee",
        "lineitem_price": "40.00",
        "lineitem_sku": "TEA-1",
        "billing_name": "Anna Müller",
        "billing_street": "Hauptstraße 5",
        "billing_city": "Berlin",
        "billing_zip": "10115",
        "billing_country": "DE",
        "billing_phone": "+49 30 1234567",
        "order_id": "5001",
        "_file": ORDER_FILE,
    },
    {
        "order_name": "#1001",
        "lineitem_quantity": "1",
        "lineitem_name": "Kanne",
        "lineitem_price": "40.50",
        "lineitem_sku": "POT-1",
        "_file": ORDER_FILE,
    },
    {
        "order_name": "#1002",
        "email": "jonas.huber@example.at",
        "financial_status": "paid",
        "accepts_marketing": "no",
        "currency": "EUR",
        "total": "80.00",
        "created_at": "2026-11-20 18:00:00 +0100",
        "lineitem_quantity": "1",
        "lineitem_name": "Tee",
        "lineitem_price": "80.00",
        "lineitem_sku": "TEA-2",
        "billing_name": "Jonas Huber",
        "billing_country": "AT",
        "billing_zip": "1010",
        "order_id": "5002",
        "_file": ORDER_FILE,
    },
    {
        "order_name": "#1003",
        "email": "max.mustermann@example.ch",
        "financial_status": "paid",
        "accepts_marketing": "no",
        "currency": "CHF",
        "total": "700.00",
        "created_at": "2025-01-10 12:00:00 +0100",
        "lineitem_quantity": "1",
        "lineitem_name": "Samowar",
        "lineitem_price": "700.00",
        "lineitem_sku": "SAM-1",
        "billing_name": "Dr. Max Mustermann",
        "billing_country": "CH",
        "billing_zip": "3000",
        "order_id": "5003",
        "_file": ORDER_FILE,
    },
    {
        "order_name": "#1004",
        "email": "anna.mueller@example.de",
        "financial_status": "refunded",
        "accepts_marketing": "yes",
        "currency": "EUR",
        "total": "50.00",
        "created_at": "2026-07-01 10:00:00 +0200",
        "lineitem_quantity": "1",
        "lineitem_name": "Tasse",
        "lineitem_price": "50.00",
        "lineitem_sku": "CUP-1",
        "billing_name": "Anna Müller",
        "billing_country": "DE",
        "order_id": "5004",
        "_file": ORDER_FILE,
    },
]

WEB_FILE = "web_events_2026-11-30.jsonl"
ANNA_TRAITS = {
    "email": "Anna.Mueller@example.de",
    "firstName": "Anna",
    "lastName": "Müller",
    "phone": "+49 30 1234567",
}
WEB_EVENTS = [
    {
        "message_id": "m-1",
        "type": "page",
        "name": "Home",
        "anonymous_id": "a-1",
        "timestamp": "2026-10-31T09:00:00.123Z",
        "_file": WEB_FILE,
    },
    {
        "message_id": "m-2",
        "type": "identify",
        "anonymous_id": "a-1",
        "user_id": "u-1",
        "traits": json.dumps(ANNA_TRAITS),
        "timestamp": "2026-11-01T10:00:00Z",
        "_file": WEB_FILE,
    },
    {
        "message_id": "m-3",
        "type": "track",
        "event": "Product Viewed",
        "user_id": "u-1",
        "anonymous_id": "a-1",
        "properties": json.dumps({"sku": "TEA-1"}),
        "timestamp": "2026-11-02T10:00:00+00:00",
        "_file": WEB_FILE,
    },
    # A second delivery of m-3, which staging drops.
    {
        "message_id": "m-3",
        "type": "track",
        "event": "Product Viewed",
        "user_id": "u-1",
        "anonymous_id": "a-1",
        "timestamp": "2026-11-02T10:00:00+00:00",
        "_file": WEB_FILE,
    },
    {
        "message_id": "m-4",
        "type": "page",
        "name": "Home",
        "anonymous_id": "a-9",
        "context": json.dumps({"page": {"url": "https://shop.example.de/"}}),
        "timestamp": "2026-11-03T10:00:00Z",
        "_file": WEB_FILE,
    },
]

EMAIL_FILE = "email_activity_2026-11-30.csv"
EMAIL_ACTIVITY = [
    {
        "campaign_id": "c-1",
        "campaign_name": "Herbst",
        "action": "sent",
        "email": " ANNA.MUELLER@example.de",
        "timestamp": "2026-11-10 08:00:00",
    },
    {
        "campaign_id": "c-1",
        "campaign_name": "Herbst",
        "action": "open",
        "email": "anna.mueller@example.de",
        "timestamp": "2026-11-10 09:00:00",
    },
    {
        "campaign_id": "c-1",
        "campaign_name": "Herbst",
        "action": "unsubscribe",
        "email": "anna.mueller@example.de",
        "timestamp": "2026-11-15 09:00:00",
    },
    {
        "campaign_id": "c-2",
        "campaign_name": "Winter",
        "action": "sent",
        "email": "lena.schmidt@example.de",
        "timestamp": "2026-11-20 08:00:00",
    },
    {
        "campaign_id": "c-2",
        "campaign_name": "Winter",
        "action": "open",
        "email": "lena.schmidt@example.de",
        "timestamp": "2026-11-20 08:30:00",
    },
    {
        "campaign_id": "c-2",
        "campaign_name": "Winter",
        "action": "click",
        "email": "lena.schmidt@example.de",
        "timestamp": "2026-11-20 08:31:00",
        "url": "https://shop.example.de/winter",
    },
    {
        "campaign_id": "c-2",
        "campaign_name": "Winter",
        "action": "bounce",
        "email": "bounce@example.de",
        "timestamp": "2026-11-20 08:00:05",
    },
]

HELPDESK_TICKETS = [
    {
        "ticket_id": "7001",
        "requester_name": "Jonas Huber",
        "requester_email": "Jonas.Huber@example.at",
        "subject": "Lieferung",
        "status": "Solved",
        "channel": "email",
        "created_at": "2026-11-21T12:00:00Z",
        "updated_at": "2026-11-22T08:00:00Z",
    },
]

SOCIAL_LEADS = [
    {
        "lead_id": "l:9001",
        "created_time": "2026-11-18T10:00:00+0000",
        "full_name": "Dr. Lena Schmidt",
        "email": "Lena.Schmidt@example.de",
        "phone_number": "0151 23456789",
        "city": "münchen",
        "marketing_consent": "true",
        "platform": "fb",
    },
]

RAW_ROWS = {
    "crm_contacts": CRM_CONTACTS,
    "shop_orders": SHOP_ORDERS,
    "web_events": WEB_EVENTS,
    "email_activity": [dict(row, _file=EMAIL_FILE) for row in EMAIL_ACTIVITY],
    "helpdesk_tickets": HELPDESK_TICKETS,
    "social_leads": SOCIAL_LEADS,
}

RECORD_CUSTOMERS = {
    "crm_contacts:101": "anna",
    "shop_orders:#1001": "anna",
    "shop_orders:#1004": "anna",
    "web_events:user:u-1": "anna",
    "web_events:anon:a-1": "anna",
    "email_activity:anna.mueller@example.de": "anna",
    "crm_contacts:102": "jonas",
    "shop_orders:#1002": "jonas",
    "helpdesk_tickets:7001": "jonas",
    "crm_contacts:103": "lea",
    "shop_orders:#1003": "max",
    "social_leads:l:9001": "lena",
    "email_activity:lena.schmidt@example.de": "lena",
    "email_activity:bounce@example.de": "bounce",
    "web_events:anon:a-9": "visitor",
}

PERSON_RECORD_COLUMNS = [
    "record_key",
    "source",
    "source_record_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "street",
    "postal_code",
    "city",
    "country_code",
    "observed_at",
]


def create_raw_tables(
    con: duckdb.DuckDBPyConnection, raw_rows: dict[str, list[dict]] = RAW_ROWS
) -> None:
    """Create raw.<source> as the loader does and insert the hand-written rows."""
    con.execute("create schema raw")
    for source in SOURCES:
        column_ddl = ", ".join(f'"{name}" varchar' for name in source.raw_columns)
        con.execute(
            f"create table raw.{source.table} ({column_ddl}, _file varchar, "
            "_row_number bigint, _file_sha256 varchar, _loaded_at timestamp)"
        )
        placeholders = ", ".join("?" * (len(source.raw_columns) + 4))
        default_file = f"{source.name}_2026-11-30"
        for row_number, row in enumerate(raw_rows[source.name], start=1):
            values = [row.get(name) for name in source.raw_columns]
            lineage = [row.get("_file", default_file), row_number, "0" * 64, LOADED_AT]
            con.execute(
                f"insert into raw.{source.table} values ({placeholders})",
                values + lineage,
            )


def create_record_customers(
    con: duckdb.DuckDBPyConnection, record_customers: dict[str, str] = RECORD_CUSTOMERS
) -> None:
    # The id tables the identity step keeps across runs, empty here.
    create_customer_id_tables(con)
    con.execute(
        "create table identity.record_customers (record_key varchar, source varchar, "
        "source_record_id varchar, customer_id varchar, resolved_at timestamp)"
    )
    for record_key, customer_id in record_customers.items():
        source, _, source_record_id = record_key.partition(":")
        con.execute(
            "insert into identity.record_customers values (?, ?, ?, ?, ?)",
            [record_key, source, source_record_id, customer_id, LOADED_AT],
        )


def run_dbt(
    args: list[str], warehouse: Path, target: Path, project_dir: Path = PROJECT_DIR
) -> subprocess.CompletedProcess:
    """Run the dbt command line on a project, with artifacts outside the repo."""
    env = dict(os.environ, CDP_WAREHOUSE=str(warehouse), DO_NOT_TRACK="1")
    command = [
        str(DBT),
        *args,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target-path",
        str(target / "target"),
        "--log-path",
        str(target / "logs"),
    ]
    return subprocess.run(
        command,
        cwd=project_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def build_warehouse(
    folder: Path,
    raw_rows: dict[str, list[dict]] = RAW_ROWS,
    record_customers: dict[str, str] = RECORD_CUSTOMERS,
) -> Path:
    """Write the raw rows and record customers to a new warehouse in folder, run
    ``dbt build`` on it and return the warehouse file."""
    warehouse = folder / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        create_raw_tables(con, raw_rows)
        create_record_customers(con, record_customers)
        # The analytics views read the pseudonym key, which a nightly run makes.
        store.pseudonym_key(con)

    result = run_dbt(["build"], warehouse, folder)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    return warehouse


def query(warehouse: Path, sql: str, parameters: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, parameters or []).fetchall()


def customer_row(warehouse: Path, table: str, customer_id: str) -> dict:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(
            f"select * from {table} where customer_id = ?", [customer_id]
        )
        names = [column[0] for column in cursor.description]
        rows = cursor.fetchall()
    assert len(rows) == 1, f"{table} has {len(rows)} rows for {customer_id}"
    return dict(zip(names, rows[0], strict=True))


def test_models_land_in_layer_schemas(built_warehouse):
    warehouse, _ = built_warehouse
    rows = query(
        warehouse,
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in ('staging', 'intermediate', 'marts')",
    )
    tables = {(schema, name) for schema, name in rows}
    assert ("staging", "stg_crm__contacts") in tables
    assert ("intermediate", "int_person_records") in tables
    assert ("intermediate", "int_identifiers") in tables
    assert ("marts", "dim_customers") in tables
    assert ("marts", "segment_memberships") in tables


def test_person_records_match_contract(built_warehouse):
    warehouse, _ = built_warehouse
    columns = query(
        warehouse,
        "select column_name from information_schema.columns "
        "where table_schema = 'intermediate' and table_name = 'int_person_records' "
        "order by ordinal_position",
    )
    assert [name for (name,) in columns] == PERSON_RECORD_COLUMNS

    keys = {
        key
        for (key,) in query(
            warehouse, "select record_key from intermediate.int_person_records"
        )
    }
    assert keys == set(RECORD_CUSTOMERS)


def test_anonymous_record_carries_user_id(built_warehouse):
    warehouse, _ = built_warehouse
    rows = query(
        warehouse,
        "select identifier_type, identifier_value from intermediate.int_identifiers "
        "where record_key = 'web_events:anon:a-1' "
        "and identifier_type in ('anonymous_id', 'user_id') order by identifier_type",
    )
    assert rows == [("anonymous_id", "a-1"), ("user_id", "u-1")]


def test_web_user_record_has_identify_traits(built_warehouse):
    warehouse, _ = built_warehouse
    rows = query(
        warehouse,
        "select email, phone, first_name, last_name from intermediate.int_person_records "
        "where record_key = 'web_events:user:u-1'",
    )
    assert rows == [("anna.mueller@example.de", "+49301234567", "Anna", "Müller")]


def test_golden_record_prefers_crm(built_warehouse):
    warehouse, _ = built_warehouse
    anna = customer_row(warehouse, "marts.dim_customers", "anna")
    assert anna["email"] == "anna.mueller@example.de"
    assert anna["phone"] == "+49301234567"
    assert anna["first_name"] == "Anna"
    assert anna["last_name"] == "Müller"
    assert anna["street"] == "Hauptstraße 5"
    assert anna["city"] == "Berlin"
    assert anna["country_code"] == "DE"
    assert anna["birth_date"] == date(1985, 4, 12)
    assert anna["record_count"] == 6
    assert anna["sources"] == "crm_contacts, email_activity, shop_orders, web_events"
    assert anna["first_seen_at"] == datetime(2024, 3, 5, 13, 22, 10)


def test_austrian_and_swiss_contacts_normalized(built_warehouse):
    warehouse, _ = built_warehouse
    jonas = customer_row(warehouse, "marts.dim_customers", "jonas")
    lea = customer_row(warehouse, "marts.dim_customers", "lea")
    assert jonas["phone"] == "+436641234567"
    assert jonas["postal_code"] == "1010"
    assert jonas["country_code"] == "AT"
    assert lea["phone"] == "+41446681800"
    assert lea["postal_code"] == "8001"
    assert lea["country_code"] == "CH"


def test_anonymous_only_visitor_is_not_a_customer(built_warehouse):
    warehouse, _ = built_warehouse
    customers = {
        c for (c,) in query(warehouse, "select customer_id from marts.dim_customers")
    }
    assert customers == {"anna", "jonas", "lea", "max", "lena", "bounce"}

    events = dict(
        query(warehouse, "select message_id, customer_id from marts.fct_events")
    )
    assert events == {"m-1": "anna", "m-2": "anna", "m-3": "anna", "m-4": None}


def test_unsubscribe_after_opt_in_withdraws_consent(built_warehouse):
    warehouse, _ = built_warehouse
    anna = customer_row(warehouse, "marts.dim_customers", "anna")
    lena = customer_row(warehouse, "marts.dim_customers", "lena")
    bounce = customer_row(warehouse, "marts.dim_customers", "bounce")
    assert anna["has_email_consent"] is False
    assert anna["is_email_suppressed"] is True
    assert lena["has_email_consent"] is True
    assert lena["is_email_suppressed"] is False
    assert bounce["is_email_suppressed"] is True


def test_orders_in_eur_with_order_level_fields(built_warehouse):
    warehouse, _ = built_warehouse
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute("select * from marts.fct_orders order by order_id")
        names = [column[0] for column in cursor.description]
        orders = {
            row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()
        }
    first = orders["#1001"]
    assert first["customer_id"] == "anna"
    assert first["currency"] == "EUR"
    assert first["total"] == Decimal("120.50")
    assert first["total_eur"] == Decimal("120.50")
    assert first["item_count"] == 3
    assert first["ordered_at"] == datetime(2026, 5, 1, 8, 15)
    assert orders["#1003"]["total_eur"] == Decimal("745.50")
    assert orders["#1004"]["is_refunded_or_voided"] is True


def test_traits_as_of_newest_source_timestamp(built_warehouse):
    warehouse, _ = built_warehouse
    anna = customer_row(warehouse, "marts.customer_traits", "anna")
    lena = customer_row(warehouse, "marts.customer_traits", "lena")
    jonas = customer_row(warehouse, "marts.customer_traits", "jonas")
    assert anna["as_of_at"] == datetime(2026, 11, 22, 8, 0)
    assert anna["order_count"] == 1
    assert anna["revenue_eur"] == Decimal("120.50")
    assert anna["email_opens_90d"] == 1
    assert anna["emails_sent_90d"] == 1
    assert lena["email_clicks_90d"] == 1
    assert lena["order_count"] == 0
    assert jonas["ticket_count"] == 1
    assert jonas["days_since_last_order"] == 2


def test_segment_memberships(built_warehouse):
    warehouse, _ = built_warehouse
    rows = query(
        warehouse,
        "select segment_name, customer_id from marts.segment_memberships order by 1, 2",
    )
    assert rows == [
        ("churn_risk_high_value", "max"),
        ("engaged_non_buyers", "lena"),
        ("high_value_customers", "max"),
        ("lapsed_buyers", "anna"),
        ("lapsed_buyers", "max"),
        ("new_customers", "jonas"),
    ]


def test_layer_rules_hold_in_manifest(built_warehouse):
    _, target = built_warehouse
    manifest = json.loads((target / "manifest.json").read_text())
    models = {
        node_id: node
        for node_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
    }
    for node_id, node in models.items():
        layer = node["fqn"][1]
        parents = node["depends_on"]["nodes"]
        sources = [p for p in parents if p.startswith("source.")]
        staging_parents = [
            p for p in parents if p in models and models[p]["fqn"][1] == "staging"
        ]
        if layer != "staging":
            assert sources == [], f"{node_id} calls source(): {sources}"
        else:
            assert staging_parents == [], f"{node_id} refs staging: {staging_parents}"
