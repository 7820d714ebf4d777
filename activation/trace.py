"""Trace one person of an exported audience back to the records and the rule behind it.

``cdp trace`` finds the person by customer id, email or the destination's match key
and follows the customer id through merges and splits
(``identity.customer_id_lookup``). It collects what the destination received
(``activation.sync_changes``, ``audience_snapshots``, ``failed_rows`` and
``exports``), the source records and the links that joined them
(``identity.explain``), and the segment's rule. It writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from activation.audience import table_exists
from activation.destinations import Destination
from activation.export import file_extension
from activation.segment_rule import TRAITS, SegmentRule, read_segment_rule
from activation.vendors import VENDOR_FIELDS, InvalidValue, is_sha256_hex
from identity.explain import (
    PAIR_SCORES,
    CustomerExplanation,
    explain_customer,
    mask_value,
)
from identity.splink_model import DEFAULT_MODEL_PATH
from identity.tables import IDENTIFIERS, MATCH_PAIRS, RECORD_CUSTOMERS

ID_LOOKUP = "identity.customer_id_lookup"
ID_HISTORY = "identity.customer_id_history"
PERSON_RECORDS = "intermediate.int_person_records"
ACTIVATION_TABLES = (
    "activation.sync_changes",
    "activation.audience_snapshots",
    "activation.failed_rows",
    "activation.exports",
)


def trace_tables(segment: str) -> list[str]:
    """Return every table ``cdp trace`` reads for ``segment``, as schema.table.

    The Spark engine copies exactly these into the file the trace reads, so a query
    added to this module, ``identity.explain`` or ``activation.segment_rule`` must
    add its table here.
    """
    return [
        RECORD_CUSTOMERS,
        MATCH_PAIRS,
        PAIR_SCORES,
        ID_LOOKUP,
        ID_HISTORY,
        IDENTIFIERS,
        PERSON_RECORDS,
        *ACTIVATION_TABLES,
        f"marts.segment_{segment}",
        TRAITS,
    ]


class TraceLookupError(LookupError):
    """The destination, segment, customer or key to trace was not found."""


@dataclass(frozen=True)
class ExportRow:
    """One logged action for the person; ``file`` is None when none was written."""

    run_date: date
    customer_id: str
    action: str
    status: str
    reason: str | None
    file: str | None


@dataclass(frozen=True)
class HeldRow:
    """The person in the snapshot of the destination's audience after a run date."""

    run_date: date
    customer_id: str
    masked_key: str


@dataclass(frozen=True)
class FailedRow:
    run_date: date
    customer_id: str
    action: str
    reason: str
    resolved_at: datetime | None


@dataclass(frozen=True)
class IdChange:
    """A merge or split that involved one of the person's customer ids."""

    changed_at: datetime
    old_customer_id: str
    new_customer_id: str
    change: str
    records: int


@dataclass(frozen=True)
class Trace:
    """Everything ``cdp trace`` prints about one person at one destination.

    ``customer_ids`` contains the current id and every id that resolves to it now, so
    rows exported under a retired id belong to the person too.
    """

    destination: Destination
    segment: str
    looked_up_by: str
    customer_id: str
    customer_ids: tuple[str, ...]
    exports: tuple[ExportRow, ...]
    held: tuple[HeldRow, ...]
    failed: tuple[FailedRow, ...]
    id_changes: tuple[IdChange, ...]
    explanation: CustomerExplanation
    observed_at: dict[str, datetime | None]
    rule: SegmentRule


def has_identity_tables(con: duckdb.DuckDBPyConnection) -> bool:
    """Return whether identity resolution has run on this warehouse."""
    return table_exists(con, "identity.record_customers") and table_exists(
        con, "intermediate.int_identifiers"
    )


def check_segment(destination: Destination, segment: str) -> None:
    """Raise TraceLookupError when the destination does not send the segment."""
    if segment not in destination.segments:
        raise TraceLookupError(
            f"segment {segment} not found for destination {destination.name}, "
            f"which sends: {', '.join(destination.segments)}"
        )


def masked_key(destination: Destination, key: str) -> str:
    """Show a match key the way identity.explain shows identifiers: an email as
    j***@example.com, a SHA-256 digest by its first 12 hex digits."""
    if is_sha256_hex(key):
        return f"{key[:12]}… (SHA-256)"
    source = destination.fields.get(destination.match_key)
    if source == "customer_id":
        return key
    return mask_value(source if source in ("email", "phone") else "other", key) or ""


def find_by_customer_id(con: duckdb.DuckDBPyConnection, customer_id: str) -> str:
    """Return the current id of ``customer_id``, which may be retired by a merge."""
    if table_exists(con, ID_LOOKUP):
        row = con.execute(
            f"select current_customer_id from {ID_LOOKUP} where customer_id = ?",
            [customer_id],
        ).fetchone()
        if row is not None:
            return row[0]
    row = con.execute(
        "select 1 from identity.record_customers where customer_id = ? limit 1",
        [customer_id],
    ).fetchone()
    if row is None:
        raise TraceLookupError(
            f"customer_id {customer_id} not found in {ID_LOOKUP} or "
            "identity.record_customers"
        )
    return customer_id


def find_by_email(con: duckdb.DuckDBPyConnection, email: str) -> str:
    """Return the customer whose records carry ``email`` (case and spaces ignored)."""
    ids = _current_ids(
        con,
        "select distinct c.customer_id from intermediate.int_identifiers as i "
        "inner join identity.record_customers as c on c.record_key = i.record_key "
        "where i.identifier_type = 'email' "
        "and lower(trim(i.identifier_value)) = lower(trim(?))",
        [email],
    )
    return _single(ids, f"email {mask_value('email', email)}", "records")


def find_by_key(
    con: duckdb.DuckDBPyConnection, destination: Destination, key: str
) -> str:
    """Return the customer that the destination's snapshots list under ``key``.

    A raw value (an email for a hashed key, say) is prepared the way the sync
    prepares it first, so the lookup compares what the destination received.
    """
    prepared = prepare_key(destination, key)
    shown = masked_key(destination, prepared)
    if not table_exists(con, "activation.audience_snapshots"):
        raise TraceLookupError(
            f"key {shown} not found: the warehouse has no activation."
            "audience_snapshots, so no destination was synced yet"
        )
    ids = _current_ids(
        con,
        "select distinct customer_id from activation.audience_snapshots "
        "where destination = ? and match_key = ?",
        [destination.name, prepared],
    )
    return _single(
        ids,
        f"key {shown}",
        f"activation.audience_snapshots of destination {destination.name} (it keeps "
        "the newest snapshot per segment and the one before; use --customer-id or "
        "--email for older rows)",
    )


def prepare_key(destination: Destination, key: str) -> str:
    """Prepare a match key the way the sync prepares it, or strip an invalid one."""
    rule = VENDOR_FIELDS.get(destination.type, {}).get(destination.match_key)
    if rule is None:
        return key.strip()
    try:
        return rule.normalize(key, None) if rule.needs_region else rule.normalize(key)
    except InvalidValue:
        return key.strip()


def _current_ids(
    con: duckdb.DuckDBPyConnection, query: str, parameters: list
) -> list[str]:
    found = [row[0] for row in con.execute(query, parameters).fetchall()]
    return sorted({find_by_customer_id(con, customer_id) for customer_id in found})


def _single(ids: list[str], what: str, where: str) -> str:
    if not ids:
        raise TraceLookupError(f"{what} not found in {where}")
    if len(ids) > 1:
        raise TraceLookupError(
            f"{what} belongs to {len(ids)} customers ({', '.join(ids)}); "
            "trace one of them with --customer-id"
        )
    return ids[0]


def build_trace(
    con: duckdb.DuckDBPyConnection,
    destination: Destination,
    segment: str,
    customer_id: str,
    looked_up_by: str,
    manifest_path: Path,
    project_dir: Path,
    model_path: Path = DEFAULT_MODEL_PATH,
) -> Trace:
    """Collect the trace of the current ``customer_id`` without writing anything."""
    rule = read_segment_rule(con, segment, customer_id, manifest_path, project_dir)
    try:
        explanation = explain_customer(con, customer_id, model_path)
    except LookupError as error:
        raise TraceLookupError(str(error)) from error

    ids = _all_ids(con, customer_id)
    return Trace(
        destination=destination,
        segment=segment,
        looked_up_by=looked_up_by,
        customer_id=customer_id,
        customer_ids=ids,
        exports=_exports(con, destination, segment, ids),
        held=_held(con, destination, segment, ids),
        failed=_failed(con, destination, segment, ids),
        id_changes=_id_changes(con, ids),
        explanation=explanation,
        observed_at=_observed_at(con, [row[0] for row in explanation.records]),
        rule=rule,
    )


def _all_ids(con: duckdb.DuckDBPyConnection, customer_id: str) -> tuple[str, ...]:
    if not table_exists(con, ID_LOOKUP):
        return (customer_id,)
    rows = con.execute(
        f"select customer_id from {ID_LOOKUP} where current_customer_id = ?",
        [customer_id],
    ).fetchall()
    return tuple(sorted({customer_id} | {row[0] for row in rows}))


def _exports(
    con: duckdb.DuckDBPyConnection,
    destination: Destination,
    segment: str,
    ids: tuple[str, ...],
) -> tuple[ExportRow, ...]:
    if not table_exists(con, "activation.sync_changes"):
        return ()
    rows = con.execute(
        "select run_date, customer_id, action, status, reason "
        "from activation.sync_changes where destination = ? and segment = ? "
        "and customer_id in (select unnest(?)) order by run_date, recorded_at, action",
        [destination.name, segment, list(ids)],
    ).fetchall()
    files = _exported_files(con, destination.name, segment)
    rekeyed = _rekeyed_run_dates(con, destination, segment, ids)
    exports = []
    for row in rows:
        names = _files_of(destination, segment, row, files, rekeyed)
        exports.append(ExportRow(*row, file=", ".join(names) or None))
    return tuple(exports)


def _rekeyed_run_dates(
    con: duckdb.DuckDBPyConnection,
    destination: Destination,
    segment: str,
    ids: tuple[str, ...],
) -> set[date]:
    """Return the run dates whose snapshot lists the person under another key than
    the snapshot before it. Only the newest snapshot and its base are kept."""
    if not table_exists(con, "activation.audience_snapshots"):
        return set()
    rows = con.execute(
        "select run_date, match_key from activation.audience_snapshots "
        "where destination = ? and segment = ? and customer_id in (select unnest(?)) "
        "order by run_date",
        [destination.name, segment, list(ids)],
    ).fetchall()
    return {
        later[0]
        for earlier, later in zip(rows, rows[1:], strict=False)
        if earlier[1] != later[1]
    }


def _exported_files(
    con: duckdb.DuckDBPyConnection, destination: str, segment: str
) -> set[tuple[date, str]]:
    if not table_exists(con, "activation.exports"):
        return set()
    rows = con.execute(
        "select run_date, file from activation.exports "
        "where destination = ? and segment = ?",
        [destination, segment],
    ).fetchall()
    return set(rows)


def _files_of(
    destination: Destination,
    segment: str,
    row: tuple,
    files: set[tuple[date, str]],
    rekeyed: set[date],
) -> list[str]:
    """Name the files a written row is in, as far as activation.exports lists them.

    Additions and changes go to <segment>.<ext>, removals to <segment>_removed.<ext>,
    and a change of key puts the previous key in the removal file as well.
    """
    run_date, _, action, status, _ = row
    if status != "written" or not destination.writes_files:
        return []
    extension = file_extension(destination)
    names = []
    if action in ("add", "change"):
        names.append(f"{segment}.{extension}")
    if action == "remove" or (action == "change" and run_date in rekeyed):
        names.append(f"{segment}_removed.{extension}")
    return [name for name in names if (run_date, name) in files]


def _held(
    con: duckdb.DuckDBPyConnection,
    destination: Destination,
    segment: str,
    ids: tuple[str, ...],
) -> tuple[HeldRow, ...]:
    if not table_exists(con, "activation.audience_snapshots"):
        return ()
    rows = con.execute(
        "select run_date, customer_id, match_key from activation.audience_snapshots "
        "where destination = ? and segment = ? and customer_id in (select unnest(?)) "
        "order by run_date",
        [destination.name, segment, list(ids)],
    ).fetchall()
    return tuple(
        HeldRow(run_date, customer_id, masked_key(destination, key))
        for run_date, customer_id, key in rows
    )


def _failed(
    con: duckdb.DuckDBPyConnection,
    destination: Destination,
    segment: str,
    ids: tuple[str, ...],
) -> tuple[FailedRow, ...]:
    if not table_exists(con, "activation.failed_rows"):
        return ()
    rows = con.execute(
        "select run_date, customer_id, action, reason, resolved_at "
        "from activation.failed_rows where destination = ? and segment = ? "
        "and customer_id in (select unnest(?)) order by run_date, failed_at",
        [destination.name, segment, list(ids)],
    ).fetchall()
    return tuple(FailedRow(*row) for row in rows)


def _id_changes(
    con: duckdb.DuckDBPyConnection, ids: tuple[str, ...]
) -> tuple[IdChange, ...]:
    if not table_exists(con, ID_HISTORY):
        return ()
    rows = con.execute(
        "select changed_at, old_customer_id, new_customer_id, change, records "
        f"from {ID_HISTORY} where old_customer_id in (select unnest($ids)) "
        "or new_customer_id in (select unnest($ids)) "
        "order by changed_at, old_customer_id, new_customer_id",
        {"ids": list(ids)},
    ).fetchall()
    return tuple(IdChange(*row) for row in rows)


def _observed_at(
    con: duckdb.DuckDBPyConnection, keys: list[str]
) -> dict[str, datetime | None]:
    if not table_exists(con, PERSON_RECORDS):
        return {}
    rows = con.execute(
        f"select record_key, observed_at from {PERSON_RECORDS} "
        "where record_key in (select unnest(?))",
        [keys],
    ).fetchall()
    return dict(rows)
