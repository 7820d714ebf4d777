"""Customer search: one text box for email, phone, name or customer id.

The input is normalized with the same functions that staging uses
(``ingestion/normalize.py``), so " Anna.Mueller@Example.DE " finds the stored
"anna.mueller@example.de" and "030 1234567" finds "+49301234567". Every query binds
the input as a parameter; only the number of name words changes the SQL text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from ingestion.normalize import normalize_email, normalize_phone, split_full_name

# Countries whose national phone format the search tries, in the order of the
# shop's markets. A number with a country code reads the same in all of them.
PHONE_REGIONS = ("DE", "AT", "CH")
PHONE_PUNCTUATION = re.compile(r"[\s()./+-]")
MIN_PHONE_DIGITS = 6
MAX_NAME_WORDS = 5
MAX_RESULTS = 50
MAX_INPUT_LENGTH = 200


@dataclass(frozen=True)
class SearchHit:
    customer_id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    city: str | None
    matched_by: str


def looks_like_phone(text: str) -> bool:
    digits = PHONE_PUNCTUATION.sub("", text)
    return digits.isdigit() and len(digits) >= MIN_PHONE_DIGITS


def phone_candidates(text: str) -> list[str]:
    """Return every E.164 reading of ``text`` in the regions of ``PHONE_REGIONS``."""
    numbers = {normalize_phone(text, region) for region in PHONE_REGIONS}
    return sorted(number for number in numbers if number)


def escape_like(text: str) -> str:
    """Escape LIKE wildcards, so "%" in the input matches a literal percent sign."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_customers(con: duckdb.DuckDBPyConnection, text: str) -> list[SearchHit]:
    """Find customers whose id, any known email or phone, or name matches ``text``.

    An email or phone matches exactly after normalization. A name matches when each
    word starts a first or last name of one of the customer's source records,
    ignoring case and accents. An old customer id finds the id it resolves to now.
    """
    text = text.strip()[:MAX_INPUT_LENGTH]
    if not text:
        return []
    matches: dict[str, str] = {}
    for customer_id in _by_customer_id(con, text):
        matches.setdefault(customer_id, "customer id")

    email = normalize_email(text) if "@" in text else None
    if email:
        for customer_id in _by_email(con, email):
            matches.setdefault(customer_id, "email")
    elif looks_like_phone(text):
        for customer_id in _by_phone(con, phone_candidates(text)):
            matches.setdefault(customer_id, "phone")
    elif "@" not in text:
        for customer_id in _by_name(con, text):
            matches.setdefault(customer_id, "name")
    return _hits(con, matches)


def _column(con: duckdb.DuckDBPyConnection, sql: str, parameters: list) -> list[str]:
    return [row[0] for row in con.execute(sql, parameters).fetchall()]


def _by_customer_id(con: duckdb.DuckDBPyConnection, text: str) -> list[str]:
    return _column(
        con,
        "select customer_id from marts.dim_customers where customer_id = $id "
        "union "
        "select old_customer_id_now from marts.customer_id_changes "
        "where old_customer_id = $id and old_customer_id_now is not null",
        {"id": text},
    )


def _by_email(con: duckdb.DuckDBPyConnection, email: str) -> list[str]:
    return _column(
        con,
        "select distinct customer_id from marts.customer_emails where email = ?",
        [email],
    )


def _by_phone(con: duckdb.DuckDBPyConnection, phones: list[str]) -> list[str]:
    if not phones:
        return []
    return _column(
        con,
        "select distinct customer_id from marts.customer_phones "
        "where list_contains(?, phone)",
        [phones],
    )


def name_words(text: str) -> list[str]:
    """Split a searched name into words, without titles such as "Dr." or "MBA"."""
    parts = [part for part in split_full_name(text) if part]
    return " ".join(parts).replace("-", " ").split()[:MAX_NAME_WORDS]


def _by_name(con: duckdb.DuckDBPyConnection, text: str) -> list[str]:
    words = name_words(text)
    if not words:
        return []
    # Each word must start a word of the record's first or last name.
    full_name = (
        "' ' || replace(strip_accents(lower(concat_ws(' ', first_name, last_name))), "
        "'-', ' ')"
    )
    condition = f"{full_name} like strip_accents(lower(?)) escape '\\'"
    conditions = " and ".join([condition] * len(words))
    return _column(
        con,
        "select distinct customer_id from marts.customer_source_records "
        f"where customer_id is not null and {conditions} "
        f"order by customer_id limit {MAX_RESULTS}",
        [f"% {escape_like(word)}%" for word in words],
    )


def _hits(con: duckdb.DuckDBPyConnection, matches: dict[str, str]) -> list[SearchHit]:
    if not matches:
        return []
    rows = con.execute(
        "select customer_id, first_name, last_name, email, phone, city "
        "from marts.dim_customers where list_contains(?, customer_id) "
        "order by last_name, first_name, customer_id",
        [list(matches)],
    ).fetchall()
    return [SearchHit(*row, matched_by=matches[row[0]]) for row in rows][:MAX_RESULTS]
