"""One night of the whole nightly job (``cdp run``) on a small generated sample.

The end-to-end test continues this night with a second run of the same night, and
the determinism test compares it with a run on the same extracts in another row
order. ``tests/conftest.py`` runs it once per test session for all workers.

The job runs in a subprocess with every path pointed at one folder, so it takes the
same code path as ``make run``: Dagster, dbt, Splink and the exports, against a
fresh DuckDB file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ingestion.generator import generate

CUSTOMERS = 400
SEED = 7
RUN_DATE = "2026-11-30"
CDP = str(Path(sys.executable).with_name("cdp"))
# Standard output of the first run, beside the night's folder.
FIRST_RUN_OUTPUT = "first_run.stdout"


def run_cdp(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CDP, *args], check=False, env=env, capture_output=True, text=True, timeout=900
    )


def isolated_env(root: Path) -> dict[str, str]:
    """Point every path the job uses at ``root``, so a run touches nothing else.

    The analyst copy goes to its default place beside the warehouse.
    """
    env = {k: v for k, v in os.environ.items() if k != "CDP_ANALYST_COPY"}
    return env | {
        "CDP_WAREHOUSE": str(root / "warehouse.duckdb"),
        "CDP_LANDING_DIR": str(root / "landing"),
        "CDP_GROUND_TRUTH": str(root / "ground_truth" / "ground_truth.csv"),
        "CDP_OUTBOX": str(root / "outbox"),
        "CDP_REPORTS": str(root / "reports"),
        "CDP_RUN_DATE": RUN_DATE,
        "DAGSTER_HOME": str(root / "dagster"),
    }


def run_first_night(folder: Path) -> Path:
    """Generate the sample into ``folder/night``, run the job once on it and return
    that folder; the run's standard output goes to ``folder/FIRST_RUN_OUTPUT``."""
    root = folder / "night"
    generate(customers=CUSTOMERS, seed=SEED, out=root)
    result = run_cdp(isolated_env(root), "run")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (folder / FIRST_RUN_OUTPUT).write_text(result.stdout, encoding="utf-8")
    return root
