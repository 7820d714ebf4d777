"""Segment models: their meta against ``activation/destinations.yml``, and history.

The history tests copy the warehouse of ``built_warehouse`` and run the traits, the
segments, the snapshot and the history mart again for three as-of dates:

1. 2026-11-30: Jonas's only order is 11 days old, so he is a new customer. Lena
   opened and clicked an email 11 days before, so she is an engaged non-buyer.
   Max (an old order worth 745.50 EUR) is a high-value customer.
2. 2027-03-01: Jonas's order is 102 days old, so he leaves new_customers and enters
   one_time_buyers. Lena's email activity is older than 90 days, so she leaves
   engaged_non_buyers. Max stays.
3. 2026-11-30 again: Jonas enters new_customers a second time and leaves
   one_time_buyers.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from activation.destinations import load_destinations
from tests.dbt.test_dbt_project import PROJECT_DIR, query, run_dbt

SEGMENTS_FOLDER = ["marts", "segments"]
# The models that depend on the as-of date, from int_run_context to the history.
AS_OF_CHAIN = "int_run_context+,+segment_membership_history"
FIRST_DATE = "2026-11-30"
LATER_DATE = "2027-03-01"


def segment_models(manifest: dict) -> dict[str, dict]:
    """Return the models in models/marts/segments/ by name."""
    return {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1:3] == SEGMENTS_FOLDER
    }


@pytest.fixture(scope="module")
def manifest(built_warehouse) -> dict:
    _, target = built_warehouse
    return json.loads((target / "manifest.json").read_text())


def test_segment_models_named_and_described(manifest):
    segments = segment_models(manifest)
    assert len(segments) >= 8
    for name, node in segments.items():
        meta = node["config"]["meta"]
        assert name.startswith("segment_"), name
        assert node["description"].strip(), f"{name} has no description"
        assert isinstance(meta.get("owner"), str) and meta["owner"], name
        assert isinstance(meta.get("label"), str) and meta["label"], name
        assert isinstance(meta.get("destinations"), list), name


def test_segment_destinations_exist(manifest):
    declared = {destination.name for destination in load_destinations()}
    for name, node in segment_models(manifest).items():
        unknown = set(node["config"]["meta"]["destinations"]) - declared
        assert not unknown, f"{name} names unknown destinations {sorted(unknown)}"


def test_destination_segments_name_it_in_meta(manifest):
    segments = segment_models(manifest)
    for destination in load_destinations():
        for segment in destination.segments:
            model = destination.segment_model(segment)
            assert model in segments, f"{destination.name}: no model {model}"
            listed = segments[model]["config"]["meta"]["destinations"]
            assert destination.name in listed, f"{model} meta lacks {destination.name}"


def test_segment_meta_destinations_list_segment(manifest):
    destinations = {d.name: d for d in load_destinations()}
    for name, node in segment_models(manifest).items():
        for destination in node["config"]["meta"]["destinations"]:
            segment = name.removeprefix("segment_")
            assert segment in destinations[destination].segments, (
                f"{name} names {destination}, whose segments lack {segment}"
            )


def test_memberships_depend_on_every_segment(manifest):
    memberships = manifest["nodes"]["model.cdp.segment_memberships"]
    parents = set(memberships["depends_on"]["nodes"])
    expected = {node["unique_id"] for node in segment_models(manifest).values()}
    assert parents == expected


def test_unlisted_segment_fails_memberships(tmp_path):
    project = tmp_path / "dbt_project"
    shutil.copytree(
        PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs")
    )
    new_segment = project / "models" / "marts" / "segments" / "segment_everyone.sql"
    new_segment.write_text("select customer_id from {{ ref('customer_traits') }}\n")

    result = run_dbt(
        ["compile", "--select", "segment_memberships"],
        tmp_path / "warehouse.duckdb",
        tmp_path,
        project_dir=project,
    )

    assert result.returncode != 0
    assert "Missing from the list: segment_everyone." in result.stdout


def build_as_of(warehouse: Path, folder: Path, as_of_date: str) -> tuple[datetime, ...]:
    """Rebuild the as-of chain for as_of_date and return the UTC times around the run.

    dbt parses the whole project again when --vars differ from those of the
    partial-parse file in its target folder, so each date gets a target folder.
    """
    started = datetime.now(UTC).replace(tzinfo=None)
    result = run_dbt(
        [
            "build",
            "--select",
            AS_OF_CHAIN,
            "--exclude",
            "resource_type:unit_test",
            "--vars",
            json.dumps({"as_of_date": as_of_date}),
        ],
        warehouse,
        folder / f"as_of_{as_of_date}",
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    return started, datetime.now(UTC).replace(tzinfo=None)


def snapshot_rows(warehouse: Path) -> int:
    [(count,)] = query(
        warehouse, "select count(*) from snapshots.segment_memberships_snapshot"
    )
    return count


@pytest.fixture(scope="module")
def history(built_warehouse, tmp_path_factory) -> dict:
    """Run the as-of chain for three dates, then once more for the last date."""
    folder = tmp_path_factory.mktemp("segment_history")
    warehouse = folder / "warehouse.duckdb"
    shutil.copy(built_warehouse[0], warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("drop schema snapshots cascade")

    runs = [build_as_of(warehouse, folder, d) for d in (FIRST_DATE, LATER_DATE)]
    runs.append(build_as_of(warehouse, folder, FIRST_DATE))
    rows_before_rerun = snapshot_rows(warehouse)
    build_as_of(warehouse, folder, FIRST_DATE)
    return {
        "warehouse": warehouse,
        "runs": runs,
        "rows_before_rerun": rows_before_rerun,
        "rows_after_rerun": snapshot_rows(warehouse),
    }


def stays(history: dict, customer_id: str, segment_name: str) -> list[tuple]:
    """Return (entered_at, left_at, is_current) per stay, oldest first."""
    return query(
        history["warehouse"],
        "select entered_at, left_at, is_current from marts.segment_membership_history "
        "where customer_id = ? and segment_name = ? order by entered_at",
        [customer_id, segment_name],
    )


def run_of(history: dict, moment: datetime | None) -> int | None:
    """Return the index of the run during which moment fell, or None."""
    for index, (started, finished) in enumerate(history["runs"]):
        if moment is not None and started <= moment <= finished:
            return index
    return None


def test_leaving_customer_gets_left_at(history):
    entered_at, left_at, is_current = stays(history, "jonas", "new_customers")[0]
    assert run_of(history, entered_at) == 0
    assert run_of(history, left_at) == 1
    assert is_current is False


def test_inactive_email_reader_leaves(history):
    entered_at, left_at, is_current = stays(history, "lena", "engaged_non_buyers")[0]
    assert run_of(history, entered_at) == 0
    assert run_of(history, left_at) == 1
    assert is_current is False


def test_new_member_gets_entered_at(history):
    [(entered_at, left_at, is_current)] = stays(history, "jonas", "one_time_buyers")
    assert run_of(history, entered_at) == 1
    assert run_of(history, left_at) == 2
    assert is_current is False


def test_returning_member_gets_second_stay(history):
    rows = stays(history, "jonas", "new_customers")
    assert len(rows) == 2
    entered_at, left_at, is_current = rows[1]
    assert run_of(history, entered_at) == 2
    assert left_at is None
    assert is_current is True


def test_staying_member_keeps_one_open_stay(history):
    [(entered_at, left_at, is_current)] = stays(history, "max", "high_value_customers")
    assert run_of(history, entered_at) == 0
    assert left_at is None
    assert is_current is True


def test_rerun_for_same_date_adds_no_rows(history):
    assert history["rows_after_rerun"] == history["rows_before_rerun"]
