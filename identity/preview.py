"""Preview how other matching settings would change customer ids, writing nothing.

Runs linking, clustering and id assignment the way a nightly run does, with every
working table in the in-memory scratch database, and reports which of today's customer
ids would merge into another or split. The command line attaches the warehouse
read-only, so DuckDB itself rejects any write to it:

    python -m identity.preview --warehouse data/warehouse.duckdb --threshold 0.95

Reports carry customer ids and counts only, never names, emails or other record values.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from identity.clustering import cluster_records
from identity.graph import DEFAULT_MAX_RECORDS_PER_IDENTIFIER
from identity.resolve import DEFAULT_THRESHOLD, check_threshold, link_records
from identity.scratch import scratch_database
from identity.splink_model import DEFAULT_MODEL_PATH
from identity.sql import fetch_value
from identity.stable_ids import (
    ID_CHANGES,
    ID_PARTS,
    CustomerIdChanges,
    assign_customer_ids,
)

logger = logging.getLogger(__name__)

PREVIEW_RUN_ID = "preview"
DEFAULT_SAMPLE_SIZE = 10

IdChange = tuple[str, str, int]


@dataclass(frozen=True)
class IdentityChangePreview:
    """Effect of a run with ``threshold`` on the customer ids of the last run.

    customers_before counts the distinct ids currently assigned to the records. Samples are
    (old id, new id, records moved), largest first, at most ``sample_size`` each.
    """

    threshold: float
    customers_before: int
    id_changes: CustomerIdChanges
    merge_samples: tuple[IdChange, ...]
    split_samples: tuple[IdChange, ...]


def preview_identity_changes(
    con: duckdb.DuckDBPyConnection,
    threshold: float = DEFAULT_THRESHOLD,
    model_path: Path = DEFAULT_MODEL_PATH,
    max_records_per_identifier: int = DEFAULT_MAX_RECORDS_PER_IDENTIFIER,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
) -> IdentityChangePreview:
    """Cluster the warehouse behind ``con`` with ``threshold`` and compare the ids.

    Writes only to the scratch database, which is detached at the end, so ``con`` may
    use a warehouse attached read-only. Raises FileNotFoundError without a saved
    model, because training one would write the model file.
    """
    check_threshold(threshold)
    if not model_path.is_file():
        raise FileNotFoundError(
            f"Splink model not found: {model_path}. A preview never trains a model; "
            "train one with `python -m identity.training` or pass --model-path"
        )

    assigned_at = datetime.now(UTC).replace(tzinfo=None)
    with scratch_database(con) as splink_cursor:
        link_records(
            con, splink_cursor, model_path, threshold, max_records_per_identifier
        )
        cluster_records(con)
        id_changes = assign_customer_ids(con, PREVIEW_RUN_ID, assigned_at)
        preview = IdentityChangePreview(
            threshold=threshold,
            customers_before=fetch_value(
                con, f"select count(distinct previous_id) from {ID_PARTS}"
            ),
            id_changes=id_changes,
            merge_samples=_sample_changes(con, "merge", sample_size),
            split_samples=_sample_changes(con, "split", sample_size),
        )

    logger.info(
        "Preview at threshold %s: %d customers now, %d after; %d ids would merge, "
        "%d would split, %d new",
        threshold,
        preview.customers_before,
        id_changes.customers,
        id_changes.merged,
        id_changes.split,
        id_changes.minted,
    )
    return preview


@contextmanager
def read_only_warehouse(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a connection whose default database is ``path``, attached read-only.

    A read-only DuckDB instance cannot attach the in-memory scratch database, so the
    file is attached read-only to a writable in-memory instance instead.
    """
    with duckdb.connect() as con:
        quoted_path = str(path).replace("'", "''")
        con.execute(f"attach '{quoted_path}' as warehouse (read_only)")
        con.execute("use warehouse")
        yield con


def _sample_changes(
    con: duckdb.DuckDBPyConnection, change: str, sample_size: int
) -> tuple[IdChange, ...]:
    rows = con.execute(
        f"""
        select old_customer_id, new_customer_id, records
        from {ID_CHANGES}
        where change = ?
        order by records desc, old_customer_id, new_customer_id
        limit ?
        """,
        [change, sample_size],
    ).fetchall()
    return tuple(rows)


def format_preview(preview: IdentityChangePreview) -> str:
    """Return the preview as text for a terminal: counts, then sample ids."""
    changes = preview.id_changes
    lines = [
        f"Match threshold {preview.threshold}: {changes.records} records, "
        f"{preview.customers_before} customer ids now, "
        f"{changes.customers} customers after.",
        f"  ids kept:            {changes.kept}",
        f"  ids new:             {changes.minted}",
        f"  ids merged away:     {changes.merged}",
        f"  ids split:           {changes.split}",
    ]
    for title, samples in (
        ("Merges (old id -> surviving id, records)", preview.merge_samples),
        ("Splits (old id -> id of the split-off part, records)", preview.split_samples),
    ):
        if samples:
            lines.append(f"{title}:")
            lines.extend(
                f"  {old} -> {new}, {records}" for old, new, records in samples
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m identity.preview",
        description=(
            "Show which customer ids a run with other matching settings would merge "
            "or split. Opens the warehouse read-only and writes nothing."
        ),
    )
    parser.add_argument(
        "--warehouse",
        type=Path,
        required=True,
        help="DuckDB warehouse file with the intermediate models and identity tables",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help="Splink match probability at or above which a pair links two records "
        f"(default: {DEFAULT_THRESHOLD})",
    )
    parser.add_argument(
        "--model-path",
        type=Path,
        default=DEFAULT_MODEL_PATH,
        help=f"saved Splink model JSON (default: {DEFAULT_MODEL_PATH})",
    )
    parser.add_argument(
        "--max-records-per-identifier",
        type=int,
        default=DEFAULT_MAX_RECORDS_PER_IDENTIFIER,
        help="identifier values on more records than this link nothing "
        f"(default: {DEFAULT_MAX_RECORDS_PER_IDENTIFIER})",
    )
    parser.add_argument(
        "--sample-size",
        type=int,
        default=DEFAULT_SAMPLE_SIZE,
        help=f"merged and split ids to list of each kind (default: {DEFAULT_SAMPLE_SIZE})",
    )
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s %(message)s"
    )
    if not args.warehouse.is_file():
        parser.error(f"warehouse file not found: {args.warehouse}")

    with read_only_warehouse(args.warehouse) as con:
        try:
            preview = preview_identity_changes(
                con,
                threshold=args.threshold,
                model_path=args.model_path,
                max_records_per_identifier=args.max_records_per_identifier,
                sample_size=args.sample_size,
            )
        except (ValueError, FileNotFoundError) as error:
            parser.error(str(error))
    print(format_preview(preview))


if __name__ == "__main__":
    main()
