"""``cdp forget`` and ``cdp export-subject``: erasure and access requests of a person."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click
import duckdb
from rich.console import Console

from orchestration import settings
from orchestration.privacy import store
from orchestration.run_lock import RunLockTimeout, run_lock

console = Console()
logger = logging.getLogger(__name__)


def _identifier(email: str | None, phone: str | None, customer_id: str | None):
    given = [
        (kind, value)
        for kind, value in (
            ("email", email),
            ("phone", phone),
            ("customer_id", customer_id),
        )
        if value
    ]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --email, --phone, --customer-id")
    return given[0]


def identifier_options(command):
    """Add --email, --phone and --customer-id to a command."""
    for name, text in reversed(
        (
            ("--email", "Email address of the person."),
            (
                "--phone",
                "Phone number of the person; without a country code it is read as "
                "German, Austrian or Swiss.",
            ),
            ("--customer-id", "Customer id (cus_...), also a retired one."),
        )
    ):
        command = click.option(name, help=text)(command)
    return command


@click.command()
@identifier_options
@click.option(
    "--lock-wait",
    type=click.FloatRange(min=0),
    default=3600,
    show_default=True,
    help="Seconds to wait for a run on the same warehouse to finish.",
)
def forget(
    email: str | None, phone: str | None, customer_id: str | None, lock_wait: float
) -> None:
    """Record a request to erase a person; the next nightly run erases them.

    Only a salted SHA-256 of the identifier is stored. An email or phone number is
    suppressed at once, so extracts loaded from now on drop rows that carry it.
    """
    from orchestration.cli import check_warehouse_writable

    kind, value = _identifier(email, phone, customer_id)
    warehouse = settings.warehouse_path()
    try:
        with run_lock(warehouse, wait_seconds=lock_wait):
            check_warehouse_writable(warehouse)
            with duckdb.connect(str(warehouse)) as con:
                store.ensure_tables(con)
                request_id = store.record_request(con, kind, value)
    except store.InvalidIdentifierError as error:
        hint = f"--{kind.replace('_', '-')}"
        raise click.BadParameter(str(error), param_hint=hint) from error
    except RunLockTimeout as error:
        raise click.ClickException(str(error)) from error
    console.print(
        f"Recorded erasure request {request_id}. The next nightly run (cdp run) "
        "erases the person; privacy.erasure_log lists what it removed."
    )


@click.command(name="export-subject")
@identifier_options
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="JSON file to write; it contains personal data, so it is readable by its "
    "owner only.",
)
def export_subject(
    email: str | None, phone: str | None, customer_id: str | None, out: Path
) -> None:
    """Write everything the warehouse stores about one person to a JSON file.

    With CDP_ENGINE=spark it reads a private copy of the tables it needs, taken from
    the Spark catalog and the DuckDB file and deleted when it ends.
    """
    from orchestration.privacy.access import subject_tables, write_private
    from orchestration.spark_snapshot import SnapshotError, warehouse_for_reading

    kind, value = _identifier(email, phone, customer_id)
    warehouse = settings.warehouse_path()
    if not warehouse.exists():
        raise click.ClickException(f"warehouse {warehouse} not found; run cdp run")
    try:
        normalized = store.normalize_identifier(kind, value)
    except store.InvalidIdentifierError as error:
        hint = f"--{kind.replace('_', '-')}"
        raise click.BadParameter(str(error), param_hint=hint) from error
    try:
        with warehouse_for_reading(subject_tables(), "export-subject") as path:
            document = _collect(path, kind, normalized)
    except SnapshotError as error:
        raise click.ClickException(str(error)) from error
    write_private(out, json.dumps(document, indent=2, ensure_ascii=False, default=str))
    console.print(
        f"Wrote {out}: {len(document['customers'])} customer(s), "
        f"{len(document['source_records'])} source records."
    )


def _collect(path: Path, kind: str, normalized: str) -> dict:
    from orchestration.privacy.access import collect_subject
    from orchestration.resources import CONNECT_TIMEOUT_SECONDS, connect_with_retry

    con = connect_with_retry(path, True, CONNECT_TIMEOUT_SECONDS, logger)
    try:
        return collect_subject(con, kind, normalized)
    finally:
        con.close()
