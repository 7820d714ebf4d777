"""Typed contract columns: parse exported text with the source's format options.

Readers stage every column as text. A contract may type a column as ``integer``,
``decimal``, ``date``, ``timestamp`` or ``boolean``. ``apply_column_types`` parses such
columns with the source's separators and date formats and leaves the parsed values in
the staged rows. A row whose value does not parse moves to the rejects, with the
column and the expected format. Blank text becomes null and is not an error, because
the contract's ``required`` list decides whether a column may be blank.
"""

from __future__ import annotations

import re

import duckdb

from ingestion.sources import Source

# Wide enough for amounts in any currency; a value with more than 9 decimals is
# rejected rather than rounded.
DECIMAL_TYPE = "decimal(38, 9)"

SQL_TYPES = {
    "text": "varchar",
    "integer": "bigint",
    "decimal": DECIMAL_TYPE,
    "date": "date",
    "timestamp": "timestamptz",
    "boolean": "boolean",
}

TRUE_SPELLINGS = ("true", "t", "yes", "y", "ja", "j", "1", "x")
FALSE_SPELLINGS = ("false", "f", "no", "n", "nein", "0")


def sql_type(source: Source, raw_column: str) -> str:
    return SQL_TYPES[source.column_type(raw_column)]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def number_pattern(source: Source, integer: bool) -> str:
    """Regular expression for a number as the source writes it.

    With a thousands separator, digits before the decimal separator are either
    ungrouped (``1234``) or grouped in threes (``1.234``), so ``12.34`` in a German
    export is rejected instead of read as 1234.
    """
    decimal = re.escape(source.decimal_separator)
    fraction = "" if integer else f"({decimal}[0-9]{{1,9}})?"
    whole = "[0-9]+"
    if source.thousands_separator:
        thousands = re.escape(source.thousands_separator)
        whole = f"([0-9]+|[0-9]{{1,3}}({thousands}[0-9]{{3}})+)"
    return f"^[+-]?{whole}{fraction}$"


def _number_sql(source: Source, text: str, integer: bool) -> str:
    canonical = text
    if source.thousands_separator:
        canonical = f"replace({canonical}, {_quote(source.thousands_separator)}, '')"
    if source.decimal_separator != ".":
        canonical = f"replace({canonical}, {_quote(source.decimal_separator)}, '.')"
    target = "bigint" if integer else DECIMAL_TYPE
    pattern = _quote(number_pattern(source, integer))
    return (
        f"case when regexp_full_match({text}, {pattern}) "
        f"then try_cast({canonical} as {target}) end"
    )


def parse_sql(source: Source, raw_column: str) -> str:
    """SQL that parses one staged text column; null when the text does not parse."""
    column_type = source.column_type(raw_column)
    text = f"nullif(trim(\"{raw_column}\"), '')"
    if column_type == "text":
        return f'"{raw_column}"'
    if column_type in ("integer", "decimal"):
        return _number_sql(source, text, integer=column_type == "integer")
    if column_type == "date":
        if source.date_format:
            return f"try_strptime({text}, {_quote(source.date_format)})::date"
        return f"try_cast({text} as date)"
    if column_type == "timestamp":
        if source.timestamp_format:
            return (
                f"try_strptime({text}, {_quote(source.timestamp_format)})::timestamptz"
            )
        return f"try_cast({text} as timestamptz)"
    true_list = ", ".join(_quote(s) for s in TRUE_SPELLINGS)
    false_list = ", ".join(_quote(s) for s in FALSE_SPELLINGS)
    return (
        f"case when lower({text}) in ({true_list}) then true "
        f"when lower({text}) in ({false_list}) then false end"
    )


def expected_format(source: Source, raw_column: str) -> str:
    """Describe the format a typed column expects, for reject reasons."""
    column_type = source.column_type(raw_column)
    if column_type in ("integer", "decimal"):
        parts = [f"decimal separator {source.decimal_separator!r}"]
        if source.thousands_separator:
            parts.append(f"thousands separator {source.thousands_separator!r}")
        return f"{column_type} with " + " and ".join(parts)
    if column_type == "date":
        return f"date as {source.date_format or 'ISO 8601 (YYYY-MM-DD)'}"
    if column_type == "timestamp":
        return f"timestamp as {source.timestamp_format or 'ISO 8601'}"
    return "boolean (true/false, yes/no, ja/nein, 1/0)"


def apply_column_types(
    con: duckdb.DuckDBPyConnection, source: Source, rows: str, rejects: str
) -> None:
    """Parse the typed columns of the staged rows in place, rejecting rows that fail.

    A row with several invalid values is rejected once, with every reason.
    """
    typed = [c for c in source.raw_columns if source.column_type(c) != "text"]
    if not typed:
        return

    failures = " || ".join(
        f"case when nullif(trim(\"{c}\"), '') is not null and ({parse_sql(source, c)}) "
        f"is null then {_quote(f'invalid value in {c}: expected ' + expected_format(source, c) + '; ')} "
        "else '' end"
        for c in typed
    )
    con.execute(
        f"create or replace temp table _typing_failures as "
        f"select _row_number, rtrim({failures}, '; ') as reason "
        f"from {rows}"
    )
    con.execute(
        f"insert into {rejects} "
        f"select t._row_number, to_json(t)::varchar, f.reason from {rows} as t "
        "join _typing_failures as f using (_row_number) where f.reason <> ''"
    )
    con.execute(
        f"delete from {rows} where _row_number in "
        "(select _row_number from _typing_failures where reason <> '')"
    )
    replacements = ", ".join(f'{parse_sql(source, c)} as "{c}"' for c in typed)
    con.execute(
        f"create or replace temp table {rows} as "
        f"select * replace ({replacements}) from {rows}"
    )
    con.execute("drop table _typing_failures")
