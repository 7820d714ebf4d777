"""resolve_identities end to end with the real Splink model saved in the repository."""

from __future__ import annotations

import hashlib
import logging
from datetime import date

import duckdb
import pytest

from identity.resolve import resolve_identities
from identity.splink_model import DEFAULT_MODEL_PATH


def customers_by_record(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = con.execute(
        "select record_key, customer_id from identity.record_customers"
    ).fetchall()
    return dict(rows)


@pytest.fixture
def typo_and_household_records(person_record):
    """Katharina Schmidt twice with a typo and no shared identifier, plus her
    husband at the same address and a stranger in another city."""
    katharina = {
        "birth_date": date(1984, 3, 12),
        "street": "Lindenstraße 12",
        "postal_code": "04109",
        "city": "Leipzig",
    }
    return [
        person_record(
            "crm_contacts",
            "1",
            first_name="Katharina",
            last_name="Schmidt",
            email="k.schmidt@web.de",
            **katharina,
        ),
        person_record(
            "crm_contacts",
            "2",
            first_name="Katharina",
            last_name="Schmitd",
            email="kathi84@gmx.de",
            **katharina,
        ),
        person_record(
            "crm_contacts",
            "3",
            first_name="Markus",
            last_name="Schmidt",
            birth_date=date(1979, 11, 2),
            street="Lindenstraße 12",
            postal_code="04109",
            city="Leipzig",
            email="markus.schmidt@t-online.de",
        ),
        person_record(
            "crm_contacts",
            "4",
            first_name="Jürgen",
            last_name="Weiß",
            birth_date=date(1961, 7, 30),
            street="Bergstraße 3",
            postal_code="80331",
            city="München",
            email="juergen.weiss@gmx.de",
        ),
    ]


def test_name_typo_is_linked_by_splink(build_warehouse, typo_and_household_records):
    con = build_warehouse(typo_and_household_records)

    result = resolve_identities(con)

    customers = customers_by_record(con)
    assert customers["crm_contacts:1"] == customers["crm_contacts:2"]
    assert result.pairs_splink >= 1
    splink_pairs = con.execute(
        "select record_key_l, record_key_r, match_probability "
        "from identity.match_pairs where link_type = 'splink'"
    ).fetchall()
    assert ("crm_contacts:1", "crm_contacts:2") in {row[:2] for row in splink_pairs}
    assert all(row[2] >= result.threshold for row in splink_pairs)


def test_run_reports_time_per_phase(build_warehouse, typo_and_household_records):
    con = build_warehouse(typo_and_household_records)

    result = resolve_identities(con)

    assert list(result.phase_seconds) == [
        "identifier_graph",
        "prepare_records",
        "splink",
        "review_decisions",
        "clustering",
        "customer_ids",
        "evaluation",
        "write_outputs",
    ]
    assert all(seconds >= 0 for seconds in result.phase_seconds.values())


def test_distinct_people_stay_apart(build_warehouse, typo_and_household_records):
    con = build_warehouse(typo_and_household_records)

    resolve_identities(con)

    customers = customers_by_record(con)
    assert customers["crm_contacts:3"] != customers["crm_contacts:1"]
    assert customers["crm_contacts:4"] != customers["crm_contacts:1"]
    assert customers["crm_contacts:4"] != customers["crm_contacts:3"]


def test_umlaut_spelling_and_swapped_names_link(build_warehouse, person_record):
    address = {"street": "Hauptstraße 5", "postal_code": "50667", "city": "Köln"}
    con = build_warehouse(
        [
            person_record(
                "crm_contacts",
                "1",
                first_name="Jürgen",
                last_name="Müller",
                birth_date=date(1970, 5, 1),
                **address,
            ),
            person_record(
                "crm_contacts",
                "2",
                first_name="JUERGEN",
                last_name="MUELLER",
                birth_date=date(1970, 5, 1),
                street="Hauptstr. 5",
                postal_code="50667",
                city="Koeln",
            ),
            person_record(
                "crm_contacts",
                "3",
                first_name="Müller",
                last_name="Jürgen",
                birth_date=date(1970, 5, 1),
                **address,
            ),
        ]
    )

    result = resolve_identities(con)

    assert result.customers == 1


def test_customer_id_is_deterministic_across_runs(
    build_warehouse, typo_and_household_records
):
    con = build_warehouse(typo_and_household_records)

    resolve_identities(con)
    first_run = customers_by_record(con)
    resolve_identities(con)
    second_run = customers_by_record(con)

    assert first_run == second_run
    smallest_key = "crm_contacts:1"
    expected = "cus_" + hashlib.md5(smallest_key.encode()).hexdigest()[:16]
    assert first_run[smallest_key] == expected


def test_rerun_replaces_rows_instead_of_duplicating(
    build_warehouse, typo_and_household_records
):
    con = build_warehouse(typo_and_household_records)

    def table_counts() -> dict[str, int]:
        tables = ("record_customers", "match_pairs", "skipped_identifiers")
        return {
            table: con.execute(f"select count(*) from identity.{table}").fetchall()[0][
                0
            ]
            for table in tables
        }

    resolve_identities(con)
    after_first_run = table_counts()
    resolve_identities(con)
    after_second_run = table_counts()

    assert after_first_run == after_second_run
    assert after_first_run["record_customers"] == len(typo_and_household_records)
    metrics_rows = con.execute(
        "select count(*) from identity.resolution_metrics"
    ).fetchall()
    assert metrics_rows == [(2,)]


def test_run_leaves_no_working_tables(build_warehouse, typo_and_household_records):
    con = build_warehouse(typo_and_household_records)

    resolve_identities(con)

    databases = {
        row[0]
        for row in con.execute(
            "select database_name from duckdb_databases()"
        ).fetchall()
    }
    assert "identity_scratch" not in databases
    tables = con.execute(
        "select schema_name || '.' || table_name from duckdb_tables() "
        "where not internal order by 1"
    ).fetchall()
    assert [row[0] for row in tables] == [
        "identity.cluster_metrics",
        "identity.customer_id_history",
        "identity.customer_id_lookup",
        "identity.customer_id_map",
        "identity.customer_ids",
        "identity.match_pairs",
        "identity.record_customers",
        "identity.resolution_metrics",
        "identity.review_queue",
        "identity.skipped_identifiers",
        "identity.splink_pair_scores",
        "intermediate.int_identifiers",
        "intermediate.int_person_records",
    ]
    views = con.execute("select view_name from duckdb_views() where not internal")
    assert views.fetchall() == []
    assert con.execute("select current_schema()").fetchall() == [("main",)]


def test_metrics_are_scored_against_ground_truth(
    build_warehouse, typo_and_household_records, tmp_path
):
    con = build_warehouse(typo_and_household_records)
    ground_truth = tmp_path / "ground_truth.csv"
    ground_truth.write_text(
        "source,source_record_id,person_id\n"
        "crm_contacts,1,katharina\n"
        "crm_contacts,2,katharina\n"
        "crm_contacts,3,markus\n"
        "crm_contacts,4,juergen\n",
        encoding="utf-8",
    )

    result = resolve_identities(con, ground_truth=ground_truth)

    assert (result.precision, result.recall, result.f1) == (1.0, 1.0, 1.0)
    row = con.execute(
        'select records, customers, "precision", recall, f1 '
        "from identity.resolution_metrics"
    ).fetchall()
    assert row == [(4, 3, 1.0, 1.0, 1.0)]


def test_metrics_are_null_when_ground_truth_missing(
    build_warehouse, typo_and_household_records, tmp_path
):
    con = build_warehouse(typo_and_household_records)

    result = resolve_identities(con, ground_truth=tmp_path / "missing.csv")

    assert result.f1 is None
    row = con.execute(
        'select "precision", recall, f1 from identity.resolution_metrics'
    ).fetchall()
    assert row == [(None, None, None)]


def test_missing_model_is_trained_and_saved(
    build_warehouse, synthetic_population, tmp_path, caplog
):
    con = build_warehouse(synthetic_population(150, seed=2))
    model_path = tmp_path / "model" / "splink_model.json"

    with caplog.at_level(logging.WARNING, logger="identity"):
        result = resolve_identities(con, model_path=model_path)

    assert result.model_trained
    assert model_path.is_file()
    assert f"No Splink model at {model_path}" in caplog.text
    assert result.pairs_splink > 0


def test_saved_model_is_reused(build_warehouse, typo_and_household_records):
    con = build_warehouse(typo_and_household_records)

    result = resolve_identities(con, model_path=DEFAULT_MODEL_PATH)

    assert not result.model_trained


@pytest.mark.parametrize("threshold", [0.0, 1.0, 1.5, -0.1])
def test_invalid_threshold_is_rejected(
    build_warehouse, typo_and_household_records, threshold
):
    con = build_warehouse(typo_and_household_records)

    with pytest.raises(ValueError, match="threshold must be a match probability"):
        resolve_identities(con, threshold=threshold)


def test_empty_warehouse_resolves_to_no_customers(build_warehouse):
    con = build_warehouse([])

    result = resolve_identities(con)

    assert (result.records, result.customers) == (0, 0)


def test_twins_stay_apart(build_warehouse, person_record):
    # Twins share last name, birth date and address, but not their first names.
    family = {
        "last_name": "Becker",
        "birth_date": date(1996, 5, 4),
        "street": "Gartenweg 7",
        "postal_code": "28195",
        "city": "Bremen",
    }
    con = build_warehouse(
        [
            person_record("crm_contacts", "1", first_name="Lukas", **family),
            person_record(
                "shop_orders", "#1", first_name="Lukas", email="lukas@web.de", **family
            ),
            person_record(
                "crm_contacts", "2", first_name="Jonas", email="jonas@gmx.de", **family
            ),
        ]
    )

    resolve_identities(con)

    customers = customers_by_record(con)
    assert customers["crm_contacts:1"] == customers["shop_orders:#1"]
    assert customers["crm_contacts:2"] != customers["crm_contacts:1"]
