"""Parts of the nightly benchmark that need no full run: stages, memory, verdicts."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from benchmarks.nightly_scale import (
    MemorySampler,
    scaling,
    stage_of,
    tree_rss_bytes,
    verdicts,
)


def test_step_keys_map_to_stages():
    assert stage_of("raw__crm_contacts") == "ingestion"
    assert stage_of("raw__crm_contacts_rows_accounted_for") == "quality checks"
    assert stage_of("dbt_staging_and_intermediate") == "dbt staging and intermediate"
    assert stage_of("identity_resolution") == "identity"
    assert stage_of("marts__customer_clv") == "lifetime value"
    assert stage_of("marts__dim_customers_great_expectations_suite") == "quality checks"
    assert stage_of("outbox__newsletter_tool") == "activation"
    assert stage_of("something_new") == "other"


def test_tree_rss_counts_children():
    script = "import time; block = bytearray(200 * 1024 * 1024); time.sleep(5)"
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        with MemorySampler(os.getpid()) as sampler:
            # The child needs a moment to start and allocate its block.
            for _ in range(40):
                if tree_rss_bytes(child.pid) >= 200 * 1024 * 1024:
                    break
                time.sleep(0.1)
            time.sleep(1)
        peak = max(rss for _, rss in sampler.samples)
    finally:
        child.kill()
        child.wait()
    assert tree_rss_bytes(os.getpid()) > 0
    assert peak >= 200 * 1024 * 1024


def result(customers: int, seconds: float, identity: float) -> dict:
    return {
        "customers": customers,
        "seconds": seconds,
        "peak_rss_gb": 6.0,
        "floor_ratio": 5.0,
        "stages": {"identity": {"seconds": identity}},
    }


def test_targets_checked_on_million_run():
    results = [result(500_000, 250, 80), result(1_000_000, 580, 200)]
    checked = verdicts(results)
    assert checked["run_at_most_10_min"] is True
    assert checked["identity_at_most_3_min"] is False
    assert checked["doubling_at_most_2_2x"] is False


def test_no_targets_without_million_run():
    assert verdicts([result(10_000, 20, 2)]) == {}


def test_scaling_between_consecutive_sizes():
    results = [result(100_000, 60, 10), result(10_000, 20, 2)]
    assert scaling(results) == [(10_000, 100_000, 3.0)]
