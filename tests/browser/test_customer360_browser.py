"""Customer 360 in headless Chromium, served by ``cdp serve`` on a free port."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("playwright", reason="playwright is not installed (pip extra dev)")
from playwright.sync_api import Error as PlaywrightError  # noqa: E402

from orchestration.customer360.auth import PASSWORD_VARIABLE, USER_VARIABLE
from tests.browser.conftest import free_port, wait_for_http

SEARCH_TERMS = [" Anna.Mueller@Example.DE ", "nobody@example.org", "0664 1234567"]


def read_password(server: subprocess.Popen, timeout: float = 60) -> str:
    """Read the generated password from the first lines ``cdp serve`` prints."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        match = re.search(r"with password (\S+)", line)
        if match:
            return match[1]
        if not line and server.poll() is not None:
            break
    raise AssertionError("cdp serve printed no generated password")


@pytest.fixture(scope="module")
def customer360(small_warehouse: Path, start_server):
    """Start ``cdp serve`` without configured credentials; return URL, password, process."""
    port = free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in (USER_VARIABLE, PASSWORD_VARIABLE)
    }
    environment |= {"CDP_WAREHOUSE": str(small_warehouse), "PYTHONUNBUFFERED": "1"}
    server = start_server(
        [sys.executable, "-m", "orchestration.cli", "serve", "--port", str(port)],
        environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    password = read_password(server)
    url = f"http://127.0.0.1:{port}"
    wait_for_http(url, server, timeout=30)
    return url, password, server


def test_browser_without_login_gets_401(browser, customer360):
    url, _, _ = customer360
    context = browser.new_context()
    page = context.new_page()
    # Headless Chromium has no login dialog, so it abandons the navigation.
    with pytest.raises(PlaywrightError, match="ERR_INVALID_AUTH_CREDENTIALS"):
        page.goto(f"{url}/customers/anna")

    response = context.request.get(f"{url}/customers/anna")
    assert response.status == 401
    assert response.headers["www-authenticate"].startswith("Basic ")
    assert "Anna" not in response.text()
    context.close()


def test_search_and_profile_in_browser(browser, customer360):
    url, password, server = customer360
    context = browser.new_context(
        http_credentials={"username": "staff", "password": password}
    )
    page = context.new_page()

    page.goto(url)
    page.get_by_label("Search customers").fill(SEARCH_TERMS[0])
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(f"{url}/customers/anna")
    assert page.locator("#customer-name").inner_text() == "Anna Müller"
    golden = page.locator("#golden-record").inner_text()
    assert "anna.mueller@example.de" in golden
    assert "crm_contacts" in golden
    assert "#1001" in page.locator("#orders").inner_text()
    assert "lapsed_buyers" in page.locator("#segments").inner_text()
    assert page.locator("#timeline tr").count() > 1

    page.get_by_label("Search customers").fill(SEARCH_TERMS[1])
    page.get_by_role("button", name="Search").click()
    message = page.locator("#no-result")
    message.wait_for()
    assert "No customer found" in message.inner_text()

    page.get_by_label("Search customers").fill(SEARCH_TERMS[2])
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(f"{url}/customers/jonas")
    assert "Lieferung" in page.locator("#tickets").inner_text()
    context.close()

    # Last test of the module: stop the server to read everything it logged.
    server.terminate()
    output, _ = server.communicate(timeout=20)
    assert "POST /search 303" in output
    for term in SEARCH_TERMS:
        assert term.strip().lower() not in output.lower(), term
    assert "anna.mueller@example.de" not in output.lower()
