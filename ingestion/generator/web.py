"""Web and app tracking events as Segment-spec JSON lines.

Grain: one line per event. Every visitor uses one or two devices, each with its own
anonymousId. Account holders log in on a device with an identify call that carries
their userId. Later events on that device carry the userId too, earlier ones do not.
Other visitors stay anonymous: customers who never log in, and extra anonymous-only
visitors who get their own person id. Person records in the ground
truth are "user:<userId>" and "anon:<anonymousId>".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingestion.generator.catalog import (
    IDENTIFY,
    PAGE,
    SCREEN,
    TRACK,
    TRACK_EVENTS,
    USER_AGENTS,
    WEB_CAMPAIGNS,
    WEB_PAGES,
)
from ingestion.generator.clock import uniform_times
from ingestion.generator.context import GenerationContext
from ingestion.generator.countries import COUNTRIES
from ingestion.generator.fields import RecordNoise, draw_record_noise
from ingestion.generator.ids import scrambled_hex_ids, uuid4_strings
from ingestion.generator.web_render import render_events
from ingestion.generator.writers import Extract, write_lines
from ingestion.sources import WEB_EVENTS

PHONE_STYLES = {"e164": 3, "international": 2, "national_plain": 1}
SESSION_EVENTS = 4
SESSION_SECONDS = 1_200


@dataclass
class Devices:
    """One row per device (browser or app install) and its anonymousId."""

    person: np.ndarray
    country: np.ndarray
    anonymous_id: np.ndarray
    user_id: np.ndarray
    app: np.ndarray
    user_agent: np.ndarray
    ip: np.ndarray
    clock_skew_ms: np.ndarray


@dataclass
class Events:
    """One row per event, sorted by receivedAt. Times are in milliseconds."""

    device: np.ndarray
    kind: np.ndarray
    logged_in: np.ndarray
    track: np.ndarray
    page: np.ndarray
    product: np.ndarray
    campaign: np.ndarray
    referrer: np.ndarray
    message_id: np.ndarray
    original_ms: np.ndarray
    sent_ms: np.ndarray
    received_ms: np.ndarray
    amount_draw: np.ndarray
    no_phone: np.ndarray
    noise: RecordNoise


def write_web_events(context: GenerationContext, events_per_customer: float) -> Extract:
    rng = context.rng(WEB_EVENTS.name)
    devices = _devices(context, rng)
    budget = round(len(context.people) * events_per_customer)
    events = _events(context, rng, devices, budget)
    path = context.path(WEB_EVENTS)

    def render(start: int, stop: int):
        return render_events(context, devices, events, start, stop)

    report = context.reporter(WEB_EVENTS.name)
    write_lines(path, len(events.device), render, report, context.settings.processes)
    record_ids, persons = _records(devices)
    return Extract(WEB_EVENTS, path, len(events.device), record_ids, persons)


def _visitors(context: GenerationContext) -> tuple[np.ndarray, np.ndarray]:
    """Return (person, has account) per visitor. Anonymous-only visitors get person
    indexes after the customers."""
    presence = context.presence
    customers = np.flatnonzero(presence.web)
    share = context.settings.presence.anonymous_visitors_per_customer
    extra = round(len(context.people) * share)
    persons = np.concatenate([customers, len(context.people) + np.arange(extra)])
    account = np.concatenate([presence.web_account[customers], np.zeros(extra, bool)])
    return persons, account


def _devices(context: GenerationContext, rng) -> Devices:
    rates = context.settings.presence
    persons, account = _visitors(context)
    is_customer = persons < len(context.people)
    second = is_customer & (rng.random(len(persons)) < rates.web_second_device)
    device_person = np.concatenate([persons, persons[second]])
    logs_in = np.concatenate(
        [
            account,
            account[second] & (rng.random(second.sum()) < rates.second_device_login),
        ]
    )
    order = np.argsort(device_person, kind="stable")
    device_person, logs_in = device_person[order], logs_in[order]
    return _device_traits(context, rng, device_person, logs_in)


def _device_traits(context, rng, persons: np.ndarray, logs_in: np.ndarray) -> Devices:
    size = len(persons)
    customers = len(context.people)
    shares = np.array([country.share for country in COUNTRIES])
    country = rng.choice(len(COUNTRIES), size=size, p=shares / shares.sum())
    known = persons < customers
    country[known] = context.people.country[persons[known]]

    user_id = np.full(size, None, dtype=object)
    salt = int(rng.integers(1 << 40))
    user_id[logs_in] = scrambled_hex_ids("usr_", persons[logs_in], salt)
    skewed = rng.random(size) < 0.05
    return Devices(
        person=persons,
        country=country,
        anonymous_id=uuid4_strings(rng, size).astype(object),
        user_id=user_id,
        app=rng.random(size) < context.settings.presence.app_device,
        user_agent=rng.integers(len(USER_AGENTS), size=size),
        ip=_ip_addresses(rng, size),
        clock_skew_ms=np.where(skewed, rng.integers(-600_000, 600_000, size), 0),
    )


def _ip_addresses(rng, size: int) -> np.ndarray:
    """Draw IPv4 addresses from a few public /8 blocks of European ISPs."""
    blocks = np.array([62, 77, 78, 79, 80, 84, 85, 87, 91, 93, 178, 188, 212, 217])
    octets = rng.integers(1, 255, size=(size, 3))
    first = blocks[rng.integers(len(blocks), size=size)]
    return np.array(
        [
            f"{a}.{b}.{c}.{d}"
            for a, (b, c, d) in zip(first.tolist(), octets.tolist(), strict=True)
        ],
        dtype=object,
    )


def _events(context, rng, devices: Devices, budget: int) -> Events:
    counts = _event_counts(rng, devices, budget)
    device = np.repeat(np.arange(len(counts)), counts)
    true_ms = _event_times(context, rng, devices, counts, device)
    order = np.lexsort((true_ms, device))
    device, true_ms = device[order], true_ms[order]
    kind, logged_in = _kinds(rng, devices, counts, device)
    return _event_details(context, rng, devices, device, kind, logged_in, true_ms)


def _event_counts(rng, devices: Devices, budget: int) -> np.ndarray:
    """Draw events per device so that the total is about ``budget``. Devices that
    log in get at least two events, a page and the identify call."""
    mean_extra = max(budget / max(len(devices.person), 1) - 1.0, 0.0)
    counts = 1 + rng.poisson(mean_extra, size=len(devices.person))
    return np.where(np.not_equal(devices.user_id, None), np.maximum(counts, 2), counts)


def _event_times(context, rng, devices, counts, device) -> np.ndarray:
    """Group each device's events into sessions of a few events within 20 minutes."""
    window = context.window
    sessions = np.maximum(counts // SESSION_EVENTS, 1)
    session_start = uniform_times(
        rng, window.start, window.end - 2 * SESSION_SECONDS, sessions.sum()
    )
    first_session = np.cumsum(sessions) - sessions
    session = first_session[device] + (
        rng.random(len(device)) * sessions[device]
    ).astype(int)
    offset = rng.integers(0, SESSION_SECONDS * 1000, size=len(device))
    return session_start[session] * 1000 + offset


def _kinds(rng, devices: Devices, counts, device) -> tuple[np.ndarray, np.ndarray]:
    """Pick page/screen or track per event, and the identify call on login devices.

    The identify call is at a random position of the device's events, so some
    visitors browse anonymously first and log in later.
    """
    rank = np.arange(len(device)) - np.repeat(np.cumsum(counts) - counts, counts)
    login_rank = (rng.random(len(counts)) * counts).astype(int)
    logs_in = np.not_equal(devices.user_id, None)[device]
    view = np.where(devices.app[device], SCREEN, PAGE)
    kind = np.where(rng.random(len(device)) < 0.35, TRACK, view)
    is_identify = logs_in & (rank == login_rank[device])
    kind = np.where(is_identify, IDENTIFY, kind)
    return kind.astype(np.int8), logs_in & (rank >= login_rank[device])


def _event_details(context, rng, devices, device, kind, logged_in, true_ms) -> Events:
    size = len(device)
    delay = rng.integers(5, 10_000, size=size)
    latency = rng.integers(40, 900, size=size)
    weights = np.array([weight for _, weight in TRACK_EVENTS])
    events = Events(
        device=device,
        kind=kind,
        logged_in=logged_in,
        track=rng.choice(len(TRACK_EVENTS), size=size, p=weights / weights.sum()),
        page=rng.integers(len(WEB_PAGES), size=size),
        product=rng.integers(1_000_000, size=size),
        campaign=np.where(
            rng.random(size) < 0.1, rng.integers(len(WEB_CAMPAIGNS), size=size), -1
        ),
        referrer=rng.integers(7, size=size),
        message_id=uuid4_strings(rng, size),
        original_ms=true_ms + devices.clock_skew_ms[device],
        sent_ms=true_ms + delay,
        received_ms=true_ms + delay + latency,
        amount_draw=rng.random(size),
        no_phone=rng.random(size) < context.settings.noise.missing["web_phone_trait"],
        noise=draw_record_noise(
            rng, size, context.settings.noise, WEB_EVENTS.name, PHONE_STYLES
        ),
    )
    return _sorted_by_arrival(events)


def _sorted_by_arrival(events: Events) -> Events:
    """Reorder all per-event arrays by receivedAt, as a warehouse export is."""
    order = np.argsort(events.received_ms, kind="stable")
    for name, value in vars(events).items():
        if isinstance(value, np.ndarray):
            setattr(events, name, value[order])
    return events


def _records(devices: Devices) -> tuple[np.ndarray, np.ndarray]:
    """Return ground-truth record ids and persons: one per userId, one per device."""
    has_user = np.not_equal(devices.user_id, None)
    users, first = np.unique(devices.user_id[has_user].astype(str), return_index=True)
    user_persons = devices.person[has_user][first]
    record_ids = np.concatenate(
        [
            np.strings.add("user:", users),
            np.strings.add("anon:", devices.anonymous_id.astype(str)),
        ]
    )
    return record_ids, np.concatenate([user_persons, devices.person])
