"""Social lead-form submissions in Facebook lead ads' CSV export layout.

Grain: one row per lead, and one lead is one person record. Facebook prefills the form
from the profile, so names carry profile spellings and the e-mail is often the one
the person uses for social media. Some leads are persons found in no other source.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingestion.generator.catalog import LEAD_ADS
from ingestion.generator.clock import DAY, iso_utc_offset, uniform_times
from ingestion.generator.context import GenerationContext
from ingestion.generator.countries import COUNTRIES
from ingestion.generator.fields import (
    RecordNoise,
    draw_record_noise,
    noisy_emails,
    noisy_full_names,
    noisy_homes,
    noisy_phones,
)
from ingestion.generator.ids import increasing_ids
from ingestion.generator.noise import blank
from ingestion.generator.writers import Extract, column_headers, write_csv
from ingestion.sources import SOCIAL_LEADS

LEAD_DAYS = 540
PHONE_STYLES = {"e164": 7, "national_plain": 2, "international": 1}
FIRST_AD_ID = 120_210_000_000_000_000
ENGLISH_AD = len(LEAD_ADS) - 1


@dataclass
class LeadPlan:
    persons: np.ndarray
    ids: np.ndarray
    created: np.ndarray
    ad: np.ndarray
    instagram: np.ndarray
    consent: np.ndarray
    no_phone: np.ndarray
    no_city: np.ndarray
    noise: RecordNoise


def write_social_leads(context: GenerationContext) -> Extract:
    rng = context.rng(SOCIAL_LEADS.name)
    plan = _plan(context, rng)
    path = context.path(SOCIAL_LEADS)
    rows = len(plan.persons)

    def render(start: int, stop: int):
        return _render(context, plan, start, stop)

    report = context.reporter(SOCIAL_LEADS.name)
    write_csv(
        path,
        column_headers(SOCIAL_LEADS),
        rows,
        render,
        report,
        context.settings.processes,
    )
    record_ids = np.strings.add("l:", plan.ids.astype(str))
    return Extract(SOCIAL_LEADS, path, rows, record_ids, plan.persons)


def _plan(context: GenerationContext, rng) -> LeadPlan:
    people, window = context.people, context.window
    persons = np.repeat(np.arange(len(people)), context.presence.leads)
    created = uniform_times(
        rng, window.days_before_end(LEAD_DAYS), window.end - DAY, len(persons)
    )
    order = np.argsort(created, kind="stable")
    persons, created = persons[order], created[order]

    size = len(persons)
    missing = context.settings.noise.missing
    return LeadPlan(
        persons=persons,
        ids=increasing_ids(rng, size, 1_100_000_000_000_000, 5_000_000_000),
        created=created,
        ad=_ads(rng, people.country[persons]),
        instagram=rng.random(size) < 0.35,
        consent=people.consent[persons] ^ (rng.random(size) < 0.1),
        no_phone=rng.random(size) < missing["social_phone"],
        no_city=rng.random(size) < missing["social_city"],
        noise=draw_record_noise(
            rng, size, context.settings.noise, SOCIAL_LEADS.name, PHONE_STYLES
        ),
    )


def _ads(rng, country: np.ndarray) -> np.ndarray:
    """Persons outside German-speaking countries see the English ad."""
    german = np.array([spec.language == "de" for spec in COUNTRIES])[country]
    return np.where(german, rng.integers(ENGLISH_AD, size=len(country)), ENGLISH_AD)


def _render(context: GenerationContext, plan: LeadPlan, start: int, stop: int):
    rows = np.arange(start, stop)
    people = context.people
    persons = plan.persons[rows]
    ads = [LEAD_ADS[ad] for ad in plan.ad[rows].tolist()]
    homes = people.homes_at(persons, plan.created[rows])
    _, _, city = noisy_homes(homes, plan.noise, rows)
    phones = noisy_phones(people, persons, plan.noise, rows)
    return [
        np.strings.add("l:", plan.ids[rows].astype(str)).tolist(),
        iso_utc_offset(plan.created[rows]).tolist(),
        [f"ag:{FIRST_AD_ID + 7919 * ad}" for ad in plan.ad[rows].tolist()],
        [ad[0] for ad in ads],
        [ad[1] for ad in ads],
        [ad[2] for ad in ads],
        [ad[3] for ad in ads],
        np.where(plan.instagram[rows], "ig", "fb").tolist(),
        noisy_full_names(people, persons, plan.noise, rows),
        noisy_emails(people, persons, plan.noise, rows),
        blank(phones, plan.no_phone[rows]),
        blank(city, plan.no_city[rows]),
        np.where(plan.consent[rows], "true", "false").tolist(),
    ]
