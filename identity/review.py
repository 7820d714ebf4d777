"""Clerical review: uncertain Splink pairs go to a queue, and decisions override.

Pairs scored from ``DEFAULT_REVIEW_MIN_PROBABILITY`` (identity.splink_model) up to
the match threshold go to ``identity.review_queue`` with masked evidence. Splink
does not score pairs whose records identifier links already join, so no decision
could change their customer, and they do not enter the queue. A
reviewer's decision is read on the next run from ``identity/review_decisions.csv``
(committed with the repository) and from the optional warehouse table
``identity.review_decisions``. Both have the columns left_record_key,
right_record_key, decision ('match' or 'no match'), reviewer and decided_at. When
one pair has several decisions, the latest decided_at wins.

'match' adds the pair to the links that clustering joins. 'no match' removes the
Splink pair. Identifier links are not removed, so a rejected pair can still end in
one customer; ``write_review_queue`` lists such pairs with the reason
``rejected_pair_still_linked``. When Splink skipped the pair or scored it below the
review band, the row has no match probability and its evidence shows '-' for
each level and weight.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from identity.clustering import RECORD_CLUSTERS
from identity.splink_model import (
    SCORED_PAIRS,
    SPLINK_LINKS,
    ensure_scored_pairs_table,
)
from identity.sql import fetch_value, table_exists
from identity.tables import (
    IDENTITY_SCHEMA,
    MATCH_PAIRS,
    PERSON_RECORDS,
    scratch_table,
)

logger = logging.getLogger(__name__)

DEFAULT_DECISIONS_PATH = Path(__file__).parent / "review_decisions.csv"
REVIEW_DECISIONS_TABLE = f"{IDENTITY_SCHEMA}.review_decisions"
REVIEW_QUEUE = f"{IDENTITY_SCHEMA}.review_queue"
DECISIONS = scratch_table("review_decisions")
DECISION_COLUMNS = (
    "left_record_key",
    "right_record_key",
    "decision",
    "reviewer",
    "decided_at",
)
MATCH = "match"
NO_MATCH = "no match"


@dataclass(frozen=True)
class ReviewOverrides:
    """Counts of the decisions one run applied."""

    forced_matches: int
    removed_splink_pairs: int
    unknown_record_pairs: int


def load_review_decisions(
    con: duckdb.DuckDBPyConnection, decisions_path: Path = DEFAULT_DECISIONS_PATH
) -> int:
    """Write the latest decision per record pair to the scratch database.

    Raises ValueError on a decision other than 'match' or 'no match'. Returns the
    number of pairs with a decision.
    """
    sources = [_csv_decisions_sql(con, decisions_path)]
    if table_exists(con, f"{IDENTITY_SCHEMA}.review_decisions"):
        sources.append(
            f"select {', '.join(DECISION_COLUMNS)} from {REVIEW_DECISIONS_TABLE}"
        )
    union = " union all ".join(f"({sql})" for sql in sources if sql)
    if not union:
        union = (
            "select null::varchar as left_record_key, null::varchar as right_record_key, "
            "null::varchar as decision, null::varchar as reviewer, "
            "null::timestamp as decided_at where false"
        )

    con.execute(f"""
        create or replace table {DECISIONS} as
        with decisions as (
            select
                least(trim(left_record_key), trim(right_record_key)) as record_key_l,
                greatest(trim(left_record_key), trim(right_record_key)) as record_key_r,
                lower(trim(decision)) as decision,
                reviewer,
                cast(decided_at as timestamp) as decided_at
            from ({union})
        )

        select *
        from decisions
        qualify row_number() over (
            partition by record_key_l, record_key_r
            order by decided_at desc nulls last, decision
        ) = 1
    """)
    invalid = con.execute(
        f"select distinct decision from {DECISIONS} "
        f"where decision is null or decision not in ('{MATCH}', '{NO_MATCH}')"
    ).fetchall()
    if invalid:
        raise ValueError(
            f"Invalid review decisions {sorted(str(row[0]) for row in invalid)} in "
            f"{decisions_path} or {REVIEW_DECISIONS_TABLE}; each decision must be "
            f"'{MATCH}' or '{NO_MATCH}'"
        )
    return fetch_value(con, f"select count(*) from {DECISIONS}")


def review_match_pairs_sql() -> str:
    """Return SQL selecting (record_key_l, record_key_r) of pairs reviewed as 'match'.

    Only pairs whose records both exist are returned. Call after
    ``load_review_decisions``.
    """
    return f"""
        select d.record_key_l, d.record_key_r
        from {DECISIONS} as d
        inner join {PERSON_RECORDS} as l on d.record_key_l = l.record_key
        inner join {PERSON_RECORDS} as r on d.record_key_r = r.record_key
        where d.decision = '{MATCH}'
    """


def apply_review_decisions(
    con: duckdb.DuckDBPyConnection, decisions_path: Path = DEFAULT_DECISIONS_PATH
) -> ReviewOverrides:
    """Apply the reviewers' decisions to the Splink links in the scratch database.

    Call after Splink scoring and before clustering. Pairs reviewed as 'no match'
    leave ``splink_links``. Pairs reviewed as 'match' join it with match
    probability 1 and no match weight, so clustering joins them like any link.
    """
    ensure_scored_pairs_table(con)
    load_review_decisions(con, decisions_path)
    unknown = fetch_value(
        con,
        f"""
        select count(*) from {DECISIONS} as d
        where not exists (select 1 from {PERSON_RECORDS} where record_key = d.record_key_l)
            or not exists (select 1 from {PERSON_RECORDS} where record_key = d.record_key_r)
        """,
    )
    removed = fetch_value(
        con,
        f"""
        select count(*) from {SPLINK_LINKS} as s
        inner join {DECISIONS} as d using (record_key_l, record_key_r)
        where d.decision = '{NO_MATCH}'
        """,
    )
    con.execute(f"""
        delete from {SPLINK_LINKS} as s
        using {DECISIONS} as d
        where s.record_key_l = d.record_key_l
            and s.record_key_r = d.record_key_r
            and d.decision = '{NO_MATCH}'
    """)

    forced = fetch_value(
        con,
        f"select count(*) from ({review_match_pairs_sql()}) as m "
        f"anti join {SPLINK_LINKS} as s using (record_key_l, record_key_r)",
    )
    con.execute(f"""
        insert into {SPLINK_LINKS} (record_key_l, record_key_r, match_probability)
        select m.record_key_l, m.record_key_r, 1.0
        from ({review_match_pairs_sql()}) as m
        anti join {SPLINK_LINKS} as s using (record_key_l, record_key_r)
    """)

    if unknown:
        logger.warning(
            "Ignored %d review decisions on record keys that are not in %s",
            unknown,
            PERSON_RECORDS,
        )
    logger.info(
        "Applied review decisions: %d pairs forced to match, %d Splink pairs removed",
        forced,
        removed,
    )
    return ReviewOverrides(forced, removed, unknown)


def write_review_queue(
    con: duckdb.DuckDBPyConnection, queued_at: datetime, threshold: float
) -> int:
    """Replace ``identity.review_queue`` with this run's uncertain and conflicting pairs.

    Call after clustering. Uncertain pairs are scored below ``threshold`` and have no
    decision yet. Conflicting pairs were reviewed as 'no match' but still share a
    customer through other links. Evidence names each comparison level and its
    match weight and never contains a compared value. Returns the queue's row count.
    """
    con.execute(f"create schema if not exists {IDENTITY_SCHEMA}")
    con.execute(
        f"""
        create or replace table {REVIEW_QUEUE} as
        with uncertain as (
            select
                p.record_key_l,
                p.record_key_r,
                p.match_probability,
                p.match_weight,
                'uncertain' as reason
            from {SCORED_PAIRS} as p
            anti join {DECISIONS} as d using (record_key_l, record_key_r)
            where p.match_probability < $threshold
        ),

        still_linked as (
            select
                d.record_key_l,
                d.record_key_r,
                p.match_probability,
                p.match_weight,
                'rejected_pair_still_linked' as reason
            from {DECISIONS} as d
            inner join {RECORD_CLUSTERS} as cl on d.record_key_l = cl.record_key
            inner join {RECORD_CLUSTERS} as cr on d.record_key_r = cr.record_key
            left join {SCORED_PAIRS} as p using (record_key_l, record_key_r)
            where d.decision = '{NO_MATCH}' and cl.cluster_key = cr.cluster_key
        )

        select
            q.record_key_l as left_record_key,
            q.record_key_r as right_record_key,
            q.match_probability,
            q.match_weight,
            q.reason,
            {_evidence_sql(con)} as evidence,
            $queued_at as queued_at
        from (select * from uncertain union all select * from still_linked) as q
        left join {SCORED_PAIRS} as p using (record_key_l, record_key_r)
        order by q.reason, q.match_probability desc, 1, 2
        """,
        {"threshold": threshold, "queued_at": queued_at},
    )
    _label_reviewed_matches(con, threshold)
    conflicts = fetch_value(
        con,
        f"select count(*) from {REVIEW_QUEUE} "
        "where reason = 'rejected_pair_still_linked'",
    )
    if conflicts:
        logger.warning(
            "%d pairs reviewed as 'no match' still share a customer through "
            "identifier or other links; they are listed in %s",
            conflicts,
            REVIEW_QUEUE,
        )
    return fetch_value(con, f"select count(*) from {REVIEW_QUEUE}")


def _label_reviewed_matches(con: duckdb.DuckDBPyConnection, threshold: float) -> None:
    # apply_review_decisions adds forced pairs to splink_links, which resolve copies
    # to match_pairs as 'splink'; pairs Splink itself did not link get their own type.
    con.execute(
        f"""
        update {MATCH_PAIRS} as m
        set link_type = 'review:match'
        from ({review_match_pairs_sql()}) as r
        where m.link_type = 'splink'
            and m.record_key_l = r.record_key_l
            and m.record_key_r = r.record_key_r
            and not exists (
                select 1 from {SCORED_PAIRS} as p
                where p.record_key_l = m.record_key_l
                    and p.record_key_r = m.record_key_r
                    and p.match_probability >= $threshold
            )
        """,
        {"threshold": threshold},
    )


def _evidence_sql(con: duckdb.DuckDBPyConnection) -> str:
    # One "<comparison> level <gamma>: <match weight>" entry per comparison, from
    # the scored pair's gamma_<comparison> and mw_<comparison> columns.
    columns = [
        row[0]
        for row in con.execute(
            "select column_name from information_schema.columns "
            "where table_catalog = ? and table_name = ? order by ordinal_position",
            SCORED_PAIRS.split(".")[0::2],
        ).fetchall()
    ]
    comparisons = [c.removeprefix("gamma_") for c in columns if c.startswith("gamma_")]
    entries = [
        f"'{name} level ' || coalesce(cast(p.gamma_{name} as varchar), '-') || ': ' "
        f"|| coalesce(cast(round(p.mw_{name}, 2) as varchar), '-')"
        for name in comparisons
        if f"mw_{name}" in columns
    ]
    if not entries:
        return "null"
    return "concat_ws('; ', " + ", ".join(entries) + ")"


def _csv_decisions_sql(con: duckdb.DuckDBPyConnection, path: Path) -> str | None:
    if not path.is_file():
        return None
    quoted = str(path).replace("'", "''")
    columns = ", ".join(f"'{name}': 'varchar'" for name in DECISION_COLUMNS)
    return (
        f"select {', '.join(DECISION_COLUMNS)} from read_csv('{quoted}', "
        f"header = true, columns = {{{columns}}})"
    )
