"""Customer lifetime value from order history with pymc-marketing.

BG/NBD (Fader, Hardie and Lee 2005) predicts how many orders a customer places and
the probability that they are still active ("alive"); Gamma-Gamma (Fader and Hardie
2013) predicts the value of their future orders. Both are fitted by maximum a
posteriori with flat priors, which equals maximum likelihood, so the estimates are
comparable with the published ones. Time is counted in days.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pymc_extras.prior import Prior
from pymc_marketing.clv import BetaGeoModel, GammaGammaModel
from pymc_marketing.clv.utils import rfm_summary

if TYPE_CHECKING:
    import xarray as xr

logger = logging.getLogger(__name__)

PURCHASE_HORIZON_DAYS = 90
CLV_HORIZON_MONTHS = 12
SUMMARY_COLUMNS = ["customer_id", "frequency", "recency", "T", "monetary_value"]
PREDICTION_COLUMNS = ["p_alive", "expected_purchases_90d", "predicted_clv_12m_eur"]
OUTPUT_COLUMNS = [*SUMMARY_COLUMNS, *PREDICTION_COLUMNS]

# The default BG/NBD priors of pymc-marketing 0.19.2 are informative, so their MAP
# is not the maximum likelihood estimate: on the CDNOW sample they give a = 0.71
# and b = 2.09 in place of the published 0.793 and 2.426.
FLAT_BG_NBD_PRIORS = {name: Prior("HalfFlat") for name in ("r", "alpha", "a", "b")}


@dataclass
class ClvFit:
    """Predictions per customer and the fitted parameters of both models."""

    predictions: pd.DataFrame
    bg_nbd_parameters: dict[str, float] = field(default_factory=dict)
    gamma_gamma_parameters: dict[str, float] = field(default_factory=dict)


def summarize_orders(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Summarize orders into one row per customer: frequency, recency, T, value.

    ``orders`` has customer_id, ordered_at and total_eur. Orders on the same day
    count as one purchase, and frequency counts the repeat purchase days. recency
    is the days from the first purchase to the last, T the days from the first
    purchase to ``as_of``. monetary_value is the mean value of the repeat
    purchases in EUR, or 0 without one.
    """
    summary = rfm_summary(
        orders,
        customer_id_col="customer_id",
        datetime_col="ordered_at",
        monetary_value_col="total_eur",
        observation_period_end=as_of,
        time_unit="D",
    )
    return summary.sort_values("customer_id", ignore_index=True)


def fit_bg_nbd(summary: pd.DataFrame) -> BetaGeoModel:
    """Fit BG/NBD on frequency, recency and T by maximum likelihood."""
    model = BetaGeoModel(model_config=FLAT_BG_NBD_PRIORS)
    model.fit(
        summary[["customer_id", "frequency", "recency", "T"]],
        method="map",
        progressbar=False,
    )
    return model


def fit_gamma_gamma(summary: pd.DataFrame) -> GammaGammaModel:
    """Fit Gamma-Gamma on the repeat buyers' mean order values (flat priors)."""
    repeat_buyers = summary.loc[
        (summary["frequency"] > 0) & (summary["monetary_value"] > 0),
        ["customer_id", "frequency", "monetary_value"],
    ]
    model = GammaGammaModel()
    model.fit(repeat_buyers.reset_index(drop=True), method="map", progressbar=False)
    return model


def fitted_parameters(model: BetaGeoModel | GammaGammaModel) -> dict[str, float]:
    """Return the MAP estimate of each model parameter, unrounded."""
    return {
        str(name): float(values.mean())
        for name, values in model.fit_result.data_vars.items()
    }


def predict_clv(summary: pd.DataFrame) -> ClvFit:
    """Fit both models on ``summary`` and predict each customer's future value.

    p_alive and expected_purchases_90d need at least one repeat buyer.
    predicted_clv_12m_eur (undiscounted, in EUR) needs two repeat buyers with a
    positive order value. With fewer, those columns stay null and a warning is
    logged.
    """
    predictions = summary.copy()
    for column in PREDICTION_COLUMNS:
        predictions[column] = float("nan")

    repeat_buyers = int((summary["frequency"] > 0).sum())
    if repeat_buyers == 0:
        logger.warning(
            "Skipped the CLV fit: none of %d customers has a repeat purchase",
            len(summary),
        )
        return ClvFit(predictions[OUTPUT_COLUMNS])

    bg_nbd = fit_bg_nbd(summary)
    predictions["p_alive"] = _per_customer(bg_nbd.expected_probability_alive(summary))
    predictions["expected_purchases_90d"] = _per_customer(
        bg_nbd.expected_purchases(summary, future_t=PURCHASE_HORIZON_DAYS)
    )
    result = ClvFit(predictions, bg_nbd_parameters=fitted_parameters(bg_nbd))

    result.gamma_gamma_parameters = _add_clv(predictions, summary, bg_nbd)
    result.predictions = predictions[OUTPUT_COLUMNS]
    return result


def _add_clv(
    predictions: pd.DataFrame, summary: pd.DataFrame, bg_nbd: BetaGeoModel
) -> dict[str, float]:
    """Fill predicted_clv_12m_eur and return the Gamma-Gamma parameters."""
    valued_buyers = int(
        ((summary["frequency"] > 0) & (summary["monetary_value"] > 0)).sum()
    )
    if valued_buyers < 2:
        logger.warning(
            "Skipped the Gamma-Gamma fit: %d repeat buyers with a positive order "
            "value, at least 2 needed",
            valued_buyers,
        )
        return {}

    # NOTE: two buyers is the minimum to run the fit, not enough for a stable one.
    # With few repeat buyers the estimate of q can fall near 1, which makes the
    # population mean order value, and so the CLV of one-time buyers, explode.
    gamma_gamma = fit_gamma_gamma(summary)
    clv = gamma_gamma.expected_customer_lifetime_value(
        transaction_model=bg_nbd,
        data=summary.copy(),
        future_t=CLV_HORIZON_MONTHS,
        discount_rate=0.0,
        time_unit="D",
    )
    predictions["predicted_clv_12m_eur"] = _per_customer(clv)
    return fitted_parameters(gamma_gamma)


def _per_customer(values: xr.DataArray) -> np.ndarray:
    """Mean over the single MAP draw, in the order of the summary's customers."""
    return values.mean(("chain", "draw")).to_numpy()
