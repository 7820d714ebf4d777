"""``cdp activate`` with the shipped destinations against a small warehouse."""

from __future__ import annotations

import duckdb
from click.testing import CliRunner

from activation.destinations import load_destinations
from orchestration import cli
from orchestration.cli import main


def cli_env(monkeypatch, tmp_path, warehouse):
    """Every path under tmp_path; monkeypatch restores what the command exports."""
    monkeypatch.setenv("CDP_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("CDP_OUTBOX", str(tmp_path / "outbox"))
    monkeypatch.setenv("CDP_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("CDP_REPORTS", str(tmp_path / "reports"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("CDP_RUN_DATE", "2026-11-30")
    # The command prints through a console created at import, which may have read a
    # narrow terminal width. A wide console keeps each table row on one line.
    monkeypatch.setattr(cli.console, "width", 200)


def test_dry_run_prints_plan_and_writes_nothing(con, tmp_path, monkeypatch):
    con.close()
    warehouse = tmp_path / "warehouse.duckdb"
    cli_env(monkeypatch, tmp_path, warehouse)

    result = CliRunner().invoke(main, ["activate", "--dry-run"])

    assert result.exit_code == 0, result.output
    for destination in load_destinations():
        assert destination.name in result.output
    rows = [line for line in result.output.splitlines() if "lapsed_buyers" in line]
    assert rows
    for row in rows:
        cells = [cell.strip() for cell in row.split("│") if cell.strip()]
        assert cells[10:] == ["no earlier night", "never"]
    assert not (tmp_path / "outbox").exists()
    with duckdb.connect(str(warehouse), read_only=True) as reader:
        schemas = {
            r[0]
            for r in reader.execute(
                "select schema_name from duckdb_schemas()"
            ).fetchall()
        }
    assert "activation" not in schemas


def test_dry_run_counts_after_a_sync(con, tmp_path, monkeypatch):
    con.close()
    warehouse = tmp_path / "warehouse.duckdb"
    cli_env(monkeypatch, tmp_path, warehouse)
    runner = CliRunner()
    synced = runner.invoke(
        main, ["activate", "--destination", "mailchimp_reactivation"]
    )
    assert synced.exit_code == 0, synced.output
    with duckdb.connect(str(warehouse)) as writer:
        writer.execute(
            "update marts.dim_customers set has_email_consent = false "
            "where customer_id = 'cus_a'"
        )
    monkeypatch.setenv("CDP_RUN_DATE", "2026-12-01")

    result = runner.invoke(
        main, ["activate", "--dry-run", "--destination", "mailchimp_reactivation"]
    )

    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if "lapsed_buyers" in line]
    cells = [cell.strip() for cell in rows[0].split("│") if cell.strip()]
    # destination, type, mode, segment, members, add, change, remove, unchanged,
    # invalid, compared with, last synced
    assert cells[4:10] == ["1", "0", "0", "1", "1", "0"]
    assert cells[10] == "2026-11-30"
    assert cells[11].endswith("UTC (run date 2026-11-30)")
    assert not (tmp_path / "outbox" / "mailchimp_reactivation" / "2026-12-01").exists()


def test_dry_run_after_two_syncs_same_night(con, tmp_path, monkeypatch):
    con.close()
    warehouse = tmp_path / "warehouse.duckdb"
    cli_env(monkeypatch, tmp_path, warehouse)
    runner = CliRunner()
    for _ in range(2):
        synced = runner.invoke(
            main, ["activate", "--destination", "mailchimp_reactivation"]
        )
        assert synced.exit_code == 0, synced.output
    with duckdb.connect(str(warehouse), read_only=True) as reader:
        finished_at = reader.execute(
            "select max(finished_at) from activation.sync_runs "
            "where segment = 'lapsed_buyers' and status = 'succeeded'"
        ).fetchone()[0]

    result = runner.invoke(
        main, ["activate", "--dry-run", "--destination", "mailchimp_reactivation"]
    )

    assert result.exit_code == 0, result.output
    assert "never" not in result.output
    rows = [line for line in result.output.splitlines() if "lapsed_buyers" in line]
    cells = [cell.strip() for cell in rows[0].split("│") if cell.strip()]
    assert cells[10] == "no earlier night"
    assert cells[11] == f"{finished_at:%Y-%m-%d %H:%M} UTC (run date 2026-11-30)"


def test_unknown_destination_rejected(tmp_path, monkeypatch):
    cli_env(monkeypatch, tmp_path, tmp_path / "warehouse.duckdb")

    result = CliRunner().invoke(main, ["activate", "--dry-run", "--destination", "x"])

    assert result.exit_code == 2
    assert "not in activation/destinations.yml: x" in result.output
