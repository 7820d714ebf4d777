"""Chunked writers for the landing files and the record list behind the ground truth.

Writers render ``CHUNK_ROWS`` rows at a time, so memory stays flat for a million
persons, and can spread chunks over forked processes. Renderers take a row range and
must not draw random numbers, which keeps the output independent of the chunk size
and of the number of processes.
"""

from __future__ import annotations

import csv
import io
import multiprocessing as mp
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from ingestion.sources import Source

CHUNK_ROWS = 50_000

Progress = Callable[[str, int, int], None]
ColumnRenderer = Callable[[int, int], Sequence[Sequence[str]]]
LineRenderer = Callable[[int, int], Sequence[str]]
TextRenderer = Callable[[int, int], str]


@dataclass
class Subscriptions:
    """Marketing e-mail opt-ins a source passes to the e-mail platform: the address
    as the source stores it, the person and the opt-in time in epoch seconds."""

    addresses: list[str]
    persons: np.ndarray
    times: np.ndarray


@dataclass
class Extract:
    """One landing file and its person records (grain: one row per record).

    ``record_times`` (epoch seconds) is set by sources whose records other sources
    refer to, such as orders that tickets mention.
    """

    source: Source
    path: Path
    rows: int
    record_ids: np.ndarray
    persons: np.ndarray
    subscriptions: Subscriptions | None = None
    record_times: np.ndarray | None = None


def landing_path(out: Path, source: Source, as_of: date) -> Path:
    """Return out/landing/<source>/<file_pattern with * as the as-of date>."""
    file_name = source.file_pattern.replace("*", as_of.isoformat())
    return out / "landing" / source.landing_folder / file_name


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: int,
    render: ColumnRenderer,
    report: Callable[[int, int], None],
    processes: int = 1,
) -> None:
    """Write a CSV with "\\n" line ends and minimal quoting, as Shopify and HubSpot
    export. ``render(start, stop)`` returns the columns of those rows."""

    def render_text(start: int, stop: int) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(
            zip(*render(start, stop), strict=True)
        )
        return buffer.getvalue()

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerow(header)
        for stop, text in rendered_chunks(render_text, rows, processes):
            handle.write(text)
            report(stop, rows)


def write_lines(
    path: Path, rows: int, render: LineRenderer, report, processes: int = 1
) -> None:
    """Write one text line per row, e.g. JSON lines."""

    def render_text(start: int, stop: int) -> str:
        lines = render(start, stop)
        return "\n".join(lines) + "\n" if lines else ""

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for stop, text in rendered_chunks(render_text, rows, processes):
            handle.write(text)
            report(stop, rows)


def write_json_records(
    path: Path, key: str | None, rows: int, render: LineRenderer, report
) -> None:
    """Write {"<key>": [record, ...]} with one record per line, as helpdesk APIs
    page their exports. ``render`` returns records already encoded as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(f'{{"{key}": [')
        for start in range(0, rows, CHUNK_ROWS):
            stop = min(start + CHUNK_ROWS, rows)
            separator = "\n" if start == 0 else ",\n"
            handle.write(separator + ",\n".join(render(start, stop)))
            report(stop, rows)
        handle.write("\n]}\n")


def rendered_chunks(
    render: TextRenderer, rows: int, processes: int
) -> Iterator[tuple[int, str]]:
    """Yield (stop, text) per chunk of ``CHUNK_ROWS`` rows, in row order.

    With ``processes`` > 1 and the fork start method (Linux), forked workers render
    the chunks and inherit the plan without pickling it. Renderers draw no random
    numbers, so the text is the same either way.
    """
    bounds = [
        (start, min(start + CHUNK_ROWS, rows)) for start in range(0, rows, CHUNK_ROWS)
    ]
    if processes < 2 or len(bounds) < 2 or "fork" not in mp.get_all_start_methods():
        for start, stop in bounds:
            yield stop, render(start, stop)
        return

    global _worker_render
    _worker_render = render
    try:
        with mp.get_context("fork").Pool(processes) as pool:
            for (_, stop), text in zip(
                bounds, pool.imap(_render_in_worker, bounds), strict=True
            ):
                yield stop, text
    finally:
        _worker_render = None


_worker_render: TextRenderer | None = None


def _render_in_worker(bounds: tuple[int, int]) -> str:
    assert _worker_render is not None, (
        "rendered_chunks sets the renderer before forking"
    )
    return _worker_render(*bounds)


def column_headers(source: Source) -> list[str]:
    """Return the export headers of a source, in contract order."""
    return list(source.columns)
