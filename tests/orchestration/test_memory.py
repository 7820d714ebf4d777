"""Releasing unused memory between the nightly job's steps."""

from __future__ import annotations

import gc
import os
import sys

import pyarrow as pa
import pytest

from orchestration.jobs import nightly_job
from orchestration.memory import release_memory_hooks, release_unused_memory


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/statm")
def test_release_returns_freed_arrow_buffers():
    pool = pa.default_memory_pool()
    chunks = [pa.array([f"value {i:09d}" for i in range(200_000)]) for _ in range(20)]
    allocated = pool.bytes_allocated()
    assert allocated > 50_000_000
    del chunks
    gc.collect()
    before = _resident_bytes()
    release_unused_memory()
    after = _resident_bytes()
    # The pool kept most of the freed buffers; releasing gives back at least half.
    assert before - after > allocated // 2, (before, after, allocated)


def test_nightly_job_has_release_hooks():
    hooks = {hook.name for hook in nightly_job.hooks}
    assert hooks == {hook.name for hook in release_memory_hooks()}
    assert hooks == {
        "release_unused_memory_after_success",
        "release_unused_memory_after_failure",
    }
