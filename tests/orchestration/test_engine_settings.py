"""Unit tests: the engine settings accept their documented values and reject others
with a message naming the variable."""

from __future__ import annotations

import pytest

from orchestration import settings


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "session"), ("thrift", "thrift"), (" Thrift ", "thrift")],
)
def test_spark_dbt_method_values(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("CDP_SPARK_DBT_METHOD", raising=False)
    else:
        monkeypatch.setenv("CDP_SPARK_DBT_METHOD", value)
    assert settings.spark_dbt_method() == expected


def test_spark_dbt_method_rejects_unknown(monkeypatch):
    monkeypatch.setenv("CDP_SPARK_DBT_METHOD", "odbc")
    with pytest.raises(ValueError, match="CDP_SPARK_DBT_METHOD is 'odbc'"):
        settings.spark_dbt_method()


def test_engine_rejects_unknown(monkeypatch):
    monkeypatch.setenv("CDP_ENGINE", "postgres")
    with pytest.raises(ValueError, match="CDP_ENGINE is 'postgres'"):
        settings.engine()


@pytest.mark.parametrize(
    ("value", "expected"), [(None, True), ("1", True), ("0", False)]
)
def test_identity_incremental_values(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("CDP_IDENTITY_INCREMENTAL", raising=False)
    else:
        monkeypatch.setenv("CDP_IDENTITY_INCREMENTAL", value)
    assert settings.identity_incremental() is expected


def test_identity_incremental_rejects_unknown(monkeypatch):
    monkeypatch.setenv("CDP_IDENTITY_INCREMENTAL", "yes")
    with pytest.raises(ValueError, match="CDP_IDENTITY_INCREMENTAL is 'yes'"):
        settings.identity_incremental()
