"""An incremental identity run gives the same tables as a full run on the same data."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import duckdb

from identity import incremental as incremental_module
from identity.resolve import ResolutionResult, resolve_identities
from identity.scratch import scratch_database
from identity.splink_model import DEFAULT_MODEL_PATH
from tests.identity.conftest import (
    make_person_record,
    make_synthetic_population,
    write_warehouse,
)

# Every identity table that a run replaces, with the columns that differ between
# two runs of the same data (timestamps) left out.
COMPARED_QUERIES = {
    "record_customers": "select record_key, customer_id from identity.record_customers",
    "match_pairs": "select * from identity.match_pairs",
    "splink_pair_scores": "select * from identity.splink_pair_scores",
    "review_queue": "select * exclude (queued_at) from identity.review_queue",
    "skipped_identifiers": (
        "select * exclude (skipped_at) from identity.skipped_identifiers"
    ),
}


def next_night(records: list[dict]) -> list[dict]:
    """Return the next night's records: 6 more persons, one changed record, one
    deleted record and one order that lost the e-mail address linking it to its
    contact, which splits an identifier component."""
    night = make_synthetic_population(126, 5)
    assert night[: len(records)] == records
    by_key = {record["record_key"]: dict(record) for record in night}

    changed = by_key["crm_contacts:3"]
    changed["last_name"] = f"{changed['last_name']}-Lange"
    del by_key["crm_contacts:7"]
    order = next(
        record
        for key, record in by_key.items()
        if key.startswith("shop_orders:")
        and record["phone"] is None
        and record["email"] == by_key[contact_of(key)]["email"]
    )
    order["email"] = None
    return list(by_key.values())


def contact_of(order_key: str) -> str:
    """Return the CRM record key of a generated order ('shop_orders:#12-0')."""
    person = order_key.removeprefix("shop_orders:#").split("-")[0]
    return f"crm_contacts:{person}"


def shared_customer_number(records: list[dict]) -> list[tuple[str, str, str]]:
    """Return identifiers that give a contact and its duplicate, which share no
    e-mail address or phone number, one customer number."""
    duplicate = next(
        record["record_key"]
        for record in records
        if record["record_key"].endswith("-dup") and record["phone"] is None
    )
    contact = duplicate.removesuffix("-dup")
    return [(key, "customer_number", "K-1") for key in (contact, duplicate)]


def resolve(
    path: Path,
    records: list[dict],
    incremental: bool,
    extra_identifiers: list[tuple[str, str, str]] = (),
) -> ResolutionResult:
    with duckdb.connect(str(path)) as con:
        write_warehouse(con, records, extra_identifiers)
        return resolve_identities(con, incremental=incremental)


def identity_tables(path: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            name: sorted(con.execute(query).fetchall(), key=repr)
            for name, query in COMPARED_QUERIES.items()
        }


def test_incremental_run_equals_full_run(tmp_path):
    first_night = make_synthetic_population(120, 5)
    incremental_path = tmp_path / "incremental.duckdb"
    # The next night drops the customer number, so the two records fall into
    # separate identifier components although neither record changed.
    customer_number = shared_customer_number(first_night)
    first = resolve(incremental_path, first_night, True, customer_number)
    first_scores = identity_tables(incremental_path)["splink_pair_scores"]
    # Without stored vectors the run keeps Splink's own scores of every pair.
    first_full_path = tmp_path / "first_full.duckdb"
    resolve(first_full_path, first_night, False, customer_number)
    assert identity_tables(incremental_path) == identity_tables(first_full_path)
    full_path = tmp_path / "full.duckdb"
    shutil.copyfile(incremental_path, full_path)

    second_night = next_night(first_night)
    incremental = resolve(incremental_path, second_night, incremental=True)
    full = resolve(full_path, second_night, incremental=False)

    assert first.incremental.full_run_reason == "no stored comparison vectors"
    assert incremental.incremental.full_run_reason is None
    assert incremental.incremental.reused_pairs > 0
    # Most reused vectors lie too far below the review band to be scored again.
    assert 0 < incremental.incremental.rescored_pairs
    assert incremental.incremental.rescored_pairs < incremental.incremental.reused_pairs
    assert incremental.incremental.records_to_score < len(second_night) // 4
    # The prior and the term frequencies moved with the new records, so a stored
    # score of an unchanged pair would differ from the full run's.
    full_scores = identity_tables(full_path)["splink_pair_scores"]
    assert set(first_scores) - set(full_scores)

    expected = identity_tables(full_path)
    actual = identity_tables(incremental_path)
    for name in COMPARED_QUERIES:
        assert actual[name] == expected[name], name
    assert (incremental.customers, incremental.pairs_splink) == (
        full.customers,
        full.pairs_splink,
    )


def test_changed_model_falls_back_to_full_run(tmp_path):
    records = make_synthetic_population(40, 3)
    path = tmp_path / "warehouse.duckdb"
    model_path = tmp_path / "splink_model.json"
    shutil.copyfile(DEFAULT_MODEL_PATH, model_path)
    with duckdb.connect(str(path)) as con:
        write_warehouse(con, records)
        resolve_identities(con, model_path=model_path, incremental=True)
        model_path.write_text(
            json.dumps(json.loads(model_path.read_text(encoding="utf-8")), indent=1),
            encoding="utf-8",
        )
        second = resolve_identities(con, model_path=model_path, incremental=True)

    assert second.incremental.full_run_reason.startswith("the model file")
    assert second.incremental.reused_pairs == 0
    assert second.incremental.records_to_score == len(records)


def obermaier_records(count: int) -> list[dict]:
    """Return ``count`` unrelated people who share the last name Obermaier."""
    return [
        make_person_record(
            "crm_contacts",
            f"family-{number}",
            first_name=f"Vorname{number}x",
            last_name="Obermaier",
            email=f"family{number}@example.org",
            birth_date=date(1950 + number % 40, 1 + number % 12, 1 + number % 28),
            street=f"Weg {number}",
            postal_code=f"{10000 + number}",
            city=f"Stadt{number}",
        )
        for number in range(count)
    ]


def test_stored_pair_rising_into_band_is_rescored(tmp_path):
    """A pair of two unchanged records whose name becomes rare scores higher
    although its comparison vector stays the same."""
    greta = make_person_record(
        "crm_contacts",
        "greta",
        first_name="Greta",
        last_name="Obermaier",
        email="greta@example.org",
        birth_date=date(1981, 3, 4),
        street="Innstrasse 5",
        postal_code="94032",
        city="Passau",
    )
    # The same person with a typo in the city and no other shared value.
    greta_order = make_person_record(
        "shop_orders",
        "greta",
        first_name="Greta",
        last_name="Obermaier",
        email="greta@mail.example",
        city="Pasau",
    )
    # Other Gretas keep the first name common, so the pair scores just below the
    # review band while the other Obermaiers are there.
    population = [
        *make_synthetic_population(120, 5),
        *(
            make_person_record(
                "crm_contacts", f"other-greta-{number}", first_name="Greta"
            )
            for number in range(6)
        ),
    ]
    first_night = [*population, *obermaier_records(150), greta, greta_order]
    path = tmp_path / "incremental.duckdb"
    resolve(path, first_night, incremental=True)
    full_path = tmp_path / "full.duckdb"
    shutil.copyfile(path, full_path)
    pair = (greta["record_key"], greta_order["record_key"])
    scored_pairs = "select record_key_l, record_key_r from identity.splink_pair_scores"
    with duckdb.connect(str(path), read_only=True) as con:
        assert pair not in con.execute(scored_pairs).fetchall()

    # The other Obermaiers leave, so the name turns rare.
    second_night = [*population, greta, greta_order]
    second = resolve(path, second_night, incremental=True)
    resolve(full_path, second_night, incremental=False)

    assert second.incremental.full_run_reason is None
    assert second.incremental.plan.drift_bits > 4
    with duckdb.connect(str(path), read_only=True) as con:
        assert pair in con.execute(scored_pairs).fetchall()
    assert identity_tables(path) == identity_tables(full_path)


def test_drift_past_margin_scores_every_pair(tmp_path, monkeypatch):
    # Any move of the prior or of a term frequency reaches this margin.
    monkeypatch.setattr(incremental_module, "SCORE_MARGIN_BITS", 1e-9)
    first_night = make_synthetic_population(120, 5)
    path = tmp_path / "incremental.duckdb"
    first = resolve(path, first_night, incremental=True)
    full_path = tmp_path / "full.duckdb"
    shutil.copyfile(path, full_path)

    second_night = next_night(first_night)
    second = resolve(path, second_night, incremental=True)
    resolve(full_path, second_night, incremental=False)

    assert first.incremental.plan.drift_bits == 0.0
    assert second.incremental.full_run_reason.startswith(
        "the prior and term frequencies moved scores"
    )
    assert second.incremental.reused_pairs == 0
    assert second.incremental.records_to_score == len(second_night)
    # The full scoring starts the ranges afresh.
    assert second.incremental.plan.drift_bits == 0.0
    assert identity_tables(path) == identity_tables(full_path)


def test_stale_state_scores_every_pair_again(tmp_path):
    records = make_synthetic_population(40, 3)
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        write_warehouse(con, records)
        resolve_identities(con, incremental=True)
        con.execute("alter table identity.incremental_state drop column prune_weight")
        older = resolve_identities(con, incremental=True)
        same = resolve_identities(con, incremental=True)
        # Below the review band's 0.5, the threshold sets the lowest kept score.
        lower_threshold = resolve_identities(con, threshold=0.4, incremental=True)

    assert older.incremental.full_run_reason == (
        "the stored comparison vectors are of an older version"
    )
    assert same.incremental.full_run_reason is None
    assert same.incremental.records_to_score == 0
    assert lower_threshold.incremental.full_run_reason.startswith(
        "the threshold, the review band or the margin changed"
    )


def test_drift_sums_prior_and_widest_moves(tmp_path):
    settings = {
        "comparisons": [
            {
                "comparison_levels": [
                    {"tf_adjustment_column": "first_name", "tf_adjustment_weight": 0.5},
                    {"tf_adjustment_column": "last_name"},
                    {},
                ]
            },
            {"comparison_levels": [{"tf_adjustment_column": "last_name"}, {}]},
            {"comparison_levels": [{}]},
        ]
    }
    with (
        duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con,
        scratch_database(con),
    ):
        con.execute(f"""
            create table {incremental_module.TF_RANGES} as
            select * from (values
                ('first_name', 'a', -12.0, -8.0),
                ('first_name', 'b', -3.0, -2.5),
                ('last_name', 'c', -10.0, -8.5)
            ) as t(column_name, value_hash, min_log2_tf, max_log2_tf)
        """)
        drift = incremental_module._drift_bits(con, settings, (-20.0, -19.75))

    # Prior 0.25, the first comparison max(0.5 x 4, 1 x 1.5) and the second 1.5.
    assert drift == 0.25 + 2.0 + 1.5
