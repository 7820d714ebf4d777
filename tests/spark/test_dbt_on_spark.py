"""Functional test: the dbt project on Spark gives the same tables as on DuckDB.

The small warehouse of ``tests/small_warehouse.py`` is built on DuckDB. Its raw
tables and the identity step's tables go to a local Spark catalog through Parquet
files, its pseudonym key goes to Spark's ``privacy.settings`` as the erasure step
copies it, and ``dbt build`` runs on the ``spark`` target: seeds, models, the
snapshot, data tests and unit tests. Then every table and view in staging,
intermediate, marts and analytics is compared row by row, reading Spark's Parquet
files with DuckDB; the Spark process exports the rows of its views as Parquet
first. The times of snapshot runs differ between the two builds, so those columns
are left out.

A second ``dbt snapshot`` on Spark, after one membership is removed and one added,
checks the snapshot's rewrite of a Parquet table.

Then the destination assets and the analyst file asset run on both builds: with
``CDP_ENGINE=spark`` in the Spark process, which copies the audiences and the
analytics views from Spark into DuckDB files, and with ``CDP_ENGINE=duckdb`` on a
copy of the small warehouse. The audience files of both outboxes must be byte for
byte the same, and the two analyst files must hold the same tables, column types,
rows and comments.

Last, the Spark process runs the nightly job of the Dagster definitions for one
staging model, after dropping its table and the normalizer functions it calls,
as ``cdp run`` would run that dbt step.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from activation.destinations import load_destinations
from orchestration.privacy import store
from tests.spark.compare import (
    UNCOMPARED_COLUMNS,
    assert_same_rows,
    compare_table,
    fetch,
    spark_table,
)
from tests.spark.spark_build import (
    ANALYST_FILE,
    ENTERING,
    LEAVING,
    NIGHTLY_ASSET,
    NIGHTLY_MODEL,
    NIGHTLY_SCHEMA,
)

pytestmark = pytest.mark.skipif(
    shutil.which("java") is None,
    reason="Spark needs a Java runtime (17 or newer), and java is not on PATH",
)

LAYER_SCHEMAS = ["staging", "intermediate", "marts", "analytics"]
MANIFEST = "manifest.json"


@pytest.fixture(scope="module")
def duckdb_outbox(duckdb_activation: Path) -> Path:
    """Return the outbox of every destination synced on the DuckDB engine."""
    return duckdb_activation / "outbox"


@pytest.fixture(scope="module")
def duckdb_analyst_file(
    small_warehouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Run the analyst file asset on the DuckDB engine over a copy of the small
    warehouse; return the file it wrote."""
    import dagster as dg

    from orchestration.analyst_copy import analyst_copy
    from orchestration.resources import DuckDBWarehouse

    folder = tmp_path_factory.mktemp("duckdb_analyst_file")
    warehouse = folder / "warehouse.duckdb"
    shutil.copyfile(small_warehouse, warehouse)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDP_ENGINE", "duckdb")
        patch.setenv("CDP_ANALYST_COPY", str(folder / ANALYST_FILE))
        result = dg.materialize(
            [analyst_copy],
            resources={"warehouse": DuckDBWarehouse(path=str(warehouse))},
        )
    assert result.success
    return folder / ANALYST_FILE


def audience_files(outbox: Path) -> dict[str, bytes]:
    """Return the bytes of each audience file, keyed by its path in ``outbox``."""
    return {
        path.relative_to(outbox).as_posix(): path.read_bytes()
        for path in sorted(outbox.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }


def manifests(outbox: Path) -> dict[str, dict]:
    """Return each manifest without ``generated_at``, the time it was written."""
    bodies = {}
    for path in sorted(outbox.rglob(MANIFEST)):
        body = json.loads(path.read_text(encoding="utf-8"))
        body.pop("generated_at")
        bodies[path.relative_to(outbox).as_posix()] = body
    return bodies


def expected_file_count() -> int:
    """Files per destinations.yml: one per segment, two in diff and mirror mode."""
    return sum(
        len(destination.segments) * (1 if destination.mode == "full" else 2)
        for destination in load_destinations()
        if destination.writes_files
    )


def test_dbt_build_passes_on_spark(spark_build):
    result = spark_build["result"]
    output = result.stdout[-6000:] + result.stderr[-3000:]
    print(f"dbt build and snapshot steps on Spark: {spark_build['seconds']:.0f} s")
    for line in result.stdout.splitlines():
        if line.startswith("step "):
            print(line)
    assert result.returncode == 0, output
    assert "ERROR=0" in result.stdout, output
    assert "SKIP=0" in result.stdout, output


@pytest.mark.parametrize(
    "table",
    [
        "dim_customers",
        "customer_traits",
        "segment_memberships",
        "segment_membership_history",
        "fct_orders",
        "fct_events",
    ],
)
def test_mart_matches_duckdb(spark_build, table):
    assert spark_build["result"].returncode == 0, "dbt build on Spark failed"
    compare_table(spark_build, "marts", table)


def test_every_layer_table_matches_duckdb(spark_build):
    assert spark_build["result"].returncode == 0, "dbt build on Spark failed"
    schemas = ", ".join(f"'{schema}'" for schema in LAYER_SCHEMAS)
    _, tables = fetch(
        "select table_schema, table_name from information_schema.tables "
        f"where table_schema in ({schemas}) order by 1, 2",
        spark_build["duckdb"],
    )
    assert len(tables) > 50
    for schema, table in tables:
        compare_table(spark_build, schema, table)


def test_spark_pseudonyms_are_hmac_of_ids(spark_build):
    assert spark_build["result"].returncode == 0, "dbt build on Spark failed"
    _, ids = fetch("select customer_id from marts.dim_customers", spark_build["duckdb"])
    _, keys = fetch(
        "select value from privacy.settings where name = 'pseudonym_key'",
        spark_build["duckdb"],
    )
    customers = spark_table(spark_build, "analytics", "customers")
    _, pseudonyms = fetch(f"select customer_pseudonym from {customers}")

    expected = {store.pseudonym(keys[0][0], customer_id) for (customer_id,) in ids}
    assert len(expected) == len(ids) > 3
    assert {value for (value,) in pseudonyms} == expected


def test_snapshot_rewrite_records_exit_and_entry(spark_build):
    assert spark_build["result"].returncode == 0, "dbt build on Spark failed"
    snapshot = spark_table(spark_build, "snapshots", "segment_memberships_snapshot")
    memberships = spark_table(spark_build, "marts", "segment_memberships")
    _, rows = fetch(f"select customer_id, segment_name, dbt_valid_to from {snapshot}")
    _, built = fetch(f"select customer_id, segment_name from {memberships}")

    current = {(customer, segment) for customer, segment, left in rows if left is None}
    closed = [(customer, segment) for customer, segment, left in rows if left]
    assert closed == [LEAVING]
    assert current == (set(built) - {LEAVING}) | {ENTERING[:2]}
    assert len(rows) == len(built) + 1


def test_audience_files_match_duckdb(spark_build, duckdb_outbox):
    assert spark_build["result"].returncode == 0, "dbt build or activation failed"
    expected = audience_files(duckdb_outbox)
    actual = audience_files(spark_build["outbox"])

    assert len(expected) == expected_file_count()
    assert sorted(actual) == sorted(expected)
    for name, content in expected.items():
        assert actual[name] == content, f"audience file {name} differs"


def test_audience_manifests_match_duckdb(spark_build, duckdb_outbox):
    assert spark_build["result"].returncode == 0, "dbt build or activation failed"
    expected = manifests(duckdb_outbox)
    actual = manifests(spark_build["outbox"])

    rows = sum(f["row_count"] for body in expected.values() for f in body["files"])
    assert rows > 0, "every audience is empty, so the comparison proves nothing"
    assert sorted(actual) == sorted(expected)
    for name, body in expected.items():
        for key, value in body.items():
            assert actual[name][key] == value, f"{name}: {key} differs"


def analyst_file_catalog(path: Path) -> dict:
    """Return the tables of an analyst file: per table its comment and its columns
    as (name, type, comment), in table order."""
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "select schema_name, table_name, comment from duckdb_tables() "
            "where database_name = 'analytics' order by table_name"
        ).fetchall()
        columns = con.execute(
            "select table_name, column_name, data_type, comment from duckdb_columns() "
            "where database_name = 'analytics' order by table_name, column_index"
        ).fetchall()
    catalog = {
        f"{schema}.{table}": {"comment": comment, "columns": []}
        for schema, table, comment in tables
    }
    for table, column, data_type, comment in columns:
        catalog[f"main.{table}"]["columns"].append((column, data_type, comment))
    return catalog


def test_analyst_file_has_duckdb_tables(spark_build, duckdb_analyst_file):
    assert spark_build["result"].returncode == 0, "the Spark build steps failed"
    expected = analyst_file_catalog(duckdb_analyst_file)
    actual = analyst_file_catalog(spark_build["analyst_file"])

    assert len(expected) > 10
    assert sorted(actual) == sorted(expected)


def test_analyst_file_columns_match_duckdb(spark_build, duckdb_analyst_file):
    assert spark_build["result"].returncode == 0, "the Spark build steps failed"
    expected = analyst_file_catalog(duckdb_analyst_file)
    actual = analyst_file_catalog(spark_build["analyst_file"])

    for table, body in expected.items():
        names_and_types = [column[:2] for column in body["columns"]]
        assert [column[:2] for column in actual[table]["columns"]] == names_and_types, (
            f"{table}: column names or types differ"
        )


def test_analyst_file_comments_match_duckdb(spark_build, duckdb_analyst_file):
    assert spark_build["result"].returncode == 0, "the Spark build steps failed"
    expected = analyst_file_catalog(duckdb_analyst_file)
    actual = analyst_file_catalog(spark_build["analyst_file"])

    for table, body in expected.items():
        assert body["comment"], f"{table} has no comment in the DuckDB-built file"
        assert actual[table]["comment"] == body["comment"], f"{table}: comment differs"
        comments = {name: comment for name, _, comment in body["columns"]}
        for name, _, comment in actual[table]["columns"]:
            assert comments.get(name), f"{table}.{name} has no comment on DuckDB"
            assert comment == comments[name], f"{table}.{name}: comment differs"


def test_analyst_file_rows_match_duckdb(spark_build, duckdb_analyst_file):
    assert spark_build["result"].returncode == 0, "the Spark build steps failed"
    tables = analyst_file_catalog(duckdb_analyst_file)

    tables_with_rows = 0
    for table, body in tables.items():
        names = [name for name, *_ in body["columns"]]
        compared = [name for name in names if name not in UNCOMPARED_COLUMNS]
        columns = ", ".join(f'"{name}"' for name in compared)
        query = f"select {columns} from {table}"
        _, expected = fetch(query, duckdb_analyst_file)
        _, actual = fetch(query, spark_build["analyst_file"])
        assert_same_rows(f"analyst file {table}", compared, expected, actual)
        tables_with_rows += bool(expected)
    # The small warehouse has six people, so a few tables are empty.
    assert tables_with_rows > len(tables) / 2, "most analyst tables are empty"


def test_nightly_job_builds_dbt_model_on_spark(spark_build):
    assert spark_build["result"].returncode == 0, "the Spark build steps failed"
    report = json.loads(spark_build["nightly_report"].read_text(encoding="utf-8"))
    _, count = fetch(
        f"select count(*) from {NIGHTLY_SCHEMA}.{NIGHTLY_MODEL}", spark_build["duckdb"]
    )

    assert report["success"], f"failed steps: {report['failed_steps']}"
    assert report["materialized"] == {NIGHTLY_ASSET: count[0][0]}
    assert report["checks"], "the model's dbt tests did not run as asset checks"
    failed = [name for name, passed in report["checks"] if not passed]
    assert failed == []
    compare_table(spark_build, NIGHTLY_SCHEMA, NIGHTLY_MODEL)
