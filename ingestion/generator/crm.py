"""CRM contacts in HubSpot's export layout: one row per contact.

Grain: one row per contact record. About 4% of CRM persons have a second contact,
often created later from another e-mail address. Record IDs grow with the create
date, and the address is the one the person had at the last modification.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingestion.generator.clock import DAY, berlin_plain, uniform_times
from ingestion.generator.context import GenerationContext
from ingestion.generator.countries import COUNTRIES, weighted_choice
from ingestion.generator.fields import (
    RecordNoise,
    draw_record_noise,
    noisy_emails,
    noisy_homes,
    noisy_names,
    noisy_phones,
)
from ingestion.generator.ids import increasing_ids
from ingestion.generator.noise import blank
from ingestion.generator.writers import (
    Extract,
    Subscriptions,
    column_headers,
    write_csv,
)
from ingestion.sources import CRM_CONTACTS

# Duplicate contacts come from imports and forms: some lack the opt-in of the first
# contact, and more of them lack a phone number and birth date.
DUPLICATE_WITHOUT_OPT_IN = 0.3
DUPLICATE_EXTRA_MISSING = 0.4
PHONE_STYLES = {
    "international": 3,
    "national_grouped": 2,
    "national_slash": 2,
    "national_parentheses": 1,
    "international_00": 1,
    "international_trunk": 1,
    "national_plain": 1,
}


@dataclass
class ContactPlan:
    """Random choices for every contact, aligned by record number."""

    persons: np.ndarray
    record_ids: np.ndarray
    created: np.ndarray
    modified: np.ndarray
    country_names: np.ndarray
    opt_in: np.ndarray
    noise: RecordNoise
    missing: dict[str, np.ndarray]


def write_crm_contacts(context: GenerationContext) -> Extract:
    rng = context.rng(CRM_CONTACTS.name)
    plan = _plan(context, rng)
    path = context.path(CRM_CONTACTS)
    rows = len(plan.persons)

    def render(start: int, stop: int):
        return _render(context, plan, start, stop)

    report = context.reporter(CRM_CONTACTS.name)
    write_csv(
        path,
        column_headers(CRM_CONTACTS),
        rows,
        render,
        report,
        context.settings.processes,
    )
    record_ids = plan.record_ids.astype(str)
    subscriptions = _subscriptions(context, plan)
    return Extract(CRM_CONTACTS, path, rows, record_ids, plan.persons, subscriptions)


def _subscriptions(context: GenerationContext, plan: ContactPlan) -> Subscriptions:
    """Return the e-mail of every opted-in contact with one, as the CRM stores it."""
    rows = np.flatnonzero(plan.opt_in & ~plan.missing["email"])
    persons = plan.persons[rows]
    addresses = noisy_emails(context.people, persons, plan.noise, rows)
    return Subscriptions(addresses, persons, plan.created[rows])


def _plan(context: GenerationContext, rng: np.random.Generator) -> ContactPlan:
    people, presence, window = context.people, context.presence, context.window
    first = np.flatnonzero(presence.crm)
    duplicates = np.flatnonzero(presence.crm_duplicate)
    persons = np.concatenate([first, duplicates])
    is_duplicate = np.arange(len(persons)) >= len(first)

    created = people.first_seen[persons]
    later = uniform_times(rng, created + 30 * DAY, window.end)
    created = np.where(is_duplicate, np.minimum(later, window.end - DAY), created)
    order = np.argsort(created, kind="stable")
    persons, created, is_duplicate = persons[order], created[order], is_duplicate[order]
    return _contact_plan(context, rng, persons, created, is_duplicate)


def _contact_plan(context, rng, persons, created, is_duplicate) -> ContactPlan:
    size = len(persons)
    rates = context.settings.noise
    noise = draw_record_noise(rng, size, rates, CRM_CONTACTS.name, PHONE_STYLES)
    # Duplicates often come from a form filled in with the second address.
    new_email = is_duplicate & (rng.random(size) < rates.duplicate_contact_new_email)
    noise.second_email[new_email] = True

    opted_out = is_duplicate & (rng.random(size) < DUPLICATE_WITHOUT_OPT_IN)
    opt_in = context.people.consent[persons] & ~opted_out
    return ContactPlan(
        persons=persons,
        record_ids=increasing_ids(rng, size, 10_000_000_000, 20_000),
        created=created,
        modified=uniform_times(rng, created, context.window.end),
        country_names=_country_names(rng, context.people.country[persons]),
        opt_in=opt_in,
        noise=noise,
        missing=_missing(rng, size, rates.missing, is_duplicate),
    )


def _missing(rng, size: int, missing: dict, is_duplicate: np.ndarray) -> dict:
    """Draw which fields are empty. Duplicates, created in a hurry, lack more."""
    fields = ("first_name", "email", "phone", "address", "birth_date", "country")
    masks = {field: rng.random(size) < missing[f"crm_{field}"] for field in fields}
    masks["phone"] |= is_duplicate & (rng.random(size) < DUPLICATE_EXTRA_MISSING)
    masks["birth_date"] |= is_duplicate & (rng.random(size) < DUPLICATE_EXTRA_MISSING)
    return masks


def _country_names(rng, country: np.ndarray) -> np.ndarray:
    names = np.empty(len(country), dtype=object)
    for index, spec in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == index)
        names[rows] = weighted_choice(rng, spec.crm_spellings, len(rows))
    return names


def _render(context: GenerationContext, plan: ContactPlan, start: int, stop: int):
    people = context.people
    rows = np.arange(start, stop)
    persons = plan.persons[rows]
    missing = {field: mask[start:stop] for field, mask in plan.missing.items()}
    first, last = noisy_names(people, persons, plan.noise, rows)
    homes = people.homes_at(persons, plan.modified[start:stop])
    street, postal_code, city = noisy_homes(homes, plan.noise, rows)
    for column in (street, postal_code, city):
        blank(column, missing["address"])

    birth = np.datetime_as_string(people.birth_date[persons]).tolist()
    return [
        plan.record_ids[start:stop].astype(str).tolist(),
        blank(first, missing["first_name"]),
        last,
        blank(noisy_emails(people, persons, plan.noise, rows), missing["email"]),
        blank(noisy_phones(people, persons, plan.noise, rows), missing["phone"]),
        street,
        postal_code,
        city,
        blank(plan.country_names[start:stop].tolist(), missing["country"]),
        blank(birth, missing["birth_date"]),
        berlin_plain(plan.created[start:stop]).tolist(),
        berlin_plain(plan.modified[start:stop]).tolist(),
        np.where(plan.opt_in[start:stop], "true", "false").tolist(),
    ]
