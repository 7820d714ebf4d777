"""The whole nightly job at scale: wall time, peak memory and rows per second per stage.

``python -m benchmarks.nightly_scale --customers 10000 --customers 100000`` generates
each size (every source, ``--events-per-customer`` web events per customer), runs
``cdp run`` on it in a child process with its own warehouse, and reads each step's
start and end from the run's Dagster event log. A sampler thread reads the resident
memory of the child and its subprocesses (dbt runs as one) from /proc twice a second,
so each stage gets the peak seen while it ran.

The floor is DuckDB alone materializing the same extracts, every column as VARCHAR,
in a fresh database file (the bare read of ``benchmarks.ingestion_speed``).

Targets at 1,000,000 customers: the whole run takes at most 10 minutes and 12 GB, and
the identity stage at most 3 minutes. The run takes at most 8 times the read floor.
Twice the data takes at most 2.2 times the time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import click
import duckdb
from rich.console import Console
from rich.table import Table

from benchmarks import environment, records
from benchmarks.ingestion_speed import bare_read_sql, prepare_landing
from ingestion.generator import generate
from ingestion.loader import landing_files
from ingestion.sources import SOURCES

NAME = "nightly_scale"
RESULTS_FILE = records.RESULTS_DIR / f"{NAME}.jsonl"
DEFAULT_WORKDIR = Path("data/tmp/benchmarks/nightly_scale")
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
DEFAULT_SEED = 11
DEFAULT_EVENTS_PER_CUSTOMER = 20.0
SAMPLE_SECONDS = 0.5
# The generator's default extract date, and the day after it for the later night.
FIRST_NIGHT = date(2026, 11, 30)
NEXT_NIGHT = date(2026, 12, 1)
DEFAULT_INCREMENTAL_SHARE = 0.01
TARGET_INCREMENTAL_SHARE = 0.2

TARGET_RUN_SECONDS = 600
TARGET_PEAK_GB = 12.0
TARGET_IDENTITY_SECONDS = 180
TARGET_FLOOR_RATIO = 8.0
TARGET_DOUBLING_RATIO = 2.2
TARGET_CUSTOMERS = 1_000_000

# Stage of a step, by the start of its step key; checks are matched first, by suffix.
CHECK_SUFFIXES = (
    "_great_expectations_suite",
    "_no_rejected_files",
    "_rows_accounted_for",
)
STAGES = (
    ("raw__", "ingestion"),
    ("dbt_staging_and_intermediate", "dbt staging and intermediate"),
    ("identity_resolution", "identity"),
    ("dbt_marts", "dbt marts"),
    ("marts__customer_clv", "lifetime value"),
    ("dbt_traits", "dbt traits and segments"),
    ("outbox__", "activation"),
)
STAGE_ORDER = (*(stage for _, stage in STAGES), "quality checks", "other")


def stage_of(step_key: str) -> str:
    if step_key.endswith(CHECK_SUFFIXES):
        return "quality checks"
    for prefix, stage in STAGES:
        if step_key.startswith(prefix):
            return stage
    return "other"


# Memory ------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    """Return the direct children of ``pid`` read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name in parentheses may hold spaces; fields follow the last ')'.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid:
            found.append(int(entry.name))
    return found


def tree_rss_bytes(pid: int) -> int:
    """Return the resident memory of ``pid`` and all its descendants, in bytes."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
        pending.extend(_children(current))
    return total


@dataclass
class MemorySampler:
    """Sample the resident memory of a process tree in a background thread."""

    pid: int
    samples: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), tree_rss_bytes(self.pid)))
            self._stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> MemorySampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def peak_between(self, start: float, end: float) -> int:
        inside = [rss for at, rss in self.samples if start <= at <= end]
        return max(inside, default=0)


# The run -----------------------------------------------------------------------


def run_environment(folder: Path, landing: Path) -> dict[str, str]:
    """Return the environment of a ``cdp run`` whose every path is under ``folder``."""
    env = dict(os.environ)
    env.update(
        {
            "CDP_WAREHOUSE": str(folder / "warehouse.duckdb"),
            "CDP_LANDING_DIR": str(landing),
            "CDP_GROUND_TRUTH": str(landing.parent / "ground_truth" / "none.csv"),
            "CDP_OUTBOX": str(folder / "outbox"),
            "CDP_REPORTS": str(folder / "reports"),
            "DAGSTER_HOME": str(folder / "dagster"),
            "DO_NOT_TRACK": "1",
        }
    )
    return env


def step_windows(dagster_home: Path) -> list[tuple[str, float, float]]:
    """Return (step key, start, end) of every step of the newest run in the instance."""
    from dagster import DagsterEventType, DagsterInstance

    os.environ["DAGSTER_HOME"] = str(dagster_home)
    with DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        starts: dict[str, float] = {}
        windows = []
        for entry in instance.all_logs(run.run_id):
            event = entry.dagster_event
            if event is None or entry.step_key is None:
                continue
            if event.event_type == DagsterEventType.STEP_START:
                starts[entry.step_key] = entry.timestamp
            elif event.event_type in (
                DagsterEventType.STEP_SUCCESS,
                DagsterEventType.STEP_FAILURE,
            ):
                start = starts.get(entry.step_key, entry.timestamp)
                windows.append((entry.step_key, start, entry.timestamp))
    return windows


def layer_rows(warehouse: Path) -> dict[str, int]:
    """Return the number of rows per schema of the finished warehouse."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where database_name = current_database()"
        ).fetchall()
        rows: dict[str, int] = {}
        for schema, table in tables:
            count = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()
            rows[schema] = rows.get(schema, 0) + count[0]
    return rows


# Rows a stage reads or writes, by schema, to compute its rows per second.
STAGE_ROWS = {
    "ingestion": "raw",
    "dbt staging and intermediate": "raw",
    "identity": "intermediate",
    "dbt marts": "marts",
    "dbt traits and segments": "marts",
}


def run_night(
    folder: Path,
    landing: Path,
    console: Console,
    *,
    fresh: bool = True,
    run_date: date | None = None,
    label: str = "cdp_run",
) -> dict:
    """Run ``cdp run`` on ``landing`` into the warehouse under ``folder``.

    With ``fresh``, the folder is emptied first, so the run starts from nothing.
    """
    if fresh:
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    env = run_environment(folder, landing)
    if run_date is not None:
        env["CDP_RUN_DATE"] = run_date.isoformat()
    log_path = folder / f"{label}.log"
    command = [str(Path(sys.executable).parent / "cdp"), "run"]
    console.log(f"running the nightly job on {landing} (log: {log_path})")
    with log_path.open("w", encoding="utf-8") as log:
        started = time.time()
        child = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        with MemorySampler(child.pid) as sampler:
            status = child.wait()
        ended = time.time()
    if status != 0:
        raise click.ClickException(
            f"cdp run failed with exit status {status}; its log is {log_path}"
        )

    rows = layer_rows(folder / "warehouse.duckdb")
    stages: dict[str, dict] = {}
    for step_key, start, end in step_windows(folder / "dagster"):
        stage = stages.setdefault(
            stage_of(step_key), {"seconds": 0.0, "peak_rss_gb": 0.0, "steps": 0}
        )
        stage["seconds"] += end - start
        stage["steps"] += 1
        peak = sampler.peak_between(start, end) / 1e9
        stage["peak_rss_gb"] = max(stage["peak_rss_gb"], round(peak, 2))
    for name, stage in stages.items():
        stage["seconds"] = round(stage["seconds"], 1)
        schema = STAGE_ROWS.get(name)
        if schema and stage["seconds"] > 0:
            stage["rows_per_second"] = round(rows.get(schema, 0) / stage["seconds"])
    return {
        "seconds": round(ended - started, 1),
        "peak_rss_gb": round(max((r for _, r in sampler.samples), default=0) / 1e9, 2),
        "rows": rows,
        "stages": {name: stages[name] for name in STAGE_ORDER if name in stages},
    }


def next_night_landing(
    landing: Path, customers: int, seed: int, events: float, workdir: Path
) -> Path:
    """Return a landing folder with ``landing``'s files plus one later night's files.

    The later night is a generated sample of ``customers`` (another seed, the next
    day), so its extracts are new files as the source systems would deliver them.
    The first night's files are linked, not copied.
    """
    extra = workdir / "extracts" / f"next_night_{customers}_seed_{seed + 1}"
    marker = extra / ".complete"
    if not marker.is_file():
        shutil.rmtree(extra, ignore_errors=True)
        generate(
            customers, seed + 1, extra, as_of=NEXT_NIGHT, events_per_customer=events
        )
        marker.write_text("complete\n", encoding="utf-8")
    combined = workdir / "extracts" / f"combined_{landing.parent.name}_{customers}"
    shutil.rmtree(combined, ignore_errors=True)
    for folder in (landing, extra / "landing"):
        for path in folder.rglob("*"):
            if path.is_file():
                target = combined / path.relative_to(folder)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(path.resolve())
    return combined


def read_floor(landing: Path, database: Path) -> dict:
    """Time bare DuckDB materializing every landing file; return seconds and rows."""
    database.unlink(missing_ok=True)
    started = time.perf_counter()
    con = duckdb.connect(str(database))
    rows = 0
    for source in SOURCES:
        for number, path in enumerate(landing_files(source, landing)):
            table = f"{source.name}_{number}"
            con.execute(f"create table {table} as {bare_read_sql(source, path)}")
            rows += con.execute(f"select count(*) from {table}").fetchone()[0]
    con.close()
    seconds = time.perf_counter() - started
    database.unlink(missing_ok=True)
    return {"seconds": round(seconds, 2), "rows": rows}


def measure_size(
    customers: int,
    seed: int,
    events: float,
    workdir: Path,
    console: Console,
    incremental_share: float = 0.0,
) -> dict:
    console.log(f"generating {customers:,} customers (kept as a cache)")
    landing = prepare_landing(workdir / "extracts", customers, seed, events)
    floor = read_floor(landing, workdir / "floor.duckdb")
    console.log(f"read floor: {floor['seconds']} s for {floor['rows']:,} rows")
    night = run_night(
        workdir / f"run_{customers}", landing, console, run_date=FIRST_NIGHT
    )
    if incremental_share > 0:
        extra_customers = max(1, round(customers * incremental_share))
        combined = next_night_landing(landing, extra_customers, seed, events, workdir)
        second = run_night(
            workdir / f"run_{customers}",
            combined,
            console,
            fresh=False,
            run_date=NEXT_NIGHT,
            label="cdp_run_next_night",
        )
        second["new_customers"] = extra_customers
        second["share_of_full_run"] = round(second["seconds"] / night["seconds"], 3)
        night["next_night"] = second
    night["customers"] = customers
    night["floor"] = floor
    night["floor_ratio"] = round(night["seconds"] / floor["seconds"], 2)
    night["landing_bytes"] = sum(
        p.stat().st_size for p in landing.rglob("*") if p.is_file()
    )
    return night


def verdicts(results: list[dict]) -> dict[str, bool | None]:
    """Check the targets on the 1,000,000-customer run, None when it was not run."""
    by_size = {r["customers"]: r for r in results}
    big = by_size.get(TARGET_CUSTOMERS)
    if big is None:
        return {}
    identity = big["stages"].get("identity", {}).get("seconds")
    half = by_size.get(TARGET_CUSTOMERS // 2)
    return {
        "run_at_most_10_min": big["seconds"] <= TARGET_RUN_SECONDS,
        "peak_at_most_12_gb": big["peak_rss_gb"] <= TARGET_PEAK_GB,
        "identity_at_most_3_min": identity is not None
        and identity <= TARGET_IDENTITY_SECONDS,
        "at_most_8x_floor": big["floor_ratio"] <= TARGET_FLOOR_RATIO,
        "doubling_at_most_2_2x": None
        if half is None
        else big["seconds"] / half["seconds"] <= TARGET_DOUBLING_RATIO,
        "next_night_at_most_20_percent": None
        if "next_night" not in big
        else big["next_night"]["share_of_full_run"] <= TARGET_INCREMENTAL_SHARE,
    }


def scaling(results: list[dict]) -> list[tuple[int, int, float]]:
    """Return (smaller, larger, time ratio) for consecutive sizes."""
    ordered = sorted(results, key=lambda r: r["customers"])
    return [
        (a["customers"], b["customers"], round(b["seconds"] / a["seconds"], 2))
        for a, b in zip(ordered, ordered[1:], strict=False)
    ]


# Output ------------------------------------------------------------------------


def stage_table_markdown(result: dict) -> str:
    lines = [
        f"{result['customers']:,} customers: {result['seconds']} s in all, peak "
        f"{result['peak_rss_gb']} GB, read floor {result['floor']['seconds']} s "
        f"({result['floor']['rows']:,} rows), run / floor {result['floor_ratio']}",
        "",
        "| stage | seconds | peak RSS (GB) | rows per second |",
        "|---|---:|---:|---:|",
    ]
    for name, stage in result["stages"].items():
        rate = stage.get("rows_per_second")
        rate_text = f"{rate:,}" if rate is not None else ""
        lines.append(
            f"| {name} | {stage['seconds']} | {stage['peak_rss_gb']} | {rate_text} |"
        )
    second = result.get("next_night")
    if second is not None:
        stages = ", ".join(
            f"{name} {stage['seconds']} s" for name, stage in second["stages"].items()
        )
        lines += [
            "",
            f"Next night, {second['new_customers']:,} new customers' extracts added: "
            f"{second['seconds']} s, {second['share_of_full_run']:.0%} of the full "
            f"run, peak {second['peak_rss_gb']} GB ({stages}).",
        ]
    return "\n".join(lines)


def page_section(record: dict) -> str:
    parameters = record["parameters"]
    git = record["git"]
    commit = (git["commit"] or "unknown")[:12]
    if git["uncommitted_changes"]:
        commit += " with uncommitted changes"
    tables = "\n\n".join(stage_table_markdown(r) for r in record["results"])
    steps = "\n".join(
        f"- {a:,} to {b:,} customers: {ratio} times the time"
        for a, b, ratio in record["scaling"]
    )
    targets = (
        "\n".join(
            f"- {name}: {'n/a' if ok is None else ('pass' if ok else 'FAIL')}"
            for name, ok in record["targets"].items()
        )
        or "- not checked: the run did not include 1,000,000 customers"
    )
    return f"""## Nightly job at scale

Command: `make bench` (`python -m benchmarks.nightly_scale`; `--customers` may be
given several times, `--help` lists the options).

Runs `cdp run` on generated extracts of every source in a fresh warehouse, one size
after another. Stage times come from the run's Dagster event log (the sum of its
steps' durations); peak memory is the largest resident set of the run's process tree,
sampled every {SAMPLE_SECONDS} s while the stage ran. Rows per second divide the rows
of the schema a stage reads (ingestion, dbt staging: raw; identity: intermediate) or
writes (dbt marts: marts) by its time. The read floor is bare DuckDB materializing the
same extracts as VARCHAR tables. The next night adds the extracts of a further
generated sample (`--incremental-share` of the customers, another seed, the next day)
and runs the job again on the same warehouse.

Latest run:

- time and commit: {record["timestamp"]}, {commit}
- data: seed {parameters["seed"]}, {parameters["events_per_customer"]:g} web events
  per customer
- machine: {environment.describe_machine(record["machine"])}
- load average (1, 5, 15 min) before and after: {record["load_average"]["before"]}
  and {record["load_average"]["after"]}

{tables}

Scaling:

{steps or "- one size only"}

Targets at 1,000,000 customers:

{targets}

History: `benchmarks/results/{NAME}.jsonl`.
"""


def console_table(record: dict) -> Table:
    table = Table(title="Nightly job at scale")
    table.add_column("customers", justify="right")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    table.add_column("peak GB", justify="right")
    for result in record["results"]:
        for name, stage in result["stages"].items():
            table.add_row(
                f"{result['customers']:,}",
                name,
                str(stage["seconds"]),
                str(stage["peak_rss_gb"]),
            )
        table.add_row(
            f"{result['customers']:,}",
            "[bold]whole run[/bold]",
            str(result["seconds"]),
            str(result["peak_rss_gb"]),
        )
        second = result.get("next_night")
        if second is not None:
            table.add_row(
                f"{result['customers']:,}",
                f"[bold]next night[/bold] (+{second['new_customers']:,} customers, "
                f"{second['share_of_full_run']:.0%} of the full run)",
                str(second["seconds"]),
                str(second["peak_rss_gb"]),
            )
    return table


@click.command()
@click.option(
    "--customers",
    "sizes",
    type=click.IntRange(min=100),
    multiple=True,
    help="Customers to generate; repeat for several sizes "
    f"[default: {', '.join(f'{s:,}' for s in DEFAULT_SIZES)}].",
)
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True)
@click.option(
    "--events-per-customer",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_EVENTS_PER_CUSTOMER,
    show_default=True,
    help="Mean number of web events per customer.",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_WORKDIR,
    show_default=True,
    help="Folder for generated extracts (kept as a cache) and the run warehouses.",
)
@click.option(
    "--incremental-share",
    type=click.FloatRange(min=0, max=1),
    default=DEFAULT_INCREMENTAL_SHARE,
    show_default=True,
    help="After each full run, run a second night on the same warehouse with this "
    "share of new customers' extracts added; 0 skips it.",
)
@click.option(
    "--no-record",
    is_flag=True,
    help="Print the figures only; do not touch BENCHMARKS.md or the results file.",
)
def main(
    sizes: tuple[int, ...],
    seed: int,
    events_per_customer: float,
    workdir: Path,
    incremental_share: float,
    no_record: bool,
) -> None:
    """Time the whole nightly job per stage at several sizes."""
    console = Console()
    workdir = workdir.resolve()
    load_before = environment.load_average()
    results = [
        measure_size(
            customers,
            seed,
            events_per_customer,
            workdir,
            console,
            incremental_share,
        )
        for customers in sorted(sizes or DEFAULT_SIZES)
    ]
    record = {
        "benchmark": NAME,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": environment.git_state(),
        "machine": environment.machine(),
        "versions": environment.versions(),
        "load_average": {"before": load_before, "after": environment.load_average()},
        "parameters": {
            "seed": seed,
            "events_per_customer": events_per_customer,
            "incremental_share": incremental_share,
        },
        "results": results,
        "scaling": scaling(results),
        "targets": verdicts(results),
    }
    console.print(console_table(record))
    if not no_record:
        records.append_record(RESULTS_FILE, record)
        records.update_page_section(records.BENCHMARKS_PAGE, NAME, page_section(record))
        console.print(f"Appended to {RESULTS_FILE}; updated BENCHMARKS.md.")


if __name__ == "__main__":
    main()
