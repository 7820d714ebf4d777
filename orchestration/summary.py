"""The run summary printed after ``cdp run``, read from the warehouse read-only."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

from orchestration import settings

LAYERS = (
    "raw",
    "staging",
    "intermediate",
    "identity",
    "marts",
    "snapshots",
    "activation",
)
# Layers that dbt builds, in the Spark catalog when CDP_ENGINE=spark.
SPARK_LAYERS = ("staging", "intermediate", "marts", "snapshots")
# Tables in marts named segment_* that list the members of all segments.
MEMBERSHIP_TABLES = {"segment_memberships", "segment_membership_history"}


@dataclass
class RunSummary:
    rows_per_layer: dict[str, tuple[int, int]] = field(default_factory=dict)
    identity: dict | None = None
    known_customers: int | None = None
    segments: dict[str, int] = field(default_factory=dict)
    exports: list[tuple] = field(default_factory=list)
    rejected_files: list[tuple] = field(default_factory=list)


def _tables(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    rows = con.execute(
        "select table_name from information_schema.tables "
        "where table_schema = ? and table_catalog = current_database() "
        "order by table_name",
        [schema],
    ).fetchall()
    return [r[0] for r in rows]


def _count(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> int:
    return con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]


def _spark_counts(schemas: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """Count the rows of every table of ``schemas`` in Spark, in one Spark query."""
    from orchestration.spark_session import spark_session

    spark = spark_session()
    databases = {row.namespace for row in spark.sql("show databases").collect()}
    tables = [
        (schema, row.tableName)
        for schema in schemas
        if schema in databases
        for row in spark.sql(f"show tables in {schema}").collect()
        if not row.isTemporary
    ]
    counts: dict[str, dict[str, int]] = {schema: {} for schema in schemas}
    if not tables:
        return counts
    query = " union all ".join(
        f"select '{schema}' as s, '{table}' as t, count(*) as n "
        f"from `{schema}`.`{table}`"
        for schema, table in tables
    )
    for row in spark.sql(query).collect():
        counts[row.s][row.t] = row.n
    return counts


def collect(warehouse: Path) -> RunSummary:
    """Read the summary of the last run; read-only.

    With ``CDP_ENGINE=spark`` the layers dbt builds (``SPARK_LAYERS``) are counted
    in the Spark catalog, and the rest in the DuckDB file, which contains the
    loader's raw tables, identity's tables and activation's state.
    """
    summary = RunSummary()
    spark_layers = SPARK_LAYERS if settings.engine() == "spark" else ()
    spark_counts = _spark_counts(spark_layers) if spark_layers else {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for schema in LAYERS:
            if schema in spark_counts:
                counts = spark_counts[schema]
                summary.rows_per_layer[schema] = (len(counts), sum(counts.values()))
                continue
            tables = _tables(con, schema)
            rows = sum(_count(con, schema, t) for t in tables)
            summary.rows_per_layer[schema] = (len(tables), rows)

        if "_load_log" in _tables(con, "raw"):
            summary.rejected_files = con.execute(
                "select source, file, message from ("
                "select *, row_number() over (partition by source, file "
                "order by loaded_at desc) as recency from raw._load_log) "
                "where recency = 1 and status = 'rejected' order by source, file"
            ).fetchall()

        if "resolution_metrics" in _tables(con, "identity"):
            cursor = con.execute(
                "select * from identity.resolution_metrics "
                "order by resolved_at desc limit 1"
            )
            names = [d[0] for d in cursor.description]
            row = cursor.fetchone()
            summary.identity = dict(zip(names, row, strict=True)) if row else None

        if "marts" in spark_counts:
            marts = spark_counts["marts"]
        else:
            marts = {
                t: _count(con, "marts", t)
                for t in _tables(con, "marts")
                if t == "dim_customers" or t.startswith("segment_")
            }
        summary.known_customers = marts.get("dim_customers")
        for table, rows in marts.items():
            if table.startswith("segment_") and table not in MEMBERSHIP_TABLES:
                summary.segments[table.removeprefix("segment_")] = rows

        if "exports" in _tables(con, "activation"):
            summary.exports = con.execute(
                "select destination, segment, row_count, run_date, file "
                "from activation.exports "
                "where run_date = (select max(run_date) from activation.exports) "
                "order by destination, segment, file"
            ).fetchall()
    return summary


def _format_metric(value) -> str:
    return "n/a (no ground truth)" if value is None else f"{value:.3f}"


def render(summary: RunSummary, outbox: Path, console: Console | None = None) -> None:
    console = console or Console()
    layers = Table(title="Rows per layer")
    for column in ("schema", "tables", "rows"):
        layers.add_column(column, justify="right" if column != "schema" else "left")
    for schema, (tables, rows) in summary.rows_per_layer.items():
        layers.add_row(schema, str(tables), f"{rows:,}")
    console.print(layers)
    for source, file, message in summary.rejected_files:
        console.print(
            f"[bold red]Rejected file[/] {source}/{file}: {message}. Models and "
            "exports downstream of this source are held back until it is fixed.",
            soft_wrap=True,
        )

    if summary.identity:
        m = summary.identity
        known = ""
        if summary.known_customers is not None:
            anonymous = m["customers"] - summary.known_customers
            known = (
                f" ({summary.known_customers:,} known customers in "
                f"marts.dim_customers, {anonymous:,} with anonymous web visits only)"
            )
        console.print(
            f"Identity: {m['records']:,} records resolved into "
            f"{m['customers']:,} customers{known}. Pairwise precision "
            f"{_format_metric(m.get('precision'))}, recall "
            f"{_format_metric(m.get('recall'))}, F1 {_format_metric(m.get('f1'))}."
        )

    segments = Table(title="Segments")
    segments.add_column("segment")
    segments.add_column("customers", justify="right")
    for name, size in sorted(summary.segments.items()):
        segments.add_row(name, f"{size:,}")
    console.print(segments)

    exports = Table(title="Audience files (consented people only)")
    for column in ("destination", "segment", "file", "rows"):
        exports.add_column(column, justify="right" if column == "rows" else "left")
    folders = []
    for destination, segment, rows, run_date, file in summary.exports:
        exports.add_row(destination, segment, file, f"{rows:,}")
        folder = outbox / destination / str(run_date)
        if folder not in folders:
            folders.append(folder)
    console.print(exports)
    for folder in folders:
        console.print(f"  written to {folder}/", soft_wrap=True)
