"""Unsupervised training of the Splink model on the warehouse's own records.

Steps, in Splink's usual order:

1. the prior (probability that two random records match) from deterministic rules
   and an assumed recall,
2. u probabilities from a seeded random sample of record pairs, so retraining on the
   same data gives the same model,
3. m probabilities by expectation maximisation (EM), once per training blocking rule.
   Each rule leaves its own columns untrained, so the rules must together cover every
   comparison.

Run ``python -m identity.training --warehouse PATH`` to retrain and save the model.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
from splink import DuckDBAPI, Linker, block_on
from splink.blocking_analysis import count_comparisons_from_blocking_rules
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.em_training_session import EMTrainingSession
from splink.internals.expectation_maximisation import (
    _max_change_in_parameters_comparison_levels,
)

from identity.graph import DEFAULT_MAX_RECORDS_PER_IDENTIFIER, build_identifier_links
from identity.scratch import scratch_database
from identity.splink_model import (
    DEFAULT_MODEL_PATH,
    MATCHING_RECORDS_NAME,
    create_linker,
    model_settings,
    prepare_matching_records,
)

logger = logging.getLogger(__name__)

# Pairs these rules find are taken as matches when estimating the prior, and the
# recall scales their count up to all matches. On two samples from
# ingestion.generator (2,000 customers, seeds 42 and 7) the rules found 62% of the
# true pairs and no false ones. On other data the recall is an estimate.
DETERMINISTIC_RULES = [
    block_on("first_name", "last_name", "birth_date"),
    block_on("first_name", "last_name", "email"),
    block_on("first_name", "last_name", "phone"),
]
DETERMINISTIC_RULES_RECALL = 0.6
# Fewer pairs found by DETERMINISTIC_RULES than this make the prior estimate too
# noisy to replace the saved model's prior (estimate_prior).
# NOTE: a judgment (a count of 100 varies by about 10%), not tuned on data.
MIN_DETERMINISTIC_PAIRS = 100

U_SAMPLE_MAX_PAIRS = 5e6
U_SAMPLE_SEED = 20261130

EM_BLOCKING_RULES = [
    block_on("first_name", "last_name"),
    block_on("birth_date", "postal_code"),
    block_on("email"),
]

# Splink 5.0.0 logs "EM converged after N iterations" even when EM stopped at
# max_iterations, so that message is dropped and train_linker logs its own.
_SPLINK_EM_LOGGER = "splink.internals.expectation_maximisation"
_SPLINK_CONVERGENCE_MESSAGE = "\nEM converged after"


@dataclass(frozen=True)
class EMSessionReport:
    """The outcome of one EM run: its blocking rule and whether it converged."""

    blocking_rule: str
    iterations: int
    max_iterations: int
    converged: bool


@dataclass(frozen=True)
class TrainingReport:
    """Summary of one ``train_model`` run: the saved file, data size, convergence."""

    model_path: Path
    records: int
    probability_two_random_records_match: float
    em_sessions: tuple[EMSessionReport, ...]

    @property
    def converged(self) -> bool:
        return all(session.converged for session in self.em_sessions)


def train_model(
    con: duckdb.DuckDBPyConnection,
    model_path: Path = DEFAULT_MODEL_PATH,
    max_records_per_identifier: int = DEFAULT_MAX_RECORDS_PER_IDENTIFIER,
) -> TrainingReport:
    """Train the model on the records in ``con``'s warehouse and save it as JSON.

    Reads ``intermediate.int_person_records`` and ``intermediate.int_identifiers``
    (the latter only to find the identifier values resolution ignores) and writes
    nothing to the warehouse. ``con`` must belong to a writable DuckDB instance,
    because the scratch database is attached to it. ``main`` shows how to train on
    a warehouse file opened read-only.
    """
    with scratch_database(con) as splink_cursor:
        build_identifier_links(con, max_records_per_identifier)
        records = prepare_matching_records(con)
        linker = create_linker(splink_cursor, model_settings())
        sessions = train_linker(linker)
        save_model(linker, model_path)

    prior = linker._settings_obj._probability_two_random_records_match
    return TrainingReport(model_path, records, prior, sessions)


def estimate_prior(splink_cursor: duckdb.DuckDBPyConnection) -> float | None:
    """Estimate the prior on the prepared matching records, as training does.

    The probability that two random records match falls with the number of records,
    because each person has about the same number of records however many persons
    there are. A prior saved from 12,712 training records was 49 times too high for
    989,805, which lifted namesakes over the match threshold. So every run estimates
    it again on its own records: the pairs DETERMINISTIC_RULES find, divided by
    their assumed recall and by the number of record pairs. Returns None when the
    rules find fewer than MIN_DETERMINISTIC_PAIRS pairs, or more than the recall
    allows, so that the saved prior stays.
    """
    records = DuckDBAPI(connection=splink_cursor).register(MATCHING_RECORDS_NAME)
    counts = count_comparisons_from_blocking_rules(
        records,
        blocking_rules=DETERMINISTIC_RULES,
        link_type="dedupe_only",
        unique_id_column_name="record_key",
        record_sample_proportion=1.0,
    )
    found = counts[-1]["cumulative_comparison_count"]
    all_pairs = counts[-1]["total_possible_comparison_count"]
    prior = found / DETERMINISTIC_RULES_RECALL / all_pairs if all_pairs else 1.0
    if found < MIN_DETERMINISTIC_PAIRS or prior >= 1.0:
        logger.info(
            "Kept the saved prior: the deterministic rules found %d of %d record "
            "pairs, too few or too many to estimate it",
            found,
            all_pairs,
        )
        return None
    return prior


def train_linker(linker: Linker) -> tuple[EMSessionReport, ...]:
    """Estimate the prior, u and m probabilities of ``linker``'s model in place."""
    linker.training.estimate_probability_two_random_records_match(
        DETERMINISTIC_RULES, recall=DETERMINISTIC_RULES_RECALL
    )
    linker.training.estimate_u_using_random_sampling(
        max_pairs=U_SAMPLE_MAX_PAIRS, seed=U_SAMPLE_SEED
    )

    reports = []
    for rule in EM_BLOCKING_RULES:
        session = _run_em(linker, rule)
        report = _em_session_report(session)
        reports.append(report)
        _log_em_session(report)

    _log_untrained_levels(linker)
    return tuple(reports)


def _run_em(linker: Linker, rule: BlockingRuleCreator) -> EMTrainingSession:
    try:
        with _without_splink_convergence_message():
            return linker.training.estimate_parameters_using_expectation_maximisation(
                rule
            )
    except ValueError as error:
        # NOTE: Splink 5.0.0 raises here when EM estimates an m probability of 0,
        # which happens when a comparison level occurs in the training pairs only
        # among certain non-matches (seen with 150 synthetic persons, not with the
        # 2,000-customer sample). Splink validates the value instead of clamping it.
        sql = rule.get_blocking_rule(linker._sql_dialect_str).blocking_rule_sql
        raise RuntimeError(
            f"EM training blocked on {sql} failed: {error} Splink rejects an m "
            "probability that EM drove to zero; train on more records, or remove "
            "this rule from EM_BLOCKING_RULES in identity/training.py"
        ) from error


def save_model(linker: Linker, model_path: Path) -> None:
    """Write the trained model to ``model_path``, replacing any earlier file."""
    model_path.parent.mkdir(parents=True, exist_ok=True)
    linker.misc.save_model_to_json(str(model_path), overwrite=True)
    logger.info("Saved the Splink model to %s", model_path)


def _em_session_report(session: EMTrainingSession) -> EMSessionReport:
    # NOTE: reads Splink 5.0.0 internals (the iteration history and its change
    # measure), because the public API does not say whether EM converged.
    history = session._core_model_settings_history
    iterations = len(history) - 1
    max_iterations = session.training_settings.max_iterations
    converged = iterations < max_iterations
    if not converged and len(history) >= 2:
        change = _max_change_in_parameters_comparison_levels(history)
        converged = (
            change["max_abs_change_value"] < session.training_settings.em_convergence
        )

    rule = session._blocking_rule_for_training.blocking_rule_sql
    return EMSessionReport(rule, iterations, max_iterations, converged)


def _log_em_session(report: EMSessionReport) -> None:
    if report.converged:
        logger.info(
            "EM blocked on %s converged after %d iterations",
            report.blocking_rule,
            report.iterations,
        )
        return
    logger.warning(
        "EM blocked on %s did not converge within %d iterations, so the m "
        "probabilities it estimated may be inaccurate. Raise max_iterations in "
        "identity/splink_model.py or choose a blocking rule with more matching pairs, "
        "then retrain",
        report.blocking_rule,
        report.max_iterations,
    )


def _log_untrained_levels(linker: Linker) -> None:
    # NOTE: reads Splink 5.0.0 internals; the public API only prints these levels.
    untrained = [
        f"{comparison.output_column_name} '{level.label_for_charts}'"
        for comparison in linker._settings_obj.comparisons
        for level in comparison._comparison_levels_excluding_null
        if not (level._m_is_trained and level._u_is_trained)
    ]
    if untrained:
        logger.warning(
            "%d comparison levels were never observed in training, so the saved "
            "model gives them Splink's default m and u probabilities: %s",
            len(untrained),
            "; ".join(untrained),
        )


class _DropConvergenceMessage(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_SPLINK_CONVERGENCE_MESSAGE)


@contextmanager
def _without_splink_convergence_message() -> Iterator[None]:
    splink_logger = logging.getLogger(_SPLINK_EM_LOGGER)
    message_filter = _DropConvergenceMessage()
    splink_logger.addFilter(message_filter)
    try:
        yield
    finally:
        splink_logger.removeFilter(message_filter)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m identity.training",
        description="Retrain the Splink model on a warehouse and save it as JSON.",
    )
    parser.add_argument(
        "--warehouse",
        type=Path,
        required=True,
        help="DuckDB warehouse file with the intermediate models; opened read-only",
    )
    parser.add_argument(
        "--model-path",
        type=Path,
        default=DEFAULT_MODEL_PATH,
        help=f"where to write the model JSON (default: {DEFAULT_MODEL_PATH})",
    )
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    if not args.warehouse.is_file():
        parser.error(f"warehouse file not found: {args.warehouse}")

    # A read-only DuckDB instance cannot attach the in-memory scratch database, so
    # the warehouse is attached read-only to a writable in-memory instance instead.
    with duckdb.connect() as con:
        path = str(args.warehouse).replace("'", "''")
        con.execute(f"attach '{path}' as warehouse (read_only)")
        con.execute("use warehouse")
        report = train_model(con, args.model_path)
    logger.info(
        "Trained on %d records; prior %.3g; EM converged: %s",
        report.records,
        report.probability_two_random_records_match,
        report.converged,
    )


if __name__ == "__main__":
    main()
