"""Tests of the sample generator on real files written to a temporary folder."""

from __future__ import annotations

import collections
import csv
import hashlib
import json
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import phonenumbers
import pytest

from ingestion.generator import DEFAULT_SETTINGS, GeneratorSettings, generate
from ingestion.generator.clock import TimeWindow, berlin_offsets, iso_utc_ms, plain_utc
from ingestion.generator.countries import COUNTRIES
from ingestion.generator.noise import transliterate, typo
from ingestion.generator.people import draw_people
from ingestion.generator.pools import build_pools
from ingestion.sources import SOURCES, get_source

CUSTOMERS = 300
SEED = 7
AS_OF = date(2026, 11, 30)
REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    generate(CUSTOMERS, SEED, out, as_of=AS_OF)
    return out


def landing_file(out: Path, source_name: str) -> Path:
    source = get_source(source_name)
    return (
        out / "landing" / source.name / source.file_pattern.replace("*", "2026-11-30")
    )


def csv_rows(out: Path, source_name: str) -> list[dict[str, str]]:
    with landing_file(out, source_name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def web_events(out: Path) -> list[dict]:
    lines = landing_file(out, "web_events").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def tickets(out: Path) -> list[dict]:
    text = landing_file(out, "helpdesk_tickets").read_text(encoding="utf-8")
    return json.loads(text)["tickets"]


def ground_truth(out: Path) -> list[dict[str, str]]:
    path = out / "ground_truth" / "ground_truth.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def file_hashes(out: Path) -> dict[str, str]:
    return {
        str(path.relative_to(out)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(out.rglob("*"))
        if path.is_file()
    }


def extract_record_keys(out: Path) -> set[str]:
    """Derive every person record key from the extracts, as the contract defines."""
    keys = {f"crm_contacts:{row['Record ID']}" for row in csv_rows(out, "crm_contacts")}
    keys |= {f"shop_orders:{row['Name']}" for row in csv_rows(out, "shop_orders")}
    for event in web_events(out):
        keys.add(f"web_events:anon:{event['anonymousId']}")
        if event["userId"]:
            keys.add(f"web_events:user:{event['userId']}")
    for row in csv_rows(out, "email_activity"):
        keys.add(f"email_activity:{row['Email Address'].strip().lower()}")
    keys |= {f"helpdesk_tickets:{ticket['id']}" for ticket in tickets(out)}
    keys |= {f"social_leads:{row['id']}" for row in csv_rows(out, "social_leads")}
    return keys


def test_same_seed_gives_identical_files(sample, tmp_path):
    """A second run in a fresh interpreter with another hash seed writes the same
    bytes, so set ordering or dict hashing cannot leak into the output."""
    script = "import sys; from pathlib import Path; from datetime import date; "
    script += "from ingestion.generator import generate; "
    script += (
        f"generate({CUSTOMERS}, {SEED}, Path(sys.argv[1]), as_of=date(2026, 11, 30))"
    )
    environment = os.environ | {"PYTHONHASHSEED": "12345"}
    subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        check=True,
        cwd=REPOSITORY,
        env=environment,
    )
    assert file_hashes(tmp_path) == file_hashes(sample)


def test_other_seed_gives_different_files(sample, tmp_path):
    generate(CUSTOMERS, SEED + 1, tmp_path, as_of=AS_OF)
    first, second = file_hashes(sample), file_hashes(tmp_path)
    assert first.keys() == second.keys()
    for name in first:
        assert first[name] != second[name], name


def test_output_independent_of_chunking(tmp_path):
    """Small chunks rendered by two processes give the same files as one chunk
    rendered in this process.

    The two-process run forks, so it runs in a fresh interpreter. A fork of the test
    process copies the locks held by its other threads, which test files that ran
    before in the same process leave behind (Spark's, for one), and the forked
    worker can then wait forever on such a lock.
    """
    whole = tmp_path / "whole"
    chunked = tmp_path / "chunked"
    generate(120, SEED, whole, as_of=AS_OF, settings=GeneratorSettings(processes=1))
    script = "import sys; from pathlib import Path; from datetime import date; "
    script += "from ingestion.generator import GeneratorSettings, generate, writers; "
    script += "writers.CHUNK_ROWS = 64; "
    script += (
        f"generate(120, {SEED}, Path(sys.argv[1]), "
        f"as_of=date.fromisoformat('{AS_OF.isoformat()}'), "
        "settings=GeneratorSettings(processes=2))"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(chunked)],
        check=True,
        cwd=REPOSITORY,
        timeout=300,
    )
    assert file_hashes(whole) == file_hashes(chunked)


def test_summary_counts_rows_and_files(tmp_path):
    calls = []
    summary = generate(
        CUSTOMERS, SEED, tmp_path, as_of=AS_OF, progress=lambda *a: calls.append(a)
    )
    assert sorted(summary.rows) == sorted(source.name for source in SOURCES)
    assert all(path.exists() for path in summary.files)
    assert summary.rows["crm_contacts"] == len(csv_rows(tmp_path, "crm_contacts"))
    assert summary.rows["helpdesk_tickets"] == len(tickets(tmp_path))
    assert summary.persons == len({row["person_id"] for row in ground_truth(tmp_path)})
    assert (
        "ground_truth",
        summary.ground_truth_rows,
        summary.ground_truth_rows,
    ) in calls


def test_tiny_population_writes_parsable_files(tmp_path):
    """Two customers leave some extracts empty, and those still parse."""
    summary = generate(2, SEED, tmp_path, as_of=AS_OF)
    assert 0 in summary.rows.values()
    assert isinstance(tickets(tmp_path), list)
    for source_name in ("crm_contacts", "shop_orders", "email_activity"):
        assert isinstance(csv_rows(tmp_path, source_name), list)
    assert len(ground_truth(tmp_path)) == summary.ground_truth_rows


@pytest.mark.parametrize(
    "source_name",
    ["crm_contacts", "shop_orders", "email_activity", "social_leads"],
)
def test_csv_header_matches_contract(sample, source_name):
    with landing_file(sample, source_name).open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        widths = {len(row) for row in reader}
    assert header == list(get_source(source_name).columns)
    assert widths == {len(header)}


def test_web_events_follow_segment_keys(sample):
    columns = set(get_source("web_events").columns)
    events = web_events(sample)
    assert events
    for event in events:
        assert set(event) <= columns
        assert {"messageId", "type", "anonymousId", "context"} <= set(event)
        assert event["timestamp"].endswith("Z")
    types = collections.Counter(event["type"] for event in events)
    assert set(types) == {"identify", "track", "page", "screen"}


def test_helpdesk_tickets_have_contract_paths(sample):
    columns = get_source("helpdesk_tickets").columns
    for ticket in tickets(sample):
        for path in columns:
            value = ticket
            for key in path.split("."):
                assert key in value, (path, ticket["id"])
                value = value[key]


def test_ticket_descriptions_have_line_breaks(sample):
    descriptions = [ticket["description"] for ticket in tickets(sample)]
    assert descriptions
    assert all("\n" in description for description in descriptions)


def test_ground_truth_covers_every_record(sample):
    rows = ground_truth(sample)
    truth_keys = [f"{row['source']}:{row['source_record_id']}" for row in rows]
    assert len(truth_keys) == len(set(truth_keys)), "one row per record"
    assert set(truth_keys) == extract_record_keys(sample)


def test_ground_truth_header_and_person_ids(sample):
    path = sample / "ground_truth" / "ground_truth.csv"
    header = path.read_text(encoding="utf-8").splitlines()[0]
    assert header == "source,source_record_id,person_id"
    assert all(
        re.fullmatch(r"P\d{8}", row["person_id"]) for row in ground_truth(sample)
    )


def test_person_records_spell_contacts_differently(sample):
    """Some person's records hold one address or number in different spellings."""
    persons = {
        row["source_record_id"]: row["person_id"] for row in ground_truth(sample)
    }
    emails, phones = collections.defaultdict(set), collections.defaultdict(set)
    for row in csv_rows(sample, "crm_contacts") + csv_rows(sample, "shop_orders"):
        key = row.get("Record ID") or row["Name"]
        person = persons[key]
        if row["Email"]:
            emails[(person, row["Email"].strip().lower())].add(row["Email"])
        phone = row.get("Phone Number") or row.get("Billing Phone")
        if phone:
            phones[(person, re.sub(r"\D", "", phone)[-7:])].add(phone)
    assert any(len(spellings) > 1 for spellings in emails.values())
    assert any(len(spellings) > 1 for spellings in phones.values())


def test_shop_order_fields_only_on_first_line_item(sample):
    order_fields = ["Email", "Financial Status", "Currency", "Total", "Created at"]
    order_fields += ["Billing Name", "Billing Country", "Accepts Marketing", "Id"]
    seen: set[str] = set()
    repeated_orders = 0
    for row in csv_rows(sample, "shop_orders"):
        assert row["Name"].startswith("#")
        assert row["Lineitem name"] and row["Lineitem sku"]
        if row["Name"] in seen:
            repeated_orders += 1
            assert all(row[field] == "" for field in order_fields), row["Name"]
        else:
            assert all(row[field] != "" for field in order_fields), row["Name"]
        seen.add(row["Name"])
    assert repeated_orders > 0


def test_postal_codes_have_country_length(sample):
    lengths = {"DE": 5, "AT": 4, "CH": 4}
    checked = collections.Counter()
    for row in csv_rows(sample, "shop_orders"):
        expected = lengths.get(row["Billing Country"])
        if expected and row["Billing Zip"]:
            assert re.fullmatch(rf"\d{{{expected}}}", row["Billing Zip"]), row
            checked[row["Billing Country"]] += 1
    assert set(checked) == set(lengths)


def test_anonymous_visitors_log_in_later(sample):
    """The same anonymousId appears without a userId before an identify call and
    with it afterwards."""
    by_device = collections.defaultdict(list)
    for event in web_events(sample):
        by_device[event["anonymousId"]].append(event)
    logged_in_later = 0
    for events in by_device.values():
        events.sort(key=lambda event: event["timestamp"])
        users = [event["userId"] for event in events]
        if users[0] is None and users[-1] is not None:
            logged_in_later += 1
    assert logged_in_later > 0
    assert any(all(event["userId"] is None for event in e) for e in by_device.values())


def test_segments_have_members(sample):
    """Lapsed buyers and newsletter readers who never ordered both exist."""
    persons = collections.defaultdict(set)
    for row in ground_truth(sample):
        persons[row["person_id"]].add(row["source"])
    readers = {
        row["Email Address"].strip().lower()
        for row in csv_rows(sample, "email_activity")
        if row["Action"] == "open"
    }
    truth = {
        (row["source"], row["source_record_id"]): row["person_id"]
        for row in ground_truth(sample)
    }
    non_buyer_readers = {
        truth[("email_activity", address)]
        for address in readers
        if "shop_orders" not in persons[truth[("email_activity", address)]]
    }
    assert non_buyer_readers

    last_order: dict[str, str] = {}
    for row in csv_rows(sample, "shop_orders"):
        if row["Created at"]:
            person = truth[("shop_orders", row["Name"])]
            last_order[person] = max(last_order.get(person, ""), row["Created at"])
    assert any(created < "2025-11-30" for created in last_order.values())
    assert any(created >= "2026-09-01" for created in last_order.values())


@pytest.fixture(scope="module")
def people():
    pools = build_pools(COUNTRIES, SEED)
    rng = np.random.default_rng(SEED)
    window = TimeWindow.before(AS_OF)
    return draw_people(rng, 5_000, pools, window, DEFAULT_SETTINGS.person)


def test_people_phone_numbers_valid(people):
    invalid = [
        parts
        for parts in people.phone.tolist()
        if parts
        and not phonenumbers.is_valid_number(
            phonenumbers.parse(f"+{parts[0]}{parts[2]}{parts[3]}")
        )
    ]
    assert invalid == []


def test_households_share_email_and_home(people):
    members = np.flatnonzero(people.email_owner != np.arange(len(people)))
    assert 0 < len(members) < 0.03 * len(people)
    owners = people.email_owner[members]
    assert (people.email[members] == people.email[owners]).all()
    assert (people.home.street[members] == people.home.street[owners]).all()


def test_berlin_offsets_match_zoneinfo():
    seconds = np.arange(1_700_000_000, 1_800_000_000, 3_600 * 7, dtype=np.int64)
    berlin = ZoneInfo("Europe/Berlin")
    expected = [
        datetime.fromtimestamp(second, tz=UTC).astimezone(berlin).utcoffset()
        for second in seconds.tolist()
    ]
    expected_seconds = np.array([offset.total_seconds() for offset in expected])
    assert (berlin_offsets(seconds) == expected_seconds).all()


def test_time_formats_match_numpy():
    step = 999_999_937
    milliseconds = np.arange(1_700_000_000_000, 1_800_000_000_000, step, dtype=np.int64)
    seconds = milliseconds // 1000
    with_ms = np.datetime_as_string(milliseconds.astype("datetime64[ms]"), unit="ms")
    without_ms = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")
    assert (iso_utc_ms(milliseconds) == np.strings.add(with_ms, "Z")).all()
    assert (plain_utc(seconds) == np.strings.replace(without_ms, "T", " ")).all()


@pytest.mark.parametrize("draw", [0.05, 0.3, 0.55, 0.8, 0.99])
def test_typo_changes_one_character(draw):
    noisy = typo("Schneider", draw)
    assert noisy != "Schneider"
    assert abs(len(noisy) - len("Schneider")) <= 1


def test_transliterate_writes_umlauts_in_ascii():
    assert transliterate("Jürgen Weiß-Öztürk", 0.0) == "Juergen Weiss-Oeztuerk"


@pytest.mark.slow
def test_generates_100k_customers(tmp_path):
    summary = generate(100_000, 42, tmp_path)
    assert summary.rows["crm_contacts"] > 60_000
    assert summary.ground_truth_rows > 300_000
