"""Functional test: the golden record follows the seed survivorship_rules.

The warehouse contains the hand-written people of ``test_dbt_project`` plus Sofia, whose
records disagree:

- CRM contact 201 (updated 2025-01-10): Sofia Wagner, sofia.wagner@example.de,
  030 2345678, Lindenstraße 3, 10969 Berlin.
- Orders #2001 (2026-03-01) and #2002 (2026-09-01): Sophia Wagner,
  sofia.w@example.de, Gartenweg 7, 80331 München; only #2001 has a phone,
  +49 30 3456789.
- Helpdesk ticket 7101 (updated 2026-10-06): Sophia Wagner, sofia.w@example.de,
  +49 30 4567890.
- Lead l:9101 (2026-11-01): Sofia Wagner, sofia.wagner@example.de, city Hamburg.

The shipped rules take email and phone from the CRM first, and names and the address
from most records. One test builds the same warehouse with edited rules in a copy of
the project.
"""

from __future__ import annotations

import csv
import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from tests.dbt.test_dbt_project import (
    PROJECT_DIR,
    RAW_ROWS,
    RECORD_CUSTOMERS,
    build_warehouse,
    customer_row,
    query,
    run_dbt,
)

SOFIA_ROWS = {
    "crm_contacts": [
        {
            "record_id": "201",
            "first_name": "Sofia",
            "last_name": "Wagner",
            "email": "sofia.wagner@example.de",
            "phone_number": "030 2345678",
            "street_address": "Lindenstraße 3",
            "postal_code": "10969",
            "city": "Berlin",
            "country": "Deutschland",
            "create_date": "2024-05-01 09:00:00",
            "last_modified_date": "2025-01-10 10:00:00",
            "_file": "crm_contacts_2026-11-30.csv",
        },
    ],
    "shop_orders": [
        {
            "order_name": "#2001",
            "email": "sofia.w@example.de",
            "financial_status": "paid",
            "currency": "EUR",
            "total": "30.00",
            "created_at": "2026-03-01 10:00:00 +0100",
            "lineitem_quantity": "1",
            "lineitem_name": "Tee",
            "lineitem_price": "30.00",
            "lineitem_sku": "TEA-1",
            "billing_name": "Sophia Wagner",
            "billing_street": "Gartenweg 7",
            "billing_city": "München",
            "billing_zip": "80331",
            "billing_country": "DE",
            "billing_phone": "+49 30 3456789",
            "order_id": "5101",
            "_file": "shop_orders_2026-11-30.csv",
        },
        {
            "order_name": "#2002",
            "email": "sofia.w@example.de",
            "financial_status": "paid",
            "currency": "EUR",
            "total": "30.00",
            "created_at": "2026-09-01 10:00:00 +0200",
            "lineitem_quantity": "1",
            "lineitem_name": "Tee",
            "lineitem_price": "30.00",
            "lineitem_sku": "TEA-1",
            "billing_name": "Sophia Wagner",
            "billing_street": "Gartenweg 7",
            "billing_city": "München",
            "billing_zip": "80331",
            "billing_country": "DE",
            "order_id": "5102",
            "_file": "shop_orders_2026-11-30.csv",
        },
    ],
    "helpdesk_tickets": [
        {
            "ticket_id": "7101",
            "requester_name": "Sophia Wagner",
            "requester_email": "sofia.w@example.de",
            "requester_phone": "+49 30 4567890",
            "subject": "Rechnung",
            "status": "Solved",
            "channel": "email",
            "created_at": "2026-10-05T09:00:00Z",
            "updated_at": "2026-10-06T09:00:00Z",
        },
    ],
    "social_leads": [
        {
            "lead_id": "l:9101",
            "created_time": "2026-11-01T10:00:00+0000",
            "full_name": "Sofia Wagner",
            "email": "sofia.wagner@example.de",
            "city": "hamburg",
            "marketing_consent": "false",
            "platform": "ig",
        },
    ],
}
SOFIA_RECORDS = [
    "crm_contacts:201",
    "shop_orders:#2001",
    "shop_orders:#2002",
    "helpdesk_tickets:7101",
    "social_leads:l:9101",
]
RAW_ROWS_WITH_SOFIA = {
    source: rows + SOFIA_ROWS.get(source, []) for source, rows in RAW_ROWS.items()
}
RECORD_CUSTOMERS_WITH_SOFIA = RECORD_CUSTOMERS | dict.fromkeys(SOFIA_RECORDS, "sofia")

ADDRESS_FIELDS = ["street", "postal_code", "city", "country_code"]
GOLDEN_FIELDS = [
    "email",
    "phone",
    "first_name",
    "last_name",
    *ADDRESS_FIELDS,
    "birth_date",
]
# The seed and the models that read it, directly or through customer_golden_fields.
SURVIVORSHIP_MODELS = [
    "survivorship_rules",
    "customer_golden_fields",
    "dim_customers",
    "customer_emails",
    "customer_phones",
    "customer_addresses",
]
CHANGED_RULES = {
    "email": {"strategy": "most_frequent", "source_priority": ""},
    "phone": {"strategy": "most_recent", "source_priority": ""},
    **{
        field: {
            "strategy": "source_priority",
            "source_priority": "crm_contacts>shop_orders>social_leads",
        }
        for field in ADDRESS_FIELDS
    },
}


def copy_project(destination: Path) -> Path:
    """Copy the dbt project without its build artifacts."""
    return Path(
        shutil.copytree(
            PROJECT_DIR,
            destination,
            ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"),
        )
    )


def change_rules(seed_file: Path, changes: dict[str, dict[str, str]]) -> None:
    """Overwrite the columns given in changes for the rules of those fields."""
    with seed_file.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames
        rules = [rule | changes.get(rule["field"], {}) for rule in reader]
    with seed_file.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rules)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("survivorship")
    return build_warehouse(folder, RAW_ROWS_WITH_SOFIA, RECORD_CUSTOMERS_WITH_SOFIA)


@pytest.fixture(scope="module")
def changed_rules_warehouse(
    warehouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Copy the warehouse and rebuild the golden record with CHANGED_RULES."""
    folder = tmp_path_factory.mktemp("changed_rules")
    project = copy_project(folder / "dbt_project")
    change_rules(project / "seeds" / "survivorship_rules.csv", CHANGED_RULES)
    copy = Path(shutil.copy(warehouse, folder / "warehouse.duckdb"))

    result = run_dbt(["build", "--select", *SURVIVORSHIP_MODELS], copy, folder, project)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    return copy


def test_shipped_rules_choose_sofia_values(warehouse):
    sofia = customer_row(warehouse, "marts.dim_customers", "sofia")
    assert sofia["email"] == "sofia.wagner@example.de"
    assert sofia["email_source"] == "crm_contacts"
    assert sofia["email_updated_at"] == datetime(2025, 1, 10, 9, 0)
    assert sofia["phone"] == "+49302345678"
    assert sofia["phone_source"] == "crm_contacts"
    assert sofia["first_name"] == "Sophia"
    assert sofia["first_name_source"] == "helpdesk_tickets"
    assert sofia["last_name"] == "Wagner"
    assert sofia["last_name_source"] == "social_leads"


def test_address_comes_from_one_record(warehouse):
    sofia = customer_row(warehouse, "marts.dim_customers", "sofia")
    address = [sofia[field] for field in ADDRESS_FIELDS]
    assert address == ["Gartenweg 7", "80331", "München", "DE"]
    for field in ADDRESS_FIELDS:
        assert sofia[f"{field}_source"] == "shop_orders", field
        assert sofia[f"{field}_updated_at"] == datetime(2026, 9, 1, 8, 0), field


def test_changed_rules_change_golden_values(changed_rules_warehouse):
    sofia = customer_row(changed_rules_warehouse, "marts.dim_customers", "sofia")
    assert sofia["email"] == "sofia.w@example.de"
    assert sofia["email_source"] == "helpdesk_tickets"
    assert sofia["email_updated_at"] == datetime(2026, 10, 6, 9, 0)
    assert sofia["phone"] == "+49304567890"
    assert sofia["phone_source"] == "helpdesk_tickets"
    assert [sofia[field] for field in ADDRESS_FIELDS] == [
        "Lindenstraße 3",
        "10969",
        "Berlin",
        "DE",
    ]
    for field in ADDRESS_FIELDS:
        assert sofia[f"{field}_source"] == "crm_contacts", field
    assert sofia["first_name"] == "Sophia"


def test_changed_rules_flag_new_golden_values(changed_rules_warehouse):
    golden = query(
        changed_rules_warehouse,
        "select 'email', email from marts.customer_emails "
        "where customer_id = 'sofia' and is_golden "
        "union all select 'phone', phone from marts.customer_phones "
        "where customer_id = 'sofia' and is_golden "
        "union all select 'street', street from marts.customer_addresses "
        "where customer_id = 'sofia' and is_golden order by 1",
    )
    assert golden == [
        ("email", "sofia.w@example.de"),
        ("phone", "+49304567890"),
        ("street", "Lindenstraße 3"),
    ]


@pytest.mark.parametrize("field", GOLDEN_FIELDS)
def test_provenance_matches_a_source_record(warehouse, field):
    mismatches = query(
        warehouse,
        f"select customer_id from marts.dim_customers as golden "
        f"where {field} is not null and not exists ("
        f"  select 1 from marts.customer_source_records as records "
        f"  where records.customer_id = golden.customer_id "
        f"  and records.{field} = golden.{field} "
        f"  and records.source = golden.{field}_source "
        f"  and records.observed_at = golden.{field}_updated_at)",
    )
    assert mismatches == []


@pytest.mark.parametrize(
    ("table", "columns"),
    [
        ("customer_emails", ["email"]),
        ("customer_phones", ["phone"]),
        ("customer_addresses", ADDRESS_FIELDS),
    ],
)
def test_each_golden_value_flagged_once(warehouse, table, columns):
    value_columns = ", ".join(columns)
    golden = query(
        warehouse,
        f"select customer_id, {value_columns} from marts.dim_customers "
        f"where coalesce({value_columns}) is not null order by all",
    )
    flagged = query(
        warehouse,
        f"select customer_id, {value_columns} from marts.{table} "
        f"where is_golden order by all",
    )
    assert len(golden) > 0
    assert flagged == golden


def test_child_tables_keep_every_value(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        emails = con.execute(
            "select email, sources, record_count, first_seen_at, last_seen_at, "
            "is_golden from marts.customer_emails where customer_id = 'sofia' "
            "order by email"
        ).fetchall()
        addresses = con.execute(
            "select street, city, sources, record_count, is_golden "
            "from marts.customer_addresses where customer_id = 'sofia' "
            "order by city"
        ).fetchall()
    assert emails == [
        (
            "sofia.w@example.de",
            "helpdesk_tickets, shop_orders",
            3,
            datetime(2026, 3, 1, 9, 0),
            datetime(2026, 10, 6, 9, 0),
            False,
        ),
        (
            "sofia.wagner@example.de",
            "crm_contacts, social_leads",
            2,
            datetime(2024, 5, 1, 7, 0),
            datetime(2026, 11, 1, 10, 0),
            True,
        ),
    ]
    assert addresses == [
        ("Lindenstraße 3", "Berlin", "crm_contacts", 1, False),
        (None, "Hamburg", "social_leads", 1, False),
        ("Gartenweg 7", "München", "shop_orders", 2, True),
    ]
