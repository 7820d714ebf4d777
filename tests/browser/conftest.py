"""Headless Chromium for the browser tests, and servers started for them.

Playwright drives Debian's ``/usr/bin/chromium`` (``apt-get install chromium``); it
never downloads a browser of its own. Without that binary, or without the
playwright package, every browser test is skipped with the reason.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

CHROMIUM = Path(os.environ.get("CDP_CHROMIUM", "/usr/bin/chromium"))


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip extra dev)"
    )
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium package")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, timeout: float) -> None:
    """Poll ``url`` until it responds with any status, or fail if the server exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not respond within {timeout:.0f} s")


def stop(process: subprocess.Popen) -> None:
    """Stop a server started with ``start_new_session``, and its child processes."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def start_server() -> Iterator:
    """Start servers in their own process groups; stop them after the module."""
    started: list[subprocess.Popen] = []

    def start(command: list[str], env: dict[str, str], **options) -> subprocess.Popen:
        process = subprocess.Popen(
            command, env=env, start_new_session=True, text=True, **options
        )
        started.append(process)
        return process

    yield start
    for process in started:
        stop(process)
