"""E-mail platform activity export: one row per send, open, click, bounce or
unsubscribe.

Subscribers are the opted-in addresses the CRM and the shop pass on, trimmed but in
the case the source wrote them. One address is one person record, keyed by the
lower-cased address. When a household shares an address, the record belongs to the
person who owns the address. Addresses with a typo bounce on the first send, and
nothing is sent to an address after it bounced or unsubscribed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingestion.generator.catalog import (
    EMAIL_LINK_PATHS,
    MONTHS_DE,
    PROMOTIONS_BY_MONTH,
    SHOP_DOMAIN,
)
from ingestion.generator.clock import DAY, plain_utc
from ingestion.generator.context import GenerationContext
from ingestion.generator.noise import transliterate
from ingestion.generator.writers import (
    Extract,
    column_headers,
    write_csv,
)
from ingestion.sources import EMAIL_ACTIVITY

CAMPAIGN_DAYS = 365
SEND_HOUR_UTC = 7
# Open and click-through probabilities per engagement class (engaged, occasional,
# dormant). ``ENGAGEMENT_SHARES`` is the share of subscribers in each class.
ENGAGEMENT_SHARES = (0.35, 0.35, 0.30)
OPEN_RATES = np.array([0.55, 0.15, 0.02])
CLICK_RATES = np.array([0.35, 0.15, 0.05])
UNSUBSCRIBE_SHARE = 0.05
RANDOM_BOUNCE_SHARE = 0.01
SENT, OPEN, CLICK, BOUNCE, UNSUBSCRIBE = 0, 1, 2, 3, 4
ACTIONS = np.array(["sent", "open", "click", "bounce", "unsubscribe"], dtype=object)


@dataclass
class Subscribers:
    """One row per distinct address (lower-cased and trimmed)."""

    keys: np.ndarray
    addresses: np.ndarray
    persons: np.ndarray
    subscribed_at: np.ndarray
    undeliverable: np.ndarray


@dataclass
class Campaigns:
    ids: np.ndarray
    names: np.ndarray
    slugs: np.ndarray
    times: np.ndarray


@dataclass
class Activity:
    """One row per export row, sorted by campaign and time."""

    subscriber: np.ndarray
    campaign: np.ndarray
    action: np.ndarray
    time: np.ndarray
    link: np.ndarray


def write_email_activity(
    context: GenerationContext, extracts: list[Extract]
) -> Extract:
    rng = context.rng(EMAIL_ACTIVITY.name)
    subscribers = _subscribers(context, extracts)
    campaigns = _campaigns(context, rng)
    activity = _activity(rng, subscribers, campaigns)
    path = context.path(EMAIL_ACTIVITY)

    def render(start: int, stop: int):
        return _render(subscribers, campaigns, activity, start, stop)

    rows = len(activity.action)
    report = context.reporter(EMAIL_ACTIVITY.name)
    headers = column_headers(EMAIL_ACTIVITY)
    write_csv(path, headers, rows, render, report, context.settings.processes)
    active = np.unique(activity.subscriber)
    return Extract(
        EMAIL_ACTIVITY,
        path,
        rows,
        subscribers.keys[active],
        subscribers.persons[active],
    )


def _subscribers(context: GenerationContext, extracts: list[Extract]) -> Subscribers:
    """Merge the opt-ins of all sources into one subscriber per address."""
    merged = [extract.subscriptions for extract in extracts if extract.subscriptions]
    addresses = np.array([a.strip() for s in merged for a in s.addresses], dtype=object)
    persons = np.concatenate([s.persons for s in merged])
    times = np.concatenate([s.times for s in merged])
    keys = np.array([address.lower() for address in addresses.tolist()], dtype=object)

    people = context.people
    not_owner = people.email_owner[persons] != persons
    order = np.lexsort((times, not_owner, keys))
    _, first = np.unique(keys[order], return_index=True)
    chosen = order[first]
    return Subscribers(
        keys=keys[chosen],
        addresses=addresses[chosen],
        persons=persons[chosen],
        subscribed_at=times[chosen],
        undeliverable=_undeliverable(people, keys[chosen], persons[chosen]),
    )


def _undeliverable(people, keys: np.ndarray, persons: np.ndarray) -> np.ndarray:
    """Flag addresses that match neither of the person's real addresses (typos)."""
    first = np.array([str(a).lower() for a in people.email[persons].tolist()], object)
    second = np.array(
        [str(a).lower() for a in people.second_email[persons].tolist()], object
    )
    return (keys != first) & (keys != second)


def _campaigns(context: GenerationContext, rng) -> Campaigns:
    """Spread the campaigns evenly over the last year, alternating between the
    monthly newsletter and a seasonal promotion."""
    count = context.settings.presence.email_campaigns
    first_day = context.window.end // DAY - CAMPAIGN_DAYS
    days = first_day + ((np.arange(count) + 0.5) * CAMPAIGN_DAYS / count).astype(int)
    times = days * DAY + SEND_HOUR_UTC * 3600 + rng.integers(0, 3600, size=count)
    dates = days.astype("datetime64[D]").astype(object)
    names = [
        f"Newsletter {MONTHS_DE[d.month - 1]} {d.year}"
        if number % 2 == 0
        else f"{PROMOTIONS_BY_MONTH[d.month - 1]} {d.year}"
        for number, d in enumerate(dates)
    ]
    ids = [
        f"{value:010x}" for value in rng.integers(1 << 36, 1 << 40, size=count).tolist()
    ]
    slugs = [transliterate(name, 0.0).lower().replace(" ", "-") for name in names]
    return Campaigns(
        np.array(ids, object), np.array(names, object), np.array(slugs, object), times
    )


def _activity(rng, subscribers: Subscribers, campaigns: Campaigns) -> Activity:
    """Draw sends, opens, clicks, bounces and unsubscribes per (address, campaign)."""
    size, count = len(subscribers.keys), len(campaigns.ids)
    eligible = campaigns.times[None, :] >= subscribers.subscribed_at[:, None]
    rank = np.cumsum(eligible, axis=1) - 1
    stop_rank, bounces = _stop_ranks(rng, subscribers, eligible.sum(axis=1))
    sent = eligible & (rank <= stop_rank[:, None])
    at_stop = sent & (rank == stop_rank[:, None])
    bounce = at_stop & bounces[:, None]
    unsubscribe = at_stop & ~bounces[:, None]

    engagement = rng.choice(3, size=size, p=ENGAGEMENT_SHARES)
    draws = rng.random((size, count, 2))
    opened = sent & ~bounce & (draws[..., 0] < OPEN_RATES[engagement][:, None])
    opened |= unsubscribe
    clicked = opened & (draws[..., 1] < CLICK_RATES[engagement][:, None])
    cells = {SENT: sent, OPEN: opened, CLICK: clicked, BOUNCE: bounce}
    cells[UNSUBSCRIBE] = unsubscribe
    return _activity_rows(rng, cells, campaigns, size)


def _stop_ranks(rng, subscribers: Subscribers, eligible: np.ndarray):
    """Return the rank of the last send per address and whether it bounced.

    Undeliverable addresses bounce on their first send. A few others bounce or
    unsubscribe at a random send. The rest get every campaign (the rank is past the
    last one).
    """
    size = len(eligible)
    random_rank = (rng.random(size) * np.maximum(eligible, 1)).astype(int)
    reason = rng.random(size)
    bounces = subscribers.undeliverable | (reason < RANDOM_BOUNCE_SHARE)
    stops = reason < RANDOM_BOUNCE_SHARE + UNSUBSCRIBE_SHARE
    stop_rank = np.where(stops, random_rank, eligible)
    return np.where(subscribers.undeliverable, 0, stop_rank), bounces


def _activity_rows(rng, cells: dict, campaigns: Campaigns, size: int) -> Activity:
    send_offset = rng.integers(0, 1800, size=size)
    open_delay = np.minimum(rng.exponential(5 * 3600, size=cells[OPEN].shape), 3 * DAY)
    delays = {
        SENT: 0,
        BOUNCE: 30,
        OPEN: open_delay.astype(np.int64),
        CLICK: open_delay.astype(np.int64) + 45,
        UNSUBSCRIBE: open_delay.astype(np.int64) + 120,
    }
    parts = []
    for action, mask in cells.items():
        subscriber, campaign = np.nonzero(mask)
        delay = np.broadcast_to(delays[action], mask.shape)[subscriber, campaign]
        time = campaigns.times[campaign] + send_offset[subscriber] + delay
        parts.append((subscriber, campaign, np.full(len(time), action), time))
    columns = [np.concatenate(values) for values in zip(*parts, strict=True)]
    order = np.lexsort((columns[0], columns[2], columns[3], columns[1]))
    subscriber, campaign, action, time = (column[order] for column in columns)
    link = rng.integers(len(EMAIL_LINK_PATHS), size=len(action))
    return Activity(subscriber, campaign, action, time, link)


def _render(subscribers, campaigns, activity: Activity, start: int, stop: int):
    rows = slice(start, stop)
    campaign = activity.campaign[rows]
    action = activity.action[rows]
    links = [
        f"https://{SHOP_DOMAIN}{EMAIL_LINK_PATHS[link]}?utm_source=newsletter"
        f"&utm_medium=email&utm_campaign={slug}"
        for link, slug in zip(
            activity.link[rows].tolist(),
            campaigns.slugs[campaign].tolist(),
            strict=True,
        )
    ]
    return [
        campaigns.ids[campaign].tolist(),
        campaigns.names[campaign].tolist(),
        subscribers.addresses[activity.subscriber[rows]].tolist(),
        ACTIONS[action].tolist(),
        plain_utc(activity.time[rows]).tolist(),
        np.where(action == CLICK, np.array(links, dtype=object), "").tolist(),
    ]
