"""Customer 360 over plain HTTP: login, search, profile pages and what reaches the log.

Runs the real app with Starlette's test client against a small warehouse built by
dbt (``tests/small_warehouse.py``).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from unittest import mock

import duckdb
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from orchestration.cli import main
from orchestration.customer360.app import create_app
from orchestration.customer360.auth import (
    PASSWORD_VARIABLE,
    USER_VARIABLE,
    Credentials,
    CredentialsError,
    resolve_credentials,
)

CREDENTIALS = Credentials("staff", "correct horse battery staple")
AUTH = (CREDENTIALS.username, CREDENTIALS.password)
ACCESS_LOGGER = "orchestration.customer360.access"

INJECTIONS = [
    "' or 1=1 --",
    "anna' or '1'='1",
    "x'; drop table marts.dim_customers; --",
    "%",
    "_",
    "%' union select customer_id from marts.dim_customers --",
    "lea\\",
]


@pytest.fixture(scope="module")
def client(small_warehouse: Path) -> TestClient:
    with TestClient(create_app(small_warehouse, CREDENTIALS)) as test_client:
        yield test_client


def search(client: TestClient, text: str, auth=AUTH):
    return client.post("/search", data={"q": text}, auth=auth, follow_redirects=False)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/"), ("GET", "/customers/anna"), ("POST", "/search"), ("GET", "/nope")],
)
def test_request_without_login_gets_401(client, method, path):
    response = client.request(method, path, data={"q": "anna"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Basic realm="Customer 360"')
    assert "anna" not in response.text.lower()


@pytest.mark.parametrize(
    "auth", [("staff", "wrong"), ("other", CREDENTIALS.password), ("staff", "")]
)
def test_wrong_credentials_get_401(client, auth):
    assert client.get("/", auth=auth).status_code == 401
    assert search(client, "anna.mueller@example.de", auth=auth).status_code == 401


def test_malformed_authorization_gets_401(client):
    for header in ("Basic", "Basic !!!", "Bearer abc", "Basic c3RhZmY="):
        response = client.get("/", headers={"Authorization": header})
        assert response.status_code == 401, header


@pytest.mark.parametrize(
    ("text", "customer_id"),
    [
        (" Anna.Mueller@Example.DE ", "anna"),
        ("mailto:jonas.huber@example.at", "jonas"),
        ("030 1234567", "anna"),
        ("+49 (30) 123-4567", "anna"),
        ("0664 1234567", "jonas"),
        ("Dr. Lena Schmidt", "lena"),
        ("mustermann", "max"),
        ("MÜLLER, anna", "anna"),
        ("lea", "lea"),
    ],
)
def test_search_finds_one_customer(client, text, customer_id):
    response = search(client, text)
    assert response.status_code == 303
    assert response.headers["location"] == f"/customers/{customer_id}"


def test_search_with_several_hits_lists_them(client):
    response = search(client, "l")
    assert response.status_code == 200
    assert 'id="results"' in response.text
    for customer_id in ("lea", "lena"):
        assert f'href="/customers/{customer_id}"' in response.text


def test_search_without_result_shows_message(client):
    response = search(client, "nobody@example.org")
    assert response.status_code == 200
    assert 'id="no-result"' in response.text
    assert "No customer found for “nobody@example.org”" in response.text


def test_empty_search_shows_search_page(client):
    response = search(client, "   ")
    assert response.status_code == 200
    assert "Find a customer" in response.text


@pytest.mark.parametrize("text", INJECTIONS)
def test_sql_injection_finds_nothing(client, small_warehouse, text):
    response = search(client, text)
    assert response.status_code == 200
    assert 'id="no-result"' in response.text

    with duckdb.connect(str(small_warehouse), read_only=True) as con:
        count = con.execute("select count(*) from marts.dim_customers").fetchone()[0]
    assert count == 6


def test_search_input_is_escaped_in_page(client):
    response = search(client, "<script>alert(1)</script>")
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_oversized_form_rejected(client):
    response = search(client, "a" * 10_000)
    assert response.status_code == 413


def test_profile_shows_every_section(client):
    response = client.get("/customers/anna", auth=AUTH)
    assert response.status_code == 200
    page = response.text
    assert "Anna Müller" in page
    # Golden record with each field's source.
    assert "Hauptstraße 5" in page
    assert "crm_contacts" in page
    for section in (
        'id="golden-record"',
        'id="consent"',
        'id="segments"',
        'id="emails"',
        'id="phones"',
        'id="addresses"',
        'id="source-records"',
        'id="orders"',
        'id="traits"',
        'id="email-activities"',
        'id="timeline"',
    ):
        assert section in page, section
    assert "#1001" in page
    assert "lapsed_buyers" in page
    assert "Herbst" in page


def test_profile_lists_tickets(client):
    page = client.get("/customers/jonas", auth=AUTH).text
    assert 'id="tickets"' in page
    assert "Lieferung" in page


def test_unknown_customer_gets_404(client):
    response = client.get("/customers/cus_0000000000000000", auth=AUTH)
    assert response.status_code == 404
    assert "Customer not found" in response.text


def test_pages_not_cached_or_framed(client):
    response = client.get("/customers/anna", auth=AUTH)
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in response.headers["content-security-policy"]


def test_access_log_has_no_personal_data(client, caplog):
    terms = [
        " Anna.Mueller@Example.DE ",
        "0664 1234567",
        "Dr. Lena Schmidt",
        "nobody@example.org",
    ]
    with caplog.at_level(logging.INFO):
        for text in terms:
            search(client, text)
        client.get("/customers/anna", auth=AUTH)
        client.get("/customers/lea?q=lea.meier@example.ch", auth=AUTH)

    access = [r.getMessage() for r in caplog.records if r.name == ACCESS_LOGGER]
    assert "POST /search 303" in access[0]
    assert "POST /search 200" in access[3]
    assert access[4].startswith("GET /customers/{customer_id} 200 ")
    assert len(access) == 6
    # httpx is the test's own client, which logs the URLs it requests.
    logged = "\n".join(
        r.getMessage().lower() for r in caplog.records if not r.name.startswith("httpx")
    )
    for value in (
        "anna.mueller@example.de",
        "anna",
        "müller",
        "+436641234567",
        "1234567",
        "lena",
        "schmidt",
        "nobody@example.org",
        "lea.meier",
    ):
        assert value not in logged, value


def test_locked_warehouse_shows_try_again_page(small_warehouse, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(small_warehouse, warehouse)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
            "print('open', flush=True); sys.stdin.read()",
            str(warehouse),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with TestClient(create_app(warehouse, CREDENTIALS)) as locked_client:
            response = locked_client.get("/customers/anna", auth=AUTH)
    finally:
        holder.communicate("", timeout=30)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "60"
    assert "The nightly run is writing to the warehouse" in response.text
    assert "Try again in a minute" in response.text


def test_app_releases_warehouse_after_request(client, small_warehouse, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(small_warehouse, warehouse)
    with TestClient(create_app(warehouse, CREDENTIALS)) as own_client:
        assert own_client.get("/customers/anna", auth=AUTH).status_code == 200
        # A writer in another process gets in while the app is still running.
        writer = subprocess.run(
            [
                sys.executable,
                "-c",
                "import duckdb, sys; duckdb.connect(sys.argv[1]).close()",
                str(warehouse),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert writer.returncode == 0, writer.stderr


def test_missing_warehouse_shows_message(tmp_path):
    with TestClient(create_app(tmp_path / "none.duckdb", CREDENTIALS)) as missing:
        response = missing.get("/customers/anna", auth=AUTH)
    assert response.status_code == 503
    assert "No warehouse yet" in response.text


def test_non_local_bind_without_credentials_rejected():
    # The cdp group publishes its settings to os.environ; patch.dict undoes that.
    with mock.patch.dict(os.environ):
        result = CliRunner(env={USER_VARIABLE: None, PASSWORD_VARIABLE: None}).invoke(
            main, ["serve", "--host", "0.0.0.0", "--port", "1"]
        )
    assert result.exit_code == 2
    assert "not starting on 0.0.0.0 without a login" in result.output


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "example.org", "::"])
def test_credentials_required_off_loopback(host):
    with pytest.raises(CredentialsError, match="without a login"):
        resolve_credentials(host, {})


def test_credentials_from_environment_allow_any_host():
    environment = {USER_VARIABLE: "service", PASSWORD_VARIABLE: "s3cret-enough"}
    credentials = resolve_credentials("0.0.0.0", environment)
    assert credentials == Credentials("service", "s3cret-enough")


def test_half_configured_credentials_rejected():
    with pytest.raises(CredentialsError, match=PASSWORD_VARIABLE):
        resolve_credentials("127.0.0.1", {USER_VARIABLE: "service"})
    with pytest.raises(CredentialsError, match=USER_VARIABLE):
        resolve_credentials("127.0.0.1", {PASSWORD_VARIABLE: "secret"})


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_gets_generated_password(host):
    first = resolve_credentials(host, {})
    second = resolve_credentials(host, {})
    assert first.generated
    assert len(first.password) >= 20
    assert first.password != second.password


def test_tables_list_every_table_the_queries_read():
    """The Spark engine's snapshot holds only ``TABLES``, so a query of another
    table would find nothing there."""
    from orchestration.customer360 import app, profile
    from orchestration.customer360 import search as search_module

    source = "".join(
        Path(module.__file__).read_text(encoding="utf-8")
        for module in (profile, search_module)
    )
    read = set(re.findall(r"\b(?:marts|intermediate|identity)\.[a-z_0-9]+", source))
    assert read == set(app.TABLES)
