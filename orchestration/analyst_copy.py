"""The analyst copy: a DuckDB file with only the ``analytics`` schema, as tables.

DuckDB has no users or grants, so anyone who can open the warehouse file can read
every email address in it. Analysts get this file instead. It contains the
analytics views materialized as tables with their descriptions, and nothing else:
no other schema, no pseudonym key.

The tables sit in the file's ``main`` schema, so in a file named
``analytics.duckdb`` the warehouse's names work unchanged: DuckDB reads
``analytics.customers`` as catalog ``analytics``, schema ``main``. A schema named
``analytics`` inside that file would make the name ambiguous.

On the Spark engine the analytics views live in the Spark catalog. The copy then
reads each view from Spark through Parquet files (``copy_from_spark``) and takes
the table and column comments from the Spark catalog, where dbt-spark's
persist_docs wrote the same YAML descriptions as on DuckDB.

The nightly job writes the copy after the analytics views, to a temporary name
that then replaces the previous copy, so an analyst never opens a half-written
file. The erasure step deletes it on a night that erases someone, so a copy with
the person's rows never outlives the erasure, even when the night fails after
that step.
"""

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from orchestration import settings
from orchestration.resources import DuckDBWarehouse

ASSET_KEY = dg.AssetKey(["analytics", "analyst_copy"])
SCHEMA = "analytics"
ALIAS = "analyst_copy"
# Schema of the tables in the copy.
COPY_SCHEMA = "main"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def analytics_relations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of the tables and views of the analytics schema, sorted."""
    rows = con.execute(
        "select table_name from information_schema.tables "
        "where table_schema = ? and table_catalog = current_database() order by 1",
        [SCHEMA],
    ).fetchall()
    return [name for (name,) in rows]


def _copy_comments(con: duckdb.DuckDBPyConnection, relation: str) -> None:
    target = f'{ALIAS}.{COPY_SCHEMA}."{relation}"'
    comment = con.execute(
        "select comment from duckdb_views() where database_name = current_database() "
        "and schema_name = ? and view_name = ? union all "
        "select comment from duckdb_tables() where database_name = current_database() "
        "and schema_name = ? and table_name = ?",
        [SCHEMA, relation, SCHEMA, relation],
    ).fetchone()
    if comment and comment[0]:
        con.execute(f"comment on table {target} is {_literal(comment[0])}")
    columns = con.execute(
        "select column_name, comment from duckdb_columns() "
        "where database_name = current_database() and schema_name = ? "
        "and table_name = ? and comment is not null",
        [SCHEMA, relation],
    ).fetchall()
    for column, text in columns:
        con.execute(f'comment on column {target}."{column}" is {_literal(text)}')


@contextmanager
def _replaced_on_success(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` and move it over ``target`` when the
    block ends without an error, so a reader never sees a half-written file. After
    an error the temporary file is deleted and ``target`` stays as it was."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    wal = Path(f"{temporary}.wal")
    temporary.unlink(missing_ok=True)
    try:
        yield temporary
    except BaseException:
        temporary.unlink(missing_ok=True)
        wal.unlink(missing_ok=True)
        raise
    os.replace(temporary, target)
    wal.unlink(missing_ok=True)


def write_analyst_copy(
    con: duckdb.DuckDBPyConnection,
    target: Path,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Write every analytics relation of the warehouse open on ``con`` (read-write)
    as a table into a new DuckDB file at ``target``, replacing any file there.

    Returns the row count per table. ``progress`` receives one line per table as
    it is written.

    Raises ``ValueError`` when the warehouse has no analytics schema.
    """
    # TODO: every night writes all rows again (49 million, 49.5 s at 1,000,000
    # customers). A trial copied the previous file and replaced only the rows
    # whose hash differed from the view's. With 1% new rows it took 49.0 s: the
    # comparison reads each view twice, and five views compute their pseudonyms
    # on every read. A partial copy needs stored pseudonyms for every large
    # table and a change marker on their rows.
    relations = analytics_relations(con)
    if not relations:
        raise ValueError(
            "the warehouse has no analytics schema; build the dbt models first "
            "(cdp run)"
        )
    counts = {}
    with _replaced_on_success(target) as temporary:
        con.execute(f"attach {_literal(str(temporary))} as {ALIAS}")
        try:
            for relation in relations:
                started = time.monotonic()
                copied = f'{ALIAS}.{COPY_SCHEMA}."{relation}"'
                con.execute(
                    f'create table {copied} as select * from {SCHEMA}."{relation}"'
                )
                _copy_comments(con, relation)
                counts[relation] = con.execute(
                    f"select count(*) from {copied}"
                ).fetchone()[0]
                if progress:
                    progress(
                        f"analyst copy: {relation}, {counts[relation]:,} rows "
                        f"in {time.monotonic() - started:.1f} s"
                    )
            con.execute(f"checkpoint {ALIAS}")
        finally:
            con.execute(f"detach {ALIAS}")
    return counts


def spark_analytics_relations(spark) -> list[str]:
    """Return the names of the tables and views of Spark's analytics database, sorted."""
    if not spark.catalog.databaseExists(SCHEMA):
        return []
    return sorted(
        table.name
        for table in spark.catalog.listTables(SCHEMA)
        if not table.isTemporary
    )


def _copy_spark_comments(spark, con: duckdb.DuckDBPyConnection, relation: str) -> None:
    """Copy the comments that dbt-spark's persist_docs wrote on a Spark view (its
    YAML descriptions) to the table of the same name in the file open on ``con``."""
    name = f"{SCHEMA}.{relation}"
    target = f'{COPY_SCHEMA}."{relation}"'
    description = spark.catalog.getTable(name).description
    if description:
        con.execute(f"comment on table {target} is {_literal(description)}")
    for column in spark.catalog.listColumns(name):
        if column.description:
            con.execute(
                f'comment on column {target}."{column.name}" '
                f"is {_literal(column.description)}"
            )


def write_analyst_copy_from_spark(target: Path) -> dict[str, int]:
    """Write every table and view of Spark's analytics database as a table into a
    new DuckDB file at ``target``, replacing any file there, for ``CDP_ENGINE=spark``.

    Each table keeps its name, its columns and the comments of the Spark view. The
    column types are the DuckDB types of the Spark types, which the analytics
    contracts fix. Returns the row count per table.

    Raises ``ValueError`` when the Spark catalog has no analytics database.
    """
    from orchestration.spark_session import spark_session
    from orchestration.spark_tables import copy_from_spark

    spark = spark_session()
    relations = spark_analytics_relations(spark)
    if not relations:
        raise ValueError(
            "the Spark catalog has no analytics database; build the dbt models "
            "first (CDP_ENGINE=spark cdp run)"
        )
    counts = {}
    with _replaced_on_success(target) as temporary:
        with duckdb.connect(str(temporary)) as con:
            for relation in relations:
                counts[relation] = copy_from_spark(
                    con, f"{SCHEMA}.{relation}", f'{COPY_SCHEMA}."{relation}"'
                )
                _copy_spark_comments(spark, con, relation)
            con.execute("checkpoint")
    return counts


def _analytics_model_keys() -> list[dg.AssetKey]:
    from orchestration.dbt_assets import dbt_after_clv, dbt_after_identity

    return [
        key
        for definition in (dbt_after_identity, dbt_after_clv)
        for key in definition.keys
        if key.path[0] == SCHEMA
    ]


@dg.asset(
    key=ASSET_KEY,
    deps=_analytics_model_keys(),
    group_name="analytics",
    kinds={"duckdb"},
    owners=["team:data-platform"],
    description="Writes the analytics schema as tables into its own DuckDB file "
    "(CDP_ANALYST_COPY, analytics.duckdb beside the warehouse), the file to give "
    "analysts: pseudonyms, no contact data, no other schema.",
    pool="duckdb_writer",
)
def analyst_copy(
    context: dg.AssetExecutionContext, warehouse: DuckDBWarehouse
) -> dg.MaterializeResult:
    target = settings.analyst_copy_path()
    if settings.engine() == "spark":
        counts = write_analyst_copy_from_spark(target)
    else:
        with warehouse.connect() as con:
            counts = write_analyst_copy(con, target, progress=context.log.info)
    context.log.info(
        f"wrote {len(counts)} analytics tables, {sum(counts.values())} rows, "
        f"into {target}"
    )
    return dg.MaterializeResult(
        metadata={
            "path": str(target),
            "tables": len(counts),
            "rows": sum(counts.values()),
            "bytes": target.stat().st_size,
        }
    )
