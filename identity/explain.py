"""Explain a customer: which records form it and which links joined them.

Run ``python -m identity.explain --warehouse PATH CUSTOMER_ID`` to print one
customer's records and links. Identifier values are masked (an email shows as
j***@example.com), and Splink pairs show each comparison's level and match weight,
read from ``identity.splink_pair_scores``.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from identity.splink_model import DEFAULT_MODEL_PATH, SCORED_PAIRS
from identity.sql import fetch_value
from identity.tables import IDENTIFIERS, IDENTITY_SCHEMA, MATCH_PAIRS, RECORD_CUSTOMERS

logger = logging.getLogger(__name__)

PAIR_SCORES = f"{IDENTITY_SCHEMA}.splink_pair_scores"


@dataclass(frozen=True)
class ComparisonContribution:
    """One comparison's part in a Splink pair's match weight."""

    comparison: str
    level: int | None
    label: str
    bayes_factor: float | None
    match_weight: float | None


@dataclass(frozen=True)
class PairLink:
    """A link between two records of one customer."""

    record_key_l: str
    record_key_r: str
    link_type: str
    masked_value: str | None = None
    match_probability: float | None = None
    match_weight: float | None = None
    comparisons: tuple[ComparisonContribution, ...] = ()


@dataclass(frozen=True)
class CustomerExplanation:
    """The records of one customer and the links that joined them."""

    customer_id: str
    records: tuple[tuple[str, str, str], ...]
    links: tuple[PairLink, ...] = field(default_factory=tuple)


def mask_value(identifier_type: str, value: str | None) -> str | None:
    """Mask an identifier value so a reader can recognise it but not copy it.

    Emails keep the first character and the domain, phone numbers the last two
    digits, other values the first character.
    """
    if value is None:
        return None
    value = value.strip()
    if identifier_type == "email" and "@" in value:
        local, _, domain = value.rpartition("@")
        return f"{local[:1]}***@{domain}"
    if identifier_type == "phone":
        digits = re.sub(r"\D", "", value)
        return f"***{digits[-2:]}"
    return f"{value[:1]}***"


def write_pair_scores(con: duckdb.DuckDBPyConnection) -> int:
    """Copy the run's scored Splink pairs from scratch to ``identity.splink_pair_scores``.

    The table has one row per scored pair with match_probability, match_weight and
    Splink's gamma_<comparison> and mw_<comparison> (match weight) columns, so its columns follow
    the model's comparisons. It contains no compared values. Pairs whose records
    identifier links already join, directly or through other records, are not
    scored and have no row. Returns the row count.
    """
    con.execute(f"create schema if not exists {IDENTITY_SCHEMA}")
    con.execute(f"create or replace table {PAIR_SCORES} as from {SCORED_PAIRS}")
    return fetch_value(con, f"select count(*) from {PAIR_SCORES}")


def explain_customer(
    con: duckdb.DuckDBPyConnection,
    customer_id: str,
    model_path: Path = DEFAULT_MODEL_PATH,
) -> CustomerExplanation:
    """Return the records of ``customer_id`` and every link between them.

    Raises LookupError when no record has that customer_id.
    """
    records = tuple(
        con.execute(
            f"select record_key, source, source_record_id from {RECORD_CUSTOMERS} "
            "where customer_id = ? order by record_key",
            [customer_id],
        ).fetchall()
    )
    if not records:
        raise LookupError(f"customer_id {customer_id} not found in {RECORD_CUSTOMERS}")

    keys = [row[0] for row in records]
    levels = _comparison_levels(model_path)
    links = _identifier_links(con, keys) + _model_links(con, keys, levels)
    links.sort(key=lambda link: (link.record_key_l, link.record_key_r, link.link_type))
    return CustomerExplanation(customer_id, records, tuple(links))


def _identifier_links(
    con: duckdb.DuckDBPyConnection, keys: list[str]
) -> list[PairLink]:
    rows = con.execute(
        f"""
        select distinct
            m.record_key_l,
            m.record_key_r,
            m.link_type,
            i.identifier_type,
            trim(i.identifier_value)
        from {MATCH_PAIRS} as m
        inner join {IDENTIFIERS} as i
            on i.record_key = m.record_key_l
            and m.link_type = 'identifier:' || i.identifier_type
        inner join {IDENTIFIERS} as j
            on j.record_key = m.record_key_r
            and j.identifier_type = i.identifier_type
            and trim(j.identifier_value) = trim(i.identifier_value)
        where m.record_key_l in (select unnest($keys))
            and m.record_key_r in (select unnest($keys))
        """,
        {"keys": keys},
    ).fetchall()
    return [
        PairLink(left, right, link_type, masked_value=mask_value(kind, value))
        for left, right, link_type, kind, value in rows
    ]


def _model_links(
    con: duckdb.DuckDBPyConnection,
    keys: list[str],
    levels: dict[str, dict[int, str]],
) -> list[PairLink]:
    has_scores = fetch_value(
        con,
        "select count(*) from information_schema.tables where table_catalog = "
        "current_database() and table_schema = ? and table_name = 'splink_pair_scores'",
        [IDENTITY_SCHEMA],
    )
    scores = f"left join {PAIR_SCORES} as s using (record_key_l, record_key_r)"
    cursor = con.execute(
        f"""
        select m.record_key_l, m.record_key_r, m.link_type, m.match_probability,
            m.match_weight{
            ", s.* exclude (record_key_l, record_key_r, "
            "match_probability, match_weight)"
            if has_scores
            else ""
        }
        from {MATCH_PAIRS} as m
        {scores if has_scores else ""}
        where m.link_type not like 'identifier:%'
            and m.record_key_l in (select unnest($keys))
            and m.record_key_r in (select unnest($keys))
        """,
        {"keys": keys},
    )
    names = [column[0] for column in cursor.description]
    links = []
    for row in cursor.fetchall():
        values = dict(zip(names, row, strict=True))
        links.append(
            PairLink(
                values["record_key_l"],
                values["record_key_r"],
                values["link_type"],
                match_probability=values["match_probability"],
                match_weight=values["match_weight"],
                comparisons=_contributions(values, levels),
            )
        )
    return links


def _contributions(
    values: dict[str, Any], levels: dict[str, dict[int, str]]
) -> tuple[ComparisonContribution, ...]:
    contributions = []
    for name, labels in levels.items():
        gamma = values.get(f"gamma_{name}")
        weight = values.get(f"mw_{name}")
        if gamma is None and weight is None:
            continue
        # The term frequency adjustment is a second match weight on the same level.
        tf_weight = values.get(f"mw_tf_adj_{name}")
        if weight is not None and tf_weight is not None:
            weight += tf_weight
        bayes_factor = None if weight is None else 2**weight
        label = labels.get(gamma, "unknown level") if gamma is not None else "-"
        contributions.append(
            ComparisonContribution(name, gamma, label, bayes_factor, weight)
        )
    return tuple(contributions)


def _comparison_levels(model_path: Path) -> dict[str, dict[int, str]]:
    """Map each comparison to {gamma value: level label} from the saved model.

    Splink numbers a comparison's levels from the last (0) to the first non-null
    level, and gives the null level -1.
    """
    if not model_path.is_file():
        return {}
    settings = json.loads(model_path.read_text(encoding="utf-8"))
    levels: dict[str, dict[int, str]] = {}
    for comparison in settings.get("comparisons", []):
        all_levels = comparison.get("comparison_levels", [])
        non_null = [level for level in all_levels if not level.get("is_null_level")]
        labels = {
            len(non_null) - 1 - index: level.get("label_for_charts", "")
            for index, level in enumerate(non_null)
        }
        labels[-1] = "NULL on either side"
        levels[comparison["output_column_name"]] = labels
    return levels


def masked_record_key(record_key: str) -> str:
    """Return the record key with an email address in it masked.

    Email platform records are keyed by their address ('email_activity:<address>'),
    so printing the key would print the address.
    """
    source, separator, source_record_id = record_key.partition(":")
    if "@" not in source_record_id:
        return record_key
    return f"{source}{separator}{mask_value('email', source_record_id)}"


def render_explanation(explanation: CustomerExplanation) -> Tree:
    """Build a rich tree of the customer's records and links for the terminal."""
    tree = Tree(f"[bold]{explanation.customer_id}[/bold]")
    records = tree.add(f"{len(explanation.records)} records")
    for record_key, source, source_record_id in explanation.records:
        shown_id = masked_record_key(f"{source}:{source_record_id}").partition(":")[2]
        records.add(f"{masked_record_key(record_key)}  ({source} {shown_id})")
    add_links(tree, explanation.links)
    return tree


def add_links(tree: Tree, links: tuple[PairLink, ...]) -> None:
    """Add a node with each link: the masked identifier value of a rule, or the
    Splink probability and match weight with a table of the comparisons."""
    node = tree.add(f"{len(links)} links")
    for link in links:
        pair = (
            f"{masked_record_key(link.record_key_l)} - "
            f"{masked_record_key(link.record_key_r)}"
        )
        if link.link_type.startswith("identifier:"):
            node.add(f"{pair}  {link.link_type} = {link.masked_value}")
            continue
        pair_node = node.add(
            f"{pair}  {link.link_type}  probability {_number(link.match_probability)}"
            f", match weight {_number(link.match_weight)}"
        )
        if link.comparisons:
            pair_node.add(_comparison_table(link))


def _comparison_table(link: PairLink) -> Table:
    table = Table("comparison", "level", "label", "Bayes factor", "match weight")
    for item in link.comparisons:
        table.add_row(
            item.comparison,
            "-" if item.level is None else str(item.level),
            item.label,
            _number(item.bayes_factor),
            _number(item.match_weight),
        )
    return table


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m identity.explain",
        description="Print the records of one customer and the links that joined them.",
    )
    parser.add_argument(
        "--warehouse",
        type=Path,
        required=True,
        help="DuckDB warehouse file after an identity run; opened read-only",
    )
    parser.add_argument(
        "--model-path",
        type=Path,
        default=DEFAULT_MODEL_PATH,
        help=f"Splink model JSON for the level labels (default: {DEFAULT_MODEL_PATH})",
    )
    parser.add_argument("customer_id", help="customer_id, e.g. cus_0123456789abcdef")
    args = parser.parse_args(argv)
    if not args.warehouse.is_file():
        parser.error(f"warehouse file not found: {args.warehouse}")

    with duckdb.connect(str(args.warehouse), read_only=True) as con:
        try:
            explanation = explain_customer(con, args.customer_id, args.model_path)
        except LookupError as error:
            Console(stderr=True).print(str(error))
            return 1
    Console().print(render_explanation(explanation))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
