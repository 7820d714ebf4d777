"""The Spark engine against the DuckDB engine, on the shipped sample.

Runs the real Dagster assets of ingestion and identity with ``CDP_ENGINE=spark``
and with ``CDP_ENGINE=duckdb``, on a local Spark session (local mode, Hive catalog
in a temporary folder), and compares what lands in Spark with what lands in DuckDB.
dbt builds the intermediate tables identity reads on DuckDB; they are copied to
Spark's ``intermediate`` database in place of dbt on Spark.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest

pytestmark = pytest.mark.skipif(
    shutil.which("java") is None,
    reason="no Java runtime on PATH; the Spark engine needs Java 17 or 21 "
    "(Debian: apt-get install openjdk-17-jre-headless)",
)
pytest.importorskip("pyspark", reason="pyspark is missing; install cdp[spark]")

from identity.assets import identity_resolution  # noqa: E402
from ingestion.assets import source_assets  # noqa: E402
from ingestion.sources import SOURCES  # noqa: E402
from ingestion.spark_mirror import (  # noqa: E402
    drop_spark_raw_tables,
    mirror_all_sources,
)
from orchestration.resources import DuckDBWarehouse  # noqa: E402
from orchestration.spark_tables import (  # noqa: E402
    copy_from_spark,
    copy_to_spark,
    duckdb_columns,
    spark_columns,
    spark_type,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_LANDING = ROOT / "data" / "landing"
DBT = Path(sys.executable).with_name("dbt")
RAW_TABLES = [
    *(f"raw.{s.table}" for s in SOURCES),
    *(f"raw.{s.table}__rejects" for s in SOURCES),
    "raw._load_log",
]
IDENTITY_INPUTS = [
    "intermediate.int_person_records",
    "intermediate.int_identifiers",
    "intermediate.int_email_consent_signals",
]
SNAPSHOT = "snapshots.segment_memberships_snapshot"
ERASED_CUSTOMER = "cust-erased"
KEPT_CUSTOMER = "cust-kept"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Iterator[Path]:
    """A temporary data folder with a copy of the sample extracts and Spark's folder."""
    root = tmp_path_factory.mktemp("spark_engine")
    shutil.copytree(SAMPLE_LANDING, root / "landing")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDP_LANDING_DIR", str(root / "landing"))
        patch.setenv("CDP_SPARK_DIR", str(root / "spark"))
        patch.setenv("CDP_REPORTS", str(root / "reports"))
        patch.setenv("CDP_RUN_DATE", "2026-11-30")
        patch.setenv("DAGSTER_HOME", str(root / "dagster"))
        # The session is cached per process; another test module may have
        # started it, so the tables these tests compare are dropped first.
        from orchestration.spark_session import spark_session

        spark = spark_session()
        drop_spark_raw_tables()
        for table in IDENTITY_INPUTS:
            spark.sql(f"drop table if exists {table}")
        spark.sql("drop database if exists identity cascade")
        yield root
        # Frees the JVM's memory for the test files that run after this one.
        spark.stop()
        spark_session.cache_clear()


def load_raw(warehouse: Path, engine: str) -> None:
    """Materialize every raw asset on ``engine`` into ``warehouse``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDP_ENGINE", engine)
        result = dg.materialize(
            source_assets,
            resources={"warehouse": DuckDBWarehouse(path=str(warehouse))},
        )
    assert result.success


def duckdb_counts(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            table: con.execute(f"select count(*) from {table}").fetchall()[0][0]
            for table in RAW_TABLES
        }


def spark_counts() -> dict[str, int]:
    from orchestration.spark_session import spark_session

    spark = spark_session()
    return {table: spark.table(table).count() for table in RAW_TABLES}


def spark_duplicate_rows(table: str) -> int:
    from orchestration.spark_session import spark_session

    row = spark_session().sql(
        f"select count(*) - count(distinct _file, _row_number) from {table}"
    )
    return row.collect()[0][0]


@pytest.fixture(scope="module")
def duckdb_engine_warehouse(workspace: Path) -> Path:
    """The sample loaded with the DuckDB engine, for reference."""
    warehouse = workspace / "duckdb_engine.duckdb"
    load_raw(warehouse, "duckdb")
    return warehouse


@pytest.fixture(scope="module")
def spark_engine_warehouse(workspace: Path, duckdb_engine_warehouse: Path) -> Path:
    """The sample loaded with the Spark engine: staging file plus Spark's raw."""
    warehouse = workspace / "spark_engine.duckdb"
    load_raw(warehouse, "spark")
    return warehouse


def test_spark_raw_counts_match_duckdb_engine(
    duckdb_engine_warehouse, spark_engine_warehouse
):
    expected = duckdb_counts(duckdb_engine_warehouse)

    assert spark_counts() == expected
    assert sum(expected.values()) > 20_000


def test_spark_raw_columns_match_duckdb(spark_engine_warehouse):
    from orchestration.spark_session import spark_session

    spark = spark_session()
    with duckdb.connect(str(spark_engine_warehouse), read_only=True) as con:
        for table in RAW_TABLES:
            expected = [(n, spark_type(t)) for n, t in duckdb_columns(con, table)]
            assert sorted(spark_columns(spark, table)) == sorted(expected), table


def test_loading_again_adds_no_spark_rows(spark_engine_warehouse):
    before = spark_counts()

    load_raw(spark_engine_warehouse, "spark")

    assert spark_counts() == before


def test_redelivered_extract_replaces_spark_rows(workspace, spark_engine_warehouse):
    extract = sorted((workspace / "landing" / "crm_contacts").glob("*.csv"))[0]
    lines = extract.read_text(encoding="utf-8").splitlines(keepends=True)
    extract.write_text("".join(lines[:-10]), encoding="utf-8")

    load_raw(spark_engine_warehouse, "spark")

    duckdb_rows = duckdb_counts(spark_engine_warehouse)
    assert spark_counts() == duckdb_rows
    assert duckdb_rows["raw.crm_contacts"] == len(lines) - 11
    assert spark_duplicate_rows("raw.crm_contacts") == 0


def create_spark_snapshot() -> None:
    """A segment membership snapshot in Spark, as Parquet: two rows of the erased
    customer (one closed, one current), one of another customer, one without id."""
    from orchestration.spark_session import spark_session

    spark = spark_session()
    spark.sql("create database if not exists snapshots")
    spark.sql(f"drop table if exists {SNAPSHOT}")
    spark.sql(
        f"create table {SNAPSHOT} using parquet as select * from values "
        f"('{ERASED_CUSTOMER}', 'lapsed_buyers', timestamp'2026-11-01 02:00:00'), "
        f"('{ERASED_CUSTOMER}', 'champions', null), "
        f"('{KEPT_CUSTOMER}', 'champions', null), "
        "(null, 'champions', null) "
        "as t(customer_id, segment_name, dbt_valid_to)"
    )


def test_erased_rows_leave_spark_raw_and_snapshot(spark_engine_warehouse):
    from orchestration.privacy.erasure import ErasureResult
    from orchestration.privacy.spark import erase_derived_rows
    from orchestration.spark_session import spark_session

    create_spark_snapshot()
    result = ErasureResult("request-1")
    with duckdb.connect(str(spark_engine_warehouse)) as con:
        con.execute("delete from raw.web_events where _row_number <= 5")
        # The scope that erasure._resolve_scope leaves for one request.
        con.execute(
            "create temp table _erasure_customers as select ? as customer_id",
            [ERASED_CUSTOMER],
        )
        con.execute("create temp table _erasure_keys (record_key varchar)")
        erase_derived_rows(con, result)
        results = {m.table: m.action for m in mirror_all_sources(con)}

    assert results["raw.web_events"] == "rewritten"
    assert results["raw.crm_contacts"] == "unchanged"
    assert spark_counts() == duckdb_counts(spark_engine_warehouse)
    erased = spark_session().sql(
        "select count(*) from raw.web_events where _row_number <= 5"
    )
    assert erased.collect()[0][0] == 0

    assert result.rows == {f"spark:{SNAPSHOT}": 2}
    rows = spark_session().sql(f"select customer_id from {SNAPSHOT}").collect()
    assert sorted((row[0] or "") for row in rows) == ["", KEPT_CUSTOMER]
    tables = [t.name for t in spark_session().catalog.listTables("snapshots")]
    assert tables == ["segment_memberships_snapshot"]


@pytest.fixture(scope="module")
def intermediate_warehouse(workspace: Path, duckdb_engine_warehouse: Path) -> Path:
    """A copy of the DuckDB-engine warehouse with the tables identity reads, by dbt."""
    warehouse = workspace / "dbt_built.duckdb"
    shutil.copyfile(duckdb_engine_warehouse, warehouse)
    command = [
        str(DBT),
        "build",
        "--select",
        "+int_person_records",
        "+int_identifiers",
        "+int_email_consent_signals",
        "--exclude",
        "resource_type:test",
        "resource_type:unit_test",
        "--project-dir",
        str(ROOT / "dbt_project"),
        "--profiles-dir",
        str(ROOT / "dbt_project"),
        "--target-path",
        str(workspace / "dbt_target"),
        "--log-path",
        str(workspace / "dbt_logs"),
    ]
    env = dict(os.environ, CDP_WAREHOUSE=str(warehouse), CDP_ENGINE="duckdb")
    result = subprocess.run(
        command, cwd=ROOT / "dbt_project", env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-4000:]
    return warehouse


def resolve(warehouse: Path, engine: str) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDP_ENGINE", engine)
        result = dg.materialize(
            [identity_resolution],
            resources={"warehouse": DuckDBWarehouse(path=str(warehouse))},
        )
    assert result.success


def partition(rows: list[tuple[str, str]]) -> set[frozenset[str]]:
    """Group (record_key, customer_id) rows into sets of record keys per customer."""
    customers: dict[str, set[str]] = {}
    for record_key, customer_id in rows:
        customers.setdefault(customer_id, set()).add(record_key)
    return {frozenset(records) for records in customers.values()}


@pytest.fixture(scope="module")
def identity_on_both(workspace: Path, intermediate_warehouse: Path) -> dict:
    """Identity resolved by the DuckDB engine and by the Spark engine."""
    duckdb_run = workspace / "identity_duckdb.duckdb"
    shutil.copyfile(intermediate_warehouse, duckdb_run)
    resolve(duckdb_run, "duckdb")

    # dbt on Spark would write these; here they come from the DuckDB build.
    with duckdb.connect(str(intermediate_warehouse), read_only=True) as con:
        for table in IDENTITY_INPUTS:
            copy_to_spark(con, table, table)
    spark_run = workspace / "identity_spark.duckdb"
    resolve(spark_run, "spark")
    return {"duckdb": duckdb_run, "spark": spark_run}


def test_spark_identity_assigns_records_like_duckdb(identity_on_both):
    query = "select record_key, customer_id from identity.record_customers"
    with duckdb.connect(str(identity_on_both["duckdb"]), read_only=True) as con:
        expected = partition(con.execute(query).fetchall())
    with duckdb.connect() as con:
        copy_from_spark(con, "identity.record_customers", "identity.record_customers")
        actual = partition(con.execute(query).fetchall())

    assert sum(len(customer) for customer in expected) > 8000
    assert actual == expected


def test_spark_identity_links_the_same_pairs(identity_on_both):
    query = (
        "select record_key_l, record_key_r, link_type from identity.match_pairs "
        "order by all"
    )
    with duckdb.connect(str(identity_on_both["duckdb"]), read_only=True) as con:
        expected = con.execute(query).fetchall()
    with duckdb.connect() as con:
        copy_from_spark(con, "identity.match_pairs", "identity.match_pairs")
        actual = con.execute(query).fetchall()

    assert any(link_type == "splink" for *_, link_type in expected)
    assert actual == expected


def test_spark_identity_tables_match_duckdb(identity_on_both):
    from orchestration.spark_session import spark_session

    spark = spark_session()
    with duckdb.connect(str(identity_on_both["spark"]), read_only=True) as con:
        tables = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'identity'"
            ).fetchall()
        ]
        for table in tables:
            name = f"identity.{table}"
            expected = [(n, spark_type(t)) for n, t in duckdb_columns(con, name)]
            assert spark_columns(spark, name) == expected, name
            rows = con.execute(f"select count(*) from {name}").fetchall()[0][0]
            assert spark.table(name).count() == rows, name

    assert "record_customers" in tables
    assert "customer_id_map" in tables
