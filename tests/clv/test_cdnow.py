"""BG/NBD on the CDNOW sample reproduces the published maximum likelihood estimates.

Fader, Hardie and Lee (2005), "Counting your customers the easy way", Marketing
Science 24(2), report r = 0.243, alpha = 4.414, a = 0.793 and b = 2.426 for the
2,357 customers over the 39-week calibration period.
"""

from pathlib import Path

import pandas as pd
import pytest

from orchestration.clv import fit_bg_nbd, fitted_parameters

CDNOW_SUMMARY = Path(__file__).parent / "data" / "cdnow_customers_summary.csv"
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


@pytest.fixture(scope="module")
def parameters() -> dict[str, float]:
    summary = pd.read_csv(CDNOW_SUMMARY).rename(columns={"ID": "customer_id"})
    assert len(summary) == 2357
    return fitted_parameters(fit_bg_nbd(summary))


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_bg_nbd_matches_published(parameters, name):
    assert parameters[name] == pytest.approx(PUBLISHED[name], rel=0.02)
