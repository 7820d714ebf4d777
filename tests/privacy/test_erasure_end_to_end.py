"""Erasure proof: after ``cdp forget`` and one more run, no byte names the person.

A generated sample of 40 customers gets one more person with two email addresses and
a phone number written four ways. The person has records in the CRM, the shop (one
order loads, one is rejected), web tracking, the email platform, the helpdesk and
the lead forms, and identity resolution merges them into one customer. The test runs the
nightly job, forgets one of the two email addresses, adds an extract that mentions
the person again, and runs the same night again (the same CDP_RUN_DATE), the case
where the erasure night replaces the night whose audiences the destinations have.
Then it searches the warehouse file and every file under the test folder for each
value of the person, and the analyst copy for the person's pseudonym.

The same two runs check retention and the analytics schema, so these tests share
them: the sample also gets web events and email opens older than their retention
period, and an old unsubscribe that must outlive it.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ingestion.generator import generate
from ingestion.loader import file_sha256
from orchestration.privacy import store
from tests.pii_scan import collect_contact_values, columns_with_contact_values

CDP = str(Path(sys.executable).with_name("cdp"))
FIRST_NIGHT = "2026-11-30"
# Date in the name of the extract added before the second run, which has the run
# date of the first.
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


# Rows older than their retention period on FIRST_NIGHT: web events and email
# engagement keep 760 days, so the cutoff is 2024-10-31.
OLD_WEB_FILE = "web_events_2024-10-01.jsonl"
OLD_WEB_EVENTS = [f"retention-old-{i}" for i in range(3)]
OLD_EVENTS_IN_NEW_FILE = ["retention-late-0", "retention-late-1"]
RETENTION_EMAIL = "retention.check@example.net"


def old_web_event(message_id: str, day: int) -> dict:
    received = f"2024-09-{day:02d}T10:00:00.000Z"
    return {
        "messageId": message_id,
        "type": "page",
        "name": "Start",
        "anonymousId": "anon-retention-check",
        "receivedAt": received,
        "timestamp": received,
    }


def add_expired_rows(landing: Path) -> None:
    """Add rows past their retention period: a whole old web events file, old events
    in the current file, and an old open and unsubscribe of one address."""
    old_file = landing / "web_events" / OLD_WEB_FILE
    events = [old_web_event(m, 10 + i) for i, m in enumerate(OLD_WEB_EVENTS)]
    old_file.write_text("".join(json.dumps(e) + "\n" for e in events))
    current = landing / "web_events" / f"web_events_{FIRST_NIGHT}.jsonl"
    with current.open("a") as handle:
        for i, message_id in enumerate(OLD_EVENTS_IN_NEW_FILE):
            handle.write(json.dumps(old_web_event(message_id, 20 + i)) + "\n")
    append_csv(
        landing / "email_activity" / f"email_activity_{FIRST_NIGHT}.csv",
        [
            {
                "Campaign ID": "1a2b3c4d5e",
                "Campaign Name": "Newsletter September 2024",
                "Email Address": RETENTION_EMAIL,
                "Action": action,
                "Timestamp": "2024-09-15 08:00:00",
            }
            for action in ("open", "unsubscribe")
        ],
    )


def analyst_copy_pseudonyms(path: Path, pseudonym: str) -> tuple[int, set[str]]:
    """Rows of the analyst copy that carry ``pseudonym`` in any pseudonym column,
    and every customer pseudonym of its customers table."""
    with duckdb.connect(str(path), read_only=True) as copy:
        columns = copy.execute(
            "select table_name, column_name from duckdb_columns() "
            "where column_name like '%pseudonym%'"
        ).fetchall()
        rows = sum(
            copy.execute(
                f'select count(*) from "{table}" where "{column}" = ?', [pseudonym]
            ).fetchone()[0]
            for table, column in columns
        )
        customers = {
            r[0]
            for r in copy.execute("select customer_pseudonym from customers").fetchall()
        }
    return rows, customers


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


def stored_pseudonym_rows(con: duckdb.DuckDBPyConnection, customer_id) -> int:
    """Return how many rows of marts.pseudonymized_events belong to the customer."""
    return con.execute(
        "select count(*) from marts.pseudonymized_events where customer_id = ?",
        [customer_id[0] if customer_id else None],
    ).fetchone()[0]


def checkpoint(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute("checkpoint")


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    root = tmp_path_factory.mktemp("erasure")
    generate(customers=40, seed=3, out=root, events_per_customer=2)
    add_person(root / "landing")
    add_expired_rows(root / "landing")
    warehouse = root / "warehouse.duckdb"
    analyst_copy = root / "analytics.duckdb"
    env = os.environ | {
        "CDP_WAREHOUSE": str(warehouse),
        "CDP_LANDING_DIR": str(root / "landing"),
        "CDP_GROUND_TRUTH": str(root / "ground_truth" / "ground_truth.csv"),
        "CDP_OUTBOX": str(root / "outbox"),
        "CDP_REPORTS": str(root / "reports"),
        "CDP_RUN_DATE": FIRST_NIGHT,
        "DAGSTER_HOME": str(root / "dagster"),
    }
    env.pop("CDP_ANALYST_COPY", None)
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
        key = con.execute(
            "select value from privacy.settings where name = ?",
            [store.PSEUDONYM_KEY_SETTING],
        ).fetchone()[0]
        stored_event_rows = stored_pseudonym_rows(con, customer_id)
    pseudonym = store.pseudonym(key, customer_id[0]) if customer_id else ""
    copy_rows, copy_customers = analyst_copy_pseudonyms(analyst_copy, pseudonym)
    before = {
        "warehouse": found_values(warehouse.read_bytes()),
        "files": files_naming_person(root, {warehouse}),
        "customer_id": customer_id[0] if customer_id else None,
        "customers": customers_before,
        "pseudonym": pseudonym,
        "analyst_copy_rows": copy_rows,
        "analyst_copy_customers": copy_customers,
        "stored_event_rows": stored_event_rows,
    }

    forget = run_cdp(env, "forget", "--email", SHOP_EMAIL.upper())
    assert forget.returncode == 0, forget.stdout + forget.stderr
    add_later_extract(root / "landing")
    second = run_cdp(env, "run")
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    checkpoint(warehouse)
    return {
        "root": root,
        "warehouse": warehouse,
        "analyst_copy": analyst_copy,
        "before": before,
        "env": env,
    }


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


def test_same_night_rerun_sends_removal(nights, con):
    """The erasure ran on a rerun of the night whose files the destinations got,
    so that rerun, not a later night, has to remove the person."""
    removals = con.execute(
        "select count(*) from activation.sync_changes where customer_id = ? "
        "and action = 'remove' and status = 'written' and run_date = ?",
        [nights["before"]["customer_id"], FIRST_NIGHT],
    ).fetchone()[0]
    removal_files = con.execute(
        "select sum(row_count) from activation.exports where run_date = ? "
        "and file like '%\\_removed.%' escape '\\'",
        [FIRST_NIGHT],
    ).fetchone()[0]
    assert removals >= 1
    assert removal_files == removals


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
        "and rows_read <> rows_loaded + rows_rejected + rows_erased + rows_purged"
    ).fetchone()[0]
    assert unbalanced == 0


def test_rewritten_files_not_reloaded(nights, con):
    """Each landing file's sha256 is the one logged, so no extract loads again."""
    landing = nights["root"] / "landing"
    for path in sorted(landing.rglob("*.*")):
        logged = con.execute(
            "select sha256 from raw._load_log where file = ? and status = 'loaded'",
            [path.name],
        ).fetchone()
        assert logged == (file_sha256(path),), path.name


# Analytics schema and the analyst copy.


def test_analyst_copy_had_person_first(nights):
    before = nights["before"]
    assert before["analyst_copy_rows"] >= 3
    assert before["pseudonym"] in before["analyst_copy_customers"]


def test_analyst_copy_rewritten_without_person(nights, con):
    rows, customers = analyst_copy_pseudonyms(
        nights["analyst_copy"], nights["before"]["pseudonym"]
    )
    logged = con.execute(
        "select sum(rows_affected) from privacy.erasure_log "
        "where target = 'analyst_copy:analytics.duckdb'"
    ).fetchone()[0]
    assert rows == 0
    assert logged == nights["before"]["analyst_copy_rows"]
    assert len(customers) == nights["before"]["customers"] - 1


def test_stored_event_rows_erased(nights, con):
    before = nights["before"]
    left = stored_pseudonym_rows(con, (before["customer_id"],))
    by_pseudonym = con.execute(
        "select count(*) from marts.pseudonymized_events where customer_pseudonym = ?",
        [before["pseudonym"]],
    ).fetchone()[0]

    assert before["stored_event_rows"] >= 1
    assert left == 0
    assert by_pseudonym == 0


def test_pseudonyms_stable_across_runs(nights):
    """The key survives the rewrite of the warehouse file after the erasure."""
    before = nights["before"]
    _, customers = analyst_copy_pseudonyms(nights["analyst_copy"], "")
    assert customers == before["analyst_copy_customers"] - {before["pseudonym"]}


def test_analytics_holds_no_contact_values(con):
    values, name_words = collect_contact_values(con)
    assert values >= 40
    assert name_words >= 40
    assert columns_with_contact_values(con, "analytics") == []


# Retention: web events and email engagement older than 760 days.


def test_expired_landing_file_deleted(nights, con):
    logged = con.execute(
        "select rows_read, rows_loaded, rows_purged from raw._load_log "
        "where file = ? and status = 'loaded'",
        [OLD_WEB_FILE],
    ).fetchone()
    assert not (nights["root"] / "landing" / "web_events" / OLD_WEB_FILE).exists()
    assert logged == (3, 0, 3)


def test_expired_rows_leave_kept_file(nights, con):
    path = nights["root"] / "landing" / "web_events" / f"web_events_{FIRST_NIGHT}.jsonl"
    text = path.read_text(encoding="utf-8")
    purged = con.execute(
        "select rows_purged from raw._load_log where file = ? and status = 'loaded'",
        [path.name],
    ).fetchone()[0]
    in_raw = con.execute(
        "select count(*) from raw.web_events where message_id like 'retention-%'"
    ).fetchone()[0]
    assert [m for m in OLD_EVENTS_IN_NEW_FILE if m in text] == []
    assert "messageId" in text
    assert purged == len(OLD_EVENTS_IN_NEW_FILE)
    assert in_raw == 0


def test_unsubscribe_outlives_retention(con):
    actions = con.execute(
        "select action from raw.email_activity where email = ?", [RETENTION_EMAIL]
    ).fetchall()
    suppressed = con.execute(
        "select has_unsubscribed from intermediate.int_email_suppressions "
        "where email = ?",
        [RETENTION_EMAIL],
    ).fetchall()
    assert actions == [("unsubscribe",)]
    assert suppressed == [(True,)]


def test_purge_logged_once_per_night(con):
    """Two runs of FIRST_NIGHT log the rows of the first; the rerun adds zero."""
    logged = con.execute(
        "select source, target, cutoff, rows_purged, files_deleted "
        "from privacy.retention_log where rows_purged > 0 or files_deleted > 0 "
        "order by source, target"
    ).fetchall()
    cutoff = date(2024, 10, 31)
    assert logged == [
        ("email_activity", "landing/email_activity", cutoff, 1, 0),
        ("email_activity", "raw.email_activity", cutoff, 1, 0),
        ("web_events", "landing/web_events", cutoff, 5, 1),
        ("web_events", "raw.web_events", cutoff, 5, 0),
    ]
    run_dates = con.execute(
        "select distinct run_date from privacy.retention_log"
    ).fetchall()
    assert run_dates == [(date(2026, 11, 30),)]
