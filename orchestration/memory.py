"""Return the memory of finished steps to the operating system.

The nightly job runs every step in one process (the in-process executor). Steps
that read a table into pandas, such as the data quality suites, free their frames
when they end, but the process keeps the memory. pandas 3 stores text columns in
Arrow buffers, and Arrow's allocator (mimalloc in the pyarrow wheels) keeps freed
pages for reuse, as glibc's malloc keeps freed heap. Without a release the process
stays as large as its largest step while the dbt steps run beside it as processes
of their own. Measured here: reading two million raw web events into a frame and
freeing it left 1.36 GB resident, and 0.36 GB after ``release_unused_memory``.

``release_memory_hooks`` runs ``release_unused_memory`` after every step of a job.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import cache

import dagster as dg
import pyarrow as pa

logger = logging.getLogger(__name__)


@cache
def _malloc_trim():
    """Return glibc's ``malloc_trim``, or None where the C library lacks it (macOS, musl)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    return getattr(ctypes.CDLL(name), "malloc_trim", None)


def release_unused_memory() -> None:
    """Return the freed Arrow and malloc memory of this process to the system."""
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@dg.success_hook(name="release_unused_memory_after_success")
def _after_success(context: dg.HookContext) -> None:
    release_unused_memory()


@dg.failure_hook(name="release_unused_memory_after_failure")
def _after_failure(context: dg.HookContext) -> None:
    release_unused_memory()


def release_memory_hooks() -> set[dg.HookDefinition]:
    """Return the hooks that release unused memory after each step, failed or not."""
    return {_after_success, _after_failure}
