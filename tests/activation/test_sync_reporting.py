"""What a sync reports: its log line on a first attempt and on a rerun of the same
run date, and the last sync that the dry run shows. Real DuckDB, hand-made marts
(see conftest.py)."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from activation.plan import describe_base, describe_last_sync
from activation.sync import plan_destination, sync_destination
from tests.activation.test_export import MAILCHIMP, make_destination
from tests.activation.test_http import http_destination

NIGHT_1 = date(2026, 11, 30)
NIGHT_2 = date(2026, 12, 1)


def sync_log_lines(caplog, con, destination, outbox, run_date) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="activation.sync"):
        sync_destination(con, destination, outbox, run_date)
    return [r.getMessage() for r in caplog.records if r.name == "activation.sync"]


def test_first_sync_logs_counts_against_base(con, tmp_path, caplog):
    destination = make_destination(**MAILCHIMP)

    [line] = sync_log_lines(caplog, con, destination, tmp_path, NIGHT_1)

    assert line == (
        "mailchimp/lapsed_buyers (mailchimp, diff mode): 2 members, 2 added, "
        "0 changed, 0 removed against no earlier night, 0 failed"
    )


def test_rerun_logs_identical_files_not_additions(con, tmp_path, caplog):
    destination = make_destination(**MAILCHIMP)
    sync_destination(con, destination, tmp_path, NIGHT_1)

    [line] = sync_log_lines(caplog, con, destination, tmp_path, NIGHT_1)

    assert "rerun of run date 2026-11-30, 2 members" in line
    assert "since the earlier attempt 0 added, 0 changed, 0 removed" in line
    assert "replace the earlier attempt's with the same bytes" in line
    assert line.endswith("; against no earlier night: 2 added, 0 changed, 0 removed")


def test_rerun_logs_changes_since_earlier_attempt(con, tmp_path, caplog):
    destination = make_destination(mode="mirror")
    sync_destination(con, destination, tmp_path, NIGHT_1)
    sync_destination(con, destination, tmp_path, NIGHT_2)
    con.execute(
        "update marts.dim_customers set email = 'frida.neu@example.at' "
        "where customer_id = 'cus_f'"
    )
    con.execute("delete from marts.segment_lapsed_buyers where customer_id = 'cus_a'")

    [line] = sync_log_lines(caplog, con, destination, tmp_path, NIGHT_2)

    assert "rerun of run date 2026-12-01, 1 members" in line
    assert "since the earlier attempt 0 added, 1 changed, 1 removed" in line
    assert "; the files replace the earlier attempt's; against 2026-11-30: " in line
    assert "same bytes" not in line


def test_http_rerun_logs_rows_sent(con, tmp_path, caplog, audience_server):
    server = audience_server()
    destination = http_destination(server.url)
    sync_destination(con, destination, tmp_path, NIGHT_1)
    con.execute(
        "update marts.dim_customers set email = 'frida.neu@example.at' "
        "where customer_id = 'cus_f'"
    )

    [line] = sync_log_lines(caplog, con, destination, tmp_path, NIGHT_1)

    assert "rerun of run date 2026-11-30, 2 members" in line
    assert "since the earlier attempt 0 added, 1 changed, 0 removed" in line
    assert "; 1 rows sent that the earlier attempt had not settled;" in line


def test_last_sync_after_two_syncs_same_night(con, tmp_path):
    destination = make_destination(**MAILCHIMP)
    for _ in range(2):
        sync_destination(con, destination, tmp_path, NIGHT_1)
    finished_at = con.execute(
        "select max(finished_at) from activation.sync_runs where status = 'succeeded'"
    ).fetchone()[0]

    [plan] = plan_destination(con, destination, NIGHT_1)

    assert plan.base_run_date is None
    assert describe_base(plan) == "no earlier night"
    assert plan.last_sync is not None
    assert plan.last_sync.finished_at == finished_at
    assert plan.last_sync.run_date == NIGHT_1
    assert describe_last_sync(plan) == (
        f"{finished_at:%Y-%m-%d %H:%M} UTC (run date 2026-11-30)"
    )


def test_last_sync_never_before_first_sync(con):
    [plan] = plan_destination(con, make_destination(**MAILCHIMP), NIGHT_1)

    assert plan.last_sync is None
    assert describe_last_sync(plan) == "never"


def test_last_sync_marks_partial(con, tmp_path):
    destination = make_destination(**MAILCHIMP)
    # Mailchimp rejects this address, so the sync ends partial.
    con.execute(
        "update marts.dim_customers set email = 'jürgen@example.de' "
        "where customer_id = 'cus_f'"
    )
    sync_destination(con, destination, tmp_path, NIGHT_1)
    finished_at = con.execute(
        "select finished_at from activation.sync_runs where status = 'partial'"
    ).fetchone()[0]

    [plan] = plan_destination(con, destination, NIGHT_2)

    assert plan.base_run_date == NIGHT_1
    assert describe_base(plan) == "2026-11-30"
    assert describe_last_sync(plan) == (
        f"{finished_at:%Y-%m-%d %H:%M} UTC (run date 2026-11-30), partial"
    )


@pytest.mark.parametrize("run_date", [NIGHT_1, NIGHT_2])
def test_last_sync_names_newest_run_date(con, tmp_path, run_date):
    destination = make_destination(**MAILCHIMP)
    sync_destination(con, destination, tmp_path, NIGHT_1)
    sync_destination(con, destination, tmp_path, run_date)

    [plan] = plan_destination(con, destination, run_date)

    assert plan.last_sync.run_date == run_date
