"""Two nights of the soak on one warehouse, with the checks of ``benchmarks.soak``.

``make soak`` runs the same soak for 20 nights and also runs the first night twice
to check the warehouse size. Here the sample is small and each night runs once, to
keep the test short: two ``cdp run`` of about 40 s each on an idle 2-core machine
(an estimate from CPU time measured on a loaded one).
"""

from __future__ import annotations

import pytest

from benchmarks.soak import soak

NIGHTS = 2
CUSTOMERS = 120


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    root = tmp_path_factory.mktemp("soak")
    return soak(root, NIGHTS, CUSTOMERS, seed=5, rerun_first_night=False)


def test_every_night_passes_checks(nights):
    assert [r.night for r in nights] == list(range(1, NIGHTS + 1))
    for result in nights:
        assert result.problems == [], f"night {result.night}"


def test_each_night_loads_new_rows(nights):
    read = [r.rows_read for r in nights]
    assert read == sorted(read)
    assert read[0] < read[-1]


def test_new_persons_become_customers(nights):
    assert nights[-1].records > nights[0].records
    assert nights[-1].customers > nights[0].customers
