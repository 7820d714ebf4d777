"""Functional test: the journey and department marts built by real dbt on DuckDB.

The warehouse contains the hand-written people of ``test_dbt_project`` plus more web
events of Anna's device a-1:

- 2026-04-30 20:00, from Instagram: the only touch before order #1001 (2026-05-01).
- 2026-06-28 18:00, from Google search.
- 2026-07-01 07:40 to 07:59, from a Google cpc link: landing on /sale, product
  view, add to cart and web checkout. Order #1004 (refunded) follows at 08:00.
- 2026-07-01 08:30, 31 minutes after the checkout: a new session after the order.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ingestion.sources import SOURCES
from tests.dbt.test_dbt_project import (
    LOADED_AT,
    RAW_ROWS,
    RECORD_CUSTOMERS,
    WEB_FILE,
    query,
    run_dbt,
)

SELECTION = ["+path:models/marts/journeys", "+path:models/marts/departments"]
# Cautious: skip tests that also read models outside the selection, such as
# relationships from customer_traits to dim_customers.
INDIRECT_SELECTION = ["--indirect-selection", "cautious"]


def web_event(message_id: str, timestamp: str, **fields) -> dict:
    """Return a raw web event of Anna's device a-1 while logged in as u-1."""
    return {
        "message_id": message_id,
        "anonymous_id": "a-1",
        "user_id": "u-1",
        "timestamp": timestamp,
        "_file": WEB_FILE,
        **fields,
    }


def page_context(path: str, referrer: str = "", campaign: dict | None = None) -> str:
    context = {
        "page": {
            "path": path,
            "referrer": referrer,
            "url": f"https://shop.example.de{path}",
        }
    }
    if campaign:
        context["campaign"] = campaign
    return json.dumps(context)


CPC_CAMPAIGN = {"source": "google", "medium": "cpc", "name": "brand_dach"}
JOURNEY_EVENTS = [
    web_event(
        "m-16",
        "2026-04-30T20:00:00Z",
        type="page",
        name="Home",
        context=page_context("/", "https://l.instagram.com/"),
    ),
    web_event(
        "m-10",
        "2026-06-28T18:00:00Z",
        type="page",
        name="Home",
        context=page_context("/", "https://www.google.de/"),
    ),
    web_event(
        "m-11",
        "2026-07-01T07:40:00Z",
        type="page",
        name="Sale",
        context=page_context("/sale", campaign=CPC_CAMPAIGN),
    ),
    web_event("m-12", "2026-07-01T07:45:00Z", type="track", event="Product Viewed"),
    web_event("m-13", "2026-07-01T07:50:00Z", type="track", event="Product Added"),
    web_event("m-14", "2026-07-01T07:59:00Z", type="track", event="Order Completed"),
    web_event(
        "m-15",
        "2026-07-01T08:30:00Z",
        type="page",
        name="Account",
        context=page_context("/account"),
    ),
]


def insert_raw_rows(con: duckdb.DuckDBPyConnection, raw_rows: dict) -> None:
    """Create raw.<source> as the loader does and insert the given rows."""
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


def insert_record_customers(con: duckdb.DuckDBPyConnection) -> None:
    """Write identity.record_customers in place of the identity step."""
    con.execute("create schema identity")
    con.execute(
        "create table identity.record_customers (record_key varchar, source varchar, "
        "source_record_id varchar, customer_id varchar, resolved_at timestamp)"
    )
    for record_key, customer_id in RECORD_CUSTOMERS.items():
        source, _, source_record_id = record_key.partition(":")
        con.execute(
            "insert into identity.record_customers values (?, ?, ?, ?, ?)",
            [record_key, source, source_record_id, customer_id, LOADED_AT],
        )


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the journey and department marts with their parents and tests."""
    folder = tmp_path_factory.mktemp("dbt_journeys")
    path = folder / "warehouse.duckdb"
    raw_rows = dict(RAW_ROWS, web_events=RAW_ROWS["web_events"] + JOURNEY_EVENTS)
    with duckdb.connect(str(path)) as con:
        insert_raw_rows(con, raw_rows)
        insert_record_customers(con)

    result = run_dbt(
        ["build", "--select", *SELECTION, *INDIRECT_SELECTION], path, folder
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    return path


def test_sessions_split_by_inactivity(warehouse):
    rows = query(
        warehouse,
        "select customer_id, count(*) from marts.fct_sessions "
        "group by customer_id order by customer_id nulls last",
    )
    assert rows == [("anna", 6), (None, 1)]


def test_cpc_session_counts_and_channel(warehouse):
    rows = query(
        warehouse,
        "select event_count, pageview_count, landing_page, channel, utm_campaign "
        "from marts.fct_sessions where started_at = '2026-07-01 07:40:00'",
    )
    assert rows == [(4, 1, "/sale", "paid_search", "brand_dach")]


def test_session_channels_from_referrers(warehouse):
    channels = dict(
        query(
            warehouse,
            "select cast(started_at as date), channel from marts.fct_sessions "
            "where started_at < '2026-07-01'",
        )
    )
    assert channels == {date(2026, 4, 30): "social", date(2026, 6, 28): "organic"}


def test_each_order_one_touch_per_model(warehouse):
    rows = query(
        warehouse,
        "select order_id, attribution_model, count(*) from marts.order_attribution "
        "group by all having count(*) > 1",
    )
    assert rows == []


def test_attribution_of_anna_orders(warehouse):
    rows = query(
        warehouse,
        "select order_id, attribution_model, channel, attributed_revenue_eur "
        "from marts.order_attribution order by order_id, attribution_model",
    )
    assert rows == [
        ("#1001", "first_touch", "social", Decimal("120.50")),
        ("#1001", "last_touch", "social", Decimal("120.50")),
        ("#1004", "first_touch", "organic", Decimal("0.00")),
        ("#1004", "last_touch", "paid_search", Decimal("0.00")),
    ]


def test_funnel_counts_cpc_checkout(warehouse):
    rows = query(
        warehouse,
        "select session_count, product_view_session_count, cart_session_count, "
        "order_session_count from marts.funnel_conversion "
        "where month_start_date = '2026-07-01' and channel = 'paid_search'",
    )
    assert rows == [(1, 1, 1, 1)]


def test_funnel_rates_within_bounds(warehouse):
    rows = query(
        warehouse,
        "select count(*) from marts.funnel_conversion where "
        "product_view_rate not between 0 and 1 or cart_rate not between 0 and 1 "
        "or order_rate not between 0 and 1 "
        "or session_conversion_rate not between 0 and 1",
    )
    assert rows == [(0,)]


def test_timeline_covers_every_source(warehouse):
    anna_sources = {
        source
        for (source,) in query(
            warehouse,
            "select distinct source from marts.customer_timeline "
            "where customer_id = 'anna'",
        )
    }
    lena_types = {
        touchpoint_type
        for (touchpoint_type,) in query(
            warehouse,
            "select touchpoint_type from marts.customer_timeline "
            "where customer_id = 'lena'",
        )
    }
    jonas_types = {
        touchpoint_type
        for (touchpoint_type,) in query(
            warehouse,
            "select touchpoint_type from marts.customer_timeline "
            "where customer_id = 'jonas'",
        )
    }
    assert anna_sources == {
        "crm_contacts",
        "email_activity",
        "shop_orders",
        "web_events",
    }
    assert "lead_form_submitted" in lena_types
    assert "ticket_created" in jonas_types


def test_lead_scores_only_for_non_buyers(warehouse):
    scores = dict(
        query(
            warehouse,
            "select customer_id, is_social_lead from marts.sales_lead_scores",
        )
    )
    assert "anna" not in scores
    assert "jonas" not in scores
    assert scores["lena"] is True
    assert scores["lea"] is False


def test_campaign_sends_opens_clicks(warehouse):
    rows = query(
        warehouse,
        "select campaign_id, sent_customers, opened_customers, clicked_customers "
        "from marts.campaign_performance order by campaign_id",
    )
    assert rows == [("c-1", 1, 1, 0), ("c-2", 1, 1, 1)]


def test_monthly_kpis_split_new_customers(warehouse):
    rows = query(
        warehouse,
        "select month_start_date, revenue_eur, new_customers, returning_customers "
        "from marts.mgmt_kpis_monthly where order_count > 0 order by 1",
    )
    assert rows == [
        (date(2025, 1, 1), Decimal("745.50"), 1, 0),
        (date(2026, 5, 1), Decimal("120.50"), 1, 0),
        (date(2026, 11, 1), Decimal("80.00"), 1, 0),
    ]


def test_cohort_month_zero_retains_all(warehouse):
    rows = query(
        warehouse,
        "select min(retention_rate), max(retention_rate) "
        "from marts.mgmt_cohort_retention where months_since_first_order = 0",
    )
    assert rows == [(1.0, 1.0)]


def test_product_revenue_per_line(warehouse):
    rows = query(
        warehouse,
        "select product_id, category, units, revenue_eur "
        "from marts.product_monthly_performance "
        "where month_start_date = '2026-05-01' and units > 0 order by product_id",
    )
    assert rows == [
        ("POT-1", "Uncategorized", 1, Decimal("40.50")),
        ("TEA-1", "Uncategorized", 2, Decimal("80.00")),
    ]
