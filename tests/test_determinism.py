"""The same extracts in another row order give the same customers and exports.

Takes the session's generated night (tests/generated_night.py): its extracts and the
warehouse and audience files of one ``cdp run`` on them. The test copies the
extracts, shuffles the rows of every copied file and runs the whole nightly job on
the copy in a folder of its own. Both runs must agree on every record's customer
id, the traits, the segment memberships and the audience files.

Rows are shuffled only where the contracts allow. Records that share a source key
keep their relative order, because staging takes the later row as the newer version
of a record when the file and update time are equal. Shop line items of one order
stay together and in order, because Shopify fills the order's fields on its first
line only. File names are kept: they carry the extract date, which decides the
newest version of a record across files.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import shutil
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest

from ingestion.loader import file_sha256
from ingestion.sources import SHOP_ORDERS, SOURCES, Source
from tests.generated_night import CUSTOMERS, isolated_env, run_cdp

SHUFFLE_SEED = 11
# The manifest field that records the wall-clock time of the run. The compared marts
# have no such column: their times come from the data and CDP_RUN_DATE.
MANIFEST_TIME_FIELD = "generated_at"
LOADED_FILES_SQL = "select file, sha256 from raw._load_log where status = 'loaded'"


def keyed_shuffle(records: list, keys: list, rng: random.Random) -> list:
    """Shuffle ``records`` but keep records with the same key in their order.

    The shuffled positions of each key's records receive its records in file order.
    """
    positions = list(range(len(records)))
    rng.shuffle(positions)
    by_key = defaultdict(list)
    for index in range(len(records)):
        by_key[keys[index]].append(index)
    queues = {key: iter(indexes) for key, indexes in by_key.items()}
    return [records[next(queues[keys[p]])] for p in positions]


def csv_keys(source: Source, header: list[str], rows: list[list[str]]) -> list:
    columns = {raw: export for export, raw in source.columns.items()}
    where = [
        header.index(columns[k]) if columns[k] in header else None for k in source.key
    ]
    return [
        tuple(r[i] if i is not None and i < len(r) else "" for i in where) for r in rows
    ]


def shuffle_csv(source: Source, path: Path, rng: random.Random) -> None:
    with path.open(encoding="utf-8", newline="") as handle:
        header, *rows = list(csv.reader(handle, delimiter=source.delimiter))
    if source is SHOP_ORDERS:
        # Shuffle whole orders; an order's line items keep their order.
        name = header.index("Name")
        orders = defaultdict(list)
        for row in rows:
            orders[row[name] if name < len(row) else ""].append(row)
        blocks = list(orders.values())
        rng.shuffle(blocks)
        rows = [row for block in blocks for row in block]
    else:
        rows = keyed_shuffle(rows, csv_keys(source, header, rows), rng)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=source.delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def shuffle_jsonl(path: Path, rng: random.Random) -> None:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line]

    def key(line: str):
        try:
            return json.loads(line).get("messageId")
        except (ValueError, AttributeError):
            return line

    shuffled = keyed_shuffle(lines, [key(line) for line in lines], rng)
    path.write_text("\n".join(shuffled) + "\n", encoding="utf-8")


def shuffle_json(source: Source, path: Path, rng: random.Random) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    records = document[source.json_records_path]
    keys = [json.dumps(r.get("id") if isinstance(r, dict) else r) for r in records]
    document[source.json_records_path] = keyed_shuffle(records, keys, rng)
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


def shuffle_landing(landing: Path, seed: int) -> int:
    """Shuffle the rows of every landing file in place; return the files changed."""
    rng = random.Random(seed)
    changed = 0
    for source in SOURCES:
        for path in sorted((landing / source.landing_folder).iterdir()):
            before = path.read_bytes()
            if source.file_format == "csv":
                shuffle_csv(source, path, rng)
            elif source.file_format == "jsonl":
                shuffle_jsonl(path, rng)
            else:
                shuffle_json(source, path, rng)
            changed += path.read_bytes() != before
    return changed


@pytest.fixture(scope="module")
def twins(generated_night, tmp_path_factory):
    """Two warehouses from the same extracts, as generated and shuffled."""
    plain = generated_night
    shuffled = tmp_path_factory.mktemp("shuffled")
    shutil.copytree(plain / "landing", shuffled / "landing")
    shutil.copytree(plain / "ground_truth", shuffled / "ground_truth")
    # The first run rewrote no extract, so the copies are the files it loaded.
    copied = {(p.name, file_sha256(p)) for p in (shuffled / "landing").rglob("*.*")}
    assert copied == set(query(plain, LOADED_FILES_SQL))
    changed = shuffle_landing(shuffled / "landing", seed=SHUFFLE_SEED)
    assert changed == len(SOURCES)

    result = run_cdp(isolated_env(shuffled), "run")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return plain, shuffled


def query(root: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def sorted_rows(root: Path, table: str) -> list[tuple]:
    return query(root, f"select * from {table} order by all")


def outbox_digests(outbox: Path) -> dict[str, str]:
    """Hash every audience file; manifests are hashed without their run time."""
    digests = {}
    for path in sorted(p for p in outbox.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.name == "manifest.json":
            manifest = json.loads(data)
            del manifest[MANIFEST_TIME_FIELD]
            data = json.dumps(manifest, sort_keys=True).encode()
        digests[str(path.relative_to(outbox))] = hashlib.sha256(data).hexdigest()
    return digests


def test_same_customer_per_record(twins):
    plain, shuffled = twins
    sql = "select record_key, customer_id from identity.record_customers order by 1"

    left, right = query(plain, sql), query(shuffled, sql)

    assert len(left) > CUSTOMERS
    assert dict(left) == dict(right)


def test_same_traits(twins):
    plain, shuffled = twins

    left = sorted_rows(plain, "marts.customer_traits")
    right = sorted_rows(shuffled, "marts.customer_traits")

    assert len(left) > 0
    assert left == right


def test_same_segment_memberships(twins):
    plain, shuffled = twins

    left = sorted_rows(plain, "marts.segment_memberships")
    right = sorted_rows(shuffled, "marts.segment_memberships")

    assert len(left) > 0
    assert left == right


def test_same_golden_records(twins):
    plain, shuffled = twins

    left = sorted_rows(plain, "marts.dim_customers")
    right = sorted_rows(shuffled, "marts.dim_customers")

    assert left == right


def test_identical_audience_files(twins):
    plain, shuffled = twins

    left = outbox_digests(plain / "outbox")
    right = outbox_digests(shuffled / "outbox")

    assert len(left) > 0
    assert left == right
