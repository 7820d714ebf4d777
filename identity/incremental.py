"""Incremental Splink scoring: reuse the comparison vectors of unchanged record pairs.

A Splink score has two parts. The comparison vector (one gamma level per comparison,
``gamma_*``) depends only on the two records' matching columns and on the model's
comparison SQL. The match weight and probability add the model's m and u
probabilities, the prior and the term frequencies of the names on top. Each run
estimates the prior again on all records (``training.estimate_prior``), and Splink
counts the term frequencies over all records. Both move whenever records come and
go, so a stored score of an unchanged pair can differ from a full run's. A stored
comparison vector does not. The string comparisons that make the vectors take the
time, and turning a vector into a score with Splink's own SQL is cheap arithmetic.

The vector of an unchanged pair stays the same, so only the prior and the term
frequencies of its names move its score. Every run records the range each of
them took since the last full scoring: the prior's match weight, and per name the
log2 of its term frequency (``incremental_tf_ranges``, keyed by a hash of the
name). A score moves at most by the width of the prior's range plus, per comparison
with term frequency adjustments, its adjustment weight times the widest range of
that column (``drift_bits``). Splink adjusts by the log2 of the larger of the two
term frequencies, which moves no more than the larger of their two moves.

So a run stores, with its score, the vector of every pair that scores at most
``SCORE_MARGIN_BITS`` below the lowest kept score (``prune_weight``), and drops the
others. A stored pair whose score lies more than ``drift_bits`` below the review
band cannot have reached the band, so it keeps its stored vector and score without
being scored again. A dropped pair cannot either, as long as ``drift_bits`` stays
below the margin. When it reaches the margin, the run scores every pair again and
the ranges start afresh.

A run with stored state:

1. marks records for scoring: new records, records whose matching columns changed
   (a new spelling, or an e-mail address that became over-shared and so NULL), and
   every record of a previous identifier component that is now split. The pairs
   inside such a component were skipped last time, and a full run now scores them
   (``splink_model.skip_identifier_linked_pairs``);
2. lets Splink score the pairs with at least one marked record and with records in
   different identifier components. Each blocking rule runs twice, once with the
   marked records on the left and once on the right, so each join starts from the
   few marked records instead of from all of them;
3. takes the stored vectors of pairs of two unmarked records whose records now
   lie in different identifier components. Such a pair had the same values last
   time, so the same blocking rule found it, and it lay in different components
   then too, or its component split and marked its records. Those stored within
   ``drift_bits`` of the review band or above are scored again with the new pairs;
4. scores those vectors with the current prior and term frequencies, stores them
   from ``prune_weight`` up next to the other reused vectors, and keeps those from
   the review band up, as ``splink_model.predict_links`` does.

A run without usable state marks every record. Splink's scores from step 2 are
then final, so it skips steps 3 and 4.

The stored state lives in four identity tables, written in the run's transaction:
``incremental_records`` (each record's hash of its matching columns and the number
of its identifier component), ``incremental_pair_vectors`` (the stored pairs across
identifier components, with their vectors and scores), ``incremental_tf_ranges`` and
``incremental_state`` (a key of the model file and the Splink and DuckDB versions,
``prune_weight`` and the prior's range). When the key or the prune weight differs,
every record is marked and the run is a full one.

``python -m benchmarks.identity_nights`` compares an incremental night with a
full one at scale (BENCHMARKS.md has the figures). The identifier graph and the
rest of the run are not incremental.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from splink import Linker
from splink.internals.comparison_vector_values import (
    compute_comparison_vector_values_from_id_pairs_sqls,
)
from splink.internals.misc import (
    prob_to_bayes_factor,
    threshold_args_to_match_weight,
)
from splink.internals.pipeline import CTEPipeline
from splink.internals.predict import predict_from_comparison_vectors_sqls_using_settings
from splink.internals.vertically_concatenate import enqueue_df_concat_with_tf

from identity.clustering import IDENTIFIER_COMPONENTS
from identity.splink_model import (
    IDENTIFIER_COMPONENT,
    MATCHING_RECORDS,
    NEEDS_SCORING,
    keep_scored_pairs,
)
from identity.sql import fetch_value, table_exists
from identity.tables import IDENTITY_SCHEMA, scratch_table

logger = logging.getLogger(__name__)

STATE_RECORDS = f"{IDENTITY_SCHEMA}.incremental_records"
STATE_PAIR_VECTORS = f"{IDENTITY_SCHEMA}.incremental_pair_vectors"
STATE_TF_RANGES = f"{IDENTITY_SCHEMA}.incremental_tf_ranges"
STATE = f"{IDENTITY_SCHEMA}.incremental_state"

RECORD_HASHES = scratch_table("incremental_record_hashes")
PAIR_VECTORS = scratch_table("incremental_pair_vectors")
KEPT_VECTORS = scratch_table("incremental_kept_vectors")
TF_RANGES = scratch_table("incremental_tf_ranges")

# Stored vectors reach this many bits below the lowest kept match weight. After
# one night with 1% new or changed records among 4,232,720, scores could have moved
# by up to 2.01 bits, because a rare first name and a rare last name each doubled.
# The prior moved by 0.01 bits. How many nights 10 bits last is an estimate.
SCORE_MARGIN_BITS = 10.0


@dataclass(frozen=True)
class ScoringPlan:
    """The scoring of one incremental run, and the state it stores afterwards.

    ``full_run_reason`` is None when stored vectors are reused, else why every
    record is scored. ``min_weight`` is the lowest match weight the run keeps
    and ``prune_weight`` the lowest it stores. ``prior_weight_min`` and
    ``prior_weight_max`` are the range of the prior's match weight since the last
    full scoring, and ``drift_bits`` the most any dropped pair's score can have
    moved in that time.
    """

    full_run_reason: str | None
    state_key: str
    min_weight: float
    prune_weight: float
    prior_weight_min: float
    prior_weight_max: float
    drift_bits: float


@dataclass(frozen=True)
class IncrementalScoring:
    """Counts of one incremental scoring step."""

    records_to_score: int
    records: int
    reused_pairs: int
    # Reused vectors scored again because their stored score lay within the drift
    # of the review band.
    rescored_pairs: int
    scored_pairs: int
    stored_pairs: int
    plan: ScoringPlan

    @property
    def full_run_reason(self) -> str | None:
        return self.plan.full_run_reason


def state_key(model_path: Path) -> str:
    """Return the key under which stored comparison vectors stay valid.

    A vector depends on the comparison SQL and the blocking rules (both in the model
    file) and on the SQL functions of DuckDB and Splink's generated SQL.
    """
    digest = hashlib.sha256(model_path.read_bytes())
    for package in ("splink", "duckdb"):
        digest.update(f"|{package}={importlib.metadata.version(package)}".encode())
    return digest.hexdigest()


def mark_records_to_score(
    con: duckdb.DuckDBPyConnection,
    key: str,
    settings: dict[str, Any],
    min_weight: float,
    margin_bits: float | None = None,
) -> ScoringPlan:
    """Add ``NEEDS_SCORING`` to the matching records; return the run's plan.

    Needs ``MATCHING_RECORDS`` with ``IDENTIFIER_COMPONENT`` and
    ``clustering.IDENTIFIER_COMPONENTS``. ``settings`` is the model as the run
    scores with it (its prior included), and ``min_weight`` the lowest match
    weight the run keeps. Every record is marked when stored state is missing or
    stale, or when the prior and term frequencies moved by ``margin_bits`` or more
    since the last full scoring (``SCORE_MARGIN_BITS`` when None).
    """
    if margin_bits is None:
        margin_bits = SCORE_MARGIN_BITS
    _write_record_hashes(con)
    prune_weight = min_weight - margin_bits
    prior_weight = math.log2(
        prob_to_bayes_factor(settings["probability_two_random_records_match"])
    )
    reason = _full_run_reason(con, key, prune_weight)
    prior_range = _write_tf_ranges(con, settings, prior_weight, reason is None)
    drift = _drift_bits(con, settings, prior_range)
    if reason is None and drift >= margin_bits:
        reason = (
            f"the prior and term frequencies moved scores by up to {drift:.2f} bits "
            f"since the last full scoring, not less than the margin of "
            f"{margin_bits:g} bits"
        )
        prior_range = _write_tf_ranges(con, settings, prior_weight, False)
        drift = 0.0
    if reason is not None:
        marked = f"select record_key, true as {NEEDS_SCORING} from {RECORD_HASHES}"
    else:
        marked = _marked_records_sql()
    con.execute(f"""
        create or replace table {MATCHING_RECORDS} as
        select m.*, n.{NEEDS_SCORING}
        from {MATCHING_RECORDS} as m
        inner join ({marked}) as n using (record_key)
    """)
    return ScoringPlan(
        full_run_reason=reason,
        state_key=key,
        min_weight=min_weight,
        prune_weight=prune_weight,
        prior_weight_min=prior_range[0],
        prior_weight_max=prior_range[1],
        drift_bits=drift,
    )


def _comparison_tf_weights(settings: dict[str, Any]) -> list[dict[str, float]]:
    """Per comparison, the adjustment weight of each column its levels adjust by."""
    per_comparison = []
    for comparison in settings["comparisons"]:
        weights: dict[str, float] = {}
        for level in comparison["comparison_levels"]:
            column = level.get("tf_adjustment_column")
            if column:
                weight = float(level.get("tf_adjustment_weight", 1.0))
                weights[column] = max(weights.get(column, 0.0), weight)
        if weights:
            per_comparison.append(weights)
    return per_comparison


def _write_tf_ranges(
    con: duckdb.DuckDBPyConnection,
    settings: dict[str, Any],
    prior_weight: float,
    extend_stored: bool,
) -> tuple[float, float]:
    """Write ``TF_RANGES``; return the prior weight's range since the last full
    scoring.

    Tonight's term frequencies follow Splink's definition (the share of a value
    among the column's non-NULL values). With ``extend_stored`` the stored ranges
    are widened by tonight's values, else they start from tonight's.
    """
    columns = sorted(
        {column for weights in _comparison_tf_weights(settings) for column in weights}
    )
    tonight = (
        " union all ".join(
            f"""
        select
            '{column}' as column_name,
            md5({column}::varchar) as value_hash,
            log2(count(*) / (select count({column}) from {MATCHING_RECORDS}))
                as log2_tf
        from {MATCHING_RECORDS}
        where {column} is not null
        group by {column}
        """
            for column in columns
        )
        or "select null::varchar, null::varchar, null::double where false"
    )
    if extend_stored:
        ranges = f"""
            select
                column_name,
                value_hash,
                least(s.min_log2_tf, t.log2_tf) as min_log2_tf,
                greatest(s.max_log2_tf, t.log2_tf) as max_log2_tf
            from {STATE_TF_RANGES} as s
            full outer join ({tonight}) as t using (column_name, value_hash)
        """
        stored_min, stored_max = con.execute(
            f"select prior_weight_min, prior_weight_max from {STATE}"
        ).fetchone()
        prior_range = (min(stored_min, prior_weight), max(stored_max, prior_weight))
    else:
        ranges = f"""
            select column_name, value_hash, log2_tf as min_log2_tf,
                log2_tf as max_log2_tf
            from ({tonight})
        """
        prior_range = (prior_weight, prior_weight)
    # least and greatest skip NULL, so a value new tonight starts its range.
    con.execute(f"create or replace table {TF_RANGES} as {ranges}")
    return prior_range


def _drift_bits(
    con: duckdb.DuckDBPyConnection,
    settings: dict[str, Any],
    prior_range: tuple[float, float],
) -> float:
    """Return the most a pair's match weight can have moved since the last full
    scoring while its comparison vector stayed the same."""
    widths = dict(
        con.execute(
            f"select column_name, max(max_log2_tf - min_log2_tf)::double "
            f"from {TF_RANGES} "
            "group by column_name"
        ).fetchall()
    )
    drift = prior_range[1] - prior_range[0]
    # Only one level of a comparison applies to a pair, so each comparison adds
    # the largest move among the columns its levels adjust by.
    for weights in _comparison_tf_weights(settings):
        drift += max(
            weight * (widths.get(column) or 0.0) for column, weight in weights.items()
        )
    return drift


def _write_record_hashes(con: duckdb.DuckDBPyConnection) -> None:
    columns = [
        row[0]
        for row in con.execute(f"describe {MATCHING_RECORDS}").fetchall()
        if row[0] not in ("record_key", IDENTIFIER_COMPONENT, NEEDS_SCORING)
    ]
    # to_json keeps NULL apart from the text 'NULL', which a plain concatenation
    # would not.
    fields = ", ".join(f"'{column}': {column}" for column in columns)
    con.execute(f"""
        create or replace table {RECORD_HASHES} as
        select
            m.record_key,
            md5(to_json({{{fields}}})) as row_hash,
            c.component
        from {MATCHING_RECORDS} as m
        inner join {IDENTIFIER_COMPONENTS} as c using (record_key)
    """)


def _full_run_reason(
    con: duckdb.DuckDBPyConnection, key: str, prune_weight: float
) -> str | None:
    tables = {
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables "
            "where table_catalog = current_database() and table_schema = ?",
            [IDENTITY_SCHEMA],
        ).fetchall()
    }
    expected = {
        name.split(".")[1]
        for name in (STATE, STATE_RECORDS, STATE_PAIR_VECTORS, STATE_TF_RANGES)
    }
    if not expected <= tables:
        return "no stored comparison vectors"
    state_columns = {row[0] for row in con.execute(f"describe {STATE}").fetchall()}
    if "prune_weight" not in state_columns:
        return "the stored comparison vectors are of an older version"
    stored = con.execute(f"select state_key, prune_weight from {STATE}").fetchall()
    if len(stored) != 1 or stored[0][0] != key:
        return "the model file, Splink or DuckDB changed since the vectors were stored"
    if not math.isclose(stored[0][1], prune_weight, abs_tol=1e-9):
        return (
            "the threshold, the review band or the margin changed since the vectors "
            "were stored"
        )
    return None


def _marked_records_sql() -> str:
    # A previous component is split when its remaining records now lie in more
    # than one identifier component.
    return f"""
        with split_components as (
            select s.component
            from {STATE_RECORDS} as s
            inner join {RECORD_HASHES} as h using (record_key)
            group by s.component
            having count(distinct h.component) > 1
        )

        select
            h.record_key,
            s.record_key is null
                or s.row_hash <> h.row_hash
                or s.component in (select component from split_components)
                as {NEEDS_SCORING}
        from {RECORD_HASHES} as h
        left join {STATE_RECORDS} as s using (record_key)
    """


def predict_links_incrementally(
    con: duckdb.DuckDBPyConnection,
    linker: Linker,
    splink_cursor: duckdb.DuckDBPyConnection,
    threshold: float,
    plan: ScoringPlan,
    on_predictions: Callable[[str], None] | None = None,
) -> tuple[int, IncrementalScoring]:
    """Score marked pairs, add stored vectors, and write the scored pairs to scratch.

    ``con`` is the warehouse connection and ``linker`` must be made with
    ``skip_linked_pairs`` and ``marked_pairs_only`` (``splink_model.create_linker``),
    on matching records marked by ``mark_records_to_score``, which returned
    ``plan``. Writes ``SCORED_PAIRS`` and ``SPLINK_LINKS`` like
    ``splink_model.predict_links``, and ``PAIR_VECTORS`` for ``save_state``.
    ``on_predictions`` gets the name of the predictions table, as there. Returns
    the pairs at or above ``threshold`` and the counts of the step.
    """
    if plan.full_run_reason is not None:
        return _predict_links_from_scratch(
            linker, splink_cursor, threshold, plan, on_predictions
        )
    new_pairs = linker.inference.predict(
        threshold_match_weight=plan.prune_weight, warning_mode="never"
    )
    gammas = _gamma_columns(splink_cursor, new_pairs.physical_name)
    vector_columns = ", ".join(["record_key_l", "record_key_r", "match_key", *gammas])
    scored = fetch_value(
        splink_cursor, f"select count(*) from {new_pairs.physical_name}"
    )

    splink_cursor.execute(f"""
        create or replace table {PAIR_VECTORS} as
        select {vector_columns} from {new_pairs.physical_name}
    """)
    new_pairs.drop_table_from_database_and_remove_from_cache()
    reused, rescored = _add_stored_vectors(
        con, vector_columns, plan.min_weight - plan.drift_bits
    )
    predictions = _score_vectors(linker, plan.prune_weight)
    # Store every pair scored from the prune weight up, with its score.
    splink_cursor.execute(f"""
        create or replace table {PAIR_VECTORS} as
        select {vector_columns}, match_weight from {predictions.physical_name}
    """)
    stored = fetch_value(splink_cursor, f"select count(*) from {PAIR_VECTORS}")
    stored += fetch_value(splink_cursor, f"select count(*) from {KEPT_VECTORS}")
    pairs = _keep_review_band(
        splink_cursor, predictions, plan.min_weight, threshold, on_predictions
    )

    records, to_score = (
        int(value)
        for value in splink_cursor.execute(
            f"select count(*), count(*) filter (where {NEEDS_SCORING}) "
            f"from {MATCHING_RECORDS}"
        ).fetchall()[0]
    )
    counts = IncrementalScoring(
        to_score, records, reused, rescored, scored, stored, plan
    )
    logger.info(
        "Scored the pairs of %d of %d records again and reused the comparison "
        "vectors of %d pairs, %d of them scored again near the review band; stored "
        "%d vectors (%s; scores moved by up to %.2f bits since the last full "
        "scoring)",
        to_score,
        records,
        reused,
        rescored,
        stored,
        plan.full_run_reason or "incremental run",
        plan.drift_bits,
    )
    return pairs, counts


def _predict_links_from_scratch(
    linker: Linker,
    splink_cursor: duckdb.DuckDBPyConnection,
    threshold: float,
    plan: ScoringPlan,
    on_predictions: Callable[[str], None] | None,
) -> tuple[int, IncrementalScoring]:
    """Score every pair, as ``predict_links_incrementally`` does without state.

    Splink's own ``predict`` would write the millions of pairs within the margin
    with every compared value. This writes only their vectors and scores to
    ``PAIR_VECTORS``, then scores the pairs from the review band up again for the
    full rows that ``keep_scored_pairs`` reads.
    """
    # NOTE: uses Splink 5.0.0 internals (the pipeline and the SQL of its predict),
    # because its public predict has no way to leave out the compared values.
    settings = linker._settings_obj
    blocked_pairs = linker.inference.compute_blocked_pairs_for_predict()
    pipeline = CTEPipeline([blocked_pairs])
    enqueue_df_concat_with_tf(linker, pipeline)
    column_info = settings.column_info_settings
    pipeline.enqueue_list_of_sqls(
        compute_comparison_vector_values_from_id_pairs_sqls(
            settings._columns_to_select_for_blocking,
            settings._columns_to_select_for_comparison_vector_values,
            input_tablename_l="__splink__df_concat_with_tf",
            input_tablename_r="__splink__df_concat_with_tf",
            source_dataset_input_column=column_info.source_dataset_input_column,
            unique_id_input_column=column_info.unique_id_input_column,
            link_type=settings._link_type,
            sql_dialect_str=linker._sql_dialect_str,
        )
    )
    pipeline.enqueue_list_of_sqls(
        predict_from_comparison_vectors_sqls_using_settings(
            settings, threshold_match_weight=plan.prune_weight
        )
    )
    gammas = ", ".join(
        f"gamma_{comparison.output_column_name}" for comparison in settings.comparisons
    )
    pipeline.enqueue_sql(
        f"select record_key_l, record_key_r, match_key, {gammas}, match_weight "
        "from __splink__df_predict",
        "__splink__incremental_vectors",
    )
    vectors = linker._db_api.sql_pipeline_to_splink_dataframe(pipeline)
    blocked_pairs.drop_table_from_database_and_remove_from_cache()
    splink_cursor.execute(f"drop table if exists {KEPT_VECTORS}")
    splink_cursor.execute(
        f"create or replace table {PAIR_VECTORS} as from {vectors.physical_name}"
    )
    vectors.drop_table_from_database_and_remove_from_cache()
    stored = fetch_value(splink_cursor, f"select count(*) from {PAIR_VECTORS}")

    predictions = _score_vectors(
        linker, plan.min_weight, f"v.match_weight >= {plan.min_weight!r}"
    )
    pairs = _keep_review_band(
        splink_cursor, predictions, plan.min_weight, threshold, on_predictions
    )
    records = fetch_value(splink_cursor, f"select count(*) from {MATCHING_RECORDS}")
    counts = IncrementalScoring(records, records, 0, 0, stored, stored, plan)
    logger.info(
        "Scored the pairs of all %d records and stored %d vectors (%s)",
        records,
        stored,
        plan.full_run_reason,
    )
    return pairs, counts


def _keep_review_band(
    splink_cursor: duckdb.DuckDBPyConnection,
    predictions,
    min_weight: float,
    threshold: float,
    on_predictions: Callable[[str], None] | None,
) -> int:
    """Keep the predictions from ``min_weight`` up, filtered the way Splink's
    threshold filters, and write them with ``keep_scored_pairs``; return the pairs
    at or above ``threshold``. Drops the predictions table afterwards."""
    splink_cursor.execute(
        f"delete from {predictions.physical_name} "
        f"where not coalesce(match_weight >= {min_weight}, false)"
    )
    pairs = keep_scored_pairs(
        splink_cursor, predictions.physical_name, threshold, on_predictions
    )
    predictions.drop_table_from_database_and_remove_from_cache()
    return pairs


def min_match_weight(threshold: float, min_probability: float) -> float:
    """Return the lowest match weight a run keeps: the review band's or the
    threshold's, whichever is lower."""
    return threshold_args_to_match_weight(min(threshold, min_probability), None)


def _gamma_columns(cursor: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [
        row[0]
        for row in cursor.execute(f"describe {table}").fetchall()
        if row[0].startswith("gamma_")
    ]


def _add_stored_vectors(
    con: duckdb.DuckDBPyConnection, columns: str, near_weight: float
) -> tuple[int, int]:
    """Add the stored vectors that may now score from ``near_weight`` up to
    ``PAIR_VECTORS``, and write the other reusable ones to ``KEPT_VECTORS``.

    A stored vector is reusable when neither record is marked and its records lie
    in different identifier components. Its stored score is from the night it was
    last scored, and scores moved by at most ``drift_bits`` since, so a vector
    stored below ``near_weight`` (the lowest kept weight minus that drift) cannot
    reach the review band tonight. Returns the number of reusable vectors and of
    those added to be scored again.
    """
    con.execute(f"""
        create or replace table {KEPT_VECTORS} as
        select v.*
        from {STATE_PAIR_VECTORS} as v
        inner join {MATCHING_RECORDS} as l
            on v.record_key_l = l.record_key and not l.{NEEDS_SCORING}
        inner join {MATCHING_RECORDS} as r
            on v.record_key_r = r.record_key and not r.{NEEDS_SCORING}
        where l.{IDENTIFIER_COMPONENT} <> r.{IDENTIFIER_COMPONENT}
    """)
    reused = fetch_value(con, f"select count(*) from {KEPT_VECTORS}")
    # A stored vector without a score is scored again, to be safe.
    near = f"coalesce(match_weight >= {near_weight!r}, true)"
    con.execute(f"""
        insert into {PAIR_VECTORS}
        select {columns} from {KEPT_VECTORS} where {near}
    """)
    rescored = con.execute(f"delete from {KEPT_VECTORS} where {near}").fetchone()[0]
    return reused, rescored


def _score_vectors(
    linker: Linker, threshold_match_weight: float, condition: str = "true"
):
    """Return Splink's predictions for the vectors in ``PAIR_VECTORS`` (alias
    ``v``) that meet ``condition``.

    The records' matching columns and term frequencies come from Splink's own
    ``__splink__df_concat_with_tf`` of this run, and the scores from Splink's own
    SQL, so each score equals the one a full ``predict`` computes for that pair.
    """
    # NOTE: uses Splink 5.0.0 internals (the pipeline, the concatenated records with
    # term frequencies and the SQL that turns vectors into scores), because Splink
    # offers no public way to score stored comparison vectors.
    settings = linker._settings_obj
    pipeline = CTEPipeline()
    enqueue_df_concat_with_tf(linker, pipeline)
    columns = ", ".join(settings._columns_to_select_for_blocking)
    gamma_columns = ", ".join(
        f"v.gamma_{comparison.output_column_name}"
        for comparison in settings.comparisons
    )
    pipeline.enqueue_sql(
        f"""
        select {columns}, v.match_key, {gamma_columns}
        from {PAIR_VECTORS} as v
        inner join __splink__df_concat_with_tf as l
            on l.record_key = v.record_key_l
        inner join __splink__df_concat_with_tf as r
            on r.record_key = v.record_key_r
        where {condition}
        """,
        "__splink__df_comparison_vectors",
    )
    pipeline.enqueue_list_of_sqls(
        predict_from_comparison_vectors_sqls_using_settings(
            settings, threshold_match_weight=threshold_match_weight
        )
    )
    return linker._db_api.sql_pipeline_to_splink_dataframe(pipeline)


def save_state(con: duckdb.DuckDBPyConnection, plan: ScoringPlan) -> int:
    """Replace the stored state with this run's record hashes and pair vectors.

    Call inside the run's transaction, after ``predict_links_incrementally``. Does
    nothing when the run scored no pairs (fewer than two records). Returns the
    number of stored vectors.
    """
    if not table_exists(con, PAIR_VECTORS):
        return 0
    con.execute(f"create schema if not exists {IDENTITY_SCHEMA}")
    con.execute(f"create or replace table {STATE_RECORDS} as from {RECORD_HASHES}")
    # The vectors scored tonight, and on an incremental night the reused ones that
    # were too far below the review band to score again, with their earlier scores.
    stored_vectors = f"from {PAIR_VECTORS}"
    if table_exists(con, KEPT_VECTORS):
        stored_vectors += f" union all by name from {KEPT_VECTORS}"
    con.execute(f"create or replace table {STATE_PAIR_VECTORS} as {stored_vectors}")
    con.execute(f"create or replace table {STATE_TF_RANGES} as from {TF_RANGES}")
    con.execute(
        f"""
        create or replace table {STATE} as
        select
            ? as state_key,
            ?::double as prune_weight,
            ?::double as prior_weight_min,
            ?::double as prior_weight_max,
            current_timestamp::timestamp as saved_at
        """,
        [
            plan.state_key,
            plan.prune_weight,
            plan.prior_weight_min,
            plan.prior_weight_max,
        ],
    )
    return fetch_value(con, f"select count(*) from {STATE_PAIR_VECTORS}")
