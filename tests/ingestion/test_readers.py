"""Reader tests: parquet, compression, JSON keys outside the contract, summary lines,
row numbers and file encodings, loaded through the loader into real DuckDB files."""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path

import duckdb
import pytest

from ingestion import readers
from ingestion.loader import load_source
from ingestion.sources import Source

PEOPLE = Source(
    name="people",
    description="Test CSV contract.",
    file_pattern="people_*.csv",
    file_format="csv",
    columns={"Id": "person_id", "Name": "name", "City": "city"},
    required=("person_id",),
    key=("person_id",),
)
PEOPLE_JSONL = dataclasses.replace(
    PEOPLE, name="people_jsonl", file_pattern="people_*.jsonl", file_format="jsonl"
)
PEOPLE_JSON = dataclasses.replace(
    PEOPLE,
    name="people_json",
    file_pattern="people_*.json",
    file_format="json_array",
    json_records_path="people",
)
PEOPLE_PARQUET = dataclasses.replace(
    PEOPLE,
    name="people_parquet",
    file_pattern="people_*.parquet",
    file_format="parquet",
)
TICKETS = Source(
    name="tickets",
    description="Test JSON document contract with nested paths.",
    file_pattern="tickets_*.json",
    file_format="json_array",
    json_records_path="tickets",
    columns={"id": "ticket_id", "requester.name": "requester_name"},
    required=("ticket_id",),
    key=("ticket_id",),
)
FOOTER = r"^(Total rows: \d+|# exported .*)$"


@pytest.fixture
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


def write(landing: Path, source: Source, name: str, content: str | bytes) -> Path:
    folder = landing / source.landing_folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.write_bytes(data)
    return path


def rows(con, source: Source, columns: str = "person_id, name, city") -> list[tuple]:
    return con.execute(
        f"select {columns} from raw.{source.table} order by _row_number"
    ).fetchall()


def rejects(con, source: Source) -> list[tuple]:
    return con.execute(
        f"select line_number, raw_line, reason from raw.{source.table}__rejects "
        "order by line_number"
    ).fetchall()


def raw_types(con, table: str) -> dict[str, str]:
    return dict(
        con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'raw' and table_name = ?",
            [table],
        ).fetchall()
    )


def write_parquet(con, path: Path, select: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"copy ({select}) to '{path}' (format parquet)")


# Parquet


def test_parquet_columns_by_name_as_text(con, tmp_path):
    landing = tmp_path / "landing"
    folder = landing / PEOPLE_PARQUET.landing_folder
    write_parquet(
        con,
        folder / "people_2026-11-30.parquet",
        "select * from (values "
        "('Köln', 7, 'Anna', date '2026-11-30', 1.50::decimal(6, 2), "
        "{'tier': 'gold'}, [1, 2]), "
        "(null, 8, 'Jörg', null, null, null, null)) "
        't("City", "Id", "Name", "Signup Date", "Lead Score", "Meta", "Tags")',
    )

    [result] = load_source(con, PEOPLE_PARQUET, landing)

    assert result.status == "loaded"
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (2, 2, 0)
    assert result.new_columns == (
        "extra_signup_date",
        "extra_lead_score",
        "extra_meta",
        "extra_tags",
    )
    loaded = rows(
        con,
        PEOPLE_PARQUET,
        "person_id, name, city, extra_signup_date, extra_lead_score, extra_meta, "
        "extra_tags, _row_number",
    )
    assert loaded[0] == (
        "7",
        "Anna",
        "Köln",
        "2026-11-30",
        "1.50",
        '{"tier":"gold"}',
        "[1,2]",
        1,
    )
    assert loaded[1] == ("8", "Jörg", None, None, None, None, None, 2)
    types = raw_types(con, PEOPLE_PARQUET.table)
    assert types["person_id"] == "VARCHAR"
    assert types["extra_lead_score"] == "VARCHAR"


def test_parquet_missing_required_column_rejects_file(con, tmp_path):
    landing = tmp_path / "landing"
    folder = landing / PEOPLE_PARQUET.landing_folder
    write_parquet(
        con, folder / "people_2026-11-30.parquet", "select 'Anna' as \"Name\""
    )

    [result] = load_source(con, PEOPLE_PARQUET, landing)

    assert result.status == "rejected"
    assert "people_2026-11-30.parquet" in result.message
    assert "missing required column(s): Id" in result.message


def test_parquet_row_without_required_value(con, tmp_path):
    landing = tmp_path / "landing"
    folder = landing / PEOPLE_PARQUET.landing_folder
    write_parquet(
        con,
        folder / "people_2026-11-30.parquet",
        "select * from (values ('1', 'Anna'), (null, 'Ben'), ('3', 'Cem')) "
        't("Id", "Name")',
    )

    [result] = load_source(con, PEOPLE_PARQUET, landing)

    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 2, 1)
    assert [r[0] for r in rejects(con, PEOPLE_PARQUET)] == [2]
    assert rows(con, PEOPLE_PARQUET, "person_id, _row_number") == [("1", 1), ("3", 3)]


def broken_parquet(con, tmp_path: Path, kind: str) -> bytes:
    source = tmp_path / "source.parquet"
    con.execute(
        f"copy (select range as id, 'name ' || range as name from range(2000)) "
        f"to '{source}' (format parquet)"
    )
    data = bytearray(source.read_bytes())
    if kind == "truncated":
        return bytes(data[: len(data) // 2])
    if kind == "corrupt-footer":
        for offset in range(len(data) - 60, len(data) - 8):
            data[offset] ^= 0xFF
        return bytes(data)
    return b"Id,Name\n1,Anna\n"


@pytest.mark.parametrize("kind", ["truncated", "corrupt-footer", "csv-content"])
def test_broken_parquet_rejects_that_file(con, tmp_path, kind):
    landing = tmp_path / "landing"
    content = broken_parquet(con, tmp_path, kind)
    write(landing, PEOPLE_PARQUET, "people_2026-11-29.parquet", content)
    write_parquet(
        con,
        landing / PEOPLE_PARQUET.landing_folder / "people_2026-11-30.parquet",
        "select '1' as \"Id\"",
    )

    broken, good = load_source(con, PEOPLE_PARQUET, landing)

    assert broken.status == "rejected"
    assert "people_2026-11-29.parquet: invalid parquet file" in broken.message
    assert good.status == "loaded"
    assert good.rows_loaded == 1


def test_gzip_parquet_rejected_with_advice(con, tmp_path):
    landing = tmp_path / "landing"
    plain = tmp_path / "plain.parquet"
    write_parquet(con, plain, "select '1' as \"Id\"")
    compressed = gzip.compress(plain.read_bytes())
    write(landing, PEOPLE_PARQUET, "people_2026-11-30.parquet.gz", compressed)

    [result] = load_source(con, PEOPLE_PARQUET, landing)

    assert result.status == "rejected"
    assert "gzip-compressed parquet is not supported" in result.message
    assert "deliver the plain .parquet file" in result.message


# Compression setting

CSV_BODY = "Id,Name,City\n1,Anna,Köln\n2,Jörg,Wien\n"
JSONL_BODY = (
    json.dumps({"Id": "1", "Name": "Anna", "City": "Köln"})
    + "\n"
    + json.dumps({"Id": "2", "Name": "Jörg", "City": "Wien"})
    + "\n"
)
JSON_BODY = json.dumps(
    {
        "people": [
            {"Id": "1", "Name": "Anna", "City": "Köln"},
            {"Id": "2", "Name": "Jörg", "City": "Wien"},
        ]
    }
)
BODIES = {"csv": CSV_BODY, "jsonl": JSONL_BODY, "json_array": JSON_BODY}
SOURCES = {"csv": PEOPLE, "jsonl": PEOPLE_JSONL, "json_array": PEOPLE_JSON}
EXTENSIONS = {"csv": "csv", "jsonl": "jsonl", "json_array": "json"}
PEOPLE_ROWS = [("1", "Anna", "Köln"), ("2", "Jörg", "Wien")]


@pytest.mark.parametrize("file_format", ["csv", "jsonl", "json_array"])
def test_gzip_setting_reads_name_without_gz(con, tmp_path, file_format):
    source = dataclasses.replace(SOURCES[file_format], compression="gzip")
    landing = tmp_path / "landing"
    name = f"people_2026-11-30.{EXTENSIONS[file_format]}"
    write(landing, source, name, gzip.compress(BODIES[file_format].encode()))

    [result] = load_source(con, source, landing)

    assert result.status == "loaded"
    assert rows(con, source) == PEOPLE_ROWS


@pytest.mark.parametrize("file_format", ["csv", "jsonl", "json_array"])
def test_none_setting_reads_gz_name_as_plain(con, tmp_path, file_format):
    source = dataclasses.replace(SOURCES[file_format], compression="none")
    landing = tmp_path / "landing"
    name = f"people_2026-11-30.{EXTENSIONS[file_format]}.gz"
    write(landing, source, name, BODIES[file_format])

    [result] = load_source(con, source, landing)

    assert result.status == "loaded"
    assert rows(con, source) == PEOPLE_ROWS


# JSON keys outside the contract


def test_jsonl_extra_keys_kept(con, tmp_path, caplog):
    landing = tmp_path / "landing"
    write(
        landing,
        PEOPLE_JSONL,
        "people_2026-11-29.jsonl",
        json.dumps({"Id": "1", "Name": "Anna"}) + "\n",
    )
    lines = [
        {"Id": "2", "leadScore": 42, "utm": {"source": "newsletter"}},
        {"Id": "3", "Name": "Cem", "it's/odd": True},
        {"Id": "4", "leadScore": None},
    ]
    body = "\n".join(json.dumps(line) for line in lines) + "\n"
    write(landing, PEOPLE_JSONL, "people_2026-11-30.jsonl", body)

    with caplog.at_level("WARNING"):
        first, second = load_source(con, PEOPLE_JSONL, landing)

    assert first.new_columns == ()
    assert second.new_columns == (
        "extra_lead_score",
        "extra_utm",
        "extra_it_s_odd",
    )
    assert (second.rows_read, second.rows_loaded, second.rows_rejected) == (3, 3, 0)
    assert "extra_lead_score, extra_utm, extra_it_s_odd" in caplog.text
    loaded = rows(
        con,
        PEOPLE_JSONL,
        "person_id, extra_lead_score, extra_utm, extra_it_s_odd",
    )
    assert sorted(loaded) == [
        ("1", None, None, None),
        ("2", "42", '{"source":"newsletter"}', None),
        ("3", None, None, "true"),
        ("4", None, None, None),
    ]
    assert raw_types(con, PEOPLE_JSONL.table)["extra_utm"] == "VARCHAR"


def test_json_array_extra_keys_kept(con, tmp_path):
    landing = tmp_path / "landing"
    document = {
        "tickets": [
            {
                "id": 1,
                "requester": {"name": "Eva", "age": 41},
                "tags": ["vip"],
                "open": False,
            },
            {"id": 2, "requester": "Ben"},
        ]
    }
    write(landing, TICKETS, "tickets_2026-11-30.json", json.dumps(document))

    [result] = load_source(con, TICKETS, landing)

    assert result.status == "loaded"
    assert result.new_columns == (
        "extra_requester_age",
        "extra_tags",
        "extra_open",
        "extra_requester",
    )
    loaded = con.execute(
        "select ticket_id, requester_name, extra_requester_age, extra_tags, "
        "extra_open, extra_requester from raw.tickets order by _row_number"
    ).fetchall()
    assert loaded == [
        ("1", "Eva", "41", '["vip"]', "false", None),
        ("2", None, None, None, None, "Ben"),
    ]


def test_json_extra_keys_same_name_reject_file(con, tmp_path):
    landing = tmp_path / "landing"
    line = json.dumps({"Id": "1", "Lead Score": 1, "lead_score": 2})
    write(landing, PEOPLE_JSONL, "people_2026-11-30.jsonl", line + "\n")

    [result] = load_source(con, PEOPLE_JSONL, landing)

    assert result.status == "rejected"
    assert "duplicate column(s)" in result.message
    assert "extra_lead_score" in result.message


# Summary lines at the end of a CSV file


def test_footer_lines_recorded_as_rejects(con, tmp_path):
    source = dataclasses.replace(PEOPLE, footer_pattern=FOOTER)
    landing = tmp_path / "landing"
    body = CSV_BODY + "3,Cem,Graz\nTotal rows: 3\n# exported 2026-11-30\n\n"
    write(landing, source, "people_2026-11-30.csv", body)

    [result] = load_source(con, source, landing)

    assert result.status == "loaded"
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (5, 3, 2)
    assert rejects(con, source) == [
        (4, "Total rows: 3", readers.FOOTER_REASON),
        (5, "# exported 2026-11-30", readers.FOOTER_REASON),
    ]


def test_footer_parsed_as_row_moved_to_rejects(con, tmp_path):
    source = dataclasses.replace(PEOPLE, footer_pattern=r"^Total,\d+,rows$")
    landing = tmp_path / "landing"
    write(landing, source, "people_2026-11-30.csv", CSV_BODY + "Total,2,rows\n")

    [result] = load_source(con, source, landing)

    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 2, 1)
    assert rows(con, source) == PEOPLE_ROWS
    assert rejects(con, source) == [(3, "Total,2,rows", readers.FOOTER_REASON)]


def test_footer_pattern_in_middle_is_data(con, tmp_path):
    source = dataclasses.replace(PEOPLE, footer_pattern=FOOTER)
    landing = tmp_path / "landing"
    body = "Id,Name,City\n1,Anna,Köln\nTotal rows: 3\n2,Jörg,Wien\nTotal rows: 2\n"
    write(landing, source, "people_2026-11-30.csv", body)

    [result] = load_source(con, source, landing)

    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 2, 2)
    [middle, end] = rejects(con, source)
    assert middle[:2] == (2, "Total rows: 3")
    assert "Expected Number of Columns" in middle[2]
    assert end == (4, "Total rows: 2", readers.FOOTER_REASON)


def test_footer_inside_quoted_field_is_data(con, tmp_path):
    source = dataclasses.replace(PEOPLE, footer_pattern="Total rows")
    landing = tmp_path / "landing"
    body = CSV_BODY + '3,"Cem\nTotal rows: 3",Graz\n'
    write(landing, source, "people_2026-11-30.csv", body)

    [result] = load_source(con, source, landing)

    assert (result.rows_loaded, result.rows_rejected) == (3, 0)
    assert rows(con, source)[-1] == ("3", "Cem\nTotal rows: 3", "Graz")


def test_footer_in_gzip_csv(con, tmp_path):
    source = dataclasses.replace(PEOPLE, footer_pattern=FOOTER)
    landing = tmp_path / "landing"
    body = gzip.compress((CSV_BODY + "Total rows: 2\n").encode())
    write(landing, source, "people_2026-11-30.csv.gz", body)

    [result] = load_source(con, source, landing)

    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 2, 1)
    assert rejects(con, source) == [(3, "Total rows: 2", readers.FOOTER_REASON)]


def test_footer_without_pattern_rejects_row(con, tmp_path):
    landing = tmp_path / "landing"
    body = CSV_BODY + 'Total rows: 2\nExported by "Shop"\n'
    write(landing, PEOPLE, "people_2026-11-30.csv", body)

    [result] = load_source(con, PEOPLE, landing)

    assert result.status == "loaded"
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 2, 2)
    reasons = [r[2] for r in rejects(con, PEOPLE)]
    assert all("Expected Number of Columns" in r for r in reasons)


# Row and line numbers


@pytest.mark.parametrize("max_case_shifts", [200, 0], ids=["case", "asof-join"])
def test_raw_rows_stored_in_file_order(con, tmp_path, monkeypatch, max_case_shifts):
    # The loader inserts the staged rows without sorting them.
    monkeypatch.setattr(readers, "MAX_CASE_SHIFTS", max_case_shifts)
    landing = tmp_path / "landing"
    records = ["Id,Name,City"]
    for number in range(1, 50_001):
        records.append(f"{number},short" if number % 300 == 0 else f"{number},P,C")
    write(landing, PEOPLE, "people_2026-11-30.csv", "\n".join(records) + "\n")

    [result] = load_source(con, PEOPLE, landing)

    assert result.rows_rejected == 50_000 // 300
    stored = con.execute(
        "select _row_number, person_id from raw.people order by rowid"
    ).fetchall()
    assert [number for number, _ in stored] == sorted(number for number, _ in stored)
    assert all(str(number) == person_id for number, person_id in stored)


@pytest.mark.parametrize("max_case_shifts", [200, 0], ids=["case", "asof-join"])
def test_csv_row_numbers_count_rejects(con, tmp_path, monkeypatch, max_case_shifts):
    monkeypatch.setattr(readers, "MAX_CASE_SHIFTS", max_case_shifts)
    landing = tmp_path / "landing"
    records = [
        "Id,Name,City",
        '1,"An\nna",Köln',  # record 1, lines 2-3
        "2,short",  # record 2: too few columns
        "3,Cem,Graz",  # record 3
        ",Dora,Linz",  # record 4: no Id
        '5,"Eva ""E"" \r\nOz",Bern',  # record 5, lines 7-8
        "6,too,many,columns",  # record 6
        "7,Finn,Genf",  # record 7
    ]
    write(landing, PEOPLE, "people_2026-11-30.csv", "\r\n".join(records) + "\r\n")

    [result] = load_source(con, PEOPLE, landing)

    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (7, 4, 3)
    assert rows(con, PEOPLE, "_row_number, person_id") == [
        (1, "1"),
        (3, "3"),
        (5, "5"),
        (7, "7"),
    ]
    found = rejects(con, PEOPLE)
    assert [line for line, _, _ in found] == [2, 4, 6]
    assert found[0][1] == "2,short"
    assert '"name":"Dora"' in found[1][1]
    assert found[2][1] == "6,too,many,columns"
    assert rows(con, PEOPLE, "name")[2] == ('Eva "E" \r\nOz',)


def test_csv_row_numbers_after_gzip_rejects(con, tmp_path):
    landing = tmp_path / "landing"
    body = "Id,Name,City\n1,a,b\n2\n3,c,d\n4\n5,e,f\n"
    write(landing, PEOPLE, "people_2026-11-30.csv.gz", gzip.compress(body.encode()))

    load_source(con, PEOPLE, landing)

    assert rows(con, PEOPLE, "_row_number") == [(1,), (3,), (5,)]
    assert [r[0] for r in rejects(con, PEOPLE)] == [2, 4]


def test_jsonl_line_numbers_after_reader_rejects(con, tmp_path):
    landing = tmp_path / "landing"
    body = (
        b'{"Id": "1"}\n'
        b'{"Id": "\xff"}\n'
        b"\n"
        b"{bad\n"
        b'{"Id": "5"}\n'
        b'{"Id": "' + b"x" * 3_000_000 + b'"}\n'
        b'{"Id": "7"}\n'
    )
    write(landing, PEOPLE_JSONL, "people_2026-11-30.jsonl", body)

    [result] = load_source(con, PEOPLE_JSONL, landing)

    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (6, 3, 3)
    assert rows(con, PEOPLE_JSONL, "_row_number, person_id") == [
        (1, "1"),
        (5, "5"),
        (7, "7"),
    ]
    assert [r[0] for r in rejects(con, PEOPLE_JSONL)] == [2, 4, 6]


# File formats and encodings

BOM = "\ufeff"
CP1252_NAME = "Jörg „Jö“ €"


def csv_text(delimiter: str, newline: str, names: tuple[str, str]) -> str:
    header = delimiter.join(["Id", "Name", "City"])
    lines = [
        header,
        delimiter.join(["1", names[0], "Köln"]),
        delimiter.join(["2", names[1], "Wien"]),
    ]
    return newline.join(lines) + newline


FORMAT_CASES = {
    "csv-utf8-bom-semicolon-crlf": (
        dataclasses.replace(PEOPLE, delimiter=";"),
        "csv",
        "utf-8",
        BOM + csv_text(";", "\r\n", ("Anna", "Jörg")),
        [("1", "Anna", "Köln"), ("2", "Jörg", "Wien")],
    ),
    "csv-latin1-tab": (
        dataclasses.replace(PEOPLE, delimiter="\t", encoding="latin-1"),
        "csv",
        "latin-1",
        csv_text("\t", "\n", ("Anna", "Jörg Groß")),
        [("1", "Anna", "Köln"), ("2", "Jörg Groß", "Wien")],
    ),
    "csv-cp1252-semicolon-crlf": (
        dataclasses.replace(PEOPLE, delimiter=";", encoding="cp1252"),
        "csv",
        "cp1252",
        csv_text(";", "\r\n", ("Anna", CP1252_NAME)),
        [("1", "Anna", "Köln"), ("2", CP1252_NAME, "Wien")],
    ),
    "csv-quoted-breaks-crlf": (
        PEOPLE,
        "csv",
        "utf-8",
        'Id,Name,City\r\n1,"An\r\nna ""A""",Köln\r\n2,"Jörg, J.",Wien\r\n',
        [("1", 'An\r\nna "A"', "Köln"), ("2", "Jörg, J.", "Wien")],
    ),
    "jsonl-bom-crlf": (
        PEOPLE_JSONL,
        "jsonl",
        "utf-8",
        BOM + JSONL_BODY.replace("\n", "\r\n"),
        PEOPLE_ROWS,
    ),
    "jsonl-cp1252": (
        dataclasses.replace(PEOPLE_JSONL, encoding="cp1252"),
        "jsonl",
        "cp1252",
        json.dumps({"Id": "1", "Name": CP1252_NAME, "City": "Köln"}, ensure_ascii=False)
        + "\n",
        [("1", CP1252_NAME, "Köln")],
    ),
    "json-array-top-level": (
        PEOPLE_JSON,
        "json",
        "utf-8",
        json.dumps(json.loads(JSON_BODY)["people"]),
        PEOPLE_ROWS,
    ),
    "json-array-cp1252": (
        dataclasses.replace(PEOPLE_JSON, encoding="cp1252"),
        "json",
        "cp1252",
        json.dumps(
            {"people": [{"Id": "1", "Name": CP1252_NAME, "City": "Köln"}]},
            ensure_ascii=False,
        ),
        [("1", CP1252_NAME, "Köln")],
    ),
}


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("case", list(FORMAT_CASES))
def test_formats_matrix(con, tmp_path, case, compressed):
    source, extension, encoding, text, expected = FORMAT_CASES[case]
    landing = tmp_path / "landing"
    content = text.encode(encoding)
    name = f"people_2026-11-30.{extension}"
    if compressed:
        content, name = gzip.compress(content), name + ".gz"
    write(landing, source, name, content)

    [result] = load_source(con, source, landing)

    assert result.status == "loaded", result.message
    assert result.rows_rejected == 0
    assert result.new_columns == ()
    assert rows(con, source) == expected


def test_invalid_cp1252_byte_rejects_file(con, tmp_path):
    source = dataclasses.replace(PEOPLE, encoding="cp1252")
    landing = tmp_path / "landing"
    write(landing, source, "people_2026-11-30.csv", b"Id,Name,City\n1,A\x81,B\n")

    [result] = load_source(con, source, landing)

    assert result.status == "rejected"
    assert "not valid cp1252 text near byte 16" in result.message


def test_unknown_encoding_rejects_file(con, tmp_path):
    source = dataclasses.replace(PEOPLE, encoding="klingon-8")
    landing = tmp_path / "landing"
    write(landing, source, "people_2026-11-30.csv", CSV_BODY)

    [result] = load_source(con, source, landing)

    assert result.status == "rejected"
    assert "unknown encoding 'klingon-8'" in result.message


def test_jsonl_keys_differing_in_case_kept_apart(con, tmp_path):
    landing = tmp_path / "landing"
    body = '{"Id": "1", "Name": "Ann", "NAME": "other"}\n'
    write(landing, PEOPLE_JSONL, "people_2026-11-30.jsonl", body)

    [result] = load_source(con, PEOPLE_JSONL, landing)

    assert result.status == "loaded"
    row = con.execute("select person_id, name, extra_name from raw.people_jsonl")
    assert row.fetchone() == ("1", "Ann", "other")
