"""Sync one destination: plan each segment, deliver, then record the receipts.

Modes:

- ``full``: every consented member, every time. People who left are not sent; the
  destination replaces the audience with the file.
- ``diff``: only additions and changes since the last sync, plus removals.
- ``mirror``: every consented member, plus removals of people this destination
  was sent before and who left.

A removal is the only output that names a person without consent, because the
destination must drop them. It carries only the values sent to that destination
before. Every row ends written, accepted, or in ``activation.failed_rows`` with a
reason. A failed row stays out of the snapshot, so the next sync sends it again.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from activation import sync_log
from activation.destinations import Destination
from activation.export import (
    ExportedFile,
    make_private_folders,
    model_version_label,
    write_manifest,
    write_segment_file,
)
from activation.plan import Change, SyncPlan, build_plan, describe_base
from activation.sync_log import OUTCOME_SCHEMA

logger = logging.getLogger(__name__)


# Outcomes that follow from the plan alone, in the order they are logged: rows
# written to files (when $writes_files), removals settled without sending, and
# members the destination would reject.
PLANNED_OUTCOMES_QUERY = """
select customer_id, action, record_hash, status, reason
from (
    select
        customer_id,
        action,
        record_hash,
        'written' as status,
        reason,
        case when action = 'remove' then 1 else 0 end as part,
        position
    from activation_changes
    where $writes_files and (
        list_contains($upsert_actions, action)
        or (action = 'remove' and not $full_mode and not is_removal_skipped)
    )

    union all

    select
        customer_id,
        action,
        record_hash,
        case when $full_mode then 'omitted' else 'skipped' end as status,
        case
            when $full_mode then 'full mode sends the whole audience instead'
            else 'key still in the audience (' || coalesce(reason, 'kept') || ')'
        end as reason,
        2 as part,
        position
    from activation_changes
    where action = 'remove' and ($full_mode or is_removal_skipped)

    union all

    select customer_id, action, '' as record_hash, 'failed' as status, reason,
        3 as part, position
    from activation_invalid
)
order by part, customer_id, position
"""

SNAPSHOT_COLUMNS = ["customer_id", "match_key", "record_hash", "payload"]


@dataclass
class SegmentResult:
    segment: str
    plan: SyncPlan
    # One row per person settled by this attempt, in OUTCOME_SCHEMA.
    outcomes: pa.Table = field(default_factory=OUTCOME_SCHEMA.empty_table)
    files: list[ExportedFile] = field(default_factory=list)
    # Rows delivered by this attempt: written to a file or accepted over HTTP,
    # leaving out what an earlier attempt of the run date settled.
    rows_sent: int = 0
    # On a rerun of a file destination: whether every file has the sha256 that
    # the earlier attempt recorded. None on a first attempt and for http.
    files_unchanged: bool | None = None

    @property
    def failures(self) -> pa.Table:
        return self.outcomes.filter(pc.equal(self.outcomes["status"], "failed"))

    def describe(self) -> str:
        """Return the log line of this segment's sync, with counts.

        A first attempt counts against the base snapshot. A rerun of the run date
        counts against its earlier attempt, because the base counts repeat what
        that attempt sent. It also reports whether the files were replaced with
        the same bytes, or how many rows went out again over HTTP.
        """
        plan = self.plan
        destination = plan.destination
        counts = self.summary()
        head = (
            f"{destination.name}/{self.segment} ({destination.type}, "
            f"{destination.mode} mode)"
        )
        members = f"{counts['rows_total']} members"
        failed = f"{counts['rows_failed']} failed"
        base_counts = (
            f"{counts['rows_added']} added, {counts['rows_changed']} changed, "
            f"{counts['rows_removed']} removed"
        )
        if not plan.is_rerun:
            return (
                f"{head}: {members}, {base_counts} against {describe_base(plan)}, "
                f"{failed}"
            )

        since = plan.changes_since_earlier_attempt()
        text = (
            f"{head}: rerun of run date {plan.run_date}, {members}; since the "
            f"earlier attempt {since['added']} added, {since['changed']} changed, "
            f"{since['removed']} removed, {failed}"
        )
        if self.files_unchanged is True:
            delivery = "the files replace the earlier attempt's with the same bytes"
        elif self.files_unchanged is False:
            delivery = "the files replace the earlier attempt's"
        else:
            delivery = (
                f"{self.rows_sent} rows sent that the earlier attempt had not settled"
            )
        return f"{text}; {delivery}; against {describe_base(plan)}: {base_counts}"

    def summary(self) -> dict:
        plan = self.plan
        return {
            "segment": self.segment,
            "base_run_date": plan.base_run_date.isoformat()
            if plan.base_run_date
            else None,
            "rows_total": len(plan.audience),
            "rows_added": plan.count("add"),
            "rows_changed": plan.count("change"),
            "rows_removed": plan.count("remove"),
            "rows_unchanged": plan.count("unchanged"),
            "rows_failed": len(self.failures),
        }


@dataclass
class SyncResult:
    destination: Destination
    folder: Path | None
    segments: list[SegmentResult]

    @property
    def files(self) -> list[ExportedFile]:
        return [f for s in self.segments for f in s.files]


def _planned_outcomes(con, plan: SyncPlan, writes_files: bool) -> pa.Table:
    """Run PLANNED_OUTCOMES_QUERY on the plan's changes and invalid members."""
    mode = plan.destination.mode
    with sync_log.registered(
        con, activation_changes=plan.changes, activation_invalid=plan.invalid
    ):
        table = con.sql(
            PLANNED_OUTCOMES_QUERY,
            params={
                "writes_files": writes_files,
                "upsert_actions": plan.upsert_actions,
                "full_mode": mode == "full",
            },
        ).to_arrow_table()
    return table.cast(OUTCOME_SCHEMA)


def _write_files(con, folder: Path, plan: SyncPlan) -> SegmentResult:
    destination = plan.destination
    result = SegmentResult(plan.segment, plan)
    result.files.append(
        write_segment_file(
            folder, destination, plan.segment, "upsert", plan.upsert_values()
        )
    )
    if destination.mode != "full":
        rows = [c.values for c in plan.removals]
        result.files.append(
            write_segment_file(folder, destination, plan.segment, "remove", rows)
        )
    # Unchanged rows count as written but are not logged per row (see
    # sync_log.record_changes).
    result.outcomes = _planned_outcomes(con, plan, writes_files=True)
    return result


def _http_row(destination: Destination, change: Change, action: str) -> dict:
    row = {
        "action": action,
        "key": change.key,
        "fields": dict(zip(destination.fields, change.values, strict=True)),
    }
    if action == "upsert" and change.previous_key is not None:
        row["previous_key"] = change.previous_key
    return row


def _send_http(con, plan: SyncPlan, sender) -> SegmentResult:
    destination = plan.destination
    items = [(c, "remove") for c in plan.removals if not c.rekey]
    items += [(c, "upsert") for c in plan.upserts]

    # Rows settled by an earlier attempt of this run date get no outcome: they are
    # neither sent nor logged again, and the snapshot keeps them as sent.
    settled = sync_log.settled_changes(
        con, destination.name, plan.segment, plan.run_date
    )
    pending = [
        (c, op)
        for c, op in items
        if (c.customer_id, c.action, c.record_hash) not in settled
    ]

    header = {
        "destination": destination.name,
        "segment": plan.segment,
        "run_date": plan.run_date.isoformat(),
        "mode": destination.mode,
    }
    rows = [_http_row(destination, c, op) for c, op in pending]
    # NOTE: outcomes reach the warehouse only after the last batch. If the process
    # dies mid-send, the next sync sends the accepted batches again, and only a
    # receiver that keeps Idempotency-Keys can drop the repeats.
    results = sender.send(header, rows)

    columns: dict[str, list] = {name: [] for name in OUTCOME_SCHEMA.names}
    for (change, _), row_result in zip(pending, results, strict=True):
        columns["customer_id"].append(change.customer_id)
        columns["action"].append(change.action)
        columns["record_hash"].append(change.record_hash)
        columns["status"].append("accepted" if row_result.accepted else "failed")
        columns["reason"].append(
            change.reason if row_result.accepted else row_result.reason
        )
    result = SegmentResult(plan.segment, plan)
    result.outcomes = pa.concat_tables(
        [
            pa.table(columns, schema=OUTCOME_SCHEMA),
            _planned_outcomes(con, plan, writes_files=False),
        ]
    )
    return result


def snapshot_rows(con, result: SegmentResult) -> pa.Table:
    """Return the rows the destination has after this sync. A failed row keeps the
    row the destination had before, if any. Call it before the snapshot of the
    run date is replaced."""
    plan = result.plan
    failed_ids = pc.unique(result.failures["customer_id"])
    rows = plan.audience.rows
    current = rows.filter(pc.invert(pc.is_in(rows["customer_id"], failed_ids)))
    current = current.select(SNAPSHOT_COLUMNS)
    if len(failed_ids) == 0:
        return current
    previous = plan.sent_rows(con, failed_ids)
    return pa.concat_tables([current, previous.cast(current.schema)])


def _record(con, result: SegmentResult, sync_id: str, started_at: datetime) -> None:
    """Write the receipts of one segment in one transaction and set
    ``result.rows_sent``.

    A rerun of the run date rewrites or skips what an earlier attempt settled,
    so rows that attempt settled are neither logged nor counted as sent again.
    """
    plan = result.plan
    destination = plan.destination
    failures = result.failures
    sent = sync_log.count_sent(
        con, destination.name, plan.segment, plan.run_date, result.outcomes
    )
    snapshot = snapshot_rows(con, result)
    summary = result.summary()
    con.execute("begin transaction")
    try:
        sync_log.record_changes(
            con,
            sync_id,
            destination.name,
            plan.segment,
            plan.run_date,
            result.outcomes,
            log_unchanged=destination.type == "http",
        )
        sync_log.record_failures(
            con, sync_id, destination.name, plan.segment, plan.run_date, failures
        )
        sync_log.write_snapshot(
            con, destination.name, plan.segment, plan.run_date, snapshot
        )
        sync_log.record_run(
            con,
            {
                "sync_id": sync_id,
                "destination": destination.name,
                "destination_type": destination.type,
                "segment": plan.segment,
                "mode": destination.mode,
                "run_date": plan.run_date,
                "base_run_date": plan.base_run_date,
                "status": "partial" if len(failures) else "succeeded",
                "rows_total": summary["rows_total"],
                "rows_added": summary["rows_added"],
                "rows_changed": summary["rows_changed"],
                "rows_removed": summary["rows_removed"],
                "rows_unchanged": summary["rows_unchanged"],
                "rows_sent": sent,
                "rows_failed": len(failures),
                "model_version": model_version_label(),
                "started_at": started_at,
                "finished_at": _utc_now(),
            },
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    result.rows_sent = sent


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def plan_destination(
    con: duckdb.DuckDBPyConnection, destination: Destination, run_date: date
) -> list[SyncPlan]:
    """Plan every segment of a destination without writing anything."""
    return [build_plan(con, destination, s, run_date) for s in destination.segments]


def sync_destination(
    con: duckdb.DuckDBPyConnection,
    destination: Destination,
    outbox: Path,
    run_date: date,
    sender=None,
) -> SyncResult:
    """Deliver every segment of one destination and record the receipts.

    File destinations write to ``outbox/<destination>/<run date>/``; ``http``
    destinations POST their rows and write only the manifest there. ``sender``
    replaces the HTTP sender, for tests that point it at a local server.
    """
    started_at = _utc_now()
    sync_log.ensure_tables(con)
    plans = plan_destination(con, destination, run_date)
    folder = outbox / destination.name / run_date.isoformat()
    make_private_folders(outbox, folder)

    if destination.writes_files:
        results = [_write_files(con, folder, plan) for plan in plans]
    else:
        results = _sync_http(con, plans, sender)

    write_manifest(
        folder,
        destination,
        run_date,
        [r.summary() for r in results],
        [f for r in results for f in r.files],
    )
    for result in results:
        _record(con, result, uuid.uuid4().hex, started_at)
    if destination.writes_files:
        _compare_with_earlier_files(con, destination, run_date, results)
        sync_log.record_exports(
            con, destination.name, run_date, [f for r in results for f in r.files]
        )
    for result in results:
        logger.info(result.describe())
    return SyncResult(destination, folder, results)


def _compare_with_earlier_files(
    con, destination: Destination, run_date: date, results: list[SegmentResult]
) -> None:
    """Set ``files_unchanged`` of each rerun segment from the sha256 that the
    earlier attempt of the run date recorded in ``activation.exports``."""
    earlier = sync_log.exported_sha256(con, destination.name, run_date)
    for result in results:
        if result.plan.is_rerun:
            result.files_unchanged = all(
                earlier.get(f.file) == f.sha256 for f in result.files
            )


def _sync_http(con, plans: list[SyncPlan], sender) -> list[SegmentResult]:
    from activation.http_sync import HttpSender

    owned = sender is None
    sender = sender or HttpSender(plans[0].destination)
    try:
        return [_send_http(con, plan, sender) for plan in plans]
    finally:
        if owned:
            sender.close()
