"""Entry point of the sample generator: draws persons, writes every source."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from ingestion.generator.clock import TimeWindow
from ingestion.generator.context import GenerationContext, stage_rng
from ingestion.generator.countries import COUNTRIES
from ingestion.generator.crm import write_crm_contacts
from ingestion.generator.email_activity import write_email_activity
from ingestion.generator.ground_truth import ground_truth_path, write_ground_truth
from ingestion.generator.hard_mode import add_twins
from ingestion.generator.helpdesk import write_helpdesk_tickets
from ingestion.generator.people import draw_people
from ingestion.generator.pools import build_pools
from ingestion.generator.presence import draw_presence
from ingestion.generator.settings import DEFAULT_SETTINGS, GeneratorSettings
from ingestion.generator.shop import write_shop_orders
from ingestion.generator.social import write_social_leads
from ingestion.generator.web import write_web_events
from ingestion.generator.writers import Extract, Progress

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerationSummary:
    """Output counts of one run: rows per source (file rows, not person records),
    the files including the ground truth, and the number of true persons with
    anonymous-only web visitors included."""

    rows: dict[str, int]
    files: list[Path]
    persons: int
    ground_truth_rows: int


def generate(
    customers: int,
    seed: int,
    out: Path,
    as_of: date = date(2026, 11, 30),
    events_per_customer: float = 6.0,
    progress: Progress | None = None,
    *,
    settings: GeneratorSettings = DEFAULT_SETTINGS,
) -> GenerationSummary:
    """Write the landing extracts of all sources and the ground truth under ``out``.

    ``customers`` true persons appear in one or more sources, and anonymous-only web
    visitors come on top. ``events_per_customer`` is the mean number of web events
    per customer. The same arguments give byte-identical files.
    """
    if customers < 1:
        raise ValueError(f"customers must be at least 1, got {customers}")
    if events_per_customer <= 0:
        raise ValueError(
            f"events_per_customer must be positive, got {events_per_customer}"
        )
    context = _draw_population(customers, seed, Path(out), as_of, settings, progress)
    crm = write_crm_contacts(context)
    shop = write_shop_orders(context)
    web = write_web_events(context, events_per_customer)
    email = write_email_activity(context, [crm, shop])
    helpdesk = write_helpdesk_tickets(context, shop)
    social = write_social_leads(context)
    extracts = [crm, shop, web, email, helpdesk, social]
    for extract in extracts:
        logger.info("wrote %d rows to %s", extract.rows, extract.path)

    report = context.reporter("ground_truth")
    ground_truth = write_ground_truth(context.out, extracts, report)
    summary = GenerationSummary(
        rows={extract.source.name: extract.rows for extract in extracts},
        files=[extract.path for extract in extracts] + [ground_truth_path(context.out)],
        persons=_count_persons(extracts),
        ground_truth_rows=ground_truth,
    )
    logger.info("wrote the ground truth of %d persons to %s", summary.persons, out)
    return summary


def _draw_population(
    customers, seed, out, as_of, settings, progress
) -> GenerationContext:
    window = TimeWindow.before(as_of)
    if progress is not None:
        progress("people", 0, customers)
    pools = build_pools(COUNTRIES, seed)
    people = draw_people(
        stage_rng(seed, "people"), customers, pools, window, settings.person
    )
    add_twins(stage_rng(seed, "twins"), people, pools, settings.person.twins)
    presence = draw_presence(stage_rng(seed, "presence"), customers, settings.presence)
    if progress is not None:
        progress("people", customers, customers)
    return GenerationContext(
        seed, out, as_of, window, settings, people, presence, progress
    )


def _count_persons(extracts: list[Extract]) -> int:
    """Count the persons behind at least one record, anonymous visitors included."""
    return len(np.unique(np.concatenate([extract.persons for extract in extracts])))
