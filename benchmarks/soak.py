"""Soak test: many consecutive nights of the nightly job on one warehouse.

``python -m benchmarks.soak --nights 20`` generates one sample and hands its persons
out over the nights: about half arrive on the first night with all their records, the
rest spread evenly over the later ones. Whole persons arrive, so the share of records
merged into customers stays near the first night's and the identity check on its
change (``merge_rate_change``) does not stop a night. Each night also re-exports some earlier CRM contacts with a new
email address or street (newer ``Last Modified Date``). From the second night on, the
social lead export of the night before arrives again under the same name without a
few of its leads. That is how a source withdraws rows, because staging keeps the
newest version of a record across files and a record missing from a later extract
would stay. ``cdp run`` then runs in a subprocess with ``CDP_RUN_DATE`` one day later each
night. After every night the checks below run against the warehouse, and the first
night runs twice to measure what a repeated run adds to the file.

Checks per night:

- rows: every landing file has a load log entry for its current content, and each
  file's rows (counted without the loader) = read = loaded + rejected; raw tables
  and rejects tables hold exactly the logged rows.
- keys: no duplicate primary key in the staging models, marts and identity tables
  listed in ``PRIMARY_KEYS``.
- ids: a record that changed customer id since the night before is explained by a
  merge or split of this night in ``identity.customer_id_history``, or by
  ``identity.customer_id_lookup``.
- lock: the run lock file names no holder and is free, and no DuckDB WAL is left.
- size: running the same night again adds at most ``RERUN_GROWTH_LIMIT`` to the
  warehouse's used blocks. The file itself may grow more, because DuckDB keeps
  the blocks of dropped tables as free blocks for later writes and never shrinks
  the file, so the tables show file, used and free bytes per night.
"""

from __future__ import annotations

import argparse
import csv
import fcntl
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

from ingestion.generator import generate
from ingestion.sources import (
    CRM_CONTACTS,
    SOCIAL_LEADS,
    SOURCES,
    Source,
)
from orchestration.run_lock import lock_path_for, read_holder

FIRST_NIGHT = date(2026, 11, 30)
FIRST_NIGHT_SHARE = 0.5
CHANGED_CONTACT_SHARE = 0.03
WITHDRAWN_LEAD_SHARE = 0.1
# Share of the used blocks that a repeated run of the same night may add, for run
# logs such as identity.resolution_metrics and activation.sync_runs.
# NOTE: one repeat of a 150-customer night added 6.4% (1.3 MB in 256 KiB blocks);
# whether that is run logs or block fragmentation, and whether a third run adds as
# much, is not measured yet.
RERUN_GROWTH_LIMIT = 0.10
CDP = str(Path(sys.executable).with_name("cdp"))
# Export field that names a row's record; the ground truth maps records to persons.
GROUP_FIELDS = {
    "crm_contacts": "Record ID",
    "shop_orders": "Name",
    "web_events": "messageId",
    "email_activity": "Email Address",
    "helpdesk_tickets": "id",
    "social_leads": "id",
}
PRIMARY_KEYS = {
    "staging.stg_crm__contacts": "contact_id",
    "staging.stg_shop__orders": "order_id",
    "staging.stg_shop__order_lines": "order_line_id",
    "staging.stg_web__events": "event_id",
    "staging.stg_email__activities": "email_activity_id",
    "staging.stg_helpdesk__tickets": "ticket_id",
    "staging.stg_social__leads": "lead_id",
    "intermediate.int_person_records": "record_key",
    "identity.record_customers": "record_key",
    "marts.dim_customers": "customer_id",
    "marts.customer_traits": "customer_id",
    "marts.fct_orders": "order_id",
    "marts.fct_events": "event_id",
    "marts.segment_memberships": "customer_id, segment_name",
}

console = Console()


@dataclass
class NightResult:
    """Counts of one night's load and id changes, and its failed checks."""

    night: int
    run_date: date
    seconds: float
    files: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    records: int = 0
    customers: int = 0
    merges: int = 0
    splits: int = 0
    ids_changed: int = 0
    warehouse_bytes: int = 0
    used_bytes: int = 0
    free_bytes: int = 0
    rerun_growth_bytes: int | None = None
    problems: list[str] = field(default_factory=list)


# Landing files: read and write the rows of each format.


@dataclass
class Extract:
    """A landing file's rows in its own format: CSV rows after the header, JSON
    lines as text, or the records of a JSON document."""

    header: list[str] | None
    rows: list


def read_extract(source: Source, path: Path) -> Extract:
    if source.file_format == "csv":
        with path.open(encoding="utf-8", newline="") as handle:
            header, *rows = list(csv.reader(handle, delimiter=source.delimiter))
        return Extract(header, rows)
    if source.file_format == "jsonl":
        lines = path.read_text(encoding="utf-8").splitlines()
        return Extract(None, [line for line in lines if line.strip()])
    document = json.loads(path.read_text(encoding="utf-8"))
    return Extract(None, document[source.json_records_path])


def write_extract(source: Source, path: Path, extract: Extract) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if source.file_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=source.delimiter, lineterminator="\n")
        writer.writerow(extract.header)
        writer.writerows(extract.rows)
        path.write_text(buffer.getvalue(), encoding="utf-8")
    elif source.file_format == "jsonl":
        path.write_text("\n".join(extract.rows) + "\n", encoding="utf-8")
    else:
        document = {source.json_records_path: extract.rows}
        path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


def count_rows(source: Source, path: Path) -> int:
    """Count a landing file's rows without the loader, as the source wrote them."""
    return len(read_extract(source, path).rows)


def group_value(source: Source, extract: Extract, row) -> str:
    name = GROUP_FIELDS[source.name]
    if source.file_format == "csv":
        index = extract.header.index(name)
        return row[index] if index < len(row) else ""
    if source.file_format == "jsonl":
        try:
            event = json.loads(row)
        except ValueError:
            return row
        if not isinstance(event, dict):
            return row
        if event.get("userId"):
            return f"user:{event['userId']}"
        return f"anon:{event.get('anonymousId')}"
    return str(row.get(name)) if isinstance(row, dict) else json.dumps(row)


def read_persons(ground_truth: Path) -> dict[tuple[str, str], str]:
    """Map (source, source_record_id) to the generated person behind the record."""
    with ground_truth.open(encoding="utf-8", newline="") as handle:
        return {
            (row["source"], row["source_record_id"]): row["person_id"]
            for row in csv.DictReader(handle)
        }


def arrival_night(value: str, nights: int) -> int:
    """Night (1-based) on which a person arrives, from a hash of the person id."""
    share = int(hashlib.sha256(value.encode()).hexdigest()[:8], 16) / 2**32
    if nights == 1 or share < FIRST_NIGHT_SHARE:
        return 1
    later = (share - FIRST_NIGHT_SHARE) / (1 - FIRST_NIGHT_SHARE)
    return 2 + min(int(later * (nights - 1)), nights - 2)


def split_by_night(
    source: Source, path: Path, nights: int, persons: dict[tuple[str, str], str]
) -> list[Extract]:
    """Split one generated file into one extract per night (index 0 = night 1).

    A row whose record is not in the ground truth arrives by its record's hash.
    """
    extract = read_extract(source, path)
    parts = [Extract(extract.header, []) for _ in range(nights)]
    for row in extract.rows:
        record = group_value(source, extract, row)
        person = persons.get((source.name, record)) or persons.get(
            (source.name, record.strip().lower()), record
        )
        parts[arrival_night(person, nights) - 1].rows.append(row)
    return parts


# The nights.


def night_file(landing: Path, source: Source, run_date: date) -> Path:
    name = source.file_pattern.replace("*", run_date.isoformat())
    return landing / source.landing_folder / name


def changed_contacts(
    arrived: list[list[str]], header: list[str], run_date: date, rng: random.Random
) -> list[list[str]]:
    """Re-export some contacts that arrived before, each with a new email address
    or a new street and this night's modification date."""
    if not arrived:
        return []
    count = max(1, round(len(arrived) * CHANGED_CONTACT_SHARE))
    email = header.index("Email")
    street = header.index("Street Address")
    modified = header.index("Last Modified Date")
    changed = []
    for row in rng.sample(arrived, min(count, len(arrived))):
        row = list(row)
        if rng.random() < 0.5 and "@" in row[email]:
            local, _, _ = row[email].partition("@")
            row[email] = f"{local}.{run_date:%m%d}@example.org"
        else:
            row[street] = f"Neue Strasse {rng.randint(1, 200)}"
        row[modified] = f"{run_date.isoformat()} 01:00:00"
        changed.append(row)
    return changed


def withdraw_leads(
    landing: Path, previous_date: date, rng: random.Random
) -> tuple[str, int] | None:
    """Deliver the previous night's social lead file again without a few leads;
    return its name and the number of leads withdrawn."""
    path = night_file(landing, SOCIAL_LEADS, previous_date)
    if not path.is_file():
        return None
    extract = read_extract(SOCIAL_LEADS, path)
    if len(extract.rows) < 2:
        return None
    withdrawn = max(1, round(len(extract.rows) * WITHDRAWN_LEAD_SHARE))
    keep = sorted(rng.sample(range(len(extract.rows)), len(extract.rows) - withdrawn))
    extract.rows = [extract.rows[i] for i in keep]
    write_extract(SOCIAL_LEADS, path, extract)
    return path.name, withdrawn


class Nights:
    """Hands out a generated sample night by night into one landing folder."""

    def __init__(self, root: Path, customers: int, seed: int, nights: int) -> None:
        self.root = root
        self.landing = root / "landing"
        self.nights = nights
        self.rng = random.Random(seed)
        sample = root / "sample"
        generate(customers=customers, seed=seed, out=sample, events_per_customer=2)
        persons = read_persons(sample / "ground_truth" / "ground_truth.csv")
        self.parts = {
            source.name: split_by_night(
                source,
                night_file(sample / "landing", source, FIRST_NIGHT),
                nights,
                persons,
            )
            for source in SOURCES
        }
        shutil.rmtree(sample)
        self.arrived_contacts: list[list[str]] = []

    def write(self, night: int) -> None:
        run_date = FIRST_NIGHT + timedelta(days=night - 1)
        for source in SOURCES:
            extract = self.parts[source.name][night - 1]
            if source is CRM_CONTACTS:
                new_rows = list(extract.rows)
                extract.rows += changed_contacts(
                    self.arrived_contacts, extract.header, run_date, self.rng
                )
                self.arrived_contacts += new_rows
            # A source with nothing new that night delivers no file: an empty
            # extract stops the night by design (the raw suites expect rows).
            if extract.rows:
                write_extract(
                    source, night_file(self.landing, source, run_date), extract
                )
        if night >= 2:
            withdraw_leads(self.landing, run_date - timedelta(days=1), self.rng)


def night_env(root: Path, run_date: date) -> dict[str, str]:
    return os.environ | {
        "CDP_WAREHOUSE": str(root / "warehouse.duckdb"),
        "CDP_LANDING_DIR": str(root / "landing"),
        "CDP_GROUND_TRUTH": str(root / "no_ground_truth.csv"),
        "CDP_OUTBOX": str(root / "outbox"),
        "CDP_REPORTS": str(root / "reports"),
        "CDP_RUN_DATE": run_date.isoformat(),
        "DAGSTER_HOME": str(root / "dagster"),
    }


def run_cdp(root: Path, run_date: date) -> float:
    started = time.monotonic()
    result = subprocess.run(
        [CDP, "run"],
        env=night_env(root, run_date),
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"cdp run for {run_date} failed with status {result.returncode}:\n"
            + result.stdout[-3000:]
            + result.stderr[-3000:]
        )
    return time.monotonic() - started


# Checks after each night.


def check_rows(con, landing: Path, result: NightResult) -> None:
    for source in SOURCES:
        for path in sorted((landing / source.landing_folder).iterdir()):
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
            logged = con.execute(
                "select status, rows_read, rows_loaded, rows_rejected, "
                "coalesce(rows_erased, 0) + coalesce(rows_purged, 0) "
                "from raw._load_log where file = ? and sha256 = ? "
                "and status in ('loaded', 'rejected')",
                [path.name, sha],
            ).fetchall()
            if len(logged) != 1:
                result.problems.append(f"{path.name}: {len(logged)} load log entries")
                continue
            status, read, loaded, rejected, removed = logged[0]
            result.files += 1
            result.rows_read += read or 0
            result.rows_loaded += loaded or 0
            result.rows_rejected += rejected or 0
            # Erasure and retention take their rows out of the landing file too.
            expected = count_rows(source, path) + removed
            if (
                status != "loaded"
                or read != expected
                or read != (loaded + rejected + removed)
            ):
                result.problems.append(
                    f"{path.name}: {status}, {expected - removed} rows in the file, "
                    f"read {read}, loaded {loaded}, rejected {rejected}, erased or "
                    f"purged {removed}"
                )
        check_raw_matches_log(con, source, result)


def check_raw_matches_log(con, source: Source, result: NightResult) -> None:
    loaded, rejected = con.execute(
        "select coalesce(sum(rows_loaded), 0), coalesce(sum(rows_rejected), 0) "
        "from raw._load_log where source = ? and status = 'loaded'",
        [source.name],
    ).fetchone()
    in_raw = con.execute(f"select count(*) from raw.{source.table}").fetchone()[0]
    in_rejects = con.execute(
        f"select count(*) from raw.{source.table}__rejects"
    ).fetchone()[0]
    if (in_raw, in_rejects) != (loaded, rejected):
        result.problems.append(
            f"raw.{source.table}: {in_raw} rows and {in_rejects} rejects, the load "
            f"log says {loaded} and {rejected}"
        )


def check_keys(con, result: NightResult) -> None:
    for table, key in PRIMARY_KEYS.items():
        duplicates = con.execute(
            f"select count(*) from (select {key} from {table} group by all "
            "having count(*) > 1)"
        ).fetchone()[0]
        nulls = con.execute(
            f"select count(*) from {table} where "
            + " or ".join(f"{c.strip()} is null" for c in key.split(","))
        ).fetchone()[0]
        if duplicates or nulls:
            result.problems.append(
                f"{table}: {duplicates} duplicate and {nulls} missing keys ({key})"
            )


def record_ids(con) -> dict[str, str]:
    return dict(
        con.execute(
            "select record_key, customer_id from identity.record_customers"
        ).fetchall()
    )


def history_rows(con) -> set[tuple]:
    return set(
        con.execute(
            "select old_customer_id, new_customer_id, change, run_id "
            "from identity.customer_id_history"
        ).fetchall()
    )


def check_ids(
    con, previous: dict[str, str], history_before: set[tuple], result: NightResult
) -> tuple[dict[str, str], set[tuple]]:
    """Check that every record whose customer id changed has a recorded change.

    Returns this night's record ids and history rows for the next night's check.
    """
    current = record_ids(con)
    history = history_rows(con)
    new_rows = history - history_before
    explained = {(old, new) for old, new, _, _ in new_rows}
    result.merges = sum(1 for row in new_rows if row[2] == "merge")
    result.splits = sum(1 for row in new_rows if row[2] == "split")

    lookup = dict(
        con.execute(
            "select customer_id, current_customer_id from identity.customer_id_lookup"
        ).fetchall()
    )
    changed = [
        (key, old, current[key])
        for key, old in previous.items()
        if key in current and current[key] != old
    ]
    result.ids_changed = len(changed)

    unexplained = [
        (key, old, new)
        for key, old, new in changed
        if (old, new) not in explained and lookup.get(old) != new
    ]
    if unexplained:
        key, old, new = unexplained[0]
        result.problems.append(
            f"{len(unexplained)} records changed customer id without a recorded "
            f"merge or split, e.g. {key}: {old} -> {new}"
        )
    result.records = len(current)
    result.customers = len(set(current.values()))
    return current, history


def check_lock(root: Path, result: NightResult) -> None:
    warehouse = root / "warehouse.duckdb"
    lock = lock_path_for(warehouse)
    if lock.exists():
        holder = read_holder(lock)
        if holder is not None:
            result.problems.append(f"{lock.name} still names a holder: {holder}")
        with lock.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(handle, fcntl.LOCK_UN)
            except BlockingIOError:
                result.problems.append(f"{lock.name} is still locked")
    wal = warehouse.with_name(warehouse.name + ".wal")
    if wal.exists():
        result.problems.append(f"{wal.name} left behind ({wal.stat().st_size} bytes)")


def block_usage(warehouse: Path) -> tuple[int, int]:
    """Return the used and free bytes of a DuckDB file, from its block counts."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        block_size, used, free = con.execute(
            "select block_size, used_blocks, free_blocks from pragma_database_size()"
        ).fetchone()
    return used * block_size, free * block_size


def check_rerun(root: Path, run_date: date, result: NightResult) -> None:
    warehouse = root / "warehouse.duckdb"
    used_before, _ = block_usage(warehouse)
    run_cdp(root, run_date)
    used_after, _ = block_usage(warehouse)
    growth = used_after - used_before
    result.rerun_growth_bytes = growth
    if growth > used_before * RERUN_GROWTH_LIMIT:
        result.problems.append(
            f"running {run_date} again added {growth:,} used bytes to the "
            f"warehouse, more than {RERUN_GROWTH_LIMIT:.0%} of {used_before:,}"
        )


# The soak itself.


def soak(
    root: Path,
    nights: int,
    customers: int,
    seed: int,
    report=None,
    rerun_first_night: bool = True,
):
    """Run ``nights`` nights under ``root``; return one ``NightResult`` per night.

    ``report`` is called with each result as soon as its checks ran.
    ``rerun_first_night`` runs the first night twice for the size check.
    """
    plan = Nights(root, customers, seed, nights)
    previous: dict[str, str] = {}
    history: set[tuple] = set()
    results = []
    for night in range(1, nights + 1):
        run_date = FIRST_NIGHT + timedelta(days=night - 1)
        plan.write(night)
        result = NightResult(night, run_date, run_cdp(root, run_date))
        with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
            check_rows(con, plan.landing, result)
            check_keys(con, result)
            previous, history = check_ids(con, previous, history, result)
        check_lock(root, result)
        if night == 1 and rerun_first_night:
            check_rerun(root, run_date, result)
            check_lock(root, result)
        result.warehouse_bytes = (root / "warehouse.duckdb").stat().st_size
        result.used_bytes, result.free_bytes = block_usage(root / "warehouse.duckdb")
        results.append(result)
        if report is not None:
            report(result)
    return results


def night_table(result: NightResult) -> Table:
    status = "[green]ok[/]" if not result.problems else "[red]FAILED[/]"
    table = Table(title=f"Night {result.night} ({result.run_date}): {status}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("cdp run seconds", f"{result.seconds:.0f}"),
        ("landing files checked", f"{result.files:,}"),
        (
            "rows read = loaded + rejected",
            f"{result.rows_read:,} = {result.rows_loaded:,} + {result.rows_rejected:,}",
        ),
        ("records / customers", f"{result.records:,} / {result.customers:,}"),
        ("merges / splits this night", f"{result.merges} / {result.splits}"),
        ("records with a changed id", f"{result.ids_changed:,}"),
        (
            "warehouse file / used / free bytes",
            f"{result.warehouse_bytes:,} / "
            f"{result.used_bytes:,} / {result.free_bytes:,}",
        ),
    ]
    if result.rerun_growth_bytes is not None:
        rows.append(
            ("used bytes added by a repeated run", f"{result.rerun_growth_bytes:,}")
        )
    for name, value in rows:
        table.add_row(name, value)
    for problem in result.problems:
        table.add_row("[red]problem[/]", problem)
    return table


def summary_table(results: list[NightResult]) -> Table:
    table = Table(title="Soak summary")
    for column in (
        "night",
        "run date",
        "seconds",
        "rows read",
        "customers",
        "merges",
        "splits",
        "file MB",
        "used MB",
        "file bytes added",
        "problems",
    ):
        table.add_column(column, justify="right")
    previous = 0
    for result in results:
        table.add_row(
            str(result.night),
            str(result.run_date),
            f"{result.seconds:.0f}",
            f"{result.rows_read:,}",
            f"{result.customers:,}",
            str(result.merges),
            str(result.splits),
            f"{result.warehouse_bytes / 1e6:.1f}",
            f"{result.used_bytes / 1e6:.1f}",
            f"{result.warehouse_bytes - previous:,}",
            str(len(result.problems)),
        )
        previous = result.warehouse_bytes
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.soak",
        description=(
            "Run the nightly job on consecutive nights of generated data and check "
            "row accounting, keys, customer ids, the run lock and the warehouse size."
        ),
    )
    parser.add_argument("--nights", type=int, default=20, help="number of nights")
    parser.add_argument(
        "--customers",
        type=int,
        default=300,
        help="customers in the generated sample, spread over nights",
    )
    parser.add_argument("--seed", type=int, default=3, help="generator seed")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=(
            "folder for the warehouse and landing files (kept); a temporary folder "
            "that is deleted afterwards when not given"
        ),
    )
    args = parser.parse_args(argv)
    if args.nights < 1 or args.customers < 1:
        parser.error("--nights and --customers must be at least 1")

    def report(result: NightResult) -> None:
        console.print(night_table(result))

    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        results = soak(args.out, args.nights, args.customers, args.seed, report)
    else:
        with tempfile.TemporaryDirectory(prefix="cdp_soak_") as scratch:
            results = soak(
                Path(scratch), args.nights, args.customers, args.seed, report
            )
    console.print(summary_table(results))
    failed = sum(len(r.problems) for r in results)
    console.print(f"{failed} problems in {len(results)} nights.")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
