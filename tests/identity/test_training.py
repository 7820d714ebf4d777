"""How train_linker reports whether each EM session converged."""

from __future__ import annotations

import dataclasses
import logging
from datetime import date, timedelta

import pytest

from identity.graph import build_identifier_links
from identity.scratch import scratch_database
from identity.splink_model import (
    create_linker,
    model_settings,
    prepare_matching_records,
)
from identity.training import (
    DETERMINISTIC_RULES_RECALL,
    EM_BLOCKING_RULES,
    estimate_prior,
    train_linker,
)


@pytest.fixture
def train(build_warehouse, synthetic_population, caplog):
    """``train(max_iterations)`` trains on 150 synthetic persons and returns reports."""
    con = build_warehouse(synthetic_population(150, seed=2))

    def run(max_iterations: int):
        settings = dataclasses.replace(model_settings(), max_iterations=max_iterations)
        with scratch_database(con) as splink_cursor:
            build_identifier_links(con)
            prepare_matching_records(con)
            linker = create_linker(splink_cursor, settings)
            with caplog.at_level(logging.INFO, logger="identity.training"):
                return train_linker(linker)

    return run


def em_messages(caplog) -> list[tuple[int, str]]:
    return [
        (record.levelno, record.getMessage())
        for record in caplog.records
        if "EM" in record.getMessage()
    ]


def test_iteration_limit_is_not_reported_as_converged(train, caplog):
    reports = train(max_iterations=1)

    assert len(reports) == len(EM_BLOCKING_RULES)
    assert not any(report.converged for report in reports)
    assert all(report.iterations == 1 for report in reports)
    messages = em_messages(caplog)
    warnings = [text for level, text in messages if level == logging.WARNING]
    assert len(warnings) == len(EM_BLOCKING_RULES)
    assert all("did not converge within 1 iterations" in text for text in warnings)
    assert not any("converged after" in text for _, text in messages)


def test_converged_sessions_are_reported(train, caplog):
    reports = train(max_iterations=200)

    assert all(report.converged for report in reports)
    assert all(report.iterations < 200 for report in reports)
    messages = em_messages(caplog)
    assert not any("did not converge" in text for _, text in messages)
    converged = [text for _, text in messages if "converged after" in text]
    assert len(converged) == len(EM_BLOCKING_RULES)


def prior_of(build_warehouse, person_record, persons: int) -> float | None:
    """Estimate the prior on ``persons`` persons with two records each."""
    records = []
    for person in range(persons):
        for copy in ("a", "b"):
            records.append(
                person_record(
                    "crm_contacts",
                    f"{person}{copy}",
                    first_name=f"first{person}",
                    last_name=f"last{person}",
                    birth_date=date(1950, 1, 1) + timedelta(days=person),
                )
            )
    con = build_warehouse(records)
    with scratch_database(con) as splink_cursor:
        build_identifier_links(con)
        prepare_matching_records(con)
        return estimate_prior(splink_cursor)


def test_prior_falls_with_number_of_records(build_warehouse, person_record):
    prior = prior_of(build_warehouse, person_record, 200)

    records = 400
    expected = 200 / DETERMINISTIC_RULES_RECALL / (records * (records - 1) / 2)
    assert prior == pytest.approx(expected)


def test_prior_not_estimated_from_few_pairs(build_warehouse, person_record):
    assert prior_of(build_warehouse, person_record, 20) is None
