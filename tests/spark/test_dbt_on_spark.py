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

Last, the destination assets run on both builds: with ``CDP_ENGINE=spark`` in the
Spark process, which copies the audiences from Spark into a DuckDB file without
the dbt schemas, and with ``CDP_ENGINE=duckdb`` on a copy of the small warehouse.
The audience files of both outboxes must be byte for byte the same.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from activation.destinations import load_destinations
from ingestion.sources import SOURCES
from orchestration.privacy import store

pytestmark = pytest.mark.skipif(
    shutil.which("java") is None,
    reason="Spark needs a Java runtime (17 or newer), and java is not on PATH",
)

STEPS_SCRIPT = Path(__file__).with_name("spark_steps.py")
IDENTITY_TABLES = ["record_customers", "customer_id_history", "customer_id_lookup"]
LAYER_SCHEMAS = ["staging", "intermediate", "marts", "analytics"]
# Columns holding the time of the run that wrote the row, which differ between the
# two builds: segment_membership_history's snapshot times and the incremental
# models' watermark.
RUN_TIME_COLUMNS = {"entered_at", "left_at", "_processed_at"}

# Schemas dbt builds. The DuckDB file of the Spark engine has none of them, so its
# audiences can only come from Spark.
DBT_SCHEMAS = ["staging", "intermediate", "marts", "analytics", "snapshots"]
RUN_DATE = "2026-12-01"
MANIFEST = "manifest.json"

MEMBERSHIPS = "marts.segment_memberships"
BUILT_MEMBERSHIPS = "marts.segment_memberships__built"
LEAVING = ("anna", "lapsed_buyers")
ENTERING = ("lena", "new_customers", "crm-marketing")


def snapshot_steps(dbt_paths: list[str]) -> list[list[str]]:
    """Steps that snapshot memberships changed by one exit and one entry, then put
    the built memberships back for the comparison with DuckDB."""
    customer_id, segment_name = LEAVING
    return [
        ["sql", f"alter table {MEMBERSHIPS} rename to {BUILT_MEMBERSHIPS}"],
        [
            "sql",
            f"create table {MEMBERSHIPS} using parquet as "
            f"select * from {BUILT_MEMBERSHIPS} "
            f"where not (customer_id = '{customer_id}' and segment_name = '{segment_name}') "
            f"union all select {', '.join(repr(value) for value in ENTERING)}",
        ],
        ["dbt", "snapshot", *dbt_paths],
        ["sql", f"drop table {MEMBERSHIPS}"],
        ["sql", f"alter table {BUILT_MEMBERSHIPS} rename to {MEMBERSHIPS}"],
    ]


def export_inputs(warehouse: Path, folder: Path) -> Path:
    """Write the tables that the dbt sources read as one Parquet file each."""
    tables = [f"raw.{source.table}" for source in SOURCES]
    tables += [f"identity.{table}" for table in IDENTITY_TABLES]
    folder.mkdir()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table in tables:
            con.execute(f"copy {table} to '{folder / table}.parquet' (format parquet)")
    return folder


def without_dbt_schemas(warehouse: Path, target: Path) -> Path:
    """Copy ``warehouse`` to ``target`` and drop every schema dbt builds."""
    shutil.copyfile(warehouse, target)
    with duckdb.connect(str(target)) as con:
        for schema in DBT_SCHEMAS:
            con.execute(f"drop schema if exists {schema} cascade")
    return target


@pytest.fixture(scope="module")
def spark_build(
    small_warehouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict:
    """Run ``dbt build`` and the snapshot steps on Spark once for the module."""
    folder = tmp_path_factory.mktemp("spark_build")
    inputs = export_inputs(small_warehouse, folder / "inputs")
    dbt_paths = ["--target-path", str(folder / "target"), "--log-path", str(folder)]
    # Named after neither a catalog nor a schema it contains, so that DuckDB
    # resolves names such as activation.exports.
    engine_file = without_dbt_schemas(small_warehouse, folder / "spark_engine.duckdb")
    steps = [
        ["pseudonym_key", str(engine_file)],
        ["dbt", "build", *dbt_paths],
        *snapshot_steps(dbt_paths),
        ["export_views", str(folder / "views")],
        ["activate", str(engine_file)],
    ]
    env = dict(
        os.environ,
        CDP_OUTBOX=str(folder / "outbox"),
        CDP_RUN_DATE=RUN_DATE,
        CDP_SPARK_DIR=str(folder / "spark"),
        DO_NOT_TRACK="1",
        PYSPARK_PYTHON=sys.executable,
    )

    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(STEPS_SCRIPT), str(inputs), json.dumps(steps)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    return {
        "result": result,
        "seconds": time.monotonic() - started,
        "warehouse": folder / "spark" / "warehouse",
        "duckdb": small_warehouse,
        "outbox": folder / "outbox",
        "views": folder / "views",
    }


@pytest.fixture(scope="module")
def duckdb_outbox(
    small_warehouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Run every destination asset on the DuckDB engine over a copy of the small
    warehouse; return its outbox."""
    import dagster as dg

    from activation.assets import destination_assets
    from orchestration.resources import DuckDBWarehouse

    folder = tmp_path_factory.mktemp("duckdb_activation")
    warehouse = folder / "warehouse.duckdb"
    shutil.copyfile(small_warehouse, warehouse)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDP_ENGINE", "duckdb")
        patch.setenv("CDP_OUTBOX", str(folder / "outbox"))
        patch.setenv("CDP_RUN_DATE", RUN_DATE)
        result = dg.materialize(
            destination_assets,
            resources={"warehouse": DuckDBWarehouse(path=str(warehouse))},
        )
    assert result.success
    return folder / "outbox"


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


def spark_table(spark_build: dict, schema: str, table: str) -> str:
    """DuckDB expression reading a Spark table's Parquet files, or the rows of a
    Spark view as the Spark process exported them."""
    view = spark_build["views"] / f"{schema}.{table}"
    folder = (
        view if view.exists() else spark_build["warehouse"] / f"{schema}.db" / table
    )
    return f"read_parquet('{folder}/*.parquet')"


def fetch(sql: str, warehouse: Path | None = None) -> tuple[list[str], list[tuple]]:
    with duckdb.connect(
        str(warehouse) if warehouse else ":memory:", read_only=bool(warehouse)
    ) as con:
        cursor = con.execute(sql)
        return [column[0] for column in cursor.description], cursor.fetchall()


def sort_key(row: tuple) -> tuple:
    """Order rows by their values, with floats rounded so that close values sort
    together and None first."""
    return tuple(
        (value is not None, round(value, 6) if isinstance(value, float) else str(value))
        for value in row
    )


def assert_same_rows(
    name: str, columns: list[str], duckdb_rows: list[tuple], spark_rows: list[tuple]
) -> None:
    """Compare two row sets in any order. Messages name the column, never a value
    that could be personal data."""
    assert len(spark_rows) == len(duckdb_rows), f"{name}: row counts differ"
    pairs = zip(
        sorted(duckdb_rows, key=sort_key), sorted(spark_rows, key=sort_key), strict=True
    )
    for duckdb_row, spark_row in pairs:
        for column, duckdb_value, spark_value in zip(
            columns, duckdb_row, spark_row, strict=True
        ):
            if isinstance(duckdb_value, float) and isinstance(spark_value, float):
                same = math.isclose(
                    duckdb_value, spark_value, rel_tol=1e-9, abs_tol=1e-12
                )
            else:
                same = duckdb_value == spark_value
            assert same, f"{name}.{column} differs"


def compare_table(spark_build: dict, schema: str, table: str) -> None:
    names, _ = fetch(f"select * from {schema}.{table} limit 0", spark_build["duckdb"])
    spark_names, _ = fetch(
        f"select * from {spark_table(spark_build, schema, table)} limit 0"
    )
    assert spark_names == names, f"{schema}.{table}: columns differ"

    compared = [name for name in names if name not in RUN_TIME_COLUMNS]
    columns = ", ".join(f'"{name}"' for name in compared)
    _, duckdb_rows = fetch(
        f"select {columns} from {schema}.{table}", spark_build["duckdb"]
    )
    _, spark_rows = fetch(
        f"select {columns} from {spark_table(spark_build, schema, table)}"
    )
    assert_same_rows(f"{schema}.{table}", compared, duckdb_rows, spark_rows)


def test_dbt_build_passes_on_spark(spark_build):
    result = spark_build["result"]
    output = result.stdout[-6000:] + result.stderr[-3000:]
    print(f"dbt build and snapshot steps on Spark: {spark_build['seconds']:.0f} s")
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
