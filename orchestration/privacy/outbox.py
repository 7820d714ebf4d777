"""Remove an erased person's rows from audience files and reports already written.

Audience files are matched cell by cell against the person's customer ids and the
values sent for them before (plain or vendor-hashed), so a row goes when any of its
cells equals one of them. Each rewritten file gets its new row count and sha256 in
the folder's ``manifest.json`` and in ``activation.exports``. Report files (identity
charts) are regenerated each night, so a report that contains one of the person's
identifiers is deleted as a whole.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from activation.export import write_atomically

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RewrittenFile:
    path: Path
    rows_removed: int
    row_count: int
    sha256: str


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rewrite_csv(path: Path, values: set[str]) -> tuple[int, int]:
    text = path.read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return 0, 0
    header, body = rows[0], rows[1:]
    kept = [row for row in body if not values.intersection(row)]
    removed = len(body) - len(kept)
    if removed:

        def write(target: Path) -> None:
            with target.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(header)
                writer.writerows(kept)

        write_atomically(path, write)
    return removed, len(kept)


def _rewrite_parquet(path: Path, values: set[str]) -> tuple[int, int]:
    table = pq.read_table(path)
    value_set = pa.array(sorted(values), type=pa.string())
    hit = pa.array([False] * table.num_rows)
    for column in table.columns:
        if pa.types.is_string(column.type):
            hit = pc.or_(
                hit, pc.fill_null(pc.is_in(column, value_set=value_set), False)
            )
    kept = table.filter(pc.invert(hit))
    removed = table.num_rows - kept.num_rows
    if removed:
        write_atomically(
            path, lambda target: pq.write_table(kept, target, compression="zstd")
        )
    return removed, kept.num_rows


def rewrite_audience_files(outbox: Path, values: set[str]) -> list[RewrittenFile]:
    """Drop rows holding any of ``values`` from every CSV and Parquet file."""
    if not outbox.is_dir() or not values:
        return []
    rewritten = []
    for path in sorted(outbox.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        if path.suffix == ".csv":
            removed, count = _rewrite_csv(path, values)
        elif path.suffix == ".parquet":
            removed, count = _rewrite_parquet(path, values)
        else:
            continue
        if removed:
            rewritten.append(RewrittenFile(path, removed, count, _sha256(path)))
    for folder in {f.path.parent for f in rewritten}:
        _update_manifest(folder, [f for f in rewritten if f.path.parent == folder])
    return rewritten


def _update_manifest(folder: Path, files: list[RewrittenFile]) -> None:
    manifest = folder / "manifest.json"
    if not manifest.exists():
        return
    body = json.loads(manifest.read_text(encoding="utf-8"))
    changed = {f.path.name: f for f in files}
    for entry in body.get("files", []):
        rewritten = changed.get(entry.get("file"))
        if rewritten is not None:
            entry["row_count"] = rewritten.row_count
            entry["sha256"] = rewritten.sha256

    def write(target: Path) -> None:
        with target.open("w", encoding="utf-8") as handle:
            json.dump(body, handle, indent=2, ensure_ascii=False)
            handle.write("\n")

    write_atomically(manifest, write)


def update_exports(
    con: duckdb.DuckDBPyConnection, outbox: Path, files: list[RewrittenFile]
) -> None:
    """Record the new row count and sha256 of rewritten files in activation.exports.

    Files sit at ``<outbox>/<destination>/<run date>/<file>``.
    """
    for file in files:
        parts = file.path.relative_to(outbox).parts
        if len(parts) != 3:
            continue
        destination, run_date, name = parts
        con.execute(
            "update activation.exports set row_count = ?, sha256 = ? "
            "where destination = ? and cast(run_date as varchar) = ? and file = ?",
            [file.row_count, file.sha256, destination, run_date, name],
        )


def delete_reports(reports: Path, needles: set[str]) -> list[Path]:
    """Delete report files whose bytes contain any of ``needles``."""
    if not reports.is_dir() or not needles:
        return []
    encoded = [n.encode("utf-8") for n in needles if n]
    deleted = []
    for path in sorted(reports.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if any(n in data for n in encoded):
            path.unlink()
            deleted.append(path)
    return deleted
