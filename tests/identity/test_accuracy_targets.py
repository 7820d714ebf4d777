"""The accuracy targets and the benchmark's Markdown section, on hand-made scores."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from identity.benchmark import __main__ as benchmark
from identity.benchmark.runner import EXACT_EMAIL, PROJECT, MethodResult
from identity.benchmark.targets import check_targets


def result(dataset: str, method: str = PROJECT, **scores) -> MethodResult:
    return MethodResult(dataset, method, 1000, 1.5, "test scores", **scores)


def test_hard_mode_reads_linkable_recall():
    checks = check_targets(
        [result("hard", precision=0.995, recall=0.94, linkable_recall=0.98)]
    )

    assert [(c.score, c.value, c.passed) for c in checks] == [
        ("precision", 0.995, True),
        ("recall, linkable", 0.98, True),
    ]


@pytest.mark.parametrize(
    ("precision", "linkable_recall", "failing"),
    [
        (0.989, 0.98, "precision"),
        (0.995, 0.969, "recall, linkable"),
        (0.995, None, "recall, linkable"),
    ],
)
def test_hard_mode_below_target_fails(precision, linkable_recall, failing):
    checks = check_targets(
        [result("hard", precision=precision, linkable_recall=linkable_recall)]
    )

    assert [c.score for c in checks if not c.passed] == [failing]


def test_febrl3_reads_f1_of_this_project_only():
    checks = check_targets(
        [
            result("febrl3", method=EXACT_EMAIL, f1=0.2),
            result("febrl3", f1=0.9945),
        ]
    )

    assert [(c.dataset, c.score, c.passed) for c in checks] == [("febrl3", "F1", True)]


def test_page_section_lists_scores_and_verdicts(tmp_path: Path):
    arguments = argparse.Namespace(dataset="hard", customers=1000, seed=42)
    results = [result("hard", precision=0.995, recall=0.94, linkable_recall=0.96)]
    record = benchmark.append_record(
        tmp_path / "results.jsonl", arguments, results, check_targets(results)
    )
    page = tmp_path / "BENCHMARKS.md"
    page.write_text("# Benchmarks\n\nOther sections stay.\n", encoding="utf-8")

    benchmark.write_page_section(page, record)
    benchmark.write_page_section(page, record)

    text = page.read_text(encoding="utf-8")
    assert "Other sections stay." in text
    assert text.count("## Identity resolution accuracy") == 1
    assert "| hard | this project | 1,000 | 0.9950 | 0.9400 |" in text
    assert "- hard, precision at least 0.99: 0.9950 (pass)" in text
    assert "- hard, recall, linkable at least 0.97: 0.9600 (FAIL)" in text
