"""Read a segment's consented audience and prepare each row for its destination.

Consent is read from ``marts.dim_customers``, not from the segment model, so a
segment model without a consent column cannot leak anyone. Every address on the
suppression list (``intermediate.int_email_suppressions``) is left out as well,
whatever ``dim_customers`` says, and the export fails when that list is missing.
"""

from __future__ import annotations

import hashlib
import json
import json.encoder
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from activation.destinations import Destination, DestinationConfigError
from activation.vendors import (
    DEFAULT_MAX_BYTES,
    IDENTIFYING_FIELDS,
    VENDOR_FIELDS,
    InvalidValue,
    truncate_utf8,
)
from identity.sql import fetch_value

CUSTOMERS = "marts.dim_customers"
SUPPRESSIONS = "intermediate.int_email_suppressions"

CONSENT_FILTERS = {
    "email": "c.has_email_consent and not coalesce(c.is_email_suppressed, false) "
    "and c.email is not null "
    f"and not exists (select 1 from {SUPPRESSIONS} as x "
    "where lower(trim(x.email)) = lower(trim(c.email)))",
}


@dataclass(frozen=True)
class InvalidRow:
    customer_id: str
    reason: str


@dataclass
class Audience:
    """The consented members of one segment as the destination receives them,
    ordered by customer id.

    ``rows`` has one row per valid member with ``customer_id``, ``match_key``,
    ``record_hash`` and ``payload`` (the values as a JSON array), as in
    ``activation.audience_snapshots``, and the row's ``position``. ``values`` contains
    the same members' values in ``fields`` order, by position, for writing files
    without parsing JSON.
    """

    rows: pa.Table
    values: list[tuple[str | None, ...]]
    invalid: list[InvalidRow]

    def __len__(self) -> int:
        return self.rows.num_rows


# Quotes one string exactly as json.dumps(..., ensure_ascii=False) does.
_json_string = json.encoder.encode_basestring


def _json_items(values: tuple[str | None, ...]) -> list[str]:
    """Return each value as JSON. Joined with ", " or "," inside brackets, the
    items are what json.dumps writes for a list of strings and None.

    json.dumps builds an encoder on every call, which made the hash and the
    payload more than four times slower (100,000 rows of four strings, Python 3.11).
    """
    return [_json_string(v) if v is not None else "null" for v in values]


def record_hash(values: tuple[str | None, ...]) -> str:
    """SHA-256 hex of the values as compact JSON: json.dumps with
    ``separators=(",", ":")`` and ``ensure_ascii=False``."""
    text = "[" + ",".join(_json_items(values)) + "]"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, table = qualified.split(".")
    return (
        fetch_value(
            con,
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ? "
            "and table_catalog = current_database()",
            [schema, table],
        )
        > 0
    )


def _columns(con: duckdb.DuckDBPyConnection, qualified: str) -> set[str]:
    schema, table = qualified.split(".")
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = ? and table_name = ? "
        "and table_catalog = current_database()",
        [schema, table],
    ).fetchall()
    return {r[0] for r in rows}


def check_warehouse(
    con: duckdb.DuckDBPyConnection, destination: Destination, segment: str
) -> None:
    """Raise with the destination and field when a table or column is missing."""
    where = f"destination {destination.name}"
    model = f"marts.{destination.segment_model(segment)}"
    for table in (CUSTOMERS, model, SUPPRESSIONS):
        if not table_exists(con, table):
            raise DestinationConfigError(
                f"{where}, segment {segment}: table {table} not found; build the "
                "dbt models before exporting"
            )
    available = _columns(con, CUSTOMERS)
    for target, source in destination.fields.items():
        if source not in available:
            raise DestinationConfigError(
                f"{where}, field {target!r}: column {source!r} not found in {CUSTOMERS}"
            )


def audience_query(destination: Destination, segment: str) -> str:
    columns = ", ".join(
        f'cast(c."{source}" as varchar)' for source in destination.fields.values()
    )
    return (
        f"select c.customer_id, {columns}, cast(c.country_code as varchar) "
        f"from {CUSTOMERS} as c "
        "where c.customer_id in (select customer_id from "
        f"marts.{destination.segment_model(segment)}) "
        f"and {CONSENT_FILTERS[destination.consent]} order by c.customer_id"
    )


@dataclass(frozen=True)
class _FieldRule:
    """The vendor normalizer and the byte limit of one output field, each None
    when the field has none."""

    target: str
    normalize: Callable[..., str | None] | None
    needs_region: bool
    max_bytes: int | None


class RowPreparer:
    """Normalize rows for one destination, with the rules looked up once."""

    def __init__(self, destination: Destination):
        vendor_fields = VENDOR_FIELDS.get(destination.type, {})
        limits = DEFAULT_MAX_BYTES.get(destination.type, {}) | destination.max_bytes
        self.rules = []
        for target in destination.fields:
            rule = vendor_fields.get(target)
            self.rules.append(
                _FieldRule(
                    target,
                    rule.normalize if rule else None,
                    bool(rule and rule.needs_region),
                    limits.get(target),
                )
            )
        # Rows of a type without normalizers and byte limits are sent as read.
        self.passes_through = all(
            r.normalize is None and r.max_bytes is None for r in self.rules
        )
        targets = list(destination.fields)
        self.identifying = IDENTIFYING_FIELDS.get(
            destination.type, (destination.match_key,)
        )
        self.identifying_positions = [
            targets.index(f) for f in self.identifying if f in destination.fields
        ]
        self.match_key = destination.match_key
        self.key_position = (
            targets.index(self.match_key) if self.match_key in targets else None
        )

    def prepare(self, raw: tuple, region: str | None) -> tuple[str, tuple]:
        """Return the key and the values in ``fields`` order, or raise InvalidValue."""
        values = raw if self.passes_through else self._normalize(raw, region)
        for position in self.identifying_positions:
            if values[position]:
                break
        else:
            raise InvalidValue(f"no value for any of {list(self.identifying)}")
        key = values[self.key_position] if self.key_position is not None else None
        if not key:
            raise InvalidValue(f"no value for the key field {self.match_key}")
        return key, values

    def _normalize(self, raw: tuple, region: str | None) -> tuple:
        values = []
        for rule, value in zip(self.rules, raw, strict=True):
            if rule.normalize is not None:
                try:
                    if rule.needs_region:
                        value = rule.normalize(value, region)
                    else:
                        value = rule.normalize(value)
                except InvalidValue as error:
                    raise InvalidValue(f"{rule.target}: {error}") from error
            if rule.max_bytes is not None:
                value = truncate_utf8(value, rule.max_bytes)
            values.append(value)
        return tuple(values)


def read_audience(
    con: duckdb.DuckDBPyConnection, destination: Destination, segment: str
) -> Audience:
    """Return the consented members of a segment, ordered by customer id, and the
    members whose values the destination would reject."""
    check_warehouse(con, destination, segment)
    prepare = RowPreparer(destination).prepare
    customer_ids: list[str] = []
    keys: list[str] = []
    hashes: list[str] = []
    payloads: list[str] = []
    values_by_row: list[tuple[str | None, ...]] = []
    invalid: list[InvalidRow] = []
    for row in con.execute(audience_query(destination, segment)).fetchall():
        try:
            key, values = prepare(row[1:-1], row[-1])
        except InvalidValue as error:
            invalid.append(InvalidRow(row[0], str(error)))
            continue
        # The JSON of record_hash(), and the payload as json.dumps(values,
        # ensure_ascii=False) writes it, from the same items.
        items = _json_items(values)
        hashed = "[" + ",".join(items) + "]"
        customer_ids.append(row[0])
        keys.append(key)
        hashes.append(hashlib.sha256(hashed.encode("utf-8")).hexdigest())
        payloads.append("[" + ", ".join(items) + "]")
        values_by_row.append(values)
    table = pa.table(
        {
            "customer_id": pa.array(customer_ids, pa.string()),
            "match_key": pa.array(keys, pa.string()),
            "record_hash": pa.array(hashes, pa.string()),
            "payload": pa.array(payloads, pa.string()),
            "position": pa.array(np.arange(len(values_by_row))),
        }
    )
    return Audience(table, values_by_row, invalid)
