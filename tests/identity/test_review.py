"""Review decisions override Splink on the next run; uncertain pairs are queued."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from identity.resolve import resolve_identities


@pytest.fixture
def records(person_record):
    """Katharina twice with a typo (a Splink pair), Markus and Jürgen with one
    shared email, and Jürgen's landline record without identifiers."""
    katharina = {
        "first_name": "Katharina",
        "birth_date": date(1984, 3, 12),
        "street": "Lindenstraße 12",
        "postal_code": "04109",
        "city": "Leipzig",
    }
    return [
        person_record("crm", "1", last_name="Schmidt", email="k.s@web.de", **katharina),
        person_record(
            "crm", "2", last_name="Schmitd", email="kathi@gmx.de", **katharina
        ),
        person_record(
            "crm", "3", first_name="Markus", last_name="Weber", email="mw@t-online.de"
        ),
        person_record(
            "shop", "3", first_name="Markus", last_name="Weber", email="mw@t-online.de"
        ),
        person_record(
            "crm",
            "4",
            first_name="Jürgen",
            last_name="Weiß",
            birth_date=date(1961, 7, 30),
            city="München",
        ),
    ]


def write_decisions(con, rows):
    con.execute("create schema if not exists identity")
    con.execute("""
        create or replace table identity.review_decisions (
            left_record_key varchar, right_record_key varchar, decision varchar,
            reviewer varchar, decided_at timestamp
        )
    """)
    con.executemany(
        "insert into identity.review_decisions values (?, ?, ?, 'reviewer', ?)", rows
    )


def customers(con) -> dict[str, str]:
    return dict(
        con.execute(
            "select record_key, customer_id from identity.record_customers"
        ).fetchall()
    )


def test_no_match_removes_splink_pair(build_warehouse, records):
    con = build_warehouse(records)
    resolve_identities(con)
    assert customers(con)["crm:1"] == customers(con)["crm:2"]

    write_decisions(con, [("crm:2", "crm:1", "no match", datetime(2026, 12, 1))])
    resolve_identities(con)

    assert customers(con)["crm:1"] != customers(con)["crm:2"]
    link_types = con.execute(
        "select link_type from identity.match_pairs "
        "where record_key_l = 'crm:1' and record_key_r = 'crm:2'"
    ).fetchall()
    assert link_types == []


def test_match_forces_pair_into_cluster(build_warehouse, records):
    con = build_warehouse(records)
    write_decisions(con, [("crm:3", "crm:4", "match", datetime(2026, 12, 1))])

    resolve_identities(con)

    assert customers(con)["crm:3"] == customers(con)["crm:4"]
    assert customers(con)["shop:3"] == customers(con)["crm:4"]
    link_types = con.execute(
        "select link_type from identity.match_pairs "
        "where record_key_l = 'crm:3' and record_key_r = 'crm:4'"
    ).fetchall()
    assert link_types == [("review:match",)]


def test_latest_decision_wins(build_warehouse, records):
    con = build_warehouse(records)
    write_decisions(
        con,
        [
            ("crm:3", "crm:4", "match", datetime(2026, 12, 1)),
            ("crm:4", "crm:3", "no match", datetime(2026, 12, 2)),
        ],
    )

    resolve_identities(con)

    assert customers(con)["crm:3"] != customers(con)["crm:4"]


def test_rejected_identifier_pair_is_reported(build_warehouse, records, caplog):
    con = build_warehouse(records)
    write_decisions(con, [("crm:3", "shop:3", "no match", datetime(2026, 12, 1))])

    resolve_identities(con)

    assert customers(con)["crm:3"] == customers(con)["shop:3"]
    queued = con.execute(
        "select left_record_key, right_record_key from identity.review_queue "
        "where reason = 'rejected_pair_still_linked'"
    ).fetchall()
    assert queued == [("crm:3", "shop:3")]
    assert "still share a customer" in caplog.text


def test_invalid_decision_is_rejected(build_warehouse, records):
    con = build_warehouse(records)
    write_decisions(con, [("crm:3", "crm:4", "maybe", datetime(2026, 12, 1))])

    with pytest.raises(ValueError, match="maybe"):
        resolve_identities(con)


def test_uncertain_pairs_are_queued_with_masked_evidence(build_warehouse, records):
    con = build_warehouse(records)
    resolve_identities(con)
    probability = con.execute(
        "select match_probability from identity.splink_pair_scores "
        "where record_key_l = 'crm:1' and record_key_r = 'crm:2'"
    ).fetchall()[0][0]
    threshold = probability + (1 - probability) / 2

    resolve_identities(con, threshold=threshold)

    rows = con.execute(
        "select left_record_key, right_record_key, match_probability, reason, "
        "evidence from identity.review_queue"
    ).fetchall()
    assert ("crm:1", "crm:2") in {row[:2] for row in rows}
    assert customers(con)["crm:1"] != customers(con)["crm:2"]
    for _, _, queued_probability, reason, evidence in rows:
        assert reason == "uncertain"
        assert 0.5 <= queued_probability < threshold
        assert "first_name level" in evidence
        assert "katharina" not in evidence.lower()
        assert "schmi" not in evidence.lower()
