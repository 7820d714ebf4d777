"""The whole nightly job, run twice through ``cdp run`` on a small generated set.

Runs the real command in a subprocess with every path pointed at a temporary folder,
so the test exercises the same code path as ``make run``: Dagster, dbt, Splink and
the exports, against a fresh DuckDB file. The first run is the session's generated
night (tests/generated_night.py), which the determinism test reads as well; this
module runs the same night again on a copy of its folder.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest

from activation.vendors import InvalidValue, google_email, plain_email, sha256_hex
from ingestion.generator import generate
from ingestion.sources import SOURCES
from tests.generated_night import (
    FIRST_RUN_OUTPUT,
    RUN_DATE,
    SEED,
    isolated_env,
    run_cdp,
)


def outbox_files(outbox: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(outbox)): p.read_bytes()
        for p in sorted(outbox.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def night(generated_night, tmp_path_factory):
    root = tmp_path_factory.mktemp("night")
    shutil.copytree(generated_night, root, dirs_exist_ok=True)
    env = isolated_env(root)
    with duckdb.connect(env["CDP_WAREHOUSE"], read_only=True) as con:
        counts_after_first = raw_counts(con)
    files_after_first = outbox_files(root / "outbox")

    second = run_cdp(env, "run")
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    return {
        "root": root,
        "env": env,
        "stdout": (generated_night.parent / FIRST_RUN_OUTPUT).read_text("utf-8"),
        "counts_after_first": counts_after_first,
        "files_after_first": files_after_first,
    }


@pytest.fixture
def con(night):
    with duckdb.connect(night["env"]["CDP_WAREHOUSE"], read_only=True) as connection:
        yield connection


def raw_counts(con) -> dict[str, int]:
    return {
        s.name: con.execute(f"select count(*) from raw.{s.table}").fetchone()[0]
        for s in SOURCES
    }


def count_source_rows(path: Path, file_format: str) -> int:
    """Count data rows the way the source system wrote them, without the loader."""
    if file_format == "csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return sum(1 for _ in csv.reader(handle)) - 1
    if file_format == "jsonl":
        lines = path.read_text(encoding="utf-8").splitlines()
        return sum(1 for line in lines if line.strip())
    return len(json.loads(path.read_text(encoding="utf-8"))["tickets"])


def test_every_source_row_accounted_for(night, con):
    landing = night["root"] / "landing"
    for source in SOURCES:
        for path in sorted((landing / source.landing_folder).iterdir()):
            expected = count_source_rows(path, source.file_format)
            read, loaded, rejected = con.execute(
                "select rows_read, rows_loaded, rows_rejected from raw._load_log "
                "where file = ? and status = 'loaded'",
                [path.name],
            ).fetchone()
            assert read == expected, path.name
            assert loaded + rejected == read, path.name


def test_raw_tables_match_load_log(con):
    for source in SOURCES:
        logged = con.execute(
            "select sum(rows_loaded) from raw._load_log "
            "where source = ? and status = 'loaded'",
            [source.name],
        ).fetchone()[0]
        in_table = con.execute(f"select count(*) from raw.{source.table}").fetchone()[0]
        assert in_table == logged, source.name


def test_identity_f1_at_least_090(con):
    precision, recall, f1 = con.execute(
        "select precision, recall, f1 from identity.resolution_metrics "
        "order by resolved_at desc limit 1"
    ).fetchone()
    assert f1 >= 0.9, f"precision {precision:.3f}, recall {recall:.3f}, f1 {f1:.3f}"


def test_every_record_has_one_customer(con):
    records, resolved, duplicates = con.execute(
        "select (select count(*) from intermediate.int_person_records), "
        "count(*), count(*) - count(distinct record_key) "
        "from identity.record_customers"
    ).fetchone()
    assert resolved == records
    assert duplicates == 0


def test_segments_not_empty(con):
    segments = [
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'marts' "
            "and table_name like 'segment\\_%' escape '\\' "
            "and table_name not in ('segment_memberships', 'segment_membership_history')"
        ).fetchall()
    ]
    assert len(segments) >= 3
    for segment in segments:
        size = con.execute(f"select count(*) from marts.{segment}").fetchone()[0]
        assert size > 0, segment


# Column that carries the email address in each file destination type, and how the
# type prepares it.
def hashed(normalize):
    def prepare(email):
        try:
            return sha256_hex(normalize(email))
        except InvalidValue:
            return None

    return prepare


EMAIL_COLUMNS = {
    "csv": ("email", lambda email: email),
    "mailchimp": ("Email Address", lambda email: email),
    "google_ads": ("Email", hashed(google_email)),
    "meta": ("email", hashed(plain_email)),
}


def test_exports_only_consented_people(night, con):
    consented = [
        row[0]
        for row in con.execute(
            "select email from marts.dim_customers "
            "where has_email_consent and not coalesce(is_email_suppressed, false)"
        ).fetchall()
    ]
    unsubscribed = [
        row[0]
        for row in con.execute(
            "select lower(trim(email)) from raw.email_activity "
            "where lower(action) = 'unsubscribe'"
        ).fetchall()
    ]
    checked = set()
    for manifest_path in (night["root"] / "outbox").rglob("manifest.json"):
        manifest = json.loads(manifest_path.read_text())
        if manifest["type"] not in EMAIL_COLUMNS:
            continue
        column, prepare = EMAIL_COLUMNS[manifest["type"]]
        allowed = {prepare(email) for email in consented}
        blocked = {prepare(email) for email in unsubscribed if email}
        for entry in manifest["files"]:
            if entry["kind"] != "upsert":
                continue
            path = manifest_path.parent / entry["file"]
            with path.open(encoding="utf-8", newline="") as handle:
                exported = {row[column] for row in csv.DictReader(handle)}
            assert exported <= allowed, path
            assert not exported & blocked, path
            checked.add(manifest["type"])
    assert checked == set(EMAIL_COLUMNS)


def test_manifest_matches_files(night):
    for manifest_path in (night["root"] / "outbox").rglob("manifest.json"):
        manifest = json.loads(manifest_path.read_text())
        for entry in manifest["files"]:
            path = manifest_path.parent / entry["file"]
            if path.suffix == ".parquet":
                rows = pq.read_metadata(path).num_rows
            else:
                with path.open(encoding="utf-8", newline="") as handle:
                    rows = sum(1 for _ in csv.reader(handle)) - 1
            assert rows == entry["row_count"], path


def test_second_run_sends_nothing_new(night, con):
    """Both runs are the same night: the second one logs no change of its own."""
    runs = con.execute(
        "select count(distinct sync_id) from activation.sync_runs"
    ).fetchone()[0]
    per_change = con.execute(
        "select max(n) from (select count(*) as n from activation.sync_changes "
        "group by destination, segment, run_date, customer_id, action)"
    ).fetchone()[0]
    assert runs > 0
    assert per_change == 1


def test_second_run_adds_nothing(night, con):
    assert raw_counts(con) == night["counts_after_first"]
    assert outbox_files(night["root"] / "outbox") == night["files_after_first"]


def test_summary_printed(night):
    stdout = night["stdout"]
    assert "Rows per layer" in stdout
    assert "records resolved into" in stdout
    assert "Segments" in stdout
    assert "Audience files" in stdout


def test_kpi_report_written(night):
    report = night["root"] / "reports" / "kpi" / RUN_DATE / "index.html"
    page = report.read_text(encoding="utf-8")
    assert page.count("<svg") == 4
    assert "No data:" not in page
    summary = re.search(r'id="check-summary">(\d+) of (\d+)', page)
    assert summary is not None
    assert int(summary[2]) > 100
    assert int(summary[1]) > 0


def test_rejected_source_file_blocks_exports(tmp_path):
    generate(customers=60, seed=SEED, out=tmp_path)
    email_file = (
        tmp_path / "landing" / "email_activity" / "email_activity_2026-11-30.csv"
    )
    lines = email_file.read_text(encoding="utf-8").splitlines(keepends=True)
    email_file.write_text(
        lines[0].replace("Email Address", "Email") + "".join(lines[1:]),
        encoding="utf-8",
    )
    env = isolated_env(tmp_path)

    result = run_cdp(env, "run")

    assert result.returncode == 1
    assert "missing required column(s): Email Address" in result.stdout
    assert "no_rejected_files" in result.stderr
    assert not (tmp_path / "outbox").exists()


def test_empty_extract_blocks_night_keeps_exports(night):
    """Runs last in this module: it adds a header-only CRM extract to the night."""
    landing = night["root"] / "landing" / "crm_contacts"
    header = (landing / "crm_contacts_2026-11-30.csv").read_text().splitlines()[0]
    (landing / "crm_contacts_2026-12-01.csv").write_text(header + "\n")
    env = night["env"] | {"CDP_RUN_DATE": "2026-12-01"}

    result = run_cdp(env, "run")

    assert result.returncode == 1
    assert "raw__crm_contacts_great_expectations_suite" in result.stderr
    assert outbox_files(night["root"] / "outbox") == night["files_after_first"]


def test_dbt_assets_carry_row_counts(night, con, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", night["env"]["DAGSTER_HOME"])
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(
            dg.AssetKey(["marts", "dim_customers"])
        )
    metadata = event.asset_materialization.metadata
    (customers,) = con.execute("select count(*) from marts.dim_customers").fetchone()
    assert metadata["dagster/row_count"].value == customers
