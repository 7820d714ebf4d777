"""Work out what one sync of a destination and segment adds, changes and removes.

The plan compares the consented audience of today with the newest snapshot of what
the destination has from an earlier run date (``activation.audience_snapshots``).
A customer id that identity resolution merged into another one is no longer in
``dim_customers``, so it shows up as a removal and the surviving id as an addition
or a change. A removal whose destination key (an email address, say) is still held
by someone in today's audience is not sent, because sending it would remove that
person too.

A sync of a run date that was synced before (a rerun of the night) compares with
the same base, so it writes the same files. It also removes the people that the
earlier attempt sent and who are gone now, because the destination may already
have imported that attempt: for example a person erased on request between the
two attempts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import duckdb

from activation import sync_log
from activation.audience import (
    CONSENT_FILTERS,
    AudienceRow,
    InvalidRow,
    read_audience,
)
from activation.destinations import Destination

ACTION_ORDER = {"remove": 0, "change": 1, "add": 2, "unchanged": 3}


class SyncOrderError(RuntimeError):
    """A destination was already synced for a later run date than the one asked for."""


@dataclass(frozen=True)
class Change:
    """One person's action. A removal carries the key and values sent before."""

    customer_id: str
    action: str
    key: str
    values: tuple[str | None, ...]
    record_hash: str
    # A change whose key changed removes the previous key as well.
    previous_key: str | None = None
    previous_values: tuple[str | None, ...] | None = None
    reason: str | None = None
    # The removal of a changed key: written to removal files, but over HTTP the
    # upsert's previous_key carries it.
    rekey: bool = False


@dataclass
class SyncPlan:
    destination: Destination
    segment: str
    run_date: date
    base_run_date: date | None
    rows: list[AudienceRow]
    invalid: list[InvalidRow]
    changes: list[Change]
    # {customer_id: (match_key, record_hash, payload)} the destination may hold:
    # the base snapshot, overridden by an earlier attempt of this run date.
    base: dict = field(repr=False, default_factory=dict)
    # The snapshot an earlier attempt of this run date left, in the same shape,
    # or None when this run date was not synced before.
    earlier_attempt: dict | None = field(repr=False, default=None)
    # The newest sync of this destination and segment that finished, of any run
    # date, or None when there was none.
    last_sync: sync_log.LastSync | None = None

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def is_rerun(self) -> bool:
        """Return whether an earlier attempt synced this run date already."""
        return self.earlier_attempt is not None

    def changes_since_earlier_attempt(self) -> dict[str, int]:
        """Count today's members added or changed, and people gone, since the
        earlier attempt of this run date (all zero on a rerun that finds the
        audience as that attempt left it)."""
        earlier = self.earlier_attempt or {}
        added = sum(1 for row in self.rows if row.customer_id not in earlier)
        changed = sum(
            1
            for row in self.rows
            if row.customer_id in earlier
            and earlier[row.customer_id][1] != row.record_hash
        )
        present = {row.customer_id for row in self.rows}
        present |= {row.customer_id for row in self.invalid}
        removed = sum(1 for customer_id in earlier if customer_id not in present)
        return {"added": added, "changed": changed, "removed": removed}

    @property
    def upserts(self) -> list[Change]:
        """Rows to send as additions or updates: all of them unless in diff mode."""
        sent = {"add", "change"}
        if self.destination.mode != "diff":
            sent.add("unchanged")
        return [c for c in self.changes if c.action in sent]

    @property
    def removals(self) -> list[Change]:
        """Removals to send, plus the previous key of every change of key."""
        if self.destination.mode == "full":
            return []
        removed = [
            c for c in self.changes if c.action == "remove" and not self.skips(c)
        ]
        rekeyed = [
            Change(
                c.customer_id,
                "remove",
                c.previous_key,
                c.previous_values or (),
                c.record_hash,
                reason="key changed",
                rekey=True,
            )
            for c in self.changes
            if c.action == "change" and c.previous_key is not None
        ]
        rekeyed = [c for c in rekeyed if not self.skips(c)]
        return sorted(removed + rekeyed, key=lambda c: c.customer_id)

    def skips(self, change: Change) -> bool:
        """Return whether a removal is skipped because a current member has its key."""
        return change.action == "remove" and change.key in self._current_keys

    @cached_property
    def _current_keys(self) -> set[str]:
        return {row.key for row in self.rows}


def _diff(rows: list[AudienceRow], invalid: list[InvalidRow], base: dict, sent: dict):
    """Compare today's rows with ``base`` and return the changes and the ids of
    ``sent`` (everyone the destination may hold) who are no longer present."""
    changes = []
    for row in rows:
        previous = base.get(row.customer_id)
        if previous is None:
            action = "add"
        elif previous[1] != row.record_hash:
            action = "change"
        else:
            action = "unchanged"
        rekeyed = previous is not None and previous[0] != row.key
        changes.append(
            Change(
                row.customer_id,
                action,
                row.key,
                row.values,
                row.record_hash,
                previous_key=previous[0] if rekeyed else None,
                previous_values=tuple(json.loads(previous[2])) if rekeyed else None,
            )
        )
    present = {row.customer_id for row in rows} | {r.customer_id for r in invalid}
    removed = sorted(cid for cid in sent if cid not in present)
    return changes, removed


def build_plan(
    con: duckdb.DuckDBPyConnection,
    destination: Destination,
    segment: str,
    run_date: date,
) -> SyncPlan:
    """Read the audience and the base snapshot; write nothing."""
    latest = sync_log.latest_run_date(con, destination.name, segment)
    if latest is not None and latest > run_date:
        raise SyncOrderError(
            f"destination {destination.name}, segment {segment}: already synced for "
            f"{latest}, later than the run date {run_date}. Syncing an earlier night "
            "again would send stale changes; set CDP_RUN_DATE to "
            f"{latest} or later."
        )
    rows, invalid = read_audience(con, destination, segment)
    base_date = sync_log.base_run_date(con, destination.name, segment, run_date)
    base = sync_log.read_snapshot(con, destination.name, segment, base_date)
    # What an earlier attempt of this run date sent overrides the base: those are
    # the newest values the destination may hold.
    earlier_attempt = None
    if latest == run_date:
        earlier_attempt = sync_log.read_snapshot(
            con, destination.name, segment, run_date
        )
    sent = base | (earlier_attempt or {})

    changes, removed = _diff(rows, invalid, base, sent)
    reasons = sync_log.removal_reasons(
        con, removed, CONSENT_FILTERS[destination.consent]
    )
    for customer_id in removed:
        key, record_hash, payload = sent[customer_id]
        changes.append(
            Change(
                customer_id,
                "remove",
                key,
                tuple(json.loads(payload)),
                record_hash,
                reason=reasons.get(customer_id),
            )
        )
    changes.sort(key=lambda c: (c.customer_id, ACTION_ORDER[c.action]))
    return SyncPlan(
        destination,
        segment,
        run_date,
        base_date,
        rows,
        invalid,
        changes,
        sent,
        earlier_attempt,
        sync_log.last_sync(con, destination.name, segment),
    )


def describe_base(plan: SyncPlan) -> str:
    """Name the run date whose snapshot the plan's counts compare with."""
    if plan.base_run_date is None:
        return "no earlier night"
    return plan.base_run_date.isoformat()


def describe_last_sync(plan: SyncPlan) -> str:
    """Describe the newest finished sync: its UTC finish time, its run date, and
    whether some rows failed."""
    last = plan.last_sync
    if last is None:
        return "never"
    text = f"{last.finished_at:%Y-%m-%d %H:%M} UTC (run date {last.run_date})"
    if last.status != "succeeded":
        text += f", {last.status}"
    return text
