"""Benchmark result storage: the JSON-lines history and the Markdown page sections."""

from __future__ import annotations

from benchmarks import records


def test_append_record_keeps_history(tmp_path):
    path = tmp_path / "results" / "example.jsonl"
    records.append_record(path, {"run": 1, "case": "café"})
    records.append_record(path, {"run": 2})

    assert records.read_records(path) == [{"run": 1, "case": "café"}, {"run": 2}]


def test_page_update_keeps_other_sections(tmp_path):
    page = tmp_path / "BENCHMARKS.md"
    records.update_page_section(page, "other", "## Other\n\nfirst")
    records.update_page_section(page, "ingestion_speed", "## Ingestion\n\nold")
    records.update_page_section(page, "ingestion_speed", "## Ingestion\n\nnew \\1")

    text = page.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks")
    assert "## Other\n\nfirst" in text
    assert "new \\1" in text
    assert "old" not in text
    assert text.index("## Other") < text.index("## Ingestion")
