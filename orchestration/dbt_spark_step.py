"""The dbt steps of the nightly job on the Spark engine (``CDP_ENGINE=spark``).

On DuckDB, dagster-dbt runs the ``dbt`` command line in a subprocess. On Spark
that cannot work: dbt-spark's session method runs dbt inside the Spark session of
its own process, and local mode keeps the catalog in an embedded Derby metastore
that admits one process at a time. The nightly job runs every step in one
process (the in-process executor, ``orchestration/jobs.py``), which already has
the metastore open for ingestion and identity. So dbt runs in that process through
``dbtRunner``, on the ``spark`` target, and its structured events become the
Dagster events dagster-dbt would yield: an output per model, seed and snapshot,
and a check result per dbt test.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt.asset_utils import (
    get_manifest_and_translator_from_dbt_assets,
    get_updated_cli_invocation_params_for_context,
)
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

from orchestration import settings

logger = logging.getLogger(__name__)

SPARK_TARGET = "spark"
# Read by dbt; dagster-dbt sets it to run the tests of a selected asset check.
INDIRECT_SELECTION_VARIABLE = "DBT_INDIRECT_SELECTION"


def invoke_dbt_on_spark(args: Sequence[str], callbacks: list[Callable]) -> Any:
    """Run dbt with ``args`` in this process and return dbtRunner's result.

    ``callbacks`` receive every dbt event as it happens.
    """
    from orchestration.spark_dbt import run_dbt_on_spark

    return run_dbt_on_spark(args, callbacks=callbacks)


def build_on_spark(context: dg.AssetExecutionContext) -> Iterator:
    """Run ``dbt build`` for the assets selected in ``context`` and yield their events.

    Raises dg.Failure after yielding the events when dbt reports a failure, as
    dagster-dbt does for the command line.
    """
    manifest, translator, project = get_manifest_and_translator_from_dbt_assets(
        [context.assets_def]
    )
    params = get_updated_cli_invocation_params_for_context(
        context=context, manifest=manifest, dagster_dbt_translator=translator
    )
    project_dir = Path(params.dbt_project.project_dir) if params.dbt_project else None
    project_dir = project_dir or settings.DBT_PROJECT_DIR
    target_path = _target_path(context)
    args = [
        "build",
        "--target",
        SPARK_TARGET,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(settings.DBT_PROJECT_DIR),
        "--target-path",
        str(target_path),
        "--log-path",
        str(target_path),
        *params.selection_args,
    ]

    raw_events: list[dict] = []
    with _environment(INDIRECT_SELECTION_VARIABLE, params.indirect_selection):
        result = invoke_dbt_on_spark(args, [_collector(raw_events)])

    for raw_event in raw_events:
        message = DbtCoreCliEventMessage(raw_event=raw_event, event_history_metadata={})
        yield from message.to_default_asset_events(
            manifest=manifest,
            dagster_dbt_translator=translator,
            context=context,
            target_path=target_path,
            project=project,
        )
    if not result.success:
        reason = f": {result.exception}" if result.exception else ""
        raise dg.Failure(
            f"dbt build on Spark failed{reason}. The dbt log above names the model "
            f"or test; its files are in {target_path}."
        )


def _collector(raw_events: list[dict]) -> Callable:
    from dbt_common.events.functions import msg_to_dict

    def collect(event) -> None:
        raw_events.append(msg_to_dict(event))

    return collect


def _target_path(context: dg.AssetExecutionContext) -> Path:
    """Return a target folder of its own for this step's dbt artifacts."""
    run = context.run.run_id[:8]
    return settings.DBT_PROJECT_DIR / "target" / f"spark-{run}-{context.op.name}"


@contextmanager
def _environment(name: str, value: str | None) -> Iterator[None]:
    previous = os.environ.get(name)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous
