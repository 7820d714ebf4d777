"""Readers that stage one landing file into temporary tables for the loader.

Each reader fills two temporary tables: the accepted rows, with every contract column
as text plus ``_row_number``, and the rejected rows (``line_number``, ``raw_line``,
``reason``). Columns and keys outside the contract are kept as ``extra_*`` columns.
The source's ``compression`` decides which files are read as gzip. Nothing is written
to ``raw`` here.

``_row_number`` and a reject's ``line_number`` use one unit per format, so a reject
sits between the accepted rows around it:

- CSV: the 1-based number of the record after the header. A record with quoted line
  breaks counts once, and rejected records count too. This is DuckDB's rejects
  ``line`` minus the header line (checked on DuckDB 2.0.1).
- JSON lines: the physical line number, blank lines included.
- JSON array: the 1-based index in the records array.
- Parquet: the 1-based row number in the file.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import logging
import re
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from ingestion.sources import Source

logger = logging.getLogger(__name__)

ROWS_TABLE = "_stage_rows"
REJECTS_TABLE = "_stage_rejects"
EXTRA_COLUMN_PREFIX = "extra_"
FOOTER_REASON = "summary line (footer_pattern)"

# Exceptions Python's gzip module raises for a file that is not gzip (BadGzipFile), is
# cut off (EOFError) or contains corrupt compressed data (zlib.error).
GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)
BLOCK_SIZE = 1 << 20
# Bytes at the end of a CSV file searched for summary lines (footer_pattern).
FOOTER_SEARCH_BYTES = 64 * 1024
# Maximum length of a physical line in a CSV or JSON lines file. DuckDB 2.0.1 rejects
# a line over max_line_size (2,000,000 bytes) only up to about 32 MiB, its read
# buffer. It drops a longer line without a reject, so the loader rejects such a file
# as a whole instead.
MAX_LINE_BYTES = 16 * 1024 * 1024
# Up to this many row number shifts are applied as one CASE expression, which is
# faster than the ASOF join used for files with more rejected records.
MAX_CASE_SHIFTS = 200


class SourceFileError(Exception):
    """A landing file that cannot be loaded at all (unreadable, wrong header)."""


@dataclass(frozen=True)
class StagedFile:
    rows: str
    rejects: str
    read_count: int
    extra_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class LandingFile:
    """A landing file as the readers open it.

    ``data`` is the landing file itself, or a plain UTF-8 copy when the source's
    encoding is one DuckDB's CSV reader cannot read. ``path`` names the landing file
    in messages. ``gzip_tail`` contains the last decompressed bytes of a gzip file.
    """

    path: Path
    data: Path
    gzip: bool
    encoding: str
    gzip_tail: bytes = b""

    @property
    def duckdb_compression(self) -> str:
        return "gzip" if self.gzip else "none"


def _python_encoding(encoding: str) -> str:
    """Read UTF-8 as utf-8-sig, so a byte order mark does not end up in the data."""
    return "utf-8-sig" if _is_utf8(encoding) else encoding


def _is_utf8(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")
    except LookupError:
        return False


def _open_text(landing: LandingFile):
    if landing.gzip:
        return gzip.open(landing.data, "rt", newline="", encoding=landing.encoding)
    return landing.data.open(newline="", encoding=landing.encoding)


def _gzip_error(path: Path, error: Exception) -> SourceFileError:
    detail = str(error).splitlines()[0] if str(error) else type(error).__name__
    return SourceFileError(f"{path}: invalid gzip file ({detail})")


class LineLengthScan:
    """Track the longest physical line in blocks of a file, as they are read."""

    def __init__(self) -> None:
        self.current = 0
        self.line = 1
        self.longest = 0
        self.longest_line = 0

    def feed(self, block: bytes) -> None:
        first = block.find(b"\n")
        if first == -1:
            self._extend(len(block))
            return
        self._extend(first)
        self.line += block.count(b"\n")
        self.current = 0
        self._extend(len(block) - block.rfind(b"\n") - 1)

    def _extend(self, length: int) -> None:
        self.current += length
        if self.current > self.longest:
            self.longest, self.longest_line = self.current, self.line

    def check(self, path: Path) -> None:
        if self.longest > MAX_LINE_BYTES:
            raise SourceFileError(
                f"{path}: line {self.longest_line} is longer than {MAX_LINE_BYTES} "
                f"bytes ({self.longest} bytes); split the record or fix the export"
            )


def _check_gzip(path: Path, scan: LineLengthScan | None) -> bytes:
    """Decompress the whole file once, raise if the gzip data is broken and return
    the last ``FOOTER_SEARCH_BYTES`` decompressed bytes. ``scan`` sees every block.

    DuckDB 2.0.1 does not compare the CRC-32 at the end of a gzip stream, so corrupt
    data that still decompresses would load as garbage rows. Python's gzip module
    checks it. This costs one extra decompression pass per gzip file.
    """
    tail = b""
    try:
        with gzip.open(path, "rb") as handle:
            while block := handle.read(BLOCK_SIZE):
                tail = (tail + block)[-FOOTER_SEARCH_BYTES:]
                if scan is not None:
                    scan.feed(block)
    except GZIP_ERRORS as error:
        raise _gzip_error(path, error) from error
    return tail


def _check_line_lengths(path: Path, compressed: bool, gzip_tail: bytes) -> bytes:
    """Raise when a CSV or JSON lines file has a line over ``MAX_LINE_BYTES``.

    Reads a plain file once more in blocks. A gzip file is scanned during its CRC
    check. Returns the gzip tail of ``_check_gzip``, empty for plain files.
    """
    scan = LineLengthScan()
    if compressed:
        gzip_tail = _check_gzip(path, scan)
    else:
        with path.open("rb") as handle:
            while block := handle.read(BLOCK_SIZE):
                scan.feed(block)
    scan.check(path)
    return gzip_tail


def line_scan_for(source: Source, path: Path) -> LineLengthScan | None:
    """Return a scan for the loader to feed while it hashes a plain CSV or JSON lines
    file, so that ``stage_file`` need not read the file once more. None for other
    files: a gzip file is scanned while its CRC is checked."""
    if source.file_format in ("csv", "jsonl") and not source.is_gzip(path.name):
        return LineLengthScan()
    return None


def stage_file(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    path: Path,
    line_scan: LineLengthScan | None = None,
) -> StagedFile:
    """Stage one landing file. ``line_scan``, from ``line_scan_for``, has seen
    every byte of the file already."""
    if path.stat().st_size == 0:
        expected = ", expected a header" if source.file_format == "csv" else ""
        raise SourceFileError(f"{path}: empty file (0 bytes){expected}")
    compressed = source.is_gzip(path.name)
    if compressed and source.file_format == "parquet":
        raise SourceFileError(
            f"{path}: gzip-compressed parquet is not supported; deliver the plain "
            ".parquet file (parquet compresses its column data itself)"
        )
    line_based = source.file_format in ("csv", "jsonl")
    if line_based and line_scan is not None and not compressed:
        line_scan.check(path)
        gzip_tail = b""
    elif line_based:
        gzip_tail = _check_line_lengths(path, compressed, b"")
    else:
        gzip_tail = _check_gzip(path, None) if compressed else b""
    con.execute(
        f"create or replace temp table {REJECTS_TABLE} "
        "(line_number bigint, raw_line varchar, reason varchar)"
    )
    readers = {
        "csv": _stage_csv,
        "jsonl": _stage_jsonl,
        "json_array": _stage_json,
        "parquet": _stage_parquet,
    }
    with _readable_file(source, path, compressed, gzip_tail) as landing:
        extra_columns = readers[source.file_format](con, source, landing)

    read_count = con.execute(
        f"select (select count(*) from {ROWS_TABLE}) "
        f"+ (select count(*) from {REJECTS_TABLE})"
    ).fetchone()[0]
    return StagedFile(ROWS_TABLE, REJECTS_TABLE, read_count, extra_columns)


def drop_stage_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the staged rows and rejects, so they do not take memory during the next
    file's staging."""
    con.execute(f"drop table if exists {ROWS_TABLE}")
    con.execute(f"drop table if exists {REJECTS_TABLE}")


@contextmanager
def _readable_file(
    source: Source, path: Path, compressed: bool, gzip_tail: bytes
) -> Iterator[LandingFile]:
    """Yield the landing file, or a UTF-8 copy of a CSV or JSON lines file in another
    encoding.

    DuckDB 2.0.1 reads CSV as UTF-8, UTF-16 and Latin-1 only. Windows-1252 needs its
    ``encodings`` extension, which would be downloaded at run time, and its Latin-1
    rejected a whole file containing the bytes 0x80 and 0x9C. So Python's codecs
    convert every encoding other than UTF-8 in 1 MiB blocks to a temporary file.
    NOTE: the copy needs as much free space in the temporary directory (TMPDIR) as
    the decompressed file.
    """
    native = source.file_format in ("json_array", "parquet") or _is_utf8(
        source.encoding
    )
    if native:
        encoding = _python_encoding(source.encoding)
        yield LandingFile(path, path, compressed, encoding, gzip_tail)
        return
    with tempfile.TemporaryDirectory(prefix="cdp_stage_") as scratch:
        copy = Path(scratch) / "utf8_copy"
        _transcode_to_utf8(source, path, compressed, copy)
        yield LandingFile(path, copy, False, "utf-8")


def _transcode_to_utf8(
    source: Source, path: Path, compressed: bool, copy: Path
) -> None:
    try:
        decoder = codecs.getincrementaldecoder(source.encoding)()
    except LookupError as error:
        raise SourceFileError(
            f"{path}: unknown encoding {source.encoding!r} in source {source.name}"
        ) from error
    offset = 0
    opener = gzip.open if compressed else open
    with opener(path, "rb") as binary, copy.open("w", encoding="utf-8") as text:
        try:
            while block := binary.read(BLOCK_SIZE):
                text.write(decoder.decode(block))
                offset += len(block)
            text.write(decoder.decode(b"", final=True))
        except UnicodeDecodeError as error:
            raise SourceFileError(
                f"{path}: not valid {source.encoding} text near byte "
                f"{offset + error.start} ({error.reason}); set the source's encoding"
            ) from error


def _read_csv_header(source: Source, landing: LandingFile) -> list[str]:
    """Read and decode the header record only.

    Decoding more than the header would reject a whole file for one invalid byte in
    a data row, which DuckDB's reader rejects as that row alone. A header with a
    quoted line break continues on the next line.
    """
    opener = gzip.open if landing.gzip else open
    try:
        with opener(landing.data, "rb") as handle:
            first = handle.readline(MAX_LINE_BYTES)
            while first.count(b'"') % 2 and (more := handle.readline(MAX_LINE_BYTES)):
                first += more
    except GZIP_ERRORS as error:
        raise _gzip_error(landing.path, error) from error
    try:
        text = first.decode(landing.encoding)
    except UnicodeDecodeError as error:
        raise SourceFileError(
            f"{landing.path}: line 1: not valid {source.encoding} text near byte "
            f"{error.start} ({error.reason}); set the source's encoding"
        ) from error
    try:
        header = next(
            csv.reader(io.StringIO(text, newline=""), delimiter=source.delimiter),
            None,
        )
    except csv.Error as error:
        raise SourceFileError(
            f"{landing.path}: line 1: unreadable header ({error})"
        ) from error
    if not header:
        raise SourceFileError(f"{landing.path}: line 1: missing header row")
    return header


def extra_column_name(header: str, position: int) -> str:
    """Name a header outside the contract: ``Lead Score`` becomes ``extra_lead_score``.

    A header without letters or digits is named by its 1-based position in the file,
    for example ``extra_column_7``. JSON keys are named the same way, with a key's
    position among the file's keys outside the contract.
    """
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", header.strip())
    words = re.findall(r"[^\W_]+", spaced.lower())
    return EXTRA_COLUMN_PREFIX + ("_".join(words) or f"column_{position}")


def _check_duplicates(path: Path, where: str, columns: list[str]) -> None:
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        names = ", ".join(duplicates)
        raise SourceFileError(
            f"{path}: {where}: duplicate column(s) in the header: {names}"
        )


def _header_to_columns(
    source: Source, path: Path, header: list[str], where: str = "line 1"
) -> list[str]:
    """Map the exported header to raw column names, keeping headers outside the
    contract as ``extra_*`` columns. ``where`` names the header in messages."""
    columns = []
    for position, name in enumerate(header, start=1):
        raw = source.columns.get(name.strip()) or extra_column_name(name, position)
        columns.append(raw)
    _check_duplicates(path, where, columns)

    missing = [
        export
        for export, raw in source.columns.items()
        if raw in source.required and raw not in columns
    ]
    if missing:
        raise SourceFileError(
            f"{path}: {where}: missing required column(s): {', '.join(missing)}"
        )
    return columns


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _stage_csv(
    con: duckdb.DuckDBPyConnection, source: Source, landing: LandingFile
) -> tuple[str, ...]:
    """Stage a CSV file and return its columns outside the contract (``extra_*``)."""
    path = landing.path
    columns = _header_to_columns(source, path, _read_csv_header(source, landing))
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
        "encoding = 'utf-8', compression = ?, strict_mode = true, "
        "store_rejects = true, rejects_table = '_csv_reject_errors', "
        "rejects_scan = '_csv_reject_scans')",
        [str(landing.data), source.delimiter, landing.duckdb_compression],
    )
    # DuckDB's rejects count the header as line 1; the record numbers start after it.
    # NOTE: DuckDB skips an empty line in the middle of a CSV file but counts it in
    # its rejects' line, so accepted rows after one get a number one lower per empty
    # line than the unit above. Finding them would need a second pass over the file.
    _insert_reader_rejects(con, "_csv_reject_errors", header_lines=1)
    _shift_row_numbers(con, ROWS_TABLE, "_row_number")
    if source.footer_pattern:
        _reject_footer(con, source, landing)
    return tuple(extra)


def _insert_reader_rejects(
    con: duckdb.DuckDBPyConnection, errors_table: str, header_lines: int
) -> None:
    """Copy DuckDB's CSV rejects into the stage, one row per rejected record.

    In files with CRLF line ends, DuckDB 2.0.1 starts ``csv_line`` with the preceding
    line break. After an unterminated quote it ends with a line break. Neither is
    part of the record, so both are trimmed.
    """
    con.execute(
        f"insert into {REJECTS_TABLE} "
        f"select line - {header_lines}, "
        "trim(any_value(csv_line), chr(13) || chr(10)), "
        "string_agg(distinct error_message, '; ') "
        f"from {errors_table} group by line"
    )


def _shift_row_numbers(con: duckdb.DuckDBPyConnection, table: str, column: str) -> None:
    """Renumber accepted rows so the rejected records before each row count too.

    ``row_number() over ()`` counts the rows DuckDB accepted, in file order. With
    the rejects' record numbers r_1 < r_2 < ..., reject i has r_i - i accepted rows
    before it, so accepted row k moves up by the number of rejects with fewer than k
    accepted rows before them. Files without rejects are not touched.
    """
    shifts = con.execute(
        "select accepted_before, max(i) as shift from ("
        "select line_number - row_number() over (order by line_number) "
        "as accepted_before, row_number() over (order by line_number) as i "
        f"from {REJECTS_TABLE}) group by accepted_before order by accepted_before desc"
    ).fetchall()
    if not shifts:
        return
    if len(shifts) <= MAX_CASE_SHIFTS:
        cases = " ".join(f"when {column} > {a} then {s}" for a, s in shifts)
        con.execute(
            f"update {table} set {column} = {column} + case {cases} end "
            f"where {column} > {shifts[-1][0]}"
        )
        return
    con.execute(
        "create or replace temp table _row_shifts (accepted_before bigint, "
        "shift bigint)"
    )
    con.executemany("insert into _row_shifts values (?, ?)", shifts)
    # The join may reorder rows, and the loader inserts the staged rows in their
    # stored order.
    con.execute(
        f"create or replace temp table _shifted as select t.* replace "
        f"(t.{column} + coalesce(s.shift, 0) as {column}) from {table} as t "
        f"asof left join _row_shifts as s on t.{column} > s.accepted_before "
        f"order by {column}"
    )
    con.execute(f"drop table {table}")
    con.execute(f"alter table _shifted rename to {table}")


def _footer_lines(source: Source, landing: LandingFile) -> list[str]:
    """Return the summary lines at the end of a CSV file, in file order.

    Lines are searched from the end for ``footer_pattern`` (Python ``re.search``),
    skipping empty lines, up to the first line that does not match. A line with an
    odd number of quote characters ends a quoted field with line breaks, so it ends
    the search too. The header line is never a summary line.
    """
    pattern = re.compile(source.footer_pattern or "")
    if landing.gzip:
        tail, whole_file = landing.gzip_tail, False
    else:
        size = landing.data.stat().st_size
        with landing.data.open("rb") as handle:
            handle.seek(max(0, size - FOOTER_SEARCH_BYTES))
            tail = handle.read()
        whole_file = size <= FOOTER_SEARCH_BYTES
    lines = tail.split(b"\n")
    # The first line is the header, or the part of a line before the tail starts.
    candidates = lines[1:]
    footer: list[str] = []
    for raw in reversed(candidates):
        line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
        if not line:
            continue
        if line.count('"') % 2 or not pattern.search(line):
            return footer
        footer.insert(0, line)
    if not whole_file and len(lines) > 1 and footer:
        raise SourceFileError(
            f"{landing.path}: more than {FOOTER_SEARCH_BYTES} bytes at the end match "
            f"footer_pattern {source.footer_pattern!r}; check the pattern"
        )
    return footer


def _reject_footer(
    con: duckdb.DuckDBPyConnection, source: Source, landing: LandingFile
) -> None:
    """Record the summary lines at the end of a CSV file as rejects with
    ``FOOTER_REASON``.

    Each summary line is one record, so they are the file's last records, whether
    DuckDB rejected them (too few columns) or accepted them as a row.
    """
    footer = _footer_lines(source, landing)
    if not footer:
        return
    con.execute(
        "create or replace temp table _csv_footer (position bigint, raw_line varchar)"
    )
    con.executemany(
        "insert into _csv_footer values (?, ?)",
        list(enumerate(footer, start=1)),
    )
    con.execute(
        "create or replace temp table _csv_footer_records as "
        "select n, is_row, row_number() over (order by n) as position from ("
        f"select _row_number as n, true as is_row from {ROWS_TABLE} union all "
        f"select line_number, false from {REJECTS_TABLE} order by n desc limit ?)",
        [len(footer)],
    )
    con.execute(
        f"insert into {REJECTS_TABLE} select r.n, f.raw_line, ? "
        "from _csv_footer_records as r join _csv_footer as f using (position) "
        "where r.is_row",
        [FOOTER_REASON],
    )
    con.execute(
        f"delete from {ROWS_TABLE} where _row_number in "
        "(select n from _csv_footer_records where is_row)"
    )
    con.execute(
        f"update {REJECTS_TABLE} set reason = ? where line_number in "
        "(select n from _csv_footer_records where not is_row)",
        [FOOTER_REASON],
    )
    logger.info(
        "%s: %d summary line(s) at the end recorded as rejects",
        landing.path.name,
        len(footer),
    )


def _json_pointer(key: str) -> str:
    """SQL literal of the JSON pointer (RFC 6901) to one top-level key."""
    return _sql_literal("/" + key.replace("~", "~0").replace("/", "~1"))


def _json_value_sql(key: str) -> str:
    """SQL for one top-level key of a JSON line: scalars as text, objects as JSON."""
    pointer = _json_pointer(key)
    return (
        f"case when json_type(line, {pointer}) in ('OBJECT', 'ARRAY') "
        f"then json_extract(line, {pointer})::varchar "
        f"else json_extract_string(line, {pointer}) end"
    )


def _name_extra_keys(
    source: Source, path: Path, keys: list[str], known: list[str]
) -> dict[str, str]:
    """Map JSON keys outside the contract to ``extra_*`` column names."""
    names = {
        key: extra_column_name(key, position)
        for position, key in enumerate(keys, start=1)
    }
    _check_duplicates(path, "JSON keys", [*known, *names.values()])
    return names


def _stage_jsonl(
    con: duckdb.DuckDBPyConnection, source: Source, landing: LandingFile
) -> tuple[str, ...]:
    """Stage a JSON lines file and return its keys outside the contract as
    ``extra_*`` columns."""
    con.execute("drop table if exists _jsonl_reject_errors")
    con.execute("drop table if exists _jsonl_reject_scans")
    # With one column DuckDB returns an empty line as a null row, so row_number()
    # counts physical lines except the ones its reader rejects. is_object is computed
    # once here, so the lines are stored once; a copy of the valid lines doubled the
    # memory of a large file. Valid JSON that starts with "{" is an object, so
    # json_type parses only the other valid lines again.
    valid = (
        "coalesce(case when not json_valid(line) then false "
        "when ltrim(line, ' ' || chr(9) || chr(10) || chr(13)) like '{%' then true "
        "else json_type(line) = 'OBJECT' end, false)"
    )
    con.execute(
        f"create or replace temp table _jsonl_lines as select *, {valid} as is_object "
        "from (select line_number, case when line_number = 1 "
        "then ltrim(line, chr(65279)) else line end as line "
        "from (select row_number() over () as line_number, line "
        "from read_csv(?, columns = {'line': 'VARCHAR'}, header = false, "
        "auto_detect = false, delim = chr(0), quote = '', escape = '', "
        "encoding = 'utf-8', compression = ?, strict_mode = false, "
        "store_rejects = true, rejects_table = '_jsonl_reject_errors', "
        "rejects_scan = '_jsonl_reject_scans')))",
        [str(landing.data), landing.duckdb_compression],
    )
    _insert_reader_rejects(con, "_jsonl_reject_errors", header_lines=0)
    _shift_row_numbers(con, "_jsonl_lines", "line_number")
    con.execute(
        f"insert into {REJECTS_TABLE} select line_number, line, "
        "'invalid JSON: not one JSON object on the line' from _jsonl_lines "
        "where line is not null and not is_object"
    )
    # DuckDB may evaluate the JSON functions before a filter, and they raise on
    # malformed JSON, so they only ever see a line through this CASE.
    valid_lines = (
        "(select line_number, case when is_object then line end as line "
        "from _jsonl_lines where is_object)"
    )

    keys = [
        row[0]
        for row in con.execute(
            "select key from (select line_number, unnest(json_keys(line)) as key "
            f"from {valid_lines}) group by key order by min(line_number), key"
        ).fetchall()
    ]
    outside = [key for key in keys if key not in source.columns]
    extras = _name_extra_keys(source, landing.path, outside, source.raw_columns)
    # from_json parses each line once into a struct of text fields: scalars as
    # text, objects and arrays as JSON text, the same values json_extract_string
    # and json_extract give, at a third of the time of one extraction per key.
    # DuckDB struct field names ignore case, so keys that differ only in case
    # ("userId", "UserId") are extracted one by one instead.
    key_columns = [*source.columns.items(), *extras.items()]
    if len({key.lower() for key, _ in key_columns}) < len(key_columns):
        select_list = ", ".join(
            f'{_json_value_sql(key)} as "{raw}"' for key, raw in key_columns
        )
        rows_from = valid_lines
    else:
        structure = json.dumps({key: "VARCHAR" for key, _ in key_columns})
        select_list = ", ".join(
            f'struct_extract(record, {_sql_literal(key)}) as "{raw}"'
            for key, raw in key_columns
        )
        rows_from = (
            f"(select line_number, from_json(line, {_sql_literal(structure)}) "
            f"as record from {valid_lines})"
        )
    con.execute(
        f"create or replace temp table {ROWS_TABLE} as "
        f"select {select_list}, line_number as _row_number from {rows_from}"
    )
    con.execute("drop table _jsonl_lines")
    return tuple(extras.values())


def _json_text(value: object) -> str | None:
    """Return a JSON value as raw text: objects and arrays as JSON, scalars as
    written in the file."""
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _flatten(record: dict, dotted_path: str) -> str | None:
    value = record
    for part in dotted_path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return _json_text(value)


def _extra_values(record: dict, paths: set[str], prefix: str = "") -> dict:
    """Return the values of a record outside the contract's dotted paths.

    A key is outside when no contract path names it or runs through it. Objects that
    contract paths run through are searched for more such keys, so ``requester.age``
    is kept next to a contract's ``requester.name``.
    """
    values = {}
    for key, value in record.items():
        path = prefix + key
        if path in paths:
            continue
        inside = any(p.startswith(path + ".") for p in paths)
        if inside and isinstance(value, dict):
            values.update(_extra_values(value, paths, path + "."))
        else:
            values[path] = _json_text(value)
    return values


def _load_json_records(source: Source, landing: LandingFile) -> list:
    # TODO: keeps the whole document in Python objects, several times the file
    # size. Harmless for helpdesk tickets (20,000 tickets at 100,000 generated
    # customers load in about 2 s), but a large JSON array export should be read
    # by DuckDB's read_json(format='array') in place of json.loads.
    path = landing.path
    try:
        with _open_text(landing) as handle:
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
    con: duckdb.DuckDBPyConnection, source: Source, landing: LandingFile
) -> tuple[str, ...]:
    """Stage a JSON document holding an array of records; row number = array index."""
    records = _load_json_records(source, landing)
    paths = set(source.columns)
    rows, rejects, outside = [], [], {}
    for index, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            rejects.append((index, json.dumps(record), "record is not a JSON object"))
            continue
        row = {raw: _flatten(record, key) for key, raw in source.columns.items()}
        extra = _extra_values(record, paths)
        outside.update(dict.fromkeys(extra))
        rows.append({**row, "_extra": extra, "_row_number": index})

    extras = _name_extra_keys(source, landing.path, list(outside), source.raw_columns)
    for row in rows:
        extra = row.pop("_extra")
        row.update({name: extra.get(key) for key, name in extras.items()})
    columns = [*source.raw_columns, *extras.values()]
    frame = pd.DataFrame(rows, columns=[*columns, "_row_number"])
    frame = frame.astype({c: "object" for c in columns})
    con.register("_json_frame", frame)
    casts = ", ".join(f'"{c}"::varchar as "{c}"' for c in columns)
    con.execute(
        f"create or replace temp table {ROWS_TABLE} as "
        f"select {casts}, _row_number::bigint as _row_number from _json_frame"
    )
    con.unregister("_json_frame")
    if rejects:
        con.executemany(f"insert into {REJECTS_TABLE} values (?, ?, ?)", rejects)
    return tuple(extras.values())


def _parquet_value_sql(name: str, column_type: str) -> str:
    """SQL for one parquet column as text: nested values as JSON, others cast."""
    column = _quote_identifier(name)
    nested = column_type.startswith(("STRUCT", "MAP", "UNION")) or column_type.endswith(
        "]"
    )
    return f"to_json({column})::varchar" if nested else f"{column}::varchar"


def _stage_parquet(
    con: duckdb.DuckDBPyConnection, source: Source, landing: LandingFile
) -> tuple[str, ...]:
    """Stage a parquet file: contract columns by name, every value as text."""
    path = landing.path
    try:
        schema = con.execute(
            "select column_name, column_type from "
            "(describe select * from read_parquet(?))",
            [str(landing.data)],
        ).fetchall()
    except duckdb.Error as error:
        raise _parquet_error(path, error) from error
    columns = _header_to_columns(
        source, path, [name for name, _ in schema], "parquet schema"
    )
    select = {
        raw: _parquet_value_sql(name, t)
        for (name, t), raw in zip(schema, columns, strict=True)
    }
    absent = [c for c in source.raw_columns if c not in select]
    extra = [c for c in columns if c not in source.raw_columns]
    if absent:
        logger.warning(
            "%s: optional column(s) missing from the parquet schema, loaded as "
            "empty: %s",
            path.name,
            ", ".join(absent),
        )

    select_list = ", ".join(
        [f'{select.get(c, "null::varchar")} as "{c}"' for c in source.raw_columns]
        + [f'{select[c]} as "{c}"' for c in extra]
    )
    try:
        con.execute(
            f"create or replace temp table {ROWS_TABLE} as select {select_list}, "
            "file_row_number + 1 as _row_number "
            "from read_parquet(?, file_row_number = true)",
            [str(landing.data)],
        )
    except duckdb.Error as error:
        raise _parquet_error(path, error) from error
    return tuple(extra)


def _parquet_error(path: Path, error: Exception) -> SourceFileError:
    detail = str(error).splitlines()[0] if str(error) else type(error).__name__
    return SourceFileError(f"{path}: invalid parquet file ({detail})")
