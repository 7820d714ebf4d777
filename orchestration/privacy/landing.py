"""Rewrite a landing file without some of its rows, atomically.

Rows are addressed by the loader's row number (``raw.<source>._row_number`` and a
reject's ``line_number``). Its unit depends on the format, as ``ingestion/readers.py``
describes: the record number after the header for CSV, the physical line for JSON
lines, the 1-based array index for a JSON array and the row number for Parquet. Every other row keeps its bytes, except in JSON arrays and Parquet
files, which are written anew. The file keeps its name, encoding and gzip
compression.

Removing rows moves the rows after them up, so ``renumber_rows`` lowers the row
numbers the warehouse keeps for the file. Without it, the next removal from the
same file (a later erasure or retention purge) would take out the wrong rows.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingestion.sources import Source

LINE_BREAK = re.compile(r"(\r\n|\n|\r)")
BYTE_ORDER_MARK = "\ufeff"


def split_lines(text: str) -> list[str]:
    """Split text into physical lines that keep their line break."""
    parts = LINE_BREAK.split(text)
    lines = [parts[i] + parts[i + 1] for i in range(0, len(parts) - 1, 2)]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _without_csv_records(source: Source, text: str, rows: set[int]) -> tuple[str, int]:
    lines = split_lines(text)
    reader = csv.reader(iter(lines), delimiter=source.delimiter, quotechar='"')
    kept: list[str] = []
    removed = 0
    start = 0
    record_number = -1  # the header is record 0
    for record in reader:
        end = reader.line_num
        if record:
            record_number += 1
        if record and record_number in rows:
            removed += 1
        else:
            kept.extend(lines[start:end])
        start = end
    kept.extend(lines[start:])
    return "".join(kept), removed


def _without_lines(text: str, rows: set[int]) -> tuple[str, int]:
    lines = split_lines(text)
    kept = [line for number, line in enumerate(lines, start=1) if number not in rows]
    return "".join(kept), len(lines) - len(kept)


def _without_array_items(source: Source, text: str, rows: set[int]) -> tuple[str, int]:
    document = json.loads(text)
    if isinstance(document, dict):
        records = document.get(source.json_records_path) or []
    else:
        records = document
    kept = [r for index, r in enumerate(records, start=1) if index not in rows]
    if isinstance(document, dict):
        document[source.json_records_path] = kept
    else:
        document = kept
    indent = 2 if "\n" in text.strip() else None
    return json.dumps(document, ensure_ascii=False, indent=indent) + "\n", len(
        records
    ) - len(kept)


def _read_text(source: Source, path: Path) -> tuple[str, str]:
    data = path.read_bytes()
    if source.is_gzip(path.name):
        data = gzip.decompress(data)
    text = data.decode(source.encoding)
    return text, BYTE_ORDER_MARK if text.startswith(BYTE_ORDER_MARK) else ""


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.erasing")
    try:
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def _rewrite_parquet(path: Path, rows: set[int]) -> int:
    table = pq.read_table(path)
    numbers = pa.array(range(1, table.num_rows + 1))
    mask = pc.invert(pc.is_in(numbers, value_set=pa.array(sorted(rows))))
    kept = table.filter(mask)
    temporary = path.with_name(f".{path.name}.erasing")
    try:
        pq.write_table(kept, temporary)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    return table.num_rows - kept.num_rows


def remove_rows(source: Source, path: Path, rows: set[int]) -> int:
    """Rewrite ``path`` without the given row numbers; return how many went."""
    if not rows:
        return 0
    if source.file_format == "parquet":
        return _rewrite_parquet(path, rows)
    text, bom = _read_text(source, path)
    body = text[len(bom) :]
    if source.file_format == "csv":
        new_body, removed = _without_csv_records(source, body, rows)
    elif source.file_format == "jsonl":
        new_body, removed = _without_lines(body, rows)
    else:
        new_body, removed = _without_array_items(source, body, rows)
    if not removed:
        return 0
    data = (bom + new_body).encode(source.encoding)
    if source.is_gzip(path.name):
        data = gzip.compress(data, mtime=0)
    _write_atomically(path, data)
    return removed


def renumber_rows(
    con: duckdb.DuckDBPyConnection, source: Source, file: str, removed: set[int]
) -> None:
    """Lower the row numbers kept for ``file`` after ``remove_rows`` took out
    ``removed``: each drops by the number of removed rows before it.

    Covers the raw table, its rejects and the loader's pending landing redactions.
    Call it after deleting the removed rows from those tables.

    The kept raw rows also get a new ``_loaded_at``. The incremental staging models
    address a raw row by file and row number, so to them the file now counts as
    delivered again: they drop its earlier rows and read it anew. Without that, a
    staging row of a removed raw row would survive whenever another row took over
    its number.
    """
    if not removed:
        return
    numbers = sorted(removed)
    shift = "len(list_filter($removed::bigint[], lambda r: r < {0}))"
    for table, column, extra in (
        (f"raw.{source.table}", "_row_number", ", _loaded_at = $now"),
        (f"raw.{source.table}__rejects", "line_number", ""),
    ):
        parameters = {"removed": numbers, "file": file}
        if extra:
            parameters["now"] = datetime.now(UTC).replace(tzinfo=None)
        con.execute(
            f"update {table} set {column} = {column} - {shift.format(column)}"
            f"{extra} where _file = $file",
            parameters,
        )
    if table_exists(con, "privacy", "landing_redactions"):
        con.execute(
            "update privacy.landing_redactions "
            f"set row_number = row_number - {shift.format('row_number')} "
            "where source = $source and file = $file",
            {"removed": numbers, "source": source.name, "file": file},
        )


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Return whether ``schema.table`` exists in the connection's database."""
    return (
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? "
            "and table_name = ? and table_catalog = current_database()",
            [schema, table],
        ).fetchone()[0]
        > 0
    )
