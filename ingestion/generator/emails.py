"""E-mail addresses built from a person's name, the way people pick them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ingestion.generator.countries import COUNTRIES, weighted_choice
from ingestion.generator.noise import strip_accents, transliterate
from ingestion.generator.templates import (
    TWO_DIGIT_STRINGS,
    format_columns,
    integer_strings,
)

if TYPE_CHECKING:
    from ingestion.generator.people import People

NOT_IN_LOCAL_PART = re.compile(r"[^a-z0-9._-]")
LOCAL_PARTS = (
    ("{first}.{last}", 0.34),
    ("{first}{last}", 0.08),
    ("{initial}.{last}", 0.10),
    ("{first}_{last}", 0.05),
    ("{first}.{last}{number}", 0.14),
    ("{last}.{first}", 0.05),
    ("{first}{year}", 0.09),
    ("{last}{number}", 0.05),
    ("{first}.{last_initial}", 0.05),
    ("{first}-{last}", 0.05),
)


def draw_emails(
    rng: np.random.Generator, people: People, second_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Draw each person's address and, for some, a second one with another pattern
    or provider. All addresses are unique, and households share theirs later."""
    size = len(people)
    first = _email_names(people.first_name)
    last = _email_names(people.last_name)
    years = (people.birth_date.astype("datetime64[Y]").astype(int) + 1970) % 100
    primary = _addresses(rng, people.country, first, last, years)

    has_second = rng.random(size) < second_share
    second = _addresses(rng, people.country, first, last, years)
    second = np.where(has_second & (second != primary), second, None)
    _make_unique(rng, primary, second)
    return primary, second


def _addresses(rng, country, first, last, years) -> np.ndarray:
    patterns = rng.choice(len(LOCAL_PARTS), size=len(country), p=_pattern_shares())
    columns = {
        "first": first,
        "last": last,
        "initial": np.strings.slice(first, 1),
        "last_initial": np.strings.slice(last, 1),
        "number": integer_strings(rng.integers(1, 100, size=len(country))),
        "year": TWO_DIGIT_STRINGS[years],
    }
    local_parts = np.empty(len(country), dtype=object)
    for index, (template, _) in enumerate(LOCAL_PARTS):
        rows = np.flatnonzero(patterns == index)
        selected = {name: column[rows] for name, column in columns.items()}
        local_parts[rows] = format_columns(template, selected)

    domains = np.empty(len(country), dtype=object)
    for index, spec in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == index)
        domains[rows] = weighted_choice(rng, spec.email_domains, len(rows))
    return local_parts + "@" + domains


def _pattern_shares() -> np.ndarray:
    shares = np.array([share for _, share in LOCAL_PARTS])
    return shares / shares.sum()


def _email_names(names: np.ndarray) -> np.ndarray:
    """Fold names for an address: Jürgen Weiß -> juergen, weiss."""
    folded = {
        name: NOT_IN_LOCAL_PART.sub(
            "", strip_accents(transliterate(name, 0.0), 0.0).lower()
        )
        for name in set(names.tolist())
    }
    return np.array([folded[name] or "kontakt" for name in names.tolist()], dtype=str)


def _make_unique(rng, primary: np.ndarray, second: np.ndarray) -> None:
    """Append a number to the local part of repeated addresses until all are unique.

    The first occurrence keeps its address, so most persons keep the plain pattern.
    pandas finds the repeats, so the Python loop only visits those.
    """
    has_second = np.flatnonzero(np.not_equal(second, None))
    addresses = np.concatenate([primary, second[has_second]])
    repeats = np.flatnonzero(pd.Series(addresses).duplicated().to_numpy())
    taken = set(addresses.tolist())
    for position in repeats.tolist():
        local, _, domain = addresses[position].partition("@")
        address = addresses[position]
        while address in taken:
            address = f"{local}{rng.integers(1, 1000)}@{domain}"
        taken.add(address)
        addresses[position] = address
    primary[:] = addresses[: len(primary)]
    second[has_second] = addresses[len(primary) :]
