"""Functional test: the analytics schema keeps every analysis and no contact data.

Runs on the ``small_warehouse`` fixture, the real dbt project built on the rows of
``test_dbt_project.py``. Each analytics model names its mart in ``meta: mart`` (and
``also_covers`` for marts whose columns it carries too). Every other mart needs a
reason below, so a new mart without an analytics counterpart fails here.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from orchestration import analyst_copy
from orchestration.analyst_copy import write_analyst_copy
from orchestration.privacy import store
from tests.pii_scan import collect_contact_values, columns_with_contact_values

SEGMENT_REASON = (
    "membership is in analytics.segment_memberships, the traits behind it in "
    "analytics.customers"
)
# Marts without an analytics model of their own, and why.
WITHOUT_COUNTERPART = {
    "customer_emails": "contact data; analytics.customers has has_email",
    "customer_phones": "contact data; analytics.customers has has_phone",
    "customer_addresses": "contact data; analytics.customers has country and "
    "postal region",
    "customer_golden_fields": "the golden record's values and their records",
    "customer_source_records": "contact data of each source record",
    "customer_record_fingerprints": "a hash per customer for incremental models",
    "customer_consent": "consent per channel is in analytics.customers, its "
    "history in analytics.consent_ledger",
    "customer_clv": "a Python asset's table; analytics.customers has its columns",
    "pseudonymized_events": "the rows of analytics.events, stored beside the raw "
    "event and customer ids",
    "pseudonymized_sessions": "the rows of analytics.sessions, stored beside the "
    "raw session, visitor and customer ids",
    "pseudonymized_customer_timeline": "the rows of analytics.customer_timeline, "
    "stored beside the raw touchpoint and customer ids",
    "customer_timeline_fingerprints": "a hash per customer for incremental models",
    "customer_touchpoints": "ephemeral: no table, the rows of customer_timeline",
    "fct_session_events": "its session, page, referrer host, UTM parameters and "
    "product are in analytics.events",
    **{
        f"segment_{name}": SEGMENT_REASON
        for name in (
            "browse_abandoners",
            "champions",
            "churn_risk_high_value",
            "engaged_non_buyers",
            "high_predicted_clv",
            "high_value_customers",
            "lapsed_buyers",
            "new_customers",
            "one_time_buyers",
            "unhappy_customers",
        )
    },
}


@pytest.fixture(scope="module")
def con(small_warehouse):
    with duckdb.connect(str(small_warehouse), read_only=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def manifest(small_warehouse) -> dict:
    return json.loads((small_warehouse.parent / "target" / "manifest.json").read_text())


def models_in(manifest: dict, layer: str) -> dict[str, dict]:
    return {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1] == layer
    }


def counterparts(manifest: dict) -> list[tuple[str, str, bool]]:
    """(analytics relation, mart, same rows) for every mart an analytics model covers."""
    pairs = []
    for node in models_in(manifest, "analytics").values():
        meta = node["config"]["meta"]
        pairs.append((node["alias"], meta["mart"], True))
        pairs += [(node["alias"], mart, False) for mart in meta.get("also_covers", [])]
    return pairs


def columns(con, schema: str, relation: str) -> dict[str, str]:
    rows = con.execute(
        "select column_name, data_type from duckdb_columns() "
        "where database_name = current_database() and schema_name = ? "
        "and table_name = ?",
        [schema, relation],
    ).fetchall()
    return dict(rows)


def count(con, relation: str) -> int:
    return con.execute(f"select count(*) from {relation}").fetchone()[0]


def test_every_mart_has_counterpart_or_reason(manifest):
    marts = set(models_in(manifest, "marts")) | {"customer_clv"}
    covered = {mart for _, mart, _ in counterparts(manifest)}

    assert sorted(marts - covered - set(WITHOUT_COUNTERPART)) == []
    assert sorted(set(WITHOUT_COUNTERPART) & covered) == []
    assert sorted(set(WITHOUT_COUNTERPART) - marts) == []


def test_analytics_relations_are_views(con):
    """The erasure step deletes rows from tables of the marts only; views of them
    need nothing, a table here would keep an erased person."""
    kinds = con.execute(
        "select table_type, count(*) from information_schema.tables "
        "where table_schema = 'analytics' and table_catalog = current_database() "
        "group by 1"
    ).fetchall()
    assert kinds == [("VIEW", 18)]


def test_row_counts_equal_marts(con, manifest):
    for relation, mart, same_rows in counterparts(manifest):
        if same_rows:
            assert count(con, f"analytics.{relation}") == count(con, f"marts.{mart}"), (
                relation
            )


def test_shared_columns_hold_mart_values(con, manifest):
    """Columns named as in the mart hold the mart's values, row for row."""
    compared = 0
    for relation, mart, same_rows in counterparts(manifest):
        analytics_columns = columns(con, "analytics", relation)
        shared = [
            f'"{name}"'
            for name, data_type in columns(con, "marts", mart).items()
            if analytics_columns.get(name) == data_type
        ]
        if not shared:
            continue
        compared += len(shared)
        listed = ", ".join(shared)
        missing = con.execute(
            f"select count(*) from (select {listed} from marts.{mart} "
            f"except all select {listed} from analytics.{relation})"
        ).fetchone()[0]
        assert missing == 0, f"{mart} rows missing from analytics.{relation}"
        if same_rows:
            extra = con.execute(
                f"select count(*) from (select {listed} from analytics.{relation} "
                f"except all select {listed} from marts.{mart})"
            ).fetchone()[0]
            assert extra == 0, f"analytics.{relation} rows not in {mart}"
    assert compared >= 200


def test_pseudonyms_keep_id_counts(con, manifest):
    """Each <entity>_id of a mart is an <entity>_pseudonym with as many distinct
    and non-null values, so no two ids share a pseudonym."""
    checked = 0
    for relation, mart, same_rows in counterparts(manifest):
        if not same_rows:
            continue
        analytics_columns = columns(con, "analytics", relation)
        for name in columns(con, "marts", mart):
            pseudonym = name.removesuffix("_id") + "_pseudonym"
            if not name.endswith("_id") or pseudonym not in analytics_columns:
                continue
            checked += 1
            sql = "select count(distinct {0}), count({0}) from {1}"
            assert con.execute(sql.format(name, f"marts.{mart}")).fetchone() == (
                con.execute(sql.format(pseudonym, f"analytics.{relation}")).fetchone()
            ), f"{relation}.{pseudonym}"
    assert checked >= 15


def test_no_contact_values_in_analytics(con):
    values, name_words = collect_contact_values(con)

    assert values >= 10
    assert name_words >= 8
    assert "customer_emails.email" in columns_with_contact_values(con, "marts")
    assert columns_with_contact_values(con, "analytics") == []


def test_no_direct_identifier_columns(con):
    names = {
        name
        for (name,) in con.execute(
            "select distinct column_name from duckdb_columns() "
            "where database_name = current_database() and schema_name = 'analytics'"
        ).fetchall()
    }
    forbidden = {
        "customer_id",
        "email",
        "phone",
        "first_name",
        "last_name",
        "street",
        "city",
        "postal_code",
        "birth_date",
        "subject",
        "detail",
        "record_key",
        "anonymous_id",
        "user_id",
        "page_url",
        "referrer",
    }
    assert sorted(names & forbidden) == []


def test_customer_pseudonym_is_hmac_of_id(con):
    key = con.execute(
        "select value from privacy.settings where name = 'pseudonym_key'"
    ).fetchone()[0]
    ids = [
        r[0]
        for r in con.execute("select customer_id from marts.dim_customers").fetchall()
    ]
    pseudonyms = {
        r[0]
        for r in con.execute(
            "select customer_pseudonym from analytics.customers"
        ).fetchall()
    }

    assert len(ids) == 6
    assert pseudonyms == {store.pseudonym(key, customer_id) for customer_id in ids}
    assert all(len(p) == 32 for p in pseudonyms)


def test_customers_coarsen_location_and_age(con):
    key = con.execute(
        "select value from privacy.settings where name = 'pseudonym_key'"
    ).fetchone()[0]
    anna = con.execute(
        "select country_code, postal_region, birth_year, age_band, has_email, "
        "order_count from analytics.customers where customer_pseudonym = ?",
        [store.pseudonym(key, "anna")],
    ).fetchone()
    # Anna: 10115 Berlin, born 1985-04-12, 41 on the as-of date 2026-11-22.
    assert anna == ("DE", "10", 1985, "35-44", True, 1)


@pytest.fixture
def writable_copy(small_warehouse, tmp_path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(small_warehouse, path)
    return path


def test_missing_key_fails_with_instructions(writable_copy):
    with duckdb.connect(str(writable_copy)) as con:
        con.execute("delete from privacy.settings where name = 'pseudonym_key'")
        with pytest.raises(duckdb.InvalidInputException, match="no pseudonym_key"):
            con.execute("select * from analytics.customers").fetchall()


def test_analyst_copy_contains_only_analytics(writable_copy, tmp_path):
    target = tmp_path / "analytics.duckdb"
    with duckdb.connect(str(writable_copy)) as con:
        write_analyst_copy(con, target)
        lines = []
        counts = write_analyst_copy(con, target, progress=lines.append)
        expected = {
            name: count(con, f'analytics."{name}"')
            for (name,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'analytics'"
            ).fetchall()
        }

    assert counts == expected
    assert [line.split(",")[0] for line in lines] == [
        f"analyst copy: {name}" for name in sorted(expected)
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "analytics.duckdb",
        "warehouse.duckdb",
    ]
    with duckdb.connect(str(target), read_only=True) as copy:
        tables = copy.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where database_name = 'analytics'"
        ).fetchall()
        assert {schema for schema, _ in tables} == {"main"}
        assert {name for _, name in tables} == set(expected)
        assert (
            copy.execute("select count(*) from analytics.customers").fetchone()[0]
            == expected["customers"]
        )
        undocumented = copy.execute(
            "select count(*) from duckdb_columns() "
            "where database_name = 'analytics' and comment is null"
        ).fetchone()[0]
        assert undocumented == 0
        other_schemas = copy.execute(
            "select schema_name from duckdb_schemas() where database_name = "
            "'analytics' and schema_name not in ('main', 'information_schema', "
            "'pg_catalog')"
        ).fetchall()
        assert other_schemas == []


def copied_rows(path: Path) -> dict[str, list[tuple]]:
    """Return every table of an analyst file with its rows, sorted."""
    with duckdb.connect(str(path), read_only=True) as copy:
        names = [n for (n,) in copy.execute("show tables").fetchall()]
        return {
            name: sorted(copy.execute(f'select * from "{name}"').fetchall(), key=repr)
            for name in names
        }


def test_analyst_copy_updates_changed_rows(writable_copy, tmp_path, monkeypatch):
    # The small warehouse has a few events, so one changed event is a large share.
    monkeypatch.setattr(analyst_copy, "MAX_CHANGED_SHARE", 1.0)
    target = tmp_path / "analytics.duckdb"
    with duckdb.connect(str(writable_copy)) as con:
        write_analyst_copy(con, target)
        # A later night: one event rewritten with a new value, one session and
        # one timeline row deleted by their models' post-hooks.
        con.execute(
            "update marts.pseudonymized_events set utm_source = 'later-night', "
            "_processed_at = _processed_at + interval 1 day "
            "where event_id = (select min(event_id) from marts.pseudonymized_events)"
        )
        con.execute(
            "delete from marts.pseudonymized_sessions "
            "where session_id = (select min(session_id) "
            "from marts.pseudonymized_sessions)"
        )
        con.execute(
            "delete from marts.pseudonymized_customer_timeline "
            "where touchpoint_id = (select min(touchpoint_id) "
            "from marts.pseudonymized_customer_timeline)"
        )
        lines = []
        write_analyst_copy(con, target, progress=lines.append)
        rewritten = tmp_path / "rewritten.duckdb"
        write_analyst_copy(con, rewritten)

    partial = {line.split(",")[0] for line in lines if "changed rows" in line}
    assert partial == {
        "analyst copy: events",
        "analyst copy: sessions",
        "analyst copy: customer_timeline",
    }
    assert any(", 1 changed rows written" in line for line in lines)
    updated, whole = copied_rows(target), copied_rows(rewritten)
    assert sorted(updated) == sorted(whole)
    for name in whole:
        assert updated[name] == whole[name], name


def test_analyst_copy_rewritten_after_file_change(writable_copy, tmp_path):
    target = tmp_path / "analytics.duckdb"
    with duckdb.connect(str(writable_copy)) as con:
        write_analyst_copy(con, target)
        os.utime(target, ns=(0, 0))
        lines = []
        write_analyst_copy(con, target, progress=lines.append)

    assert lines
    assert not [line for line in lines if "changed rows" in line]


def test_analyst_copy_rewrites_changed_view(writable_copy, tmp_path, monkeypatch):
    monkeypatch.setattr(analyst_copy, "MAX_CHANGED_SHARE", 1.0)
    target = tmp_path / "analytics.duckdb"
    with duckdb.connect(str(writable_copy)) as con:
        write_analyst_copy(con, target)
        # A deploy changes how the view computes a column. The stored rows stay.
        sql = con.execute(
            "select sql from duckdb_views() "
            "where schema_name = 'analytics' and view_name = 'events'"
        ).fetchone()[0]
        changed = sql.replace(
            "stored_events.utm_source,",
            "upper(stored_events.utm_source) as utm_source,",
            1,
        )
        assert changed != sql
        con.execute(changed.replace("CREATE VIEW", "CREATE OR REPLACE VIEW", 1))
        con.execute("comment on column analytics.sessions.channel is 'Changed.'")
        lines = []
        write_analyst_copy(con, target, progress=lines.append)
        rewritten = tmp_path / "rewritten.duckdb"
        write_analyst_copy(con, rewritten)

    partial = {line.split(",")[0] for line in lines if "changed rows" in line}
    assert partial == {"analyst copy: customer_timeline"}
    assert copied_rows(target) == copied_rows(rewritten)
    with duckdb.connect(str(target), read_only=True) as copy:
        comment = copy.execute(
            "select comment from duckdb_columns() "
            "where table_name = 'sessions' and column_name = 'channel'"
        ).fetchone()[0]
    assert comment == "Changed."
