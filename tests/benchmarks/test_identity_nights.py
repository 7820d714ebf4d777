"""The two-night identity benchmark: its next night and its comparison of runs."""

from __future__ import annotations

import shutil

import duckdb

from benchmarks.identity_nights import differing_rows, make_next_night
from identity.resolve import resolve_identities
from tests.identity.conftest import make_synthetic_population, write_warehouse


def test_next_night_copies_and_renames_records(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    records = make_synthetic_population(40, 3)
    with duckdb.connect(str(path)) as con:
        write_warehouse(con, records)
        before = dict(
            con.execute(
                "select record_key, last_name from intermediate.int_person_records"
            ).fetchall()
        )
        identifiers_before = con.execute(
            "select count(*) from intermediate.int_identifiers"
        ).fetchone()[0]

    make_next_night(path, new_share=0.25, changed_share=0.25)

    with duckdb.connect(str(path), read_only=True) as con:
        after = dict(
            con.execute(
                "select record_key, last_name from intermediate.int_person_records"
            ).fetchall()
        )
        copied_identifiers = con.execute(
            "select count(*) from intermediate.int_identifiers "
            "where ends_with(record_key, ':next')"
        ).fetchone()[0]
        identifiers_after = con.execute(
            "select count(*) from intermediate.int_identifiers"
        ).fetchone()[0]
    new_keys = set(after) - set(before)
    assert new_keys
    assert all(key.endswith(":next") for key in new_keys)
    assert {key.removesuffix(":next") for key in new_keys} <= set(before)
    changed = [key for key in before if after[key] != before[key]]
    assert changed
    assert all(after[key].startswith(f"{before[key]}-") for key in changed)
    assert len({after[key] for key in changed}) == len(changed)
    assert copied_identifiers > 0
    assert identifiers_after == identifiers_before + copied_identifiers


def test_differing_rows_counts_one_sided_rows(tmp_path):
    left = tmp_path / "left.duckdb"
    with duckdb.connect(str(left)) as con:
        write_warehouse(con, make_synthetic_population(40, 3))
        resolve_identities(con)
    right = tmp_path / "right.duckdb"
    shutil.copyfile(left, right)
    assert set(differing_rows(left, right).values()) == {0}

    with duckdb.connect(str(right)) as con:
        con.execute("""
            delete from identity.match_pairs
            where (record_key_l, record_key_r) in (
                select (record_key_l, record_key_r) from identity.match_pairs limit 1
            )
        """)
    counts = differing_rows(left, right)
    assert counts["match_pairs"] >= 1
    assert counts["record_customers"] == 0
