"""Presence of persons in the sources: in which source and how often."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingestion.generator.settings import PresenceRates


@dataclass
class Presence:
    """Per-person flags and counts, aligned with ``People``.

    A person with no record in any other source becomes a web visitor with an
    account, so every person appears in at least one extract.
    """

    crm: np.ndarray
    crm_duplicate: np.ndarray
    orders: np.ndarray
    lapsed: np.ndarray
    web: np.ndarray
    web_account: np.ndarray
    tickets: np.ndarray
    leads: np.ndarray


def draw_presence(
    rng: np.random.Generator, size: int, rates: PresenceRates
) -> Presence:
    crm = rng.random(size) < rates.crm
    buyer_rate = np.where(crm, rates.buyer_in_crm, rates.buyer_outside_crm)
    buyer = rng.random(size) < buyer_rate
    orders = np.where(buyer, _counts(rng, size, rates.orders_per_buyer), 0)
    tickets = np.where(
        rng.random(size) < rates.helpdesk,
        _counts(rng, size, rates.tickets_per_requester),
        0,
    )
    leads = np.where(
        rng.random(size) < rates.social,
        1 + (rng.random(size) < rates.social_second_lead),
        0,
    )
    web = rng.random(size) < rates.web
    unseen = ~(crm | buyer | web | (tickets > 0) | (leads > 0))
    web_account = (web & (rng.random(size) < rates.web_account)) | unseen
    return Presence(
        crm=crm,
        crm_duplicate=crm & (rng.random(size) < rates.crm_duplicate),
        orders=orders,
        lapsed=buyer & (rng.random(size) < rates.lapsed_buyer),
        web=web | unseen,
        web_account=web_account,
        tickets=tickets,
        leads=leads,
    )


def _counts(rng, size: int, shares: tuple[float, ...]) -> np.ndarray:
    """Draw counts 1..len(shares), where ``shares[k]`` is the share of count k+1."""
    probabilities = np.array(shares) / sum(shares)
    return 1 + rng.choice(len(shares), size=size, p=probabilities)
