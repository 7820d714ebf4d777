"""Readers that stage one landing file into temporary tables for the loader.

Each reader fills two temporary tables: the accepted rows, with every contract column
as text plus ``_row_number``, and the rejected rows (``line_number``, ``raw_line``,
``reason``). CSV files also keep the columns outside the contract, as ``extra_*``
columns. Files whose name ends in ``.gz`` are read as gzip. Nothing is written to
``raw`` here.
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from ingestion.sources import Source

logger = logging.getLogger(__name__)

ROWS_TABLE = "_stage_rows"
REJECTS_TABLE = "_stage_rejects"
EXTRA_COLUMN_PREFIX = "extra_"

# Exceptions Python's gzip module raises for a file that is not gzip (BadGzipFile), is
# cut off (EOFError) or contains corrupt compressed data (zlib.error).
GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


class SourceFileError(Exception):
    """A landing file that cannot be loaded at all (unreadable, wrong header)."""


@dataclass(frozen=True)
class StagedFile:
    rows: str
    rejects: str
    read_count: int
    extra_columns: tuple[str, ...] = ()


def is_gzip(path: Path) -> bool:
    return path.name.endswith(".gz")


def _python_encoding(encoding: str) -> str:
    """Read UTF-8 as utf-8-sig, so a byte order mark does not end up in the data."""
    return "utf-8-sig" if encoding.lower() in ("utf-8", "utf8") else encoding


def _open_text(path: Path, encoding: str):
    if is_gzip(path):
        return gzip.open(path, "rt", newline="", encoding=encoding)
    return path.open(newline="", encoding=encoding)


def _gzip_error(path: Path, error: Exception) -> SourceFileError:
    detail = str(error).splitlines()[0] if str(error) else type(error).__name__
    return SourceFileError(f"{path}: invalid gzip file ({detail})")


def _check_gzip(path: Path) -> None:
    """Decompress the whole file once and raise if the gzip data is broken.

    DuckDB 2.0.1 does not compare the CRC-32 at the end of a gzip stream, so corrupt
    data that still decompresses would load as garbage rows. Python's gzip module
    checks it. This costs one extra decompression pass per ``.gz`` file.
    """
    try:
        with gzip.open(path, "rb") as handle:
            while handle.read(1 << 20):
                pass
    except GZIP_ERRORS as error:
        raise _gzip_error(path, error) from error


def _duckdb_compression(path: Path) -> str:
    return "gzip" if is_gzip(path) else "none"


def stage_file(
    con: duckdb.DuckDBPyConnection, source: Source, path: Path
) -> StagedFile:
    if path.stat().st_size == 0:
        raise SourceFileError(f"{path}: empty file (0 bytes), expected a header")
    if is_gzip(path):
        _check_gzip(path)
    con.execute(
        f"create or replace temp table {REJECTS_TABLE} "
        "(line_number bigint, raw_line varchar, reason varchar)"
    )
    readers = {"csv": _stage_csv, "jsonl": _stage_jsonl, "json_array": _stage_json}
    extra_columns = readers[source.file_format](con, source, path)

    read_count = con.execute(
        f"select (select count(*) from {ROWS_TABLE}) "
        f"+ (select count(*) from {REJECTS_TABLE})"
    ).fetchone()[0]
    return StagedFile(ROWS_TABLE, REJECTS_TABLE, read_count, extra_columns)


def _read_csv_header(source: Source, path: Path) -> list[str]:
    try:
        with _open_text(path, _python_encoding(source.encoding)) as handle:
            header = next(csv.reader(handle, delimiter=source.delimiter), None)
    except UnicodeDecodeError as error:
        raise SourceFileError(
            f"{path}: not valid {source.encoding} text near byte {error.start} "
            f"({error.reason}); set the source's encoding"
        ) from error
    except GZIP_ERRORS as error:
        raise _gzip_error(path, error) from error
    if not header:
        raise SourceFileError(f"{path}: line 1: missing header row")
    return header


def extra_column_name(header: str, position: int) -> str:
    """Name a header outside the contract: ``Lead Score`` becomes ``extra_lead_score``.

    A header without letters or digits is named by its 1-based position in the file,
    for example ``extra_column_7``.
    """
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", header.strip())
    words = re.findall(r"[^\W_]+", spaced.lower())
    return EXTRA_COLUMN_PREFIX + ("_".join(words) or f"column_{position}")


def _header_to_columns(source: Source, path: Path, header: list[str]) -> list[str]:
    """Map the exported header to raw column names, keeping headers outside the
    contract as ``extra_*`` columns."""
    columns = []
    for position, name in enumerate(header, start=1):
        raw = source.columns.get(name.strip()) or extra_column_name(name, position)
        columns.append(raw)

    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        names = ", ".join(duplicates)
        raise SourceFileError(
            f"{path}: line 1: duplicate column(s) in the header: {names}"
        )

    missing = [
        export
        for export, raw in source.columns.items()
        if raw in source.required and raw not in columns
    ]
    if missing:
        raise SourceFileError(
            f"{path}: line 1: missing required column(s): {', '.join(missing)}"
        )
    return columns


def _stage_csv(
    con: duckdb.DuckDBPyConnection, source: Source, path: Path
) -> tuple[str, ...]:
    """Stage a CSV file and return its columns outside the contract (``extra_*``)."""
    columns = _header_to_columns(source, path, _read_csv_header(source, path))
    column_types = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in columns) + "}"
    present = [c for c in source.raw_columns if c in columns]
    absent = [c for c in source.raw_columns if c not in columns]
    extra = [c for c in columns if c not in source.raw_columns]
    if absent:
        logger.warning(
            "%s: optional column(s) missing from the header, loaded as empty: %s",
            path.name,
            ", ".join(absent),
        )

    select_list = ", ".join(
        [f'"{c}"' for c in present]
        + [f'null::varchar as "{c}"' for c in absent]
        + [f'"{c}"' for c in extra]
    )
    con.execute("drop table if exists _csv_reject_errors")
    con.execute("drop table if exists _csv_reject_scans")
    con.execute(
        f"create or replace temp table {ROWS_TABLE} as "
        f"select {select_list}, row_number() over () as _row_number "
        "from read_csv(?, columns = " + column_types + ", auto_detect = false, "
        "header = true, delim = ?, quote = '\"', escape = '\"', "
        "encoding = ?, compression = ?, strict_mode = true, store_rejects = true, "
        "rejects_table = '_csv_reject_errors', rejects_scan = '_csv_reject_scans')",
        [
            str(path),
            source.delimiter,
            _duckdb_encoding(source.encoding),
            _duckdb_compression(path),
        ],
    )
    con.execute(
        f"insert into {REJECTS_TABLE} "
        "select line, any_value(csv_line), string_agg(distinct error_message, '; ') "
        "from _csv_reject_errors group by line"
    )
    return tuple(extra)


def _duckdb_encoding(encoding: str) -> str:
    aliases = {"utf8": "utf-8", "latin1": "latin-1", "iso-8859-1": "latin-1"}
    return aliases.get(encoding.lower(), encoding.lower())


def _json_value_sql(key: str) -> str:
    """SQL for one top-level key of a JSON line: scalars as text, objects as JSON."""
    path = f"'$.\"{key}\"'"
    return (
        f"case when json_type(line, {path}) in ('OBJECT', 'ARRAY') "
        f"then json_extract(line, {path})::varchar "
        f"else json_extract_string(line, {path}) end"
    )


def _stage_jsonl(
    con: duckdb.DuckDBPyConnection, source: Source, path: Path
) -> tuple[str, ...]:
    con.execute("drop table if exists _jsonl_reject_errors")
    con.execute("drop table if exists _jsonl_reject_scans")
    con.execute(
        "create or replace temp table _jsonl_lines as "
        "select line_number, case when line_number = 1 "
        "then ltrim(line, chr(65279)) else line end as line "
        "from (select row_number() over () as line_number, line "
        "from read_csv(?, columns = {'line': 'VARCHAR'}, header = false, "
        "auto_detect = false, delim = chr(0), quote = '', escape = '', "
        "compression = ?, strict_mode = false, store_rejects = true, "
        "rejects_table = '_jsonl_reject_errors', "
        "rejects_scan = '_jsonl_reject_scans'))",
        [str(path), _duckdb_compression(path)],
    )
    # NOTE: after a line the reader rejects (invalid UTF-8, over 2 MB), the line
    # numbers of the accepted lines that follow are one lower per rejected line.
    con.execute(
        f"insert into {REJECTS_TABLE} "
        "select line, any_value(csv_line), string_agg(distinct error_message, '; ') "
        "from _jsonl_reject_errors group by line"
    )
    # Split valid and invalid lines into separate tables first: DuckDB may evaluate
    # the JSON extraction before a filter, and it raises on malformed JSON.
    valid = (
        "coalesce(case when json_valid(line) then json_type(line) = 'OBJECT' "
        "else false end, false)"
    )
    con.execute(
        "create or replace temp table _jsonl_valid as select line_number, line "
        f"from _jsonl_lines where line is not null and {valid}"
    )
    con.execute(
        f"insert into {REJECTS_TABLE} select line_number, line, "
        "'invalid JSON: not one JSON object on the line' from _jsonl_lines "
        f"where line is not null and not {valid}"
    )

    select_list = ", ".join(
        f'{_json_value_sql(key)} as "{raw}"' for key, raw in source.columns.items()
    )
    con.execute(
        f"create or replace temp table {ROWS_TABLE} as "
        f"select {select_list}, line_number as _row_number from _jsonl_valid"
    )
    return ()


def _flatten(record: dict, dotted_path: str) -> str | None:
    value = record
    for part in dotted_path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _load_json_records(source: Source, path: Path) -> list:
    try:
        with _open_text(path, _python_encoding(source.encoding)) as handle:
            document = json.loads(handle.read())
    except GZIP_ERRORS as error:
        raise _gzip_error(path, error) from error
    except json.JSONDecodeError as error:
        raise SourceFileError(
            f"{path}: line {error.lineno} column {error.colno}: invalid JSON "
            f"({error.msg})"
        ) from error
    except UnicodeDecodeError as error:
        raise SourceFileError(f"{path}: not valid {source.encoding} text") from error
    except (ValueError, RecursionError) as error:
        # json raises these for numbers with thousands of digits and deep nesting.
        raise SourceFileError(f"{path}: unreadable JSON ({error})") from error

    records = (
        document.get(source.json_records_path)
        if isinstance(document, dict)
        else document
    )
    if not isinstance(records, list):
        expected = f'an object with a "{source.json_records_path}" array'
        raise SourceFileError(f"{path}: expected {expected} at the top level")
    return records


def _stage_json(
    con: duckdb.DuckDBPyConnection, source: Source, path: Path
) -> tuple[str, ...]:
    """Stage a JSON document holding an array of records; row number = array index."""
    records = _load_json_records(source, path)
    rows, rejects = [], []
    for index, record in enumerate(records, start=1):
        if isinstance(record, dict):
            row = {raw: _flatten(record, key) for key, raw in source.columns.items()}
            rows.append({**row, "_row_number": index})
        else:
            rejects.append((index, json.dumps(record), "record is not a JSON object"))

    frame = pd.DataFrame(rows, columns=[*source.raw_columns, "_row_number"])
    frame = frame.astype({c: "object" for c in source.raw_columns})
    con.register("_json_frame", frame)
    casts = ", ".join(f'"{c}"::varchar as "{c}"' for c in source.raw_columns)
    con.execute(
        f"create or replace temp table {ROWS_TABLE} as "
        f"select {casts}, _row_number::bigint as _row_number from _json_frame"
    )
    con.unregister("_json_frame")
    if rejects:
        con.executemany(f"insert into {REJECTS_TABLE} values (?, ?, ?)", rejects)
    return ()
