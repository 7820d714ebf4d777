"""Helpdesk tickets as a Zendesk-style JSON export: {"tickets": [...]}.

Grain: one ticket per element, and one ticket is one person record. The requester
is nested as name, e-mail and phone. Agents log phone tickets, which often lack an
e-mail. Tickets from other channels often lack a phone number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from ingestion.generator.clock import DAY, iso_utc, uniform_times
from ingestion.generator.context import GenerationContext
from ingestion.generator.countries import COUNTRIES
from ingestion.generator.fields import (
    RecordNoise,
    draw_record_noise,
    noisy_emails,
    noisy_full_names,
    noisy_phones,
)
from ingestion.generator.ids import increasing_ids
from ingestion.generator.noise import blank
from ingestion.generator.ticket_texts import GENERAL_TEXTS, ORDER_TEXTS, PHONE_TEXTS
from ingestion.generator.writers import Extract, write_json_records
from ingestion.sources import HELPDESK_TICKETS

ZENDESK_URL = "https://nordwand.zendesk.example/api/v2/tickets/{id}.json"
PHONE_STYLES = {
    "national_plain": 3,
    "national_grouped": 2,
    "international": 2,
    "e164": 1,
}
CHANNELS = np.array(["email", "web", "phone", "chat"], dtype=object)
CHANNEL_SHARES = (0.45, 0.30, 0.15, 0.10)
PHONE_CHANNEL = 2
RATINGS = np.array(["good", "bad", "offered", "unoffered"], dtype=object)
RATING_SHARES = (0.5, 0.1, 0.2, 0.2)
PRIORITIES = np.array(["low", "normal", "high", "urgent"], dtype=object)


@dataclass
class TicketPlan:
    persons: np.ndarray
    ids: np.ndarray
    created: np.ndarray
    updated: np.ndarray
    channel: np.ndarray
    rating: np.ndarray
    priority: np.ndarray
    text_draw: np.ndarray
    status_draw: np.ndarray
    no_email: np.ndarray
    no_phone: np.ndarray
    order_names: np.ndarray
    noise: RecordNoise


def write_helpdesk_tickets(context: GenerationContext, orders: Extract) -> Extract:
    """Write the tickets. A text about an order names the requester's latest order
    before the ticket, from ``orders``, the shop extract."""
    rng = context.rng(HELPDESK_TICKETS.name)
    plan = _plan(context, rng, orders)
    path = context.path(HELPDESK_TICKETS)
    rows = len(plan.persons)

    def render(start: int, stop: int) -> list[str]:
        return _render(context, plan, start, stop)

    report = context.reporter(HELPDESK_TICKETS.name)
    write_json_records(path, HELPDESK_TICKETS.json_records_path, rows, render, report)
    return Extract(HELPDESK_TICKETS, path, rows, plan.ids.astype(str), plan.persons)


def _plan(context: GenerationContext, rng, orders: Extract) -> TicketPlan:
    people, window = context.people, context.window
    persons = np.repeat(np.arange(len(people)), context.presence.tickets)
    created = uniform_times(rng, people.first_seen[persons], window.end - DAY)
    order = np.argsort(created, kind="stable")
    persons, created = persons[order], created[order]

    size = len(persons)
    missing = context.settings.noise.missing
    channel = rng.choice(len(CHANNELS), size=size, p=CHANNEL_SHARES)
    on_phone = channel == PHONE_CHANNEL
    no_email = on_phone & (
        rng.random(size) < missing["helpdesk_email_on_phone_channel"]
    )
    return TicketPlan(
        persons=persons,
        ids=increasing_ids(rng, size, 40_000, 3),
        created=created,
        updated=np.minimum(created + rng.integers(60, 12 * DAY, size), window.end - 1),
        channel=channel,
        rating=rng.choice(len(RATINGS), size=size, p=RATING_SHARES),
        priority=rng.choice(len(PRIORITIES), size=size, p=(0.2, 0.6, 0.15, 0.05)),
        text_draw=rng.random(size),
        status_draw=rng.random(size),
        no_email=no_email,
        no_phone=~on_phone & (rng.random(size) < missing["helpdesk_phone"]),
        order_names=_latest_orders(orders, persons, created),
        noise=draw_record_noise(
            rng, size, context.settings.noise, HELPDESK_TICKETS.name, PHONE_STYLES
        ),
    )


def _latest_orders(orders: Extract, persons: np.ndarray, times: np.ndarray):
    """Return the name of each requester's latest order before the ticket, or None.

    Orders sorted by (person, time) let one binary search per ticket find it.
    """
    key_scale = np.int64(1 << 40)
    order_keys = orders.persons.astype(np.int64) * key_scale + orders.record_times
    sort = np.argsort(order_keys, kind="stable")
    ticket_keys = persons.astype(np.int64) * key_scale + times
    found = np.searchsorted(order_keys[sort], ticket_keys, side="right") - 1
    found_order = sort[np.maximum(found, 0)]
    valid = (found >= 0) & (orders.persons[found_order] == persons)
    return np.where(valid, orders.record_ids[found_order].astype(object), None)


def _statuses(context: GenerationContext, plan: TicketPlan, rows: np.ndarray):
    """Derive status from age: recent tickets are open, old ones solved or closed."""
    age = context.window.end - plan.updated[rows]
    draw = plan.status_draw[rows]
    recent = np.where(draw < 0.3, "new", np.where(draw < 0.7, "open", "pending"))
    settled = np.where(age > 28 * DAY, "closed", "solved")
    status = np.where(age < 3 * DAY, recent, np.where(age < 10 * DAY, "open", settled))
    rated = np.isin(status, ("solved", "closed"))
    rating = np.where(rated, RATINGS[plan.rating[rows]], "unoffered")
    return status.tolist(), rating.tolist()


def _render(context: GenerationContext, plan: TicketPlan, start: int, stop: int):
    columns = _ticket_columns(context, plan, np.arange(start, stop))
    return [
        json.dumps(_ticket(*values), ensure_ascii=False)
        for values in zip(*columns, strict=True)
    ]


def _ticket_columns(context, plan: TicketPlan, rows: np.ndarray) -> list[list]:
    """Return the ticket fields of ``rows`` in the argument order of ``_ticket``."""
    people = context.people
    persons = plan.persons[rows]
    emails = blank(noisy_emails(people, persons, plan.noise, rows), plan.no_email[rows])
    phones = blank(noisy_phones(people, persons, plan.noise, rows), plan.no_phone[rows])
    names = noisy_full_names(people, persons, plan.noise, rows)
    subjects, descriptions = _texts(context, plan, rows, names)
    status, rating = _statuses(context, plan, rows)
    return [
        plan.ids[rows].tolist(),
        iso_utc(plan.created[rows]).tolist(),
        iso_utc(plan.updated[rows]).tolist(),
        subjects,
        descriptions,
        status,
        PRIORITIES[plan.priority[rows]].tolist(),
        names,
        emails,
        phones,
        CHANNELS[plan.channel[rows]].tolist(),
        rating,
    ]


def _ticket(
    ticket_id, created, updated, subject, description, status, priority, *requester
) -> dict:
    name, email, phone, channel, rating = requester
    return {
        "id": ticket_id,
        "url": ZENDESK_URL.format(id=ticket_id),
        "created_at": created,
        "updated_at": updated,
        "subject": subject,
        "description": description,
        "status": status,
        "priority": priority,
        "requester": {"name": name, "email": email or None, "phone": phone or None},
        "via": {"channel": channel},
        "satisfaction_rating": {"score": rating},
    }


def _texts(context, plan: TicketPlan, rows: np.ndarray, names: list[str]):
    """Pick a subject and description per ticket in the requester's language."""
    subjects, descriptions = [], []
    countries = context.people.country[plan.persons[rows]].tolist()
    for row, country, name in zip(rows.tolist(), countries, names, strict=True):
        order = plan.order_names[row]
        if plan.channel[row] == PHONE_CHANNEL:
            options = PHONE_TEXTS
        else:
            language = COUNTRIES[country].language
            options = GENERAL_TEXTS[language] + (ORDER_TEXTS[language] if order else ())
        subject, body = options[int(plan.text_draw[row] * len(options))]
        subjects.append(subject.format(order=order))
        descriptions.append(body.format(order=order, name=name.strip()))
    return subjects, descriptions
