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
file. On DuckDB the temporary file starts as a copy of the previous one when
``activation.analyst_copy_state`` shows that file unchanged since the last copy.
The views that read a stored table row for row (``STORED_RELATIONS``) then get
only the rows that table wrote since, and lose the rows it deleted, unless the
view's SQL or descriptions changed. Every other view is copied whole. The erasure step deletes it on a night that erases someone, so a copy with
the person's rows never outlives the erasure, even when the night fails after
that step.
"""

import hashlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
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
# Analytics views that read one stored table row for row, with the key column they
# share. Each dbt run that writes a row of such a table sets its _processed_at.
# NOTE: a row changed in place without a new _processed_at (a manual UPDATE)
# reaches the copy only after the file is deleted, so that every table is written.
STORED_RELATIONS = {
    "events": ("marts.pseudonymized_events", "event_pseudonym"),
    "sessions": ("marts.pseudonymized_sessions", "session_pseudonym"),
    "customer_timeline": (
        "marts.pseudonymized_customer_timeline",
        "touchpoint_pseudonym",
    ),
}
# Above this share of changed rows, a view is copied whole: deleting and inserting
# most rows costs more than writing them.
MAX_CHANGED_SHARE = 0.2
STATE_TABLE = "activation.analyst_copy_state"
STATE_DDL = f"""
    create table if not exists {STATE_TABLE} (
        relation varchar not null primary key,
        stored_until timestamp,
        definition_sha256 varchar not null,
        file_size bigint not null,
        file_mtime_ns bigint not null,
        copied_at timestamp not null
    )
"""


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

    When ``activation.analyst_copy_state`` shows the file at ``target`` unchanged
    since the last copy, the new file starts from it, and the relations of
    ``STORED_RELATIONS`` get only their changed rows. Returns the row count per
    table. ``progress`` receives one line per table as it is written.

    Raises ``ValueError`` when the warehouse has no analytics schema.
    """
    relations = analytics_relations(con)
    if not relations:
        raise ValueError(
            "the warehouse has no analytics schema; build the dbt models first "
            "(cdp run)"
        )
    previous = _previous_copy_state(con, target)
    counts = {}
    copied_state = {}
    with _replaced_on_success(target) as temporary:
        if previous:
            shutil.copyfile(target, temporary)
        con.execute(f"attach {_literal(str(temporary))} as {ALIAS}")
        try:
            for relation in relations:
                started = time.monotonic()
                copied = f'{ALIAS}.{COPY_SCHEMA}."{relation}"'
                copied_state[relation], written = _copy_relation(
                    con, relation, previous.get(relation)
                )
                _copy_comments(con, relation)
                counts[relation] = con.execute(
                    f"select count(*) from {copied}"
                ).fetchone()[0]
                if progress:
                    progress(
                        f"analyst copy: {relation}, {counts[relation]:,} rows "
                        f"in {time.monotonic() - started:.1f} s{written}"
                    )
            _drop_other_tables(con, relations)
            con.execute(f"checkpoint {ALIAS}")
        finally:
            con.execute(f"detach {ALIAS}")
    _save_copy_state(con, target, copied_state)
    return counts


def _copy_relation(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    previous: tuple[datetime | None, str] | None,
) -> tuple[tuple[datetime | None, str], str]:
    """Copy one analytics relation into the attached file, whole or by its
    changed rows.

    ``previous`` is what the last copy recorded: the newest _processed_at copied
    and the definition hash. Only a stored relation with an unchanged definition
    is copied by its changed rows. Returns the new record and a note on the rows
    written, for the progress line.
    """
    copied = f'{ALIAS}.{COPY_SCHEMA}."{relation}"'
    definition = _definition_sha256(con, relation)
    stored_until = None
    if relation in STORED_RELATIONS:
        table, key = STORED_RELATIONS[relation]
        stored_until = con.execute(
            f"select max(_processed_at) from {table}"
        ).fetchone()[0]
        copied_until = None
        if previous is not None and previous[1] == definition:
            copied_until = previous[0]
        written = _copy_changed_rows(
            con, relation, table, key, copied_until, stored_until
        )
        if written is not None:
            return (stored_until, definition), f", {written:,} changed rows written"
    con.execute(f"drop table if exists {copied}")
    con.execute(f'create table {copied} as select * from {SCHEMA}."{relation}"')
    return (stored_until, definition), ""


def _definition_sha256(con: duckdb.DuckDBPyConnection, relation: str) -> str:
    """Return a SHA-256 of an analytics relation's SQL and comments. A deploy that
    changes how a view computes a column, or its descriptions, changes it, so the
    next copy writes that relation whole."""
    view = con.execute(
        "select sql, comment from duckdb_views() "
        "where database_name = current_database() and schema_name = ? "
        "and view_name = ?",
        [SCHEMA, relation],
    ).fetchall()
    columns = con.execute(
        "select column_name, data_type, comment from duckdb_columns() "
        "where database_name = current_database() and schema_name = ? "
        "and table_name = ? order by column_index",
        [SCHEMA, relation],
    ).fetchall()
    return hashlib.sha256(repr((view, columns)).encode()).hexdigest()


def _copy_changed_rows(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    table: str,
    key: str,
    copied_until: datetime | None,
    stored_until: datetime | None,
) -> int | None:
    """Bring the copied table of ``relation`` up to date from the rows that
    ``table`` wrote after ``copied_until``, and delete the rows whose key left the
    view. Returns the number of rows written, or None when the table has to be
    copied whole: no earlier copy of this definition, an older warehouse, a
    changed share above ``MAX_CHANGED_SHARE``, or a row count that still differs.
    """
    copied = f'{ALIAS}.{COPY_SCHEMA}."{relation}"'
    view = f'{SCHEMA}."{relation}"'
    if copied_until is None or stored_until is None or stored_until < copied_until:
        return None
    total = con.execute(f"select count(*) from {view}").fetchone()[0]
    changed_keys = f"select {key} from {table} where _processed_at > ?"
    changed = con.execute(
        f"select count(*) from ({changed_keys})", [copied_until]
    ).fetchone()[0]
    if changed > MAX_CHANGED_SHARE * total:
        return None

    con.execute(f"delete from {copied} where {key} in ({changed_keys})", [copied_until])
    con.execute(
        f"insert into {copied} select * from {view} where {key} in ({changed_keys})",
        [copied_until],
    )

    # Rows that the stored table deleted since the last copy (its post-hook
    # removes rows whose input is gone) are the only other difference.
    if con.execute(f"select count(*) from {copied}").fetchone()[0] != total:
        con.execute(
            f"delete from {copied} where {key} not in "
            f"(select {key} from {view} where {key} is not null)"
        )
    if con.execute(f"select count(*) from {copied}").fetchone()[0] != total:
        return None
    return changed


def _drop_other_tables(con: duckdb.DuckDBPyConnection, relations: list[str]) -> None:
    """Drop the tables of the attached file that are no longer analytics
    relations, which a file started from the previous copy can contain."""
    tables = con.execute(
        "select table_name from duckdb_tables() "
        "where database_name = ? and schema_name = ?",
        [ALIAS, COPY_SCHEMA],
    ).fetchall()
    for (name,) in tables:
        if name not in relations:
            con.execute(f'drop table {ALIAS}.{COPY_SCHEMA}."{name}"')


def _previous_copy_state(
    con: duckdb.DuckDBPyConnection, target: Path
) -> dict[str, tuple[datetime | None, str]]:
    """Return the newest _processed_at copied and the definition per relation.

    The dict is empty, for a copy from scratch, unless the file at ``target`` has
    the size and modification time that the last copy recorded. A state table of
    another shape is replaced."""
    con.execute("create schema if not exists activation")
    con.execute(STATE_DDL)
    query = (
        "select relation, stored_until, definition_sha256, file_size, "
        f"file_mtime_ns from {STATE_TABLE}"
    )
    try:
        rows = con.execute(query).fetchall()
    except duckdb.BinderException:
        con.execute(f"drop table {STATE_TABLE}")
        con.execute(STATE_DDL)
        return {}
    if not target.is_file():
        return {}
    status = target.stat()
    if not rows or any(
        (size, mtime) != (status.st_size, status.st_mtime_ns)
        for *_, size, mtime in rows
    ):
        return {}
    return {relation: (until, definition) for relation, until, definition, *_ in rows}


def _save_copy_state(
    con: duckdb.DuckDBPyConnection,
    target: Path,
    copied_state: dict[str, tuple[datetime | None, str]],
) -> None:
    """Record what the new file at ``target`` contains, for the next copy."""
    status = target.stat()
    con.execute(f"delete from {STATE_TABLE}")
    con.executemany(
        f"insert into {STATE_TABLE} values (?, ?, ?, ?, ?, current_timestamp)",
        [
            [relation, until, definition, status.st_size, status.st_mtime_ns]
            for relation, (until, definition) in copied_state.items()
        ],
    )


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
