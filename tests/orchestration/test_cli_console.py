"""The command line's console width when its output goes to a pipe or a file."""

from __future__ import annotations

import os
import subprocess
import sys

PRINT_WIDTH = "from orchestration.cli import console; print(console.width)"


def piped_width(**env: str) -> int:
    environment = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | env
    completed = subprocess.run(
        [sys.executable, "-c", PRINT_WIDTH],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    )
    return int(completed.stdout.strip())


def test_pipe_gets_wide_lines():
    assert piped_width() == 160


def test_columns_variable_still_decides():
    assert piped_width(COLUMNS="100") == 100
