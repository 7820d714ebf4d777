"""Unit tests for the contact-field normalizers in ingestion.normalize."""

from __future__ import annotations

import duckdb
import pytest

from ingestion import normalize
from ingestion.dbt_udfs import FUNCTIONS, register_functions


@pytest.mark.parametrize(
    "written",
    [
        "030 1234567",
        "+49 30 1234567",
        "0049 30 1234567",
        "+49 (0)30 1234567",
        "(030) 123 45-67",
        "030/1234567",
    ],
)
def test_german_phone_formats_give_same_e164(written):
    assert normalize.normalize_phone(written, "DE") == "+49301234567"


def test_phone_defaults_to_germany():
    assert normalize.normalize_phone("0151 23456789", None) == "+4915123456789"


def test_austrian_phone_in_austrian_region():
    assert normalize.normalize_phone("0664 1234567", "AT") == "+436641234567"
    assert normalize.normalize_phone("+43 1 5124567", "DE") == "+4315124567"


def test_swiss_phone_in_swiss_region():
    assert normalize.normalize_phone("044 668 18 00", "CH") == "+41446681800"
    assert normalize.normalize_phone("0041 44 668 18 00", "DE") == "+41446681800"


def test_phone_candidate_regions_prefer_first():
    assert normalize.normalize_phone("030 1234567", "DE,AT,CH") == "+49301234567"


def test_phone_candidate_regions_take_unique_match():
    assert normalize.normalize_phone("078 765 10 14", "DE,AT,CH") == "+41787651014"
    assert normalize.normalize_phone("01 328 72 05", "DE,AT,CH") == "+4313287205"


def test_phone_candidate_regions_reject_ambiguous():
    # Valid as a Graz number in Austria and as a Bern number in Switzerland.
    assert normalize.normalize_phone("0316 204055", "DE,AT,CH") is None


def test_same_national_number_depends_on_region():
    assert normalize.normalize_phone("044 668 18 00", "CH") == "+41446681800"
    assert normalize.normalize_phone("044 668 18 00", "DE") != "+41446681800"


@pytest.mark.parametrize(
    "junk", [None, "", "   ", "n/a", "keine Angabe", "123", "0000000000", "+49 123"]
)
def test_phone_junk_gives_none(junk):
    assert normalize.normalize_phone(junk, "DE") is None


def test_phone_unknown_region_gives_none():
    assert normalize.normalize_phone("030 1234567", "XX") is None


def test_email_lower_cased_and_trimmed():
    assert (
        normalize.normalize_email("  Anna.Mueller@Example.DE ")
        == "anna.mueller@example.de"
    )
    assert normalize.normalize_email("mailto:anna@example.de") == "anna@example.de"


@pytest.mark.parametrize(
    "invalid",
    [
        None,
        "",
        "anna",
        "anna@",
        "@example.de",
        "anna@example",
        "a..b@example.de",
        "anna mueller@example.de",
    ],
)
def test_invalid_email_gives_none(invalid):
    assert normalize.normalize_email(invalid) is None


def test_name_whitespace_collapsed():
    assert normalize.normalize_name("  Anna   Maria ") == "Anna Maria"


def test_name_in_one_case_gets_display_case():
    assert normalize.normalize_name("anna-lena") == "Anna-Lena"
    assert normalize.normalize_name("MÜLLER") == "Müller"
    assert normalize.normalize_name("frankfurt am main") == "Frankfurt am Main"
    assert normalize.normalize_name("hauptstraße 5a") == "Hauptstraße 5a"


def test_name_in_mixed_case_kept():
    assert normalize.normalize_name("McDonald") == "McDonald"
    assert normalize.normalize_name("von Bülow") == "von Bülow"


def test_blank_name_gives_none():
    assert normalize.normalize_name("   ") is None
    assert normalize.normalize_name(None) is None


@pytest.mark.parametrize(
    ("full_name", "expected"),
    [
        ("Anna Müller", ("Anna", "Müller")),
        ("  anna   müller ", ("Anna", "Müller")),
        ("Dr. Anna Maria Schmidt", ("Anna Maria", "Schmidt")),
        ("Dipl.-Ing. Martha Nohlmans B.Sc.", ("Martha", "Nohlmans")),
        ("Ing. Orhan Herrmann MBA.", ("Orhan", "Herrmann")),
        ("Ursula von der Leyen", ("Ursula", "von der Leyen")),
        ("Müller, Anna", ("Anna", "Müller")),
        ("Anna-Katrin Trommler-Wulff", ("Anna-Katrin", "Trommler-Wulff")),
        ("Cher", ("Cher", None)),
        (None, (None, None)),
    ],
)
def test_split_full_name(full_name, expected):
    assert normalize.split_full_name(full_name) == expected


@pytest.mark.parametrize(
    ("value", "country", "expected"),
    [
        ("10115", "DE", "10115"),
        ("1067", "DE", "01067"),
        ("'01067", "DE", "01067"),
        ("10115.0", "DE", "10115"),
        ("D-10115", "DE", "10115"),
        ("1010", "AT", "1010"),
        ("A-1010", "AT", "1010"),
        ("8001", "CH", "8001"),
        ("123", "DE", None),
        ("101155", "DE", None),
        ("10115", "AT", None),
        ("abcde", "DE", None),
        ("1234 ab", "NL", "1234 AB"),
        ("  SW1A  1AA ", None, "SW1A 1AA"),
        (None, "DE", None),
    ],
)
def test_postal_codes(value, country, expected):
    assert normalize.normalize_postal_code(value, country) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Deutschland", "DE"),
        ("Germany", "DE"),
        ("DE", "DE"),
        ("deu", "DE"),
        ("Österreich", "AT"),
        ("Oesterreich", "AT"),
        ("Austria", "AT"),
        ("Schweiz", "CH"),
        ("Switzerland", "CH"),
        ("ch", "CH"),
        ("UK", "GB"),
        (" france ", "FR"),
        ("Atlantis", None),
        ("", None),
        (None, None),
    ],
)
def test_country_names_and_aliases(value, expected):
    assert normalize.normalize_country(value) == expected


def test_duckdb_functions_pass_nulls_through():
    with duckdb.connect() as con:
        register_functions(con)
        row = con.execute(
            "select cdp_normalize_phone(null, 'DE'), cdp_normalize_phone('030 1234567', null), "
            "cdp_normalize_email(null), cdp_normalize_country('Schweiz'), "
            "cdp_normalize_postal_code('1067', 'DE'), "
            "cdp_first_name_from_full_name('Dr. Lena Schmidt'), "
            "cdp_last_name_from_full_name(null)"
        ).fetchone()
    assert row == (None, "+49301234567", None, "CH", "01067", "Lena", None)


def test_duckdb_functions_register_twice():
    with duckdb.connect() as con:
        register_functions(con)
        register_functions(con)
        result = con.execute("select cdp_normalize_name('BERLIN')").fetchone()
    assert result == ("Berlin",)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_normalizer_of_none_is_none(name):
    # The DuckDB wrapper skips rows whose first argument is null and relies on this.
    function, arity = FUNCTIONS[name]
    if arity == 1:
        assert function(None) is None
    else:
        assert function(None, None) is None
        assert function(None, "DE") is None


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_duckdb_functions_match_python_row_by_row(name):
    function, arity = FUNCTIONS[name]
    values = ["030 1234567", " ANNA-LENA ", "Dr. Lena von Berg", "1067", "Österreich"]
    # Three blocks of 2,048 rows, the size of a DuckDB vector: mixed nulls, only
    # nulls, no nulls.
    rows = [
        (values[i % 5] if i % 3 else None, "DE" if i % 2 else None) for i in range(2048)
    ]
    rows += [(None, "AT")] * 2048
    rows += [(values[i % 5], None) for i in range(2048)]
    arguments = "value" if arity == 1 else "value, region"
    with duckdb.connect() as con:
        register_functions(con)
        con.execute("create table t (position integer, value varchar, region varchar)")
        con.executemany(
            "insert into t values (?, ?, ?)",
            [(i, *row) for i, row in enumerate(rows)],
        )
        result = con.execute(
            f"select {name}({arguments}) from t order by position"
        ).fetchall()
    expected = [function(*row[:arity]) for row in rows]
    assert [value for (value,) in result] == expected
