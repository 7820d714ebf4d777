"""The ``cdp`` command: run the nightly job, generate sample data, start the UI."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import click
import duckdb
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from orchestration import settings
from orchestration.run_lock import RunLockTimeout, run_lock

# Rich wraps at 80 columns when output goes to a file or a pipe, and that cuts the
# names in the run summary's tables. A scheduler's log file gets wide lines instead.
PIPED_WIDTH = 160
console = Console(
    width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else PIPED_WIDTH
)
logger = logging.getLogger(__name__)


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )
    # arviz (imported by the lifetime-value model) logs which optional parts are missing.
    for noisy in ("splink", "great_expectations", "httpx", "alembic", "arviz"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # dbt colours its log lines; in a file or a pipe the escape codes are clutter.
    if not console.is_terminal:
        os.environ.setdefault("DBT_USE_COLORS", "false")
    # Dagster's console logger prints run events itself; without this, every event
    # would be printed a second time through the root handler.
    logging.getLogger("dagster").propagate = False


def prepare_dagster_home() -> Path:
    """Create DAGSTER_HOME with the project's instance settings (telemetry off)."""
    home = settings.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists():
        shutil.copyfile(settings.DAGSTER_TEMPLATE, target)
    return home


def check_warehouse_writable(path: Path) -> None:
    """Fail early, with what to do, when another process holds the DuckDB lock.

    Retries for ``CONNECT_TIMEOUT_SECONDS`` first, so a short query in another
    process does not fail the run.
    """
    from orchestration.resources import (
        CONNECT_TIMEOUT_SECONDS,
        WarehouseLockedError,
        connect_with_retry,
    )

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        connect_with_retry(path, False, CONNECT_TIMEOUT_SECONDS, logger).close()
    except WarehouseLockedError as error:
        raise click.ClickException(str(error)) from error


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
def main(verbose: bool) -> None:
    """Warehouse-native customer data platform."""
    _configure_logging(verbose)
    settings.export_settings_to_environment()


@main.command()
@click.option(
    "--lock-wait",
    type=click.FloatRange(min=0),
    default=3600,
    show_default=True,
    help="Seconds to wait for another run on the same warehouse (cdp run, or a "
    "run started in the Dagster UI, by the schedule or by the sensor) to finish.",
)
@click.option(
    "--full-refresh",
    is_flag=True,
    help="Drop the raw tables and the load log first, so every landing file is "
    "loaded again, and rebuild the incremental dbt models from scratch. Same as "
    "setting CDP_FULL_REFRESH=1.",
)
def run(lock_wait: float, full_refresh: bool) -> None:
    """Run the nightly job in this process, then print the run summary."""
    from ingestion.loader import FULL_REFRESH_VARIABLE

    if full_refresh:
        os.environ[FULL_REFRESH_VARIABLE] = "1"
    warehouse = settings.warehouse_path()
    try:
        with run_lock(warehouse, wait_seconds=lock_wait):
            _run_nightly(warehouse)
    except RunLockTimeout as error:
        raise click.ClickException(str(error)) from error


def _run_nightly(warehouse: Path) -> None:
    from dagster import DagsterInstance

    from orchestration import summary
    from orchestration.kpi_report.assets import report_path

    check_warehouse_writable(warehouse)
    _reset_raw_if_requested(warehouse)
    prepare_dagster_home()
    console.print(f"Warehouse: {warehouse}\nExtracts:  {settings.landing_dir()}")
    if settings.engine() == "spark":
        console.print(f"Spark:     {settings.spark_dir()} (CDP_ENGINE=spark)")

    from orchestration.definitions import defs

    started = time.monotonic()
    job = defs.resolve_job_def("nightly")
    with DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        )
    elapsed = time.monotonic() - started

    if not result.success:
        failed = [e.step_key for e in result.get_step_failure_events()]
        _print_rejected_files(warehouse)
        raise click.ClickException(
            f"the nightly job failed after {elapsed:.0f} s in steps: "
            f"{', '.join(failed)}. See the log above, or the run in `cdp dev`."
        )
    summary.render(summary.collect(warehouse), settings.outbox_dir(), console)
    report = report_path(settings.run_date())
    if report.exists():
        console.print(f"KPI report: {report}", soft_wrap=True)
    analyst_copy = settings.analyst_copy_path()
    if analyst_copy.exists():
        console.print(f"Analyst copy: {analyst_copy}", soft_wrap=True)
    console.print(f"Nightly job finished in {elapsed:.0f} s (run {result.run_id}).")


def _reset_raw_if_requested(warehouse: Path) -> None:
    """Drop raw before the job when CDP_FULL_REFRESH=1, while the run lock is held."""
    from ingestion.loader import reset_raw_if_requested

    with duckdb.connect(str(warehouse)) as con:
        settings.configure_duckdb(con)
        if not reset_raw_if_requested(con):
            return
    if settings.engine() == "spark":
        from ingestion.spark_mirror import drop_spark_raw_tables

        drop_spark_raw_tables()
    console.print(
        "Full refresh: dropped the raw tables and the load log, so every "
        "landing file loads again."
    )


def _print_rejected_files(warehouse: Path) -> None:
    from orchestration import summary

    try:
        rejected = summary.collect(warehouse).rejected_files
    except duckdb.Error as error:
        logger.warning("could not read the load log from %s: %s", warehouse, error)
        return
    for source, file, message in rejected:
        console.print(f"Rejected file {source}/{file}: {message}", soft_wrap=True)


@main.command(name="summary")
def show_summary() -> None:
    """Print the summary of the last run from the warehouse (read-only)."""
    from orchestration import summary

    summary.render(
        summary.collect(settings.warehouse_path()), settings.outbox_dir(), console
    )


@main.command()
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print what each destination would add, change and remove; write and "
    "send nothing. Opens the warehouse read-only.",
)
@click.option(
    "--destination",
    "names",
    multiple=True,
    help="Sync only this destination from activation/destinations.yml; repeat "
    "for several. All destinations when not given.",
)
@click.option(
    "--lock-wait",
    type=click.FloatRange(min=0),
    default=3600,
    show_default=True,
    help="Seconds to wait for another run on the same warehouse to finish "
    "(not used with --dry-run).",
)
def activate(dry_run: bool, names: tuple[str, ...], lock_wait: float) -> None:
    """Sync audiences to their destinations now, for the run date (CDP_RUN_DATE)."""
    from activation.destinations import load_destinations

    destinations = load_destinations()
    unknown = sorted(set(names) - {d.name for d in destinations})
    if unknown:
        raise click.BadParameter(
            f"not in activation/destinations.yml: {', '.join(unknown)}",
            param_hint="--destination",
        )
    selected = [d for d in destinations if not names or d.name in names]
    warehouse = settings.warehouse_path()
    if dry_run:
        _print_activation_plan(warehouse, selected)
        return
    try:
        with run_lock(warehouse, wait_seconds=lock_wait):
            _activate(warehouse, selected)
    except RunLockTimeout as error:
        raise click.ClickException(str(error)) from error


def _print_activation_plan(warehouse: Path, destinations) -> None:
    from activation.plan import describe_base, describe_last_sync
    from orchestration.resources import CONNECT_TIMEOUT_SECONDS, connect_with_retry

    if not warehouse.exists():
        raise click.ClickException(f"warehouse {warehouse} not found; run cdp run")
    run_date = settings.run_date()
    table = Table(title=f"Activation dry run for {run_date} (nothing written)")
    for column in ("destination", "type", "mode", "segment"):
        table.add_column(column)
    for column in ("members", "add", "change", "remove", "unchanged", "invalid"):
        table.add_column(column, justify="right")
    table.add_column("compared with")
    table.add_column("last synced")
    con = connect_with_retry(warehouse, True, CONNECT_TIMEOUT_SECONDS, logger)
    try:
        for destination in destinations:
            for plan in _plans(con, destination, run_date):
                table.add_row(
                    destination.name,
                    destination.type,
                    destination.mode,
                    plan.segment,
                    f"{len(plan.audience):,}",
                    f"{plan.count('add'):,}",
                    f"{plan.count('change'):,}",
                    f"{plan.count('remove'):,}",
                    f"{plan.count('unchanged'):,}",
                    f"{len(plan.invalid):,}",
                    describe_base(plan),
                    describe_last_sync(plan),
                )
    finally:
        con.close()
    console.print(table)
    console.print(
        "remove: people who leave the audience. Full mode sends no removals, "
        "because its file replaces the audience."
    )
    console.print(
        "compared with: the run date of the snapshot the counts compare with. A "
        "rerun of a run date compares with the same snapshot as its first attempt, "
        "so it writes the same files. last synced: the newest finished sync, of "
        "any run date."
    )


def _plans(con, destination, run_date):
    from activation.destinations import DestinationConfigError
    from activation.plan import SyncOrderError
    from activation.sync import plan_destination

    try:
        return plan_destination(con, destination, run_date)
    except (DestinationConfigError, SyncOrderError) as error:
        raise click.ClickException(str(error)) from error


def _activate(warehouse: Path, destinations) -> None:
    from activation.sync import sync_destination

    check_warehouse_writable(warehouse)
    run_date = settings.run_date()
    with duckdb.connect(str(warehouse)) as con:
        settings.configure_duckdb(con)
        for destination in destinations:
            if settings.engine() == "spark":
                from activation.spark_source import copy_audience_tables

                copy_audience_tables(con, destination)
            result = sync_destination(con, destination, settings.outbox_dir(), run_date)
            failed = sum(len(s.failures) for s in result.segments)
            console.print(
                f"{destination.name}: synced {len(result.segments)} segments to "
                f"{result.folder}, {failed} rows failed"
            )


@main.command()
@click.option(
    "--destination",
    required=True,
    help="Destination name from activation/destinations.yml.",
)
@click.option(
    "--segment",
    required=True,
    help="Segment the destination sends, without the segment_ prefix.",
)
@click.option("--customer-id", help="Customer id, current or retired by a merge.")
@click.option("--email", help="An email address on one of the person's records.")
@click.option(
    "--key",
    help="The destination's match key as exported: an email address, or for "
    "google_ads and meta its SHA-256 hex digest.",
)
def trace(
    destination: str,
    segment: str,
    customer_id: str | None,
    email: str | None,
    key: str | None,
) -> None:
    """Show why one person is in an audience: the rows exported to the destination,
    the source records and links behind the customer id, and the segment's rule.

    Opens the warehouse read-only and masks every email and phone number. With
    CDP_ENGINE=spark it reads a private copy of the tables it needs, taken from the
    Spark catalog and the DuckDB file and deleted when it ends.
    """
    from activation.destinations import load_destinations
    from activation.segment_rule import SegmentNotFoundError
    from activation.trace import TraceLookupError, check_segment

    given = [value for value in (customer_id, email, key) if value]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --customer-id, --email and --key")
    by_name = {d.name: d for d in load_destinations()}
    if destination not in by_name:
        raise click.ClickException(
            f"destination {destination} not found in activation/destinations.yml; "
            f"known destinations: {', '.join(sorted(by_name))}"
        )
    try:
        check_segment(by_name[destination], segment)
        _print_trace(by_name[destination], segment, customer_id, email, key)
    except (TraceLookupError, SegmentNotFoundError) as error:
        raise click.ClickException(str(error)) from error


def _print_trace(destination, segment, customer_id, email, key) -> None:
    from activation import trace
    from activation.trace_render import render_trace
    from orchestration.dbt_project import ensure_manifest
    from orchestration.spark_snapshot import SnapshotError, warehouse_for_reading

    warehouse = settings.warehouse_path()
    if not warehouse.exists():
        raise click.ClickException(f"warehouse {warehouse} not found; run cdp run")
    try:
        manifest = ensure_manifest()
    except subprocess.CalledProcessError as error:
        raise click.ClickException(
            f"dbt parse failed with exit status {error.returncode}, so the segment's "
            "description is unknown; run dbt parse in dbt_project/ to see why"
        ) from error
    try:
        with warehouse_for_reading(trace.trace_tables(segment), "trace") as path:
            result = _collect_trace(
                path, warehouse, destination, segment, customer_id, email, key, manifest
            )
    except SnapshotError as error:
        raise click.ClickException(str(error)) from error
    render_trace(result, console)


def _collect_trace(
    path, warehouse, destination, segment, customer_id, email, key, manifest
):
    """Build the trace from the DuckDB file at ``path``, which is ``warehouse`` or,
    on the Spark engine, a private copy of the tables the trace reads."""
    from activation import trace
    from identity.explain import mask_value
    from orchestration.resources import CONNECT_TIMEOUT_SECONDS, connect_with_retry

    con = connect_with_retry(path, True, CONNECT_TIMEOUT_SECONDS, logger)
    try:
        if not trace.has_identity_tables(con):
            raise click.ClickException(
                f"warehouse {warehouse} has no identity.record_customers; run cdp run"
            )
        if customer_id:
            current = trace.find_by_customer_id(con, customer_id)
            looked_up_by = f"customer id {customer_id}"
        elif email:
            current = trace.find_by_email(con, email)
            looked_up_by = f"email {mask_value('email', email)}"
        else:
            current = trace.find_by_key(con, destination, key)
            prepared = trace.prepare_key(destination, key)
            looked_up_by = f"key {trace.masked_key(destination, prepared)}"
        result = trace.build_trace(
            con,
            destination,
            segment,
            current,
            looked_up_by,
            manifest,
            settings.DBT_PROJECT_DIR,
        )
    finally:
        con.close()
    return result


@main.command()
@click.option(
    "--customers",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Number of customers to generate; anonymous-only web visitors (about "
    "20%) come on top of them.",
)
@click.option(
    "--seed",
    type=int,
    default=42,
    show_default=True,
    help="Random seed; the same seed gives byte-identical files.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder that receives landing/ and ground_truth/; its existing landing "
    "files for the same date are overwritten.",
)
@click.option(
    "--events-per-customer",
    type=click.FloatRange(min=0),
    default=6.0,
    show_default=True,
    help="Average number of web events per person.",
)
def generate(customers: int, seed: int, out: Path, events_per_customer: float) -> None:
    """Write sample extracts of six sources plus a ground-truth file."""
    from rich.progress import Progress

    from ingestion.generator import generate as generate_sample

    started = time.monotonic()
    with Progress(console=console) as progress:
        tasks: dict[str, int] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        result = generate_sample(
            customers=customers,
            seed=seed,
            out=out,
            events_per_customer=events_per_customer,
            progress=report,
        )
    table = Table(title=f"Generated {result.persons:,} persons into {out}")
    table.add_column("source")
    table.add_column("rows", justify="right")
    for source, rows in result.rows.items():
        table.add_row(source, f"{rows:,}")
    table.add_row("ground truth records", f"{result.ground_truth_rows:,}")
    console.print(table)
    console.print(f"Generated in {time.monotonic() - started:.1f} s.")


@main.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address the Dagster UI listens on.",
)
@click.option("--port", type=int, default=3000, show_default=True)
def dev(host: str, port: int) -> None:
    """Start the Dagster UI with every asset, the job and the schedule."""
    prepare_dagster_home()
    dagster = Path(sys.executable).with_name("dagster")
    command = [
        str(dagster),
        "dev",
        "-m",
        "orchestration.definitions",
        "-h",
        host,
        "-p",
        str(port),
    ]
    console.print(f"Dagster UI on http://{host}:{port} (Ctrl+C stops it)")
    raise SystemExit(subprocess.call(command, env=os.environ.copy()))


@main.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Any address other than loopback requires "
    "CDP_SERVE_USER and CDP_SERVE_PASSWORD.",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8360,
    show_default=True,
    help="TCP port to listen on.",
)
def serve(host: str, port: int) -> None:
    """Start Customer 360, the customer search and profile pages for staff.

    The app opens the warehouse read-only for each request and closes it at once,
    so it can stay up during the nightly run. With CDP_ENGINE=spark it copies the
    marts it reads from the Spark catalog into a private DuckDB file when it starts,
    serves that snapshot and deletes it when it stops.
    """
    from orchestration.customer360.auth import (
        CredentialsError,
        is_loopback,
        resolve_credentials,
    )

    try:
        credentials = resolve_credentials(host, os.environ)
    except CredentialsError as error:
        raise click.UsageError(str(error)) from error
    if not is_loopback(host):
        logger.warning(
            "Customer 360 sends the password unencrypted over HTTP, so put it behind "
            "a proxy that terminates TLS when it listens on %s",
            host,
        )

    with ExitStack() as stack:
        warehouse, taken_at = _serve_source(stack)
        _run_customer360(host, port, credentials, warehouse, taken_at)


@main.command(name="spark-thrift")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Loopback address to listen on. The server checks no password, so it "
    "rejects any other address.",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=10000,
    show_default=True,
    help="TCP port, the CDP_SPARK_THRIFT_PORT of dbt's spark_thrift target.",
)
def spark_thrift(host: str, port: int) -> None:
    """Serve the Spark catalog over Thrift for dbt's spark_thrift target.

    The server's Spark session has the cdp_normalize_* functions that the staging
    models call, and every connection shares it. Ctrl+C stops the server.
    """
    from orchestration.spark_thrift import require_free_port, require_loopback, serve

    try:
        require_loopback(host)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--host") from error
    try:
        require_free_port(host, port)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--port") from error
    console.print(
        f"Starting Spark and its Thrift server on {host}:{port}. Run dbt with "
        f"--target spark_thrift and CDP_SPARK_THRIFT_PORT={port}. In local mode "
        "the nightly job cannot open the Spark catalog while the server runs."
    )
    serve(host, port)


def _serve_source(stack: ExitStack) -> tuple[Path, datetime | None]:
    """Return the DuckDB file Customer 360 reads and, on Spark, when it was copied.

    On the Spark engine the snapshot is entered on ``stack``, so it is deleted
    when the server stops.
    """
    from orchestration.customer360.app import TABLES
    from orchestration.spark_snapshot import SnapshotError, private_snapshot

    if settings.engine() != "spark":
        return settings.warehouse_path(), None
    taken_at = datetime.now(UTC)
    console.print(f"Copying {len(TABLES)} marts from the Spark catalog...")
    try:
        snapshot = stack.enter_context(private_snapshot(TABLES, "serve"))
    except SnapshotError as error:
        raise click.ClickException(str(error)) from error
    console.print(
        f"Serving a snapshot of the Spark tables taken at "
        f"{taken_at:%Y-%m-%d %H:%M:%S} UTC; restart cdp serve after a nightly run "
        "to see its data."
    )
    return snapshot, taken_at


def _run_customer360(host, port, credentials, warehouse, taken_at) -> None:
    import uvicorn

    from orchestration.customer360.app import create_app

    app = create_app(warehouse, credentials, snapshot_taken_at=taken_at)
    console.print(f"Customer 360 on http://{host}:{port} (Ctrl+C stops it)")
    if credentials.generated:
        console.print(
            f"Log in as {credentials.username} with password {credentials.password} "
            "(generated for this start; set CDP_SERVE_USER and CDP_SERVE_PASSWORD "
            "for a fixed one).",
            soft_wrap=True,
        )
    console.file.flush()
    # The app logs its own requests without query strings. uvicorn's access log
    # would write any search term put into a URL, so it is off.
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=False,
        log_config=None,
        server_header=False,
        proxy_headers=False,
    )


def _add_privacy_commands() -> None:
    from orchestration.privacy.cli import export_subject, forget

    main.add_command(forget)
    main.add_command(export_subject)


_add_privacy_commands()


if __name__ == "__main__":
    main()
