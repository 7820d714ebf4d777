"""Write segment audiences as CSV files with a manifest, to consented people only.

Files are written to a temporary name and renamed, so a marketing tool that picks up
files never reads a half-written audience. Writing the same run date again produces
byte-identical files and leaves an unchanged manifest alone.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import re
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from activation.destinations import Destination

logger = logging.getLogger(__name__)

SYNC_LOG_DDL = """
create table if not exists activation.exports (
    destination varchar not null,
    segment varchar not null,
    run_date date not null,
    file varchar not null,
    row_count bigint not null,
    sha256 varchar not null,
    exported_at timestamp not null
)
"""

# Consent is read from dim_customers, not from the segment model, so a segment model
# without a consent column cannot leak anyone.
CONSENT_FILTERS = {
    "email": "c.has_email_consent and not coalesce(c.is_email_suppressed, false) "
    "and c.email is not null",
}


FORMULA_PREFIXES = ("=", "@", "\t", "\r", "+", "-")
SIGNED_NUMBER = re.compile(r"[+-][0-9 ().-]*")


def neutralize_formula(value):
    """Prefix a text value that a spreadsheet would run as a formula with a quote.

    Marketers open audience files in spreadsheets, where a cell starting with ``=``,
    ``@``, ``+`` or ``-`` is evaluated. Phone numbers such as ``+4930123456`` stay as
    they are, because a signed number runs nothing.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_PREFIXES):
        return value
    if SIGNED_NUMBER.fullmatch(value):
        return value
    return "'" + value


@dataclass(frozen=True)
class ExportedFile:
    segment: str
    file: str
    row_count: int
    sha256: str
    columns: list[str]


def audience_query(destination: Destination, segment: str) -> str:
    columns = ", ".join(
        f'c."{source}" as "{target}"' for target, source in destination.fields.items()
    )
    return (
        f"select {columns} from marts.{destination.segment_model(segment)} as s "
        "join marts.dim_customers as c on c.customer_id = s.customer_id "
        f"where {CONSENT_FILTERS[destination.consent]} order by c.customer_id"
    )


def _write_atomically(path: Path, write) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8", newline="") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_segment_file(
    con: duckdb.DuckDBPyConnection, destination: Destination, segment: str, folder: Path
) -> ExportedFile:
    cursor = con.execute(audience_query(destination, segment))
    header = [d[0] for d in cursor.description]
    rows = cursor.fetchall()

    path = folder / f"{segment}.csv"

    def write(handle):
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([neutralize_formula(v) for v in row] for row in rows)

    _write_atomically(path, write)
    return ExportedFile(segment, path.name, len(rows), _sha256(path), header)


def _write_manifest(folder: Path, destination: Destination, run_date: date, files):
    manifest = folder / "manifest.json"
    body = {
        "destination": destination.name,
        "run_date": run_date.isoformat(),
        "files": [asdict(f) for f in files],
    }
    if manifest.exists():
        previous = json.loads(manifest.read_text(encoding="utf-8"))
        if {k: previous.get(k) for k in body} == body:
            return manifest
    body["generated_at"] = datetime.now(UTC).isoformat(timespec="seconds")

    def write(handle):
        json.dump(body, handle, indent=2, ensure_ascii=False)
        handle.write("\n")

    _write_atomically(manifest, write)
    return manifest


def _record_exports(con, destination: Destination, run_date: date, files) -> None:
    """Replace this destination's log rows for the run date, so a rerun adds none."""
    con.execute("create schema if not exists activation")
    con.execute(SYNC_LOG_DDL)
    con.execute(
        "delete from activation.exports where destination = ? and run_date = ?",
        [destination.name, run_date],
    )
    exported_at = datetime.now(UTC).replace(tzinfo=None)
    for f in files:
        con.execute(
            "insert into activation.exports values (?, ?, ?, ?, ?, ?, ?)",
            [
                destination.name,
                f.segment,
                run_date,
                f.file,
                f.row_count,
                f.sha256,
                exported_at,
            ],
        )


def export_destination(
    con: duckdb.DuckDBPyConnection,
    destination: Destination,
    outbox: Path,
    run_date: date,
) -> tuple[Path, list[ExportedFile]]:
    """Write every segment of one destination; return the folder and the files."""
    folder = outbox / destination.name / run_date.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    files = [
        write_segment_file(con, destination, s, folder) for s in destination.segments
    ]

    _write_manifest(folder, destination, run_date, files)
    _record_exports(con, destination, run_date, files)
    logger.info(
        "exported %d rows in %d files to %s",
        sum(f.row_count for f in files),
        len(files),
        folder,
    )
    return folder, files
