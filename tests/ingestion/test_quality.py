"""Great Expectations suite tests on small pandas frames."""

from __future__ import annotations

import pandas as pd

from ingestion.quality import validate_frame


def outcomes_by_check(frame: pd.DataFrame) -> dict[tuple[str, str], bool]:
    return {
        (o.expectation, o.column): o.success
        for o in validate_frame(frame, "dim_customers")
    }


def test_clean_customers_pass():
    frame = pd.DataFrame(
        {
            "customer_id": ["cus_1", "cus_2"],
            "email": ["anna@example.de", None],
            "phone": ["+4930123456", None],
            "has_email_consent": [True, False],
        }
    )

    assert all(outcomes_by_check(frame).values())


def test_duplicate_id_and_bad_contacts_fail():
    frame = pd.DataFrame(
        {
            "customer_id": ["cus_1", "cus_1"],
            "email": ["anna@example.de", "not-an-email"],
            "phone": ["030 123456", None],
            "has_email_consent": [True, None],
        }
    )

    outcomes = outcomes_by_check(frame)

    assert not outcomes[("expect_column_values_to_be_unique", "customer_id")]
    assert not outcomes[("expect_column_values_to_match_regex", "email")]
    assert not outcomes[("expect_column_values_to_match_regex", "phone")]
    assert not outcomes[("expect_column_values_to_not_be_null", "has_email_consent")]


def outcomes_for_raw(frame: pd.DataFrame, source: str) -> list:
    return validate_frame(frame, f"raw_{source}")


def test_empty_extract_fails_critically():
    frame = pd.DataFrame({"record_id": [], "email": []}, dtype="object")

    outcomes = outcomes_for_raw(frame, "crm_contacts")

    failed = [o for o in outcomes if not o.success]
    assert [o.expectation for o in failed] == ["expect_table_row_count_to_be_between"]
    assert failed[0].severity == "critical"


def test_duplicate_key_fails_critically():
    frame = pd.DataFrame({"record_id": ["1", "1", "2"], "email": ["a@x.de"] * 3})

    outcomes = outcomes_for_raw(frame, "crm_contacts")

    unique = [o for o in outcomes if o.expectation.endswith("to_be_unique")]
    assert not unique[0].success
    assert unique[0].severity == "critical"


def test_few_missing_emails_only_warn():
    emails = ["a@x.de"] * 8 + [None] * 2
    frame = pd.DataFrame({"record_id": [str(i) for i in range(10)], "email": emails})

    outcomes = outcomes_for_raw(frame, "crm_contacts")

    failed = [o for o in outcomes if not o.success]
    assert [o.severity for o in failed] == ["warning"]
