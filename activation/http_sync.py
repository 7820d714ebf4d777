"""Send audience rows to an ``http`` destination as JSON batches.

Each request is a POST of::

    {"destination": ..., "segment": ..., "run_date": "YYYY-MM-DD", "mode": ...,
     "rows": [{"action": "upsert" | "remove", "key": ..., "previous_key": ...,
               "fields": {...}}]}

with an ``Idempotency-Key`` header (the sha256 of the body), so a receiver can return
its first response to a retried request instead of applying the rows twice. A 2xx
response accepts every row except those listed in an optional JSON body
``{"errors": [{"index": <row index in the batch>, "reason": "..."}]}``. 429, 408,
5xx responses, timeouts and broken connections are retried with exponential backoff,
honouring ``Retry-After`` in seconds or as an HTTP date. Any other 4xx response fails
the whole batch. Rows that fail are returned with the reason and never raised.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from activation.destinations import Destination, HttpSettings

logger = logging.getLogger(__name__)

RETRIED_STATUS = {408, 429}
MAX_REASON_LENGTH = 200


class RetryableError(Exception):
    """A failure that a later attempt may not have: 429, 5xx, timeout, dropped."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class BatchRejected(Exception):
    """The receiver rejected the whole batch; retrying it would fail the same way."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RowResult:
    accepted: bool
    reason: str | None = None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date.

    Returns ``None`` when the header is missing or unreadable, and 0 for a date in
    the past.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RateLimiter:
    """Space request starts at least ``1 / requests_per_second`` seconds apart."""

    def __init__(
        self,
        requests_per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.interval = 1.0 / requests_per_second
        self.clock = clock
        self.sleep = sleep
        self.next_start: float | None = None

    def wait(self) -> None:
        now = self.clock()
        if self.next_start is not None and now < self.next_start:
            self.sleep(self.next_start - now)
            now = self.next_start
        self.next_start = now + self.interval


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class HttpSender:
    """POST batches for one destination with rate limit, retries and backoff."""

    def __init__(self, destination: Destination, client: httpx.Client | None = None):
        assert destination.http is not None
        self.destination = destination
        self.settings: HttpSettings = destination.http
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(self.settings.timeout_seconds)
        )
        self.limiter = RateLimiter(self.settings.requests_per_second)
        self._backoff = wait_exponential(
            multiplier=self.settings.backoff_initial_seconds,
            max=self.settings.backoff_max_seconds,
        )

    def close(self) -> None:
        self.client.close()

    def _headers(self, body: bytes) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": hashlib.sha256(body).hexdigest(),
        }
        if self.settings.token_env:
            token = os.environ.get(self.settings.token_env)
            if not token:
                raise BatchRejected(
                    f"environment variable {self.settings.token_env} is not set"
                )
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _post(self, body: bytes, row_count: int) -> list[RowResult]:
        self.limiter.wait()
        try:
            response = self.client.post(
                self.settings.url, content=body, headers=self._headers(body)
            )
        except httpx.TimeoutException as error:
            raise RetryableError(
                f"timed out after {self.settings.timeout_seconds:g} s"
            ) from error
        except httpx.TransportError as error:
            raise RetryableError(
                f"connection failed: {type(error).__name__}"
            ) from error

        status = response.status_code
        if status in RETRIED_STATUS or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            limit = self.settings.max_retry_after_seconds
            if retry_after is not None and retry_after > limit:
                raise BatchRejected(
                    f"HTTP {status} with Retry-After {retry_after:.0f} s, more than "
                    f"max_retry_after_seconds ({limit:g} s)"
                )
            raise RetryableError(f"HTTP {status}", retry_after)
        if status >= 400:
            text = response.text[:MAX_REASON_LENGTH]
            raise BatchRejected(f"HTTP {status}: {text}".strip())
        return _row_results(response, row_count)

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RetryableError) and error.retry_after is not None:
            return error.retry_after
        return self._backoff(state)

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        logger.warning(
            "%s: attempt %d of %d failed (%s); retrying in %.2f s",
            self.destination.name,
            state.attempt_number,
            self.settings.max_attempts,
            error,
            state.next_action.sleep if state.next_action else 0.0,
        )

    def send_batch(self, body: dict, row_count: int) -> list[RowResult]:
        """Send one batch; return a result per row in the batch's order."""
        encoded = json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")
        retrying = Retrying(
            stop=stop_after_attempt(self.settings.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(RetryableError),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(self._post, encoded, row_count)
        except RetryableError as error:
            reason = f"{error.reason} after {self.settings.max_attempts} attempts"
        except BatchRejected as error:
            reason = error.reason
        logger.warning(
            "%s: batch of %d rows failed: %s",
            self.destination.name,
            row_count,
            reason.split(":")[0],
        )
        return [RowResult(False, reason)] * row_count

    def send(self, header: dict, rows: list[dict]) -> list[RowResult]:
        """Send ``rows`` in batches of ``batch_size``; one result per row."""
        results: list[RowResult] = []
        for batch in _batches(rows, self.settings.batch_size):
            results.extend(self.send_batch(header | {"rows": batch}, len(batch)))
        return results


def _row_results(response: httpx.Response, row_count: int) -> list[RowResult]:
    results = [RowResult(True)] * row_count
    try:
        document = response.json()
    except ValueError:
        return results
    errors = document.get("errors") if isinstance(document, dict) else None
    for error in errors or []:
        index = error.get("index") if isinstance(error, dict) else None
        if isinstance(index, int) and 0 <= index < row_count:
            reason = str(error.get("reason") or "rejected by the receiver")
            results[index] = RowResult(False, reason[:MAX_REASON_LENGTH])
    return results
