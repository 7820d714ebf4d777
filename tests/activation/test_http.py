"""The http destination against a real local server that misbehaves on purpose."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from activation.destinations import parse_destination
from activation.http_sync import RateLimiter, parse_retry_after
from activation.sync import sync_destination

NIGHT_1 = date(2026, 11, 30)
NIGHT_2 = date(2026, 12, 1)

EXTRA_CUSTOMERS = {
    "cus_h1": "h1@example.de",
    "cus_h2": "h2@example.de",
    "cus_h3": "h3@example.de",
    "cus_h4": "h4@example.de",
    "cus_h5": "reject.h5@example.de",
    "cus_h6": "h6@example.de",
    "cus_h7": "poison.h7@example.de",
    "cus_h8": "h8@example.de",
}


def http_destination(url: str, **settings):
    entry = {
        "name": "crm_webhook",
        "type": "http",
        "consent": "email",
        "mode": "diff",
        "segments": ["lapsed_buyers"],
        "fields": {"customer_id": "customer_id", "email": "email"},
        "http": {
            "url": url,
            "batch_size": 2,
            "requests_per_second": 500,
            "timeout_seconds": 0.3,
            "max_attempts": 4,
            "backoff_initial_seconds": 0.01,
            "backoff_max_seconds": 0.02,
            "max_retry_after_seconds": 2,
        }
        | settings,
    }
    return parse_destination(entry, Path("test.yml"))


def add_customers(con) -> None:
    for customer_id, email in EXTRA_CUSTOMERS.items():
        con.execute(
            "insert into marts.dim_customers (customer_id, email, country_code, "
            "has_email_consent, is_email_suppressed) values (?, ?, 'DE', true, false)",
            [customer_id, email],
        )
        con.execute(
            "insert into marts.segment_lapsed_buyers values (?, true, false)",
            [customer_id],
        )


def accepted_ids(con) -> set[str]:
    rows = con.execute(
        "select customer_id from activation.sync_changes where status = 'accepted'"
    ).fetchall()
    return {r[0] for r in rows}


def open_failures(con) -> dict[str, str]:
    rows = con.execute(
        "select customer_id, reason from activation.failed_rows "
        "where resolved_at is null"
    ).fetchall()
    return dict(rows)


def sent_keys(bodies: list[str]) -> list[str]:
    return [row["key"] for body in bodies for row in json.loads(body)["rows"]]


def test_faults_end_accepted_or_failed(con, tmp_path, audience_server):
    add_customers(con)
    server = audience_server(
        script=["429", "500", "slow", "ok", "drop", "ok", "500", "500", "500", "500"],
        retry_after="1",
        slow_seconds=0.5,
    )
    destination = http_destination(server.url)
    started = time.monotonic()

    sync_destination(con, destination, tmp_path, NIGHT_1)

    elapsed = time.monotonic() - started
    failures = open_failures(con)
    assert accepted_ids(con) == {"cus_a", "cus_f", "cus_h1", "cus_h2", "cus_h6"}
    assert failures == {
        "cus_h3": "HTTP 500 after 4 attempts",
        "cus_h4": "HTTP 500 after 4 attempts",
        "cus_h5": "invalid address",
        "cus_h7": 'HTTP 422: {"message": "batch contains an unreadable row"}',
        "cus_h8": 'HTTP 422: {"message": "batch contains an unreadable row"}',
    }
    assert set(server.applied.values()) == {1}
    assert {key for _, key in server.applied} == accepted_ids(con)
    (first_at, _), (second_at, _) = server.request_times[:2]
    assert second_at - first_at >= 0.95
    assert elapsed < 8


def test_retry_sends_only_failed_rows(con, tmp_path, audience_server):
    add_customers(con)
    server = audience_server(script=["500"] * 4)
    destination = http_destination(server.url)
    sync_destination(con, destination, tmp_path, NIGHT_1)
    first_batch = set(sent_keys(server.bodies[:1]))
    accepted_first = accepted_ids(con)
    requests_before = len(server.bodies)

    sync_destination(con, destination, tmp_path, NIGHT_1)

    resent = set(sent_keys(server.bodies[requests_before:]))
    assert first_batch == {"cus_a", "cus_f"}
    assert not resent & accepted_first
    assert resent == {"cus_a", "cus_f", "cus_h5", "cus_h7", "cus_h8"} - accepted_first
    assert set(server.applied.values()) == {1}
    # Batched apart from the poisoned row this time, cus_h8 goes through.
    assert set(open_failures(con)) == {"cus_h5", "cus_h7"}
    resolved = con.execute(
        "select distinct customer_id from activation.failed_rows "
        "where resolved_at is not null order by 1"
    ).fetchall()
    assert resolved == [("cus_a",), ("cus_f",), ("cus_h8",)]


def test_next_night_sends_nothing_new(con, tmp_path, audience_server):
    server = audience_server()
    destination = http_destination(server.url)
    sync_destination(con, destination, tmp_path, NIGHT_1)
    requests_before = len(server.bodies)

    sync_destination(con, destination, tmp_path, NIGHT_1)
    sync_destination(con, destination, tmp_path, NIGHT_2)

    assert len(server.bodies) == requests_before
    assert sorted(server.applied) == [("upsert", "cus_a"), ("upsert", "cus_f")]


def test_removal_sent_after_consent_withdrawn(con, tmp_path, audience_server):
    server = audience_server()
    destination = http_destination(server.url)
    sync_destination(con, destination, tmp_path, NIGHT_1)
    con.execute(
        "update marts.dim_customers set has_email_consent = false "
        "where customer_id = 'cus_a'"
    )

    sync_destination(con, destination, tmp_path, NIGHT_2)

    last = json.loads(server.bodies[-1])
    assert last["rows"] == [
        {
            "action": "remove",
            "key": "cus_a",
            "fields": {
                "customer_id": "cus_a",
                "email": "Anna.Schmidt+news@GoogleMail.com",
            },
        }
    ]


def test_retry_after_beyond_limit_fails_fast(con, tmp_path, audience_server):
    server = audience_server(script=["429"], retry_after="3600")
    destination = http_destination(server.url)
    started = time.monotonic()

    sync_destination(con, destination, tmp_path, NIGHT_1)

    assert time.monotonic() - started < 2
    reasons = set(open_failures(con).values())
    assert reasons == {
        "HTTP 429 with Retry-After 3600 s, more than max_retry_after_seconds (2 s)"
    }
    assert len(server.bodies) == 1


def test_retry_after_http_date_honoured(con, tmp_path, audience_server):
    when = datetime.now(UTC) + timedelta(seconds=3)
    server = audience_server(script=["429"], retry_after=format_datetime(when, True))
    destination = http_destination(server.url, max_retry_after_seconds=5)

    sync_destination(con, destination, tmp_path, NIGHT_1)

    # The header carries whole seconds; the retry must not come before that time.
    due = when.replace(microsecond=0).timestamp()
    assert len(server.request_clock) >= 2
    assert server.request_clock[1] + 0.05 >= due
    assert accepted_ids(con) == {"cus_a", "cus_f"}


def test_parse_retry_after_forms():
    now = datetime(2026, 11, 30, 2, 0, 0, tzinfo=UTC)

    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Mon, 30 Nov 2026 02:00:30 GMT", now) == 30.0
    assert parse_retry_after("Mon, 30 Nov 2026 01:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_rate_limiter_spaces_requests():
    clock = [0.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(4, clock=lambda: clock[0], sleep=sleep)
    for _ in range(3):
        limiter.wait()

    assert sleeps == [0.25, 0.25]
