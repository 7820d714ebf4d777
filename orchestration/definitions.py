"""Dagster definitions: wires assets, checks, the job and the schedule together."""

from __future__ import annotations

import dagster as dg

from activation.assets import destination_assets
from identity.assets import identity_resolution
from ingestion.assets import landing_specs, source_assets, source_checks
from orchestration import settings
from orchestration.analyst_copy import analyst_copy
from orchestration.clv_assets import customer_clv
from orchestration.dbt_assets import (
    dbt_after_clv,
    dbt_after_identity,
    dbt_before_identity,
)
from orchestration.jobs import nightly_job, nightly_schedule
from orchestration.kpi_report.assets import build_kpi_report
from orchestration.privacy.assets import privacy_assets
from orchestration.quality_checks import (
    dim_customers_expectations,
    staging_checks,
)
from orchestration.resources import build_resources
from orchestration.sensors import new_extracts_sensor

assets = [
    *landing_specs,
    *source_assets,
    dbt_before_identity,
    identity_resolution,
    dbt_after_identity,
    customer_clv,
    dbt_after_clv,
    analyst_copy,
    *destination_assets,
    *privacy_assets,
]
asset_checks = [*source_checks, *staging_checks, dim_customers_expectations]
check_keys = [
    key
    for d in [*assets, *asset_checks]
    if isinstance(d, (dg.AssetsDefinition, dg.AssetChecksDefinition))
    for key in d.check_keys
]

defs = dg.Definitions(
    assets=[*assets, build_kpi_report(check_keys)],
    asset_checks=asset_checks,
    jobs=[nightly_job],
    schedules=[nightly_schedule],
    sensors=[new_extracts_sensor],
    resources=build_resources(),
    # Spark's local metastore admits one process, so on the Spark engine the runs
    # the UI starts for a selection of assets keep all their steps in one process
    # too, like the nightly job.
    executor=dg.in_process_executor if settings.engine() == "spark" else None,
)
