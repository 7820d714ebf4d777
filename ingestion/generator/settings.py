"""Rates that shape the sample: who appears in which source, and how much noise.

Every rate is a probability. "Per person" rates are drawn once per true person,
"per record" rates once per source record. Change the defaults here, or pass a
modified ``GeneratorSettings`` to ``generate``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


def _frozen(values: dict) -> Mapping:
    return field(default_factory=lambda: MappingProxyType(dict(values)))


@dataclass(frozen=True)
class PresenceRates:
    """Per-person shares of presence in each source, and per-source volumes.

    Buyers outside the CRM are guest checkouts. ``web`` is below the target of
    about 60% because persons found in no other source become web visitors too.
    Count shares (``orders_per_buyer`` and the like) give the share of 1, 2, ...
    """

    crm: float = 0.70
    crm_duplicate: float = 0.04
    buyer_in_crm: float = 0.60
    buyer_outside_crm: float = 0.27
    # Lapsed buyers ordered only before the last 300 days.
    lapsed_buyer: float = 0.30
    web: float = 0.56
    web_account: float = 0.88
    web_second_device: float = 0.12
    second_device_login: float = 0.5
    app_device: float = 0.2
    # Extra persons who only ever browse anonymously, per customer.
    anonymous_visitors_per_customer: float = 0.2
    helpdesk: float = 0.15
    social: float = 0.10
    social_second_lead: float = 0.1
    orders_per_buyer: tuple[float, ...] = (0.40, 0.22, 0.14, 0.10, 0.08, 0.06)
    items_per_order: tuple[float, ...] = (0.50, 0.28, 0.14, 0.08)
    tickets_per_requester: tuple[float, ...] = (0.75, 0.18, 0.07)
    # Campaigns over the last 365 days, alternating newsletter and promotion.
    email_campaigns: int = 12


@dataclass(frozen=True)
class PersonRates:
    """Per-person shares of traits that make records disagree across sources.

    Household members share another person's e-mail address and home, so linking
    on e-mail alone merges two persons. Keep that share small (1-2%).
    """

    marketing_consent: float = 0.60
    has_phone: float = 0.85
    mobile_phone: float = 0.6
    second_email: float = 0.12
    moved: float = 0.07
    household_shared_email: float = 0.015
    # Persons who get a twin: same last name, birth date and address, another first
    # name. Only hard mode (``hard_mode.hard_mode_settings``) sets it.
    twins: float = 0.0


@dataclass(frozen=True)
class NoiseRates:
    """Per-record noise. Each field recipe maps a function in ``noise.NOISE`` to the
    probability that it changes the field. At most one recipe entry applies per
    field and record. ``source_scale`` multiplies the recipe rates per source,
    because customers typing on a phone make more mistakes than a sales team.
    """

    name: Mapping[str, float] = _frozen(
        {
            "typo": 0.02,
            "case": 0.03,
            "whitespace": 0.02,
            "transliterate": 0.06,
            "strip_accents": 0.015,
            "nickname": 0.05,
        }
    )
    email: Mapping[str, float] = _frozen(
        {"email_typo": 0.006, "case": 0.05, "whitespace": 0.015}
    )
    street: Mapping[str, float] = _frozen(
        {
            "abbreviate_street": 0.15,
            "transliterate": 0.03,
            "typo": 0.015,
            "case": 0.02,
            "whitespace": 0.02,
        }
    )
    city: Mapping[str, float] = _frozen(
        {"transliterate": 0.04, "typo": 0.01, "case": 0.03, "whitespace": 0.01}
    )
    source_scale: Mapping[str, float] = _frozen(
        {
            "crm_contacts": 1.0,
            "shop_orders": 0.8,
            "web_events": 0.3,
            "helpdesk_tickets": 1.0,
            "social_leads": 1.6,
        }
    )
    # Records with first and last name in each other's field.
    swapped_names: float = 0.015
    # Records of persons with a second e-mail address that carry the second one.
    second_email_use: Mapping[str, float] = _frozen(
        {
            "crm_contacts": 0.25,
            "shop_orders": 0.45,
            "web_events": 0.4,
            "helpdesk_tickets": 0.5,
            "social_leads": 0.6,
        }
    )
    # Records with the field empty, keyed "<source>_<field>".
    missing: Mapping[str, float] = _frozen(
        {
            "crm_first_name": 0.01,
            "crm_email": 0.06,
            "crm_phone": 0.30,
            "crm_address": 0.12,
            "crm_birth_date": 0.45,
            "crm_country": 0.04,
            "shop_phone": 0.45,
            "helpdesk_email_on_phone_channel": 0.4,
            "helpdesk_phone": 0.6,
            "social_phone": 0.15,
            "social_city": 0.3,
            "web_phone_trait": 0.7,
        }
    )
    # Duplicate CRM contacts created from the person's second e-mail address.
    duplicate_contact_new_email: float = 0.5


@dataclass(frozen=True)
class GeneratorSettings:
    """All rates of one generation run, and how many processes render rows.

    ``processes`` above 1 forks worker processes on Linux, and the files are the same
    for any value. Use 1 where forking is unsafe, e.g. in a process that runs
    other threads.
    """

    presence: PresenceRates = field(default_factory=PresenceRates)
    person: PersonRates = field(default_factory=PersonRates)
    noise: NoiseRates = field(default_factory=NoiseRates)
    processes: int = 2


DEFAULT_SETTINGS = GeneratorSettings()
