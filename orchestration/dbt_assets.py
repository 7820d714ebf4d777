"""dbt models as Dagster assets, split around the two Python steps.

The identity step (Python, Splink) reads intermediate models and writes
``identity.record_customers``, which the marts read. The lifetime value step reads
``marts.fct_orders`` and writes ``marts.customer_clv``, which the traits and segments
read. One dbt invocation cannot stop in the middle for a Python step, so the project
runs as three dbt asset definitions. Staging and intermediate run before identity,
the marts and the analytics views after it. The lifetime value staging model and everything that reads it run
after the lifetime value step: traits, segments, segment_memberships, the snapshot
segment_memberships_snapshot and segment_membership_history, in that order within
one ``dbt build``.
"""

import logging
import os
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from dagster_dbt.asset_utils import get_manifest_and_translator_from_dbt_assets

from ingestion.loader import full_refresh_requested
from orchestration import settings
from orchestration.dbt_project import dbt_project, ensure_manifest
from orchestration.privacy.keys import ERASURE_KEY, RETENTION_KEY, VERIFICATION_KEY

BEFORE_IDENTITY = "path:models/staging path:models/intermediate resource_type:seed"
AFTER_IDENTITY = "path:models/staging/identity path:models/marts path:models/analytics"
AFTER_CLV = "path:models/staging/clv+"


# Folders under models/marts whose models form the Dagster group "segments". The
# snapshot of segment_memberships joins that group through its meta.
SEGMENT_FOLDERS = ("segments", "memberships")


class LayerTranslator(DagsterDbtTranslator):
    """Groups dbt assets by layer folder and names the team that owns them."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "seeds"
        fqn = dbt_resource_props.get("fqn", [])
        if len(fqn) > 2 and fqn[1] == "marts" and fqn[2] in SEGMENT_FOLDERS:
            return "segments"
        if len(fqn) > 2 and fqn[1] in ("staging", "intermediate", "marts", "analytics"):
            return fqn[1]
        return super().get_group_name(dbt_resource_props)

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        """Name analytics models by their table (alias): analytics/customers.

        Their dbt names carry an analytics_ prefix only because dbt needs model
        names unique across the project, and marts.customers would clash.
        """
        fqn = dbt_resource_props.get("fqn", [])
        alias = dbt_resource_props.get("alias")
        if dbt_resource_props["resource_type"] == "model" and fqn[1:2] == ["analytics"]:
            return dg.AssetKey(["analytics", alias or dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_asset_spec(
        self,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> dg.AssetSpec:
        """Add the privacy steps before the models that read raw and identity.

        Staging models of sources wait for ``privacy/erasure`` and
        ``privacy/retention``, so no model is built from raw rows of a person erased
        tonight or from rows past their retention period. The staging models of the identity
        tables wait for ``privacy/erasure_verification``, and every mart reads them.
        """
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        fqn = props.get("fqn", [])
        if props["resource_type"] != "model" or len(fqn) < 3 or fqn[1] != "staging":
            return spec
        if fqn[2] == "identity":
            return spec.merge_attributes(deps=[VERIFICATION_KEY])
        # The privacy source maps to privacy/erasure already (_privacy__sources.yml).
        if fqn[2] not in ("clv", "privacy"):
            return spec.merge_attributes(deps=[ERASURE_KEY, RETENTION_KEY])
        return spec

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        """Return ``team:<owner in meta>``, or team:analytics-engineering without one."""
        owner = dbt_resource_props.get("config", {}).get("meta", {}).get("owner")
        return [f"team:{owner or 'analytics-engineering'}"]


translator = LayerTranslator()
logger = logging.getLogger(__name__)

manifest_path = ensure_manifest()


def _dbt_build(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator:
    """Run ``dbt build`` for the selected models on the configured engine.

    DuckDB runs the dbt command line. Spark runs dbt in this process on the
    ``spark`` target (``orchestration/dbt_spark_step.py``), or, with
    ``CDP_SPARK_DBT_METHOD=thrift``, the dbt command line on the ``spark_thrift``
    target. The command line leaves out dbt's unit tests: their inputs are fixed rows, so they give
    the same result every night. tests/dbt/test_dbt_project.py runs them with the
    rest of the project. At 100,000 customers they took 8.3 s of a quiet night's
    dbt steps (per-model times in the dbt log of benchmarks.nightly_scale on a
    2-core machine).
    """
    os.environ["CDP_WAREHOUSE"] = str(settings.warehouse_path())
    if settings.engine() == "spark" and settings.spark_dbt_method() == "session":
        from orchestration.dbt_spark_step import build_on_spark

        manifest = get_manifest_and_translator_from_dbt_assets([context.assets_def])[0]
        stream, count_rows = build_on_spark(context), _spark_row_counts
    else:
        # A full refresh reloads raw with new load times, so the incremental
        # models are rebuilt from scratch as well.
        arguments = (
            ["build", "--full-refresh"] if full_refresh_requested() else ["build"]
        )
        arguments += ["--exclude-resource-type", "unit_test"]
        count_rows = _row_counts
        if settings.engine() == "spark":
            # TODO: a whole night with the job and the Thrift server in two
            # processes on one metastore service has not been run, only this step.
            arguments += ["--target", "spark_thrift"]
            count_rows = _thrift_row_counts
        invocation = dbt.cli(arguments, context=context)
        manifest = invocation.manifest
        stream = invocation.stream()
    # dbt holds DuckDB's write lock until it exits, so rows can be counted only
    # afterwards: the events wait until then and get their tables' row counts.
    events = []
    try:
        for event in stream:
            events.append(event)
    finally:
        counts = count_rows(manifest, events)
        for event in events:
            yield _with_row_count(manifest, event, counts)


def _relation(manifest: Mapping[str, Any], event: Any) -> str | None:
    if not isinstance(event, (dg.Output, dg.AssetMaterialization)):
        return None
    unique_id = event.metadata.get("unique_id")
    node = manifest["nodes"].get(getattr(unique_id, "text", None), {})
    if node.get("config", {}).get("materialized") not in ("table", "incremental"):
        return None
    return node.get("relation_name")


def _row_counts(manifest: Mapping[str, Any], events: list) -> dict[str, int]:
    """Count the rows of every table the events materialized, read-only."""
    relations = {r for r in (_relation(manifest, e) for e in events) if r}
    if not relations:
        return {}
    counts = {}
    try:
        with duckdb.connect(str(settings.warehouse_path()), read_only=True) as con:
            for relation in sorted(relations):
                # relation_name is '"warehouse"."marts"."x"'; drop the catalog,
                # which is the file name and differs between warehouses.
                table = relation.split(".", 1)[1]
                counts[relation] = con.execute(
                    f"select count(*) from {table}"
                ).fetchone()[0]
    except duckdb.Error as error:
        logger.warning("row counts of the dbt models are missing: %s", error)
    return counts


def _spark_table(relation: str) -> str:
    """Return the Spark name of a relation of the manifest, which is parsed for
    DuckDB: '"warehouse"."marts"."x"' names the Spark table marts.x."""
    return relation.split(".", 1)[1].replace('"', "`")


def _spark_row_counts(manifest: Mapping[str, Any], events: list) -> dict[str, int]:
    """Count the rows of every table the events materialized, in the Spark catalog."""
    from orchestration.spark_session import spark_session

    relations = {r for r in (_relation(manifest, e) for e in events) if r}
    counts = {}
    for relation in sorted(relations):
        table = _spark_table(relation)
        try:
            counts[relation] = spark_session().table(table).count()
        except Exception as error:  # noqa: BLE001 - counts are metadata only
            logger.warning("row count of %s on Spark is missing: %s", table, error)
    return counts


def _thrift_row_counts(manifest: Mapping[str, Any], events: list) -> dict[str, int]:
    """Count the rows of every table the events materialized, through the Thrift
    server that dbt used, so the dbt step needs no Spark session of its own."""
    from orchestration.spark_thrift import connect

    relations = {r for r in (_relation(manifest, e) for e in events) if r}
    if not relations:
        return {}
    counts = {}
    try:
        with connect() as connection:
            cursor = connection.cursor()
            for relation in sorted(relations):
                cursor.execute(f"select count(*) from {_spark_table(relation)}")
                counts[relation] = cursor.fetchone()[0]
    except Exception as error:  # noqa: BLE001 - counts are metadata only
        logger.warning("row counts of the dbt models on Spark are missing: %s", error)
    return counts


def _with_row_count(
    manifest: Mapping[str, Any], event: Any, counts: dict[str, int]
) -> Any:
    relation = _relation(manifest, event)
    if relation not in counts:
        return event
    return event.with_metadata(
        {**event.metadata, "dagster/row_count": counts[relation]}
    )


@dbt_assets(
    manifest=manifest_path,
    project=dbt_project,
    select=BEFORE_IDENTITY,
    exclude="path:models/staging/identity path:models/staging/clv",
    dagster_dbt_translator=translator,
    name="dbt_staging_and_intermediate",
    pool="duckdb_writer",
)
def dbt_before_identity(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from _dbt_build(context, dbt)


@dbt_assets(
    manifest=manifest_path,
    project=dbt_project,
    select=AFTER_IDENTITY,
    exclude=AFTER_CLV,
    dagster_dbt_translator=translator,
    name="dbt_marts",
    pool="duckdb_writer",
)
def dbt_after_identity(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from _dbt_build(context, dbt)


@dbt_assets(
    manifest=manifest_path,
    project=dbt_project,
    select=AFTER_CLV,
    dagster_dbt_translator=translator,
    name="dbt_traits",
    pool="duckdb_writer",
)
def dbt_after_clv(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from _dbt_build(context, dbt)
