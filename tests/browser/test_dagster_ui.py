"""The Dagster UI in headless Chromium: the asset graph of the project shows."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from orchestration import settings
from tests.browser.conftest import free_port, wait_for_http


def test_asset_lineage_shows(browser, start_server, tmp_path):
    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copyfile(settings.DAGSTER_TEMPLATE, home / "dagster.yaml")
    environment = os.environ | {
        "DAGSTER_HOME": str(home),
        "CDP_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
    }
    port = free_port()
    webserver = Path(sys.executable).with_name("dagster-webserver")
    server = start_server(
        [str(webserver), "-m", "orchestration.definitions"]
        + ["-h", "127.0.0.1", "-p", str(port)],
        environment,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/server_info", server, timeout=120)

    page = browser.new_page()
    page.goto(f"{url}/assets/reports/kpi?view=lineage")
    page.get_by_text("mgmt_kpis_monthly").first.wait_for(timeout=60_000)
    assert page.get_by_text("record_customers").count() >= 1
    page.close()
