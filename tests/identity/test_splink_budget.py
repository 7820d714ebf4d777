"""The comparison budget that predict_links checks before scoring any pair."""

from __future__ import annotations

import dataclasses

import duckdb
import pytest
from splink import block_on

from identity.scratch import scratch_database
from identity.splink_model import (
    MATCHING_RECORDS,
    SCORED_PAIRS,
    SPLINK_LINKS,
    ComparisonBudgetExceededError,
    comparison_budget,
    count_comparisons,
    create_linker,
    max_comparisons_from_block_sizes,
    model_settings,
    predict_links,
    skip_identifier_linked_pairs,
)

RECORDS = 20_000
# 40% john and 40% mary (8,000 records each) and 20% jane (4,000 records), so
# blocking on first name alone pairs 2 x 8000 x 7999 / 2 + 4000 x 3999 / 2 records.
FIRST_NAME_COMPARISONS = 71_990_000


@pytest.fixture
def splink_cursor() -> duckdb.DuckDBPyConnection:
    with duckdb.connect() as con, scratch_database(con) as cursor:
        con.execute(f"""
            create table {MATCHING_RECORDS} as
            select
                'rec:' || i as record_key,
                case
                    when i % 5 < 2 then 'john'
                    when i % 5 < 4 then 'mary'
                    else 'jane'
                end as first_name,
                'surname' || (i % 997) as last_name,
                date '1950-01-01' + cast(i % 18000 as integer) as birth_date,
                'street ' || (i % 400) as street,
                lpad(cast(i % 9000 as varchar), 5, '0') as postal_code,
                'city' || (i % 50) as city,
                'user' || i || '@example.com' as email,
                '+4917' || (10000000 + i) as phone,
                'user' || i as email_local_part,
                i % 3 as identifier_component
            from range({RECORDS}) as t(i)
        """)
        yield cursor


def first_name_only_settings():
    return dataclasses.replace(
        model_settings(),
        blocking_rules_to_generate_predictions=[block_on("first_name")],
    )


def scratch_tables(cursor: duckdb.DuckDBPyConnection) -> set[str]:
    rows = cursor.execute(
        "select table_name from information_schema.tables "
        "where table_catalog = current_database()"
    ).fetchall()
    return {row[0] for row in rows}


def test_rule_over_budget_is_rejected_before_prediction(splink_cursor):
    linker = create_linker(splink_cursor, first_name_only_settings())

    with pytest.raises(ComparisonBudgetExceededError) as raised:
        predict_links(linker, splink_cursor, threshold=0.9)

    message = str(raised.value)
    assert 'l."first_name" = r."first_name"' in message
    assert "71,990,000" in message
    assert f"{comparison_budget(RECORDS):,}" in message
    tables = scratch_tables(splink_cursor)
    assert not any("predict" in name for name in tables)
    assert SPLINK_LINKS.rsplit(".", 1)[1] not in tables
    assert SCORED_PAIRS.rsplit(".", 1)[1] not in tables


def test_exact_count_includes_skipped_pairs(splink_cursor):
    # Skipping pairs inside identifier components leaves the blocking join as
    # large as before, so the budget still counts every pair the join generates.
    settings = first_name_only_settings().create_settings_dict("duckdb")
    linker = create_linker(splink_cursor, skip_identifier_linked_pairs(settings))

    counts = count_comparisons(linker, splink_cursor)

    assert counts == [('l."first_name" = r."first_name"', FIRST_NAME_COMPARISONS)]


def test_budget_defaults_to_multiple_of_records():
    assert comparison_budget(1_000) == 1_000_000
    assert comparison_budget(100_000) == 5_000_000


def test_budget_reads_environment(monkeypatch):
    monkeypatch.setenv("CDP_IDENTITY_MAX_COMPARISONS", "2e8")

    assert comparison_budget(20_000) == 200_000_000


def test_budget_rejects_invalid_setting(monkeypatch):
    monkeypatch.setenv("CDP_IDENTITY_MAX_COMPARISONS", "lots")

    with pytest.raises(ValueError, match="CDP_IDENTITY_MAX_COMPARISONS"):
        comparison_budget(20_000)


def test_rule_set_within_budget_is_scored(splink_cursor):
    linker = create_linker(splink_cursor, model_settings())

    predict_links(linker, splink_cursor, threshold=0.9, max_comparisons=10**9)

    tables = scratch_tables(splink_cursor)
    assert SPLINK_LINKS.rsplit(".", 1)[1] in tables
    assert SCORED_PAIRS.rsplit(".", 1)[1] in tables


def test_block_size_bound_is_at_least_exact_count(splink_cursor):
    linker = create_linker(splink_cursor, model_settings())

    bounds = max_comparisons_from_block_sizes(linker, splink_cursor)
    exact = count_comparisons(linker, splink_cursor)

    assert [rule for rule, _ in bounds] == [rule for rule, _ in exact]
    assert sum(count for _, count in bounds) >= sum(count for _, count in exact)
    first_rule_exact = exact[0][1]
    assert bounds[0][1] >= first_rule_exact


def test_block_size_bound_is_exact_for_one_rule(splink_cursor):
    linker = create_linker(splink_cursor, first_name_only_settings())

    bounds = max_comparisons_from_block_sizes(linker, splink_cursor)

    # Self-pairs count in the block sizes, so the bound is half a pair per record
    # above the exact count.
    assert bounds[0][1] == FIRST_NAME_COMPARISONS + RECORDS // 2
