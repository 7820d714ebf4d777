"""``cdp trace`` on a small warehouse: real identity resolution, real syncs.

Two nights. On the first, Katharina has four records (a CRM contact and a shop
order with the same email, a CRM contact whose name has a typo that Splink joins,
and an email platform record keyed by her address). Jonas is two customers: a CRM
contact, and a shop account without a name under another email. Lena has a CRM
contact and an order below the threshold. Katharina and the shop account reach the
revenue threshold of the high-value segment and are synced to Google Ads. On the
second night an order by Jonas carries the CRM contact's email and the shop
account's phone, so identity resolution merges both of his customers and retires
one of the two customer ids.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from click.testing import CliRunner

from activation.destinations import load_destinations
from activation.sync import sync_destination
from identity.resolve import resolve_identities
from orchestration import cli
from orchestration.cli import main
from tests.identity.conftest import make_person_record, write_warehouse

DESTINATION = "google_ads_high_value"
SEGMENT = "high_value_customers"
KATHARINA_EMAIL = "k.s@web.de"

KATHARINA = {
    "first_name": "Katharina",
    "birth_date": date(1984, 3, 12),
    "street": "Lindenstraße 12",
    "postal_code": "04109",
    "city": "Leipzig",
}
FIRST_NIGHT = [
    make_person_record(
        "crm_contacts", "1", last_name="Schmidt", email=KATHARINA_EMAIL, **KATHARINA
    ),
    make_person_record(
        "shop_orders", "A-1", last_name="Schmidt", email=KATHARINA_EMAIL, **KATHARINA
    ),
    make_person_record(
        "crm_contacts", "2", last_name="Schmitd", email="kathi@gmx.de", **KATHARINA
    ),
    make_person_record(
        "email_activity",
        KATHARINA_EMAIL,
        email=KATHARINA_EMAIL,
        observed_at=datetime(2026, 11, 28, 9, 30),
    ),
    make_person_record(
        "crm_contacts",
        "10",
        first_name="Jonas",
        last_name="Weber",
        email="jonas.weber@example.de",
        birth_date=date(1990, 7, 1),
    ),
    make_person_record(
        "shop_orders",
        "B-1",
        email="jw1990@example.com",
        phone="+4917612345678",
        city="Hamburg",
        postal_code="20095",
    ),
    make_person_record(
        "crm_contacts", "20", first_name="Lena", last_name="Koch", email="lena@koch.de"
    ),
    make_person_record(
        "shop_orders", "C-1", first_name="Lena", last_name="Koch", email="lena@koch.de"
    ),
]
SECOND_NIGHT = FIRST_NIGHT + [
    make_person_record(
        "shop_orders",
        "B-2",
        first_name="Jonas",
        last_name="Weber",
        email="jonas.weber@example.de",
        phone="+4917612345678",
    ),
]
# Revenue in EUR of each shop order; the segment threshold is 500 EUR.
REVENUE = {
    "shop_orders:A-1": 812.50,
    "shop_orders:B-1": 640.00,
    "shop_orders:B-2": 80.00,
    "shop_orders:C-1": 120.00,
}


def build_marts(con: duckdb.DuckDBPyConnection) -> None:
    """Derive dim_customers, customer_traits and the segment from the identity
    output, in the columns the real models have."""
    con.execute("create schema if not exists marts")
    con.execute("""
        create or replace table marts.dim_customers as
        select
            c.customer_id,
            arg_min(p.email, p.record_key) as email,
            arg_min(p.phone, p.record_key) as phone,
            arg_min(p.first_name, p.record_key) as first_name,
            arg_min(p.last_name, p.record_key) as last_name,
            arg_min(p.postal_code, p.record_key) as postal_code,
            arg_min(p.city, p.record_key) as city,
            arg_min(p.country_code, p.record_key) as country_code,
            true as has_email_consent,
            false as is_email_suppressed
        from identity.record_customers as c
        inner join intermediate.int_person_records as p using (record_key)
        group by c.customer_id
    """)

    revenue = pa.table(
        {"record_key": list(REVENUE), "revenue_eur": list(REVENUE.values())}
    )
    con.register("order_revenue", revenue)
    con.execute("""
        create or replace table marts.customer_traits as
        select
            c.customer_id,
            cast(coalesce(sum(o.revenue_eur), 0) as decimal(38, 2)) as revenue_eur,
            count(o.record_key) as order_count,
            cast(sum(o.revenue_eur) / count(o.record_key) as decimal(18, 2))
                as average_order_value_eur,
            max(p.observed_at) filter (where o.record_key is not null)
                as last_order_at
        from identity.record_customers as c
        inner join intermediate.int_person_records as p using (record_key)
        left join order_revenue as o using (record_key)
        group by c.customer_id
    """)
    con.unregister("order_revenue")

    con.execute("""
        create or replace table marts.segment_high_value_customers as
        select
            d.customer_id,
            d.has_email_consent,
            d.is_email_suppressed,
            t.revenue_eur,
            t.order_count,
            t.average_order_value_eur,
            t.last_order_at
        from marts.customer_traits as t
        inner join marts.dim_customers as d using (customer_id)
        where t.revenue_eur >= 500
    """)
    con.execute(
        "create table if not exists intermediate.int_email_suppressions "
        "(email varchar, has_hard_bounced boolean)"
    )


def run_night(con, records, run_date: date, outbox: Path) -> None:
    write_warehouse(con, records)
    resolve_identities(con)
    build_marts(con)
    [destination] = [d for d in load_destinations() if d.name == DESTINATION]
    sync_destination(con, destination, outbox, run_date)


def customer_of(con, record_key: str) -> str:
    return con.execute(
        "select customer_id from identity.record_customers where record_key = ?",
        [record_key],
    ).fetchone()[0]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """The warehouse after both nights, with the customer ids the tests trace."""
    root = tmp_path_factory.mktemp("trace")
    path = root / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        run_night(con, FIRST_NIGHT, date(2026, 11, 30), root / "outbox")
        shop_first_night = customer_of(con, "shop_orders:B-1")
        crm_first_night = customer_of(con, "crm_contacts:10")
        run_night(con, SECOND_NIGHT, date(2026, 12, 1), root / "outbox")
        ids = {
            "katharina": customer_of(con, "crm_contacts:1"),
            "shop_first_night": shop_first_night,
            "crm_first_night": crm_first_night,
            "merged": customer_of(con, "shop_orders:B-1"),
            "merged_crm": customer_of(con, "crm_contacts:10"),
        }
    return path, ids


@pytest.fixture
def trace(warehouse, tmp_path, monkeypatch):
    """Run ``cdp trace`` with the given options; return the click result."""
    path, _ = warehouse
    monkeypatch.setenv("CDP_WAREHOUSE", str(path))
    monkeypatch.setenv("CDP_OUTBOX", str(tmp_path / "outbox"))
    monkeypatch.setenv("CDP_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("CDP_REPORTS", str(tmp_path / "reports"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("CDP_RUN_DATE", "2026-12-01")
    # A wide console keeps each table row and path on one line.
    monkeypatch.setattr(cli.console, "width", 250)

    def run(*options: str, destination=DESTINATION, segment=SEGMENT):
        arguments = ["trace", "--destination", destination, "--segment", segment]
        return CliRunner().invoke(main, [*arguments, *options])

    return run


def test_trace_by_email_names_records_and_links(trace, warehouse):
    _, ids = warehouse

    result = trace("--email", " K.S@Web.de ")

    assert result.exit_code == 0, result.output
    output = result.output
    assert f"Trace of {ids['katharina']}" in output
    assert "crm_contacts:1" in output
    assert "crm_contacts:2" in output
    assert "shop_orders:A-1" in output
    assert "email_activity:k***@web.de" in output
    assert "observed 2026-11-28 09:30:00" in output
    assert "identifier:email = k***@web.de" in output
    assert "splink  probability" in output
    assert "match weight" in output


def test_trace_masks_emails(trace):
    result = trace("--email", KATHARINA_EMAIL)

    assert result.exit_code == 0, result.output
    assert KATHARINA_EMAIL not in result.output.lower()
    assert "kathi@gmx.de" not in result.output.lower()
    assert "k***@web.de" in result.output


def test_trace_shows_export_action_and_file(trace, warehouse):
    _, ids = warehouse

    result = trace("--customer-id", ids["katharina"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    added = [line for line in lines if "2026-11-30" in line and "added" in line]
    assert len(added) == 1, result.output
    assert "high_value_customers.csv" in added[0]
    assert "written" in added[0]
    assert "Held by the destination after the sync of 2026-12-01" in result.output
    hashed = hashlib.sha256(KATHARINA_EMAIL.encode()).hexdigest()
    assert f"key {hashed[:12]}… (SHA-256)" in result.output
    assert hashed not in result.output


def test_trace_shows_segment_rule(trace, warehouse):
    _, ids = warehouse

    result = trace("--customer-id", ids["katharina"])

    assert result.exit_code == 0, result.output
    output = result.output
    assert "High-value customers" in output
    assert (
        "Customers whose revenue (EUR, refunded and voided orders left out)" in output
    )
    assert "Owner: loyalty-marketing" in output
    assert "var high_value_min_revenue_eur = 500" in output
    assert "models/marts/segments/segment_high_value_customers.sql" in output
    assert f"Member of marts.segment_{SEGMENT} now" in output
    revenue = [line for line in output.splitlines() if "revenue_eur" in line]
    assert any("812.50" in line for line in revenue), output


def test_trace_by_hashed_key(trace, warehouse):
    _, ids = warehouse
    hashed = hashlib.sha256(KATHARINA_EMAIL.encode()).hexdigest()

    by_hash = trace("--key", hashed)
    by_address = trace("--key", "K.S@web.de")

    assert by_hash.exit_code == 0, by_hash.output
    assert f"Trace of {ids['katharina']}" in by_hash.output
    assert by_address.exit_code == 0, by_address.output
    assert f"Trace of {ids['katharina']}" in by_address.output


def test_trace_follows_merged_customer_id(trace, warehouse):
    _, ids = warehouse
    shop, crm, merged = (
        ids["shop_first_night"],
        ids["crm_first_night"],
        ids["merged"],
    )
    retired = shop if merged == crm else crm
    assert shop != crm
    assert ids["merged_crm"] == merged

    result = trace("--customer-id", retired)

    assert result.exit_code == 0, result.output
    output = result.output
    assert f"Trace of {merged}" in output
    assert f"earlier ids that resolve to it: {retired}" in output
    merges = [line for line in output.splitlines() if "merge" in line]
    assert any(retired in line and merged in line for line in merges), output
    first_night = [line for line in output.splitlines() if "2026-11-30" in line]
    assert any(shop in line and "added" in line for line in first_night), output


def test_non_member_shows_traits(trace):
    result = trace("--email", "lena@koch.de")

    assert result.exit_code == 0, result.output
    output = result.output
    assert "No addition, change or removal of this person was logged" in output
    assert "Not a member of marts.segment_high_value_customers now" in output
    assert "from marts.customer_traits" in output
    revenue = [line for line in output.splitlines() if "revenue_eur" in line]
    assert any("120.00" in line for line in revenue), output
    assert "lena@koch.de" not in output


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--destination", "nowhere", "--segment", SEGMENT, "--customer-id", "x"],
            "destination nowhere not found in activation/destinations.yml",
        ),
        (
            ["--destination", DESTINATION, "--segment", "champions", "--email", "x"],
            f"segment champions not found for destination {DESTINATION}",
        ),
        (
            ["--destination", DESTINATION, "--segment", SEGMENT, "--customer-id",
             "cus_0000000000000000"],
            "customer_id cus_0000000000000000 not found",
        ),
        (
            ["--destination", DESTINATION, "--segment", SEGMENT, "--email",
             "nobody@example.com"],
            "email n***@example.com not found",
        ),
        (
            ["--destination", DESTINATION, "--segment", SEGMENT, "--key",
             "0" * 64],
            "not found in activation.audience_snapshots of destination "
            f"{DESTINATION}",
        ),
    ],
)  # fmt: skip
def test_unknown_input_names_what_is_missing(trace, options, message):
    result = CliRunner().invoke(main, ["trace", *options])

    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "nobody@example.com" not in result.output


def test_trace_requires_one_lookup(trace):
    neither = trace()
    both = trace("--customer-id", "x", "--email", "y@example.com")

    assert neither.exit_code == 2
    assert "exactly one of --customer-id, --email and --key" in neither.output
    assert both.exit_code == 2


def test_change_of_key_names_removal_file(trace, warehouse):
    _, ids = warehouse

    result = trace("--customer-id", ids["merged"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    changed = [line for line in lines if "2026-12-01" in line and "changed" in line]
    assert len(changed) == 1, result.output
    assert "high_value_customers.csv, high_value_customers_removed.csv" in changed[0]
