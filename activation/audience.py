"""Read a segment's consented audience and prepare each row for its destination.

Consent is read from ``marts.dim_customers``, not from the segment model, so a
segment model without a consent column cannot leak anyone. Every address on the
suppression list (``intermediate.int_email_suppressions``) is left out as well,
whatever ``dim_customers`` says, and the export fails when that list is missing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import duckdb

from activation.destinations import Destination, DestinationConfigError
from activation.vendors import (
    DEFAULT_MAX_BYTES,
    IDENTIFYING_FIELDS,
    VENDOR_FIELDS,
    InvalidValue,
    truncate_utf8,
)

CUSTOMERS = "marts.dim_customers"
SUPPRESSIONS = "intermediate.int_email_suppressions"

CONSENT_FILTERS = {
    "email": "c.has_email_consent and not coalesce(c.is_email_suppressed, false) "
    "and c.email is not null "
    f"and not exists (select 1 from {SUPPRESSIONS} as x "
    "where lower(trim(x.email)) = lower(trim(c.email)))",
}


@dataclass(frozen=True)
class AudienceRow:
    """One person as the destination receives them: values in ``fields`` order."""

    customer_id: str
    key: str
    values: tuple[str | None, ...]
    record_hash: str

    @property
    def payload(self) -> str:
        return json.dumps(list(self.values), ensure_ascii=False)


@dataclass(frozen=True)
class InvalidRow:
    customer_id: str
    reason: str


def record_hash(values: tuple[str | None, ...]) -> str:
    text = json.dumps(list(values), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, table = qualified.split(".")
    return (
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ? "
            "and table_catalog = current_database()",
            [schema, table],
        ).fetchone()[0]
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


def prepare_row(
    destination: Destination, customer_id: str, raw: tuple, region: str | None
) -> AudienceRow:
    """Normalize one row's values for the destination type; raise InvalidValue."""
    vendor_fields = VENDOR_FIELDS.get(destination.type, {})
    limits = DEFAULT_MAX_BYTES.get(destination.type, {}) | destination.max_bytes
    values = []
    for target, value in zip(destination.fields, raw, strict=True):
        rule = vendor_fields.get(target)
        if rule is not None:
            try:
                args = (region,) if rule.needs_region else ()
                value = rule.normalize(value, *args)
            except InvalidValue as error:
                raise InvalidValue(f"{target}: {error}") from error
        if target in limits:
            value = truncate_utf8(value, limits[target])
        values.append(value)

    fields = dict(zip(destination.fields, values, strict=True))
    identifying = IDENTIFYING_FIELDS.get(destination.type, (destination.match_key,))
    if not any(fields.get(f) for f in identifying):
        raise InvalidValue(f"no value for any of {list(identifying)}")
    key = fields.get(destination.match_key)
    if not key:
        raise InvalidValue(f"no value for the key field {destination.match_key}")
    return AudienceRow(customer_id, key, tuple(values), record_hash(tuple(values)))


def read_audience(
    con: duckdb.DuckDBPyConnection, destination: Destination, segment: str
) -> tuple[list[AudienceRow], list[InvalidRow]]:
    """Return the consented members of a segment, ordered by customer id, and the
    members whose values the destination would reject."""
    check_warehouse(con, destination, segment)
    rows: list[AudienceRow] = []
    invalid: list[InvalidRow] = []
    for customer_id, *raw, region in con.execute(
        audience_query(destination, segment)
    ).fetchall():
        try:
            rows.append(prepare_row(destination, customer_id, tuple(raw), region))
        except InvalidValue as error:
            invalid.append(InvalidRow(customer_id, str(error)))
    return rows, invalid
