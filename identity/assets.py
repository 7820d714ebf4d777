"""Dagster asset for identity resolution between the intermediate models and marts."""

import dagster as dg

from identity.resolve import resolve_identities
from orchestration import settings
from orchestration.resources import DuckDBWarehouse

UPSTREAM_MODELS = ["int_person_records", "int_identifiers"]


def _metric(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dg.asset(
    key=dg.AssetKey(["identity", "record_customers"]),
    deps=[dg.AssetKey(["intermediate", name]) for name in UPSTREAM_MODELS],
    group_name="identity",
    kinds={"duckdb", "python"},
    owners=["team:data-platform"],
    description=(
        "Person record to customer id: records sharing an identifier, plus Splink "
        "pairs above the match threshold, clustered into one customer each. Writes "
        "identity.record_customers, identity.match_pairs and "
        "identity.resolution_metrics."
    ),
    pool="duckdb_writer",
)
def record_customers(
    context: dg.AssetExecutionContext, warehouse: DuckDBWarehouse
) -> dg.MaterializeResult:
    ground_truth = settings.ground_truth_path()
    with warehouse.connect() as con:
        result = resolve_identities(
            con, ground_truth=ground_truth if ground_truth.exists() else None
        )

    context.log.info(
        f"resolved {result.records} records into {result.customers} customers"
    )
    metadata = {
        "records": result.records,
        "customers": result.customers,
        "match_threshold": result.threshold,
        "dagster/row_count": result.records,
    }
    if result.f1 is not None:
        metadata |= {
            "pairwise_precision": _metric(result.precision),
            "pairwise_recall": _metric(result.recall),
            "pairwise_f1": _metric(result.f1),
        }
    return dg.MaterializeResult(metadata=metadata)
