"""Small hand-made warehouses for the identity tests.

Each test gets its own DuckDB file under pytest's tmp_path with the two dbt
intermediate tables identity resolution reads, filled with the records it lists.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

import duckdb
import pytest

PERSON_COLUMNS = (
    "record_key",
    "source",
    "source_record_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "street",
    "postal_code",
    "city",
    "country_code",
    "observed_at",
)

Record = dict[str, object]
Identifier = tuple[str, str, str]


def make_person_record(source: str, source_record_id: str, **fields: object) -> Record:
    """Return an int_person_records row; unnamed columns are NULL."""
    unknown = set(fields) - set(PERSON_COLUMNS)
    if unknown:
        raise ValueError(f"unknown int_person_records columns: {sorted(unknown)}")
    record: Record = dict.fromkeys(PERSON_COLUMNS)
    record.update(
        record_key=f"{source}:{source_record_id}",
        source=source,
        source_record_id=source_record_id,
        country_code="DE",
        observed_at=datetime(2026, 11, 30),
    )
    record.update(fields)
    return record


def identifiers_of(records: list[Record]) -> list[Identifier]:
    """Derive the email and phone identifiers dbt writes for ``records``."""
    rows = []
    for record in records:
        for identifier_type in ("email", "phone"):
            value = record[identifier_type]
            if value is not None:
                rows.append((str(record["record_key"]), identifier_type, str(value)))
    return rows


def write_warehouse(
    con: duckdb.DuckDBPyConnection,
    records: list[Record],
    extra_identifiers: list[Identifier] = (),
    consents: dict[str, bool] | None = None,
) -> None:
    """Create both intermediate tables in ``con`` and fill them.

    With ``consents`` (record_key -> opted in or not), also create
    int_email_consent_signals with one signal per record.
    """
    con.execute("create schema if not exists intermediate")
    con.execute("""
        create or replace table intermediate.int_person_records (
            record_key varchar, source varchar, source_record_id varchar,
            first_name varchar, last_name varchar, email varchar, phone varchar,
            birth_date date, street varchar, postal_code varchar, city varchar,
            country_code varchar, observed_at timestamp
        )
    """)
    con.execute("""
        create or replace table intermediate.int_identifiers (
            record_key varchar, identifier_type varchar, identifier_value varchar
        )
    """)
    placeholders = ", ".join("?" for _ in PERSON_COLUMNS)
    if records:
        con.executemany(
            f"insert into intermediate.int_person_records values ({placeholders})",
            [[record[column] for column in PERSON_COLUMNS] for record in records],
        )
    identifiers = identifiers_of(records) + list(extra_identifiers)
    if identifiers:
        con.executemany(
            "insert into intermediate.int_identifiers values (?, ?, ?)", identifiers
        )
    if consents is not None:
        write_consent_signals(con, consents)


def write_consent_signals(
    con: duckdb.DuckDBPyConnection, consents: dict[str, bool]
) -> None:
    """Create int_email_consent_signals with one signal per record in ``consents``."""
    con.execute("""
        create or replace table intermediate.int_email_consent_signals (
            consent_signal_id varchar, record_key varchar, signal_source varchar,
            signal_at timestamp, is_consent boolean
        )
    """)
    if consents:
        con.executemany(
            "insert into intermediate.int_email_consent_signals "
            "values (?, ?, 'crm_opt_in', timestamp '2026-11-30', ?)",
            [[f"signal-{key}", key, value] for key, value in consents.items()],
        )


@pytest.fixture
def person_record() -> Callable[..., Record]:
    """``person_record(source, source_record_id, **columns)`` builds one record."""
    return make_person_record


@pytest.fixture
def synthetic_population() -> Callable[[int, int], list[Record]]:
    """``synthetic_population(people, seed)`` builds a noisy population."""
    return make_synthetic_population


@pytest.fixture
def warehouse(tmp_path) -> Iterator[duckdb.DuckDBPyConnection]:
    """An empty warehouse file, open for writing."""
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield con
    con.close()


@pytest.fixture
def build_warehouse(
    warehouse: duckdb.DuckDBPyConnection,
) -> Callable[..., duckdb.DuckDBPyConnection]:
    """Fill the test's warehouse with records and return its connection."""

    def build(
        records: list[Record],
        extra_identifiers: list[Identifier] = (),
        consents: dict[str, bool] | None = None,
    ) -> duckdb.DuckDBPyConnection:
        write_warehouse(warehouse, records, extra_identifiers, consents)
        return warehouse

    return build


FIRST_NAMES = (
    "Anna", "Jürgen", "Katharina", "Lukas", "Marie", "Paul", "Sophie", "Felix",
    "Emma", "Jonas", "Lea", "Leon", "Hannah", "Finn", "Mia", "Elias", "Lena", "Noah",
    "Laura", "Ben", "Sarah", "Tim", "Julia", "Max", "Nina", "Tom", "Clara", "Jan",
)  # fmt: skip
LAST_NAMES = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf",
    "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann",
    "Hartmann", "Lange", "Schmitt", "Werner", "Krause", "Meier", "Lehmann",
)  # fmt: skip
STREETS = (
    "Hauptstraße", "Bahnhofstraße", "Gartenweg", "Lindenallee", "Schulstraße",
    "Marktplatz", "Bergstraße", "Waldweg", "Kirchgasse", "Rosenstraße",
)  # fmt: skip
CITIES = (
    ("10115", "Berlin"), ("20095", "Hamburg"), ("80331", "München"),
    ("50667", "Köln"), ("60311", "Frankfurt am Main"), ("70173", "Stuttgart"),
    ("40213", "Düsseldorf"), ("04109", "Leipzig"), ("01067", "Dresden"),
)  # fmt: skip


def make_synthetic_population(people: int, seed: int) -> list[Record]:
    """Return CRM and shop records for ``people`` persons, with typical noise.

    Most persons have a CRM contact; many also order under a changed spelling or
    email, so every Splink training step finds pairs to learn from.
    """
    rng = random.Random(seed)
    records = []
    for person in range(people):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        postal_code, city = rng.choice(CITIES)
        street = f"{rng.choice(STREETS)} {rng.randint(1, 80)}"
        birth_date = date(1950, 1, 1) + timedelta(days=rng.randint(0, 18000))
        email = f"{first}.{last}{person}@example.de".lower()
        phone = f"+4917{rng.randint(10_000_000, 99_999_999)}"
        records.append(
            make_person_record(
                "crm_contacts",
                str(person),
                first_name=first,
                last_name=last,
                email=email,
                phone=phone,
                birth_date=birth_date,
                street=street,
                postal_code=postal_code,
                city=city,
            )
        )
        if rng.random() < 0.2:
            records.append(
                make_person_record(
                    "crm_contacts",
                    f"{person}-dup",
                    first_name=first,
                    last_name=last.replace("ü", "ue"),
                    birth_date=birth_date,
                    street=street.replace("straße", "str."),
                    postal_code=postal_code,
                    city=city,
                    phone=phone if rng.random() < 0.5 else None,
                )
            )
        for order in range(rng.choice((0, 1, 1, 2))):
            new_email = rng.random() < 0.3
            records.append(
                make_person_record(
                    "shop_orders",
                    f"#{person}-{order}",
                    first_name=first,
                    last_name=last,
                    street=street,
                    postal_code=postal_code,
                    city=city,
                    email=f"{first}{person}@mail.de".lower() if new_email else email,
                    phone=phone if rng.random() < 0.5 else None,
                )
            )
    return records
