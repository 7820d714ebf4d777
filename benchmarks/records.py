"""Store benchmark results: a JSON-lines history and one section per benchmark in a
Markdown page.

A section sits between ``<!-- benchmark:<name>:start -->`` and
``<!-- benchmark:<name>:end -->``. ``update_page_section`` replaces only the text
between the two markers of one benchmark, and appends a new section at the end of
the page when the markers are missing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPOSITORY / "benchmarks" / "results"
BENCHMARKS_PAGE = REPOSITORY / "BENCHMARKS.md"

PAGE_HEADER = """# Benchmarks

Each section is written by the benchmark it names and shows that benchmark's latest
run. Every run also appends a JSON record (figures, parameters, machine, commit) to
`benchmarks/results/<benchmark>.jsonl`, which keeps the history.
"""


def append_record(path: Path, record: dict) -> None:
    """Append one record as a single JSON line, creating the file if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")


def read_records(path: Path) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def start_marker(name: str) -> str:
    return f"<!-- benchmark:{name}:start -->"


def end_marker(name: str) -> str:
    return f"<!-- benchmark:{name}:end -->"


def update_page_section(page: Path, name: str, body: str) -> None:
    """Replace the section of benchmark ``name`` in ``page`` with ``body``."""
    text = page.read_text(encoding="utf-8") if page.is_file() else PAGE_HEADER
    section = f"{start_marker(name)}\n{body.strip()}\n{end_marker(name)}"
    pattern = re.compile(
        re.escape(start_marker(name)) + r".*?" + re.escape(end_marker(name)),
        re.DOTALL,
    )
    if pattern.search(text):
        # A function as replacement, so backslashes in the body stay literal.
        text = pattern.sub(lambda _match: section, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    page.write_text(text, encoding="utf-8")
