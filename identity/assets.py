"""Dagster assets for identity resolution between the intermediate models and marts."""

from collections.abc import Iterator

import dagster as dg
import duckdb

from identity.health import (
    DEFAULT_THRESHOLDS,
    HealthThresholds,
    compute_cluster_metrics,
    merge_rates,
)
from identity.resolve import resolve_identities
from identity.spark_catalog import copy_inputs_from_spark, publish_identity_tables
from ingestion.quality import STAGING_RULES
from orchestration import settings
from orchestration.resources import DuckDBWarehouse

# The consent signals tell who subscribed an e-mail address a household shares
# (graph._add_subscriber_links).
UPSTREAM_MODELS = ["int_person_records", "int_identifiers", "int_email_consent_signals"]
# Identity reads the staging models through the intermediate ones, which dbt builds
# in the same step. Depending on the checked staging models directly lets their
# blocking quality checks stop identity resolution and everything after it.
GATING_STAGING_MODELS = list(STAGING_RULES)
ASSET_KEY = dg.AssetKey(["identity", "record_customers"])

# Over-merging checks block the marts and activation downstream, so a run that
# suddenly joins many people sends no audience files built from it.
HEALTH_CHECKS = [
    dg.AssetCheckSpec(
        "largest_cluster_size",
        asset=ASSET_KEY,
        blocking=True,
        description="The largest customer has at most max_cluster_size records.",
    ),
    dg.AssetCheckSpec(
        "large_clusters",
        asset=ASSET_KEY,
        description="At most max_large_clusters customers exceed large_cluster_size.",
    ),
    dg.AssetCheckSpec(
        "merged_record_share",
        asset=ASSET_KEY,
        description="At most max_merged_record_share of records share a customer.",
    ),
    dg.AssetCheckSpec(
        "merge_rate_change",
        asset=ASSET_KEY,
        blocking=True,
        description="The merge rate moved at most max_merge_rate_change since the "
        "previous run.",
    ),
]


def _metric(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


# Id tables the identity step keeps across runs; dbt reads them for
# marts.customer_id_changes.
ID_HISTORY_KEY = dg.AssetKey(["identity", "customer_id_history"])
ID_LOOKUP_KEY = dg.AssetKey(["identity", "customer_id_lookup"])
DEPS = [
    *(dg.AssetKey(["intermediate", name]) for name in UPSTREAM_MODELS),
    *(dg.AssetKey(["staging", name]) for name in GATING_STAGING_MODELS),
]


def _identity_spec(key: dg.AssetKey, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key,
        deps=DEPS,
        description=description,
        kinds={"duckdb", "python"},
        owners=["team:data-platform"],
    )


@dg.multi_asset(
    specs=[
        _identity_spec(
            ASSET_KEY,
            "Person record to customer id: records sharing an identifier, plus "
            "Splink pairs above the match threshold, clustered into one customer "
            "each. Writes identity.record_customers, identity.match_pairs and "
            "identity.resolution_metrics; customer ids stay stable across runs.",
        ),
        _identity_spec(
            ID_HISTORY_KEY, "Every merge and split of a customer id, never dropped."
        ),
        _identity_spec(
            ID_LOOKUP_KEY,
            "Every customer id ever issued, with the id it resolves to now.",
        ),
    ],
    name="identity_resolution",
    group_name="identity",
    pool="duckdb_writer",
    check_specs=HEALTH_CHECKS,
)
def identity_resolution(
    context: dg.AssetExecutionContext, warehouse: DuckDBWarehouse
) -> Iterator[dg.MaterializeResult]:
    """Resolve identities in the DuckDB file, with Splink on the configured engine.

    With ``CDP_ENGINE=spark`` the inputs come from Spark's ``intermediate``
    database, Splink scores the pairs on Spark, and the identity tables are copied
    to Spark's ``identity`` database afterwards (``identity.spark_catalog``).
    """
    ground_truth = settings.ground_truth_path()
    engine = settings.engine()
    with warehouse.connect() as con:
        if engine == "spark":
            copied = copy_inputs_from_spark(con)
            context.log.info(f"copied the intermediate tables from Spark: {copied}")
        result = resolve_identities(
            con,
            ground_truth=ground_truth if ground_truth.exists() else None,
            charts_dir=settings.reports_dir()
            / "identity"
            / settings.run_date().isoformat(),
            run_id=context.run.run_id,
            splink_engine=engine,
            # TODO: incremental scoring runs on DuckDB only.
            incremental=settings.identity_incremental() and engine == "duckdb",
        )
        check_results = health_check_results(con)
        if engine == "spark":
            published = publish_identity_tables(con)
            context.log.info(
                f"copied {len(published)} identity tables to Spark's identity database"
            )

    context.log.info(
        f"resolved {result.records} records into {result.customers} customers"
    )
    metadata = {
        "records": result.records,
        "customers": result.customers,
        "match_threshold": result.threshold,
        "dagster/row_count": result.records,
        "customer_ids_kept": result.id_changes.kept,
        "customer_ids_minted": result.id_changes.minted,
        "customer_ids_merged": result.id_changes.merged,
        "customer_ids_split": result.id_changes.split,
    }
    if result.incremental is not None:
        metadata |= {
            "records_scored_again": result.incremental.records_to_score,
            "pair_vectors_reused": result.incremental.reused_pairs,
            "pair_vectors_stored": result.incremental.stored_pairs,
            # How far the prior and term frequencies could have moved a score since
            # the last full scoring; a full scoring follows at SCORE_MARGIN_BITS.
            "score_drift_bits": round(result.incremental.plan.drift_bits, 3),
            "full_scoring_reason": result.incremental.full_run_reason or "",
        }
    if result.f1 is not None:
        metadata |= {
            "pairwise_precision": _metric(result.precision),
            "pairwise_recall": _metric(result.recall),
            "pairwise_f1": _metric(result.f1),
        }
    yield dg.MaterializeResult(
        asset_key=ASSET_KEY, metadata=metadata, check_results=check_results
    )
    yield dg.MaterializeResult(
        asset_key=ID_HISTORY_KEY,
        metadata={
            "customer_ids_merged": result.id_changes.merged,
            "customer_ids_split": result.id_changes.split,
        },
    )
    yield dg.MaterializeResult(asset_key=ID_LOOKUP_KEY)


def health_check_results(
    con: duckdb.DuckDBPyConnection, thresholds: HealthThresholds = DEFAULT_THRESHOLDS
) -> list[dg.AssetCheckResult]:
    """Evaluate the identity health checks on the run just written to ``con``."""
    metrics = compute_cluster_metrics(con, thresholds.large_cluster_size)
    latest, previous = merge_rates(con)
    change = None if latest is None or previous is None else latest - previous
    error, warn = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN

    return [
        dg.AssetCheckResult(
            check_name="largest_cluster_size",
            passed=metrics.largest_cluster_size <= thresholds.max_cluster_size,
            severity=error,
            metadata={
                "largest_cluster_size": metrics.largest_cluster_size,
                "max_cluster_size": thresholds.max_cluster_size,
            },
        ),
        dg.AssetCheckResult(
            check_name="large_clusters",
            passed=metrics.large_clusters <= thresholds.max_large_clusters,
            severity=warn,
            metadata={
                "large_clusters": metrics.large_clusters,
                "large_cluster_size": thresholds.large_cluster_size,
                "max_large_clusters": thresholds.max_large_clusters,
            },
        ),
        dg.AssetCheckResult(
            check_name="merged_record_share",
            passed=metrics.merged_record_share <= thresholds.max_merged_record_share,
            severity=warn,
            metadata={
                "merged_record_share": _metric(metrics.merged_record_share),
                "max_merged_record_share": thresholds.max_merged_record_share,
            },
        ),
        dg.AssetCheckResult(
            check_name="merge_rate_change",
            # The first run has nothing to compare against and passes.
            passed=change is None or abs(change) <= thresholds.max_merge_rate_change,
            severity=error,
            metadata={
                "merge_rate": _metric(latest),
                "previous_merge_rate": _metric(previous),
                "merge_rate_change": _metric(change),
                "max_merge_rate_change": thresholds.max_merge_rate_change,
            },
        ),
    ]
