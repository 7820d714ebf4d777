"""Comparison levels of the Splink model that the saved model relies on."""

from __future__ import annotations

import json
import random

import duckdb
import pytest

from identity.splink_model import (
    DEFAULT_MODEL_PATH,
    SQL_FUNCTIONS,
    _one_edit_sql,
    model_settings,
)


def one_edit_duckdb(column: str) -> str:
    return _one_edit_sql(column).format(**SQL_FUNCTIONS["duckdb"])


def level_condition(comparison: str, label: str) -> str:
    settings = model_settings().create_settings_dict("duckdb")
    for entry in settings["comparisons"]:
        if entry["output_column_name"] != comparison:
            continue
        for level in entry["comparison_levels"]:
            if level.get("label_for_charts") == label:
                return level["sql_condition"]
    raise LookupError(f"no level {label!r} in comparison {comparison!r}")


def evaluate(condition: str, column: str, left: str, right: str) -> bool:
    with duckdb.connect() as con:
        return con.execute(
            f"select {condition} from (select ? as {column}_l, ? as {column}_r)",
            [left, right],
        ).fetchall()[0][0]


@pytest.mark.parametrize(
    ("left", "right", "is_typo"),
    [
        ("anna.weber@gmx.de", "anna.webre@gmx.de", True),
        ("anna.weber@gmx.de", "anna.wber@gmx.de", True),
        ("anna.weber@gmx.de", "anna.weber@gmx.dd", True),
        ("anna.weber@gmx.de", "anna_weber@gmx.de", False),
        ("anna.weber@gmx.de", "annaweber@gmx.de", False),
        ("anna.weber@gmx.de", "anna.weber2@gmx.de", False),
        ("anna.weber3@gmx.de", "anna.weber7@gmx.de", False),
        ("anna.weber@gmx.de", "anna.weber@gmx.de.x", False),
    ],
)
def test_email_typo_level_ignores_digits_and_separators(left, right, is_typo):
    condition = level_condition("email", "One typo in a letter")

    assert evaluate(condition, "email", left, right) is is_typo


def test_one_edit_condition_agrees_with_damerau_levenshtein():
    rng = random.Random(7)
    alphabet = "ab.1"
    pairs = [("", ""), ("a", ""), ("a", "ab"), ("ab", "ba"), ("abc", "cab")]
    for _ in range(3000):
        left = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 9)))
        right = list(left)
        for _ in range(rng.randrange(0, 3)):
            position = rng.randrange(0, len(right) + 1)
            if rng.random() < 0.5 or not right[position:]:
                right.insert(position, rng.choice(alphabet))
            else:
                del right[position]
        pairs.append((left, "".join(right)))

    with duckdb.connect() as con:
        con.execute("create table pairs (value_l varchar, value_r varchar)")
        con.executemany("insert into pairs values (?, ?)", pairs)
        disagreements = con.execute(f"""
            select count(*) from pairs
            where ({one_edit_duckdb("value")})
                is distinct from (damerau_levenshtein(value_l, value_r) <= 1)
        """).fetchall()[0][0]
        one_edit = con.execute(
            f"select count(*) from pairs where {one_edit_duckdb('value')}"
        ).fetchall()[0][0]

    assert disagreements == 0
    assert 0 < one_edit < len(pairs)


def saved_level(comparison: str, label: str) -> dict:
    settings = json.loads(DEFAULT_MODEL_PATH.read_text(encoding="utf-8"))
    for entry in settings["comparisons"]:
        if entry["output_column_name"] == comparison:
            for level in entry["comparison_levels"]:
                if level.get("label_for_charts") == label:
                    return level
    raise LookupError(f"no level {label!r} in the saved comparison {comparison!r}")


def test_saved_model_counts_swapped_names_once():
    in_first_name = saved_level("first_name", "first_name and last_name swapped")
    in_last_name = saved_level("last_name", "last_name and first_name swapped")

    assert in_first_name["m_probability"] > 100 * in_first_name["u_probability"]
    assert in_last_name["m_probability"] == in_last_name["u_probability"]
