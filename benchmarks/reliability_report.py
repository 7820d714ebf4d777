"""Run the fault and bad-input tests and write RELIABILITY.md with their results.

``python -m benchmarks.reliability_report`` (``make reliability-report``) runs each
group in ``GROUPS`` with pytest, one group at a time, and rewrites RELIABILITY.md
with what each group injects, its pass and fail counts, the date and the command.
``--only NAME`` runs some groups and keeps the recorded results of the others. The
20-night soak is not run here: ``make soak`` prints its own tables.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REPORT = PROJECT_ROOT / "RELIABILITY.md"
RESULT_LINE = re.compile(r"^\| (?P<name>[^|]+?) \| .* \| (?P<result>[^|]*) \|$")
SUMMARY_COUNTS = re.compile(r"(\d+) (passed|failed|error|errors|skipped)")


@dataclass(frozen=True)
class Group:
    """Tests that inject one kind of fault, and what they inject."""

    name: str
    tests: tuple[str, ...]
    injects: str
    keyword: str | None = None


GROUPS = (
    Group(
        "bad landing files",
        ("tests/ingestion/test_bad_files.py",),
        "One bad file among valid extracts of every source: truncated Parquet, "
        "0-byte CSV, JSON lines and Parquet, truncated .csv.gz, invalid UTF-8 in a "
        "data row and in the header, random bytes and a PNG named .csv, a 100 MiB "
        "line without line break in CSV and JSON lines, a JSON lines file with a "
        "broken line.",
    ),
    Group(
        "loader and reader bad input",
        ("tests/ingestion/test_loader.py", "tests/ingestion/test_readers.py"),
        "Broken, truncated and CRC-corrupt gzip, broken Parquet footers, truncated "
        "JSON and a JSON number of 5,000 digits, invalid UTF-8 and Windows-1252 "
        "bytes, unknown encodings, duplicate and missing headers, extra columns, summary lines, "
        "empty files, re-delivered files.",
        keyword="broken or truncated or invalid or unknown or duplicate or missing "
        "or empty or unreadable or footer or redelivered or bad",
    ),
    Group(
        "loader killed mid-load",
        ("tests/ingestion/test_loader.py",),
        "SIGKILL of a loader process during the first and during the second of two "
        "200,000-row CRM files, then a restart; raw must equal a clean load.",
        keyword="kill",
    ),
    Group(
        "run lock",
        ("tests/orchestration/test_run_lock.py",),
        "A second run, thread or Dagster run while the lock is held; lock timeouts; "
        "a DuckDB file held by another process.",
    ),
    Group(
        "concurrent runs",
        ("tests/orchestration/test_concurrent_runs.py",),
        "Two real processes (cdp run and a Dagster run) started on one warehouse.",
    ),
    Group(
        "staging gates",
        ("tests/orchestration/test_staging_gates.py",),
        "A negative order total in a real nightly run; the staging suite must stop "
        "identity, marts and exports.",
    ),
    Group(
        "rejected source file stops exports",
        ("tests/test_end_to_end.py",),
        "A CRM extract without its required email column in a real nightly run.",
        keyword="rejected_source_file",
    ),
    Group(
        "normalizer fuzzing",
        ("tests/ingestion/test_normalizers_fuzz.py",),
        "Hypothesis-generated text for the email, phone, name, postal-code and "
        "country normalizers: no exception, idempotent, Unicode forms and case.",
    ),
    Group(
        "typed column fuzzing",
        ("tests/ingestion/test_column_types_fuzz.py",),
        "Hypothesis-generated text for the decimal, integer and timestamp parsers "
        "of German and ISO contracts in DuckDB: no error, and values written in the "
        "source's format parse back to themselves.",
    ),
    Group(
        "destination normalizer fuzzing",
        ("tests/activation/test_vendors_fuzz.py",),
        "Hypothesis-generated text for the Mailchimp, Google Ads and Meta "
        "normalizers: only InvalidValue refusals, idempotent, hashes never hashed "
        "twice, UTF-8 cut on character boundaries.",
    ),
    Group(
        "identity comparison budget",
        ("tests/identity/test_splink_budget.py",),
        "Blocking rules that would generate more pairs than the budget allows.",
    ),
    Group(
        "HTTP destination faults",
        ("tests/activation/test_http.py",),
        "A local server that answers 429 with Retry-After, 500, slow responses "
        "past the timeout, rejected rows and a 422 batch; retries must send only "
        "the failed rows.",
    ),
    Group(
        "determinism",
        ("tests/test_determinism.py",),
        "The same extracts with rows shuffled within each file, run in a second "
        "warehouse; customers, traits, segments and audience files must match.",
    ),
    Group(
        "soak, 3 nights",
        ("tests/test_soak.py",),
        "Three nights of new persons, changed CRM contacts and withdrawn social "
        "leads on one warehouse; row accounting, keys, id history and the lock.",
    ),
)


def pytest_command(group: Group) -> list[str]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += list(group.tests)
    if group.keyword:
        command += ["-k", group.keyword]
    return command


def run_group(group: Group) -> str:
    """Run one group; return its result cell, e.g. ``pass (12 passed, 41 s)``."""
    started = time.monotonic()
    completed = subprocess.run(
        pytest_command(group),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    last = completed.stdout.strip().splitlines()[-1] if completed.stdout else ""
    counts = ", ".join(f"{n} {word}" for n, word in SUMMARY_COUNTS.findall(last))
    verdict = "pass" if completed.returncode == 0 else "FAIL"
    return f"{verdict} ({counts or 'no summary'}, {seconds:.0f} s, {date.today()})"


def recorded_results() -> dict[str, str]:
    if not REPORT.exists():
        return {}
    results = {}
    for line in REPORT.read_text(encoding="utf-8").splitlines():
        match = RESULT_LINE.match(line)
        if match:
            results[match["name"]] = match["result"]
    return results


def command_text(group: Group) -> str:
    tests = " ".join(group.tests)
    keyword = f' -k "{group.keyword}"' if group.keyword else ""
    return f"`pytest {tests}{keyword}`"


def render(results: dict[str, str]) -> str:
    lines = [
        "# Reliability",
        "",
        "Fault and bad-input tests of this repository: what each one injects and "
        "its last result. `make reliability-report` runs them one group at a time "
        "and rewrites this file (`.venv/bin/python -m benchmarks.reliability_report "
        '--only "run lock"` runs one group). Commands run from the repository root '
        "with `.venv/bin/python -m`.",
        "",
        "| group | injects | command | last result |",
        "|---|---|---|---|",
    ]
    for group in GROUPS:
        result = results.get(group.name, "not run")
        lines.append(
            f"| {group.name} | {group.injects} | {command_text(group)} | {result} |"
        )
    lines += [
        "",
        "## Soak",
        "",
        "`make soak` runs 20 nights (`make soak NIGHTS=5` for fewer) through "
        "`benchmarks/soak.py` and prints a table per night: rows read, loaded and "
        "rejected, customers, merges and splits, records whose id changed, and "
        "warehouse bytes, with any failed check. It also runs the first night twice "
        "and fails when that adds more than 10% to the warehouse's used blocks. "
        "Its module docstring lists the checks. The 3-night version runs in "
        "`make test` (group above), without the repeated night.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reliability_report")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="run only this group (repeatable); other groups keep their result",
    )
    args = parser.parse_args(argv)
    names = {group.name for group in GROUPS}
    unknown = sorted(set(args.only) - names)
    if unknown:
        parser.error(f"unknown group(s): {', '.join(unknown)}; known: {sorted(names)}")

    results = recorded_results()
    failed = 0
    for group in GROUPS:
        if args.only and group.name not in args.only:
            continue
        print(f"running {group.name}: {' '.join(pytest_command(group)[1:])}")
        results[group.name] = run_group(group)
        print(f"  {results[group.name]}")
        failed += results[group.name].startswith("FAIL")
    REPORT.write_text(render(results), encoding="utf-8")
    print(f"wrote {REPORT}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
