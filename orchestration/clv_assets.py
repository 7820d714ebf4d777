"""Dagster asset for customer lifetime value, between the order marts and traits."""

import dagster as dg
import duckdb
import pandas as pd

from orchestration import settings
from orchestration.clv import ClvFit, predict_clv, summarize_orders
from orchestration.resources import DuckDBWarehouse

ASSET_KEY = dg.AssetKey(["marts", "customer_clv"])
UPSTREAM_MODELS = [
    dg.AssetKey(["marts", "fct_orders"]),
    dg.AssetKey(["intermediate", "int_run_context"]),
]
TABLE = "marts.customer_clv"
# The columns of marts.fct_orders that ORDERS_SQL reads, fetched from Spark.
SPARK_ORDERS_SQL = """
select customer_id, ordered_at, total_eur, is_refunded_or_voided
from marts.fct_orders
"""

# Same order filter as customer_rfm, so both count the same purchases.
ORDERS_SQL = """
select orders.customer_id, orders.ordered_at, orders.total_eur
from marts.fct_orders as orders
cross join intermediate.int_run_context as run_context
where not orders.is_refunded_or_voided
    and orders.customer_id is not null
    and orders.total_eur is not null
    and orders.ordered_at <= run_context.as_of_at
"""


@dg.asset(
    key=ASSET_KEY,
    deps=UPSTREAM_MODELS,
    group_name="marts",
    kinds={"duckdb", "python"},
    owners=["team:analytics-engineering"],
    description=(
        "Per buyer: probability of being active and expected orders in 90 days "
        "(BG/NBD), and expected revenue in EUR over 12 months (BG/NBD with "
        "Gamma-Gamma), as of int_run_context.as_of_at. Writes marts.customer_clv."
    ),
    pool="duckdb_writer",
)
def customer_clv(
    context: dg.AssetExecutionContext, warehouse: DuckDBWarehouse
) -> dg.MaterializeResult:
    if settings.engine() == "spark":
        return _customer_clv_on_spark(context)

    with warehouse.connect(read_only=True) as con:
        as_of, orders = read_orders(con)
    context.log.info(
        "Read %d orders as of %s from marts.fct_orders", len(orders), as_of
    )

    fit = predict_clv(summarize_orders(orders, as_of))
    with warehouse.connect() as con:
        write_predictions(con, fit.predictions, as_of)
    context.log.info("Wrote %d customers into %s", len(fit.predictions), TABLE)

    return dg.MaterializeResult(metadata=clv_metadata(fit, as_of))


def _customer_clv_on_spark(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Fit on the Spark tables and write ``marts.customer_clv`` to Spark.

    The orders' three columns go through an in-memory DuckDB database, so the fit
    reads and writes the same tables as on DuckDB.
    """
    # NOTE: the fit runs in this process on every order, as on DuckDB; it does
    # not spread over the cluster.
    from orchestration.spark_tables import copy_from_spark, copy_to_spark

    with duckdb.connect() as con:
        copy_from_spark(con, SPARK_ORDERS_SQL, "marts.fct_orders")
        copy_from_spark(
            con, "intermediate.int_run_context", "intermediate.int_run_context"
        )
        as_of, orders = read_orders(con)
        context.log.info(
            "Read %d orders as of %s from Spark's marts.fct_orders", len(orders), as_of
        )
        fit = predict_clv(summarize_orders(orders, as_of))
        write_predictions(con, fit.predictions, as_of)
        copy_to_spark(con, TABLE, TABLE)
    context.log.info("Wrote %d customers into Spark's %s", len(fit.predictions), TABLE)
    return dg.MaterializeResult(metadata=clv_metadata(fit, as_of))


def read_orders(con: duckdb.DuckDBPyConnection) -> tuple[pd.Timestamp, pd.DataFrame]:
    """Return as_of_at and the orders up to it that count as purchases."""
    row = con.execute("select as_of_at from intermediate.int_run_context").fetchone()
    if row is None or row[0] is None:
        raise ValueError(
            "intermediate.int_run_context has no as_of_at: build the dbt models "
            "before customer_clv."
        )
    orders = con.execute(ORDERS_SQL).df()
    orders["total_eur"] = orders["total_eur"].astype(float)
    return pd.Timestamp(row[0]), orders


def write_predictions(
    con: duckdb.DuckDBPyConnection, predictions: pd.DataFrame, as_of: pd.Timestamp
) -> None:
    """Replace marts.customer_clv with ``predictions``, stamped with ``as_of``."""
    frame = predictions.assign(as_of_at=as_of)
    con.register("clv_predictions", frame)
    con.execute(
        f"""
        create or replace table {TABLE} as
        select
            cast(customer_id as varchar) as customer_id,
            cast(frequency as integer) as frequency,
            cast(recency as double) as recency,
            cast("T" as double) as "T",
            cast(monetary_value as double) as monetary_value,
            cast(p_alive as double) as p_alive,
            cast(expected_purchases_90d as double) as expected_purchases_90d,
            cast(predicted_clv_12m_eur as double) as predicted_clv_12m_eur,
            cast(as_of_at as timestamp) as as_of_at
        from clv_predictions
        """
    )
    con.unregister("clv_predictions")


def clv_metadata(fit: ClvFit, as_of: pd.Timestamp) -> dict[str, dg.MetadataValue]:
    predictions = fit.predictions
    metadata = {
        "customers": dg.MetadataValue.int(len(predictions)),
        "repeat_buyers": dg.MetadataValue.int(
            int((predictions["frequency"] > 0).sum())
        ),
        "as_of_at": dg.MetadataValue.text(str(as_of)),
        "bg_nbd_parameters": dg.MetadataValue.json(fit.bg_nbd_parameters),
        "gamma_gamma_parameters": dg.MetadataValue.json(fit.gamma_gamma_parameters),
    }
    if predictions["predicted_clv_12m_eur"].notna().any():
        metadata["predicted_clv_12m_eur_total"] = dg.MetadataValue.float(
            round(float(predictions["predicted_clv_12m_eur"].sum()), 2)
        )
    return metadata
