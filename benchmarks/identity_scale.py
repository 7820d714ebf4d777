"""Identity resolution at scale: wall time and peak memory of one run.

``python -m benchmarks.identity_scale`` generates a sample (about 4.3 person records
per customer), loads it and builds the intermediate models with dbt, then times
``identity.resolve.resolve_identities`` on a copy of that warehouse in a child
process and reads the child's peak resident memory. The prepared warehouse is cached
under the work folder, so later runs time identity resolution only.

Target: 1,000,000 person records in under 3 minutes and under 8 GB on a 2-core,
24 GB machine.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from benchmarks import environment, records
from identity.benchmark.datasets import build_generated

NAME = "identity_scale"
TARGET_SECONDS = 180
TARGET_PEAK_GB = 8.0
DEFAULT_WORKDIR = Path("data/tmp/benchmarks/identity_scale")

# Runs in the child process: resolve every record and print the result as JSON.
CHILD_SCRIPT = """
import json, resource, sys, time
import duckdb
from identity.resolve import resolve_identities
from pathlib import Path
con = duckdb.connect(sys.argv[1])
started = time.perf_counter()
result = resolve_identities(con, ground_truth=Path(sys.argv[2]))
seconds = time.perf_counter() - started
con.close()
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({
    "seconds": seconds, "records": result.records, "customers": result.customers,
    # CPU seconds of all threads, which other processes on the machine inflate
    # less than the wall time.
    "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
    "pairs_deterministic": result.pairs_deterministic,
    "pairs_splink": result.pairs_splink, "precision": result.precision,
    "recall": result.recall, "f1": result.f1,
    "phase_seconds": result.phase_seconds,
    # Linux reports ru_maxrss in KiB: this process's peak resident memory.
    "peak_memory_gb": round(usage.ru_maxrss * 1024 / 1e9, 2),
}))
"""


def prepare(workdir: Path, customers: int, seed: int, console: Console) -> Path:
    """Return the prepared warehouse, building it unless a complete one is cached."""
    folder = workdir / f"customers_{customers}_seed_{seed}"
    marker = folder / ".complete"
    warehouse = folder / "warehouse.duckdb"
    if marker.is_file() and warehouse.is_file():
        console.print(f"Reusing the prepared warehouse in {folder}")
        return warehouse
    shutil.rmtree(folder, ignore_errors=True)
    console.print(
        f"Generating {customers:,} customers, loading them and building the "
        "intermediate models (several minutes at 200,000 customers)"
    )
    started = time.perf_counter()
    build_generated(folder, customers, seed, events_per_customer=2.0)
    marker.write_text(datetime.now(UTC).isoformat(), encoding="utf-8")
    console.print(f"Prepared in {time.perf_counter() - started:.0f} s")
    return warehouse


def time_resolution(warehouse: Path, ground_truth: Path) -> dict:
    """Resolve a copy of ``warehouse`` in a child process and measure it."""
    run_copy = warehouse.with_name("identity_run.duckdb")
    shutil.copyfile(warehouse, run_copy)
    completed = subprocess.run(
        [sys.executable, "-c", CHILD_SCRIPT, str(run_copy), str(ground_truth)],
        capture_output=True,
        text=True,
        check=False,
    )
    run_copy.unlink(missing_ok=True)
    if completed.returncode != 0:
        raise click.ClickException(
            "identity resolution failed; its output ends with:\n"
            + completed.stderr[-3000:]
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def page_section(record: dict) -> str:
    figures = record["figures"]
    git = record["git"]
    commit = (git["commit"] or "unknown")[:12]
    if git["uncommitted_changes"]:
        commit += " with uncommitted changes"
    verdict_time = "pass" if figures["seconds"] < TARGET_SECONDS else "miss"
    verdict_memory = "pass" if figures["peak_memory_gb"] < TARGET_PEAK_GB else "miss"
    return f"""## Identity resolution at scale

Command: `python -m benchmarks.identity_scale --customers N` (`make bench-identity`).

Generates N customers, loads them and builds the intermediate models, then times one
`resolve_identities` run (identifier graph, Splink scoring with the saved model,
clustering, stable ids, writing the identity tables) in a child process and reads its
peak resident memory and CPU time. CPU seconds add up all threads; other processes on
a shared machine inflate them less than the wall time. Target: 1,000,000 person
records in under {TARGET_SECONDS} s and under {TARGET_PEAK_GB:g} GB.

Latest run:

- time and commit: {record["timestamp"]}, {commit}
- machine: {environment.describe_machine(record["machine"])}
- load average (1, 5, 15 min) before and after: {record["load_average"]["before"]} \
and {record["load_average"]["after"]}

| customers | person records | customers found | identifier pairs | Splink pairs \
| seconds | CPU seconds | peak GB | precision | recall | F1 |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
| {record["parameters"]["customers"]:,} | {figures["records"]:,} \
| {figures["customers"]:,} | {figures["pairs_deterministic"]:,} \
| {figures["pairs_splink"]:,} | {figures["seconds"]:.1f} ({verdict_time}) \
| {_cpu_seconds(figures)} \
| {figures["peak_memory_gb"]:.2f} ({verdict_memory}) | {_score(figures["precision"])} \
| {_score(figures["recall"])} | {_score(figures["f1"])} |

{_phase_lines(figures)}

History: `benchmarks/results/{NAME}.jsonl`.
"""


def _phase_lines(figures: dict) -> str:
    phases = figures.get("phase_seconds")
    if not phases:
        return "Time per phase was not recorded in this run."
    parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in phases.items())
    return f"Time per phase: {parts}."


def _cpu_seconds(figures: dict) -> str:
    # Runs before the CPU time was recorded have none.
    cpu_seconds = figures.get("cpu_seconds")
    return "n/a" if cpu_seconds is None else f"{cpu_seconds:.1f}"


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


@click.command()
@click.option(
    "--customers",
    type=click.IntRange(min=10),
    default=235_000,
    show_default=True,
    help="Generated customers; 235,000 give about 1,000,000 person records.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Generator seed.")
@click.option(
    "--workdir",
    type=click.Path(path_type=Path),
    default=DEFAULT_WORKDIR,
    show_default=True,
    help="Folder for the generated data and the prepared warehouse (cached).",
)
@click.option(
    "--results-file",
    type=click.Path(path_type=Path),
    default=records.RESULTS_DIR / f"{NAME}.jsonl",
    show_default=True,
    help="JSON-lines history to append the run to.",
)
@click.option(
    "--page",
    type=click.Path(path_type=Path),
    default=records.BENCHMARKS_PAGE,
    show_default=True,
    help="Markdown page whose section for this benchmark is replaced.",
)
def main(customers: int, seed: int, workdir: Path, results_file: Path, page: Path):
    """Time identity resolution on generated data and record the result."""
    console = Console()
    warehouse = prepare(workdir.resolve(), customers, seed, console)
    ground_truth = warehouse.parent / "ground_truth" / "ground_truth.csv"
    load_before = environment.load_average()
    console.print("Resolving identities in a child process")
    figures = time_resolution(warehouse, ground_truth)
    record = {
        "benchmark": NAME,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": {"customers": customers, "seed": seed},
        "figures": figures,
        "machine": environment.machine(),
        "versions": environment.versions(),
        "git": environment.git_state(),
        "load_average": {"before": load_before, "after": environment.load_average()},
    }
    records.append_record(results_file, record)
    records.update_page_section(page, NAME, page_section(record))

    table = Table(title="Identity resolution")
    for header in ("records", "customers", "seconds", "peak GB", "F1"):
        table.add_column(header, justify="right")
    table.add_row(
        f"{figures['records']:,}",
        f"{figures['customers']:,}",
        f"{figures['seconds']:.1f}",
        f"{figures['peak_memory_gb']:.2f}",
        _score(figures["f1"]),
    )
    console.print(table)


if __name__ == "__main__":
    main()
