"""explain_customer and its command line on a resolved warehouse."""

from __future__ import annotations

import json
import math
from datetime import date

import pytest

from identity.explain import explain_customer, main, mask_value, masked_record_key
from identity.resolve import resolve_identities
from identity.splink_model import DEFAULT_MODEL_PATH


@pytest.fixture
def resolved(build_warehouse, person_record, tmp_path):
    """Katharina three times: two records share an email, a third has a typo."""
    katharina = {
        "first_name": "Katharina",
        "birth_date": date(1984, 3, 12),
        "street": "Lindenstraße 12",
        "postal_code": "04109",
        "city": "Leipzig",
    }
    con = build_warehouse(
        [
            person_record(
                "crm", "1", last_name="Schmidt", email="k.s@web.de", **katharina
            ),
            person_record(
                "shop", "1", last_name="Schmidt", email="k.s@web.de", **katharina
            ),
            person_record(
                "crm", "2", last_name="Schmitd", email="kathi@gmx.de", **katharina
            ),
        ]
    )
    resolve_identities(con)
    customer_id = con.execute(
        "select customer_id from identity.record_customers where record_key = 'crm:1'"
    ).fetchall()[0][0]
    return con, customer_id


def test_mask_value_hides_identifiers():
    assert mask_value("email", "jane.doe@example.com") == "j***@example.com"
    assert mask_value("phone", "+49 170 1234567") == "***67"
    assert mask_value("name", "Katharina") == "K***"
    assert mask_value("email", None) is None


def test_email_record_key_masked():
    assert masked_record_key("email_activity:jane.doe@example.com") == (
        "email_activity:j***@example.com"
    )
    assert masked_record_key("crm_contacts:17") == "crm_contacts:17"


def test_explanation_lists_records_and_links(resolved):
    con, customer_id = resolved

    explanation = explain_customer(con, customer_id)

    assert [row[0] for row in explanation.records] == ["crm:1", "crm:2", "shop:1"]
    identifier_links = [
        link for link in explanation.links if link.link_type == "identifier:email"
    ]
    assert [(link.record_key_l, link.record_key_r) for link in identifier_links] == [
        ("crm:1", "shop:1")
    ]
    assert identifier_links[0].masked_value == "k***@web.de"


def test_splink_link_has_comparison_contributions(resolved):
    con, customer_id = resolved

    explanation = explain_customer(con, customer_id)

    splink_links = [link for link in explanation.links if link.link_type == "splink"]
    assert splink_links
    link = splink_links[0]
    by_name = {item.comparison: item for item in link.comparisons}
    assert by_name["birth_date"].match_weight > 0
    assert by_name["first_name"].label == "Exact match on first_name"
    assert by_name["email"].match_weight < 0
    # A pair's match weight is the prior's weight plus every comparison's weight.
    settings = json.loads(DEFAULT_MODEL_PATH.read_text(encoding="utf-8"))
    prior = settings["probability_two_random_records_match"]
    contributions = sum(item.match_weight for item in link.comparisons)
    assert contributions + math.log2(prior / (1 - prior)) == pytest.approx(
        link.match_weight
    )


def test_unknown_customer_raises(resolved):
    con, _ = resolved

    with pytest.raises(LookupError, match="cus_missing"):
        explain_customer(con, "cus_missing")


def test_command_line_prints_masked_tree(resolved, tmp_path, capsys):
    con, customer_id = resolved
    path = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchall()[0][0]
    con.close()

    exit_code = main(["--warehouse", path, customer_id])

    output = capsys.readouterr().out
    assert exit_code == 0
    assert customer_id in output
    assert "k***@web.de" in output
    assert "k.s@web.de" not in output
    assert "birth_date" in output
