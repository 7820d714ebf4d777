"""Dagster assets that load each source's landing files into ``raw``."""

import dagster as dg

from ingestion.loader import FileLoadResult, load_source
from ingestion.quality import describe_critical, raw_rules, validate_frame
from ingestion.sources import SOURCES, Source
from ingestion.spark_mirror import mirror_source
from orchestration import settings
from orchestration.resources import DuckDBWarehouse


def _file_table(results: list[FileLoadResult]) -> dg.MarkdownMetadataValue:
    lines = [
        "| file | status | read | loaded | rejected | erased |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.file} | {r.status} | {r.rows_read} | {r.rows_loaded} "
            f"| {r.rows_rejected} | {r.rows_erased} |"
        )
    return dg.MetadataValue.md("\n".join(lines))


def _load_metadata(results: list[FileLoadResult], table_rows: int) -> dict:
    loaded = [r for r in results if r.status == "loaded"]
    return {
        "files_loaded": len(loaded),
        "files_skipped": sum(r.status == "skipped" for r in results),
        "files_rejected": sum(r.status == "rejected" for r in results),
        "rows_read": sum(r.rows_read for r in loaded),
        "rows_loaded": sum(r.rows_loaded for r in loaded),
        "rows_rejected": sum(r.rows_rejected for r in loaded),
        "rows_erased": sum(r.rows_erased for r in loaded),
        "dagster/row_count": table_rows,
        "files": _file_table(results),
    }


def landing_key(source: Source) -> dg.AssetKey:
    return dg.AssetKey(["landing", source.name])


def landing_spec(source: Source) -> dg.AssetSpec:
    """Return the asset spec of a source's extracts on disk, for lineage only.

    The nightly job does not run it: the source system delivers the files.
    """
    return dg.AssetSpec(
        landing_key(source),
        group_name="landing",
        kinds={"file"},
        owners=["team:data-platform"],
        description=(
            f"Extracts the source system delivers to data/landing/"
            f"{source.landing_folder}/{source.file_pattern}."
        ),
    )


def build_source_asset(source: Source) -> dg.AssetsDefinition:
    """Build the asset that loads a source's new extracts into ``raw``.

    With ``CDP_ENGINE=spark`` the loaded rows are then mirrored into Spark's ``raw``
    database (``ingestion.spark_mirror``); the DuckDB file stays the load's record.
    """

    @dg.asset(
        key=dg.AssetKey(["raw", source.table]),
        deps=[landing_key(source)],
        group_name="raw",
        kinds={"duckdb"},
        owners=["team:data-platform"],
        description=(
            f"{source.description} Loaded from data/landing/{source.landing_folder}/"
            f"{source.file_pattern}(.gz); rejected rows in raw.{source.table}__rejects."
        ),
        pool="duckdb_writer",
    )
    def _load(
        context: dg.AssetExecutionContext, warehouse: DuckDBWarehouse
    ) -> dg.MaterializeResult:
        mirrored = []
        with warehouse.connect() as con:
            results = load_source(con, source, settings.landing_dir())
            table_rows = con.execute(
                f"select count(*) from raw.{source.table}"
            ).fetchone()[0]
            if settings.engine() == "spark":
                mirrored = mirror_source(con, source)

        for r in results:
            if r.status == "rejected":
                context.log.error(f"rejected file {r.file}: {r.message}")
        metadata = _load_metadata(results, table_rows)
        context.log.info(
            f"raw.{source.table}: {metadata['files_loaded']} new files, "
            f"{metadata['rows_loaded']} rows loaded, "
            f"{metadata['rows_rejected']} rejected, {table_rows} rows in table"
        )
        for m in mirrored:
            context.log.info(
                f"Spark {m.table}: {m.action}, {m.rows_copied} rows copied, "
                f"{m.rows_in_spark} rows in table"
            )
        if mirrored:
            metadata["spark_rows"] = mirrored[0].rows_in_spark
        return dg.MaterializeResult(metadata=metadata)

    _load.__name__ = f"load_{source.table}"
    return _load


def build_accounting_check(source: Source) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(["raw", source.table]),
        name="rows_accounted_for",
        description="For every loaded file, rows read = rows loaded + rows rejected "
        "+ rows erased (people erased on request) + rows purged (older than the "
        "source's retention period), and the raw tables hold exactly the loaded rows.",
    )
    def _check(warehouse: DuckDBWarehouse) -> dg.AssetCheckResult:
        with warehouse.connect(read_only=True) as con:
            logged, loaded, rejected = con.execute(
                "select coalesce(sum(rows_loaded), 0), "
                f"(select count(*) from raw.{source.table}), "
                f"(select count(*) from raw.{source.table}__rejects) "
                "from raw._load_log where source = ? and status = 'loaded'",
                [source.name],
            ).fetchone()
            unbalanced = con.execute(
                "select count(*) from raw._load_log where source = ? "
                "and status = 'loaded' and rows_read <> rows_loaded + rows_rejected "
                "+ coalesce(rows_erased, 0) + coalesce(rows_purged, 0)",
                [source.name],
            ).fetchone()[0]
        return dg.AssetCheckResult(
            passed=bool(logged == loaded and unbalanced == 0),
            metadata={
                "rows_loaded_per_log": int(logged),
                "rows_in_table": int(loaded),
                "rows_in_rejects": int(rejected),
                "unbalanced_files": int(unbalanced),
            },
        )

    _check.__name__ = f"check_{source.table}_accounting"
    return _check


LATEST_REJECTED_FILES = """
select file, message from (
    select file, status, message,
        row_number() over (partition by file order by loaded_at desc) as recency
    from raw._load_log where source = ?
) where recency = 1 and status = 'rejected' order by file
"""


def build_rejected_files_check(source: Source) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(["raw", source.table]),
        name="no_rejected_files",
        blocking=True,
        description="Fails while a landing file of this source is rejected as a "
        "whole (unreadable, required column missing). Blocking: the models and "
        "exports downstream do not run on a night with a source file missing, so "
        "an unsubscribe in that file cannot be skipped. Fix or remove the file.",
    )
    def _check(warehouse: DuckDBWarehouse) -> dg.AssetCheckResult:
        with warehouse.connect(read_only=True) as con:
            rejected = con.execute(LATEST_REJECTED_FILES, [source.name]).fetchall()
        lines = [f"- {file}: {message}" for file, message in rejected]
        return dg.AssetCheckResult(
            passed=not rejected,
            metadata={
                "rejected_files": len(rejected),
                "files": dg.MetadataValue.md("\n".join(lines) or "none"),
            },
        )

    _check.__name__ = f"check_{source.table}_rejected_files"
    return _check


NEWEST_FILE = """
select max(file) from raw._load_log where source = ? and status = 'loaded'
"""


def build_quality_check(source: Source) -> dg.AssetChecksDefinition:
    rules = raw_rules(source.name)

    @dg.asset_check(
        asset=dg.AssetKey(["raw", source.table]),
        name="great_expectations_suite",
        blocking=True,
        description=f"Great Expectations suite raw_{source.name} on the newest "
        "extract: at least one row, unique keys, and a minimum share of rows with "
        "contact fields. Critical failures block the models and exports "
        "downstream; warnings are recorded here.",
    )
    def _check(context, warehouse: DuckDBWarehouse) -> dg.AssetCheckResult:
        with warehouse.connect(read_only=True) as con:
            newest = con.execute(NEWEST_FILE, [source.name]).fetchone()[0]
            if newest is None:
                # A source that has never delivered a file has nothing broken to
                # report, so its absence warns instead of stopping the night.
                context.log.warning(
                    f"raw/{source.table}: no extract of source {source.name} has "
                    f"been loaded yet (expected files matching {source.file_pattern} "
                    f"in its landing folder), so suite raw_{source.name} did not run"
                )
                return dg.AssetCheckResult(
                    passed=False,
                    severity=dg.AssetCheckSeverity.WARN,
                    metadata={"extract": "none", "rows_validated": 0},
                )
            columns = ", ".join(f'"{c}"' for c in rules.columns) or "1"
            frame = con.execute(
                f"select {columns} from raw.{source.table} where _file = ?", [newest]
            ).df()

        outcomes = validate_frame(frame, f"raw_{source.name}")
        critical = [o for o in outcomes if not o.success and o.severity == "critical"]
        warnings = [o for o in outcomes if not o.success and o.severity != "critical"]
        metadata = {
            f"{o.severity}: {o.expectation}({o.column or ''})": (
                o.unexpected_count or 0
            )
            for o in outcomes
        }
        metadata |= {
            "extract": newest or "none",
            "rows_validated": len(frame),
            "critical_failures": len(critical),
            "warnings": len(warnings),
        }
        if critical:
            context.log.error(
                f"raw/{source.table}: suite raw_{source.name} failed on extract "
                f"{newest}: {describe_critical(outcomes)}"
            )
        return dg.AssetCheckResult(passed=not critical, metadata=metadata)

    _check.__name__ = f"check_{source.table}_expectations"
    return _check


source_assets = [build_source_asset(source) for source in SOURCES]
landing_specs = [landing_spec(source) for source in SOURCES]
source_checks = [
    build(source)
    for build in (
        build_accounting_check,
        build_rejected_files_check,
        build_quality_check,
    )
    for source in SOURCES
]
