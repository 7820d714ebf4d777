"""Search a warehouse's relations for the contact values of its own staging tables.

The values come from the staging models, so a test that uses this module checks
real data, not a list typed into the test: every email address, phone number,
street and ticket subject or description of a staging column, and every word of
three or more letters of a first, last or full name. A value counts as found when a cell contains an email address,
phone number or street, or has a name word as one of its words. Nothing found is
printed: a failure names the relation and column only.
"""

from __future__ import annotations

import duckdb

# Staging columns with contact values: the source's own name for them or with a
# prefix (billing_street, traits_email, requester_phone), and the ticket text.
CONTACT_COLUMN = r"(^|_)(email|email_address|phone|street)$|^(subject|description)$"
NAME_COLUMN = r"(^|_)(first_name|last_name|full_name)$|^requester_name$"
# Words of a name: runs of letters. Shorter words ("Dr", "Li") are left out,
# because they occur inside ordinary words too often to mean anything.
MIN_NAME_WORD = 3
MIN_VALUE = 5


def _staging_columns(con: duckdb.DuckDBPyConnection, pattern: str) -> list[tuple]:
    return con.execute(
        "select table_name, column_name from duckdb_columns() "
        "where database_name = current_database() and schema_name = 'staging' "
        "and data_type = 'VARCHAR' and regexp_matches(column_name, ?) order by 1, 2",
        [pattern],
    ).fetchall()


def collect_contact_values(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """Fill the temp tables ``_contact_values`` and ``_name_words`` from staging
    and return how many of each there are."""
    values = [
        f'select lower(trim("{column}")) as value from staging."{table}"'
        for table, column in _staging_columns(con, CONTACT_COLUMN)
    ]
    names = [
        f'select "{column}" as name from staging."{table}"'
        for table, column in _staging_columns(con, NAME_COLUMN)
    ]
    con.execute(
        "create or replace temp table _contact_values as select distinct value "
        f"from ({' union all '.join(values)}) where length(value) >= {MIN_VALUE}"
    )
    con.execute(
        "create or replace temp table _name_words as select distinct word from ("
        "select unnest(regexp_split_to_array(lower(name), '[^\\p{L}]+')) as word "
        f"from ({' union all '.join(names)})) where length(word) >= {MIN_NAME_WORD}"
    )
    return (
        con.execute("select count(*) from _contact_values").fetchone()[0],
        con.execute("select count(*) from _name_words").fetchone()[0],
    )


def columns_with_contact_values(
    con: duckdb.DuckDBPyConnection, schema: str, database: str | None = None
) -> list[str]:
    """Return ``relation.column`` for every column of ``schema`` (in ``database``,
    the current one by default) that contains a collected value."""
    database = database or con.execute("select current_database()").fetchone()[0]
    columns = con.execute(
        "select table_name, column_name from duckdb_columns() "
        "where database_name = ? and schema_name = ? order by 1, 2",
        [database, schema],
    ).fetchall()
    hits = []
    for table, column in columns:
        cell = f'lower(cast("{column}" as varchar))'
        relation = f'"{database}"."{schema}"."{table}"'
        contained = con.execute(
            f"select count(*) from {relation} where exists (select 1 from "
            f"_contact_values where contains({cell}, _contact_values.value))"
        ).fetchone()[0]
        named = con.execute(
            "select count(*) from (select unnest(regexp_split_to_array("
            f"{cell}, '[^\\p{{L}}]+')) as word from {relation}) "
            "where word in (select word from _name_words)"
        ).fetchone()[0]
        if contained or named:
            hits.append(f"{table}.{column}")
    return hits
