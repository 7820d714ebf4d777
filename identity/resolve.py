"""Entry point: resolve every person record in the warehouse to a customer_id.

One run reads ``intermediate.int_person_records`` and ``intermediate.int_identifiers``
and replaces ``identity.record_customers``, ``identity.match_pairs`` and
``identity.skipped_identifiers`` in one transaction, appending one row to
``identity.resolution_metrics``. The same transaction updates the stable id tables
(``identity.stable_ids``). Running it twice on the same data gives the same rows
apart from timestamps and run ids.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from identity.charts import write_run_charts
from identity.clustering import (
    IDENTIFIER_COMPONENTS,
    cluster_records,
    label_identifier_components,
)
from identity.evaluation import PairwiseMetrics, evaluate_against_ground_truth
from identity.explain import write_pair_scores
from identity.graph import (
    DEFAULT_MAX_RECORDS_PER_IDENTIFIER,
    IDENTIFIER_LINKS,
    SKIPPED,
    IdentifierGraphStats,
    build_identifier_links,
)
from identity.health import write_cluster_metrics
from identity.incremental import (
    IncrementalScoring,
    mark_records_to_score,
    min_match_weight,
    predict_links_incrementally,
    save_state,
    state_key,
)
from identity.review import apply_review_decisions, write_review_queue
from identity.scratch import scratch_database
from identity.splink_model import (
    DEFAULT_MODEL_PATH,
    DEFAULT_REVIEW_MIN_PROBABILITY,
    SPLINK_LINKS,
    check_comparison_budget,
    comparison_budget,
    create_linker,
    model_settings,
    predict_links,
    prepare_matching_records,
    settings_differences,
)
from identity.sql import fetch_row, fetch_value
from identity.stable_ids import (
    RECORD_CUSTOMER_IDS,
    CustomerIdChanges,
    assign_customer_ids,
    create_customer_id_tables,
    save_customer_ids,
)
from identity.tables import (
    IDENTITY_SCHEMA,
    MATCH_PAIRS,
    PERSON_RECORDS,
    RECORD_CUSTOMERS,
    RESOLUTION_METRICS,
    SKIPPED_IDENTIFIERS,
)
from identity.training import estimate_prior, save_model, train_linker

logger = logging.getLogger(__name__)

# Match probability at or above which a Splink pair links two records. On the
# hard-mode benchmark (python -m identity.benchmark --dataset hard --customers 5000),
# the saved model reached pairwise precision 0.996 at 0.99 and 0.993 at 0.95, where
# recall was only 0.002 higher.
DEFAULT_THRESHOLD = 0.99


@dataclass(frozen=True)
class ResolutionResult:
    """Counts and scores of one run.

    pairs_deterministic counts record pairs that share at least one identifier value,
    so a pair sharing an email and a phone number counts once (match_pairs has one
    row per identifier type). pairs_splink counts Splink pairs at or above
    ``threshold``. Splink skips pairs whose records identifier links already join,
    directly or through other records, so these pairs join separate identifier
    components.
    precision, recall and f1 are pairwise scores, None without ground truth.
    id_changes counts kept, new, merged and split customer ids.
    """

    run_id: str
    resolved_at: datetime
    records: int
    customers: int
    pairs_deterministic: int
    pairs_splink: int
    skipped_identifiers: int
    threshold: float
    model_trained: bool
    id_changes: CustomerIdChanges
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    # Wall seconds of each phase (graph, splink, clustering, ids, ...), in order.
    phase_seconds: dict[str, float] = field(default_factory=dict)
    # Counts of incremental scoring; None when the run was not incremental.
    incremental: IncrementalScoring | None = None


class PhaseTimer:
    """Record the wall time of named phases of one run, to find where time goes."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.seconds[name] = round(self.seconds.get(name, 0.0) + elapsed, 2)
            logger.debug("identity phase %s took %.2f s", name, elapsed)


def resolve_identities(
    con: duckdb.DuckDBPyConnection,
    ground_truth: Path | None = None,
    model_path: Path = DEFAULT_MODEL_PATH,
    threshold: float = DEFAULT_THRESHOLD,
    max_records_per_identifier: int = DEFAULT_MAX_RECORDS_PER_IDENTIFIER,
    charts_dir: Path | None = None,
    run_id: str | None = None,
    splink_engine: str = "duckdb",
    incremental: bool = False,
) -> ResolutionResult:
    """Link, cluster and write the identity tables of the warehouse behind ``con``.

    ``ground_truth`` is a CSV with source,source_record_id,person_id; when given and
    present, the run is scored against it. A missing ``model_path`` is not an error:
    the run trains a model on the warehouse data, saves it there and logs a warning.
    With ``charts_dir``, Splink's charts of the run are written there as HTML.
    ``run_id`` labels the run in the id history (a Dagster run id, say); a random
    UUID when None. ``splink_engine`` is where Splink scores the pairs: ``duckdb``
    in the warehouse's process, or ``spark`` on the project's Spark session
    (``identity.spark_scoring``); every other step runs on DuckDB either way.
    With ``incremental``, Splink reuses the comparison vectors the last incremental
    run stored for pairs of unchanged records and stores this run's
    (``identity.incremental``); the results equal those of a run without it.
    """
    check_threshold(threshold)

    started = time.perf_counter()
    timer = PhaseTimer()
    run_id = run_id or str(uuid.uuid4())
    resolved_at = datetime.now(UTC).replace(tzinfo=None)
    records = _count_records(con)
    create_customer_id_tables(con)

    with scratch_database(con) as splink_cursor:
        graph, model_trained, pairs_splink, incremental_counts = link_records(
            con,
            splink_cursor,
            model_path,
            threshold,
            max_records_per_identifier,
            charts_dir,
            timer,
            splink_engine,
            incremental=incremental,
        )
        with timer.phase("clustering"):
            cluster_records(con)
        with timer.phase("customer_ids"):
            id_changes = assign_customer_ids(con, run_id, resolved_at)
        customers = id_changes.customers
        with timer.phase("evaluation"):
            metrics = _evaluate(con, ground_truth)

        pairs_deterministic = fetch_value(
            con,
            f"select count(*) from (select distinct record_key_l, record_key_r "
            f"from {IDENTIFIER_LINKS})",
        )
        result = ResolutionResult(
            run_id=run_id,
            resolved_at=resolved_at,
            records=records,
            customers=customers,
            pairs_deterministic=pairs_deterministic,
            pairs_splink=pairs_splink,
            skipped_identifiers=graph.skipped_values,
            threshold=threshold,
            model_trained=model_trained,
            id_changes=id_changes,
            precision=metrics.precision if metrics else None,
            recall=metrics.recall if metrics else None,
            f1=metrics.f1 if metrics else None,
            phase_seconds=timer.seconds,
            incremental=incremental_counts,
        )
        with timer.phase("write_outputs"):
            _write_outputs(con, result)

    logger.info(
        "Resolved %d records into %d customers (%d identifier pairs, %d Splink pairs "
        "at threshold %s) in %.1f s; phases: %s",
        records,
        customers,
        pairs_deterministic,
        pairs_splink,
        threshold,
        time.perf_counter() - started,
        ", ".join(f"{name} {sec:.1f} s" for name, sec in timer.seconds.items()),
    )
    return result


def check_threshold(threshold: float) -> None:
    """Raise ValueError unless ``threshold`` is a usable match probability."""
    # Splink 5.0.0 turns a threshold of 1 into the match weight "inf" and then fails
    # on its own SQL, so 1 is excluded along with 0.
    if not 0.0 < threshold < 1.0:
        raise ValueError(
            "threshold must be a match probability between 0 and 1, both excluded; "
            f"got {threshold}"
        )


# TODO: every run links and clusters all records again, so a night with 1% new
# records costs as much as a full run. At 424,544 records (100,000 generated
# customers and 1% new) a run took 12.6 to 12.9 CPU s on a shared 2-core machine.
# The identifier graph took 5 to 9 s wall and Splink 6 to 10 s, the other phases
# under 3 s each. With ``incremental`` the run took 13.8 to 14.4 CPU s, so
# incremental scoring saves nothing at that size. Scoring only the new and changed
# records against the existing clusters would need the identifier graph,
# clustering and match_pairs updated in place.
def link_records(
    con: duckdb.DuckDBPyConnection,
    splink_cursor: duckdb.DuckDBPyConnection,
    model_path: Path,
    threshold: float,
    max_records_per_identifier: int = DEFAULT_MAX_RECORDS_PER_IDENTIFIER,
    charts_dir: Path | None = None,
    timer: PhaseTimer | None = None,
    splink_engine: str = "duckdb",
    skip_linked_pairs: bool = True,
    incremental: bool = False,
) -> tuple[IdentifierGraphStats, bool, int, IncrementalScoring | None]:
    """Write the identifier links and Splink links of all records to scratch.

    Needs the scratch database of ``scratch_database(con)``, with ``splink_cursor``
    the cursor it yields. With ``charts_dir``, Splink's charts are written there.
    ``splink_engine`` (``duckdb`` or ``spark``) is where Splink scores the pairs.
    With ``skip_linked_pairs``, Splink scores only pairs whose records lie in
    different components of the identifier links, which gives the same clusters
    (``splink_model.skip_identifier_linked_pairs``). Also writes those components
    for ``clustering.cluster_records``. ``incremental`` reuses stored comparison
    vectors (``identity.incremental``); it needs ``skip_linked_pairs`` and DuckDB.
    Returns (identifier graph counts, whether a model was trained, Splink pairs
    kept, incremental counts or None).
    """
    if incremental and (not skip_linked_pairs or splink_engine != "duckdb"):
        # TODO: incremental scoring on Spark would need the vectors stored there.
        raise ValueError(
            "incremental identity resolution needs skip_linked_pairs and the duckdb "
            f"engine; got skip_linked_pairs={skip_linked_pairs}, "
            f"splink_engine={splink_engine!r}"
        )
    timer = timer or PhaseTimer()
    records = _count_records(con)
    # TODO: incremental runs still build the identifier graph and its components
    # from all records (10 to 19 s of about 35 s at 990,000 records).
    with timer.phase("identifier_graph"):
        graph = build_identifier_links(con, max_records_per_identifier)
        label_identifier_components(con)
    with timer.phase("prepare_records"):
        prepare_matching_records(
            con, IDENTIFIER_COMPONENTS if skip_linked_pairs else None
        )
    with timer.phase("splink"):
        model_trained, pairs_splink, incremental_counts = _score_pairs(
            splink_cursor,
            model_path,
            threshold,
            records,
            charts_dir,
            splink_engine,
            skip_linked_pairs,
            con if incremental else None,
        )
    # Reviewers' decisions override Splink's pairs before clustering.
    with timer.phase("review_decisions"):
        apply_review_decisions(con)
    return graph, model_trained, pairs_splink, incremental_counts


def _count_records(con: duckdb.DuckDBPyConnection) -> int:
    records, distinct_keys = fetch_row(
        con, f"select count(*), count(distinct record_key) from {PERSON_RECORDS}"
    )
    if records != distinct_keys:
        raise ValueError(
            f"{PERSON_RECORDS} has {records - distinct_keys} duplicate or NULL "
            "record_key values; it must hold one row per record, so fix the dbt model "
            "before resolving identities"
        )
    return records


def _score_pairs(
    splink_cursor: duckdb.DuckDBPyConnection,
    model_path: Path,
    threshold: float,
    records: int,
    charts_dir: Path | None = None,
    splink_engine: str = "duckdb",
    skip_linked_pairs: bool = False,
    incremental_con: duckdb.DuckDBPyConnection | None = None,
) -> tuple[bool, int, IncrementalScoring | None]:
    """Run Splink; return (whether a model was trained, pairs kept, incremental counts).

    Training, when the model file is missing, always runs on DuckDB, on every pair
    its rules find. With ``incremental_con``, the warehouse connection, scoring is
    incremental (``identity.incremental``).
    """
    if splink_engine not in ("duckdb", "spark"):
        raise ValueError(
            f"splink_engine must be duckdb or spark, not {splink_engine!r}"
        )
    if records < 2:
        splink_cursor.execute(f"""
            create or replace table {SPLINK_LINKS} (
                record_key_l varchar, record_key_r varchar,
                match_probability double, match_weight double
            )
        """)
        return False, 0, None

    model_trained = not model_path.is_file()
    if model_trained:
        logger.warning(
            "No Splink model at %s; training one on the %d records in the warehouse "
            "and saving it there. Review and commit the file so later runs reuse it",
            model_path,
            records,
        )
        trainee = create_linker(splink_cursor, model_settings())
        train_linker(trainee)
        save_model(trainee, model_path)
        trainee.table_management.delete_tables_created_by_splink_from_db()
    else:
        _warn_if_model_is_stale(model_path)

    # Always score with the model as saved, so this run matches the runs that reuse
    # the file. A level never observed in training scores differently in memory
    # (m = 1e-6) than after a reload (Splink's default m). Only the prior follows
    # the number of records.
    prior = estimate_prior(splink_cursor)
    plan = None
    if incremental_con is not None:
        settings = json.loads(model_path.read_text(encoding="utf-8"))
        if prior is not None:
            settings["probability_two_random_records_match"] = prior
        plan = mark_records_to_score(
            incremental_con,
            state_key(model_path),
            settings,
            min_match_weight(threshold, DEFAULT_REVIEW_MIN_PROBABILITY),
        )
    linker = create_linker(
        splink_cursor,
        model_path,
        prior=prior,
        skip_linked_pairs=skip_linked_pairs,
        marked_pairs_only=incremental_con is not None,
    )
    if prior is not None:
        logger.info(
            "Estimated the prior on %d records: %.3g (saved model: %.3g)",
            records,
            prior,
            _saved_prior(model_path),
        )

    def write_charts(predictions_table: str) -> None:
        write_run_charts(
            linker, splink_cursor, predictions_table, threshold, charts_dir
        )

    on_predictions = write_charts if charts_dir is not None else None
    incremental_counts = None
    if plan is not None:
        check_comparison_budget(linker, splink_cursor, comparison_budget(records))
        pairs, incremental_counts = predict_links_incrementally(
            incremental_con, linker, splink_cursor, threshold, plan, on_predictions
        )
    elif splink_engine == "spark":
        from identity.spark_scoring import predict_links_on_spark

        # The DuckDB linker above still draws the charts, from the predictions
        # copied back into the scratch database.
        pairs = predict_links_on_spark(
            splink_cursor,
            model_path,
            threshold,
            on_predictions=on_predictions,
            prior=prior,
            skip_linked_pairs=skip_linked_pairs,
        )
    else:
        pairs = predict_links(
            linker, splink_cursor, threshold, on_predictions=on_predictions
        )
    linker.table_management.delete_tables_created_by_splink_from_db()
    return model_trained, pairs, incremental_counts


def _saved_prior(model_path: Path) -> float:
    settings = json.loads(model_path.read_text(encoding="utf-8"))
    return settings["probability_two_random_records_match"]


def _warn_if_model_is_stale(model_path: Path) -> None:
    differences = settings_differences(model_path)
    if differences:
        logger.warning(
            "The saved Splink model %s differs from model_settings() in: %s. The run "
            "uses the saved model; retrain with `python -m identity.training` to "
            "apply the current settings",
            model_path,
            ", ".join(differences),
        )


def _evaluate(
    con: duckdb.DuckDBPyConnection, ground_truth: Path | None
) -> PairwiseMetrics | None:
    if ground_truth is None:
        return None
    if not ground_truth.is_file():
        logger.warning("Ground truth %s not found; skipping evaluation", ground_truth)
        return None
    return evaluate_against_ground_truth(con, RECORD_CUSTOMER_IDS, ground_truth)


def _write_outputs(con: duckdb.DuckDBPyConnection, result: ResolutionResult) -> None:
    con.execute(f"create schema if not exists {IDENTITY_SCHEMA}")
    for ddl in _OUTPUT_TABLES_DDL:
        con.execute(ddl)

    con.begin()
    try:
        _replace_record_customers(con, result.resolved_at)
        save_customer_ids(con)
        _replace_match_pairs(con)
        _replace_skipped_identifiers(con, result.resolved_at)
        _append_metrics(con, result)
        write_pair_scores(con)
        write_review_queue(con, result.resolved_at, result.threshold)
        write_cluster_metrics(con, result.resolved_at)
        if result.incremental is not None:
            save_state(con, result.incremental.plan)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    logger.info(
        "Wrote %s, %s and %s, updated the customer id tables for run %s; appended "
        "one row to %s",
        RECORD_CUSTOMERS,
        MATCH_PAIRS,
        SKIPPED_IDENTIFIERS,
        result.run_id,
        RESOLUTION_METRICS,
    )


_OUTPUT_TABLES_DDL = (
    f"""create table if not exists {RECORD_CUSTOMERS} (
        record_key varchar not null,
        source varchar not null,
        source_record_id varchar not null,
        customer_id varchar not null,
        resolved_at timestamp not null
    )""",
    f"""create table if not exists {MATCH_PAIRS} (
        record_key_l varchar not null,
        record_key_r varchar not null,
        link_type varchar not null,
        match_probability double,
        match_weight double
    )""",
    f"""create table if not exists {SKIPPED_IDENTIFIERS} (
        identifier_type varchar not null,
        identifier_value varchar,
        record_count bigint not null,
        reason varchar not null,
        skipped_at timestamp not null
    )""",
    f"""create table if not exists {RESOLUTION_METRICS} (
        resolved_at timestamp not null,
        records bigint not null,
        customers bigint not null,
        pairs_deterministic bigint not null,
        pairs_splink bigint not null,
        "precision" double,
        recall double,
        f1 double
    )""",
)


def _replace_record_customers(
    con: duckdb.DuckDBPyConnection, resolved_at: datetime
) -> None:
    con.execute(f"delete from {RECORD_CUSTOMERS}")
    con.execute(
        f"""
        insert into {RECORD_CUSTOMERS}
        select p.record_key, p.source, p.source_record_id, c.customer_id, $resolved_at
        from {PERSON_RECORDS} as p
        inner join {RECORD_CUSTOMER_IDS} as c using (record_key)
        order by p.record_key
        """,
        {"resolved_at": resolved_at},
    )


def _replace_match_pairs(con: duckdb.DuckDBPyConnection) -> None:
    # Identifier links are certain by construction: probability 1, and no finite
    # match weight, so match_weight stays NULL.
    con.execute(f"delete from {MATCH_PAIRS}")
    con.execute(f"""
        insert into {MATCH_PAIRS}
        select
            record_key_l,
            record_key_r,
            'identifier:' || identifier_type,
            1.0,
            null
        from {IDENTIFIER_LINKS}
        union all
        select record_key_l, record_key_r, 'splink', match_probability, match_weight
        from {SPLINK_LINKS}
    """)


def _replace_skipped_identifiers(
    con: duckdb.DuckDBPyConnection, resolved_at: datetime
) -> None:
    con.execute(f"delete from {SKIPPED_IDENTIFIERS}")
    con.execute(
        f"""
        insert into {SKIPPED_IDENTIFIERS}
        select identifier_type, identifier_value, record_count, reason, $resolved_at
        from {SKIPPED}
        order by identifier_type, identifier_value
        """,
        {"resolved_at": resolved_at},
    )


def _append_metrics(con: duckdb.DuckDBPyConnection, result: ResolutionResult) -> None:
    con.execute(
        f"insert into {RESOLUTION_METRICS} values (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            result.resolved_at,
            result.records,
            result.customers,
            result.pairs_deterministic,
            result.pairs_splink,
            result.precision,
            result.recall,
            result.f1,
        ],
    )
