"""State shared by the source writers of one generation run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from ingestion.generator.clock import TimeWindow
from ingestion.generator.people import People
from ingestion.generator.presence import Presence
from ingestion.generator.settings import GeneratorSettings
from ingestion.generator.writers import Progress, landing_path
from ingestion.sources import Source

# Each stage draws from its own stream, so changing one source leaves the others'
# output unchanged for the same seed. Append new stages and never renumber them.
STAGES = (
    "people",
    "presence",
    "crm_contacts",
    "shop_orders",
    "web_events",
    "email_activity",
    "helpdesk_tickets",
    "social_leads",
    "twins",
)


@dataclass
class GenerationContext:
    seed: int
    out: Path
    as_of: date
    window: TimeWindow
    settings: GeneratorSettings
    people: People
    presence: Presence
    progress: Progress | None = None

    def rng(self, stage: str) -> np.random.Generator:
        return stage_rng(self.seed, stage)

    def path(self, source: Source) -> Path:
        return landing_path(self.out, source, self.as_of)

    def reporter(self, stage: str):
        """Return a (done, total) callback that forwards to ``progress``."""

        def report(done: int, total: int) -> None:
            if self.progress is not None:
                self.progress(stage, done, total)

        return report


def stage_rng(seed: int, stage: str) -> np.random.Generator:
    return np.random.default_rng([seed, STAGES.index(stage)])
