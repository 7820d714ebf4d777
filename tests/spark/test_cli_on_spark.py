"""The commands that read the marts from the DuckDB file, on the Spark engine.

``cdp trace``, ``cdp export-subject`` and ``cdp serve`` query the marts in the
DuckDB file, which the Spark engine does not build. With ``CDP_ENGINE=spark`` each
must stop before it opens a file or starts Spark, with an error that names the
command and the engine, instead of reading missing or stale tables.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestration.cli import main

COMMANDS = {
    "cdp trace": [
        "trace",
        "--destination",
        "newsletter_tool",
        "--segment",
        "champions",
        "--customer-id",
        "cust-1",
    ],
    "cdp export-subject": [
        "export-subject",
        "--customer-id",
        "cust-1",
        "--out",
        "{out}",
    ],
    "cdp serve": ["serve"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_names_spark_engine(command: str, tmp_path: Path):
    out = tmp_path / "subject.json"
    arguments = [argument.format(out=out) for argument in COMMANDS[command]]
    env = {
        "CDP_ENGINE": "spark",
        "CDP_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
        "CDP_SPARK_DIR": str(tmp_path / "spark"),
    }

    result = CliRunner().invoke(main, arguments, env=env)

    assert result.exit_code == 1, result.output
    assert f"{command} reads the marts from the DuckDB file" in result.output
    assert "CDP_ENGINE=spark" in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == []
