"""A lock file that serializes ``cdp run`` processes on one warehouse.

DuckDB lets one process write to a database file. Two runs started together would
otherwise fail midway with a lock error from whichever step collided. With this lock,
the second run waits for the first and logs that it is waiting.
"""

import fcntl
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)


class RunLockTimeout(Exception):
    """Another run held the warehouse lock for longer than the caller would wait."""


@contextmanager
def run_lock(
    warehouse: Path, wait_seconds: float, poll_seconds: float = 2.0
) -> Iterator[Path]:
    """Hold an exclusive lock on ``<warehouse>.run.lock`` for the whole run."""
    lock_path = warehouse.with_name(warehouse.name + ".run.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as handle:
        _acquire(handle, lock_path, wait_seconds, poll_seconds)
        try:
            yield lock_path
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _try_lock(handle) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _acquire(handle, lock_path: Path, wait_seconds: float, poll_seconds: float):
    if _try_lock(handle):
        return
    logger.warning(
        "another cdp run is writing to this warehouse (lock %s); waiting up to %.0f s",
        lock_path,
        wait_seconds,
    )
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        time.sleep(min(poll_seconds, max(deadline - time.monotonic(), 0)))
        if _try_lock(handle):
            logger.info("lock %s acquired, starting the run", lock_path)
            return
    raise RunLockTimeout(
        f"timed out after {wait_seconds:.0f} s waiting for {lock_path}, held by "
        "another cdp run; "
        "wait for it to finish or raise --lock-wait"
    )
