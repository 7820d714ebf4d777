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

The comparison runs in DuckDB as joins between today's audience, registered as an
Arrow table, and the stored snapshots. Python objects are built only for the rows
that leave as removals or over HTTP.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from activation import sync_log
from activation.audience import (
    CONSENT_FILTERS,
    CUSTOMERS,
    Audience,
    read_audience,
    table_exists,
)
from activation.destinations import Destination

ACTION_ORDER = {"remove": 0, "change": 1, "add": 2, "unchanged": 3}

# Rows the destination may hold before this sync, which are the base snapshot
# overridden per person by an earlier attempt of this run date. $earlier_date is
# null when this run date was not synced before.
SENT_CTES = """
base as (
    select customer_id, match_key, record_hash, payload
    from {snapshots}
    where destination = $destination and segment = $segment
        and run_date = $base_date
),

earlier_attempt as (
    select customer_id, match_key, record_hash, payload
    from {snapshots}
    where destination = $destination and segment = $segment
        and run_date = $earlier_date
),

sent as (
    select * from earlier_attempt
    union all
    select * from base
    where customer_id not in (select customer_id from earlier_attempt)
)
"""

# One row per person: today's members against the base snapshot, then everyone
# the destination may hold who is gone today, with the reason.
CHANGES_QUERY = """
with
{sent_ctes},

today as (
    select
        a.customer_id,
        a.match_key,
        a.record_hash,
        a.position,
        b.match_key as base_key,
        b.record_hash as base_hash,
        b.payload as base_payload
    from activation_audience as a
    left join base as b on b.customer_id = a.customer_id
),

removed as (
    select * from sent
    where customer_id not in (select customer_id from activation_audience)
        and customer_id not in (select customer_id from activation_invalid)
),

changes as (
    select
        customer_id,
        case
            when base_hash is null then 'add'
            when base_hash <> record_hash then 'change'
            else 'unchanged'
        end as action,
        match_key,
        record_hash,
        position,
        null::varchar as payload,
        case when base_key <> match_key then base_key end as previous_key,
        case when base_key <> match_key then base_payload end as previous_payload,
        null::varchar as reason
    from today

    union all

    select
        r.customer_id,
        'remove' as action,
        r.match_key,
        r.record_hash,
        null::bigint as position,
        r.payload,
        null::varchar as previous_key,
        null::varchar as previous_payload,
        case
            when {merged_into} <> '' then 'merged into ' || {merged_into}
            when c.customer_id is null then 'no longer a known customer'
            when not coalesce({consent}, false) then 'no consent or suppressed'
            else 'left the segment'
        end as reason
    from removed as r
    left join {customers} as c on c.customer_id = r.customer_id
    {lookup_join}
)

select
    *,
    action = 'remove'
        and match_key in (select match_key from activation_audience)
        as is_removal_skipped,
    coalesce(previous_key in (select match_key from activation_audience), false)
        as is_rekey_removal_skipped
from changes
order by
    customer_id,
    case action
        when 'remove' then 0 when 'change' then 1 when 'add' then 2 else 3
    end
"""

# Members the destination would reject, as an addition or a change of what it has.
INVALID_QUERY = """
with
{sent_ctes}

select
    i.customer_id,
    case when s.customer_id is null then 'add' else 'change' end as action,
    i.reason,
    i.position
from activation_invalid as i
left join sent as s on s.customer_id = i.customer_id
order by i.position
"""

# Counts of a rerun against the earlier attempt of the same run date.
SINCE_EARLIER_ATTEMPT_QUERY = """
with
{sent_ctes}

select
    (
        select count(*) from activation_audience
        where customer_id not in (select customer_id from earlier_attempt)
    ) as added,
    (
        select count(*)
        from activation_audience as a
        join earlier_attempt as e on e.customer_id = a.customer_id
        where e.record_hash <> a.record_hash
    ) as changed,
    (
        select count(*) from earlier_attempt
        where customer_id not in (select customer_id from activation_audience)
            and customer_id not in (select customer_id from activation_invalid)
    ) as removed
"""

SENT_ROWS_QUERY = """
with
{sent_ctes}

select customer_id, match_key, record_hash, payload
from sent
where customer_id in (select customer_id from activation_requested_ids)
"""


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
    audience: Audience
    # One row per person, ordered by customer id, from CHANGES_QUERY.
    changes: pa.Table = field(repr=False)
    # Members the destination would reject: customer_id, action, reason and
    # position, in audience order.
    invalid: pa.Table = field(repr=False)
    # The run date itself when an earlier attempt synced it already, else None.
    earlier_run_date: date | None = None
    # Members added and changed, and people gone, since that earlier attempt.
    since_earlier_attempt: dict[str, int] | None = None
    # The newest sync of this destination and segment that finished, of any run
    # date, or None when there was none.
    last_sync: sync_log.LastSync | None = None
    counts: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        actions = pc.value_counts(self.changes["action"]).to_pylist()
        self.counts = {a["values"]: a["counts"] for a in actions}

    def count(self, action: str) -> int:
        return self.counts.get(action, 0)

    @property
    def is_rerun(self) -> bool:
        """Return whether an earlier attempt synced this run date already."""
        return self.earlier_run_date is not None

    def changes_since_earlier_attempt(self) -> dict[str, int]:
        """Count today's members added or changed, and people gone, since the
        earlier attempt of this run date (all zero on a rerun that finds the
        audience as that attempt left it)."""
        if self.since_earlier_attempt is None:
            return {"added": len(self.audience), "changed": 0, "removed": 0}
        return self.since_earlier_attempt

    @property
    def upsert_actions(self) -> list[str]:
        """Actions sent as additions or updates: all of them unless in diff mode."""
        actions = ["add", "change"]
        if self.destination.mode != "diff":
            actions.append("unchanged")
        return actions

    def upsert_values(self) -> list[tuple[str | None, ...]]:
        """Values of the upserts, in the order of ``upserts``, for files."""
        positions = self._upsert_rows().column("position").to_pylist()
        values = self.audience.values
        return [values[p] for p in positions]

    @property
    def upserts(self) -> list[Change]:
        """Rows to send as additions or updates: all of them unless in diff mode."""
        return self._to_changes(self._upsert_rows())

    @property
    def removals(self) -> list[Change]:
        """Removals to send, plus the previous key of every change of key."""
        if self.destination.mode == "full":
            return []
        table = self.changes
        removed = table.filter(
            pc.and_(
                pc.equal(table["action"], "remove"),
                pc.invert(table["is_removal_skipped"]),
            )
        )
        rekeyed = table.filter(
            pc.and_(
                pc.and_(
                    pc.equal(table["action"], "change"),
                    pc.is_valid(table["previous_key"]),
                ),
                pc.invert(table["is_rekey_removal_skipped"]),
            )
        )
        rekey_removals = [
            Change(
                c.customer_id,
                "remove",
                c.previous_key,
                c.previous_values or (),
                c.record_hash,
                reason="key changed",
                rekey=True,
            )
            for c in self._to_changes(rekeyed)
        ]
        return sorted(
            self._to_changes(removed) + rekey_removals, key=lambda c: c.customer_id
        )

    def _upsert_rows(self) -> pa.Table:
        sent = pa.array(self.upsert_actions, pa.string())
        return self.changes.filter(pc.is_in(self.changes["action"], value_set=sent))

    def _to_changes(self, table: pa.Table) -> list[Change]:
        """Build Change objects. A removal carries the values sent before."""
        columns = table.select(
            [
                "customer_id",
                "action",
                "match_key",
                "record_hash",
                "position",
                "payload",
                "previous_key",
                "previous_payload",
                "reason",
            ]
        ).to_pydict()
        values = self.audience.values
        changes = []
        for row in zip(*columns.values(), strict=True):
            customer_id, action, key, record_hash, position = row[:5]
            sent_payload, previous_key, previous_payload, reason = row[5:]
            changes.append(
                Change(
                    customer_id,
                    action,
                    key,
                    tuple(json.loads(sent_payload))
                    if action == "remove"
                    else values[position],
                    record_hash,
                    previous_key=previous_key,
                    previous_values=tuple(json.loads(previous_payload))
                    if previous_key is not None
                    else None,
                    reason=reason,
                )
            )
        return changes

    def sent_rows(self, con: duckdb.DuckDBPyConnection, ids: pa.Array) -> pa.Table:
        """Return the snapshot rows of ``ids`` that the destination may hold before
        this sync. Call it before the snapshot of this run date is replaced."""
        requested = pa.table({"customer_id": pa.array(ids, pa.string())})
        parameters = _sent_parameters(
            self.destination, self.segment, self.base_run_date, self.earlier_run_date
        )
        with sync_log.registered(con, activation_requested_ids=requested):
            return _query(
                con,
                SENT_ROWS_QUERY,
                parameters,
                snapshots=sync_log.snapshot_relation(con),
            )


def _sent_parameters(
    destination: Destination,
    segment: str,
    base_date: date | None,
    earlier_date: date | None,
) -> dict:
    return {
        "destination": destination.name,
        "segment": segment,
        "base_date": base_date,
        "earlier_date": earlier_date,
    }


def _query(
    con: duckdb.DuckDBPyConnection, template: str, parameters: dict, **terms: str
) -> pa.Table:
    """Run one of this module's query templates with ``terms`` filled in."""
    sql = template.replace("{sent_ctes}", SENT_CTES).format(**terms)
    return con.sql(sql, params=parameters).to_arrow_table()


def _changes(
    con: duckdb.DuckDBPyConnection,
    destination: Destination,
    parameters: dict,
    snapshots: str,
) -> pa.Table:
    """Run CHANGES_QUERY. A removed id names the id it was merged into when
    ``identity.customer_id_lookup`` has one."""
    terms = {
        "snapshots": snapshots,
        "customers": CUSTOMERS,
        "consent": CONSENT_FILTERS[destination.consent],
        "merged_into": "null",
        "lookup_join": "",
    }
    if table_exists(con, "identity.customer_id_lookup"):
        terms["merged_into"] = "l.current_customer_id"
        terms["lookup_join"] = (
            "left join identity.customer_id_lookup as l "
            "on l.customer_id = r.customer_id "
            "and l.current_customer_id <> l.customer_id"
        )
    return _query(con, CHANGES_QUERY, parameters, **terms)


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
    audience = read_audience(con, destination, segment)
    base_date = sync_log.base_run_date(con, destination.name, segment, run_date)
    # What an earlier attempt of this run date sent overrides the base: those are
    # the newest values the destination may hold.
    earlier_date = run_date if latest == run_date else None
    parameters = _sent_parameters(destination, segment, base_date, earlier_date)
    snapshots = sync_log.snapshot_relation(con)
    invalid = pa.table(
        {
            "customer_id": pa.array(
                [r.customer_id for r in audience.invalid], pa.string()
            ),
            "reason": pa.array([r.reason for r in audience.invalid], pa.string()),
            "position": pa.array(range(len(audience.invalid)), pa.int64()),
        }
    )
    with sync_log.registered(
        con, activation_audience=audience.rows, activation_invalid=invalid
    ):
        changes = _changes(con, destination, parameters, snapshots)
        invalid_actions = _query(con, INVALID_QUERY, parameters, snapshots=snapshots)
        since_earlier = None
        if earlier_date is not None:
            [since_earlier] = _query(
                con, SINCE_EARLIER_ATTEMPT_QUERY, parameters, snapshots=snapshots
            ).to_pylist()
    return SyncPlan(
        destination,
        segment,
        run_date,
        base_date,
        audience,
        changes,
        invalid_actions,
        earlier_date,
        since_earlier,
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
