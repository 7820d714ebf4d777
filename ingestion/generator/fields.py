"""Person fields as a source writes them: picked per record, then made noisy.

``draw_record_noise`` draws every random choice of a source's person fields up
front, and the ``noisy_*`` helpers apply them to some records without drawing more.
``rows`` are record numbers of the source, aligned with ``persons``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingestion.generator.noise import NoisePlan, draw_noise
from ingestion.generator.people import Homes, People
from ingestion.generator.phones import format_phones, style_weights
from ingestion.generator.settings import NoiseRates


@dataclass(frozen=True)
class RecordNoise:
    """Noise of one source's records, with one array entry per record."""

    first_name: NoisePlan
    last_name: NoisePlan
    email: NoisePlan
    street: NoisePlan
    city: NoisePlan
    swapped_names: np.ndarray
    second_email: np.ndarray
    phone_styles: np.ndarray


def draw_record_noise(
    rng: np.random.Generator,
    size: int,
    rates: NoiseRates,
    source: str,
    phone_styles: dict[str, float],
) -> RecordNoise:
    """Draw the noise of ``size`` records of ``source``. ``phone_styles`` weights the
    spellings from ``phones.STYLES`` that this source uses."""
    scale = rates.source_scale[source]
    return RecordNoise(
        first_name=draw_noise(rng, size, rates.name, scale),
        last_name=draw_noise(rng, size, _without_nickname(rates.name), scale),
        email=draw_noise(rng, size, rates.email, scale),
        street=draw_noise(rng, size, rates.street, scale),
        city=draw_noise(rng, size, rates.city, scale),
        swapped_names=rng.random(size) < rates.swapped_names * scale,
        second_email=rng.random(size) < rates.second_email_use[source],
        phone_styles=rng.choice(
            len(style_weights(phone_styles)), size=size, p=style_weights(phone_styles)
        ),
    )


def noisy_names(
    people: People, persons: np.ndarray, noise: RecordNoise, rows: np.ndarray
) -> tuple[list[str], list[str]]:
    """Return (first, last) name fields, swapped for the records drawn as swapped."""
    first = noise.first_name.apply(people.first_name[persons].tolist(), rows)
    last = noise.last_name.apply(people.last_name[persons].tolist(), rows)
    swapped = noise.swapped_names[rows]
    first_out = np.where(swapped, np.array(last, object), np.array(first, object))
    last_out = np.where(swapped, np.array(first, object), np.array(last, object))
    return first_out.tolist(), last_out.tolist()


def noisy_full_names(
    people: People, persons: np.ndarray, noise: RecordNoise, rows: np.ndarray
) -> list[str]:
    """Return "First Last" (or "Last First" for swapped records)."""
    first, last = noisy_names(people, persons, noise, rows)
    return [
        f"{given} {family}".strip() for given, family in zip(first, last, strict=True)
    ]


def noisy_emails(
    people: People, persons: np.ndarray, noise: RecordNoise, rows: np.ndarray
) -> list[str]:
    use_second = noise.second_email[rows]
    emails = people.emails_for(persons, use_second).tolist()
    return noise.email.apply(emails, rows)


def noisy_phones(
    people: People, persons: np.ndarray, noise: RecordNoise, rows: np.ndarray
) -> list[str]:
    styles = noise.phone_styles[rows]
    return format_phones(people.phone[persons].tolist(), styles)


def noisy_homes(
    homes: Homes, noise: RecordNoise, rows: np.ndarray
) -> tuple[list[str], list[str], list[str]]:
    """Return (street address, postal code, city) with street and city noise."""
    street = noise.street.apply(homes.street.tolist(), rows)
    city = noise.city.apply(homes.city.tolist(), rows)
    return street, homes.postal_code.tolist(), city


def _without_nickname(recipe):
    return {name: rate for name, rate in recipe.items() if name != "nickname"}
