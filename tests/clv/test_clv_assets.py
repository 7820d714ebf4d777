"""The customer_clv asset on generated orders in a real DuckDB file."""

from datetime import datetime, timedelta

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from orchestration.clv import OUTPUT_COLUMNS, predict_clv
from orchestration.clv_assets import customer_clv
from orchestration.resources import DuckDBWarehouse

AS_OF = datetime(2026, 12, 1)
BUYERS = 150


def generated_orders(seed: int = 7) -> pd.DataFrame:
    """Orders of BUYERS customers, each buying at their own Poisson rate over a year."""
    rng = np.random.default_rng(seed)
    rows = []
    for number in range(BUYERS):
        first = AS_OF - timedelta(days=int(rng.integers(30, 365)))
        rate_per_day = rng.gamma(shape=0.5, scale=0.04)
        days = (AS_OF - first).days
        repeat_days = np.sort(
            rng.uniform(1, days, size=rng.poisson(rate_per_day * days))
        )
        for offset in [0.0, *repeat_days]:
            rows.append(
                {
                    "customer_id": f"c{number:03d}",
                    "ordered_at": first + timedelta(days=float(offset)),
                    "total_eur": round(float(rng.gamma(shape=4.0, scale=15.0)), 2),
                    "is_refunded_or_voided": False,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("clv") / "warehouse.duckdb")
    orders = pd.concat(
        [
            generated_orders(),
            pd.DataFrame(
                [
                    # Counts for no one: only refunded, after as_of, or anonymous.
                    {
                        "customer_id": "refunded",
                        "ordered_at": AS_OF - timedelta(days=3),
                        "total_eur": 80.0,
                        "is_refunded_or_voided": True,
                    },
                    {
                        "customer_id": "future",
                        "ordered_at": AS_OF + timedelta(days=3),
                        "total_eur": 80.0,
                        "is_refunded_or_voided": False,
                    },
                    {
                        "customer_id": None,
                        "ordered_at": AS_OF - timedelta(days=3),
                        "total_eur": 80.0,
                        "is_refunded_or_voided": False,
                    },
                ]
            ),
        ],
        ignore_index=True,
    )
    with duckdb.connect(path) as con:
        con.execute("create schema marts")
        con.execute("create schema intermediate")
        con.execute(
            "create table intermediate.int_run_context as "
            "select cast(? as timestamp) as as_of_at",
            [AS_OF],
        )
        con.register("orders", orders)
        con.execute(
            "create table marts.fct_orders as select customer_id, "
            "cast(ordered_at as timestamp) as ordered_at, "
            "cast(total_eur as decimal(18, 2)) as total_eur, "
            "is_refunded_or_voided from orders"
        )
    return path


@pytest.fixture(scope="module")
def materialized(warehouse) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [customer_clv], resources={"warehouse": DuckDBWarehouse(path=warehouse)}
    )


@pytest.fixture(scope="module")
def predictions(warehouse, materialized) -> pd.DataFrame:
    with duckdb.connect(warehouse, read_only=True) as con:
        return con.execute("select * from marts.customer_clv").df()


def test_asset_writes_one_row_per_buyer(predictions):
    assert predictions.columns.tolist() == [*OUTPUT_COLUMNS, "as_of_at"]
    assert len(predictions) == BUYERS
    assert predictions["customer_id"].is_unique
    assert not predictions["customer_id"].isin(["refunded", "future"]).any()


def test_asset_predictions_in_range(predictions):
    assert predictions["p_alive"].between(0, 1).all()
    assert (predictions["expected_purchases_90d"] >= 0).all()
    assert (predictions["predicted_clv_12m_eur"] >= 0).all()
    assert (predictions["recency"] <= predictions["T"]).all()
    assert (predictions["as_of_at"] == pd.Timestamp(AS_OF)).all()


def test_asset_metadata_has_parameters(materialized):
    [event] = materialized.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["customers"].value == BUYERS
    assert set(metadata["bg_nbd_parameters"].value) == {"r", "alpha", "a", "b"}
    assert set(metadata["gamma_gamma_parameters"].value) == {"p", "q", "v"}


def test_predict_without_repeat_buyers_leaves_nulls():
    summary = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "frequency": [0.0, 0.0],
            "recency": [0.0, 0.0],
            "T": [10.0, 20.0],
            "monetary_value": [0.0, 0.0],
        }
    )
    fit = predict_clv(summary)
    assert fit.predictions.columns.tolist() == OUTPUT_COLUMNS
    assert fit.predictions["p_alive"].isna().all()
    assert fit.predictions["predicted_clv_12m_eur"].isna().all()
    assert fit.bg_nbd_parameters == {}
