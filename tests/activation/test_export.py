"""File destinations on a real DuckDB file with hand-made marts: files, modes,
manifests, receipts and reruns."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import stat
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from activation.destinations import parse_destination
from activation.export import neutralize_formula
from activation.plan import SyncOrderError
from activation.sync import sync_destination

NIGHT_1 = date(2026, 11, 30)
NIGHT_2 = date(2026, 12, 1)
NIGHT_3 = date(2026, 12, 2)


def make_destination(**overrides):
    entry = {
        "name": "newsletter",
        "type": "csv",
        "consent": "email",
        "mode": "full",
        "segments": ["lapsed_buyers"],
        "fields": {"customer_id": "customer_id", "email": "email"},
    } | overrides
    return parse_destination(entry, Path("test.yml"))


MAILCHIMP = {
    "name": "mailchimp",
    "type": "mailchimp",
    "mode": "diff",
    "fields": {
        "Email Address": "email",
        "First Name": "first_name",
        "Last Name": "last_name",
    },
}


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_full_csv_has_consented_people_only(con, tmp_path):
    result = sync_destination(con, make_destination(), tmp_path, NIGHT_1)

    rows = read_csv(result.folder / "lapsed_buyers.csv")
    assert [r["customer_id"] for r in rows] == ["cus_a", "cus_f"]
    assert not (result.folder / "lapsed_buyers_removed.csv").exists()
    assert result.folder == tmp_path / "newsletter" / "2026-11-30"


@pytest.fixture
def umask_022():
    """Run with the usual umask, under which a plain open() creates mode 0644."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.mark.parametrize(
    "overrides", [{"mode": "full"}, MAILCHIMP, {"type": "parquet", "mode": "mirror"}]
)
def test_outbox_readable_by_owner_only(con, tmp_path, umask_022, overrides):
    outbox = tmp_path / "outbox"
    # An outbox left by a version that created folders with the umask's mode.
    (outbox / "newsletter").mkdir(parents=True, mode=0o755)
    destination = make_destination(**overrides)

    result = sync_destination(con, destination, outbox, NIGHT_1)
    sync_destination(con, destination, outbox, NIGHT_1)

    for folder in (outbox, result.folder.parent, result.folder):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    files = sorted(result.folder.iterdir())
    assert len(files) >= 2
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_erasure_rewrite_keeps_file_private(con, tmp_path, umask_022):
    from orchestration.privacy.outbox import rewrite_audience_files

    result = sync_destination(con, make_destination(), tmp_path, NIGHT_1)

    [rewritten] = rewrite_audience_files(tmp_path, {"cus_f"})

    assert rewritten.rows_removed == 1
    assert stat.S_IMODE(rewritten.path.stat().st_mode) == 0o600
    manifest = result.folder / "manifest.json"
    assert stat.S_IMODE(manifest.stat().st_mode) == 0o600


def test_manifest_lists_counts_hash_schema_version(con, tmp_path):
    result = sync_destination(con, make_destination(mode="mirror"), tmp_path, NIGHT_1)

    manifest = json.loads((result.folder / "manifest.json").read_text())
    assert manifest["destination"] == "newsletter"
    assert manifest["mode"] == "mirror"
    assert manifest["run_date"] == "2026-11-30"
    assert manifest["generated_at"]
    assert manifest["model_version"]["project_version"]
    assert len(manifest["model_version"]["identity_model_sha256"]) == 64
    [segment] = manifest["segments"]
    assert segment["segment"] == "lapsed_buyers"
    assert segment["rows_total"] == 2
    assert segment["rows_added"] == 2
    assert segment["rows_removed"] == 0
    files = {f["file"]: f for f in manifest["files"]}
    assert set(files) == {"lapsed_buyers.csv", "lapsed_buyers_removed.csv"}
    upsert = files["lapsed_buyers.csv"]
    content = (result.folder / "lapsed_buyers.csv").read_bytes()
    assert upsert["sha256"] == hashlib.sha256(content).hexdigest()
    assert upsert["row_count"] == 2
    assert [c["name"] for c in upsert["schema"]] == ["customer_id", "email"]
    assert files["lapsed_buyers_removed.csv"]["kind"] == "remove"


def test_rerun_same_night_writes_identical_files(con, tmp_path):
    destination = make_destination(**MAILCHIMP)
    sync_destination(con, destination, tmp_path, NIGHT_1)
    con.execute(
        "update marts.dim_customers set last_name = 'Neu' where customer_id = 'cus_f'"
    )
    first = sync_destination(con, destination, tmp_path, NIGHT_2)
    before = folder_bytes(first.folder)
    changes = con.execute("select count(*) from activation.sync_changes").fetchone()

    second = sync_destination(con, destination, tmp_path, NIGHT_2)

    assert folder_bytes(second.folder) == before
    sent = con.execute(
        "select rows_sent from activation.sync_runs where run_date = ? "
        "order by finished_at",
        [NIGHT_2],
    ).fetchall()
    assert sent == [(1,), (0,)]
    assert not list(second.folder.glob(".*.tmp"))
    assert con.execute("select count(*) from activation.sync_changes").fetchone() == (
        changes
    )
    exports = con.execute(
        "select count(*) from activation.exports where run_date = ?", [NIGHT_2]
    ).fetchone()[0]
    assert exports == 2


def test_diff_sends_added_changed_removed(con, tmp_path):
    destination = make_destination(**MAILCHIMP)
    sync_destination(con, destination, tmp_path, NIGHT_1)
    con.execute(
        "update marts.dim_customers set last_name = 'Neu' where customer_id = 'cus_f'"
    )
    con.execute(
        "update marts.dim_customers set has_email_consent = true "
        "where customer_id = 'cus_b'"
    )
    con.execute(
        "update marts.dim_customers set has_email_consent = false "
        "where customer_id = 'cus_a'"
    )

    result = sync_destination(con, destination, tmp_path, NIGHT_2)

    upserts = read_csv(result.folder / "lapsed_buyers.csv")
    removed = read_csv(result.folder / "lapsed_buyers_removed.csv")
    assert [r["Email Address"] for r in upserts] == [
        "ben.noconsent@example.de",
        "frida@example.at",
    ]
    assert upserts[1]["Last Name"] == "Neu"
    assert removed == [
        {
            "Email Address": "anna.schmidt+news@googlemail.com",
            "First Name": "Anna",
            "Last Name": "Schmidt",
        }
    ]
    [counts] = result.segments
    assert counts.summary()["rows_added"] == 1
    assert counts.summary()["rows_changed"] == 1
    assert counts.summary()["rows_removed"] == 1
    reason = con.execute(
        "select reason from activation.sync_changes "
        "where run_date = ? and action = 'remove'",
        [NIGHT_2],
    ).fetchone()[0]
    assert reason == "no consent or suppressed"


@pytest.mark.parametrize("night", [NIGHT_1, NIGHT_2])
def test_rerun_removes_person_sent_earlier(con, tmp_path, night):
    """A person the first attempt of a night sent, gone before the rerun of that
    night, is removed by the rerun, with or without an earlier base snapshot."""
    destination = make_destination(**MAILCHIMP)
    if night == NIGHT_2:
        con.execute(
            "update marts.dim_customers set has_email_consent = false "
            "where customer_id = 'cus_f'"
        )
        sync_destination(con, destination, tmp_path, NIGHT_1)
        con.execute(
            "update marts.dim_customers set has_email_consent = true "
            "where customer_id = 'cus_f'"
        )
    first = sync_destination(con, destination, tmp_path, night)
    sent = [r["Email Address"] for r in read_csv(first.folder / "lapsed_buyers.csv")]
    assert "frida@example.at" in sent
    con.execute("delete from marts.dim_customers where customer_id = 'cus_f'")

    rerun = sync_destination(con, destination, tmp_path, night)

    removed = read_csv(rerun.folder / "lapsed_buyers_removed.csv")
    assert [r["Email Address"] for r in removed] == ["frida@example.at"]
    action, status, reason = con.execute(
        "select action, status, reason from activation.sync_changes "
        "where customer_id = 'cus_f' and run_date = ? order by recorded_at desc",
        [night],
    ).fetchone()
    assert (action, status) == ("remove", "written")
    assert reason == "no longer a known customer"
    again = sync_destination(con, destination, tmp_path, night)
    assert read_csv(again.folder / "lapsed_buyers_removed.csv") == []


def test_diff_without_changes_sends_nothing(con, tmp_path):
    destination = make_destination(**MAILCHIMP)
    sync_destination(con, destination, tmp_path, NIGHT_1)

    result = sync_destination(con, destination, tmp_path, NIGHT_2)

    assert read_csv(result.folder / "lapsed_buyers.csv") == []
    assert read_csv(result.folder / "lapsed_buyers_removed.csv") == []
    logged = con.execute(
        "select count(*) from activation.sync_changes where run_date = ?", [NIGHT_2]
    ).fetchone()[0]
    assert logged == 0


def test_mirror_sends_everyone_and_removals(con, tmp_path):
    destination = make_destination(mode="mirror")
    sync_destination(con, destination, tmp_path, NIGHT_1)
    con.execute("delete from marts.segment_lapsed_buyers where customer_id = 'cus_f'")

    result = sync_destination(con, destination, tmp_path, NIGHT_2)

    upserts = read_csv(result.folder / "lapsed_buyers.csv")
    removed = read_csv(result.folder / "lapsed_buyers_removed.csv")
    assert [r["customer_id"] for r in upserts] == ["cus_a"]
    assert [r["customer_id"] for r in removed] == ["cus_f"]


def test_mirror_removes_only_rows_it_sent(con, tmp_path):
    """cus_b was never sent, so losing them sends no removal."""
    destination = make_destination(mode="mirror")
    sync_destination(con, destination, tmp_path, NIGHT_1)
    con.execute("delete from marts.segment_lapsed_buyers where customer_id = 'cus_b'")

    result = sync_destination(con, destination, tmp_path, NIGHT_2)

    assert read_csv(result.folder / "lapsed_buyers_removed.csv") == []


def test_merged_id_removed_and_new_id_added(con, tmp_path, merge_customer):
    destination = make_destination(mode="diff")
    sync_destination(con, destination, tmp_path, NIGHT_1)
    frida = con.execute(
        "select * from marts.dim_customers where customer_id = 'cus_f'"
    ).fetchone()
    con.execute(
        "insert into marts.dim_customers values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ["cus_g", *frida[1:]],
    )
    con.execute("insert into marts.segment_lapsed_buyers values ('cus_g', true, false)")
    con.execute("insert into identity.customer_id_lookup values ('cus_g', 'cus_g')")
    merge_customer(con, "cus_f", "cus_g")

    result = sync_destination(con, destination, tmp_path, NIGHT_2)

    upserts = read_csv(result.folder / "lapsed_buyers.csv")
    removed = read_csv(result.folder / "lapsed_buyers_removed.csv")
    assert [r["customer_id"] for r in upserts] == ["cus_g"]
    assert [r["customer_id"] for r in removed] == ["cus_f"]
    reason = con.execute(
        "select reason from activation.sync_changes "
        "where customer_id = 'cus_f' and action = 'remove'"
    ).fetchone()[0]
    assert reason == "merged into cus_g"


def test_merge_into_existing_id_keeps_it(con, tmp_path, merge_customer):
    destination = make_destination(mode="diff")
    sync_destination(con, destination, tmp_path, NIGHT_1)
    merge_customer(con, "cus_f", "cus_a")

    result = sync_destination(con, destination, tmp_path, NIGHT_2)

    assert read_csv(result.folder / "lapsed_buyers.csv") == []
    removed = read_csv(result.folder / "lapsed_buyers_removed.csv")
    assert [r["customer_id"] for r in removed] == ["cus_f"]


def test_merge_keeps_person_keyed_by_email(con, tmp_path, merge_customer):
    """Mailchimp matches on email: removing the old id would remove the survivor."""
    destination = make_destination(**MAILCHIMP)
    sync_destination(con, destination, tmp_path, NIGHT_1)
    con.execute(
        "update marts.dim_customers set email = 'frida@example.at' "
        "where customer_id = 'cus_a'"
    )
    merge_customer(con, "cus_f", "cus_a")

    result = sync_destination(con, destination, tmp_path, NIGHT_2)

    removed = read_csv(result.folder / "lapsed_buyers_removed.csv")
    assert [r["Email Address"] for r in removed] == ["anna.schmidt+news@googlemail.com"]
    status = con.execute(
        "select status from activation.sync_changes "
        "where customer_id = 'cus_f' and action = 'remove'"
    ).fetchone()[0]
    assert status == "skipped"


def test_invalid_row_failed_then_retried(con, tmp_path):
    destination = make_destination(**MAILCHIMP)
    con.execute(
        "update marts.dim_customers set email = 'jürgen@example.de' "
        "where customer_id = 'cus_f'"
    )
    sync_destination(con, destination, tmp_path, NIGHT_1)
    failed = con.execute(
        "select customer_id, reason, resolved_at from activation.failed_rows"
    ).fetchall()
    assert failed == [
        (
            "cus_f",
            "Email Address: Mailchimp accepts non-ASCII characters only after the @",
            None,
        )
    ]
    con.execute(
        "update marts.dim_customers set email = 'juergen@example.de' "
        "where customer_id = 'cus_f'"
    )

    result = sync_destination(con, destination, tmp_path, NIGHT_2)

    upserts = read_csv(result.folder / "lapsed_buyers.csv")
    assert [r["Email Address"] for r in upserts] == ["juergen@example.de"]
    resolved = con.execute(
        "select count(*) from activation.failed_rows where resolved_at is not null"
    ).fetchone()[0]
    assert resolved == 1


def test_invalid_member_sent_before_kept(con, tmp_path):
    """A member whose new values the destination would reject is neither removed
    nor updated, and the snapshot keeps what the destination has."""
    destination = make_destination(**MAILCHIMP)
    sync_destination(con, destination, tmp_path, NIGHT_1)
    con.execute(
        "update marts.dim_customers set email = 'jürgen@example.de' "
        "where customer_id = 'cus_f'"
    )

    result = sync_destination(con, destination, tmp_path, NIGHT_2)

    assert read_csv(result.folder / "lapsed_buyers.csv") == []
    assert read_csv(result.folder / "lapsed_buyers_removed.csv") == []
    logged = con.execute(
        "select customer_id, action, status from activation.sync_changes "
        "where run_date = ?",
        [NIGHT_2],
    ).fetchall()
    assert logged == [("cus_f", "change", "failed")]
    snapshot_keys = con.execute(
        "select match_key from activation.audience_snapshots "
        "where run_date = ? and customer_id = 'cus_f'",
        [NIGHT_2],
    ).fetchall()
    assert snapshot_keys == [("frida@example.at",)]


def test_sync_runs_logged_per_segment(con, tmp_path):
    destination = make_destination(segments=["lapsed_buyers", "high_value_customers"])

    sync_destination(con, destination, tmp_path, NIGHT_1)

    runs = con.execute(
        "select segment, status, rows_total, rows_added, rows_sent, rows_failed, "
        "model_version from activation.sync_runs order by segment"
    ).fetchall()
    assert [r[:6] for r in runs] == [
        ("high_value_customers", "succeeded", 2, 2, 2, 0),
        ("lapsed_buyers", "succeeded", 2, 2, 2, 0),
    ]
    assert runs[0][6].startswith("0.1.0+identity.")


def test_earlier_night_after_later_rejected(con, tmp_path):
    destination = make_destination(mode="diff")
    sync_destination(con, destination, tmp_path, NIGHT_2)

    with pytest.raises(SyncOrderError, match="already synced for 2026-12-01"):
        sync_destination(con, destination, tmp_path, NIGHT_1)


def test_only_base_and_latest_snapshots_kept(con, tmp_path):
    destination = make_destination(mode="diff")
    for night in (NIGHT_1, NIGHT_2, NIGHT_3):
        sync_destination(con, destination, tmp_path, night)

    dates = con.execute(
        "select distinct run_date from activation.audience_snapshots order by 1"
    ).fetchall()
    assert dates == [(NIGHT_2,), (NIGHT_3,)]


def test_parquet_file_written(con, tmp_path):
    destination = make_destination(type="parquet")

    result = sync_destination(con, destination, tmp_path, NIGHT_1)

    table = pq.read_table(result.folder / "lapsed_buyers.parquet")
    assert table.column_names == ["customer_id", "email"]
    assert table.column("customer_id").to_pylist() == ["cus_a", "cus_f"]


def test_parquet_rerun_identical(con, tmp_path):
    destination = make_destination(type="parquet")
    first = sync_destination(con, destination, tmp_path, NIGHT_1)
    before = folder_bytes(first.folder)

    second = sync_destination(con, destination, tmp_path, NIGHT_1)

    assert folder_bytes(second.folder) == before


def test_missing_column_names_destination_and_field(con, tmp_path):
    destination = make_destination(fields={"customer_id": "customer_id", "x": "shoe"})

    with pytest.raises(ValueError, match=r"destination newsletter, field 'x'.*shoe"):
        sync_destination(con, destination, tmp_path, NIGHT_1)


def test_missing_suppression_list_stops_export(con, tmp_path):
    con.execute("drop table intermediate.int_email_suppressions")

    with pytest.raises(ValueError, match="int_email_suppressions not found"):
        sync_destination(con, make_destination(), tmp_path, NIGHT_1)


def test_read_only_warehouse_plans(con, tmp_path):
    """Planning needs no write access, which the dry run relies on."""
    from activation.sync import plan_destination

    path = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchone()[0]
    con.close()
    with duckdb.connect(path, read_only=True) as reader:
        [plan] = plan_destination(reader, make_destination(), NIGHT_1)
    assert plan.count("add") == 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-1+2", "'-1+2"),
        ("+4930123456", "+4930123456"),
        ("Anna", "Anna"),
        (None, None),
    ],
)
def test_spreadsheet_formulas_neutralized(value, expected):
    assert neutralize_formula(value) == expected
