"""The ``privacy`` schema: erasure requests, the suppression list and the audit log.

No table here contains a personal value. An identifier is stored only as the SHA-256
of ``<salt>:<kind>:<normalized value>``. The salt is a random secret made once per
warehouse and kept in ``privacy.settings``, so a hash from this warehouse cannot be
looked up in a table of hashed addresses made elsewhere. A reader of the warehouse
can read the salt too, and so can still test a guessed address.

``privacy.settings`` also keeps the pseudonym key, a second secret made the same
way. The ``analytics`` dbt models replace ids with their HMAC-SHA256 under that key
(``dbt_project/macros/pseudonyms.sql``), so the pseudonyms stay the same from night
to night, and they cannot be computed without the warehouse file. It is a separate
secret from the salt: deleting its row makes the next run create a new key, which
changes every pseudonym and leaves the suppression list working. ``make clean``
deletes both with the warehouse.

- ``erasure_requests``: one row per ``cdp forget``, with the hashed identifier, the
  request time and the status (pending, erased, completed).
- ``suppressed_identifiers``: hashed emails and phone numbers of erased people. The
  loader drops rows that carry one of them and counts them as erased.
- ``erasure_log``: per request and step, which table or file lost how many rows.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from ingestion.normalize import normalize_email, normalize_phone
from orchestration.privacy.identifiers import PHONE_REGIONS_WITHOUT_COUNTRY

IDENTIFIER_KINDS = ("email", "phone", "customer_id")

DDL = [
    "create schema if not exists privacy",
    """
    create table if not exists privacy.settings (
        name varchar primary key,
        value varchar not null
    )
    """,
    """
    create table if not exists privacy.erasure_requests (
        request_id varchar primary key,
        identifier_type varchar not null,
        identifier_hash varchar not null,
        requested_at timestamp not null,
        status varchar not null,
        processed_at timestamp,
        completed_at timestamp
    )
    """,
    """
    create table if not exists privacy.suppressed_identifiers (
        identifier_type varchar not null,
        identifier_hash varchar not null,
        request_id varchar not null,
        added_at timestamp not null
    )
    """,
    # Rows the loader dropped for a suppressed identifier, by file and row number,
    # until the erasure step removes them from the landing file.
    """
    create table if not exists privacy.landing_redactions (
        source varchar not null,
        file varchar not null,
        row_number bigint not null
    )
    """,
    """
    create table if not exists privacy.erasure_log (
        request_id varchar not null,
        logged_at timestamp not null,
        step varchar not null,
        target varchar not null,
        rows_affected bigint not null
    )
    """,
]


class InvalidIdentifierError(ValueError):
    """An identifier given for erasure or access does not normalize to a value."""


@dataclass(frozen=True)
class ErasureRequest:
    request_id: str
    identifier_type: str
    identifier_hash: str
    requested_at: datetime


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    for statement in DDL:
        con.execute(statement)


def has_tables(con: duckdb.DuckDBPyConnection) -> bool:
    return (
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'privacy' and table_name = 'erasure_requests' "
            "and table_catalog = current_database()"
        ).fetchone()[0]
        > 0
    )


SALT_SETTING = "identifier_hash_salt"
PSEUDONYM_KEY_SETTING = "pseudonym_key"


def _secret(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """Return the secret ``name`` from ``privacy.settings``, creating it on first use
    as 32 random bytes in hex."""
    ensure_tables(con)
    row = con.execute(
        "select value from privacy.settings where name = ?", [name]
    ).fetchone()
    if row is not None:
        return row[0]
    value = secrets.token_hex(32)
    con.execute("insert into privacy.settings values (?, ?)", [name, value])
    return value


def salt(con: duckdb.DuckDBPyConnection) -> str:
    """Return the warehouse's hash salt, creating it on first use."""
    return _secret(con, SALT_SETTING)


def pseudonym_key(con: duckdb.DuckDBPyConnection) -> str:
    """Return the key of the analytics pseudonyms (hex), creating it on first use."""
    return _secret(con, PSEUDONYM_KEY_SETTING)


def pseudonym(key_hex: str, value: str) -> str:
    """Return the analytics pseudonym of ``value``: the first 32 hex characters of
    HMAC-SHA256 under the key, as the dbt macro ``pseudonymize`` computes it."""
    digest = hmac.new(bytes.fromhex(key_hex), value.encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()[:32]


def normalize_identifier(kind: str, value: str) -> str:
    """Return the identifier as the warehouse stores it, or raise when invalid."""
    if kind == "email":
        normalized = normalize_email(value)
    elif kind == "phone":
        normalized = normalize_phone(value, PHONE_REGIONS_WITHOUT_COUNTRY)
    elif kind == "customer_id":
        normalized = value.strip() or None
    else:
        raise InvalidIdentifierError(
            f"unknown identifier type {kind!r}; expected one of "
            + ", ".join(IDENTIFIER_KINDS)
        )
    if normalized is None:
        raise InvalidIdentifierError(
            f"the {kind} given is not valid; give an email address, a phone number "
            "with country code (+49 ...) or a customer id"
        )
    return normalized


def identifier_hash(secret: str, kind: str, normalized: str) -> str:
    """SHA-256 of ``<salt>:<kind>:<normalized value>``, as ``identifiers.hash_sql``."""
    return hashlib.sha256(f"{secret}:{kind}:{normalized}".encode()).hexdigest()


def record_request(con: duckdb.DuckDBPyConnection, kind: str, value: str) -> str:
    """Store an erasure request and, for an email or phone, suppress it at once.

    Returns the request id. The raw value is hashed here and never stored.
    """
    normalized = normalize_identifier(kind, value)
    con.begin()
    try:
        digest = identifier_hash(salt(con), kind, normalized)
        request_id = uuid.uuid4().hex
        requested_at = now()
        con.execute(
            "insert into privacy.erasure_requests values (?, ?, ?, ?, 'pending', "
            "null, null)",
            [request_id, kind, digest, requested_at],
        )
        if kind != "customer_id":
            add_suppressions(con, request_id, [(kind, digest)])
        con.commit()
    except Exception:
        con.rollback()
        raise
    return request_id


def add_suppressions(
    con: duckdb.DuckDBPyConnection, request_id: str, hashes: list[tuple[str, str]]
) -> int:
    """Add ``(kind, hash)`` pairs not yet suppressed; return how many were new."""
    added = 0
    for kind, digest in sorted(set(hashes)):
        exists = con.execute(
            "select count(*) from privacy.suppressed_identifiers "
            "where identifier_type = ? and identifier_hash = ?",
            [kind, digest],
        ).fetchone()[0]
        if not exists:
            con.execute(
                "insert into privacy.suppressed_identifiers values (?, ?, ?, ?)",
                [kind, digest, request_id, now()],
            )
            added += 1
    return added


def pending_requests(con: duckdb.DuckDBPyConnection) -> list[ErasureRequest]:
    if not has_tables(con):
        return []
    rows = con.execute(
        "select request_id, identifier_type, identifier_hash, requested_at "
        "from privacy.erasure_requests where status = 'pending' order by requested_at"
    ).fetchall()
    return [ErasureRequest(*row) for row in rows]


def log_step(
    con: duckdb.DuckDBPyConnection, request_id: str, step: str, target: str, rows: int
) -> None:
    con.execute(
        "insert into privacy.erasure_log values (?, ?, ?, ?, ?)",
        [request_id, now(), step, target, rows],
    )


def suppressed_hash_count(con: duckdb.DuckDBPyConnection) -> int:
    if not has_tables(con):
        return 0
    return con.execute(
        "select count(*) from privacy.suppressed_identifiers"
    ).fetchone()[0]
