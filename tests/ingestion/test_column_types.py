"""Typed contract columns: format options, reject reasons and raw column types."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ingestion.column_types import number_pattern
from ingestion.loader import ContractChangedError, load_source
from ingestion.sources import SHOP_ORDERS, Source

# A German ERP export: semicolons, Latin-1, decimal comma, thousands dots and
# day-first dates.
GERMAN_ORDERS = Source(
    name="erp_orders",
    description="Order export of a German ERP system.",
    file_pattern="erp_orders_*.csv",
    file_format="csv",
    columns={
        "Belegnummer": "order_id",
        "Kunde": "customer_name",
        "Betrag": "amount",
        "Menge": "quantity",
        "Belegdatum": "order_date",
        "Storniert": "is_cancelled",
    },
    required=("order_id",),
    key=("order_id",),
    delimiter=";",
    encoding="latin-1",
    types={
        "amount": "decimal",
        "quantity": "integer",
        "order_date": "date",
        "is_cancelled": "boolean",
    },
    decimal_separator=",",
    thousands_separator=".",
    date_format="%d.%m.%Y",
)

HEADER = "Belegnummer;Kunde;Betrag;Menge;Belegdatum;Storniert"


@pytest.fixture
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


def write_erp(landing: Path, name: str, lines: list[str]) -> None:
    folder = landing / GERMAN_ORDERS.landing_folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(("\r\n".join(lines) + "\r\n").encode("latin-1"))


def test_german_numbers_and_dates_parse(con, tmp_path):
    landing = tmp_path / "landing"
    write_erp(
        landing,
        "erp_orders_2026-11-30.csv",
        [
            HEADER,
            "A-1;Jörg Weiß;1.234,56;2;05.11.2026;nein",
            "A-2;Anna Groß;49,90;1.000;30.11.2026;ja",
            "A-3;Ute Ölmann;-0,5;;;",
        ],
    )

    [result] = load_source(con, GERMAN_ORDERS, landing)

    assert result.status == "loaded"
    assert result.rows_loaded == 3
    assert result.rows_rejected == 0
    rows = con.execute(
        "select order_id, customer_name, amount, quantity, order_date, is_cancelled "
        "from raw.erp_orders order by order_id"
    ).fetchall()
    assert rows[0] == (
        "A-1",
        "Jörg Weiß",
        Decimal("1234.56"),
        2,
        date(2026, 11, 5),
        False,
    )
    assert rows[1][2:] == (Decimal("49.90"), 1000, date(2026, 11, 30), True)
    assert rows[2][2:] == (Decimal("-0.5"), None, None, None)


def test_raw_columns_take_contract_types(con, tmp_path):
    landing = tmp_path / "landing"
    write_erp(landing, "erp_orders_2026-11-30.csv", [HEADER])

    [result] = load_source(con, GERMAN_ORDERS, landing)

    assert result.rows_read == 0
    types = dict(
        con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'raw' and table_name = 'erp_orders'"
        ).fetchall()
    )
    assert types["amount"] == "DECIMAL(38,9)"
    assert types["quantity"] == "BIGINT"
    assert types["order_date"] == "DATE"
    assert types["is_cancelled"] == "BOOLEAN"
    assert types["customer_name"] == "VARCHAR"


def test_unparsable_values_rejected_with_reason(con, tmp_path):
    landing = tmp_path / "landing"
    write_erp(
        landing,
        "erp_orders_2026-11-30.csv",
        [
            HEADER,
            "B-1;Ok;10,00;1;01.11.2026;nein",
            # Dot as decimal separator in a comma export: 12.34 is not a valid
            # grouping, so it must not become 1234.
            "B-2;Wrong separator;12.34;1;01.11.2026;nein",
            "B-3;ISO date;10,00;1;2026-11-01;nein",
            "B-4;Two errors;zehn;1,5;01.11.2026;vielleicht",
        ],
    )

    [result] = load_source(con, GERMAN_ORDERS, landing)

    assert result.rows_read == 4
    assert result.rows_loaded == 1
    assert result.rows_rejected == 3
    rejects = dict(
        con.execute(
            "select line_number, reason from raw.erp_orders__rejects"
        ).fetchall()
    )
    assert set(rejects) == {2, 3, 4}
    assert "invalid value in amount" in rejects[2]
    assert "decimal separator ','" in rejects[2]
    assert "invalid value in order_date" in rejects[3]
    assert "%d.%m.%Y" in rejects[3]
    assert "invalid value in amount" in rejects[4]
    assert "invalid value in quantity" in rejects[4]
    assert "invalid value in is_cancelled" in rejects[4]


def test_changed_contract_type_asks_for_full_refresh(con, tmp_path):
    con.execute("create schema raw")
    con.execute(
        "create table raw.erp_orders (order_id varchar, customer_name varchar, "
        "amount varchar, quantity varchar, order_date varchar, "
        "is_cancelled varchar, _file varchar, _row_number bigint, "
        "_file_sha256 varchar, _loaded_at timestamp)"
    )

    with pytest.raises(ContractChangedError, match="--full-refresh") as error:
        load_source(con, GERMAN_ORDERS, tmp_path / "landing")

    assert "amount is VARCHAR, contract says DECIMAL(38,9)" in str(error.value)


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("1.234.567,89", True),
        ("1234567,89", True),
        ("12.34", False),
        ("1.2345,6", False),
        ("1,234.56", False),
        (",5", False),
        ("+7", True),
    ],
)
def test_grouped_number_pattern(text, valid):
    pattern = number_pattern(GERMAN_ORDERS, integer=False)

    assert bool(re.fullmatch(pattern, text)) is valid


def test_contract_rejects_unknown_type_column():
    with pytest.raises(ValueError, match="outside the contract: amount"):
        Source(
            name="bad",
            description="",
            file_pattern="bad_*.csv",
            file_format="csv",
            columns={"Id": "id"},
            required=("id",),
            key=("id",),
            types={"amount": "decimal"},
        )


def test_shop_contract_types_money_columns():
    assert SHOP_ORDERS.column_type("total") == "decimal"
    assert SHOP_ORDERS.column_type("lineitem_quantity") == "integer"
    assert SHOP_ORDERS.column_type("email") == "text"


def test_contract_column_added_to_old_table(con, tmp_path):
    con.execute("create schema raw")
    con.execute(
        "create table raw.erp_orders (order_id varchar, customer_name varchar, "
        "amount decimal(38, 9), quantity bigint, order_date date, "
        "_file varchar, _row_number bigint, _file_sha256 varchar, "
        "_loaded_at timestamp)"
    )
    con.execute("insert into raw.erp_orders (order_id) values ('OLD-1')")
    landing = tmp_path / "landing"
    write_erp(landing, "erp_orders_2026-11-30.csv", [HEADER, "C-1;X;1,00;1;;ja"])

    [result] = load_source(con, GERMAN_ORDERS, landing)

    assert result.rows_loaded == 1
    rows = con.execute(
        "select order_id, is_cancelled from raw.erp_orders order by order_id"
    ).fetchall()
    assert rows == [("C-1", True), ("OLD-1", None)]
