"""Deterministic links: records that share an identifier value.

Grain of the link table: one row per (record pair, identifier type), with the smaller
record_key on the left. Three kinds of values are skipped:

- placeholders that forms and exports put in place of a missing value
  (``normalize.PLACEHOLDER_VALUES``, phone numbers made of one repeated digit),
- values found on more than ``max_records_per_identifier`` records, such as a shop's
  own phone number typed into many orders. Such a value identifies no single person,
  and its pairs would grow quadratically. Neither kind links any records,
- emails and phone numbers shared by records whose first names conflict (Anna and
  Markus), typically an address a household shares. Such a value still links each
  pair of its records whose first names are compatible (``first_names_compatible_sql``),
  so Anna's records join up, but it links no record without a first name, because
  that record could belong to either person. The exception: a record without any
  name on an e-mail address joins the person who subscribed the address to
  marketing (``_add_subscriber_links``). Two names conflict only when no third
  spelling is compatible with both: Tnia and Tvna, each one typo from Tina, are one
  name when another record of the value has Tina or the e-mail address is
  tina.kaspar@...

All three go to ``identity.skipped_identifiers`` with the reason, for review, and
Splink ignores them too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb

from identity.nicknames import nickname_pair_sql
from identity.normalize import fold_text_sql, placeholder_condition
from identity.sql import fetch_value, table_exists
from identity.tables import (
    EMAIL_CONSENT_SIGNALS,
    IDENTIFIERS,
    PERSON_RECORDS,
    scratch_table,
)

logger = logging.getLogger(__name__)

DEFAULT_MAX_RECORDS_PER_IDENTIFIER = 50

# Two first names at most this many edits apart (Damerau-Levenshtein) count as one
# name with a typo: Pia and Pai, Barbara and Babrara. Names of at least
# LONG_NAME_LENGTH characters may be one more edit apart. Jaro-Winkler similarity
# cannot tell typos from siblings here: Maurice and Marcel score 0.88, Pia and Pai
# 0.56.
FIRST_NAME_TYPO_EDITS = 1
LONG_NAME_LENGTH = 8
# The shorter of two names must have this many characters to count as a short form
# of the longer one (Alex, Alexander).
SHORT_FORM_MIN_LENGTH = 3

CLEAN_IDENTIFIERS = scratch_table("identifiers_clean")
SKIPPED = scratch_table("skipped_identifiers")
IDENTIFIER_LINKS = scratch_table("identifier_links")


def first_names_compatible_sql(left: str, right: str) -> str:
    """Return a SQL condition that is true when two records' first names can be one
    person's.

    ``left`` and ``right`` are table aliases with folded first_name and last_name
    columns. A missing first name is compatible with any. Present names are
    compatible when they are equal, a typo apart, one is a short form of the other
    (Alex, Alexander, or a pair in ``nicknames.NICKNAMES`` such as Bill, William),
    or one record has first and last name swapped (typos allowed). The condition is
    symmetric, so the result does not depend on which record is left.
    """
    first_l, first_r = f"{left}.first_name", f"{right}.first_name"
    last_l, last_r = f"{left}.last_name", f"{right}.last_name"
    shorter = f"least(length({first_l}), length({first_r}))"
    name_l = f"replace(concat({first_l}, {last_l}), ' ', '')"
    name_r = f"replace(concat({first_r}, {last_r}), ' ', '')"
    swapped_l = f"replace(concat({last_l}, {first_l}), ' ', '')"
    swapped_r = f"replace(concat({last_r}, {first_r}), ' ', '')"
    # The same words in another split, such as "le marec" + "floor" and
    # "floor le" + "marec".
    words_l = f"list_sort(string_split(concat_ws(' ', {first_l}, {last_l}), ' '))"
    words_r = f"list_sort(string_split(concat_ws(' ', {first_r}, {last_r}), ' '))"
    # A comparison with a missing last name is NULL, which would count as neither
    # compatible nor incompatible, so coalesce turns it into false.
    return f"""coalesce(
        {first_l} is null
        or {first_r} is null
        or damerau_levenshtein({first_l}, {first_r}) <= {_typo_edits(shorter)}
        or ({shorter} >= {SHORT_FORM_MIN_LENGTH}
            and (contains({first_l}, {first_r}) or contains({first_r}, {first_l})))
        or {nickname_pair_sql(first_l, first_r)}
        or ({last_l} is not null and {last_r} is not null
            and (damerau_levenshtein({name_l}, {swapped_r})
                    <= {_typo_edits(f"length({name_l})")}
                or damerau_levenshtein({name_r}, {swapped_l})
                    <= {_typo_edits(f"length({name_r})")}))
        or {words_l} = {words_r}
        or ({first_l} = {last_r} and {last_l} is null)
        or ({first_r} = {last_l} and {last_r} is null),
        false
    )"""


def _same_name_sql(name: str, other: str) -> str:
    """Return a SQL condition that is true when two folded first names are one name:
    a typo apart, or one a short form or nickname of the other."""
    shorter = f"least(length({name}), length({other}))"
    return f"""(
        damerau_levenshtein({name}, {other}) <= {_typo_edits(shorter)}
        or ({shorter} >= {SHORT_FORM_MIN_LENGTH}
            and (contains({name}, {other}) or contains({other}, {name})))
        or {nickname_pair_sql(name, other)}
    )"""


def _address_words_sql(relation: str) -> str:
    """Return a query of the words of each e-mail address in ``relation``.

    ``relation`` has identifier_type and identifier_value columns. A word is a run of
    letters in the local part with at least SHORT_FORM_MIN_LENGTH of them, so
    tina.kaspar19@... gives tina and kaspar.
    """
    return f"""
        select distinct identifier_type, identifier_value, word
        from (
            select
                identifier_type,
                identifier_value,
                unnest(string_split(regexp_replace(
                    split_part(lower(identifier_value), '@', 1), '[^a-z]+', ' ', 'g'
                ), ' ')) as word
            from {relation}
            where identifier_type = 'email'
        )
        where length(word) >= {SHORT_FORM_MIN_LENGTH}
    """


def _typo_edits(length_sql: str) -> str:
    return (
        f"({FIRST_NAME_TYPO_EDITS} + "
        f"case when {length_sql} >= {LONG_NAME_LENGTH} then 1 else 0 end)"
    )


@dataclass(frozen=True)
class IdentifierGraphStats:
    """Counts from one build of the deterministic links."""

    identifier_rows: int
    placeholder_values: int
    over_shared_values: int
    conflicting_name_values: int
    links: int
    # Links among ``links`` from a record without a name to the subscriber of a
    # shared e-mail address (``_add_subscriber_links``).
    subscriber_links: int = 0

    @property
    def skipped_values(self) -> int:
        return (
            self.placeholder_values
            + self.over_shared_values
            + self.conflicting_name_values
        )


def build_identifier_links(
    con: duckdb.DuckDBPyConnection,
    max_records_per_identifier: int = DEFAULT_MAX_RECORDS_PER_IDENTIFIER,
    skip_conflicting_names: bool = True,
) -> IdentifierGraphStats:
    """Write the deterministic links and the skipped identifier values to scratch.

    Reads ``intermediate.int_identifiers`` for records present in
    ``intermediate.int_person_records``. Writes ``identifier_links`` (record_key_l,
    record_key_r, identifier_type) and ``skipped_identifiers`` in the scratch database;
    ``resolve`` copies the latter to the warehouse with the rest of the run's output.
    """
    if max_records_per_identifier < 2:
        raise ValueError(
            "max_records_per_identifier must be at least 2, because a value on one "
            f"record links nothing; got {max_records_per_identifier}"
        )

    identifier_rows = _write_clean_identifiers(con)
    skipped = _write_skipped(con, max_records_per_identifier, skip_conflicting_names)
    _write_links(con)
    subscriber_links = _add_subscriber_links(con)
    links = fetch_value(con, f"select count(*) from {IDENTIFIER_LINKS}")

    stats = IdentifierGraphStats(
        identifier_rows=identifier_rows,
        placeholder_values=skipped.get("placeholder", 0),
        over_shared_values=skipped.get("over_shared", 0),
        conflicting_name_values=skipped.get("conflicting_names", 0),
        links=links,
        subscriber_links=subscriber_links,
    )
    logger.info(
        "Built %d identifier links from %d identifier rows, %d of them from records "
        "without a name to the subscriber of a shared e-mail address; skipped "
        "%d placeholder values, %d values shared by more than %d records and %d "
        "emails or phone numbers on records with conflicting first names",
        links,
        identifier_rows,
        subscriber_links,
        stats.placeholder_values,
        stats.over_shared_values,
        max_records_per_identifier,
        stats.conflicting_name_values,
    )
    return stats


def _write_clean_identifiers(con: duckdb.DuckDBPyConnection) -> int:
    con.execute(f"""
        create or replace table {CLEAN_IDENTIFIERS} as
        select distinct
            i.record_key,
            i.identifier_type,
            trim(i.identifier_value) as identifier_value
        from {IDENTIFIERS} as i
        inner join {PERSON_RECORDS} as p
            on i.record_key = p.record_key
        where i.identifier_value is not null
    """)
    orphans = fetch_value(
        con,
        f"""
        select count(*) from {IDENTIFIERS} as i
        anti join {PERSON_RECORDS} as p on i.record_key = p.record_key
    """,
    )
    if orphans:
        logger.warning(
            "Ignored %d identifier rows whose record_key is not in %s; check the dbt "
            "models that build both tables",
            orphans,
            PERSON_RECORDS,
        )
    return fetch_value(con, f"select count(*) from {CLEAN_IDENTIFIERS}")


def _write_skipped(
    con: duckdb.DuckDBPyConnection,
    max_records_per_identifier: int,
    skip_conflicting_names: bool,
) -> dict[str, int]:
    is_placeholder = placeholder_condition("identifier_value", "identifier_type")
    conflict_types = "('email', 'phone')" if skip_conflicting_names else "(null)"
    con.execute(
        f"""
        create or replace table {SKIPPED} as
        with value_counts as (
            select
                identifier_type,
                identifier_value,
                count(distinct record_key) as record_count,
                {is_placeholder} as is_placeholder
            from {CLEAN_IDENTIFIERS}
            group by identifier_type, identifier_value
        ),

        -- Compatibility depends on the names only, so each value's distinct
        -- spellings are compared instead of its records. A value whose named
        -- records all spell the name the same way cannot conflict.
        value_names as (
            select distinct
                c.identifier_type,
                c.identifier_value,
                {fold_text_sql("p.first_name")} as first_name,
                {fold_text_sql("p.last_name")} as last_name
            from {CLEAN_IDENTIFIERS} as c
            inner join value_counts as v
                using (identifier_type, identifier_value)
            inner join {PERSON_RECORDS} as p
                using (record_key)
            where c.identifier_type in {conflict_types}
                and not v.is_placeholder
                and v.record_count <= $max_records
        ),

        named_records as (
            select
                *,
                row_number() over (
                    partition by identifier_type, identifier_value
                    order by first_name, last_name nulls first
                ) as name_key
            from value_names
            where first_name is not null
            qualify count(*) over (partition by identifier_type, identifier_value) > 1
        ),

        name_pairs as materialized (
            select
                l.identifier_type,
                l.identifier_value,
                l.name_key as name_key_l,
                r.name_key as name_key_r,
                l.first_name as first_name_l,
                r.first_name as first_name_r,
                {first_names_compatible_sql("l", "r")} as is_compatible
            from named_records as l
            inner join named_records as r
                on l.identifier_type = r.identifier_type
                and l.identifier_value = r.identifier_value
                and l.name_key < r.name_key
        ),

        incompatible as materialized (
            select * from name_pairs where not is_compatible
        ),

        compatible_neighbours as (
            select identifier_type, identifier_value, name_key_l as name_key,
                name_key_r as neighbour
            from name_pairs
            where is_compatible
            union all
            select identifier_type, identifier_value, name_key_r, name_key_l
            from name_pairs
            where is_compatible
        ),

        -- Two typos of one name can be two edits apart (Tnia, Tvna). A third
        -- spelling compatible with both, on another record or in the e-mail address
        -- (tina.kaspar@...), shows that they are one name.
        address_words as (
            {_address_words_sql("incompatible")}
        ),

        bridged as (
            select i.identifier_type, i.identifier_value, i.name_key_l, i.name_key_r
            from incompatible as i
            inner join compatible_neighbours as l
                on i.identifier_type = l.identifier_type
                and i.identifier_value = l.identifier_value
                and i.name_key_l = l.name_key
            inner join compatible_neighbours as r
                on i.identifier_type = r.identifier_type
                and i.identifier_value = r.identifier_value
                and i.name_key_r = r.name_key
                and l.neighbour = r.neighbour

            union

            select i.identifier_type, i.identifier_value, i.name_key_l, i.name_key_r
            from incompatible as i
            inner join address_words as a
                on i.identifier_type = a.identifier_type
                and i.identifier_value = a.identifier_value
            where {_same_name_sql("i.first_name_l", "a.word")}
                and {_same_name_sql("i.first_name_r", "a.word")}
        ),

        conflicting as (
            select distinct identifier_type, identifier_value
            from incompatible
            anti join bridged
                using (identifier_type, identifier_value, name_key_l, name_key_r)
        ),

        classified as (
            select
                v.identifier_type,
                v.identifier_value,
                v.record_count,
                case
                    when v.is_placeholder then 'placeholder'
                    when v.record_count > $max_records then 'over_shared'
                    when c.identifier_value is not null then 'conflicting_names'
                end as reason
            from value_counts as v
            left join conflicting as c
                using (identifier_type, identifier_value)
        )

        select * from classified where reason is not null
        """,
        {"max_records": max_records_per_identifier},
    )
    return dict(
        con.execute(
            f"select reason, count(*) from {SKIPPED} group by reason"
        ).fetchall()
    )


def _shared_by_conflicting_names_sql() -> str:
    """Return a query of the identifier rows skipped for conflicting first names.

    Each row carries its record's folded first and last name.
    """
    return f"""
        select
            c.*,
            {fold_text_sql("p.first_name")} as first_name,
            {fold_text_sql("p.last_name")} as last_name
        from {CLEAN_IDENTIFIERS} as c
        semi join {SKIPPED} as s
            on c.identifier_type = s.identifier_type
            and c.identifier_value = s.identifier_value
            and s.reason = 'conflicting_names'
        inner join {PERSON_RECORDS} as p
            using (record_key)
    """


def _write_links(con: duckdb.DuckDBPyConnection) -> int:
    # Values without a conflict link all their records. A value skipped for
    # conflicting first names links only pairs of named records whose names agree.
    con.execute(f"""
        create or replace table {IDENTIFIER_LINKS} as
        with usable as (
            select c.*
            from {CLEAN_IDENTIFIERS} as c
            anti join {SKIPPED} as s
                on c.identifier_type = s.identifier_type
                and c.identifier_value = s.identifier_value
        ),

        shared_by_conflicting_names as (
            {_shared_by_conflicting_names_sql()}
        ),

        pairs as (
            select l.record_key as record_key_l, r.record_key as record_key_r,
                l.identifier_type
            from usable as l
            inner join usable as r
                on l.identifier_type = r.identifier_type
                and l.identifier_value = r.identifier_value
                and l.record_key < r.record_key

            union all

            select l.record_key, r.record_key, l.identifier_type
            from shared_by_conflicting_names as l
            inner join shared_by_conflicting_names as r
                on l.identifier_type = r.identifier_type
                and l.identifier_value = r.identifier_value
                and l.record_key < r.record_key
            where l.first_name is not null
                and r.first_name is not null
                and {first_names_compatible_sql("l", "r")}
        )

        select distinct record_key_l, record_key_r, identifier_type
        from pairs
    """)
    return fetch_value(con, f"select count(*) from {IDENTIFIER_LINKS}")


def _add_subscriber_links(con: duckdb.DuckDBPyConnection) -> int:
    """Link the nameless records of a shared e-mail address to its subscriber.

    An address that records with conflicting first names share, typically a
    household's, links none of its records without a first name (``_write_links``).
    Those without any name, such as the e-mail platform's record of the address,
    receive the mailings of the person who opted the address in to marketing
    (``EMAIL_CONSENT_SIGNALS``), so they join that person's records. The
    subscribers are the named records of the address with a consent signal of
    true. When their first names conflict, only those the address names count
    (anna.schmidt@ names Anna). Without one compatible group of subscribers, or
    for a record with a last name only, nothing links. Returns the number of links
    added, 0 when the warehouse has no consent signals.
    """
    # NOTE: measured on generated data only. On a hard-mode sample (5,000
    # customers, seed 42) this linked 264 e-mail platform records, 5 of them to
    # another member of the household, because which member subscribed an address
    # is a guess when several did.
    if not table_exists(con, EMAIL_CONSENT_SIGNALS):
        logger.info(
            "%s not found, so records without a name on shared e-mail addresses "
            "stay unlinked",
            EMAIL_CONSENT_SIGNALS,
        )
        return 0

    before = fetch_value(con, f"select count(*) from {IDENTIFIER_LINKS}")
    con.execute(f"""
        insert into {IDENTIFIER_LINKS}
        with shared as (
            {_shared_by_conflicting_names_sql()}
            where c.identifier_type = 'email'
        ),

        subscribers as (
            select * from shared
            semi join {EMAIL_CONSENT_SIGNALS} as consent
                on shared.record_key = consent.record_key
                and consent.is_consent
            where shared.first_name is not null
        ),

        address_words as (
            {_address_words_sql("subscribers")}
        ),

        -- Rank 1: every subscriber of the address. Rank 2: those the address names.
        candidates as (
            select *, 1 as candidate_rank from subscribers
            union all
            select s.*, 2 from subscribers as s
            where exists (
                select 1 from address_words as w
                where w.identifier_value = s.identifier_value
                    and {_same_name_sql("s.first_name", "w.word")}
            )
        ),

        conflicting as (
            select distinct l.identifier_value, l.candidate_rank
            from candidates as l
            inner join candidates as r
                on l.identifier_value = r.identifier_value
                and l.candidate_rank = r.candidate_rank
                and l.record_key < r.record_key
            where not {first_names_compatible_sql("l", "r")}
        ),

        subscriber_group as (
            select c.*
            from candidates as c
            anti join conflicting using (identifier_value, candidate_rank)
            qualify c.candidate_rank
                = min(c.candidate_rank) over (partition by c.identifier_value)
        ),

        pairs as (
            select distinct
                least(n.record_key, g.record_key) as record_key_l,
                greatest(n.record_key, g.record_key) as record_key_r,
                n.identifier_type
            from shared as n
            inner join subscriber_group as g using (identifier_type, identifier_value)
            where n.first_name is null and n.last_name is null
        )

        select * from pairs
        anti join {IDENTIFIER_LINKS} as existing
            using (record_key_l, record_key_r, identifier_type)
    """)
    return fetch_value(con, f"select count(*) from {IDENTIFIER_LINKS}") - before
