"""One Dagster asset per destination in ``activation/destinations.yml``."""

import dagster as dg

from activation.destinations import Destination, load_destinations
from activation.spark_source import copy_audience_tables
from activation.sync import sync_destination
from orchestration import settings
from orchestration.resources import DuckDBWarehouse


def build_destination_asset(destination: Destination) -> dg.AssetsDefinition:
    """Build the asset that syncs one destination from the DuckDB file.

    With ``CDP_ENGINE=spark`` it first copies the tables the sync reads from Spark
    into the DuckDB file (``activation.spark_source``).
    """
    upstream = [
        dg.AssetKey(["marts", destination.segment_model(s)])
        for s in destination.segments
    ]
    schedule = ""
    if destination.schedule:
        schedule = f" The tool imports on the cron schedule {destination.schedule}."

    @dg.asset(
        key=dg.AssetKey(["outbox", destination.name]),
        deps=[
            *upstream,
            dg.AssetKey(["marts", "dim_customers"]),
            dg.AssetKey(["intermediate", "int_email_suppressions"]),
        ],
        group_name="activation",
        kinds={destination.type},
        owners=["team:marketing-ops"],
        description=f"{destination.description} Segments: "
        f"{', '.join(destination.segments)}; {destination.mode} sync; only people "
        f"with {destination.consent} consent.{schedule}",
        pool="duckdb_writer",
    )
    def _export(
        context: dg.AssetExecutionContext, warehouse: DuckDBWarehouse
    ) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            if settings.engine() == "spark":
                copied = copy_audience_tables(con, destination, context.run.run_id)
                context.log.info(f"copied from Spark into DuckDB: {copied}")
            result = sync_destination(
                con, destination, settings.outbox_dir(), settings.run_date()
            )
        metadata: dict = {}
        for segment in result.segments:
            counts = segment.summary()
            context.log.info(segment.describe())
            for name in ("total", "added", "changed", "removed", "failed"):
                metadata[f"{name}_{segment.segment}"] = counts[f"rows_{name}"]
        metadata["folder"] = dg.MetadataValue.path(str(result.folder))
        metadata["dagster/row_count"] = sum(
            s.summary()["rows_total"] for s in result.segments
        )
        return dg.MaterializeResult(metadata=metadata)

    _export.__name__ = f"export_{destination.name}"
    return _export


destination_assets = [build_destination_asset(d) for d in load_destinations()]
