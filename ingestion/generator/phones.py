"""Phone numbers written the ways people and systems write them.

A number is stored as (calling code, trunk prefix, area code, subscriber number).
The writers pick one of ``STYLES`` per record, so one person's number can appear as
"+49 30 1234567" in the CRM and "030/1234567" on an order.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ingestion.generator.countries import COUNTRIES, Country, PhonePrefix

PhoneParts = tuple[str, str, str, str]


def _grouped(subscriber: str) -> str:
    """Split a subscriber number into a head and pairs: 1234567 -> 123 45 67."""
    return f"{subscriber[:-4]} {subscriber[-4:-2]} {subscriber[-2:]}"


def _with_trunk(calling_code: str, trunk: str, area: str, subscriber: str) -> str:
    """Write "+49 (0)30 1234567". Italian numbers have no trunk prefix to show."""
    trunk_part = f"({trunk})" if trunk else ""
    return f"+{calling_code} {trunk_part}{area} {subscriber}"


STYLES: dict[str, Callable[[str, str, str, str], str]] = {
    "international": lambda cc, trunk, area, sub: f"+{cc} {area} {sub}",
    "international_00": lambda cc, trunk, area, sub: f"00{cc}{area}{sub}",
    "e164": lambda cc, trunk, area, sub: f"+{cc}{area}{sub}",
    "international_trunk": lambda cc, trunk, area, sub: _with_trunk(
        cc, trunk, area, sub
    ),
    "national_slash": lambda cc, trunk, area, sub: f"{trunk}{area}/{sub}",
    "national_grouped": lambda cc, trunk, area, sub: f"{trunk}{area} {_grouped(sub)}",
    "national_parentheses": lambda cc, trunk, area, sub: f"({trunk}{area}) {sub}",
    "national_dash": lambda cc, trunk, area, sub: f"{trunk}{area}-{sub}",
    "national_plain": lambda cc, trunk, area, sub: f"{trunk}{area}{sub}",
}
STYLE_NAMES = tuple(STYLES)


def style_weights(weights: dict[str, float]) -> np.ndarray:
    """Turn {style name: weight} into probabilities aligned with ``STYLE_NAMES``."""
    unknown = set(weights) - set(STYLES)
    if unknown:
        raise ValueError(
            f"unknown phone styles {sorted(unknown)}, expected names from {STYLE_NAMES}"
        )
    probabilities = np.array([weights.get(name, 0.0) for name in STYLE_NAMES])
    return probabilities / probabilities.sum()


def format_phones(parts: list[PhoneParts | None], styles: np.ndarray) -> list[str]:
    """Write each number in its style, and an empty field for ``None`` parts."""
    formatters = [STYLES[name] for name in STYLE_NAMES]
    return [
        formatters[style](*number) if number else ""
        for number, style in zip(parts, styles.tolist(), strict=True)
    ]


def draw_phones(
    rng: np.random.Generator, country: np.ndarray, has_phone: float, mobile: float
) -> np.ndarray:
    """Draw a landline or mobile number of the person's country, as PhoneParts,
    for the share ``has_phone`` of persons, and None for the others."""
    phones = np.full(len(country), None, dtype=object)
    has_phone = rng.random(len(country)) < has_phone
    mobile = rng.random(len(country)) < mobile
    for number, spec in enumerate(COUNTRIES):
        for is_mobile in (False, True):
            rows = np.flatnonzero(
                has_phone & (country == number) & (mobile == is_mobile)
            )
            phones[rows] = _numbers(rng, spec, is_mobile, len(rows))
    return phones


def _numbers(rng, spec: Country, mobile: bool, size: int) -> list[PhoneParts]:
    prefixes = [prefix for prefix in spec.phone_prefixes if prefix.mobile == mobile]
    picks = rng.integers(len(prefixes), size=size)
    numbers: list = [None] * size
    for index, prefix in enumerate(prefixes):
        rows = np.flatnonzero(picks == index)
        subscribers = _digits(rng, len(rows), prefix)
        for row, subscriber in zip(rows.tolist(), subscribers, strict=True):
            numbers[row] = (
                spec.calling_code,
                spec.trunk_prefix,
                prefix.prefix,
                subscriber,
            )
    return numbers


def _digits(rng, size: int, prefix: PhonePrefix) -> list[str]:
    """Draw subscriber numbers whose first digit comes from ``prefix.lead_digits``."""
    lead = np.frombuffer(prefix.lead_digits.encode(), dtype=np.uint8)
    digits = rng.integers(ord("0"), ord("9") + 1, size=(size, prefix.subscriber_digits))
    digits[:, 0] = lead[rng.integers(len(lead), size=size)]
    text = digits.astype(np.uint8).view(f"S{prefix.subscriber_digits}").ravel()
    return text.astype(str).tolist()
