"""Validation of activation/destinations.yml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from activation.destinations import (
    DestinationConfigError,
    load_destinations,
    parse_destination,
)

REPOSITORY = Path(__file__).resolve().parents[2]

VALID = {
    "name": "ads",
    "type": "google_ads",
    "consent": "email",
    "mode": "diff",
    "schedule": "0 7 * * 1",
    "segments": ["high_value_customers"],
    "fields": {"Email": "email", "Phone": "phone"},
}


def parse(**changes):
    entry = {k: v for k, v in (VALID | changes).items() if v is not None}
    return parse_destination(entry, Path("destinations.yml"))


def test_shipped_destinations_parse():
    destinations = load_destinations()

    assert {d.type for d in destinations} >= {"csv", "mailchimp", "google_ads", "meta"}
    assert all(d.consent == "email" for d in destinations)
    segments = {s for d in destinations for s in d.segments}
    models = REPOSITORY / "dbt_project" / "models" / "marts" / "segments"
    assert segments <= {p.stem.removeprefix("segment_") for p in models.glob("*.sql")}


def test_valid_entry_parsed():
    destination = parse()

    assert destination.type == "google_ads"
    assert destination.mode == "diff"
    assert destination.match_key == "Email"
    assert destination.schedule == "0 7 * * 1"


def test_http_settings_parsed():
    destination = parse(
        type="http",
        fields={"customer_id": "customer_id", "email": "email"},
        http={"url": "http://127.0.0.1:9/x", "batch_size": 50, "timeout_seconds": 2},
    )

    assert destination.http.batch_size == 50
    assert destination.http.timeout_seconds == 2.0
    assert destination.http.max_attempts == 5
    assert destination.match_key == "customer_id"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"type": "fax"}, r"destination ads, field 'type': type must be one of"),
        ({"consent": "sms"}, r"field 'consent': consent must be one of"),
        ({"mode": "replace"}, r"field 'mode': mode must be one of"),
        ({"schedule": "nightly"}, r"field 'schedule': schedule must be a cron"),
        ({"segments": []}, r"segments must list at least one segment"),
        ({"segments": ["Bad-Name"]}, r"segment 'Bad-Name'"),
        ({"fields": {"Mail": "email"}}, r"field 'Mail': google_ads accepts only"),
        ({"fields": {"Email": "e-mail"}}, r"field 'Email': source column 'e-mail'"),
        ({"fields": {"Country": "country_code"}}, r"needs at least one of the fields"),
        ({"key": "Phone2"}, r"field 'key': key 'Phone2' is not one of"),
        ({"max_bytes": {"Email": 0}}, r"field 'max_bytes.Email': limit must be"),
        ({"max_bytes": {"Zip": 10}}, r"'max_bytes.Zip': max_bytes names a field"),
        ({"colour": "blue"}, r"unknown settings: \['colour'\]"),
        ({"http": {"url": "http://x"}}, r"field 'http': an http: section belongs"),
        ({"name": "Ads"}, r"destination Ads: name must be lower_snake_case"),
    ],
)
def test_invalid_entry_names_destination_and_field(changes, message):
    with pytest.raises(DestinationConfigError, match=message):
        parse(**changes)


@pytest.mark.parametrize(
    ("http", "message"),
    [
        (None, r"type http needs an http: section"),
        ({"url": "ftp://x"}, r"field 'http.url': url must be an http"),
        ({"url": "http://x", "batch_size": 0}, r"'http.batch_size'"),
        ({"url": "http://x", "batch_size": 2.5}, r"'http.batch_size'"),
        ({"url": "http://x", "timeout_seconds": -1}, r"'http.timeout_seconds'"),
        ({"url": "http://x", "retries": 3}, r"unknown http settings: \['retries'\]"),
    ],
)
def test_invalid_http_settings(http, message):
    with pytest.raises(DestinationConfigError, match=message):
        parse(type="http", fields={"customer_id": "customer_id"}, http=http)


def test_csv_without_key_rejected():
    with pytest.raises(DestinationConfigError, match="key must name the output"):
        parse(type="csv", fields={"email": "email"})


def test_duplicate_names_rejected(tmp_path):
    config = tmp_path / "destinations.yml"
    config.write_text(yaml.safe_dump({"destinations": [VALID, VALID]}))

    with pytest.raises(DestinationConfigError, match=r"duplicate destination names"):
        load_destinations(config)
