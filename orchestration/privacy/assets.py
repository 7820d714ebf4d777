"""Dagster assets of the privacy steps in the nightly job.

- ``privacy/retention`` runs after every raw table is loaded and before dbt builds
  staging: it purges rows older than their source's retention period.
- ``privacy/erasure`` runs after every raw table is loaded and before dbt builds
  staging (the staging models depend on it, see ``orchestration/dbt_assets.py``).
  It also makes sure the pseudonym key exists before the analytics views need it.
- ``privacy/erasure_verification`` runs after identity resolution and before the
  marts: it fails when a resolved record still carries a suppressed identifier, so
  no mart or export is built with an erased person.
- ``privacy/warehouse_compaction`` runs last and rewrites the warehouse file after
  a night that erased someone.
"""

from pathlib import Path

import dagster as dg

from activation.assets import destination_assets
from identity.assets import ASSET_KEY as IDENTITY_KEY
from ingestion.assets import source_assets
from orchestration import settings
from orchestration.analyst_copy import ASSET_KEY as ANALYST_COPY_KEY
from orchestration.dbt_assets import dbt_after_clv
from orchestration.privacy import erasure, retention, store
from orchestration.privacy.keys import (
    COMPACTION_KEY,
    ERASURE_KEY,
    RETENTION_KEY,
    VERIFICATION_KEY,
)
from orchestration.resources import DuckDBWarehouse

# Records of the night whose email or phone number is on the suppression list.
SUPPRESSED_RECORDS = """
select count(distinct r.record_key)
from identity.record_customers as r
join intermediate.int_identifiers as i using (record_key)
where i.identifier_type in ('email', 'phone')
    and sha256($salt || ':' || i.identifier_type || ':' || i.identifier_value)
        in (select identifier_hash from privacy.suppressed_identifiers)
"""


@dg.asset(
    key=ERASURE_KEY,
    deps=[key for asset in source_assets for key in asset.keys],
    group_name="privacy",
    kinds={"duckdb", "python"},
    owners=["team:data-platform"],
    description="Erases the people of pending `cdp forget` requests from raw, "
    "identity, the derived schemas, activation state, landing files, audience files, "
    "reports and the analyst copy, and suppresses their identifiers for later loads. "
    "Audit trail in privacy.erasure_log. Creates the privacy tables and the "
    "pseudonym key of the analytics views on the first night.",
    pool="duckdb_writer",
)
def erase_requested_people(
    context: dg.AssetExecutionContext, warehouse: DuckDBWarehouse
) -> dg.MaterializeResult:
    folders = erasure.DataFolders(
        landing=settings.landing_dir(),
        outbox=settings.outbox_dir(),
        reports=settings.reports_dir(),
        analyst_copy=settings.analyst_copy_path(),
    )
    on_spark = settings.engine() == "spark"
    erase_elsewhere = None
    with warehouse.connect() as con:
        # The analytics views read the key, and they run after this step.
        store.pseudonym_key(con)
        if on_spark:
            from orchestration.privacy import spark

            spark.mirror_pseudonym_key(con)
            erase_elsewhere = spark.erase_derived_rows
        results = erasure.process_pending_requests(con, folders, erase_elsewhere)
        if results and on_spark:
            _erase_from_spark(context, con)
    for result in results:
        context.log.info(
            f"erasure request {result.request_id}: {result.customers} customer ids, "
            f"{result.records} records, {sum(result.rows.values())} rows removed "
            f"from {len(result.rows)} tables and files"
        )
    return dg.MaterializeResult(
        metadata={
            "requests_processed": len(results),
            "rows_removed": sum(sum(r.rows.values()) for r in results),
        }
    )


def _erase_from_spark(context: dg.AssetExecutionContext, con) -> None:
    """Copy the erased raw and identity tables over their Spark copies.

    Rewriting a table replaces its Parquet files, so no erased value stays in
    Spark's raw or identity database. The derived schemas, the snapshot among
    them, lost the person's rows during each request
    (``orchestration.privacy.spark.erase_derived_rows``).
    """
    from identity.spark_catalog import publish_identity_tables
    from ingestion.spark_mirror import mirror_all_sources

    mirrored = mirror_all_sources(con)
    rewritten = [m.table for m in mirrored if m.action == "rewritten"]
    publish_identity_tables(con)
    context.log.info(
        f"rewrote {len(rewritten)} Spark raw tables and the identity tables after "
        "erasure"
    )


@dg.asset(
    key=RETENTION_KEY,
    deps=[key for asset in source_assets for key in asset.keys],
    group_name="privacy",
    kinds={"duckdb", "python"},
    owners=["team:data-platform"],
    description="Purges raw rows older than their source's retention period "
    "(`retention` in ingestion/sources.py) from raw and from the landing files, and "
    "deletes landing files left without rows. Counts in raw._load_log.rows_purged "
    "and privacy.retention_log.",
    pool="duckdb_writer",
)
def purge_expired_rows(
    context: dg.AssetExecutionContext, warehouse: DuckDBWarehouse
) -> dg.MaterializeResult:
    run_date = settings.run_date()
    with warehouse.connect() as con:
        results = retention.purge_expired_rows(con, settings.landing_dir(), run_date)
    for result in results:
        context.log.info(
            f"{result.source}: cutoff {result.cutoff}, purged {result.rows} rows and "
            f"{result.rejects} rejects, deleted {result.files_deleted} landing files"
        )
    return dg.MaterializeResult(
        metadata={
            "run_date": run_date.isoformat(),
            "rows_purged": sum(r.rows + r.rejects for r in results),
            "landing_files_deleted": sum(r.files_deleted for r in results),
            "rows_without_event_time": sum(r.rows_without_event_time for r in results),
            "cutoffs": dg.MetadataValue.md(
                "\n".join(f"- {r.source}: {r.cutoff}" for r in results) or "none"
            ),
        }
    )


@dg.asset(
    key=VERIFICATION_KEY,
    deps=[IDENTITY_KEY],
    group_name="privacy",
    kinds={"duckdb"},
    owners=["team:data-platform"],
    description="Fails when a record resolved tonight carries an email or phone "
    "number of an erased person; the marts and exports depend on it.",
    pool="duckdb_writer",
)
def verify_erasure(warehouse: DuckDBWarehouse) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        if not store.suppressed_hash_count(con):
            return dg.MaterializeResult(metadata={"suppressed_records": 0})
        found = con.execute(SUPPRESSED_RECORDS, {"salt": store.salt(con)}).fetchone()[0]
    if found:
        raise dg.Failure(
            f"{found} records resolved tonight carry an identifier of an erased "
            "person; the marts are not built. Run the job again so the erasure step "
            "removes them, and check orchestration/privacy/identifiers.py covers their source."
        )
    return dg.MaterializeResult(metadata={"suppressed_records": 0})


def _leaf_keys() -> list[dg.AssetKey]:
    keys = [key for asset in destination_assets for key in asset.keys]
    return [*keys, *dbt_after_clv.keys, ANALYST_COPY_KEY]


@dg.asset(
    key=COMPACTION_KEY,
    deps=_leaf_keys(),
    group_name="privacy",
    kinds={"duckdb"},
    owners=["team:data-platform"],
    description="After a night that erased someone: rewrites the warehouse file so "
    "that no free block of it keeps an erased value, then marks the requests "
    "completed.",
    pool="duckdb_writer",
)
def compact_warehouse_file(
    context: dg.AssetExecutionContext, warehouse: DuckDBWarehouse
) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        request_ids = erasure.erased_requests(con)
    if not request_ids:
        return dg.MaterializeResult(metadata={"compacted": False})
    before, after = erasure.compact_warehouse(Path(warehouse.path))
    with warehouse.connect() as con:
        erasure.mark_completed(con, request_ids)
    context.log.info(
        f"rewrote the warehouse for {len(request_ids)} erasure requests: "
        f"{before:,} bytes before, {after:,} after"
    )
    return dg.MaterializeResult(
        metadata={"compacted": True, "bytes_before": before, "bytes_after": after}
    )


privacy_assets = [
    purge_expired_rows,
    erase_requested_people,
    verify_erasure,
    compact_warehouse_file,
]
