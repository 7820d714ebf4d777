"""One Dagster asset per destination in ``activation/destinations.yml``."""

import dagster as dg

from activation.destinations import Destination, load_destinations
from activation.export import export_destination
from orchestration import settings
from orchestration.resources import DuckDBWarehouse


def build_destination_asset(destination: Destination) -> dg.AssetsDefinition:
    upstream = [
        dg.AssetKey(["marts", destination.segment_model(s)])
        for s in destination.segments
    ]

    @dg.asset(
        key=dg.AssetKey(["outbox", destination.name]),
        deps=[*upstream, dg.AssetKey(["marts", "dim_customers"])],
        group_name="activation",
        kinds={"csv"},
        owners=["team:marketing-ops"],
        description=f"{destination.description} Segments: "
        f"{', '.join(destination.segments)}; only people with {destination.consent} "
        "consent.",
        pool="duckdb_writer",
    )
    def _export(
        context: dg.AssetExecutionContext, warehouse: DuckDBWarehouse
    ) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            folder, files = export_destination(
                con, destination, settings.outbox_dir(), settings.run_date()
            )
        context.log.info(
            f"{destination.name}: wrote {sum(f.row_count for f in files)} rows "
            f"in {len(files)} files to {folder}"
        )
        metadata = {f"rows_{f.segment}": f.row_count for f in files}
        metadata["folder"] = dg.MetadataValue.path(str(folder))
        metadata["dagster/row_count"] = sum(f.row_count for f in files)
        return dg.MaterializeResult(metadata=metadata)

    _export.__name__ = f"export_{destination.name}"
    return _export


destination_assets = [build_destination_asset(d) for d in load_destinations()]
