"""Deterministic links through shared identifiers, run through resolve_identities."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from identity.graph import first_names_compatible_sql
from identity.resolve import resolve_identities


def customer_of(con, record_key: str) -> str:
    rows = con.execute(
        "select customer_id from identity.record_customers where record_key = ?",
        [record_key],
    ).fetchall()
    assert len(rows) == 1, f"{record_key} has {len(rows)} rows in record_customers"
    return rows[0][0]


def test_shared_email_links_records_into_one_customer(build_warehouse, person_record):
    con = build_warehouse(
        [
            person_record("crm_contacts", "1", first_name="Anna", email="anna@web.de"),
            person_record("shop_orders", "#1001", email="anna@web.de"),
            person_record("email_activity", "anna@web.de", email="anna@web.de"),
        ]
    )

    result = resolve_identities(con)

    customer = customer_of(con, "crm_contacts:1")
    assert customer_of(con, "shop_orders:#1001") == customer
    assert customer_of(con, "email_activity:anna@web.de") == customer
    assert result.customers == 1
    assert result.pairs_deterministic == 3


def test_identifier_chain_links_transitively(build_warehouse, person_record):
    con = build_warehouse(
        [
            person_record("crm_contacts", "1", email="a@web.de"),
            person_record("shop_orders", "#1", email="a@web.de", phone="+4930123456"),
            person_record("helpdesk_tickets", "7", phone="+4930123456"),
            person_record("web_events", "user:u1"),
            person_record("web_events", "anon:x1"),
        ],
        extra_identifiers=[
            ("helpdesk_tickets:7", "user_id", "u1"),
            ("web_events:user:u1", "user_id", "u1"),
            ("web_events:anon:x1", "user_id", "u1"),
            ("web_events:anon:x1", "anonymous_id", "x1"),
        ],
    )

    result = resolve_identities(con)

    assert result.customers == 1
    link_types = {
        row[0]
        for row in con.execute("select link_type from identity.match_pairs").fetchall()
    }
    assert link_types == {"identifier:email", "identifier:phone", "identifier:user_id"}


@pytest.mark.parametrize(
    ("identifier_type", "placeholder"),
    [
        ("email", "test@test.com"),
        ("email", "N/A"),
        ("email", "unknown"),
        ("email", ""),
        ("phone", "0000000000"),
        ("phone", "+49 170 0000000"),
        ("phone", "+491111111111"),
        ("phone", "0170 11 11 11 1"),
    ],
)
def test_placeholder_values_do_not_link(
    build_warehouse, person_record, identifier_type, placeholder
):
    con = build_warehouse(
        [
            person_record("crm_contacts", "1", first_name="Anna", last_name="Berg"),
            person_record("crm_contacts", "2", first_name="Omar", last_name="Yilmaz"),
        ],
        extra_identifiers=[
            ("crm_contacts:1", identifier_type, placeholder),
            ("crm_contacts:2", identifier_type, placeholder),
        ],
    )

    result = resolve_identities(con)

    assert result.customers == 2
    assert result.pairs_deterministic == 0
    skipped = con.execute(
        "select identifier_type, reason, record_count from identity.skipped_identifiers"
    ).fetchall()
    assert skipped == [(identifier_type, "placeholder", 2)]


def test_over_shared_identifier_is_skipped_and_audited(build_warehouse, person_record):
    store_phone = "+49301234567"
    records = [
        person_record(
            "shop_orders",
            f"#{number}",
            first_name=first_name,
            last_name="Kunde",
            birth_date=date(1970 + number, 1, 1),
            phone=store_phone,
        )
        for number, first_name in enumerate(("Anna", "Berta", "Carl", "Dora"))
    ]
    con = build_warehouse(records)

    result = resolve_identities(con, max_records_per_identifier=3)

    assert result.pairs_deterministic == 0
    assert result.customers == 4
    skipped = con.execute(
        "select identifier_type, identifier_value, record_count, reason "
        "from identity.skipped_identifiers"
    ).fetchall()
    assert skipped == [("phone", store_phone, 4, "over_shared")]


def test_identifier_shared_up_to_limit_still_links(build_warehouse, person_record):
    records = [
        person_record("shop_orders", f"#{number}", email="family@web.de")
        for number in range(3)
    ]
    con = build_warehouse(records)

    result = resolve_identities(con, max_records_per_identifier=3)

    assert result.customers == 1
    assert result.skipped_identifiers == 0


def test_identifier_without_person_record_is_ignored(
    build_warehouse, person_record, caplog
):
    con = build_warehouse(
        [person_record("crm_contacts", "1", email="a@web.de")],
        extra_identifiers=[("crm_contacts:999", "email", "a@web.de")],
    )

    result = resolve_identities(con)

    assert result.records == 1
    assert result.pairs_deterministic == 0
    assert "Ignored 1 identifier rows" in caplog.text


def test_household_email_with_conflicting_names_is_skipped(
    build_warehouse, person_record
):
    household = {
        "last_name": "Schmidt",
        "email": "familie.schmidt@web.de",
        "street": "Lindenstraße 12",
        "postal_code": "04109",
        "city": "Leipzig",
    }
    con = build_warehouse(
        [
            person_record(
                "crm_contacts",
                "1",
                first_name="Anna",
                birth_date=date(1984, 3, 12),
                **household,
            ),
            person_record(
                "crm_contacts",
                "2",
                first_name="Markus",
                birth_date=date(1979, 11, 2),
                **household,
            ),
        ]
    )

    result = resolve_identities(con)

    assert result.customers == 2
    assert result.pairs_deterministic == 0
    skipped = con.execute(
        "select identifier_type, identifier_value, record_count, reason "
        "from identity.skipped_identifiers"
    ).fetchall()
    assert skipped == [("email", "familie.schmidt@web.de", 2, "conflicting_names")]


@pytest.mark.parametrize(
    ("first_name_l", "first_name_r"),
    [
        ("Alexander", "Alex"),
        ("Johannes", "Hannes"),
        ("Katharina", "Katharian"),
        ("Jürgen", "JUERGEN"),
        ("William", "Bill"),
        ("Josef", "Sepp"),
        ("Katharina", "Kathi"),
    ],
)
def test_shared_email_links_name_variants(
    build_warehouse, person_record, first_name_l, first_name_r
):
    con = build_warehouse(
        [
            person_record(
                "crm_contacts", "1", first_name=first_name_l, email="a@web.de"
            ),
            person_record(
                "shop_orders", "#1", first_name=first_name_r, email="a@web.de"
            ),
        ]
    )

    result = resolve_identities(con)

    assert result.customers == 1
    assert result.skipped_identifiers == 0


def test_shared_email_links_swapped_names(build_warehouse, person_record):
    con = build_warehouse(
        [
            person_record(
                "crm_contacts",
                "1",
                first_name="Jürgen",
                last_name="Weiß",
                email="j.weiss@gmx.de",
            ),
            person_record(
                "shop_orders",
                "#1",
                first_name="Weiß",
                last_name="Jürgen",
                email="j.weiss@gmx.de",
            ),
        ]
    )

    result = resolve_identities(con)

    assert result.customers == 1


def test_household_email_links_each_persons_records(build_warehouse, person_record):
    household = {"last_name": "Schmidt", "email": "familie.schmidt@web.de"}
    con = build_warehouse(
        [
            person_record("crm_contacts", "1", first_name="Anna", **household),
            person_record("shop_orders", "#1", first_name="Anna", **household),
            person_record("crm_contacts", "2", first_name="Markus", **household),
            person_record("email_activity", "familie.schmidt@web.de", **household),
        ]
    )

    result = resolve_identities(con)

    anna = customer_of(con, "crm_contacts:1")
    assert customer_of(con, "shop_orders:#1") == anna
    assert customer_of(con, "crm_contacts:2") != anna
    # A record without a first name could belong to either person, so it stays alone.
    nameless = customer_of(con, "email_activity:familie.schmidt@web.de")
    assert nameless != anna
    assert nameless != customer_of(con, "crm_contacts:2")
    assert result.customers == 3
    assert result.pairs_deterministic == 1


def test_typos_bridged_by_third_record(build_warehouse, person_record):
    # Ander and Anre are two edits apart, but each is one typo from Andre.
    email = "a.schmidt@gmx.de"
    person = {"last_name": "Schmidt", "email": email}
    con = build_warehouse(
        [
            person_record("crm_contacts", "1", first_name="Andre", **person),
            person_record("shop_orders", "#1", first_name="Ander", **person),
            person_record("shop_orders", "#2", first_name="Anre", **person),
            person_record("email_activity", email, email=email),
        ]
    )

    result = resolve_identities(con)

    assert result.customers == 1
    assert result.skipped_identifiers == 0


def test_typos_bridged_by_email_address(build_warehouse, person_record):
    # Tnia and Tvna are two edits apart, and the address spells Tina.
    email = "tina.kaspar19@outlook.com"
    person = {"last_name": "Kaspar", "email": email}
    con = build_warehouse(
        [
            person_record("crm_contacts", "1", first_name="Tnia", **person),
            person_record("crm_contacts", "2", first_name="Tvna", **person),
            person_record("email_activity", email, email=email),
        ]
    )

    result = resolve_identities(con)

    assert result.customers == 1
    assert result.skipped_identifiers == 0


def test_household_address_naming_one_person(build_warehouse, person_record):
    # The address spells Anna, which is no spelling of Markus.
    email = "anna.schmidt@web.de"
    household = {"last_name": "Schmidt", "email": email}
    con = build_warehouse(
        [
            person_record("crm_contacts", "1", first_name="Anna", **household),
            person_record("crm_contacts", "2", first_name="Markus", **household),
            person_record("shop_orders", "#1", first_name="Anne", **household),
            person_record("email_activity", email, email=email),
        ]
    )

    result = resolve_identities(con)

    anna = customer_of(con, "crm_contacts:1")
    assert customer_of(con, "shop_orders:#1") == anna
    assert customer_of(con, "crm_contacts:2") != anna
    assert customer_of(con, "email_activity:" + email) != anna
    assert result.customers == 3
    skipped = con.execute(
        "select identifier_value, reason from identity.skipped_identifiers"
    ).fetchall()
    assert skipped == [(email, "conflicting_names")]


def test_household_without_last_names_conflicts(build_warehouse, person_record):
    email = "familie@web.de"
    con = build_warehouse(
        [
            person_record("crm_contacts", "1", first_name="Anna", email=email),
            person_record("crm_contacts", "2", first_name="Markus", email=email),
        ]
    )

    result = resolve_identities(con)

    assert result.customers == 2
    assert result.pairs_deterministic == 0


def test_nameless_record_joins_only_subscriber(build_warehouse, person_record):
    email = "familie.schmidt@web.de"
    household = {"last_name": "Schmidt", "email": email}
    con = build_warehouse(
        [
            person_record("crm_contacts", "1", first_name="Anna", **household),
            person_record("shop_orders", "#1", first_name="Anna", **household),
            person_record("crm_contacts", "2", first_name="Markus", **household),
            person_record("email_activity", email, email=email),
        ],
        consents={"crm_contacts:1": True, "crm_contacts:2": False},
    )

    result = resolve_identities(con)

    anna = customer_of(con, "crm_contacts:1")
    assert customer_of(con, "email_activity:" + email) == anna
    assert customer_of(con, "shop_orders:#1") == anna
    assert customer_of(con, "crm_contacts:2") != anna
    assert result.customers == 2


def test_two_subscribers_address_names_one(build_warehouse, person_record):
    email = "anna.schmidt@web.de"
    household = {"last_name": "Schmidt", "email": email}
    con = build_warehouse(
        [
            person_record("crm_contacts", "1", first_name="Anna", **household),
            person_record("crm_contacts", "2", first_name="Markus", **household),
            person_record("email_activity", email, email=email),
        ],
        consents={"crm_contacts:1": True, "crm_contacts:2": True},
    )

    resolve_identities(con)

    anna = customer_of(con, "crm_contacts:1")
    assert customer_of(con, "email_activity:" + email) == anna
    assert customer_of(con, "crm_contacts:2") != anna


def test_two_subscribers_unnamed_stay_apart(build_warehouse, person_record):
    email = "familie.schmidt@web.de"
    household = {"last_name": "Schmidt", "email": email}
    con = build_warehouse(
        [
            person_record("crm_contacts", "1", first_name="Anna", **household),
            person_record("crm_contacts", "2", first_name="Markus", **household),
            person_record("email_activity", email, email=email),
            # A last name without a first name fits either person.
            person_record("shop_orders", "#1", **household),
        ],
        consents={"crm_contacts:1": True, "crm_contacts:2": True},
    )

    result = resolve_identities(con)

    assert result.customers == 4
    assert result.pairs_deterministic == 0


def test_last_name_only_record_not_given_to_subscriber(build_warehouse, person_record):
    email = "familie.schmidt@web.de"
    household = {"last_name": "Schmidt", "email": email}
    con = build_warehouse(
        [
            person_record("crm_contacts", "1", first_name="Anna", **household),
            person_record("crm_contacts", "2", first_name="Markus", **household),
            person_record("shop_orders", "#1", **household),
        ],
        consents={"crm_contacts:1": True},
    )

    resolve_identities(con)

    assert customer_of(con, "shop_orders:#1") != customer_of(con, "crm_contacts:1")
    assert customer_of(con, "shop_orders:#1") != customer_of(con, "crm_contacts:2")


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (("tina", "kaspar"), ("kaspra", "tnia")),
        # Seven letters allow one edit, nine allow two.
        (("ana", "webr"), ("weber", "anna")),
        (("anna", "weber"), ("weber", "anna")),
        (("maximilian", "schmidt"), ("schmitd", "maximilan")),
        (("pia", None), ("ipa", "berg")),
        (("le marec", "floor"), ("floor le", "marec")),
        (("anna", "weber"), ("markus", "weber")),
    ],
)
def test_first_names_compatible_is_symmetric(left, right):
    condition = first_names_compatible_sql("l", "r")
    with duckdb.connect() as con:
        forward, backward = con.execute(
            f"""
            select
                (select {condition} from (select ? as first_name, ? as last_name) as l,
                    (select ? as first_name, ? as last_name) as r),
                (select {condition} from (select ? as first_name, ? as last_name) as l,
                    (select ? as first_name, ? as last_name) as r)
            """,
            [*left, *right, *right, *left],
        ).fetchall()[0]

    assert forward == backward
