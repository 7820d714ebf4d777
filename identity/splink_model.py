"""The Splink model: matching columns, comparisons and blocking rules in one place.

The trained model lives in ``identity/model/splink_model.json`` and is reused on every
run, so match probabilities do not drift from night to night. Only the prior follows
the number of records: each run estimates it again (``training.estimate_prior``).
``training.train_model`` rebuilds the model from ``model_settings()``; a change to the
settings here takes effect only after retraining. The saved model was trained on a
hard-mode sample (``ingestion.generator.hard_mode``, 3,000 customers, seed 7), which
has households, twins and movers. The accuracy benchmark scores a sample from another
seed.

Matching columns are prepared in SQL from ``intermediate.int_person_records`` with the
expressions in ``identity.normalize``: names, street and city lower-cased with umlauts
folded (ä -> ae, ö -> oe, ü -> ue, ß -> ss) and other accents stripped, so "Müller",
"MUELLER" and "Mueller" compare equal.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.blocking_analysis import count_comparisons_from_blocking_rules
from splink.blocking_rule_library import CustomRule
from splink.internals.blocking import BlockingRule
from splink.internals.dialects import SplinkDialect
from splink.internals.splink_dataframe import SplinkDataFrame

from identity.graph import SKIPPED
from identity.normalize import (
    fold_text_sql,
    phone_placeholder_condition,
    placeholder_condition,
    street_sql,
)
from identity.sql import fetch_value
from identity.tables import PERSON_RECORDS, scratch_table

logger = logging.getLogger(__name__)

DEFAULT_MODEL_PATH = Path(__file__).parent / "model" / "splink_model.json"

# Splink resolves the input table by its bare name in the scratch database, and looks
# its columns up in information_schema by that name, so the name must be unique across
# every attached database.
MATCHING_RECORDS_NAME = "identity_matching_records"
MATCHING_RECORDS = scratch_table(MATCHING_RECORDS_NAME)
SPLINK_LINKS = scratch_table("splink_links")
# Every pair scored at or above the review band's lower bound, with the comparison
# vector (gamma_*) and per-comparison match weight (mw_*, mw_tf_adj_*) columns but
# without the compared values, for explanations and the review queue.
# Splink 5.0.0 writes each comparison's log2 Bayes factor as mw_<comparison>.
SCORED_PAIRS = scratch_table("splink_scored_pairs")

# Each record's identifier component (``clustering.label_identifier_components``), a
# column of the matching records when Splink skips the pairs that identifier links
# already join. No comparison reads it.
IDENTIFIER_COMPONENT = "identifier_component"
_ACROSS_COMPONENTS = f"l.{IDENTIFIER_COMPONENT} <> r.{IDENTIFIER_COMPONENT}"
# A boolean column of the matching records in incremental runs
# (``identity.incremental``): true for new and changed records, whose pairs Splink
# scores again.
NEEDS_SCORING = "needs_scoring"
# Each rule is split in two: pairs with a marked record on the left, and pairs with
# one on the right only. DuckDB then filters one side of each join to the marked
# records before joining, where (l OR r) would join every record with every record.
_MARKED_SIDES = (
    f"l.{NEEDS_SCORING}",
    f"r.{NEEDS_SCORING} AND NOT l.{NEEDS_SCORING}",
)

# Pairs scored from this match probability up to the threshold are kept for the
# review queue (identity.review); pairs below it are not stored.
DEFAULT_REVIEW_MIN_PROBABILITY = 0.5

# Comparison budget: blocking keeps the number of scored pairs close to linear in
# the number of records, so a rule set that would score more than
# max(MIN_COMPARISON_BUDGET, COMPARISONS_PER_RECORD x records) pairs is rejected
# before prediction. MAX_COMPARISONS_ENV overrides the budget with a fixed number.
MIN_COMPARISON_BUDGET = 1_000_000
COMPARISONS_PER_RECORD = 50
MAX_COMPARISONS_ENV = "CDP_IDENTITY_MAX_COMPARISONS"

# Share of true matches whose phone numbers differ (a mobile and a landline, a new
# number), fixed rather than trained. EM on data without number changes estimates it
# near zero, and one differing number would then veto any match.
# NOTE: an assumption, not a measurement; revisit with labelled pairs.
PHONE_MISMATCH_M_PROBABILITY = 0.1

# Share of true matches whose first names differ beyond a typo or short form (a
# nickname such as Bill for William), fixed rather than trained. EM cannot learn it
# on data with households and twins. Those pairs agree on last name, birth date and
# address, so they look like matches that differ only in first name. On a hard-mode
# sample EM estimated 0.15, and twins then scored above the threshold.
# NOTE: chosen on generated hard-mode samples. On FEBRL3, whose duplicates often
# have a replaced first name, it costs recall (F1 0.926 without soc_sec_id at
# 0.0003, 0.948 at 0.001, measured with identity.benchmark's FEBRL3 model).
FIRST_NAME_MISMATCH_M_PROBABILITY = 0.0003

# m and u probability of the last name comparison's swapped-names level. Equal m and
# u give a Bayes factor of 1, so the level adds no weight (see _name_comparison).
SWAPPED_NAMES_NEUTRAL_PROBABILITY = 0.01

PREDICTION_BLOCKING_RULES = [
    block_on("first_name", "last_name"),
    block_on("last_name", "birth_date"),
    block_on("first_name", "birth_date"),
    block_on("birth_date", "postal_code"),
    block_on("first_name", "postal_code"),
    block_on("last_name", "postal_code"),
    block_on("street", "postal_code"),
    block_on("email_local_part"),
    block_on("phone"),
    # A typo in the first name, such as Zeo for Zoe, escapes the rules above when
    # the records share no other column. The city keeps the blocks small: last name
    # and first initial alone generated 90 million pairs at 1,000,000 records.
    block_on("last_name", "substr(first_name, 1, 1)", "city"),
    CustomRule("l.first_name = r.last_name and l.last_name = r.first_name"),
]


def prepare_matching_records(
    con: duckdb.DuckDBPyConnection, identifier_components: str | None = None
) -> int:
    """Write the matching columns for every person record to the scratch database.

    Emails and phone numbers that ``graph.build_identifier_links`` skipped
    (placeholders, over-shared values and values on records with conflicting first
    names) become NULL here too, so they add no evidence in Splink either. With
    ``identifier_components``, a table of (record_key, component) such as
    ``clustering.IDENTIFIER_COMPONENTS``, each record also gets its component as
    ``IDENTIFIER_COMPONENT``. Returns the number of records.
    """
    skipped_emails = (
        f"select lower(identifier_value) from {SKIPPED} where identifier_type = 'email'"
    )
    skipped_phones = (
        f"select identifier_value from {SKIPPED} where identifier_type = 'phone'"
    )
    email = "lower(trim(email))"
    phone = "trim(phone)"

    con.execute(f"""
        create or replace table {MATCHING_RECORDS} as
        with cleaned as (
            select
                record_key,
                {fold_text_sql("first_name")} as first_name,
                {fold_text_sql("last_name")} as last_name,
                birth_date,
                {street_sql("street")} as street,
                nullif(regexp_replace(upper(postal_code), '\\s+', '', 'g'), '')
                    as postal_code,
                {fold_text_sql("city")} as city,
                case
                    when {placeholder_condition(email)} then null
                    when {email} in ({skipped_emails}) then null
                    else nullif({email}, '')
                end as email,
                case
                    when {phone_placeholder_condition(phone)} then null
                    when {phone} in ({skipped_phones}) then null
                    else nullif({phone}, '')
                end as phone
            from {PERSON_RECORDS}
        )

        select
            *,
            nullif(split_part(email, '@', 1), '') as email_local_part
        from cleaned
    """)
    if identifier_components is not None:
        con.execute(f"""
            create or replace table {MATCHING_RECORDS} as
            select m.*, c.component as {IDENTIFIER_COMPONENT}
            from {MATCHING_RECORDS} as m
            inner join {identifier_components} as c using (record_key)
        """)
    return fetch_value(con, f"select count(*) from {MATCHING_RECORDS}")


def model_settings() -> SettingsCreator:
    """Return the untrained model: comparisons, blocking rules and EM limits."""
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_key",
        comparisons=[
            _name_comparison("first_name", "last_name"),
            _name_comparison("last_name", "first_name"),
            cl.DateOfBirthComparison("birth_date", input_is_string=False),
            _address_comparison(),
            _email_comparison(),
            _phone_comparison(),
        ],
        blocking_rules_to_generate_predictions=PREDICTION_BLOCKING_RULES,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
        max_iterations=50,
        em_convergence=0.0001,
    )


def settings_differences(model_path: Path) -> list[str]:
    """Name the parts of a saved model that differ from ``model_settings()``.

    Compares what decides which pairs are scored and how: the link type, the unique
    id column, the blocking rules and each comparison's levels (their SQL and TF
    columns). Trained parameters are ignored. An empty list means no difference.
    """
    saved = json.loads(model_path.read_text(encoding="utf-8"))
    current = model_settings().create_settings_dict("duckdb")

    differences = [
        key
        for key in ("link_type", "unique_id_column_name")
        if saved.get(key) != current[key]
    ]
    if _blocking_rule_sqls(saved) != _blocking_rule_sqls(current):
        differences.append("blocking_rules_to_generate_predictions")
    if _comparison_shapes(saved) != _comparison_shapes(current):
        differences.append("comparisons")
    return differences


class ModelDialectError(ValueError):
    """The saved model cannot be rendered in another SQL dialect."""


def model_for_dialect(model_path: Path, dialect: str) -> dict[str, Any]:
    """Return the saved model with its SQL rendered for another Splink dialect.

    The trained parameters (the prior, each level's m and u probabilities) come from
    the saved file. Each level's condition and each blocking rule come from
    ``model_settings()`` rendered for ``dialect``, so the saved file, trained and
    written on DuckDB, also scores on Spark. Raises ModelDialectError when the saved
    model no longer matches ``model_settings()``, because the levels then cannot be
    paired up; retraining fixes that.
    """
    saved = json.loads(model_path.read_text(encoding="utf-8"))
    saved_dialect = saved.get("sql_dialect", "duckdb")
    if saved_dialect == dialect:
        return saved
    differences = settings_differences(model_path)
    if differences:
        raise ModelDialectError(
            f"The saved Splink model {model_path} differs from model_settings() in "
            f"{', '.join(differences)}, so its SQL cannot be rendered for {dialect}. "
            "Retrain it with `python -m identity.training` and commit the file"
        )

    target = model_settings().create_settings_dict(dialect)
    translated = json.loads(json.dumps(saved))
    for comparison, rendered in zip(
        translated["comparisons"], target["comparisons"], strict=True
    ):
        levels = zip(
            comparison["comparison_levels"],
            rendered["comparison_levels"],
            strict=True,
        )
        for level, rendered_level in levels:
            level["sql_condition"] = rendered_level["sql_condition"]
    translated["blocking_rules_to_generate_predictions"] = target[
        "blocking_rules_to_generate_predictions"
    ]
    translated["sql_dialect"] = dialect
    return translated


def skip_identifier_linked_pairs(
    settings: dict[str, Any], marked_pairs_only: bool = False
) -> dict[str, Any]:
    """Return ``settings`` with prediction rules that skip identifier-linked pairs.

    Each rule gets the condition that its two records lie in different identifier
    components (``IDENTIFIER_COMPONENT``), so Splink neither scores nor stores a
    pair that the identifier links join anyway. Clusters stay the same, because
    clustering joins those records whatever Splink finds, and a review decision of
    'no match' removes only Splink links. The matching records need the column.
    With ``marked_pairs_only``, the rules also require one record with
    ``NEEDS_SCORING`` true, and each rule becomes two (``_MARKED_SIDES``).
    """
    conditions = [_ACROSS_COMPONENTS]
    if marked_pairs_only:
        conditions = [f"{_ACROSS_COMPONENTS} AND {side}" for side in _MARKED_SIDES]
    amended = json.loads(json.dumps(settings))
    amended["blocking_rules_to_generate_predictions"] = [
        f"({sql}) AND {condition}"
        for sql in _blocking_rule_sqls(settings)
        for condition in conditions
    ]
    return amended


def _without_component_condition(rule_sql: str) -> str:
    """Return a prediction rule as it was before ``skip_identifier_linked_pairs``."""
    marked = [f"{_ACROSS_COMPONENTS} AND {side}" for side in _MARKED_SIDES]
    for condition in (_ACROSS_COMPONENTS, *marked):
        suffix = f") AND {condition}"
        if rule_sql.startswith("(") and rule_sql.endswith(suffix):
            return rule_sql[1 : -len(suffix)]
    return rule_sql


def _original_rule_sqls(rule_sqls: list[str]) -> list[str]:
    """Return the rules as they were before ``skip_identifier_linked_pairs``, each
    once and in order, although marked pairs split each rule in two."""
    return list(dict.fromkeys(_without_component_condition(sql) for sql in rule_sqls))


def _blocking_rule_sqls(settings: dict[str, Any]) -> list[str]:
    rules = settings.get("blocking_rules_to_generate_predictions", [])
    return [r["blocking_rule"] if isinstance(r, dict) else r for r in rules]


def _comparison_shapes(settings: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (
            comparison.get("output_column_name"),
            tuple(
                (level.get("sql_condition"), level.get("tf_adjustment_column"))
                for level in comparison.get("comparison_levels", [])
            ),
        )
        for comparison in settings.get("comparisons", [])
    ]


def create_linker(
    splink_cursor: duckdb.DuckDBPyConnection,
    settings: SettingsCreator | dict[str, Any] | Path,
    prior: float | None = None,
    skip_linked_pairs: bool = False,
    marked_pairs_only: bool = False,
) -> Linker:
    """Create a Linker over the prepared matching records in the scratch database.

    ``splink_cursor`` must come from ``scratch.scratch_database`` so that Splink's
    working tables land in the scratch database. ``log_level=None`` leaves Splink's
    loggers to the application's logging setup instead of attaching a stderr handler.
    A saved model is loaded with the matching and intermediate calculation columns
    switched on, because explanations and charts need each pair's comparison vector
    (Splink 5.0.0 outputs gamma_* only with the matching columns) and per-comparison
    match weights. Neither switch changes a score. ``predict_links`` copies no
    compared value out of the scratch database. ``prior`` replaces a saved model's
    probability that two random records match (``training.estimate_prior``).
    ``skip_linked_pairs`` makes a saved model's prediction rules skip the pairs in
    one identifier component (``skip_identifier_linked_pairs``), and
    ``marked_pairs_only`` also the pairs without a record marked for scoring.
    """
    if isinstance(settings, Path):
        settings = json.loads(settings.read_text(encoding="utf-8"))
        settings["retain_matching_columns"] = True
        settings["retain_intermediate_calculation_columns"] = True
        if prior is not None:
            settings["probability_two_random_records_match"] = prior
        if skip_linked_pairs:
            settings = skip_identifier_linked_pairs(settings, marked_pairs_only)
    db_api = DuckDBAPI(connection=splink_cursor)
    records = db_api.register(MATCHING_RECORDS_NAME)
    return Linker(records, settings, log_level=None)


class ComparisonBudgetExceededError(RuntimeError):
    """The blocking rules would score more record pairs than the budget allows."""


def comparison_budget(records: int) -> int:
    """Return the maximum number of pairs a run over ``records`` records may score."""
    configured = os.environ.get(MAX_COMPARISONS_ENV, "").strip()
    if not configured:
        return max(MIN_COMPARISON_BUDGET, COMPARISONS_PER_RECORD * records)
    try:
        budget = int(float(configured))
    except ValueError:
        budget = 0
    if budget < 1:
        raise ValueError(
            f"{MAX_COMPARISONS_ENV} must be a positive number of comparisons, e.g. "
            f"50000000; got {configured!r}"
        )
    return budget


def count_comparisons(
    linker: Linker, splink_cursor: duckdb.DuckDBPyConnection
) -> list[tuple[str, int]]:
    """Count the pairs each prediction blocking rule adds, in rule order.

    A pair that an earlier rule already found is not counted again, so the counts
    add up to the number of pairs ``predict`` scores. The counts are exact.
    """
    # NOTE: Splink 5.0.0 counts by joining the records on each rule, so counting a
    # rule set far over budget takes as long as the join. Its record sampling would
    # make the join cheaper but turn the counts into estimates.
    records = DuckDBAPI(connection=splink_cursor).register(MATCHING_RECORDS_NAME)
    return count_blocked_pairs(linker, records)


def count_blocked_pairs(
    linker: Linker, records: SplinkDataFrame
) -> list[tuple[str, int]]:
    """Count the pairs each of ``linker``'s prediction rules adds over ``records``.

    ``records`` is the matching records table registered with a database API of the
    same backend as the linker (DuckDB or Spark), under a name of its own. Pairs
    inside one identifier component count too, even when the linker skips them
    (``skip_identifier_linked_pairs``), because the blocking join still generates
    them before the condition drops them.
    """
    settings = linker.misc.save_model_to_json()
    counts = count_comparisons_from_blocking_rules(
        records,
        blocking_rules=_original_rule_sqls(_blocking_rule_sqls(settings)),
        link_type=settings["link_type"],
        unique_id_column_name=settings["unique_id_column_name"],
        record_sample_proportion=1.0,
    )
    return [(c["blocking_rule"], int(c["marginal_comparison_count"])) for c in counts]


def max_comparisons_from_block_sizes(
    linker: Linker, splink_cursor: duckdb.DuckDBPyConnection
) -> list[tuple[str, int]]:
    """Bound the pairs each prediction blocking rule generates, from block sizes.

    A rule joins records whose join keys are equal. For each key value, n_l records
    hold it on the left side of the join and n_r on the right, so the rule generates
    at most sum(n_l x n_r) / 2 pairs. Counting needs one GROUP BY per rule and no
    join of records, so it takes seconds where an exact count takes as long as the
    blocking join itself. Pairs that several rules find count once per rule, so the
    sum over rules bounds the total.
    """
    # NOTE: reads Splink 5.0.0 internals (each rule's equi-join conditions), because
    # Splink 5 offers no public count of comparisons before filter conditions.
    # The conditions of skip_identifier_linked_pairs are left out: they do not
    # shrink the join, and sqlglot finds no equi-join keys next to an OR.
    bounds = []
    rules = linker._settings_obj._blocking_rules_to_generate_predictions
    dialect = rules[0]._sql_dialect_str if rules else None
    for rule_sql in _original_rule_sqls([rule.blocking_rule_sql for rule in rules]):
        keys = BlockingRule(rule_sql, dialect)._equi_join_conditions
        if not keys:
            raise ValueError(
                f"Blocking rule {rule_sql} has no equality condition, "
                "so it compares every pair of records; add one"
            )
        left = ", ".join(f"{key_l} as key_{i}" for i, (key_l, _) in enumerate(keys))
        right = ", ".join(f"{key_r} as key_{i}" for i, (_, key_r) in enumerate(keys))
        using = ", ".join(f"key_{i}" for i in range(len(keys)))
        ordered_pairs = fetch_value(
            splink_cursor,
            f"""
            with l as (
                select {left}, count(*) as n from {MATCHING_RECORDS} group by all
            ),

            r as (
                select {right}, count(*) as n from {MATCHING_RECORDS} group by all
            )

            select coalesce(sum(l.n * r.n), 0) from l inner join r using ({using})
            """,
        )
        bounds.append((rule_sql, int(ordered_pairs) // 2))
    return bounds


def check_comparison_budget(
    linker: Linker, splink_cursor: duckdb.DuckDBPyConnection, max_comparisons: int
) -> int:
    """Raise ComparisonBudgetExceededError when prediction would exceed the budget.

    Checks the bound from block sizes first and counts exactly only when the bound
    exceeds the budget. Returns the number of pairs prediction will score at most.
    """
    bounds = max_comparisons_from_block_sizes(linker, splink_cursor)
    bound = sum(count for _, count in bounds)
    for rule, count in bounds:
        logger.debug("Blocking rule %s adds at most %d comparisons", rule, count)
    if bound <= max_comparisons:
        logger.info(
            "Blocking rules generate at most %d comparisons, within the budget of %d",
            bound,
            max_comparisons,
        )
        return bound

    return enforce_comparison_budget(
        count_comparisons(linker, splink_cursor), max_comparisons
    )


def enforce_comparison_budget(
    counts: list[tuple[str, int]], max_comparisons: int
) -> int:
    """Raise ComparisonBudgetExceededError when the rules' ``counts`` exceed the budget.

    Returns the number of pairs prediction will score.
    """
    total = sum(count for _, count in counts)
    for rule, count in counts:
        logger.debug("Blocking rule %s adds %d comparisons", rule, count)
    if total <= max_comparisons:
        logger.info(
            "Blocking rules generate %d comparisons, within the budget of %d",
            total,
            max_comparisons,
        )
        return total

    rule, count = max(counts, key=lambda rule_count: rule_count[1])
    raise ComparisonBudgetExceededError(
        f"The prediction blocking rules would generate {total:,} comparisons, over "
        f"the budget of {max_comparisons:,}. The largest share comes from the rule "
        f"{rule} with {count:,} comparisons. Make that rule stricter in "
        f"PREDICTION_BLOCKING_RULES (identity/splink_model.py) and retrain, or raise "
        f"the budget with the environment variable {MAX_COMPARISONS_ENV}"
    )


def predict_links(
    linker: Linker,
    splink_cursor: duckdb.DuckDBPyConnection,
    threshold: float,
    min_probability: float = DEFAULT_REVIEW_MIN_PROBABILITY,
    max_comparisons: int | None = None,
    on_predictions: Callable[[str], None] | None = None,
) -> int:
    """Score the blocked pairs and write those at or above ``threshold`` to scratch.

    ``threshold`` is a match probability in [0, 1] and ``splink_cursor`` the cursor
    the linker was created on. Pairs from ``min_probability`` up go to
    ``SCORED_PAIRS`` and those from ``threshold`` up to ``SPLINK_LINKS``. Raises
    ComparisonBudgetExceededError before scoring when the blocking rules would
    generate more than ``max_comparisons`` pairs (default: ``comparison_budget``).
    ``on_predictions`` is called with the name of Splink's prediction table, which
    still contains the compared values, before that table is dropped. Returns the
    number of pairs at or above ``threshold``.
    """
    if max_comparisons is None:
        max_comparisons = comparison_budget(_count_matching_records(splink_cursor))
    check_comparison_budget(linker, splink_cursor, max_comparisons)

    # Splink's own warning about untrained levels would repeat on every run, so
    # training reports them once instead (training.train_linker).
    # A linker made with skip_linked_pairs scores only pairs across identifier
    # components. On benchmarks.identity_scale (989,805 records) that cut the pairs
    # from the review band up from 1,419,264 to 56,543 and the links from 1,347,107
    # to 23,281, with the same clusters.
    # The blocking join still generates the pairs inside components before the
    # condition drops them, so the comparison budget counts them too.
    predictions = linker.inference.predict(
        threshold_match_probability=min(threshold, min_probability),
        warning_mode="never",
    )
    pairs = keep_scored_pairs(
        splink_cursor, predictions.physical_name, threshold, on_predictions
    )
    predictions.drop_table_from_database_and_remove_from_cache()
    return pairs


def keep_scored_pairs(
    splink_cursor: duckdb.DuckDBPyConnection,
    predictions_table: str,
    threshold: float,
    on_predictions: Callable[[str], None] | None = None,
) -> int:
    """Write ``SCORED_PAIRS`` and ``SPLINK_LINKS`` from Splink's prediction table.

    ``predictions_table`` is a table of Splink's predictions in the scratch database.
    ``on_predictions`` is called with its name after ``SCORED_PAIRS`` is written.
    Returns the number of pairs at or above ``threshold``.
    """
    columns = [
        row[0]
        for row in splink_cursor.execute(f"describe {predictions_table}").fetchall()
    ]
    detail_columns = [
        f'"{column}"' for column in columns if column.startswith(("gamma_", "mw_"))
    ]
    splink_cursor.execute(f"""
        create or replace table {SCORED_PAIRS} as
        select
            least(record_key_l, record_key_r) as record_key_l,
            greatest(record_key_l, record_key_r) as record_key_r,
            match_probability,
            match_weight,
            {", ".join(detail_columns) or "null as no_detail_columns"}
        from {predictions_table}
    """)
    if on_predictions is not None:
        on_predictions(predictions_table)

    splink_cursor.execute(
        f"""
        create or replace table {SPLINK_LINKS} as
        select record_key_l, record_key_r, match_probability, match_weight
        from {SCORED_PAIRS}
        where match_probability >= $threshold
        """,
        {"threshold": threshold},
    )
    return fetch_value(splink_cursor, f"select count(*) from {SPLINK_LINKS}")


def ensure_scored_pairs_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create an empty ``SCORED_PAIRS`` when no prediction ran (fewer than 2 records)."""
    con.execute(f"""
        create table if not exists {SCORED_PAIRS} (
            record_key_l varchar, record_key_r varchar,
            match_probability double, match_weight double
        )
    """)


def _count_matching_records(splink_cursor: duckdb.DuckDBPyConnection) -> int:
    return fetch_value(splink_cursor, f"select count(*) from {MATCHING_RECORDS}")


# SQL functions of the custom comparison levels per Splink dialect. DuckDB's
# regexp_extract returns the whole match by default, Spark's the first group, so
# Spark gets group 0. Spark's jaro_winkler comes from Splink's similarity jar
# (see orchestration/spark_session.py).
SQL_FUNCTIONS = {
    "duckdb": {
        "jaro_winkler": "jaro_winkler_similarity",
        "starts_with": "starts_with",
        "ends_with": "ends_with",
        "whole_match": "",
        "int_div": "//",
        "all_matches": ", 'g'",
    },
    "spark": {
        "jaro_winkler": "jaro_winkler",
        "starts_with": "startswith",
        "ends_with": "endswith",
        "whole_match": ", 0",
        "int_div": "div",
        # Spark's regexp_replace replaces every match; its fourth argument is a
        # start position, not flags.
        "all_matches": "",
    },
}


class DialectLevel(cll.CustomLevel):
    """A custom comparison level whose SQL names each dialect's own functions.

    Its ``sql_condition`` is a template with ``{jaro_winkler}``, ``{starts_with}``,
    ``{ends_with}``, ``{whole_match}``, ``{int_div}`` and ``{all_matches}`` in place of the dialect-specific parts
    (see ``SQL_FUNCTIONS``). The DuckDB rendering is the text of the saved model.
    """

    def create_sql(self, sql_dialect: SplinkDialect) -> str:
        functions = SQL_FUNCTIONS.get(sql_dialect.sql_dialect_str)
        if functions is None:
            raise ValueError(
                f"the identity model has no SQL for the {sql_dialect.sql_dialect_str} "
                f"dialect; add it to SQL_FUNCTIONS in {__name__}"
            )
        return self.sql_condition.format(**functions)


def _name_comparison(column: str, other_name_column: str) -> cl.CustomComparison:
    # The swapped level catches first and last name entered in each other's fields,
    # allowing a typo in one of the two, and the containment level short forms such
    # as Alex for Alexander or Hannes for Johannes.
    swapped = (
        f"({column}_l = {other_name_column}_r and {{jaro_winkler}}("
        f"{column}_r, {other_name_column}_l) >= 0.88) or "
        f"({column}_r = {other_name_column}_l and {{jaro_winkler}}("
        f"{column}_l, {other_name_column}_r) >= 0.88)"
    )
    contains = (
        f"least(length({column}_l), length({column}_r)) >= 3 and ("
        f"{{starts_with}}({column}_l, {column}_r) "
        f"or {{starts_with}}({column}_r, {column}_l) "
        f"or {{ends_with}}({column}_l, {column}_r) "
        f"or {{ends_with}}({column}_r, {column}_l))"
    )
    else_level = cll.ElseLevel()
    swapped_level = DialectLevel(
        swapped, label_for_charts=f"{column} and {other_name_column} swapped"
    )
    if column == "first_name":
        else_level.configure(
            m_probability=FIRST_NAME_MISMATCH_M_PROBABILITY, fix_m_probability=True
        )
    else:
        # A swap shows in both name comparisons. Counted in both, it outweighed an
        # exact match of both names, and namesakes with one record swapped scored
        # above the threshold. The first name comparison alone counts it.
        swapped_level.configure(
            m_probability=SWAPPED_NAMES_NEUTRAL_PROBABILITY,
            u_probability=SWAPPED_NAMES_NEUTRAL_PROBABILITY,
            fix_m_probability=True,
            fix_u_probability=True,
        )
    return cl.CustomComparison(
        output_column_name=column,
        comparison_levels=[
            cll.NullLevel(column),
            cll.ExactMatchLevel(column, term_frequency_adjustments=True),
            cll.JaroWinklerLevel(column, 0.92),
            # Short names with one typo (Pia, Ipa) fall below every Jaro-Winkler
            # level.
            _one_edit_level(column),
            swapped_level,
            DialectLevel(contains, label_for_charts="One name contains the other"),
            cll.JaroWinklerLevel(column, 0.8),
            else_level,
        ],
    )


def _address_comparison() -> cl.CustomComparison:
    # Street, postal code and city form one comparison because they agree or differ
    # together. As three comparisons, Splink would count one shared address three
    # times and outweigh a different first name, merging households and twins.
    # The house number may come first or last, depending on the country's layout.
    number_l = "regexp_extract(street_l, '[0-9]+[a-z]?'{whole_match})"
    number_r = "regexp_extract(street_r, '[0-9]+[a-z]?'{whole_match})"
    similar_street = (
        f"{number_l} = {number_r} and {{jaro_winkler}}(street_l, street_r) >= 0.88"
    )
    same_town = "(postal_code_l = postal_code_r or city_l = city_r)"
    missing = " and ".join(
        f"({column}_l is null or {column}_r is null)"
        for column in ("street", "postal_code", "city")
    )
    return cl.CustomComparison(
        output_column_name="address",
        comparison_levels=[
            cll.CustomLevel(
                missing, label_for_charts="No address part on both records"
            ).configure(is_null_level=True),
            cll.CustomLevel(
                f"street_l = street_r and {same_town}",
                label_for_charts="Same street and postal code or city",
            ),
            DialectLevel(
                f"{similar_street} and {same_town}",
                label_for_charts="Similar street, same postal code or city",
            ),
            DialectLevel(
                "postal_code_l = postal_code_r and "
                "{jaro_winkler}(city_l, city_r) >= 0.9",
                label_for_charts="Same postal code, similar city",
            ),
            DialectLevel(
                "{jaro_winkler}(city_l, city_r) >= 0.9",
                label_for_charts="Similar city",
            ),
            cll.ElseLevel(),
        ],
    )


def _email_comparison() -> cl.CustomComparison:
    # One typo, but not one that only changes a digit or a separator: mail providers
    # make namesakes' addresses unique that way (anna.weber@gmx.de, anna_weber@...,
    # annaweber@..., anna.weber2@...). At 990,000 generated records, pairs of
    # different persons outnumbered true pairs 6 to 1 among such differences.
    # Other similar addresses are left out for the same reason.
    digits = "regexp_replace(email_{side}, '[^0-9]', ''{{all_matches}})"
    without_separators = "regexp_replace(email_{side}, '[._-]', ''{{all_matches}})"
    typo = (
        f"{_one_edit_sql('email')}"
        f" and {digits.format(side='l')} = {digits.format(side='r')}"
        f" and {without_separators.format(side='l')}"
        f" <> {without_separators.format(side='r')}"
    )
    return cl.CustomComparison(
        output_column_name="email",
        comparison_levels=[
            cll.NullLevel("email"),
            cll.ExactMatchLevel("email"),
            DialectLevel(typo, label_for_charts="One typo in a letter"),
            cll.ElseLevel(),
        ],
    )


def _phone_comparison() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="phone",
        comparison_levels=[
            cll.NullLevel("phone"),
            cll.ExactMatchLevel("phone"),
            cll.CustomLevel(
                "right(phone_l, 8) = right(phone_r, 8)",
                label_for_charts="Same last eight digits",
            ),
            _one_edit_level("phone"),
            cll.ElseLevel().configure(
                m_probability=PHONE_MISMATCH_M_PROBABILITY, fix_m_probability=True
            ),
        ],
    )


def _one_edit_level(column: str) -> cll.CustomLevel:
    return DialectLevel(
        _one_edit_sql(column),
        label_for_charts=f"Damerau-Levenshtein distance of {column} <= 1",
    )


def _one_edit_sql(column: str) -> str:
    """Return a condition that is true when the two values are at most one
    Damerau-Levenshtein edit apart.

    DuckDB's damerau_levenshtein is slow on long values: on the 3.8 million pairs
    of benchmarks.identity_scale (989,805 records, 2 cores), the e-mail level took
    31 of the 40 seconds that all comparisons took. So cheap necessary conditions
    run first. One edit changes the length by at most one, and it leaves either the
    first or the last half of the shorter value minus one character intact.
    """
    left, right = f"{column}_l", f"{column}_r"
    half = f"greatest((least(length({left}), length({right})) - 2) {{int_div}} 2, 0)"
    return (
        f"(abs(length({left}) - length({right})) <= 1"
        f" and (left({left}, {half}) = left({right}, {half})"
        f" or right({left}, {half}) = right({right}, {half}))"
        f" and damerau_levenshtein({left}, {right}) <= 1)"
    )
