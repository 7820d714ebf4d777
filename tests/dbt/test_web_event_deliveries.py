"""Functional test: which delivery of a web event stg_web__events keeps, built by
real dbt on DuckDB from hand-written raw rows.

- d-1 arrives three times from one sender: late in file a, early in file b, and
  without receivedAt in file a. The early delivery of file b is kept.
- d-2 arrives twice in file a with the same receivedAt: the first row is kept.
- d-3 is sent by two visitors, and the first visitor's event arrives twice. Each
  visitor keeps one event, keyed by a hash of message id and sender.
- d-4 is written with spaces around its id. A blank id is dropped.
- d-5 and d-6 carry their traits and page URL in context only.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest

from tests.dbt.test_dbt_project import RAW_ROWS, query, run_dbt
from tests.dbt.test_journeys import insert_raw_rows

FILE_A = "web_events_2026-11-29.jsonl"
FILE_B = "web_events_2026-11-30.jsonl"


def delivery(message_id: str, file: str, received_at: str | None, **fields) -> dict:
    return {
        "message_id": message_id,
        "type": "track",
        "event": "Product Viewed",
        "anonymous_id": "x-1",
        "received_at": received_at,
        "_file": file,
        **fields,
    }


DELIVERIES = [
    delivery("d-1", FILE_A, "2026-11-29T10:00:05Z", event="late"),
    delivery("d-1", FILE_B, "2026-11-29T10:00:01Z", event="early"),
    delivery("d-1", FILE_A, None, event="no receivedAt"),
    delivery("d-2", FILE_A, "2026-11-29T11:00:00Z", event="first row"),
    delivery("d-2", FILE_A, "2026-11-29T11:00:00Z", event="second row"),
    delivery("d-3", FILE_A, "2026-11-29T12:00:03Z", event="x-1 again"),
    delivery("d-3", FILE_A, "2026-11-29T12:00:01Z", event="x-1"),
    delivery("d-3", FILE_A, "2026-11-29T12:00:02Z", anonymous_id="x-2"),
    delivery(" d-4 ", FILE_A, "2026-11-29T13:00:00Z"),
    delivery(" ", FILE_A, "2026-11-29T13:00:00Z"),
    delivery(
        "d-5",
        FILE_A,
        "2026-11-29T14:00:00Z",
        type="page",
        context=json.dumps(
            {
                "traits": {"email": " Lena.Schmidt@Example.de ", "firstName": "LENA"},
                "page": {"url": "https://shop.example.de/tee"},
            }
        ),
    ),
    delivery(
        "d-6",
        FILE_A,
        "2026-11-29T15:00:00Z",
        type="page",
        context="not JSON",
        properties=json.dumps({"url": "https://shop.example.de/kaffee"}),
    ),
]


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dbt_web_deliveries")
    path = folder / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        insert_raw_rows(con, dict(RAW_ROWS, web_events=DELIVERIES))
    result = run_dbt(["run", "--select", "stg_web__events"], path, folder)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    return path


def test_earliest_delivery_kept(warehouse):
    rows = query(
        warehouse,
        "select event_id, event_name, _file, has_reused_message_id "
        "from staging.stg_web__events where message_id = 'd-1'",
    )
    assert rows == [("d-1", "early", FILE_B, False)]


def test_same_time_keeps_first_row(warehouse):
    rows = query(
        warehouse,
        "select event_name from staging.stg_web__events where message_id = 'd-2'",
    )
    assert rows == [("first row",)]


def test_reused_message_id_keeps_each_sender(warehouse):
    rows = query(
        warehouse,
        "select event_id, anonymous_id, event_name, has_reused_message_id "
        "from staging.stg_web__events where message_id = 'd-3' "
        "order by anonymous_id",
    )
    assert rows == [
        (md5("d-3|anon:x-1"), "x-1", "x-1", True),
        (md5("d-3|anon:x-2"), "x-2", "Product Viewed", True),
    ]


def test_message_ids_trimmed_and_blank_dropped(warehouse):
    rows = query(
        warehouse,
        "select message_id from staging.stg_web__events "
        "where message_id not in ('d-1', 'd-2', 'd-3', 'd-5', 'd-6')",
    )
    assert rows == [("d-4",)]


def test_context_traits_and_page_url(warehouse):
    rows = query(
        warehouse,
        "select message_id, traits_email, traits_first_name, page_url "
        "from staging.stg_web__events where message_id in ('d-5', 'd-6') "
        "order by message_id",
    )
    assert rows == [
        ("d-5", "lena.schmidt@example.de", "Lena", "https://shop.example.de/tee"),
        ("d-6", None, None, "https://shop.example.de/kaffee"),
    ]
