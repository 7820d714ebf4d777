"""Incremental identity resolution over two nights, against a full run.

``python -m benchmarks.identity_nights --customers N`` prepares the warehouse of
``benchmarks.identity_scale`` (cached), then:

1. resolves it incrementally (``resolve_identities(..., incremental=True)``), the
   first night, which stores the comparison vectors;
2. makes the next night on two copies: a share of the records arrives again under
   new keys with their identifiers (``--new-share``), and another share gets a
   double last name (``--changed-share``);
3. resolves one copy incrementally and the other without stored state, each in a
   child process that reports its wall time, CPU time and peak memory;
4. compares the two copies' identity tables row for row.

The figures go to ``benchmarks/results/identity_nights.jsonl`` and a section of
``BENCHMARKS.md``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
import duckdb
from rich.console import Console
from rich.table import Table

from benchmarks import environment, records
from benchmarks.identity_scale import DEFAULT_WORKDIR, prepare
from orchestration.settings import duckdb_memory_limit

NAME = "identity_nights"
# The three runs, as labelled on the page and keyed in the results.
RUNS = (
    ("first night, incremental", "first_incremental"),
    ("next night, incremental", "next_incremental"),
    ("next night, full", "next_full"),
)

# Runs in the child process: resolve the warehouse and print the result as JSON.
CHILD_SCRIPT = """
import json, resource, sys, time
import duckdb
from identity.resolve import resolve_identities
from orchestration.settings import duckdb_memory_limit
con = duckdb.connect(sys.argv[1])
# The memory limit of the nightly job's warehouse connections.
con.execute(f"set memory_limit = '{duckdb_memory_limit()}'")
started = time.perf_counter()
result = resolve_identities(con, incremental=sys.argv[2] == "incremental")
seconds = time.perf_counter() - started
con.close()
usage = resource.getrusage(resource.RUSAGE_SELF)
scoring = result.incremental
print(json.dumps({
    "seconds": round(seconds, 1),
    "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
    "peak_memory_gb": round(usage.ru_maxrss * 1024 / 1e9, 2),
    "records": result.records, "customers": result.customers,
    "pairs_splink": result.pairs_splink,
    "phase_seconds": result.phase_seconds,
    "records_scored_again": scoring.records_to_score if scoring else None,
    "pair_vectors_reused": scoring.reused_pairs if scoring else None,
    "pair_vectors_rescored": scoring.rescored_pairs if scoring else None,
    "pair_vectors_stored": scoring.stored_pairs if scoring else None,
    "drift_bits": round(scoring.plan.drift_bits, 3) if scoring else None,
    "full_scoring_reason": scoring.full_run_reason if scoring else None,
}))
"""

# The identity tables a run replaces, without the columns that differ between two
# runs of the same data (timestamps and run ids).
COMPARED_QUERIES = {
    "record_customers": "select record_key, customer_id from identity.record_customers",
    "match_pairs": "select * from identity.match_pairs",
    "splink_pair_scores": "select * from identity.splink_pair_scores",
    "review_queue": "select * exclude (queued_at) from identity.review_queue",
}


def make_next_night(warehouse: Path, new_share: float, changed_share: float) -> None:
    """Add and change records in the intermediate tables of ``warehouse``.

    A record is picked by a hash of its key, so the same records are picked on
    every run. New records are copies of picked records under new keys, so each
    of them matches the record it copies.
    """
    new_modulus = max(1, round(1 / new_share)) if new_share > 0 else 0
    changed_modulus = max(1, round(1 / changed_share)) if changed_share > 0 else 0
    with duckdb.connect(str(warehouse)) as con:
        if new_modulus:
            con.execute(f"""
                insert into intermediate.int_person_records by name
                select * replace (
                    record_key || ':next' as record_key,
                    source_record_id || ':next' as source_record_id
                )
                from intermediate.int_person_records
                where hash(record_key) % {new_modulus} = 0
            """)
            con.execute(f"""
                insert into intermediate.int_identifiers by name
                select * replace (record_key || ':next' as record_key)
                from intermediate.int_identifiers
                where hash(record_key) % {new_modulus} = 0
            """)
        if changed_modulus:
            # A different remainder than the new records' picks other records. Each
            # gets a double last name of its own, as after a marriage.
            con.execute(f"""
                update intermediate.int_person_records
                set last_name = last_name || '-' || upper(left(md5(record_key), 4))
                where hash(record_key) % {changed_modulus} = 1
                    and not ends_with(record_key, ':next')
            """)


def resolve_in_child(warehouse: Path, mode: str) -> dict:
    """Resolve ``warehouse`` in a child process; ``mode`` is incremental or full."""
    completed = subprocess.run(
        [sys.executable, "-c", CHILD_SCRIPT, str(warehouse), mode],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise click.ClickException(
            f"the {mode} identity run failed; its output ends with:\n"
            + completed.stderr[-3000:]
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def differing_rows(left: Path, right: Path) -> dict[str, int]:
    """Count, per identity table, the rows found in only one of two warehouses."""
    counts = {}
    with duckdb.connect() as con:
        con.execute(f"attach '{left}' as l (read_only)")
        con.execute(f"attach '{right}' as r (read_only)")
        for name, query in COMPARED_QUERIES.items():
            left_query = query.replace("identity.", "l.identity.")
            right_query = query.replace("identity.", "r.identity.")
            counts[name] = con.execute(f"""
                select
                    (select count(*) from ({left_query} except all {right_query}))
                    + (select count(*) from ({right_query} except all {left_query}))
            """).fetchone()[0]
    return counts


def page_section(record: dict) -> str:
    figures = record["figures"]
    parameters = record["parameters"]
    git = record["git"]
    commit = (git["commit"] or "unknown")[:12]
    if git["uncommitted_changes"]:
        commit += " with uncommitted changes"
    rows = "\n".join(_run_row(label, figures[key]) for label, key in RUNS)
    differences = figures["differing_rows"]
    if any(differences.values()):
        verdict = "The two next-night runs differ: " + ", ".join(
            f"{name} {count:,} rows" for name, count in differences.items()
        )
    else:
        verdict = (
            "The incremental and the full next night wrote equal identity tables ("
            + ", ".join(differences)
            + ")."
        )
    phases = "\n".join(
        f"- {label}: "
        + ", ".join(
            f"{name} {seconds:.1f} s"
            for name, seconds in figures[key]["phase_seconds"].items()
        )
        for label, key in RUNS
    )
    return f"""## Incremental identity over two nights

Command: `python -m benchmarks.identity_nights --customers N`.

Prepares the warehouse of the identity scale benchmark, resolves it incrementally,
then adds {parameters["new_share"]:.1%} of the records again under new keys and
gives {parameters["changed_share"]:.1%} a double last name, and resolves that next
night once incrementally and once without stored state, each in a child process
with the nightly job's DuckDB memory limit ({parameters["memory_limit"]}).

Latest run:

- time and commit: {record["timestamp"]}, {commit}
- machine: {environment.describe_machine(record["machine"])}
- load average (1, 5, 15 min) before and after: {record["load_average"]["before"]} \
and {record["load_average"]["after"]}
- customers generated: {parameters["customers"]:,}

| run | records | seconds | CPU seconds | peak GB | records scored again \
| vectors reused | reused ones scored again | vectors stored | score drift (bits) |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
{rows}

{verdict}

Time per phase:

{phases}

History: `benchmarks/results/{NAME}.jsonl`.
"""


def _run_row(label: str, run: dict) -> str:
    def count(value: int | None) -> str:
        return "n/a" if value is None else f"{value:,}"

    drift = run["drift_bits"]
    return (
        f"| {label} | {run['records']:,} | {run['seconds']:.1f} "
        f"| {run['cpu_seconds']:.1f} | {run['peak_memory_gb']:.2f} "
        f"| {count(run['records_scored_again'])} | {count(run['pair_vectors_reused'])} "
        f"| {count(run.get('pair_vectors_rescored'))} "
        f"| {count(run['pair_vectors_stored'])} "
        f"| {'n/a' if drift is None else f'{drift:.2f}'} |"
    )


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
    "--new-share",
    type=click.FloatRange(min=0.0, max=1.0),
    default=0.005,
    show_default=True,
    help="Share of the records that arrive again under new keys the next night.",
)
@click.option(
    "--changed-share",
    type=click.FloatRange(min=0.0, max=1.0),
    default=0.005,
    show_default=True,
    help="Share of the records that get a double last name the next night.",
)
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
def main(
    customers: int,
    seed: int,
    new_share: float,
    changed_share: float,
    workdir: Path,
    results_file: Path,
    page: Path,
):
    """Time an incremental identity night against a full one and compare them."""
    console = Console()
    warehouse = prepare(workdir.resolve(), customers, seed, console)
    incremental = warehouse.with_name("nights_incremental.duckdb")
    full = warehouse.with_name("nights_full.duckdb")
    load_before = environment.load_average()
    try:
        shutil.copyfile(warehouse, incremental)
        console.print("First night: resolving incrementally, storing the vectors")
        first = resolve_in_child(incremental, "incremental")
        shutil.copyfile(incremental, full)
        for copy in (incremental, full):
            make_next_night(copy, new_share, changed_share)
        console.print("Next night: resolving incrementally")
        next_incremental = resolve_in_child(incremental, "incremental")
        console.print("Next night: resolving without stored state")
        next_full = resolve_in_child(full, "full")
        console.print("Comparing the identity tables of the two next nights")
        differences = differing_rows(incremental, full)
    finally:
        incremental.unlink(missing_ok=True)
        full.unlink(missing_ok=True)

    record = {
        "benchmark": NAME,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": {
            "customers": customers,
            "seed": seed,
            "new_share": new_share,
            "changed_share": changed_share,
            "memory_limit": duckdb_memory_limit(),
        },
        "figures": {
            "first_incremental": first,
            "next_incremental": next_incremental,
            "next_full": next_full,
            "differing_rows": differences,
        },
        "machine": environment.machine(),
        "versions": environment.versions(),
        "git": environment.git_state(),
        "load_average": {"before": load_before, "after": environment.load_average()},
    }
    records.append_record(results_file, record)
    records.update_page_section(page, NAME, page_section(record))

    table = Table(title="Incremental identity")
    for header in ("run", "records", "seconds", "peak GB"):
        table.add_column(header, justify="right")
    for label, key in RUNS:
        run = record["figures"][key]
        table.add_row(
            label,
            f"{run['records']:,}",
            f"{run['seconds']:.1f}",
            f"{run['peak_memory_gb']:.2f}",
        )
    console.print(table)
    if any(differences.values()):
        raise click.ClickException(
            "the incremental next night differs from the full one: "
            + ", ".join(f"{name} {count:,} rows" for name, count in differences.items())
        )
    console.print("The incremental and the full next night wrote equal tables.")


if __name__ == "__main__":
    main()
