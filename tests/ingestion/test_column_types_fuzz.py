"""Property-based tests of the typed-column parsers on strange text, run in DuckDB.

The parsers are SQL (``ingestion.column_types.parse_sql``). On any text they must
give a value or null, never an error that would stop a load, and a parsed value
written back in the source's own format must parse to the same value.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.column_types import parse_sql
from ingestion.sources import Source

GERMAN = Source(
    name="erp_orders",
    description="Order export with German number and date formats.",
    file_pattern="erp_orders_*.csv",
    file_format="csv",
    columns={"Betrag": "amount", "Zeit": "ordered_at", "Menge": "quantity"},
    required=("amount",),
    key=("amount",),
    delimiter=";",
    types={"amount": "decimal", "ordered_at": "timestamp", "quantity": "integer"},
    decimal_separator=",",
    thousands_separator=".",
    timestamp_format="%d.%m.%Y %H:%M",
)
ISO = Source(
    name="iso_orders",
    description="Order export with ISO numbers and timestamps.",
    file_pattern="iso_orders_*.csv",
    file_format="csv",
    columns={"amount": "amount", "ordered_at": "ordered_at", "quantity": "quantity"},
    required=("amount",),
    key=("amount",),
    types={"amount": "decimal", "ordered_at": "timestamp", "quantity": "integer"},
)
SOURCES = {"german": GERMAN, "iso": ISO}

TRICKY = [
    "\u200b", "\x00", "\u202e", "١", "²", "½", "e", "E", "+", "-", ",", ".", " ", ":",
    "9" * 40, "NaN", "inf", "-0", "31.02.2026 25:61", "2026-02-30T10:00:00Z",
]  # fmt: skip
texts = st.one_of(
    st.text(max_size=40),
    st.lists(
        st.one_of(st.sampled_from(TRICKY), st.sampled_from(list("0123456789"))),
        max_size=25,
    ).map("".join),
)

fuzz_settings = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def con():
    with duckdb.connect() as connection:
        connection.execute("set TimeZone = 'UTC'")
        yield connection


def parse(con, source: Source, column: str, values: list[str]) -> list:
    """Parse every value with the source's SQL for one column, in one query."""
    sql = parse_sql(source, column)
    return [
        row[0]
        for row in con.execute(
            f'select {sql} from (select unnest(?) as "{column}")', [values]
        ).fetchall()
    ]


def german_number(value: Decimal) -> str:
    sign = "-" if value < 0 else ""
    whole, _, fraction = f"{abs(value):f}".partition(".")
    text = f"{sign}{int(whole):,}".replace(",", ".")
    return f"{text},{fraction}" if fraction else text


@pytest.mark.parametrize("name", SOURCES)
@fuzz_settings
@given(values=st.lists(texts, min_size=1, max_size=20))
def test_parsers_never_raise(con, name, values):
    source = SOURCES[name]
    for column in source.columns.values():
        parsed = parse(con, source, column, values)
        assert len(parsed) == len(values)


@fuzz_settings
@given(
    value=st.decimals(min_value=-(10**12), max_value=10**12, places=2, allow_nan=False)
)
def test_german_decimal_round_trip(con, value):
    (parsed,) = parse(con, GERMAN, "amount", [german_number(value)])
    assert parsed == value


@fuzz_settings
@given(
    moment=st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)
    ).map(lambda d: d.replace(second=0, microsecond=0))
)
def test_timestamp_round_trip(con, moment):
    (german,) = parse(con, GERMAN, "ordered_at", [moment.strftime("%d.%m.%Y %H:%M")])
    (iso,) = parse(con, ISO, "ordered_at", [moment.isoformat()])
    assert german.replace(tzinfo=None) == moment
    assert iso.replace(tzinfo=None) == moment
