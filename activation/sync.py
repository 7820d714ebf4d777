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

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

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

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    customer_id: str
    action: str
    record_hash: str
    status: str
    reason: str | None = None


@dataclass
class SegmentResult:
    segment: str
    plan: SyncPlan
    outcomes: list[Outcome] = field(default_factory=list)
    files: list[ExportedFile] = field(default_factory=list)
    # Rows delivered by this attempt: written to a file or accepted over HTTP,
    # leaving out what an earlier attempt of the run date settled.
    rows_sent: int = 0
    # On a rerun of a file destination: whether every file has the sha256 that
    # the earlier attempt recorded. None on a first attempt and for http.
    files_unchanged: bool | None = None

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

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
            "rows_total": len(plan.rows),
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


def _unsent_outcomes(plan: SyncPlan) -> list[Outcome]:
    """Outcomes of rows that are settled without sending anything."""
    outcomes = []
    for change in plan.changes:
        if change.action != "remove":
            continue
        if plan.destination.mode == "full":
            status, reason = "omitted", "full mode sends the whole audience instead"
        elif plan.skips(change):
            status = "skipped"
            reason = f"key still in the audience ({change.reason or 'kept'})"
        else:
            continue
        outcomes.append(
            Outcome(change.customer_id, "remove", change.record_hash, status, reason)
        )
    for row in plan.invalid:
        action = "change" if row.customer_id in plan.base else "add"
        outcomes.append(Outcome(row.customer_id, action, "", "failed", row.reason))
    return outcomes


def _write_files(folder: Path, plan: SyncPlan) -> SegmentResult:
    destination = plan.destination
    result = SegmentResult(plan.segment, plan)
    upserts = plan.upserts
    result.files.append(
        write_segment_file(
            folder, destination, plan.segment, "upsert", [c.values for c in upserts]
        )
    )
    removals = plan.removals
    if destination.mode != "full":
        rows = [c.values for c in removals]
        result.files.append(
            write_segment_file(folder, destination, plan.segment, "remove", rows)
        )
    # Unchanged rows count as written but are not logged per row (see _record).
    delivered = upserts + [c for c in removals if not c.rekey]
    result.outcomes = [
        Outcome(c.customer_id, c.action, c.record_hash, "written", c.reason)
        for c in delivered
    ]
    result.outcomes += _unsent_outcomes(plan)
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

    result = SegmentResult(plan.segment, plan)
    for (change, _), row_result in zip(pending, results, strict=True):
        status = "accepted" if row_result.accepted else "failed"
        reason = change.reason if row_result.accepted else row_result.reason
        result.outcomes.append(
            Outcome(
                change.customer_id, change.action, change.record_hash, status, reason
            )
        )
    result.outcomes += _unsent_outcomes(plan)
    return result


def snapshot_rows(result: SegmentResult) -> list[tuple]:
    """Return the rows the destination has after this sync. A failed row keeps its
    row from the base snapshot."""
    plan = result.plan
    failed = {(o.customer_id, o.action) for o in result.failures}
    rows = []
    for change in plan.changes:
        if change.action == "remove":
            keep_base = (change.customer_id, "remove") in failed
        elif (change.customer_id, change.action) in failed:
            keep_base = True
        else:
            rows.append(
                (
                    change.customer_id,
                    change.key,
                    change.record_hash,
                    json.dumps(list(change.values), ensure_ascii=False),
                )
            )
            continue
        if keep_base and change.customer_id in plan.base:
            rows.append((change.customer_id, *plan.base[change.customer_id]))
    for row in plan.invalid:
        if row.customer_id in plan.base:
            rows.append((row.customer_id, *plan.base[row.customer_id]))
    return rows


def _record(con, result: SegmentResult, sync_id: str, started_at: datetime) -> None:
    """Write the receipts of one segment in one transaction and set
    ``result.rows_sent``."""
    plan = result.plan
    destination = plan.destination
    settled = sync_log.settled_changes(
        con, destination.name, plan.segment, plan.run_date
    )
    logged = [
        o
        for o in result.outcomes
        if (o.action != "unchanged" or destination.type == "http")
        and (o.customer_id, o.action, o.record_hash) not in settled
    ]
    failures = [(o.customer_id, o.action, o.reason) for o in result.failures]
    # A rerun of the run date rewrites or skips what an earlier attempt settled.
    sent = [
        o
        for o in result.outcomes
        if o.status in ("written", "accepted")
        and (o.customer_id, o.action, o.record_hash) not in settled
    ]
    summary = result.summary()
    con.execute("begin transaction")
    try:
        sync_log.record_changes(
            con,
            sync_id,
            destination.name,
            plan.segment,
            plan.run_date,
            [
                (o.customer_id, o.action, o.record_hash, o.status, o.reason)
                for o in logged
            ],
        )
        sync_log.record_failures(
            con, sync_id, destination.name, plan.segment, plan.run_date, failures
        )
        sync_log.write_snapshot(
            con, destination.name, plan.segment, plan.run_date, snapshot_rows(result)
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
                "status": "partial" if failures else "succeeded",
                "rows_total": summary["rows_total"],
                "rows_added": summary["rows_added"],
                "rows_changed": summary["rows_changed"],
                "rows_removed": summary["rows_removed"],
                "rows_unchanged": summary["rows_unchanged"],
                "rows_sent": len(sent),
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
    result.rows_sent = len(sent)


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
        results = [_write_files(folder, plan) for plan in plans]
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
