"""Great Expectations suite tests on small pandas frames."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import weakref
from pathlib import Path

import pandas as pd
import pytest

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


def test_redelivered_web_message_only_warns():
    frame = pd.DataFrame(
        {
            "message_id": ["m-1", "m-1", "m-2"],
            "received_at": ["2026-11-29T10:00:00Z"] * 3,
        }
    )

    outcomes = outcomes_for_raw(frame, "web_events")

    failed = [o for o in outcomes if not o.success]
    assert [(o.expectation, o.column) for o in failed] == [
        ("expect_column_values_to_be_unique", "message_id")
    ]
    assert failed[0].severity == "warning"


def test_few_missing_emails_only_warn():
    emails = ["a@x.de"] * 8 + [None] * 2
    frame = pd.DataFrame({"record_id": [str(i) for i in range(10)], "email": emails})

    outcomes = outcomes_for_raw(frame, "crm_contacts")

    failed = [o for o in outcomes if not o.success]
    assert [o.severity for o in failed] == ["warning"]


def failed_checks(frame: pd.DataFrame, model: str) -> list[tuple[str, str, str]]:
    return [
        (o.expectation, o.column, o.severity)
        for o in validate_frame(frame, model)
        if not o.success
    ]


def orders_frame(**columns) -> pd.DataFrame:
    return pd.DataFrame(
        {"order_id": ["#1001", "#1002", "#1003"], "total": [10.0, 0.0, 99.5]} | columns
    )


def test_validated_frame_is_released():
    frame = pd.DataFrame({"order_id": ["o1", "o2"], "total": [1.0, 2.0]})
    released = weakref.ref(frame)

    validate_frame(frame, "stg_shop__orders")
    del frame
    gc.collect()

    assert released() is None


def test_clean_staging_orders_pass():
    assert failed_checks(orders_frame(), "stg_shop__orders") == []


def test_negative_order_total_fails_critically():
    frame = orders_frame(total=[10.0, -5.0, 99.5])

    failed = failed_checks(frame, "stg_shop__orders")

    assert failed == [("expect_column_values_to_be_between", "total", "critical")]


def test_missing_order_id_fails_critically():
    frame = orders_frame(order_id=["#1001", None, "#1003"])

    failed = failed_checks(frame, "stg_shop__orders")

    assert failed == [("expect_column_values_to_not_be_null", "order_id", "critical")]


def test_duplicate_contact_id_fails_critically():
    frame = pd.DataFrame(
        {"contact_id": ["c1", "c1", "c2"], "email": ["a@x.de", "b@x.de", "c@x.de"]}
    )

    failed = failed_checks(frame, "stg_crm__contacts")

    assert failed == [("expect_column_values_to_be_unique", "contact_id", "critical")]


def test_empty_staging_model_fails_critically():
    frame = pd.DataFrame({"event_id": [], "occurred_at": []}, dtype="object")

    failed = failed_checks(frame, "stg_web__events")

    assert failed == [("expect_table_row_count_to_be_between", None, "critical")]


def test_few_events_without_time_only_warn():
    times = [pd.Timestamp("2026-11-30 10:00")] * 95 + [None] * 5
    frame = pd.DataFrame(
        {"event_id": [f"e{i}" for i in range(100)], "occurred_at": times}
    )

    outcomes = validate_frame(frame, "stg_web__events")

    failed = [o for o in outcomes if not o.success]
    assert [(o.column, o.severity) for o in failed] == [("occurred_at", "warning")]
    assert failed[0].unexpected_count == 5
    assert failed[0].unexpected_percent == pytest.approx(5.0)
    assert failed[0].mostly == 0.99


def test_many_events_without_time_fail_critically():
    times = [pd.Timestamp("2026-11-30 10:00")] * 80 + [None] * 20
    frame = pd.DataFrame(
        {"event_id": [f"e{i}" for i in range(100)], "occurred_at": times}
    )

    failed = failed_checks(frame, "stg_web__events")

    assert ("expect_column_values_to_not_be_null", "occurred_at", "critical") in failed


def test_inline_program_survives_import():
    # With pyspark installed, importing Great Expectations from `python -c` code
    # used to end the program with exit code 0 before its first statement ran.
    project_root = Path(__file__).resolve().parents[2]
    completed = subprocess.run(
        [sys.executable, "-c", "import ingestion.quality; print('still running')"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=project_root,
        env=os.environ | {"PYTHONPATH": str(project_root)},
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "still running"
