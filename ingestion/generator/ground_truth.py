"""The ground truth: which true person is behind each source record.

Grain: one row per source record, keyed as the identity resolution keys records
(``source:source_record_id``). Only the accuracy evaluation of identity resolution
reads it, never the pipeline.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ingestion.generator.writers import Extract

HEADER = ("source", "source_record_id", "person_id")


def person_ids(persons: np.ndarray) -> np.ndarray:
    """Format person indexes as ids: 0 -> "P00000001"."""
    if len(persons) == 0:
        return np.array([], dtype=str)
    return np.strings.add("P", np.strings.zfill((persons + 1).astype(str), 8))


def ground_truth_path(out: Path) -> Path:
    return out / "ground_truth" / "ground_truth.csv"


def write_ground_truth(out: Path, extracts: list[Extract], report) -> int:
    """Write one row per record of every extract and return the number of rows."""
    path = ground_truth_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    total = sum(len(extract.record_ids) for extract in extracts)
    written = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(HEADER) + "\n")
        for extract in extracts:
            handle.write(_rows_text(extract))
            written += len(extract.record_ids)
            report(written, total)
    return written


def _rows_text(extract: Extract) -> str:
    """Render the rows of one extract as CSV text.

    Record ids rarely need quoting, so plain joining is the fast path. The csv module
    writes the few extracts whose ids contain a comma, quote or line break.
    """
    name = extract.source.name
    records = extract.record_ids.astype(str)
    persons = person_ids(extract.persons).tolist()
    if not any(
        np.strings.find(records, char).max(initial=-1) >= 0 for char in ',"\r\n'
    ):
        return "".join(
            f"{name},{record},{person}\n"
            for record, person in zip(records.tolist(), persons, strict=True)
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(
        (name, record, person) for record, person in zip(records, persons, strict=True)
    )
    return buffer.getvalue()
