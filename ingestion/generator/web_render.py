"""Serialization of planned web events into Segment-spec JSON lines.

Keys follow the Segment spec: ``event`` only on track calls, ``name`` on page and
screen calls, ``traits`` on identify calls, ``userId`` null while anonymous.
``timestamp`` is receivedAt - (sentAt - originalTimestamp), as Segment corrects
client clocks.

``json.dumps`` costs about 20 microseconds per event, which is minutes for a million
customers. So the fixed parts (pages, products, devices, campaigns) are encoded once
with ``json.dumps`` into fragments, and each line is an f-string of fragments and of
values that need no escaping (UUIDs, ids, IPs, timestamps).
"""

from __future__ import annotations

import json
from functools import lru_cache
from json.encoder import encode_basestring

import numpy as np

from ingestion.generator.catalog import (
    EVENT_KINDS,
    IDENTIFY,
    REFERRERS,
    SCREEN,
    SHOP_DOMAIN,
    TRACK,
    TRACK_NAMES,
    USER_AGENTS,
    WEB_CAMPAIGNS,
    WEB_PAGES,
    build_catalog,
)
from ingestion.generator.clock import iso_utc_ms
from ingestion.generator.countries import COUNTRIES
from ingestion.generator.fields import noisy_emails, noisy_names, noisy_phones
from ingestion.generator.noise import blank

KIND_NAMES = np.array(EVENT_KINDS, dtype=object)
LOCALES = {"DE": "de-DE", "AT": "de-AT", "CH": "de-CH", "FR": "fr-FR"}
LOCALES |= {"IT": "it-IT", "GB": "en-GB", "NL": "nl-NL"}
WEB_LIBRARY = {"name": "analytics.js", "version": "next-1.72.0"}
APP = {"name": "Nordwand", "version": "3.4.1", "build": "341"}
APP_LIBRARIES = (
    ({"name": "analytics-ios", "version": "1.6.2"}, {"name": "iOS", "version": "18.1"}),
    (
        {"name": "analytics-kotlin", "version": "1.18.1"},
        {"name": "Android", "version": "14"},
    ),
)
SEARCH_QUERIES = ("regenjacke", "rucksack", "merino", "zelt", "wanderschuhe", "daunen")
CATALOG = build_catalog()
PRODUCT_EVENTS = ("Product Viewed", "Product Added", "Product Removed")
FIXED_TRACK_PROPERTIES = {
    "Coupon Applied": {"coupon_name": "WILLKOMMEN10"},
    "Signed Up": {"method": "email"},
    "Newsletter Subscribed": {"list": "Newsletter"},
}


def render_events(context, devices, events, start: int, stop: int) -> list[str]:
    rows = np.arange(start, stop)
    device = events.device[rows]
    fragments = _fragments()
    app = devices.app[device]
    page_index = events.page[rows] * len(REFERRERS) + events.referrer[rows]
    # Device fragments list the browsers, then iOS and Android. App installs
    # alternate between the two by device number.
    device_kind = np.where(
        app, len(USER_AGENTS) + device % 2, devices.user_agent[device]
    )
    user_ids = np.where(events.logged_in[rows], devices.user_id[device], None)

    columns = [
        devices.anonymous_id[device].tolist(),
        devices.ip[device].tolist(),
        fragments.locales[devices.country[device]].tolist(),
        fragments.devices[device_kind].tolist(),
        np.where(app, "", fragments.page_contexts[page_index]).tolist(),
        fragments.campaigns[events.campaign[rows]].tolist(),
        events.message_id[rows].tolist(),
        _bodies(context, devices, events, rows, fragments, page_index),
        KIND_NAMES[events.kind[rows]].tolist(),
        [f'"{user}"' if user else "null" for user in user_ids.tolist()],
        *_timestamps(events, rows),
    ]
    return [_line(*values) for values in zip(*columns, strict=True)]


def _line(
    anonymous_id,
    ip,
    locale,
    device,
    page,
    campaign,
    message_id,
    body,
    kind,
    user_id,
    *times,
) -> str:
    return (
        f'{{"anonymousId":"{anonymous_id}",'
        f'"context":{{"ip":"{ip}","locale":{locale},{device}{page}{campaign}}},'
        f'"messageId":"{message_id}",{body},"type":"{kind}","userId":{user_id},'
        f'"originalTimestamp":"{times[0]}","sentAt":"{times[1]}",'
        f'"receivedAt":"{times[2]}","timestamp":"{times[3]}"}}'
    )


def _timestamps(events, rows: np.ndarray) -> list[list[str]]:
    original, sent, received = (
        events.original_ms[rows],
        events.sent_ms[rows],
        events.received_ms[rows],
    )
    corrected = received - (sent - original)
    return [
        iso_utc_ms(times).tolist() for times in (original, sent, received, corrected)
    ]


def _bodies(context, devices, events, rows, fragments, page_index) -> list[str]:
    """Encode the kind-specific keys: name and properties, event and properties,
    or traits."""
    kind = events.kind[rows]
    bodies = np.where(
        kind == SCREEN,
        fragments.screens[events.page[rows]],
        fragments.pages[page_index],
    )
    tracks = np.flatnonzero(kind == TRACK)
    bodies[tracks] = _track_bodies(events, rows[tracks], fragments)
    identifies = np.flatnonzero(kind == IDENTIFY)
    bodies[identifies] = _traits(context, devices, events, rows[identifies])
    return bodies.tolist()


def _track_bodies(events, rows: np.ndarray, fragments) -> list[str]:
    tracks = events.track[rows].tolist()
    variants = (events.product[rows] % len(CATALOG.names)).tolist()
    values = np.round(30 + events.amount_draw[rows] * 400, 2).tolist()
    products = events.product[rows].tolist()
    bodies = []
    for track, variant, value, product in zip(
        tracks, variants, values, products, strict=True
    ):
        if track in fragments.products:
            bodies.append(fragments.products[track][variant])
        else:
            bodies.append(_track_body(TRACK_NAMES[track], value, product, fragments))
    return bodies


def _track_body(name: str, value: float, product: int, fragments) -> str:
    """Encode a track call that is not about one product. Values are numbers or
    fixed ASCII words, so they need no JSON escaping."""
    if name == "Products Searched":
        query = SEARCH_QUERIES[product % len(SEARCH_QUERIES)]
        properties = f'{{"query":"{query}"}}'
    elif name == "Order Completed":
        # NOTE: order_id and total are drawn, not taken from shop_orders, so web
        # orders do not join to shop orders. Change this when a model needs that.
        order_id = 5_200_000_000_000 + product * 9_973
        properties = f'{{"order_id":"{order_id}","total":{value},"currency":"EUR"}}'
    elif name == "Checkout Started":
        properties = f'{{"value":{value},"currency":"EUR"}}'
    else:
        return fragments.fixed_tracks[name]
    return f'"event":"{name}","properties":{properties}'


def _traits(context, devices, events, rows: np.ndarray) -> list[str]:
    """Encode identify traits: the account's e-mail, the names as typed at sign-up
    and, for some accounts, a phone number."""
    persons = devices.person[events.device[rows]]
    people, noise = context.people, events.noise
    emails = noisy_emails(people, persons, noise, rows)
    first, last = noisy_names(people, persons, noise, rows)
    phones = blank(noisy_phones(people, persons, noise, rows), events.no_phone[rows])
    bodies = []
    for email, given, family, phone in zip(emails, first, last, phones, strict=True):
        phone_key = f',"phone":{_quote(phone)}' if phone else ""
        bodies.append(
            f'"traits":{{"email":{_quote(email.strip().lower())},'
            f'"firstName":{_quote(given)},"lastName":{_quote(family)}{phone_key}}}'
        )
    return bodies


class Fragments:
    """JSON fragments of the fixed parts of events, encoded once per process."""

    def __init__(self) -> None:
        self.locales = np.array(
            [json.dumps(LOCALES[country.code]) for country in COUNTRIES], dtype=object
        )
        self.devices = np.array(_device_fragments(), dtype=object)
        page_pairs = [
            (title, path, referrer)
            for title, path in WEB_PAGES
            for referrer in REFERRERS
        ]
        self.page_contexts = np.array(
            [f',"page":{_dumps(_page(*pair))}' for pair in page_pairs], dtype=object
        )
        self.pages = np.array(
            [
                f'"name":{_dumps(title)},"properties":'
                + _dumps(_page(title, path, referrer) | {"search": ""})
                for title, path, referrer in page_pairs
            ],
            dtype=object,
        )
        self.screens = np.array(
            [
                f'"name":{_dumps(title)},"properties":{_dumps({"name": title})}'
                for title, _ in WEB_PAGES
            ],
            dtype=object,
        )
        self.campaigns = np.array(_campaign_fragments(), dtype=object)
        self.products = _product_fragments()
        self.fixed_tracks = {
            name: f'"event":"{name}","properties":{_dumps(properties)}'
            for name, properties in FIXED_TRACK_PROPERTIES.items()
        }


def _device_fragments() -> list[str]:
    """Return the library and device keys: one per browser user agent, then iOS and
    Android app installs."""
    browsers = [
        f'"library":{_dumps(WEB_LIBRARY)},"userAgent":{_dumps(agent)}'
        for agent in USER_AGENTS
    ]
    apps = [
        f'"app":{_dumps(APP)},"library":{_dumps(library)},"os":{_dumps(os)}'
        for library, os in APP_LIBRARIES
    ]
    return browsers + apps


def _campaign_fragments() -> list[str]:
    """Return the campaign key per campaign, plus an empty last entry for index -1."""
    fragments = [
        f',"campaign":{_dumps({"source": source, "medium": medium, "name": name})}'
        for source, medium, name in WEB_CAMPAIGNS
    ]
    return fragments + [""]


def _product_fragments() -> dict[int, list[str]]:
    """Return, per product track event, the event and properties of each variant."""
    fragments = {}
    for track, name in enumerate(TRACK_NAMES):
        if name in PRODUCT_EVENTS:
            extra = {"quantity": 1} if name == "Product Added" else {}
            fragments[track] = [
                f'"event":"{name}","properties":{_dumps(_product(variant) | extra)}'
                for variant in range(len(CATALOG.names))
            ]
    return fragments


def _page(title: str, path: str, referrer: str) -> dict:
    return {
        "path": path,
        "referrer": referrer,
        "title": f"{title} | Nordwand Outdoor",
        "url": f"https://{SHOP_DOMAIN}{path}",
    }


def _product(variant: int) -> dict:
    return {
        "product_id": str(int(CATALOG.product_numbers[variant])),
        "sku": CATALOG.skus[variant],
        "name": CATALOG.names[variant],
        "price": float(CATALOG.prices[variant]),
        "currency": "EUR",
    }


def _quote(text: str) -> str:
    """Encode a string as a JSON string literal, keeping non-ASCII characters."""
    return encode_basestring(text)


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@lru_cache(maxsize=1)
def _fragments() -> Fragments:
    return Fragments()
