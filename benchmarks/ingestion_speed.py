"""Compare our loader with a bare DuckDB read of the same landing files.

Target: ``ingestion.loader.load_source`` reaches at least half the rows per second
of a bare DuckDB ``read_csv`` / ``read_json`` that materializes the same files into a
table. For every case (one per source, plus a gzip-compressed CSV) this module
measures in one process, on a warm file cache, alternating between the two:

- bare: ``create table ... as select ... from read_csv/read_json(...)`` in a fresh
  DuckDB file, every column as VARCHAR, with the contract's delimiter and header;
- ours: ``load_source`` into a fresh warehouse file.

Both timings run from opening the DuckDB file to closing it, so both include writing
the table to disk. Each is repeated (3 times by default) and the median counts.

Run ``python -m benchmarks.ingestion_speed --help`` for the options.
"""

from __future__ import annotations

import gzip
import logging
import shutil
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click
import duckdb
from rich.console import Console
from rich.table import Table

from benchmarks import environment, records
from ingestion.generator import generate
from ingestion.loader import landing_files, load_source
from ingestion.sources import SOURCES, Source, get_source

NAME = "ingestion_speed"
TARGET_RATIO = 0.5
DEFAULT_CUSTOMERS = 200_000
DEFAULT_SEED = 1
# The generator's default of 6 web events per customer makes the JSONL extract
# about 930 MB at 200,000 customers. One load_source of it took 230 s on a 2-core,
# 24 GB machine shared with other jobs, so the benchmark uses 1 event per customer.
DEFAULT_EVENTS_PER_CUSTOMER = 1.0
DEFAULT_REPEATS = 3
DEFAULT_WORKDIR = environment.REPOSITORY / "data" / "tmp" / "benchmarks" / NAME
RESULTS_FILE = records.RESULTS_DIR / f"{NAME}.jsonl"
# Source whose extract is also measured gzip-compressed; small, so compressing it
# once per dataset is cheap.
GZIP_SOURCE = "crm_contacts"
COMPLETE_MARKER = ".complete"
READ_BLOCK = 1 << 20

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Case:
    """One measured input: a source and the landing folder its files are read from."""

    label: str
    source: Source
    landing_dir: Path

    @property
    def files(self) -> list[Path]:
        return landing_files(self.source, self.landing_dir)


@dataclass(frozen=True)
class Measurement:
    """Wall times in seconds of the repeats and the rows each run produced."""

    seconds: list[float]
    rows: int

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.seconds)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.median_seconds


# Landing data ------------------------------------------------------------------


def prepare_landing(
    workdir: Path, customers: int, seed: int, events_per_customer: float
) -> Path:
    """Return a landing folder for these parameters, generating it unless cached.

    A dataset folder counts as cached once its marker file exists. A folder without
    the marker is left over from an interrupted run and is generated again.
    """
    dataset = workdir / (
        f"customers_{customers}_seed_{seed}_events_{events_per_customer:g}"
    )
    marker = dataset / COMPLETE_MARKER
    if not marker.is_file():
        if dataset.exists():
            shutil.rmtree(dataset)
        started = time.perf_counter()
        generate(customers, seed, dataset, events_per_customer=events_per_customer)
        logger.info(
            "generated %d customers into %s in %.1f s",
            customers,
            dataset,
            time.perf_counter() - started,
        )
        marker.write_text(f"customers={customers} seed={seed}\n", encoding="utf-8")
    return dataset / "landing"


def prepare_gzip_landing(landing_dir: Path, source: Source) -> Path:
    """Write gzip copies of a source's extracts into a sibling landing folder."""
    gzip_landing = landing_dir.parent / "landing_gzip"
    folder = gzip_landing / source.landing_folder
    folder.mkdir(parents=True, exist_ok=True)
    for path in landing_files(source, landing_dir):
        target = folder / f"{path.name}.gz"
        if target.is_file():
            continue
        partial = target.with_suffix(".gz.partial")
        with path.open("rb") as plain, gzip.open(partial, "wb") as compressed:
            shutil.copyfileobj(plain, compressed, READ_BLOCK)
        partial.rename(target)
    return gzip_landing


def benchmark_cases(landing_dir: Path) -> list[Case]:
    cases = [
        Case(f"{source.name} ({source.file_format})", source, landing_dir)
        for source in SOURCES
        if landing_files(source, landing_dir)
    ]
    gzip_source = get_source(GZIP_SOURCE)
    if landing_files(gzip_source, landing_dir):
        gzip_landing = prepare_gzip_landing(landing_dir, gzip_source)
        label = f"{gzip_source.name} ({gzip_source.file_format}, gzip)"
        cases.append(Case(label, gzip_source, gzip_landing))
    return cases


def warm_file_cache(paths: list[Path]) -> None:
    """Read every file once, so no timed run pays for the first disk read."""
    for path in paths:
        with path.open("rb") as handle:
            while handle.read(READ_BLOCK):
                pass


# Bare DuckDB reads -------------------------------------------------------------


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _compression(path: Path) -> str:
    return "gzip" if path.name.endswith(".gz") else "none"


def _nested_keys(keys: list[str]) -> dict:
    """Turn dotted contract keys (``requester.name``) into a tree of field names."""
    tree: dict = {}
    for key in keys:
        node = tree
        for part in key.split("."):
            node = node.setdefault(part, {})
    return tree


def _duckdb_type(tree: dict) -> str:
    """DuckDB type of a field tree: a leaf is VARCHAR, a branch a STRUCT of it."""
    if not tree:
        return "VARCHAR"
    fields = ", ".join(f"{_quoted(k)} {_duckdb_type(v)}" for k, v in tree.items())
    return f"STRUCT({fields})"


def _columns_argument(types: dict[str, str]) -> str:
    pairs = ", ".join(f"{_sql_string(k)}: {_sql_string(v)}" for k, v in types.items())
    return "{" + pairs + "}"


def _json_select_list(source: Source, record: str) -> str:
    """Select every contract key of a JSON record as text, named as in raw."""
    items = []
    for key, raw in source.columns.items():
        path = ".".join(_quoted(part) for part in key.split("."))
        items.append(f"{record}.{path}::varchar as {_quoted(raw)}")
    return ", ".join(items)


def bare_read_sql(source: Source, path: Path) -> str:
    """Return the bare DuckDB query that reads one landing file, all VARCHAR."""
    file = _sql_string(str(path))
    compression = _sql_string(_compression(path))
    if source.file_format == "csv":
        return (
            f"select * from read_csv({file}, header = true, "
            f"delim = {_sql_string(source.delimiter)}, quote = '\"', escape = '\"', "
            f"all_varchar = true, encoding = {_sql_string(source.encoding)}, "
            f"compression = {compression})"
        )

    tree = _nested_keys(list(source.columns))
    top_level = {key: _duckdb_type(subtree) for key, subtree in tree.items()}
    if source.file_format == "jsonl":
        columns = _columns_argument(top_level)
        return (
            f"select {_json_select_list(source, 'r')} from read_json({file}, "
            f"format = 'newline_delimited', columns = {columns}, "
            f"compression = {compression}) as r"
        )
    if source.file_format == "json_array":
        # The whole document is one JSON value, so its size is the object limit.
        size = path.stat().st_size + 1
        if source.json_records_path is None:
            columns = _columns_argument(top_level)
            return (
                f"select {_json_select_list(source, 'r')} from read_json({file}, "
                f"format = 'array', columns = {columns}, "
                f"maximum_object_size = {size}, compression = {compression}) as r"
            )
        records_type = f"{_duckdb_type(tree)}[]"
        columns = _columns_argument({source.json_records_path: records_type})
        records_path = _quoted(source.json_records_path)
        return (
            f"select {_json_select_list(source, 'r.record')} from ("
            f"select unnest({records_path}) as record from read_json({file}, "
            f"columns = {columns}, maximum_object_size = {size}, "
            f"compression = {compression})) as r"
        )
    raise ValueError(f"no bare read for file format {source.file_format!r}")


# Measurements ------------------------------------------------------------------


def _fresh_database(path: Path) -> None:
    path.unlink(missing_ok=True)
    Path(f"{path}.wal").unlink(missing_ok=True)


def time_bare_read(case: Case, database: Path) -> tuple[float, int]:
    """Materialize the case's files with bare DuckDB; return seconds and rows."""
    _fresh_database(database)
    started = time.perf_counter()
    con = duckdb.connect(str(database))
    for number, path in enumerate(case.files):
        con.execute(f"create table bare_{number} as {bare_read_sql(case.source, path)}")
    rows = sum(
        con.execute(f"select count(*) from bare_{number}").fetchone()[0]
        for number in range(len(case.files))
    )
    con.close()
    return time.perf_counter() - started, rows


def time_load_source(case: Case, database: Path) -> tuple[float, int]:
    """Load the case's files with ``load_source``; return seconds and rows read."""
    _fresh_database(database)
    started = time.perf_counter()
    con = duckdb.connect(str(database))
    results = load_source(con, case.source, case.landing_dir)
    con.close()
    seconds = time.perf_counter() - started

    not_loaded = [r for r in results if r.status != "loaded"]
    if not_loaded:
        details = "; ".join(f"{r.file}: {r.status} ({r.message})" for r in not_loaded)
        raise RuntimeError(f"load_source did not load every file: {details}")
    return seconds, sum(result.rows_read for result in results)


def measure_case(case: Case, scratch: Path, repeats: int) -> dict:
    """Time the bare read and ``load_source`` alternately; return the case's figures.

    Alternating spreads a change in machine load over both sides of the ratio.
    """
    warm_file_cache(case.files)
    bare_seconds, ours_seconds = [], []
    bare_rows = ours_rows = 0
    for _ in range(repeats):
        seconds, bare_rows = time_bare_read(case, scratch / "bare.duckdb")
        bare_seconds.append(seconds)
        seconds, ours_rows = time_load_source(case, scratch / "warehouse.duckdb")
        ours_seconds.append(seconds)
    _fresh_database(scratch / "bare.duckdb")
    _fresh_database(scratch / "warehouse.duckdb")

    bare = Measurement(bare_seconds, bare_rows)
    ours = Measurement(ours_seconds, ours_rows)
    ratio = ours.rows_per_second / bare.rows_per_second
    return {
        "case": case.label,
        "source": case.source.name,
        "file_format": case.source.file_format,
        "gzip": any(path.name.endswith(".gz") for path in case.files),
        "files": len(case.files),
        "bytes": sum(path.stat().st_size for path in case.files),
        "bare_rows": bare.rows,
        "ours_rows": ours.rows,
        "bare_seconds": [round(s, 4) for s in bare.seconds],
        "ours_seconds": [round(s, 4) for s in ours.seconds],
        "bare_rows_per_second": round(bare.rows_per_second, 1),
        "ours_rows_per_second": round(ours.rows_per_second, 1),
        "ratio": round(ratio, 3),
        "meets_target": ratio >= TARGET_RATIO,
    }


def run_benchmark(
    customers: int = DEFAULT_CUSTOMERS,
    seed: int = DEFAULT_SEED,
    workdir: Path = DEFAULT_WORKDIR,
    *,
    events_per_customer: float = DEFAULT_EVENTS_PER_CUSTOMER,
    repeats: int = DEFAULT_REPEATS,
    results_file: Path = RESULTS_FILE,
    page: Path = records.BENCHMARKS_PAGE,
    console: Console | None = None,
) -> dict:
    """Measure every case, append the record to ``results_file``, update ``page``.

    Returns the record that was appended.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    workdir = Path(workdir)
    if console is not None:
        console.log(f"preparing landing files under {workdir}")
    landing_dir = prepare_landing(workdir, customers, seed, events_per_customer)
    scratch = workdir / "databases"
    scratch.mkdir(parents=True, exist_ok=True)

    load_before = environment.load_average()
    figures = []
    for case in benchmark_cases(landing_dir):
        if console is not None:
            console.log(f"measuring {case.label}")
        figures.append(measure_case(case, scratch, repeats))

    record = {
        "benchmark": NAME,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": environment.git_state(),
        "machine": environment.machine(),
        "versions": environment.versions(),
        "load_average": {"before": load_before, "after": environment.load_average()},
        "parameters": {
            "customers": customers,
            "seed": seed,
            "events_per_customer": events_per_customer,
            "repeats": repeats,
            "target_ratio": TARGET_RATIO,
        },
        "results": figures,
        "meets_target": all(figure["meets_target"] for figure in figures),
    }
    records.append_record(Path(results_file), record)
    records.update_page_section(Path(page), NAME, page_section(record))
    return record


# Output ------------------------------------------------------------------------


def _verdict(figure: dict) -> str:
    return "pass" if figure["meets_target"] else "FAIL"


def console_table(record: dict) -> Table:
    parameters = record["parameters"]
    table = Table(
        title=(
            f"Ingestion speed: {parameters['customers']:,} customers, "
            f"median of {parameters['repeats']} runs"
        ),
        caption=environment.describe_machine(record["machine"]),
    )
    for header in ("case", "rows", "bare rows/s", "ours rows/s", "ratio"):
        table.add_column(header, justify="left" if header == "case" else "right")
    table.add_column(f"target {TARGET_RATIO:g}")
    for figure in record["results"]:
        table.add_row(
            figure["case"],
            f"{figure['ours_rows']:,}",
            f"{figure['bare_rows_per_second']:,.0f}",
            f"{figure['ours_rows_per_second']:,.0f}",
            f"{figure['ratio']:.2f}",
            _verdict(figure),
        )
    return table


def markdown_table(record: dict) -> str:
    lines = [
        "| case | rows | MB | bare s | ours s | bare rows/s | ours rows/s | ratio "
        "| target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for figure in record["results"]:
        bare_median = statistics.median(figure["bare_seconds"])
        ours_median = statistics.median(figure["ours_seconds"])
        lines.append(
            f"| {figure['case']} | {figure['ours_rows']:,} "
            f"| {figure['bytes'] / 1e6:,.1f} | {bare_median:.2f} | {ours_median:.2f} "
            f"| {figure['bare_rows_per_second']:,.0f} "
            f"| {figure['ours_rows_per_second']:,.0f} "
            f"| {figure['ratio']:.2f} | {_verdict(figure)} |"
        )
    return "\n".join(lines)


def page_section(record: dict) -> str:
    """Return the Markdown section of BENCHMARKS.md for one record."""
    parameters = record["parameters"]
    git = record["git"]
    commit = (git["commit"] or "unknown")[:12]
    if git["uncommitted_changes"]:
        commit += " with uncommitted changes"
    load = record["load_average"]
    return f"""## Ingestion speed

Command: `python -m benchmarks.ingestion_speed` (options: `--customers`, `--seed`,
`--events-per-customer`, `--repeats`, `--workdir`; `--help` explains them).

Compares `ingestion.loader.load_source` with a bare DuckDB read of the same generated
landing files. The bare read is `create table ... as select ... from read_csv(...)` or
`read_json(...)` with every column as VARCHAR, in a fresh DuckDB file. Ours loads into
a fresh warehouse file. Both timings run from opening the file to closing it, on a
warm file cache, alternating between the two. Rows are CSV data rows, JSON lines or
JSON array records. The table shows the median of the runs.
Target: ours reaches at least {TARGET_RATIO:g} times the bare rows per second.

Latest run:

- time and commit: {record["timestamp"]}, {commit}
- data: {parameters["customers"]:,} customers, seed {parameters["seed"]}, \
{parameters["events_per_customer"]:g} web events per customer
- runs per case and side: {parameters["repeats"]}
- machine: {environment.describe_machine(record["machine"])}
- software: Python {record["versions"]["python"]}, DuckDB \
{record["versions"]["duckdb"]}
- load average (1, 5, 15 min) before and after: {load["before"]} and \
{load["after"]}

A load average above the core count means other processes shared the CPUs, which
makes single timings noisy.

{markdown_table(record)}

History with every run time: `benchmarks/results/{NAME}.jsonl`.
"""


@click.command()
@click.option(
    "--customers",
    type=click.IntRange(min=1),
    default=DEFAULT_CUSTOMERS,
    show_default=True,
    help="Number of generated customers; sets the size of every extract.",
)
@click.option(
    "--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Generator seed."
)
@click.option(
    "--events-per-customer",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_EVENTS_PER_CUSTOMER,
    show_default=True,
    help="Mean number of web events per customer; sets the size of the JSONL extract.",
)
@click.option(
    "--repeats",
    type=click.IntRange(min=1),
    default=DEFAULT_REPEATS,
    show_default=True,
    help="Timed runs per case and side; the median counts.",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_WORKDIR,
    show_default=True,
    help="Folder for the generated extracts (kept as a cache) and scratch databases.",
)
@click.option(
    "--fail-below-target",
    is_flag=True,
    help=f"Exit with status 1 when a case stays below {TARGET_RATIO:g} times bare.",
)
def main(
    customers: int,
    seed: int,
    events_per_customer: float,
    repeats: int,
    workdir: Path,
    fail_below_target: bool,
) -> None:
    """Measure rows per second of load_source against a bare DuckDB read."""
    logging.basicConfig(level=logging.WARNING)
    logger.setLevel(logging.INFO)
    console = Console()
    record = run_benchmark(
        customers,
        seed,
        workdir,
        events_per_customer=events_per_customer,
        repeats=repeats,
        console=console,
    )
    console.print(console_table(record))
    console.print(
        f"Appended to {RESULTS_FILE} and updated {records.BENCHMARKS_PAGE.name}."
    )
    if fail_below_target and not record["meets_target"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
