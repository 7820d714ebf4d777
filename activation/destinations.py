"""Destination declarations, read from ``activation/destinations.yml``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

DESTINATIONS_FILE = Path(__file__).with_name("destinations.yml")
SUPPORTED_CONSENT = {"email"}
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Destination:
    name: str
    description: str
    consent: str
    segments: tuple[str, ...]
    fields: dict[str, str]

    def segment_model(self, segment: str) -> str:
        return f"segment_{segment}"


def _parse(entry: dict, path: Path) -> Destination:
    name = entry.get("name", "")
    where = f"{path}: destination {name or '(unnamed)'}"
    if not IDENTIFIER.match(name):
        raise ValueError(f"{where}: name must be lower_snake_case")
    if entry.get("consent") not in SUPPORTED_CONSENT:
        raise ValueError(
            f"{where}: consent must be one of {sorted(SUPPORTED_CONSENT)}, "
            f"got {entry.get('consent')!r}"
        )
    names = list(entry.get("segments") or []) + list(entry.get("fields") or {})
    names += list((entry.get("fields") or {}).values())
    if not entry.get("segments") or not entry.get("fields"):
        raise ValueError(f"{where}: needs at least one segment and one field")
    invalid = [n for n in names if not IDENTIFIER.match(str(n))]
    if invalid:
        raise ValueError(f"{where}: invalid segment or field names: {invalid}")
    return Destination(
        name=name,
        description=entry.get("description", ""),
        consent=entry["consent"],
        segments=tuple(entry["segments"]),
        fields=dict(entry["fields"]),
    )


def load_destinations(path: Path = DESTINATIONS_FILE) -> list[Destination]:
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    destinations = [_parse(entry, path) for entry in document.get("destinations", [])]
    names = [d.name for d in destinations]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{path}: duplicate destination names: {duplicates}")
    return destinations
