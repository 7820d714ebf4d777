"""A lock file that lets one run at a time write to a warehouse.

DuckDB lets one process write to a database file. Two runs started together would
otherwise fail midway with a lock error from whichever step collided. Every run takes
this lock, whether ``cdp run``, the Dagster UI, the schedule or the sensor started it:
``cdp run`` takes it around the whole command, and the warehouse resource takes it
when a Dagster run starts. A second run waits for the first and logs that it waits.

The lock is an ``flock`` on ``<warehouse>.run.lock``, so the kernel releases it when
the holding process exits, even after a crash. The file contains the holder's pid,
start time and run, which waiting runs log. Within one process the lock is
re-entrant per thread, because ``cdp run`` holds it while the Dagster run it starts
takes it again, and two ``flock`` calls on separate descriptors of one file block
each other even inside one process.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)

# Seconds between two "still waiting" log lines while another run holds the lock.
PROGRESS_LOG_SECONDS = 60.0


class RunLockTimeout(Exception):
    """Another run held the warehouse lock for longer than the caller would wait."""


@dataclass
class _ProcessHold:
    """This process's hold on one lock file: the open file and the nesting depth."""

    guard: threading.RLock
    handle: IO[str] | None = None
    depth: int = 0


_registry_guard = threading.Lock()
_process_holds: dict[Path, _ProcessHold] = {}


def lock_path_for(warehouse: Path) -> Path:
    """Return the lock file of a warehouse: ``<warehouse>.run.lock`` beside it."""
    warehouse = Path(warehouse).absolute()
    return warehouse.with_name(warehouse.name + ".run.lock")


@contextmanager
def run_lock(
    warehouse: Path,
    wait_seconds: float,
    poll_seconds: float = 2.0,
    run_description: str = "cdp run",
    log: logging.Logger | None = None,
) -> Iterator[Path]:
    """Hold an exclusive lock on ``<warehouse>.run.lock`` for the whole run.

    Waits up to ``wait_seconds`` for another process (or another thread of this
    process) to release it, then raises ``RunLockTimeout``. ``run_description``
    names the run in the lock file; ``log`` defaults to this module's logger.
    """
    log = log or logger
    lock_path = lock_path_for(warehouse)
    hold = _process_hold(lock_path)

    if not hold.guard.acquire(timeout=wait_seconds):
        raise RunLockTimeout(
            f"timed out after {wait_seconds:.0f} s waiting for {lock_path}, held by "
            "another thread of this process"
        )
    try:
        if hold.depth == 0:
            hold.handle = _acquire_file_lock(
                lock_path, wait_seconds, poll_seconds, run_description, log
            )
        else:
            log.debug("lock %s already held by this process, reusing it", lock_path)
        hold.depth += 1
        try:
            yield lock_path
        finally:
            hold.depth -= 1
            if hold.depth == 0:
                _release_file_lock(hold)
    finally:
        hold.guard.release()


def read_holder(lock_path: Path) -> dict | None:
    """Return the pid, start time and run written by the lock's holder, if readable."""
    try:
        text = lock_path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not text:
        return None
    try:
        holder = json.loads(text)
    except json.JSONDecodeError:
        return None
    return holder if isinstance(holder, dict) else None


def _process_hold(lock_path: Path) -> _ProcessHold:
    with _registry_guard:
        return _process_holds.setdefault(lock_path, _ProcessHold(threading.RLock()))


def _try_lock(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _describe_holder(lock_path: Path) -> str:
    holder = read_holder(lock_path)
    if holder is None:
        return "holder unknown"
    return (
        f"held by pid {holder.get('pid', '?')} since {holder.get('started_at', '?')} "
        f"({holder.get('run', 'unknown run')})"
    )


def _acquire_file_lock(
    lock_path: Path,
    wait_seconds: float,
    poll_seconds: float,
    run_description: str,
    log: logging.Logger,
) -> IO[str]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = lock_path.open("a+", encoding="utf-8")
    try:
        _wait_for_file_lock(handle, lock_path, wait_seconds, poll_seconds, log)
    except BaseException:
        handle.close()
        raise
    _write_holder(handle, run_description)
    return handle


def _wait_for_file_lock(
    handle: IO[str],
    lock_path: Path,
    wait_seconds: float,
    poll_seconds: float,
    log: logging.Logger,
) -> None:
    if _try_lock(handle):
        log.info("acquired the warehouse run lock %s", lock_path)
        return

    log.warning(
        "another run is writing to this warehouse (lock %s, %s); waiting up to %.0f s",
        lock_path,
        _describe_holder(lock_path),
        wait_seconds,
    )
    started = time.monotonic()
    deadline = started + wait_seconds
    next_progress = started + PROGRESS_LOG_SECONDS
    while time.monotonic() < deadline:
        time.sleep(min(poll_seconds, max(deadline - time.monotonic(), 0)))
        if _try_lock(handle):
            log.info(
                "acquired the warehouse run lock %s after waiting %.0f s",
                lock_path,
                time.monotonic() - started,
            )
            return
        if time.monotonic() >= next_progress:
            log.info(
                "still waiting for %s (%s), %.0f s so far",
                lock_path,
                _describe_holder(lock_path),
                time.monotonic() - started,
            )
            next_progress += PROGRESS_LOG_SECONDS

    raise RunLockTimeout(
        f"timed out after {wait_seconds:.0f} s waiting for {lock_path}, "
        f"{_describe_holder(lock_path)}. Another run is writing to this warehouse: "
        "wait for it to finish, or raise the wait (`cdp run --lock-wait SECONDS`, or "
        "lock_wait_seconds of the warehouse resource for runs started in Dagster)"
    )


def _write_holder(handle: IO[str], run_description: str) -> None:
    holder = {
        "pid": os.getpid(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "run": run_description,
    }
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(holder) + "\n")
    handle.flush()


def _release_file_lock(hold: _ProcessHold) -> None:
    handle = hold.handle
    hold.handle = None
    if handle is None:
        return
    try:
        # Empty the file first, so a later waiter never reads a finished run's pid.
        handle.seek(0)
        handle.truncate()
        handle.flush()
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
