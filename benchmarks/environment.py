"""Describe the machine, software versions and commit a benchmark ran on."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import duckdb

REPOSITORY = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo, or what Python reports."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def memory_gib() -> float | None:
    """Return the total RAM in GiB from /proc/meminfo, or None where it is absent."""
    meminfo = Path("/proc/meminfo")
    if not meminfo.is_file():
        return None
    for line in meminfo.read_text(encoding="utf-8").splitlines():
        if line.startswith("MemTotal:"):
            kib = int(line.split()[1])
            return round(kib / 1024**2, 1)
    return None


def load_average() -> list[float] | None:
    """Return the 1, 5 and 15 minute load averages, so a busy machine shows."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": memory_gib(),
    }


def versions() -> dict:
    return {"python": sys.version.split()[0], "duckdb": duckdb.__version__}


def _git(*arguments: str) -> str | None:
    try:
        completed = subprocess.run(
            ["git", *arguments],
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip()


def git_state() -> dict:
    """Return the commit and whether tracked files had uncommitted changes.

    With uncommitted changes the figures belong to the working tree, not the commit.
    """
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": _git("rev-parse", "HEAD"),
        "uncommitted_changes": None if status is None else bool(status),
    }


def describe_machine(record_machine: dict) -> str:
    """Format a machine record as one line for people, e.g. for BENCHMARKS.md."""
    ram = record_machine.get("ram_gib")
    ram_text = f", {ram:g} GiB RAM" if ram is not None else ""
    return (
        f"{record_machine['cpu_model']}, {record_machine['cores']} cores{ram_text}, "
        f"{record_machine['platform']}"
    )
