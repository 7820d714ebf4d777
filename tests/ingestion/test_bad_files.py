"""Broken and hostile landing files among the good files of one night.

Each case puts one bad file into a landing folder that contains a valid extract of
every source and loads the whole night with the loader into a fresh DuckDB file. The
bad file is rejected with a reason: as a whole in ``raw._load_log``, or row by row in
``raw.<source>__rejects`` when the rest of the file is readable. A file rejected as a
whole leaves no row in raw, and every other file of the night still loads.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import random
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from ingestion.loader import load_source
from ingestion.sources import (
    CRM_CONTACTS,
    EMAIL_ACTIVITY,
    HELPDESK_TICKETS,
    SHOP_ORDERS,
    SOCIAL_LEADS,
    SOURCES,
    WEB_EVENTS,
    Source,
)

# No source of the shipped contracts exports Parquet, so the Parquet cases load into
# a contract of their own, beside the six real sources.
PARQUET_LEADS = dataclasses.replace(
    SOCIAL_LEADS,
    name="parquet_leads",
    file_pattern="parquet_leads_*.parquet",
    file_format="parquet",
)
NIGHT_SOURCES = (*SOURCES, PARQUET_LEADS)
GOOD_DATE = "2026-11-29"
BAD_DATE = "2026-11-30"
HUGE_LINE_BYTES = 100 * 1024 * 1024


def csv_text(source: Source, rows: list[dict[str, str]]) -> str:
    header = list(source.columns)
    lines = [",".join(header)]
    for row in rows:
        lines.append(",".join(row.get(name, "") for name in header))
    return "\n".join(lines) + "\n"


def crm_rows(count: int) -> list[dict[str, str]]:
    return [
        {"Record ID": f"c{i}", "First Name": "Anna", "Email": f"a{i}@example.de"}
        for i in range(1, count + 1)
    ]


def write_parquet(path: Path, rows: int) -> None:
    with duckdb.connect() as con:
        con.execute(
            "copy (select 'l' || range as id, 'lead' || range || '@example.de' "
            f"as email from range({rows})) to '{path}' (format parquet)"
        )


def write_good_night(landing: Path) -> dict[str, tuple[str, int]]:
    """Write one valid extract per source; return source -> (file name, rows)."""
    good = {
        CRM_CONTACTS.name: csv_text(CRM_CONTACTS, crm_rows(3)),
        SHOP_ORDERS.name: csv_text(
            SHOP_ORDERS,
            [{"Name": "#1001", "Lineitem name": "Mug", "Total": "12.50"}],
        ),
        WEB_EVENTS.name: json.dumps({"messageId": "m1", "type": "track"}) + "\n",
        EMAIL_ACTIVITY.name: csv_text(
            EMAIL_ACTIVITY, [{"Email Address": "a1@example.de", "Action": "open"}]
        ),
        HELPDESK_TICKETS.name: json.dumps({"tickets": [{"id": 1}]}),
        SOCIAL_LEADS.name: csv_text(SOCIAL_LEADS, [{"id": "l1"}]),
    }
    written = {}
    for source in NIGHT_SOURCES:
        folder = landing / source.landing_folder
        folder.mkdir(parents=True, exist_ok=True)
        name = source.file_pattern.replace("*", GOOD_DATE)
        if source is PARQUET_LEADS:
            write_parquet(folder / name, rows=2)
            written[source.name] = (name, 2)
            continue
        (folder / name).write_text(good[source.name], encoding="utf-8")
        written[source.name] = (name, 1 if source is not CRM_CONTACTS else 3)
    return written


# Writers of bad files: (path) -> None.
def truncated_parquet(path: Path) -> None:
    whole = path.with_suffix(".whole")
    write_parquet(whole, rows=5000)
    data = whole.read_bytes()
    whole.unlink()
    path.write_bytes(data[: len(data) // 2])


def zero_bytes(path: Path) -> None:
    path.write_bytes(b"")


def truncated_gzip_csv(path: Path) -> None:
    data = gzip.compress(csv_text(CRM_CONTACTS, crm_rows(2000)).encode("utf-8"))
    path.write_bytes(data[: len(data) // 2])


def invalid_utf8_row(path: Path) -> None:
    """A valid header and two valid rows around one row with bytes that are not
    UTF-8 (Latin-1 ``ü`` and a lone continuation byte)."""
    header, first, second, third = csv_text(CRM_CONTACTS, crm_rows(3)).splitlines()
    broken = second.replace("Anna", "M\xfcller").encode("latin-1") + b"\x80"
    lines = [header.encode(), first.encode(), broken, third.encode()]
    path.write_bytes(b"\n".join(lines) + b"\n")


def invalid_utf8_header(path: Path) -> None:
    text = csv_text(CRM_CONTACTS, crm_rows(2)).replace("First Name", "Vorname\xff", 1)
    path.write_bytes(text.encode("latin-1"))


def random_bytes(path: Path) -> None:
    path.write_bytes(random.Random(7).randbytes(64 * 1024))


def png_image(path: Path) -> None:
    signature = b"\x89PNG\r\n\x1a\n"
    header_chunk = b"\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06"
    path.write_bytes(signature + header_chunk + random.Random(8).randbytes(4096))


def huge_csv_line(path: Path) -> None:
    """A header, then one 100 MiB record without a line break at the end."""
    with path.open("wb") as handle:
        handle.write(",".join(CRM_CONTACTS.columns).encode() + b"\n")
        handle.write(b"c1,")
        for _ in range(HUGE_LINE_BYTES // (1 << 20)):
            handle.write(b"x" * (1 << 20))


def huge_jsonl_line(path: Path) -> None:
    """One valid event, then one 100 MiB JSON line without a line break."""
    with path.open("wb") as handle:
        handle.write(json.dumps({"messageId": "m2", "type": "track"}).encode() + b"\n")
        handle.write(b'{"messageId": "m3", "type": "track", "event": "')
        for _ in range(HUGE_LINE_BYTES // (1 << 20)):
            handle.write(b"x" * (1 << 20))
        handle.write(b'"}')


def broken_jsonl_line(path: Path) -> None:
    events = [
        json.dumps({"messageId": "m2", "type": "track"}),
        '{"messageId": "m3", "type": "track", "properties": {"sku": ',
        json.dumps({"messageId": "m4", "type": "page"}),
    ]
    path.write_text("\n".join(events) + "\n", encoding="utf-8")


@dataclasses.dataclass(frozen=True)
class BadFile:
    """One bad landing file and how the loader is expected to treat it.

    ``file_reason`` is part of the load log message when the whole file is
    rejected. Otherwise the file loads ``rows_loaded`` rows and rejects
    ``rows_rejected`` rows, each with ``row_reason`` in the rejects table.
    """

    source: Source
    suffix: str
    write: Callable[[Path], None]
    file_reason: str | None = None
    rows_loaded: int = 0
    rows_rejected: int = 0
    row_reason: str | None = None


CASES = {
    "truncated-parquet": BadFile(
        PARQUET_LEADS, ".parquet", truncated_parquet, "invalid parquet file"
    ),
    "zero-byte-csv": BadFile(CRM_CONTACTS, ".csv", zero_bytes, "empty file (0 bytes)"),
    "zero-byte-jsonl": BadFile(WEB_EVENTS, ".jsonl", zero_bytes, "empty file"),
    "zero-byte-parquet": BadFile(PARQUET_LEADS, ".parquet", zero_bytes, "empty file"),
    "truncated-csv-gz": BadFile(
        CRM_CONTACTS, ".csv.gz", truncated_gzip_csv, "invalid gzip file"
    ),
    "invalid-utf8-row": BadFile(
        CRM_CONTACTS,
        ".csv",
        invalid_utf8_row,
        rows_loaded=2,
        rows_rejected=1,
        row_reason="Invalid unicode",
    ),
    "invalid-utf8-header": BadFile(
        CRM_CONTACTS, ".csv", invalid_utf8_header, "line 1: not valid utf-8 text"
    ),
    "random-bytes-as-csv": BadFile(
        CRM_CONTACTS, ".csv", random_bytes, "not valid utf-8 text"
    ),
    "png-as-csv": BadFile(SOCIAL_LEADS, ".csv", png_image, "not valid utf-8 text"),
    "huge-csv-line": BadFile(
        CRM_CONTACTS, ".csv", huge_csv_line, "line 2 is longer than"
    ),
    "huge-jsonl-line": BadFile(
        WEB_EVENTS, ".jsonl", huge_jsonl_line, "line 2 is longer than"
    ),
    "broken-jsonl-line": BadFile(
        WEB_EVENTS,
        ".jsonl",
        broken_jsonl_line,
        rows_loaded=2,
        rows_rejected=1,
        row_reason="invalid JSON",
    ),
}


FILE_CASES = [name for name, case in CASES.items() if case.file_reason]
ROW_CASES = [name for name, case in CASES.items() if not case.file_reason]


@pytest.fixture(scope="module")
def night(request, tmp_path_factory):
    """Load a night of good files plus one bad file; yield what the test needs."""
    case = CASES[request.param]
    tmp_path = tmp_path_factory.mktemp(request.param)
    landing = tmp_path / "landing"
    good = write_good_night(landing)
    stem = case.source.file_pattern.split("*")[0]
    bad_name = f"{stem}{BAD_DATE}{case.suffix}"
    case.write(landing / case.source.landing_folder / bad_name)

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    results = {s.name: load_source(con, s, landing) for s in NIGHT_SOURCES}
    (landing / case.source.landing_folder / bad_name).unlink()
    yield {"case": case, "con": con, "bad": bad_name, "good": good, "results": results}
    con.close()


def bad_result(night):
    case = night["case"]
    [result] = [r for r in night["results"][case.source.name] if r.file == night["bad"]]
    return result


@pytest.mark.parametrize("night", FILE_CASES, indirect=True)
def test_bad_file_rejected_with_reason(night):
    case, con, result = night["case"], night["con"], bad_result(night)

    assert result.status == "rejected"
    logged = con.execute(
        "select status, message from raw._load_log where file = ?", [night["bad"]]
    ).fetchall()
    assert len(logged) == 1
    assert logged[0][0] == "rejected"
    assert case.file_reason in logged[0][1]


@pytest.mark.parametrize("night", FILE_CASES, indirect=True)
def test_rejected_file_leaves_no_rows(night):
    case, con = night["case"], night["con"]
    table = case.source.table

    kept = con.execute(
        f"select count(*) from raw.{table} where _file = ?", [night["bad"]]
    ).fetchone()[0]
    rejected_rows = con.execute(
        f"select count(*) from raw.{table}__rejects where _file = ?", [night["bad"]]
    ).fetchone()[0]
    assert kept == 0
    assert rejected_rows == 0


@pytest.mark.parametrize("night", ROW_CASES, indirect=True)
def test_bad_rows_rejected_rest_loaded(night):
    case, con, result = night["case"], night["con"], bad_result(night)
    table = case.source.table

    assert result.status == "loaded"
    assert result.rows_loaded == case.rows_loaded
    assert result.rows_rejected == case.rows_rejected
    assert result.rows_read == case.rows_loaded + case.rows_rejected
    reasons = [
        row[0]
        for row in con.execute(
            f"select reason from raw.{table}__rejects where _file = ?", [night["bad"]]
        ).fetchall()
    ]
    assert len(reasons) == case.rows_rejected
    assert all(case.row_reason in reason for reason in reasons), reasons
    kept = con.execute(
        f"select count(*) from raw.{table} where _file = ?", [night["bad"]]
    ).fetchone()[0]
    assert kept == case.rows_loaded


@pytest.mark.parametrize("night", list(CASES), indirect=True)
def test_other_files_of_night_load(night):
    con = night["con"]
    for source in NIGHT_SOURCES:
        name, rows = night["good"][source.name]
        status, loaded = con.execute(
            "select status, rows_loaded from raw._load_log where file = ?", [name]
        ).fetchone()
        assert status == "loaded", name
        assert loaded == rows, name
        in_table = con.execute(
            f"select count(*) from raw.{source.table} where _file = ?", [name]
        ).fetchone()[0]
        assert in_table == rows, name


@pytest.mark.parametrize("night", list(CASES), indirect=True)
def test_load_log_balances(night):
    unbalanced = (
        night["con"]
        .execute(
            "select file from raw._load_log where status = 'loaded' "
            "and rows_read <> rows_loaded + rows_rejected"
        )
        .fetchall()
    )
    assert unbalanced == []


def test_line_length_limit_counts_lines_across_blocks(tmp_path):
    """The scan finds the line number of a long line that spans read blocks."""
    from ingestion import readers

    path = tmp_path / "lines.csv"
    path.write_bytes(b"a\nb\n" + b"x" * (readers.MAX_LINE_BYTES + 1) + b"\nc\n")

    with pytest.raises(readers.SourceFileError, match="line 3 is longer than"):
        readers._check_line_lengths(path, compressed=False, gzip_tail=b"")


def test_line_at_limit_accepted(tmp_path):
    from ingestion import readers

    path = tmp_path / "lines.csv.gz"
    path.write_bytes(gzip.compress(b"a\n" + b"x" * readers.MAX_LINE_BYTES + b"\n"))

    tail = readers._check_line_lengths(path, compressed=True, gzip_tail=b"")

    assert tail.endswith(b"x\n")
