"""A small warehouse shaped like the marts, built directly in DuckDB.

Six customers, all members of every segment, and every segment model claims that
all of them consented, so only ``dim_customers`` and the suppression list can keep
anyone out:

- cus_a, cus_f: consented, and on no suppression list.
- cus_b: no consent.
- cus_c: consented, but ``is_email_suppressed``.
- cus_d: consented and not flagged, but the address is on
  ``intermediate.int_email_suppressions``.
- cus_e: consented, without an email address.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest

from activation.destinations import load_destinations

# Every segment a shipped destination sends, so the shipped config runs here too.
SEGMENTS = tuple(sorted({s for d in load_destinations() for s in d.segments}))

CUSTOMERS = [
    # customer_id, email, phone, first_name, last_name, postal_code, city,
    # country_code, has_email_consent, is_email_suppressed
    (
        "cus_a",
        "Anna.Schmidt+news@GoogleMail.com",
        "+4930123456",
        "Anna",
        "Schmidt",
        "10115",
        "Bad Homburg",
        "DE",
        True,
        False,
    ),
    (
        "cus_b",
        "ben.noconsent@example.de",
        "+4915112345678",
        "Benedikt",
        "Nokonsens",
        "80331",
        "München",
        "DE",
        False,
        False,
    ),
    (
        "cus_c",
        "cem.flagged@example.de",
        "+4917612345678",
        "Cemil",
        "Gesperrt",
        "50667",
        "Köln",
        "DE",
        True,
        True,
    ),
    (
        "cus_d",
        "dora.listed@example.de",
        "+4916012345678",
        "Dorothea",
        "Abgemeldet",
        "20095",
        "Hamburg",
        "DE",
        True,
        False,
    ),
    (
        "cus_e",
        None,
        "+4369912345678",
        "Emil",
        "Ohnemail",
        "1010",
        "Wien",
        "AT",
        True,
        False,
    ),
    (
        "cus_f",
        "frida@example.at",
        "+436641234567",
        "Frida",
        "Müller-Lüdenscheidt",
        "8010",
        "Graz",
        "AT",
        True,
        False,
    ),
]

# Values of the people who must never reach an output, in any form.
EXCLUDED_IDS = ("cus_b", "cus_c", "cus_d", "cus_e")


def create_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    for schema in ("marts", "intermediate", "identity"):
        con.execute(f"create schema {schema}")
    con.execute(
        "create table marts.dim_customers (customer_id varchar, email varchar, "
        "phone varchar, first_name varchar, last_name varchar, postal_code varchar, "
        "city varchar, country_code varchar, has_email_consent boolean, "
        "is_email_suppressed boolean)"
    )
    con.executemany(
        "insert into marts.dim_customers values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        CUSTOMERS,
    )
    con.execute(
        "create table intermediate.int_email_suppressions as "
        "select 'dora.listed@example.de' as email, true as has_hard_bounced"
    )
    con.execute(
        "create table identity.customer_id_lookup as "
        "select customer_id, customer_id as current_customer_id "
        "from marts.dim_customers"
    )
    for segment in SEGMENTS:
        con.execute(
            f"create table marts.segment_{segment} as select customer_id, "
            "true as has_email_consent, false as is_email_suppressed "
            "from marts.dim_customers"
        )
    return con


def _merge_customer(con, old_id: str, new_id: str) -> None:
    """Retire ``old_id`` into ``new_id`` the way the identity step and dbt would."""
    con.execute("delete from marts.dim_customers where customer_id = ?", [old_id])
    for segment in SEGMENTS:
        con.execute(
            f"delete from marts.segment_{segment} where customer_id = ?", [old_id]
        )
    con.execute(
        "update identity.customer_id_lookup set current_customer_id = ? "
        "where customer_id = ?",
        [new_id, old_id],
    )


@pytest.fixture
def con(tmp_path: Path):
    connection = create_warehouse(tmp_path / "warehouse.duckdb")
    yield connection
    connection.close()


@pytest.fixture
def merge_customer():
    return _merge_customer


class AudienceServer(ThreadingHTTPServer):
    """A receiver on 127.0.0.1 that applies each batch once per Idempotency-Key.

    ``script`` lists the behaviour for each next request, in order: ``429`` (with
    ``retry_after`` as Retry-After), ``500``, ``slow`` (applies the batch, then
    responds after ``slow_seconds``), ``drop`` (closes the connection without a
    response) or ``ok``. When the script runs out, every request is ``ok``. A row whose email
    contains ``reject`` is rejected in the response's error list, and a batch with a
    row whose email contains ``poison`` gets a 422.
    """

    daemon_threads = True

    def __init__(self, script=(), retry_after="1", slow_seconds=0.5):
        super().__init__(("127.0.0.1", 0), _AudienceHandler)
        self.script = list(script)
        self.retry_after = retry_after
        self.slow_seconds = slow_seconds
        self.lock = threading.Lock()
        self.bodies: list[str] = []
        self.request_times: list[tuple[float, str]] = []
        # Wall-clock arrival times, for waits announced as an HTTP date.
        self.request_clock: list[float] = []
        self.responses: dict[str, tuple[int, bytes]] = {}
        self.applied: Counter = Counter()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/audiences"

    def next_behaviour(self) -> str:
        with self.lock:
            return self.script.pop(0) if self.script else "ok"

    def apply(self, key: str, body: dict) -> tuple[int, bytes]:
        """Apply a batch once. A repeated key gets the first response again."""
        with self.lock:
            if key in self.responses:
                return self.responses[key]
            rows = body["rows"]
            emails = [str(r["fields"].get("email", "")) for r in rows]
            if any("poison" in e for e in emails):
                response = (422, b'{"message": "batch contains an unreadable row"}')
            else:
                errors = []
                for index, (row, email) in enumerate(zip(rows, emails, strict=True)):
                    if "reject" in email:
                        errors.append({"index": index, "reason": "invalid address"})
                    else:
                        self.applied[(row["action"], row["key"])] += 1
                response = (200, json.dumps({"errors": errors}).encode())
            self.responses[key] = response
            return response


class _AudienceHandler(BaseHTTPRequestHandler):
    server: AudienceServer

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        behaviour = self.server.next_behaviour()
        with self.server.lock:
            self.server.bodies.append(raw.decode("utf-8"))
            self.server.request_times.append((time.monotonic(), behaviour))
            self.server.request_clock.append(time.time())
        if behaviour == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if behaviour in ("429", "500"):
            self.send_response(int(behaviour))
            if behaviour == "429":
                self.send_header("Retry-After", self.server.retry_after)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, response = self.server.apply(
            self.headers["Idempotency-Key"], json.loads(raw)
        )
        if behaviour == "slow":
            time.sleep(self.server.slow_seconds)
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(response)))
            self.end_headers()
            self.wfile.write(response)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def audience_server():
    """Start an AudienceServer in a thread; call the fixture with its settings."""
    servers = []

    def start(**settings) -> AudienceServer:
        server = AudienceServer(**settings)
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
