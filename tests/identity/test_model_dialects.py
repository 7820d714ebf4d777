"""The saved Splink model rendered for Spark: same parameters, Spark's SQL functions."""

from __future__ import annotations

import json

import pytest

from identity.splink_model import (
    DEFAULT_MODEL_PATH,
    ModelDialectError,
    model_for_dialect,
    model_settings,
    settings_differences,
)

DUCKDB_ONLY_FUNCTIONS = ("jaro_winkler_similarity(", "starts_with(", "ends_with(")


def levels(settings: dict) -> list[dict]:
    return [
        level
        for comparison in settings["comparisons"]
        for level in comparison["comparison_levels"]
    ]


def test_duckdb_rendering_matches_saved_model():
    assert settings_differences(DEFAULT_MODEL_PATH) == []


def test_spark_model_keeps_trained_parameters():
    saved = json.loads(DEFAULT_MODEL_PATH.read_text(encoding="utf-8"))

    spark = model_for_dialect(DEFAULT_MODEL_PATH, "spark")

    assert spark["sql_dialect"] == "spark"
    assert spark["probability_two_random_records_match"] == pytest.approx(
        saved["probability_two_random_records_match"]
    )
    for saved_level, spark_level in zip(levels(saved), levels(spark), strict=True):
        assert spark_level.get("m_probability") == saved_level.get("m_probability")
        assert spark_level.get("u_probability") == saved_level.get("u_probability")
        assert spark_level["label_for_charts"] == saved_level["label_for_charts"]


def test_spark_model_uses_spark_functions():
    spark = model_for_dialect(DEFAULT_MODEL_PATH, "spark")
    conditions = [level["sql_condition"] for level in levels(spark)]

    for condition in conditions:
        for function in DUCKDB_ONLY_FUNCTIONS:
            assert function not in condition
    assert any("jaro_winkler(" in condition for condition in conditions)
    # Spark's regexp_extract returns group 1 by default, so the Spark SQL requests
    # group 0, the whole match.
    assert any("'[0-9]+[a-z]?', 0)" in condition for condition in conditions)
    rules = [
        r["blocking_rule"] for r in spark["blocking_rules_to_generate_predictions"]
    ]
    assert len(rules) == len(
        model_settings().create_settings_dict("spark")[
            "blocking_rules_to_generate_predictions"
        ]
    )


def test_stale_model_is_not_rendered(tmp_path):
    saved = json.loads(DEFAULT_MODEL_PATH.read_text(encoding="utf-8"))
    saved["comparisons"] = saved["comparisons"][:-1]
    stale = tmp_path / "model.json"
    stale.write_text(json.dumps(saved), encoding="utf-8")

    with pytest.raises(ModelDialectError, match="comparisons"):
        model_for_dialect(stale, "spark")
