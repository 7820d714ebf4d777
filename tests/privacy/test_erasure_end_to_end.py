"""Erasure proof: after ``cdp forget`` and one more night, no byte names the person.

A generated sample of 40 customers gets one more person with two email addresses and
a phone number written four ways. The person has records in the CRM, the shop (one
order loads, one is rejected), web tracking, the email platform, the helpdesk and
the lead forms, and identity resolution merges them into one customer. The test runs the
nightly job, forgets one of the two email addresses, adds an extract that mentions
the person again, runs the next night and then searches the warehouse file and
every file under the test folder for each value of the person.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ingestion.generator import generate

CDP = str(Path(sys.executable).with_name("cdp"))
FIRST_NIGHT = "2026-11-30"
SECOND_NIGHT = "2026-12-01"

CRM_EMAIL = "quirinus.zwiebelmeyer@example.org"
SHOP_EMAIL = "q.zwiebelmeyer@mailbox.example"
PHONE_E164 = "+491715550123"
PHONES_AS_WRITTEN = ["0171 5550123", "+49 171 5550123", "0171/5550123", "01715550123"]
USER_ID = "u-zwiebel-7781"
ANONYMOUS_ID = "anon-zwiebel-1f3c"
IP_ADDRESS = "203.0.113.77"
PERSON_VALUES = [
    CRM_EMAIL,
    SHOP_EMAIL,
    PHONE_E164,
    *PHONES_AS_WRITTEN,
    "Quirinus",
    "Zwiebelmeyer",
    "Rübezahlweg",
    USER_ID,
    ANONYMOUS_ID,
    IP_ADDRESS,
]


def run_cdp(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CDP, *args], check=False, env=env, capture_output=True, text=True, timeout=900
    )


def append_csv(path: Path, rows: list[dict]) -> None:
    with path.open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    with path.open("a", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        writer.writerows(rows)


def crm_row(record_id: str, email: str, phone: str) -> dict:
    return {
        "Record ID": record_id,
        "First Name": "Quirinus",
        "Last Name": "Zwiebelmeyer",
        "Email": email,
        "Phone Number": phone,
        "Street Address": "Rübezahlweg 17",
        "Postal Code": "80331",
        "City": "München",
        "Country/Region": "Deutschland",
        "Create Date": "2025-01-10 09:00:00",
        "Last Modified Date": "2026-11-01 09:00:00",
        "Marketing email opt-in": "true",
    }


def shop_row(order: str, total: str) -> dict:
    return {
        "Name": order,
        "Email": SHOP_EMAIL,
        "Financial Status": "paid",
        "Paid at": "2026-11-20 10:05:00 +0100",
        "Fulfillment Status": "fulfilled",
        "Accepts Marketing": "yes",
        "Currency": "EUR",
        "Subtotal": total,
        "Shipping": "0.00",
        "Taxes": "0.00",
        "Total": total,
        "Created at": "2026-11-20 10:00:00 +0100",
        "Lineitem quantity": "1",
        "Lineitem name": "Expeditionszelt",
        "Lineitem price": total,
        "Lineitem sku": "NW-9999",
        "Billing Name": "Quirinus Zwiebelmeyer",
        "Billing Street": "Rübezahlweg 17",
        "Billing City": "München",
        "Billing Zip": "80331",
        "Billing Country": "DE",
        "Billing Phone": "+49 171 5550123",
        "Id": f"52{order[1:]}",
    }


def web_events() -> list[dict]:
    context = {"ip": IP_ADDRESS, "library": {"name": "analytics.js"}}
    base = {"anonymousId": ANONYMOUS_ID, "userId": USER_ID, "context": context}
    return [
        base
        | {
            "messageId": "zwiebel-identify-1",
            "type": "identify",
            "traits": {
                "email": SHOP_EMAIL,
                "firstName": "Quirinus",
                "lastName": "Zwiebelmeyer",
            },
            "receivedAt": "2026-11-20T08:59:00.000Z",
            "timestamp": "2026-11-20T08:59:00.000Z",
        },
        base
        | {
            "messageId": "zwiebel-page-1",
            "type": "page",
            "name": "Zelte",
            "properties": {"url": "https://www.nordwand-outdoor.example/zelte"},
            "receivedAt": "2026-11-20T09:01:00.000Z",
            "timestamp": "2026-11-20T09:01:00.000Z",
        },
    ]


def add_person(landing: Path) -> None:
    """Append the person's records to the generated extracts of the first night."""
    day = FIRST_NIGHT
    append_csv(
        landing / "crm_contacts" / f"crm_contacts_{day}.csv",
        [crm_row("99900000001", CRM_EMAIL, "0171 5550123")],
    )
    append_csv(
        landing / "shop_orders" / f"shop_orders_{day}.csv",
        # The second order's total does not parse, so it lands in the rejects.
        [shop_row("#99901", "950.00"), shop_row("#99902", "neunzig")],
    )
    with (landing / "web_events" / f"web_events_{day}.jsonl").open("a") as handle:
        for event in web_events():
            handle.write(json.dumps(event) + "\n")
    append_csv(
        landing / "email_activity" / f"email_activity_{day}.csv",
        [
            {
                "Campaign ID": "53ba132b38",
                "Campaign Name": "Newsletter Dezember 2025",
                "Email Address": CRM_EMAIL,
                "Action": "open",
                "Timestamp": "2026-11-21 08:00:00",
            }
        ],
    )
    tickets_path = landing / "helpdesk_tickets" / f"helpdesk_tickets_{day}.json"
    document = json.loads(tickets_path.read_text(encoding="utf-8"))
    document["tickets"].append(
        {
            "id": 99903,
            "created_at": "2026-11-22T10:00:00Z",
            "updated_at": "2026-11-22T11:00:00Z",
            "subject": "Zelt",
            "description": "Gruss, Quirinus Zwiebelmeyer",
            "status": "closed",
            "requester": {
                "name": "Quirinus Zwiebelmeyer",
                "email": CRM_EMAIL,
                "phone": "0171/5550123",
            },
            "via": {"channel": "email"},
        }
    )
    tickets_path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    append_csv(
        landing / "social_leads" / f"social_leads_{day}.csv",
        [
            {
                "id": "l:99904",
                "created_time": "2026-11-15T10:00:00+0000",
                "platform": "fb",
                "full_name": "Quirinus Zwiebelmeyer",
                "email": SHOP_EMAIL,
                "phone_number": "01715550123",
                "marketing_consent": "true",
            }
        ],
    )


def add_later_extract(landing: Path) -> None:
    """A CRM extract of the second night that mentions the person twice: once with
    the forgotten address, once with the other one."""
    path = landing / "crm_contacts" / f"crm_contacts_{SECOND_NIGHT}.csv"
    source = landing / "crm_contacts" / f"crm_contacts_{FIRST_NIGHT}.csv"
    with source.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header, first_contact = next(reader), next(reader)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerow(first_contact)
        person = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        person.writerow(crm_row("99900000005", SHOP_EMAIL, ""))
        person.writerow(crm_row("99900000006", CRM_EMAIL, "0171 5550123"))


def found_values(data: bytes) -> list[str]:
    return [value for value in PERSON_VALUES if value.encode("utf-8") in data]


def files_naming_person(root: Path, skip: set[Path]) -> dict[str, list[str]]:
    hits = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path not in skip:
            found = found_values(path.read_bytes())
            if found:
                hits[str(path.relative_to(root))] = found
    return hits


def checkpoint(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute("checkpoint")


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    root = tmp_path_factory.mktemp("erasure")
    generate(customers=40, seed=3, out=root, events_per_customer=2)
    add_person(root / "landing")
    warehouse = root / "warehouse.duckdb"
    env = os.environ | {
        "CDP_WAREHOUSE": str(warehouse),
        "CDP_LANDING_DIR": str(root / "landing"),
        "CDP_GROUND_TRUTH": str(root / "ground_truth" / "ground_truth.csv"),
        "CDP_OUTBOX": str(root / "outbox"),
        "CDP_REPORTS": str(root / "reports"),
        "CDP_RUN_DATE": FIRST_NIGHT,
        "DAGSTER_HOME": str(root / "dagster"),
    }
    first = run_cdp(env, "run")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    checkpoint(warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        customer_id = con.execute(
            "select customer_id from marts.dim_customers where email = ?", [CRM_EMAIL]
        ).fetchone()
        customers_before = con.execute(
            "select count(*) from marts.dim_customers"
        ).fetchone()[0]
    before = {
        "warehouse": found_values(warehouse.read_bytes()),
        "files": files_naming_person(root, {warehouse}),
        "customer_id": customer_id[0] if customer_id else None,
        "customers": customers_before,
    }

    forget = run_cdp(env, "forget", "--email", SHOP_EMAIL.upper())
    assert forget.returncode == 0, forget.stdout + forget.stderr
    add_later_extract(root / "landing")
    second = run_cdp(env | {"CDP_RUN_DATE": SECOND_NIGHT}, "run")
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    checkpoint(warehouse)
    return {"root": root, "warehouse": warehouse, "before": before, "env": env}


@pytest.fixture
def con(nights):
    with duckdb.connect(str(nights["warehouse"]), read_only=True) as connection:
        yield connection


def test_person_merged_and_exported_first(nights):
    before = nights["before"]
    assert before["customer_id"] is not None
    assert CRM_EMAIL in before["warehouse"]
    outbox_hits = [f for f in before["files"] if f.startswith("outbox")]
    assert outbox_hits, "the person was in no audience file after the first night"


def test_no_value_in_warehouse_file(nights):
    assert found_values(nights["warehouse"].read_bytes()) == []


def test_no_value_in_data_folder(nights):
    root = nights["root"]
    assert files_naming_person(root, {nights["warehouse"]}) == {}


def test_no_value_in_any_table(con):
    columns = con.execute(
        "select schema_name, table_name, column_name from duckdb_columns() "
        "where database_name = current_database() and data_type = 'VARCHAR'"
    ).fetchall()
    hits = []
    for schema, table, column in columns:
        condition = " or ".join(f'contains("{column}", ?)' for _ in PERSON_VALUES)
        count = con.execute(
            f'select count(*) from "{schema}"."{table}" where {condition}',
            PERSON_VALUES,
        ).fetchone()[0]
        if count:
            hits.append(f"{schema}.{table}.{column}")
    assert hits == []


def test_request_completed_and_logged(con):
    status, identifier_type = con.execute(
        "select status, identifier_type from privacy.erasure_requests"
    ).fetchone()
    assert status == "completed"
    assert identifier_type == "email"
    targets = dict(
        con.execute(
            "select target, sum(rows_affected) from privacy.erasure_log group by 1"
        ).fetchall()
    )
    for table in ("raw.crm_contacts", "raw.shop_orders", "raw.web_events"):
        assert targets.get(table, 0) >= 1, table
    assert targets.get("raw.shop_orders__rejects", 0) == 1
    assert any(t.startswith("landing:") for t in targets)


def test_customer_gone_others_kept(nights, con):
    customer_id = nights["before"]["customer_id"]
    remaining = con.execute(
        "select count(*) from marts.dim_customers where customer_id = ?", [customer_id]
    ).fetchone()[0]
    customers = con.execute("select count(*) from marts.dim_customers").fetchone()[0]
    assert remaining == 0
    assert customers == nights["before"]["customers"] - 1


def test_destinations_receive_removal(nights, con):
    removals = con.execute(
        "select count(*) from activation.sync_changes where customer_id = ? "
        "and action = 'remove' and run_date = ?",
        [nights["before"]["customer_id"], SECOND_NIGHT],
    ).fetchone()[0]
    assert removals >= 1


def test_later_rows_counted_as_erased(con):
    read, loaded, rejected, erased = con.execute(
        "select rows_read, rows_loaded, rows_rejected, rows_erased "
        "from raw._load_log where file = ?",
        [f"crm_contacts_{SECOND_NIGHT}.csv"],
    ).fetchone()
    assert read == 3
    assert erased == 2
    assert loaded == 1
    assert rejected == 0


def test_load_log_balances(con):
    unbalanced = con.execute(
        "select count(*) from raw._load_log where status = 'loaded' "
        "and rows_read <> rows_loaded + rows_rejected + rows_erased"
    ).fetchone()[0]
    assert unbalanced == 0


def test_rewritten_files_not_reloaded(nights, con):
    """Each landing file's sha256 is the one logged, so no extract loads again."""
    from ingestion.loader import file_sha256

    landing = nights["root"] / "landing"
    for path in sorted(landing.rglob("*.*")):
        logged = con.execute(
            "select sha256 from raw._load_log where file = ? and status = 'loaded'",
            [path.name],
        ).fetchone()
        assert logged == (file_sha256(path),), path.name
