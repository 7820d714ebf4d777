"""Everything the warehouse stores about one customer, read from the marts.

Each list is capped at ``MAX_ROWS`` newest rows; the page shows the total beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

MAX_ROWS = 100

# Golden record fields of marts.dim_customers; each has <field>_source and
# <field>_updated_at beside it.
GOLDEN_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "street",
    "postal_code",
    "city",
    "country_code",
    "birth_date",
)

LIST_QUERIES = {
    "source_records": """
        select source, source_record_id, is_anonymous_visitor, first_name, last_name,
            email, phone, street, postal_code, city, country_code, observed_at
        from marts.customer_source_records
        where customer_id = ?
        order by observed_at desc nulls last, source, source_record_id
    """,
    "emails": """
        select email, sources, record_count, first_seen_at, last_seen_at, is_golden
        from marts.customer_emails
        where customer_id = ?
        order by is_golden desc, last_seen_at desc nulls last, email
    """,
    "phones": """
        select phone, sources, record_count, first_seen_at, last_seen_at, is_golden
        from marts.customer_phones
        where customer_id = ?
        order by is_golden desc, last_seen_at desc nulls last, phone
    """,
    "addresses": """
        select street, postal_code, city, country_code, sources, record_count,
            first_seen_at, last_seen_at, is_golden
        from marts.customer_addresses
        where customer_id = ?
        order by is_golden desc, last_seen_at desc nulls last, address_key
    """,
    "segments": """
        select m.segment_name, m.segment_owner, h.entered_at
        from marts.segment_memberships as m
        left join marts.segment_membership_history as h
            on h.customer_id = m.customer_id
            and h.segment_name = m.segment_name
            and h.is_current
        where m.customer_id = ?
        order by m.segment_name
    """,
    "orders": """
        select order_id, ordered_at, financial_status, fulfillment_status, currency,
            total, total_eur, item_count, is_refunded_or_voided, discount_code
        from marts.fct_orders
        where customer_id = ?
        order by ordered_at desc nulls last, order_id
    """,
    "tickets": """
        select ticket_id, created_at, updated_at, status, channel, subject,
            satisfaction_rating
        from marts.fct_support_tickets
        where customer_id = ?
        order by created_at desc nulls last, ticket_id
    """,
    "email_activities": """
        select occurred_at, campaign_name, activity_type, email
        from marts.fct_email_activities
        where customer_id = ?
        order by occurred_at desc nulls last, email_activity_id
    """,
    "timeline": """
        select occurred_at, source, touchpoint_type, detail
        from marts.customer_timeline
        where customer_id = ?
        order by occurred_at desc nulls last, touchpoint_number desc
    """,
}

CONSENT_QUERY = """
    select c.has_email_consent, c.email_consent_source, c.email_consent_updated_at,
        c.has_hard_bounced, c.is_email_suppressed, e.last_opted_in_at,
        e.last_unsubscribed_at, e.is_unsubscribed, t.has_sms_consent,
        t.has_phone_consent
    from marts.dim_customers as c
    left join marts.customer_email_consent as e using (customer_id)
    left join marts.customer_traits as t using (customer_id)
    where c.customer_id = ?
"""

TRAITS_QUERY = """
    select order_count, revenue_eur, average_order_value_eur, first_order_at,
        last_order_at, rfm_group, rfm_score, preferred_channel, emails_sent_90d,
        email_opens_30d, email_opens_90d, email_clicks_30d, email_clicks_90d,
        web_sessions_90d, ticket_count, satisfaction_score, is_churn_risk,
        p_alive, predicted_clv_12m_eur, as_of_at
    from marts.customer_traits
    where customer_id = ?
"""


@dataclass(frozen=True)
class RowList:
    rows: list[dict]
    total: int


@dataclass
class CustomerProfile:
    customer_id: str
    customer: dict
    golden: list[dict]
    consent: dict
    traits: dict
    lists: dict[str, RowList] = field(default_factory=dict)


def _record(con: duckdb.DuckDBPyConnection, sql: str, parameters: list) -> dict:
    cursor = con.execute(sql, parameters)
    row = cursor.fetchone()
    if row is None:
        return {}
    return dict(zip([column[0] for column in cursor.description], row, strict=True))


def _row_list(con: duckdb.DuckDBPyConnection, sql: str, customer_id: str) -> RowList:
    cursor = con.execute(f"{sql} limit {MAX_ROWS + 1}", [customer_id])
    names = [column[0] for column in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    if len(rows) <= MAX_ROWS:
        return RowList(rows, len(rows))
    total = con.execute(f"select count(*) from ({sql})", [customer_id]).fetchone()[0]
    return RowList(rows[:MAX_ROWS], total)


def load_profile(
    con: duckdb.DuckDBPyConnection, customer_id: str
) -> CustomerProfile | None:
    """Read the profile of ``customer_id``, or return None when it is not a customer."""
    customer = _record(
        con, "select * from marts.dim_customers where customer_id = ?", [customer_id]
    )
    if not customer:
        return None
    golden = [
        {
            "field": name,
            "value": customer.get(name),
            "source": customer.get(f"{name}_source"),
            "updated_at": customer.get(f"{name}_updated_at"),
        }
        for name in GOLDEN_FIELDS
    ]
    profile = CustomerProfile(
        customer_id=customer_id,
        customer=customer,
        golden=golden,
        consent=_record(con, CONSENT_QUERY, [customer_id]),
        traits=_record(con, TRAITS_QUERY, [customer_id]),
    )
    for name, sql in LIST_QUERIES.items():
        profile.lists[name] = _row_list(con, sql, customer_id)
    return profile


def current_customer_id(con: duckdb.DuckDBPyConnection, customer_id: str) -> str | None:
    """Return the id an old, merged customer id resolves to now, or None."""
    row = con.execute(
        "select old_customer_id_now from marts.customer_id_changes "
        "where old_customer_id = ? and old_customer_id_now is not null limit 1",
        [customer_id],
    ).fetchone()
    return row[0] if row else None
