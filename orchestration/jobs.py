"""The nightly job and its schedule."""

from __future__ import annotations

import dagster as dg

from orchestration.memory import release_memory_hooks

# The in-process executor runs one step at a time, so only one process writes to
# the DuckDB file at any moment. It also sets up resources once per run, which lets
# the warehouse resource hold the run lock from the first step to the last.
nightly_job = dg.define_asset_job(
    name="nightly",
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    # One process runs every step, so each step's freed memory goes back to the
    # system before the next one, and the dbt processes run beside a small process.
    hooks=release_memory_hooks(),
    description="Load new extracts, build the customer model, resolve identities "
    "and export audiences.",
)

nightly_schedule = dg.ScheduleDefinition(
    name="nightly_at_two",
    job=nightly_job,
    cron_schedule="0 2 * * *",
    execution_timezone="Europe/Berlin",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Runs the nightly job at 02:00 Berlin time, after the extracts land.",
)
