"""The ingestion benchmark on a tiny generated dataset, writing only under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import records
from benchmarks.ingestion_speed import NAME, run_benchmark
from ingestion.sources import SOURCES

CUSTOMERS = 200
SEED = 3

# Generating the dataset and writing 14 DuckDB files took 9 to 36 s on a 2-core
# machine shared with other jobs, so these tests run with make test-slow.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[dict, Path, Path]:
    folder = tmp_path_factory.mktemp("benchmark")
    results_file = folder / "results" / f"{NAME}.jsonl"
    page = folder / "BENCHMARKS.md"
    record = run_benchmark(
        CUSTOMERS,
        SEED,
        folder / "work",
        repeats=1,
        results_file=results_file,
        page=page,
    )
    return record, results_file, page


def test_record_appended_once(run):
    record, results_file, _page = run
    stored = records.read_records(results_file)
    assert stored == [record]


def test_record_describes_run(run):
    record, _results_file, _page = run
    assert record["benchmark"] == NAME
    assert record["timestamp"]
    assert set(record["git"]) == {"commit", "uncommitted_changes"}
    assert set(record["machine"]) == {"platform", "cpu_model", "cores", "ram_gib"}
    assert record["machine"]["cores"] >= 1
    assert set(record["versions"]) == {"python", "duckdb"}
    assert record["parameters"]["customers"] == CUSTOMERS
    assert record["parameters"]["seed"] == SEED
    assert record["parameters"]["repeats"] == 1
    assert record["parameters"]["target_ratio"] == 0.5


def test_every_source_and_gzip_measured(run):
    record, _results_file, _page = run
    sources = {figure["source"] for figure in record["results"]}
    assert sources == {source.name for source in SOURCES}
    gzip_cases = [figure for figure in record["results"] if figure["gzip"]]
    assert len(gzip_cases) == 1


@pytest.mark.parametrize(
    "field", ["bare_rows_per_second", "ours_rows_per_second", "ratio"]
)
def test_rates_positive(run, field):
    record, _results_file, _page = run
    for figure in record["results"]:
        assert figure[field] > 0, figure["case"]


def test_bare_and_ours_count_same_rows(run):
    record, _results_file, _page = run
    for figure in record["results"]:
        assert figure["ours_rows"] > 0, figure["case"]
        assert figure["bare_rows"] == figure["ours_rows"], figure["case"]


def test_verdict_follows_ratio(run):
    record, _results_file, _page = run
    for figure in record["results"]:
        assert figure["meets_target"] == (figure["ratio"] >= 0.5), figure["case"]
    expected = all(figure["meets_target"] for figure in record["results"])
    assert record["meets_target"] == expected


def test_page_section_written(run):
    record, _results_file, page = run
    text = page.read_text(encoding="utf-8")
    assert text.count(records.start_marker(NAME)) == 1
    assert text.count(records.end_marker(NAME)) == 1
    for figure in record["results"]:
        assert f"| {figure['case']} |" in text
