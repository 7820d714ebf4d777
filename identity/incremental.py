"""Incremental Splink scoring: reuse the comparison vectors of unchanged record pairs.

A Splink score has two parts. The comparison vector (one gamma level per comparison,
``gamma_*``) depends only on the two records' matching columns and on the model's
comparison SQL. The match weight and probability add the model's m and u
probabilities, the prior and the term frequencies of the names on top. Each run
estimates the prior again on all records (``training.estimate_prior``), and Splink
counts the term frequencies over all records. Both move a little whenever records
are added, so a stored score of an unchanged pair would differ from a full run's.
A stored comparison vector does not. So this module stores vectors, not scores,
and every run computes every score again with Splink's own SQL from the vectors,
the current prior and the current term frequencies. That step is cheap
arithmetic. The string comparisons that make the vectors take the time.

A run with stored state:

1. marks records for scoring: new records, records whose matching columns changed
   (a new spelling, or an e-mail address that became over-shared and so NULL), and
   every record of a previous identifier component that is now split. The pairs
   inside such a component were skipped last time, and a full run now scores them
   (``splink_model.skip_identifier_linked_pairs``);
2. lets Splink block all records as usual but score only pairs with at least one
   marked record and with records in different identifier components;
3. adds the stored vectors of pairs of two unmarked records whose records now lie in
   different identifier components. Such a pair had the same values last time, so
   the same blocking rule found it, and it lay in different components then too,
   or its component split and marked its records;
4. scores all vectors with the current prior and term frequencies and keeps those
   from the review band up, as ``splink_model.predict_links`` does.

A run without usable state marks every record. Splink's scores from step 2 are
then final, so it skips steps 3 and 4.

The stored state lives in three identity tables, written in the run's transaction:
``incremental_records`` (each record's hash of its matching columns and the number
of its identifier component, which holds no record key, so an erasure that deletes
a person's records leaves none of their keys behind), ``incremental_pair_vectors``
(every blocked pair across identifier components, with its vector) and
``incremental_state`` (a key of the model file and the Splink and DuckDB versions).
When the key differs, every record is marked and the run is a full one.

On 994,661 generated records with 0.9% new or changed, the Splink step took 10 s
instead of 19 s (BENCHMARKS.md). The rest of the run is not incremental.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
from splink import Linker
from splink.internals.misc import threshold_args_to_match_weight
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
STATE = f"{IDENTITY_SCHEMA}.incremental_state"

RECORD_HASHES = scratch_table("incremental_record_hashes")
PAIR_VECTORS = scratch_table("incremental_pair_vectors")


@dataclass(frozen=True)
class IncrementalScoring:
    """Counts of one incremental scoring step."""

    records_to_score: int
    records: int
    reused_pairs: int
    scored_pairs: int
    full_run_reason: str | None
    state_key: str


def state_key(model_path: Path) -> str:
    """Return the key under which stored comparison vectors stay valid.

    A vector depends on the comparison SQL and the blocking rules (both in the model
    file) and on the SQL functions of DuckDB and Splink's generated SQL.
    """
    digest = hashlib.sha256(model_path.read_bytes())
    for package in ("splink", "duckdb"):
        digest.update(f"|{package}={importlib.metadata.version(package)}".encode())
    return digest.hexdigest()


def mark_records_to_score(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    """Add ``NEEDS_SCORING`` to the matching records; return why all are marked.

    Needs ``MATCHING_RECORDS`` with ``IDENTIFIER_COMPONENT`` and
    ``clustering.IDENTIFIER_COMPONENTS``. Returns None when stored state was
    usable, else the reason every record is marked.
    """
    _write_record_hashes(con)
    reason = _full_run_reason(con, key)
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
    return reason


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


def _full_run_reason(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    tables = {
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables "
            "where table_catalog = current_database() and table_schema = ?",
            [IDENTITY_SCHEMA],
        ).fetchall()
    }
    expected = {
        name.split(".")[1] for name in (STATE, STATE_RECORDS, STATE_PAIR_VECTORS)
    }
    if not expected <= tables:
        return "no stored comparison vectors"
    stored_key = con.execute(f"select state_key from {STATE}").fetchall()
    if stored_key != [(key,)]:
        return "the model file, Splink or DuckDB changed since the vectors were stored"
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
    min_probability: float,
    full_run_reason: str | None,
    key: str,
    on_predictions: Callable[[str], None] | None = None,
) -> tuple[int, IncrementalScoring]:
    """Score marked pairs, add stored vectors, and write the scored pairs to scratch.

    ``con`` is the warehouse connection and ``linker`` must be made with ``skip_linked_pairs`` and ``marked_pairs_only``
    (``splink_model.create_linker``), on matching records marked by
    ``mark_records_to_score``. Writes ``SCORED_PAIRS`` and ``SPLINK_LINKS`` like
    ``splink_model.predict_links``, and ``PAIR_VECTORS`` for ``save_state``.
    ``on_predictions`` gets the name of the predictions table, as there. ``key``
    is the ``state_key`` to store the vectors under. Returns
    the pairs at or above ``threshold`` and the counts of the step.
    """
    new_pairs = linker.inference.predict(warning_mode="never")
    gammas = _gamma_columns(splink_cursor, new_pairs.physical_name)
    vector_columns = ", ".join(["record_key_l", "record_key_r", "match_key", *gammas])
    splink_cursor.execute(f"""
        create or replace table {PAIR_VECTORS} as
        select {vector_columns} from {new_pairs.physical_name}
    """)
    scored = fetch_value(splink_cursor, f"select count(*) from {PAIR_VECTORS}")

    reused = 0
    if full_run_reason is None:
        new_pairs.drop_table_from_database_and_remove_from_cache()
        # TODO: every stored vector is scored again each night (2 million at
        # 990,000 records). Only vectors whose score can reach the review band
        # under any plausible prior would need it, but bounding the term frequency
        # adjustments needs more work.
        reused = _add_stored_vectors(con, vector_columns)
        predictions = _score_vectors(linker, min(threshold, min_probability))
    else:
        # Every record was marked, so Splink's scores are already the final ones.
        # Keep the review band and up, filtered the way Splink's threshold filters.
        predictions = new_pairs
        min_weight = threshold_args_to_match_weight(
            min(threshold, min_probability), None
        )
        splink_cursor.execute(
            f"delete from {predictions.physical_name} "
            f"where not coalesce(match_weight >= {min_weight}, false)"
        )
    pairs = keep_scored_pairs(
        splink_cursor, predictions.physical_name, threshold, on_predictions
    )
    predictions.drop_table_from_database_and_remove_from_cache()

    records, to_score = (
        int(value)
        for value in splink_cursor.execute(
            f"select count(*), count(*) filter (where {NEEDS_SCORING}) "
            f"from {MATCHING_RECORDS}"
        ).fetchall()[0]
    )
    counts = IncrementalScoring(to_score, records, reused, scored, full_run_reason, key)
    logger.info(
        "Scored the pairs of %d of %d records again and reused the comparison "
        "vectors of %d pairs (%s)",
        to_score,
        records,
        reused,
        full_run_reason or "incremental run",
    )
    return pairs, counts


def _gamma_columns(cursor: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [
        row[0]
        for row in cursor.execute(f"describe {table}").fetchall()
        if row[0].startswith("gamma_")
    ]


def _add_stored_vectors(con: duckdb.DuckDBPyConnection, columns: str) -> int:
    before = fetch_value(con, f"select count(*) from {PAIR_VECTORS}")
    con.execute(f"""
        insert into {PAIR_VECTORS}
        select v.{columns.replace(", ", ", v.")}
        from {STATE_PAIR_VECTORS} as v
        inner join {MATCHING_RECORDS} as l
            on v.record_key_l = l.record_key and not l.{NEEDS_SCORING}
        inner join {MATCHING_RECORDS} as r
            on v.record_key_r = r.record_key and not r.{NEEDS_SCORING}
        where l.{IDENTIFIER_COMPONENT} <> r.{IDENTIFIER_COMPONENT}
    """)
    return fetch_value(con, f"select count(*) from {PAIR_VECTORS}") - before


def _score_vectors(linker: Linker, threshold_match_probability: float):
    """Return Splink's predictions for the vectors in ``PAIR_VECTORS``.

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
        """,
        "__splink__df_comparison_vectors",
    )
    pipeline.enqueue_list_of_sqls(
        predict_from_comparison_vectors_sqls_using_settings(
            settings, threshold_match_probability=threshold_match_probability
        )
    )
    return linker._db_api.sql_pipeline_to_splink_dataframe(pipeline)


def save_state(con: duckdb.DuckDBPyConnection, key: str) -> int:
    """Replace the stored state with this run's record hashes and pair vectors.

    Call inside the run's transaction, after ``predict_links_incrementally``. Does
    nothing when the run scored no pairs (fewer than two records). Returns the
    number of stored vectors.
    """
    if not table_exists(con, PAIR_VECTORS):
        return 0
    con.execute(f"create schema if not exists {IDENTITY_SCHEMA}")
    con.execute(f"create or replace table {STATE_RECORDS} as from {RECORD_HASHES}")
    con.execute(f"create or replace table {STATE_PAIR_VECTORS} as from {PAIR_VECTORS}")
    con.execute(
        f"create or replace table {STATE} as "
        "select ? as state_key, current_timestamp::timestamp as saved_at",
        [key],
    )
    return fetch_value(con, f"select count(*) from {STATE_PAIR_VECTORS}")
