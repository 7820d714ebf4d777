"""Great Expectations suites that stop bad data before it reaches a marketing tool.

The suites run on pandas frames read from the warehouse. They are small on purpose:
each expectation guards a promise the exports rely on (one row per customer, valid
contact fields, a consent flag on every row).
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from dataclasses import dataclass, field

import pandas as pd

# Must be set before great_expectations is imported, or it sends usage statistics.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
# Great Expectations imports pyspark when it is installed (for the Spark engine), and
# pyspark warns on import that it has not been tested with pandas 3. The suites here
# validate pandas frames and never touch Spark.
warnings.filterwarnings(
    "ignore",
    message="PySpark does not yet fully support pandas",
    category=FutureWarning,
)


def _block_spark_connect_in_inline_code() -> None:
    """Make importing Spark Connect fail with ImportError in ``python -c`` code.

    Great Expectations tries to import Spark Connect when pyspark is installed. In a
    program without a main file (``python -c``, a script on stdin), pyspark takes the
    import for its own doctests and calls ``sys.exit(0)`` when the Spark Connect
    packages are missing, which silently ended such programs. Elsewhere the same
    import raises ImportError, which Great Expectations handles.
    """
    main = sys.modules.get("__main__")
    inline = (
        main is not None
        and getattr(main, "__spec__", None) is None
        and not hasattr(main, "__file__")
        and not hasattr(sys, "ps1")
    )
    if inline:
        sys.modules.setdefault("pyspark.sql.connect", None)


_block_spark_connect_in_inline_code()

import great_expectations as gx  # noqa: E402 (after the guard above)
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402

# Great Expectations logs its context setup at INFO on every validation. One module
# sets its own logger to INFO, so the parent's level does not reach it.
logging.getLogger("great_expectations").setLevel(logging.WARNING)
logging.getLogger("great_expectations.data_context.types.base").setLevel(
    logging.WARNING
)

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"


@dataclass(frozen=True)
class ExpectationOutcome:
    """The result of one expectation, as Great Expectations reports it.

    ``unexpected_percent`` is the share of non-null rows for most column
    expectations, but of all rows for ``expect_column_values_to_not_be_null``.
    ``observed_value`` is set by table-level expectations such as the row count.
    """

    expectation: str
    column: str | None
    success: bool
    unexpected_count: int | None
    severity: str = "critical"
    unexpected_percent: float | None = None
    observed_value: object = None
    mostly: float | None = None


@dataclass(frozen=True)
class TableRules:
    """Data-quality rules for one table: a raw extract or a staging model.

    Every suite also expects at least one row (critical). ``unique`` columns must
    not repeat, ignoring nulls, and ``not_null`` columns must have a value on every
    row (both critical). ``warn_unique`` columns should not repeat, and a repeat
    only records a warning. ``min_present`` maps a column to the minimum share of rows
    that carry a value: below it the table is treated as broken (critical).
    ``warn_present`` contains stricter shares that only record a warning.
    ``non_negative`` columns must be zero or more where they have a value
    (critical).
    """

    unique: tuple[str, ...] = ()
    warn_unique: tuple[str, ...] = ()
    not_null: tuple[str, ...] = ()
    min_present: dict[str, float] = field(default_factory=dict)
    warn_present: dict[str, float] = field(default_factory=dict)
    non_negative: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        names = [
            *self.unique,
            *self.warn_unique,
            *self.not_null,
            *self.min_present,
            *self.warn_present,
            *self.non_negative,
        ]
        return list(dict.fromkeys(names))


# Shares measured on the shipped sample: CRM email missing on 6% of contacts, shop
# email on 44% of rows (it is filled on the first line item of an order only),
# helpdesk requester email on 6% of tickets. The critical floors sit far below
# those, so only a broken export trips them.
RAW_RULES = {
    "crm_contacts": TableRules(
        unique=("record_id",),
        min_present={"email": 0.5},
        warn_present={"email": 0.85},
    ),
    "shop_orders": TableRules(min_present={"email": 0.2}, warn_present={"email": 0.45}),
    # Segment delivers each message at least once, and stg_web__events keeps one
    # delivery per message and sender, so a repeated messageId is only a warning.
    "web_events": TableRules(
        warn_unique=("message_id",),
        min_present={"received_at": 0.9},
        warn_present={"received_at": 0.99},
    ),
    "email_activity": TableRules(
        min_present={"timestamp": 0.9}, warn_present={"timestamp": 0.99}
    ),
    "helpdesk_tickets": TableRules(
        unique=("ticket_id",),
        min_present={"requester_email": 0.5},
        warn_present={"requester_email": 0.85},
    ),
    "social_leads": TableRules(
        unique=("lead_id",),
        min_present={"email": 0.5},
        warn_present={"email": 0.9},
    ),
}


# Staging models gated by a blocking check before identity resolution and the marts.
# Keys are the dbt model names; the models live in schema ``staging``. Shares
# measured on a generated set of 40 customers (`cdp generate --seed 3`): contacts
# without an email 6%, orders without a total 0%, events without occurred_at 0%.
# The critical floors sit far below those, so only a broken night trips them.
STAGING_RULES = {
    "stg_crm__contacts": TableRules(
        unique=("contact_id",),
        not_null=("contact_id",),
        min_present={"email": 0.5},
        warn_present={"email": 0.85},
    ),
    "stg_shop__orders": TableRules(
        unique=("order_id",),
        not_null=("order_id",),
        non_negative=("total",),
        min_present={"total": 0.9},
        warn_present={"total": 0.99},
    ),
    "stg_web__events": TableRules(
        unique=("event_id",),
        not_null=("event_id",),
        min_present={"occurred_at": 0.9},
        warn_present={"occurred_at": 0.99},
    ),
}


def table_suite(name: str, rules: TableRules) -> gx.ExpectationSuite:
    """Build a suite from a table's rules; every expectation carries its severity."""
    expectations = gx.expectations
    suite = gx.ExpectationSuite(name=name)
    suite.add_expectation(
        expectations.ExpectTableRowCountToBeBetween(min_value=1, severity="critical")
    )
    for column in rules.unique:
        suite.add_expectation(
            expectations.ExpectColumnValuesToBeUnique(
                column=column, severity="critical"
            )
        )
    for column in rules.warn_unique:
        suite.add_expectation(
            expectations.ExpectColumnValuesToBeUnique(column=column, severity="warning")
        )
    for column in rules.not_null:
        suite.add_expectation(
            expectations.ExpectColumnValuesToNotBeNull(
                column=column, severity="critical"
            )
        )
    for column, share in rules.min_present.items():
        suite.add_expectation(
            expectations.ExpectColumnValuesToNotBeNull(
                column=column, mostly=share, severity="critical"
            )
        )
    for column, share in rules.warn_present.items():
        suite.add_expectation(
            expectations.ExpectColumnValuesToNotBeNull(
                column=column, mostly=share, severity="warning"
            )
        )
    for column in rules.non_negative:
        suite.add_expectation(
            expectations.ExpectColumnValuesToBeBetween(
                column=column, min_value=0, severity="critical"
            )
        )
    return suite


def raw_rules(name: str) -> TableRules:
    """Return the rules of raw source ``name``.

    A source without an entry in ``RAW_RULES`` gets the rules every suite has: at
    least one row.
    """
    return RAW_RULES.get(name, TableRules())


def raw_source_suite(name: str) -> gx.ExpectationSuite:
    """Build the suite for the newest extract of a raw source."""
    return table_suite(f"raw_{name}", raw_rules(name))


def staging_model_suite(model: str) -> gx.ExpectationSuite:
    """Build the suite for a staging model, named like the model."""
    return table_suite(model, STAGING_RULES[model])


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


SUITES = (
    {"dim_customers": dim_customers_suite}
    | {f"raw_{name}": (lambda name=name: raw_source_suite(name)) for name in RAW_RULES}
    | {
        model: (lambda model=model: staging_model_suite(model))
        for model in STAGING_RULES
    }
)


def _build_suite(suite_name: str) -> gx.ExpectationSuite:
    if suite_name in SUITES:
        return SUITES[suite_name]()
    if suite_name.startswith("raw_"):
        # A raw source without an entry in RAW_RULES gets the default rules.
        return raw_source_suite(suite_name.removeprefix("raw_"))
    raise KeyError(f"unknown suite {suite_name!r}; expected one of {sorted(SUITES)}")


def _severity_name(config) -> str:
    severity = getattr(config, "severity", None)
    return getattr(severity, "value", None) or "critical"


def describe_critical(outcomes: list[ExpectationOutcome]) -> str:
    """Describe the failed critical expectations with counts, never with values."""
    parts = []
    for outcome in outcomes:
        if outcome.success or outcome.severity != "critical":
            continue
        target = f"{outcome.expectation}({outcome.column or ''})"
        if outcome.unexpected_count is not None:
            parts.append(f"{target}: {outcome.unexpected_count} unexpected rows")
        elif outcome.observed_value is not None:
            parts.append(f"{target}: observed {outcome.observed_value}")
        else:
            parts.append(target)
    return "; ".join(parts)


def validate_frame(frame: pd.DataFrame, suite_name: str) -> list[ExpectationOutcome]:
    """Validate a frame against a named suite in an ephemeral, offline context."""
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    suite = _build_suite(suite_name)
    source = context.data_sources.add_pandas(name="warehouse")
    try:
        asset = source.add_dataframe_asset(name=suite.name)
        batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
            batch_parameters={"dataframe": frame}
        )
        suite = context.suites.add(suite)
        result = batch.validate(suite)
    finally:
        # Great Expectations keeps the batch, and so the frame, reachable from its
        # project context until the data source goes, so the last frame validated
        # stayed in the run's memory beside the next steps.
        context.data_sources.delete(source.name)
    return [_outcome(r) for r in result.results]


def _outcome(result) -> ExpectationOutcome:
    config = result.expectation_config
    details = result.result or {}
    percent = details.get("unexpected_percent")
    return ExpectationOutcome(
        expectation=config.type,
        column=config.kwargs.get("column"),
        success=bool(result.success),
        unexpected_count=details.get("unexpected_count"),
        severity=_severity_name(config),
        unexpected_percent=None if percent is None else float(percent),
        observed_value=details.get("observed_value"),
        mostly=config.kwargs.get("mostly"),
    )
