"""Destination declarations, read from ``activation/destinations.yml``.

Every error names the file, the destination and the field, so a typo in the YAML
fails the Dagster code location at load time rather than the night's export.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from activation.vendors import DEFAULT_KEYS, IDENTIFYING_FIELDS, VENDOR_FIELDS

DESTINATIONS_FILE = Path(__file__).with_name("destinations.yml")
SUPPORTED_CONSENT = {"email"}
FILE_TYPES = {"csv", "parquet", "mailchimp", "google_ads", "meta"}
SUPPORTED_TYPES = FILE_TYPES | {"http"}
SYNC_MODES = {"full", "diff", "mirror"}
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
# Five fields of minute, hour, day of month, month and day of week.
CRON_FIELD = re.compile(r"^[0-9*/,\-A-Za-z?]+$")
PLAIN_OUTPUT_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_ ]*$")
URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")

KNOWN_KEYS = {
    "name",
    "type",
    "description",
    "consent",
    "segments",
    "fields",
    "schedule",
    "mode",
    "key",
    "max_bytes",
    "http",
}


class DestinationConfigError(ValueError):
    """An entry of destinations.yml that cannot be used, with where and why."""


@dataclass(frozen=True)
class HttpSettings:
    """Batching, rate limit and retry settings of an ``http`` destination, in seconds."""

    url: str
    batch_size: int = 500
    requests_per_second: float = 5.0
    timeout_seconds: float = 30.0
    max_attempts: int = 5
    backoff_initial_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    # A Retry-After longer than this fails the batch for this night; the rows are
    # retried on the next sync instead of holding the nightly job.
    max_retry_after_seconds: float = 300.0
    # Name of an environment variable with a bearer token; the token never sits in
    # the YAML file.
    token_env: str | None = None


@dataclass(frozen=True)
class Destination:
    name: str
    description: str
    consent: str
    segments: tuple[str, ...]
    fields: dict[str, str]
    type: str = "csv"
    mode: str = "full"
    # Cron string of when the tool imports; shown in Dagster, the nightly schedule
    # decides when the export runs.
    schedule: str | None = None
    key: str | None = None
    max_bytes: dict[str, int] = field(default_factory=dict)
    http: HttpSettings | None = None

    def segment_model(self, segment: str) -> str:
        return f"segment_{segment}"

    @property
    def writes_files(self) -> bool:
        return self.type in FILE_TYPES

    @property
    def match_key(self) -> str:
        """Output field the destination matches people on for updates and removals."""
        return self.key or _default_key(self.type, self.fields) or ""


def _default_key(type_: str, fields: dict[str, str]) -> str | None:
    if type_ in DEFAULT_KEYS:
        return DEFAULT_KEYS[type_]
    for target, source in fields.items():
        if source == "customer_id":
            return target
    return None


def _require(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise DestinationConfigError(f"{where}: {message}")


def _parse_fields(entry: dict, type_: str, where: str) -> dict[str, str]:
    fields = entry.get("fields")
    _require(
        isinstance(fields, dict) and bool(fields),
        where,
        "fields must map at least one output column to a dim_customers column",
    )
    vendor_fields = VENDOR_FIELDS.get(type_)
    for target, source in fields.items():
        _require(
            isinstance(source, str) and IDENTIFIER.match(source) is not None,
            f"{where}, field {target!r}",
            f"source column {source!r} must be a lower_snake_case column name",
        )
        if vendor_fields is not None:
            _require(
                target in vendor_fields,
                f"{where}, field {target!r}",
                f"{type_} accepts only the columns {list(vendor_fields)}",
            )
        else:
            _require(
                isinstance(target, str) and PLAIN_OUTPUT_FIELD.match(target),
                f"{where}, field {target!r}",
                "output column must start with a letter and contain only letters, "
                "digits, spaces and underscores",
            )
    required = IDENTIFYING_FIELDS.get(type_, ())
    _require(
        not required or any(f in fields for f in required),
        where,
        f"{type_} needs at least one of the fields {list(required)}",
    )
    return {str(k): v for k, v in fields.items()}


def _parse_segments(entry: dict, where: str) -> tuple[str, ...]:
    segments = entry.get("segments")
    _require(
        isinstance(segments, list) and bool(segments),
        where,
        "segments must list at least one segment",
    )
    for segment in segments:
        _require(
            isinstance(segment, str) and IDENTIFIER.match(segment) is not None,
            f"{where}, segment {segment!r}",
            "segment must be a lower_snake_case model name without segment_",
        )
    _require(len(set(segments)) == len(segments), where, "segments repeat")
    return tuple(segments)


def _parse_schedule(entry: dict, where: str) -> str | None:
    schedule = entry.get("schedule")
    if schedule is None:
        return None
    parts = str(schedule).split()
    _require(
        len(parts) == 5 and all(CRON_FIELD.match(p) for p in parts),
        f"{where}, field 'schedule'",
        f"schedule must be a cron string of five fields, got {schedule!r}",
    )
    return str(schedule)


def _positive_number(value, where: str, name: str, integer: bool = False):
    kind = int if integer else (int, float)
    _require(
        isinstance(value, kind) and not isinstance(value, bool) and value > 0,
        f"{where}, field 'http.{name}'",
        f"{name} must be a positive {'integer' if integer else 'number'}, "
        f"got {value!r}",
    )
    return value


def _parse_http(entry: dict, where: str) -> HttpSettings:
    settings = entry.get("http")
    _require(
        isinstance(settings, dict),
        where,
        "type http needs an http: section with at least url",
    )
    unknown = set(settings) - set(HttpSettings.__dataclass_fields__)
    _require(not unknown, where, f"unknown http settings: {sorted(unknown)}")
    url = settings.get("url")
    _require(
        isinstance(url, str) and URL.match(url) is not None,
        f"{where}, field 'http.url'",
        f"url must be an http:// or https:// address, got {url!r}",
    )
    values = {"url": url, "token_env": settings.get("token_env")}
    for name in (
        "requests_per_second",
        "timeout_seconds",
        "backoff_initial_seconds",
        "backoff_max_seconds",
        "max_retry_after_seconds",
    ):
        if name in settings:
            values[name] = float(_positive_number(settings[name], where, name))
    for name in ("batch_size", "max_attempts"):
        if name in settings:
            values[name] = _positive_number(settings[name], where, name, True)
    return HttpSettings(**values)


def _parse_max_bytes(entry: dict, fields: dict[str, str], where: str) -> dict:
    limits = entry.get("max_bytes") or {}
    _require(isinstance(limits, dict), where, "max_bytes must map fields to bytes")
    for target, limit in limits.items():
        _require(
            target in fields,
            f"{where}, field 'max_bytes.{target}'",
            "max_bytes names a field that is not in fields",
        )
        _require(
            isinstance(limit, int) and not isinstance(limit, bool) and limit > 0,
            f"{where}, field 'max_bytes.{target}'",
            f"limit must be a positive integer, got {limit!r}",
        )
    return dict(limits)


def parse_destination(entry: dict, path: Path) -> Destination:
    _require(isinstance(entry, dict), f"{path}", "each destination must be a mapping")
    name = entry.get("name", "")
    where = f"{path}: destination {name or '(unnamed)'}"
    _require(
        isinstance(name, str) and IDENTIFIER.match(name) is not None,
        where,
        "name must be lower_snake_case",
    )
    unknown = set(entry) - KNOWN_KEYS
    _require(not unknown, where, f"unknown settings: {sorted(unknown)}")
    type_ = entry.get("type", "csv")
    _require(
        type_ in SUPPORTED_TYPES,
        f"{where}, field 'type'",
        f"type must be one of {sorted(SUPPORTED_TYPES)}, got {type_!r}",
    )
    _require(
        entry.get("consent") in SUPPORTED_CONSENT,
        f"{where}, field 'consent'",
        f"consent must be one of {sorted(SUPPORTED_CONSENT)}, "
        f"got {entry.get('consent')!r}",
    )
    mode = entry.get("mode", "full")
    _require(
        mode in SYNC_MODES,
        f"{where}, field 'mode'",
        f"mode must be one of {sorted(SYNC_MODES)}, got {mode!r}",
    )

    segments = _parse_segments(entry, where)
    fields = _parse_fields(entry, type_, where)
    key = entry.get("key") or _default_key(type_, fields)
    _require(
        key is not None,
        f"{where}, field 'key'",
        "key must name the output field that identifies a person, or fields "
        "must map one output field to customer_id",
    )
    _require(
        key in fields,
        f"{where}, field 'key'",
        f"key {key!r} is not one of the output fields {list(fields)}",
    )
    _require(
        type_ == "http" or "http" not in entry,
        f"{where}, field 'http'",
        "an http: section belongs only to destinations of type http",
    )
    return Destination(
        name=name,
        description=entry.get("description", ""),
        consent=entry["consent"],
        segments=segments,
        fields=fields,
        type=type_,
        mode=mode,
        schedule=_parse_schedule(entry, where),
        key=key,
        max_bytes=_parse_max_bytes(entry, fields, where),
        http=_parse_http(entry, where) if type_ == "http" else None,
    )


def load_destinations(path: Path = DESTINATIONS_FILE) -> list[Destination]:
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = document.get("destinations") or []
    _require(isinstance(entries, list), f"{path}", "destinations must be a list")
    destinations = [parse_destination(entry, path) for entry in entries]
    names = [d.name for d in destinations]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    _require(not duplicates, f"{path}", f"duplicate destination names: {duplicates}")
    return destinations
