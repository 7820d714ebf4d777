"""Great Expectations suites that stop bad data before it reaches a marketing tool.

The suites run on pandas frames read from the warehouse. They are small on purpose:
each expectation guards a promise the exports rely on (one row per customer, valid
contact fields, a consent flag on every row).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import pandas as pd

# Must be set before great_expectations is imported, or it sends usage statistics.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import great_expectations as gx
from great_expectations.data_context.types.base import ProgressBarsConfig

# Great Expectations logs its context setup at INFO on every validation.
logging.getLogger("great_expectations").setLevel(logging.WARNING)

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int | None


def dim_customers_suite() -> gx.ExpectationSuite:
    """Build the suite; Great Expectations needs an active context first."""
    suite = gx.ExpectationSuite(name="dim_customers")
    expectations = gx.expectations
    suite.add_expectation(
        expectations.ExpectColumnValuesToBeUnique(column="customer_id")
    )
    suite.add_expectation(
        expectations.ExpectColumnValuesToNotBeNull(column="customer_id")
    )
    suite.add_expectation(
        expectations.ExpectColumnValuesToMatchRegex(column="email", regex=EMAIL_PATTERN)
    )
    suite.add_expectation(
        expectations.ExpectColumnValuesToMatchRegex(column="phone", regex=E164_PATTERN)
    )
    suite.add_expectation(
        expectations.ExpectColumnValuesToNotBeNull(column="has_email_consent")
    )
    return suite


SUITES = {"dim_customers": dim_customers_suite}


def validate_frame(frame: pd.DataFrame, suite_name: str) -> list[ExpectationOutcome]:
    """Validate a frame against a named suite in an ephemeral, offline context."""
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    suite = SUITES[suite_name]()
    source = context.data_sources.add_pandas(name="warehouse")
    asset = source.add_dataframe_asset(name=suite.name)
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
        batch_parameters={"dataframe": frame}
    )
    suite = context.suites.add(suite)
    result = batch.validate(suite)
    return [
        ExpectationOutcome(
            expectation=r.expectation_config.type,
            column=r.expectation_config.kwargs.get("column"),
            success=bool(r.success),
            unexpected_count=r.result.get("unexpected_count"),
        )
        for r in result.results
    ]
