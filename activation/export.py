"""Audience files and their manifest, written atomically.

Each file is written to a temporary name and renamed, so a marketing tool that picks
up files never reads a half-written audience. Per segment a file destination gets
``<segment>.<ext>`` with the rows to add or update and, in ``diff`` and ``mirror``
mode, ``<segment>_removed.<ext>`` with the rows to remove, in the same columns
(values as they were sent before). A separate file keeps the vendor import formats
unchanged, which an extra ``action`` column would break. Writing the same run date
again produces byte-identical files and leaves an unchanged manifest alone.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from activation.destinations import Destination

PROJECT_ROOT = Path(__file__).resolve().parents[1]
IDENTITY_MODEL = PROJECT_ROOT / "identity" / "model" / "splink_model.json"

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
    kind: str
    row_count: int
    sha256: str
    schema: list[dict]


# Audience files name people (plain email addresses for some destinations), so the
# outbox is readable by its owner only, like the identity reports.
PRIVATE_FILE_MODE = 0o600
PRIVATE_FOLDER_MODE = 0o700


def make_private_folders(root: Path, folder: Path) -> None:
    """Create ``folder`` and every folder from ``root`` down to it with mode 0700.

    Folders of this user that exist already, such as an outbox written by an
    earlier version with mode 0755, get mode 0700 as well. A folder of another
    user (a shared ``CDP_OUTBOX``) keeps its mode, and the folders below it
    protect the files. ``folder`` must be inside ``root``.
    """
    # NOTE: a marketing tool that reads the outbox as another user needs a copy
    # or upload step of its own, because only the owner can read these folders.
    folders = [root]
    for part in folder.relative_to(root).parts:
        folders.append(folders[-1] / part)
    for current in folders:
        current.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
        if current.stat().st_uid == os.getuid():
            current.chmod(PRIVATE_FOLDER_MODE)


def _create_private_file(path: Path) -> None:
    """Create an empty file with mode 0600 whatever the umask, replacing any file
    left at ``path`` by a crashed write."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        os.fchmod(descriptor, PRIVATE_FILE_MODE)
    finally:
        os.close(descriptor)


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write`` on a temporary path beside ``path``, then rename it over.

    The temporary file is created with mode 0600 before ``write`` opens it, so the
    file is readable by its owner only from its first byte.
    """
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        _create_private_file(temporary)
        write(temporary)
        # A writer that replaces the file instead of truncating it creates it
        # with the default mode, so the mode is set again before the rename.
        temporary.chmod(PRIVATE_FILE_MODE)
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_csv(path: Path, columns: list[str], rows: list[tuple]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([neutralize_formula(v) for v in row] for row in rows)


def _write_parquet(path: Path, columns: list[str], rows: list[tuple]) -> None:
    values = list(zip(*rows, strict=True)) if rows else [[] for _ in columns]
    table = pa.table(
        {
            name: pa.array(list(column), type=pa.string())
            for name, column in zip(columns, values, strict=True)
        }
    )
    pq.write_table(table, path, compression="zstd")


def file_extension(destination: Destination) -> str:
    return "parquet" if destination.type == "parquet" else "csv"


def write_segment_file(
    folder: Path,
    destination: Destination,
    segment: str,
    kind: str,
    rows: list[tuple],
) -> ExportedFile:
    """Write one file of ``kind`` ``upsert`` or ``remove`` for a segment."""
    suffix = "" if kind == "upsert" else "_removed"
    path = folder / f"{segment}{suffix}.{file_extension(destination)}"
    columns = list(destination.fields)
    writer = _write_parquet if destination.type == "parquet" else _write_csv
    write_atomically(path, lambda target: writer(target, columns, rows))
    schema = [{"name": c, "type": "string"} for c in columns]
    return ExportedFile(segment, path.name, kind, len(rows), _sha256(path), schema)


@cache
def model_version() -> dict:
    """Project version from pyproject.toml and the saved identity model's sha256, so
    a receipt names the code and the matching model behind an audience."""
    pyproject = PROJECT_ROOT / "pyproject.toml"
    version = "unknown"
    if pyproject.exists():
        version = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"][
            "version"
        ]
    identity = _sha256(IDENTITY_MODEL) if IDENTITY_MODEL.exists() else None
    return {"project_version": version, "identity_model_sha256": identity}


def model_version_label() -> str:
    version = model_version()
    identity = (version["identity_model_sha256"] or "none")[:12]
    return f"{version['project_version']}+identity.{identity}"


def config_sha256(destination: Destination) -> str:
    text = json.dumps(asdict(destination), sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_manifest(
    folder: Path,
    destination: Destination,
    run_date: date,
    segments: list[dict],
    files: list[ExportedFile],
) -> Path:
    """Write ``manifest.json``; keep the file, and its generated_at, when nothing
    else changed since the last write."""
    manifest = folder / "manifest.json"
    body = {
        "destination": destination.name,
        "type": destination.type,
        "mode": destination.mode,
        "run_date": run_date.isoformat(),
        "schedule": destination.schedule,
        "config_sha256": config_sha256(destination),
        "model_version": model_version(),
        "segments": segments,
        "files": [asdict(f) for f in files],
    }
    if manifest.exists():
        previous = json.loads(manifest.read_text(encoding="utf-8"))
        if {k: previous.get(k) for k in body} == body:
            return manifest
    body["generated_at"] = datetime.now(UTC).isoformat(timespec="seconds")

    def write(target: Path) -> None:
        with target.open("w", encoding="utf-8") as handle:
            json.dump(body, handle, indent=2, ensure_ascii=False)
            handle.write("\n")

    write_atomically(manifest, write)
    return manifest
