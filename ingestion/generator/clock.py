"""Time window of the sample and timestamp formatting, vectorized over numpy arrays.

Times are int64 seconds (or milliseconds where named) since the Unix epoch, in UTC.
The shop and the CRM export local time in Europe/Berlin, whose daylight-saving time
runs from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday of
October (EU rule since 1996).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

DAY = 86_400
HISTORY_DAYS = 730


@dataclass(frozen=True)
class TimeWindow:
    """The two years of history before the extract date, ``end`` exclusive."""

    start: int
    end: int

    @classmethod
    def before(cls, as_of: date) -> TimeWindow:
        end = calendar.timegm(as_of.timetuple())
        return cls(start=end - HISTORY_DAYS * DAY, end=end)

    def days_before_end(self, days: float) -> int:
        return self.end - int(days * DAY)


def uniform_times(
    rng: np.random.Generator, low, high, size: int | None = None
) -> np.ndarray:
    """Draw times from ``low`` (inclusive) to ``high`` (exclusive), broadcast to
    ``size``."""
    low = np.asarray(low, dtype=np.int64)
    span = np.maximum(np.asarray(high, dtype=np.int64) - low, 1)
    shape = np.broadcast_shapes(low.shape, span.shape, () if size is None else (size,))
    return low + (rng.random(shape) * span).astype(np.int64)


def iso_utc(seconds: np.ndarray) -> np.ndarray:
    """Format as ISO 8601 with a Z: 2025-06-01T10:15:00Z."""
    return _format(seconds * 1000, "T", "Z", with_milliseconds=False)


def iso_utc_ms(milliseconds: np.ndarray) -> np.ndarray:
    """Format as ISO 8601 with milliseconds and a Z: 2025-06-01T10:15:00.123Z."""
    return _format(milliseconds, "T", "Z", with_milliseconds=True)


def iso_utc_offset(seconds: np.ndarray) -> np.ndarray:
    """Format as ISO 8601 with a numeric UTC offset: 2025-06-01T10:15:00+0000."""
    return _format(seconds * 1000, "T", "+0000", with_milliseconds=False)


def plain_utc(seconds: np.ndarray) -> np.ndarray:
    """Format as 2025-06-01 10:15:00, the layout of most CSV exports."""
    return _format(seconds * 1000, " ", "", with_milliseconds=False)


def _format(
    milliseconds: np.ndarray, separator: str, suffix: str, with_milliseconds: bool
) -> np.ndarray:
    """Format times as "<date><separator><time><suffix>" strings.

    Writes the characters into a matrix of UCS-4 code points that numpy views as
    strings, which is about twice as fast as ``np.datetime_as_string`` on a million
    values. Dates come from a table of the days in range, so the input should span
    years rather than centuries.
    """
    milliseconds = np.asarray(milliseconds, dtype=np.int64)
    if milliseconds.size == 0:
        return np.array([], dtype=str)
    days, time_of_day = np.divmod(milliseconds, DAY * 1000)
    first_day = int(days.min())
    day_numbers = np.arange(first_day, int(days.max()) + 1).astype("datetime64[D]")
    dates = np.datetime_as_string(day_numbers).astype("U10").view(np.uint32)

    suffix_codes = np.array([ord(char) for char in suffix], dtype=np.uint32)
    time_width = 12 if with_milliseconds else 8
    width = 11 + time_width + len(suffix_codes)
    text = np.empty((len(milliseconds), width), dtype=np.uint32)
    text[:, :10] = dates.reshape(-1, 10)[days - first_day]
    text[:, 10] = ord(separator)
    text[:, 11 : 11 + time_width] = _time_digits(time_of_day, with_milliseconds)
    text[:, 11 + time_width :] = suffix_codes
    return text.view(f"U{width}").ravel()


def _time_digits(time_of_day: np.ndarray, with_milliseconds: bool) -> np.ndarray:
    """Return "HH:MM:SS" or "HH:MM:SS.mmm" as rows of character codes."""
    seconds, milliseconds = np.divmod(time_of_day, 1000)
    hours, rest = np.divmod(seconds, 3600)
    minutes, seconds = np.divmod(rest, 60)
    fields = [(hours, 2), (minutes, 2), (seconds, 2)]
    if with_milliseconds:
        fields.append((milliseconds, 3))
    columns = []
    for value, digits in fields:
        if columns:
            separator = "." if digits == 3 else ":"
            columns.append(np.full(len(value), ord(separator)))
        for power in range(digits - 1, -1, -1):
            columns.append(value // 10**power % 10 + ord("0"))
    return np.stack(columns, axis=1)


def berlin_offsets(seconds: np.ndarray) -> np.ndarray:
    """Return the UTC offset in seconds of Europe/Berlin at each time."""
    years = range(_year(seconds.min()) - 1, _year(seconds.max()) + 2)
    switches = []
    for year in years:
        switches += [_last_sunday_1am_utc(year, 3), _last_sunday_1am_utc(year, 10)]
    in_summer = np.searchsorted(np.array(switches), seconds, side="right") % 2 == 1
    return np.where(in_summer, 7200, 3600)


def berlin_plain(seconds: np.ndarray) -> np.ndarray:
    """Format Berlin local time as HubSpot exports it: 2024-03-05 14:22:10."""
    return plain_utc(seconds + berlin_offsets(seconds))


def berlin_with_offset(seconds: np.ndarray) -> np.ndarray:
    """Format Berlin local time as Shopify exports it: 2025-06-01 10:15:00 +0200."""
    offsets = berlin_offsets(seconds)
    suffix = np.where(offsets == 7200, " +0200", " +0100")
    return np.strings.add(plain_utc(seconds + offsets), suffix)


def _year(second: int) -> int:
    return datetime.fromtimestamp(int(second), tz=UTC).year


def _last_sunday_1am_utc(year: int, month: int) -> int:
    last_day = calendar.monthrange(year, month)[1]
    weekday = calendar.weekday(year, month, last_day)
    sunday = last_day - (weekday + 1) % 7
    return calendar.timegm((year, month, sunday, 1, 0, 0))
