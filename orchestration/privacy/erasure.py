"""Erase the people of pending erasure requests from the warehouse and the data folder.

Runs in the nightly job after the raw tables are loaded and before dbt builds
staging, so every model of the night is built without the person. For each request:

1. Scope. The requested email or phone hash finds records in the previous night's
   ``intermediate.int_identifiers``; a customer id hash finds the id in
   ``identity.customer_id_lookup``. ``identity.record_customers`` extends that to
   every record of the customer, and the records' emails and phone numbers become
   the person's identifiers (except those ``identity.skipped_identifiers`` lists as
   shared too widely).
2. Raw rows: every row of a record of the person, every row carrying one of the
   person's identifiers, and every reject whose text contains one.
3. Landing files lose those rows on disk; the load log gets the files' new sha256,
   so the loader does not take them for new extracts.
4. The rows go from ``raw``, ``identity``, ``intermediate``, ``marts`` and
   ``snapshots``. The ``analytics`` schema holds only views of the marts. The id tables keep the person's customer ids (history rows hold
   only ids). Activation snapshots keep the rows with every value replaced by its
   SHA-256, so the next diff still removes the person from each destination.
5. The person's identifiers join ``privacy.suppressed_identifiers``.
6. Audience files already written lose the person's rows, and reports naming them
   are deleted. The analyst copy is deleted; the night writes it again without the
   person (``orchestration/analyst_copy.py``).

Plain values of the person exist only in memory while a request is processed.
``compact_warehouse`` (the last step of the job) rewrites the DuckDB file, because
DuckDB keeps deleted values in free blocks of the file.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from activation.audience import record_hash
from activation.vendors import (
    InvalidValue,
    google_email,
    is_sha256_hex,
    meta_phone,
    sha256_hex,
)
from ingestion.loader import ensure_tables, file_sha256
from ingestion.sources import SOURCES, Source
from orchestration import settings
from orchestration.privacy import landing, outbox, store
from orchestration.privacy.identifiers import (
    RAW_IDENTIFIERS,
    RAW_RECORD_KEYS,
    normalized_sql,
    raw_identifier_hashes_sql,
    reject_token_hashes_sql,
)
from orchestration.privacy.landing import table_exists

logger = logging.getLogger(__name__)

# Identity tables that hold only customer ids and run facts; they keep their rows.
ID_ONLY_TABLES = {"customer_id_history", "customer_id_lookup", "customer_ids"}
RECORD_KEY_COLUMNS = (
    "record_key",
    "record_key_l",
    "record_key_r",
    "left_record_key",
    "right_record_key",
)
# Schemas that dbt rebuilds each night. Their rows are deleted now as well, so a
# night that stops before the marts leaves no copy of the person behind. The
# analytics schema contains only views of the marts, which a test in
# tests/dbt/test_analytics.py enforces, so it is left out. Its copy for analysts is
# deleted instead.
DERIVED_SCHEMAS = ("intermediate", "marts", "snapshots")
ERASED = "erased"
# The salted hash of an (identifier_type, identifier_value) row, as hash_sql.
IDENTIFIER_VALUE_HASH = (
    "sha256($salt || ':' || identifier_type || ':' || identifier_value)"
)


@dataclass
class ErasureResult:
    """Rows that one request removed, per target (table or file)."""

    request_id: str
    customers: int = 0
    records: int = 0
    rows: dict[str, int] = field(default_factory=dict)

    def add(self, target: str, count: int) -> None:
        if count:
            self.rows[target] = self.rows.get(target, 0) + count


# Deletes the rows of the request's customer ids (temp table _erasure_customers)
# and record keys (_erasure_keys) from copies of the derived schemas outside the
# DuckDB file, adding the counts to the result.
DerivedEraser = Callable[[duckdb.DuckDBPyConnection, ErasureResult], None]


@dataclass(frozen=True)
class DataFolders:
    landing: Path
    outbox: Path
    reports: Path
    # The analytics file for analysts (orchestration/analyst_copy.py), if any.
    analyst_copy: Path | None = None


def _tables_with_column(
    con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...], column: str
) -> list[tuple[str, str]]:
    placeholders = ", ".join("?" for _ in schemas)
    return con.execute(
        "select c.table_schema, c.table_name from information_schema.columns as c "
        "join information_schema.tables as t using (table_catalog, table_schema, "
        "table_name) where c.table_catalog = current_database() "
        f"and c.table_schema in ({placeholders}) and c.column_name = ? "
        "and t.table_type = 'BASE TABLE' order by 1, 2",
        [*schemas, column],
    ).fetchall()


def process_pending_requests(
    con: duckdb.DuckDBPyConnection,
    folders: DataFolders,
    erase_elsewhere: DerivedEraser | None = None,
) -> list[ErasureResult]:
    """Erase the person of every pending request, then redact landing rows that the
    loader dropped for suppressed identifiers.

    ``erase_elsewhere`` deletes the person's derived rows outside the DuckDB file,
    such as in Spark's catalog. It runs inside each request's transaction, so a
    failure there leaves the request pending for the next night.
    """
    results = []
    requests = store.pending_requests(con)
    if requests:
        from ingestion.dbt_udfs import register_functions

        register_functions(con)
    for request in requests:
        results.append(_erase(con, request, folders, erase_elsewhere))
    _redact_dropped_landing_rows(con, folders.landing)
    return results


def _erase(
    con: duckdb.DuckDBPyConnection,
    request: store.ErasureRequest,
    folders: DataFolders,
    erase_elsewhere: DerivedEraser | None = None,
) -> ErasureResult:
    result = ErasureResult(request.request_id)
    salt = store.salt(con)
    _resolve_scope(con, request, salt)
    result.customers, result.records = con.execute(
        "select (select count(*) from _erasure_customers), "
        "(select count(*) from _erasure_keys)"
    ).fetchone()
    _collect_raw_rows(con, salt)
    needles = _plain_identifiers(con)

    rewritten = _rewrite_landing_files(con, folders.landing, result)
    con.begin()
    try:
        _delete_raw_rows(con, rewritten, result)
        _delete_identity_rows(con, result)
        _delete_derived_rows(con, result)
        if erase_elsewhere is not None:
            erase_elsewhere(con, result)
        match_values = _digest_activation_rows(con, result)
        hashes = con.execute(
            "select distinct kind, identifier_hash from _erasure_hashes"
        ).fetchall()
        result.add(
            "privacy.suppressed_identifiers",
            store.add_suppressions(con, request.request_id, hashes),
        )
        con.commit()
    except Exception:
        con.rollback()
        raise

    match_values |= _vendor_forms(needles)
    files = outbox.rewrite_audience_files(folders.outbox, match_values)
    for file in files:
        target = f"outbox:{file.path.relative_to(folders.outbox)}"
        result.add(target, file.rows_removed)
    deleted = outbox.delete_reports(folders.reports, needles)
    for path in deleted:
        result.add(f"reports:{path.relative_to(folders.reports)}", 1)
    if folders.analyst_copy is not None and folders.analyst_copy.exists():
        target = f"analyst_copy:{folders.analyst_copy.name}"
        result.rows[target] = _delete_analyst_copy(con, folders.analyst_copy)

    con.begin()
    try:
        if table_exists(con, "activation", "exports"):
            outbox.update_exports(con, folders.outbox, files)
        for target, rows in sorted(result.rows.items()):
            store.log_step(con, request.request_id, ERASED, target, rows)
        con.execute(
            "update privacy.erasure_requests set status = ?, processed_at = ? "
            "where request_id = ?",
            [ERASED, store.now(), request.request_id],
        )
        con.commit()
    except Exception:
        con.rollback()
        raise
    logger.info(
        "erasure request %s: %d customer ids, %d records, %d rows in %d tables and "
        "files removed",
        request.request_id,
        result.customers,
        result.records,
        sum(result.rows.values()),
        len(result.rows),
    )
    return result


def _resolve_scope(
    con: duckdb.DuckDBPyConnection, request: store.ErasureRequest, salt: str
) -> None:
    """Fill ``_erasure_customers``, ``_erasure_keys`` and ``_erasure_hashes``."""
    parameters = {"salt": salt, "hash": request.identifier_hash}
    con.execute("create or replace temp table _erasure_customers (customer_id varchar)")
    con.execute("create or replace temp table _erasure_keys (record_key varchar)")
    con.execute(
        "create or replace temp table _erasure_hashes "
        "(kind varchar, identifier_hash varchar)"
    )
    if request.identifier_type == "customer_id":
        _add_customer_by_hash(con, parameters)
    else:
        con.execute(
            "insert into _erasure_hashes values (?, ?)",
            [request.identifier_type, request.identifier_hash],
        )

    has_identifiers = table_exists(con, "intermediate", "int_identifiers")
    identifier_hash = IDENTIFIER_VALUE_HASH
    if has_identifiers:
        con.execute(
            "insert into _erasure_keys select distinct record_key "
            "from intermediate.int_identifiers "
            "where identifier_type in ('email', 'phone') "
            f"and {identifier_hash} in (select identifier_hash from _erasure_hashes)",
            {"salt": salt},
        )
    if table_exists(con, "identity", "record_customers"):
        con.execute(
            "insert into _erasure_customers select distinct customer_id "
            "from identity.record_customers "
            "where record_key in (select record_key from _erasure_keys) "
            "except select customer_id from _erasure_customers"
        )
        con.execute(
            "insert into _erasure_keys select record_key from identity.record_customers "
            "where customer_id in (select customer_id from _erasure_customers) "
            "except select record_key from _erasure_keys"
        )
    if has_identifiers:
        skipped = ""
        if table_exists(con, "identity", "skipped_identifiers"):
            skipped = (
                "and (identifier_type, identifier_value) not in (select "
                "identifier_type, identifier_value from identity.skipped_identifiers "
                "where identifier_value is not null)"
            )
        con.execute(
            "insert into _erasure_hashes select distinct identifier_type, "
            f"{identifier_hash} from intermediate.int_identifiers "
            "where identifier_type in ('email', 'phone') "
            f"and record_key in (select record_key from _erasure_keys) {skipped} "
            "except select kind, identifier_hash from _erasure_hashes",
            {"salt": salt},
        )


def _add_customer_by_hash(con: duckdb.DuckDBPyConnection, parameters: dict) -> None:
    """Add the current id of a hashed customer id, following merges."""
    customer_hash = "sha256($salt || ':customer_id:' || customer_id)"
    if table_exists(con, "identity", "customer_id_lookup"):
        con.execute(
            "insert into _erasure_customers select distinct current_customer_id "
            f"from identity.customer_id_lookup where {customer_hash} = $hash",
            parameters,
        )
    if table_exists(con, "identity", "record_customers"):
        con.execute(
            "insert into _erasure_customers select distinct customer_id "
            f"from identity.record_customers where {customer_hash} = $hash "
            "except select customer_id from _erasure_customers",
            parameters,
        )


def _raw_sources(con: duckdb.DuckDBPyConnection) -> list[Source]:
    return [s for s in SOURCES if table_exists(con, "raw", s.table)]


def _collect_raw_rows(con: duckdb.DuckDBPyConnection, salt: str) -> None:
    """Fill ``_erasure_rows`` (source, file, row_number, kind 'row' or 'reject')."""
    con.execute(
        "create or replace temp table _erasure_rows (source varchar, file varchar, "
        "row_number bigint, kind varchar)"
    )
    person_hashes = "(select identifier_hash from _erasure_hashes)"
    for source in _raw_sources(con):
        table = f"raw.{source.table}"
        hits = raw_identifier_hashes_sql(source.name, table, "rowid")
        keys = " or ".join(
            f"{key} in (select record_key from _erasure_keys)"
            for key in RAW_RECORD_KEYS[source.name]
        )
        con.execute(
            f"insert into _erasure_rows select '{source.name}', _file, _row_number, "
            f"'row' from {table} where ({keys}) or rowid in "
            f"(select row_id from ({hits}) where identifier_hash in {person_hashes})",
            {"salt": salt},
        )
        rejects = f"{table}__rejects"
        if not table_exists(con, "raw", f"{source.table}__rejects"):
            continue
        tokens = reject_token_hashes_sql(rejects, "rowid", "raw_line")
        con.execute(
            f"insert into _erasure_rows select '{source.name}', _file, line_number, "
            f"'reject' from {rejects} where rowid in "
            f"(select row_id from ({tokens}) where identifier_hash in {person_hashes})",
            {"salt": salt},
        )


def _plain_identifiers(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Return the person's emails and phone numbers as written and normalized.

    Kept in memory only, to find the person in files that have no row numbers.
    """
    values: set[str] = set()
    for source in _raw_sources(con):
        for column in RAW_IDENTIFIERS[source.name]:
            rows = con.execute(
                f"select distinct trim({column.expression}), {normalized_sql(column)} "
                f"from raw.{source.table} where (_file, _row_number) in "
                "(select file, row_number from _erasure_rows "
                f"where source = '{source.name}' and kind = 'row')"
            ).fetchall()
            values.update(v for row in rows for v in row if v)
    return {v for v in values if len(v) >= 5}


def _vendor_forms(needles: set[str]) -> set[str]:
    """Return the plain values plus the hashed forms that vendor files contain."""
    forms = set(needles)
    for value in needles:
        forms.add(sha256_hex(value))
        for normalize in (google_email, meta_phone):
            try:
                normalized = normalize(value)
            except InvalidValue:
                continue
            if normalized:
                forms.update({normalized, sha256_hex(normalized)})
    return forms


def _delete_analyst_copy(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Delete the analyst copy and return how many of its rows named the person.

    The nightly job writes a new copy without the person after the analytics views.
    Deleting the file rather than its rows leaves no erased row in a free block.

    NOTE: an analyst who has the file open keeps reading the deleted copy until
    they close it, because the operating system frees the file only then.
    """
    key = store.pseudonym_key(con)
    customer_ids = [
        r[0]
        for r in con.execute("select customer_id from _erasure_customers").fetchall()
    ]
    pseudonyms = [store.pseudonym(key, customer_id) for customer_id in customer_ids]
    rows = 0
    try:
        con.execute(f"attach '{_quote(path)}' as erased_analyst_copy (read_only)")
        try:
            tables = con.execute(
                "select schema_name, table_name from duckdb_columns() "
                "where database_name = 'erased_analyst_copy' "
                "and column_name = 'customer_pseudonym'"
            ).fetchall()
            for schema, table in tables:
                rows += con.execute(
                    f'select count(*) from erased_analyst_copy."{schema}"."{table}" '
                    "where customer_pseudonym in (select unnest(?))",
                    [pseudonyms],
                ).fetchone()[0]
        finally:
            con.execute("detach erased_analyst_copy")
    except duckdb.Error as error:
        logger.warning("could not count the person's rows in %s: %s", path, error)
    path.unlink()
    return rows


def _rewrite_landing_files(
    con: duckdb.DuckDBPyConnection, landing_dir: Path, result: ErasureResult
) -> dict[tuple[str, str], RewrittenFile]:
    """Remove the collected rows from landing files; return the rewritten files.

    NOTE: a landing file the loader rejected as a whole has no rows in raw, so its
    rows are not found here. Fix or delete such a file before erasing.
    """
    rows = con.execute(
        "select source, file, list(distinct row_number) from _erasure_rows "
        "group by source, file order by source, file"
    ).fetchall()
    return _remove_landing_rows(landing_dir, rows, result)


@dataclass(frozen=True)
class RewrittenFile:
    """A landing file that lost rows: its new sha256 and the removed row numbers."""

    sha256: str
    removed: frozenset[int]


def _remove_landing_rows(
    landing_dir: Path, rows: list[tuple[str, str, list[int]]], result: ErasureResult
) -> dict[tuple[str, str], RewrittenFile]:
    sources = {s.name: s for s in SOURCES}
    rewritten = {}
    for source_name, file, numbers in rows:
        source = sources[source_name]
        path = landing_dir / source.landing_folder / file
        if not path.is_file():
            continue
        removed = landing.remove_rows(source, path, set(numbers))
        result.add(f"landing:{source.landing_folder}/{file}", removed)
        if removed:
            rewritten[(source_name, file)] = RewrittenFile(
                file_sha256(path), frozenset(numbers)
            )
    return rewritten


def _delete_raw_rows(
    con: duckdb.DuckDBPyConnection,
    rewritten: dict[tuple[str, str], RewrittenFile],
    result: ErasureResult,
) -> None:
    counts = con.execute(
        "select source, file, count(*) filter (where kind = 'row'), "
        "count(*) filter (where kind = 'reject') from _erasure_rows group by all"
    ).fetchall()
    for source in _raw_sources(con):
        # Brings a load log made by an earlier version up to date.
        ensure_tables(con, source)
        table = f"raw.{source.table}"
        selected = (
            "(select file, row_number from _erasure_rows "
            f"where source = '{source.name}' and kind = ?)"
        )
        deleted = con.execute(
            f"delete from {table} where (_file, _row_number) in {selected}", ["row"]
        ).fetchone()[0]
        result.add(table, deleted)
        if table_exists(con, "raw", f"{source.table}__rejects"):
            deleted = con.execute(
                f"delete from {table}__rejects where (_file, line_number) in "
                f"{selected}",
                ["reject"],
            ).fetchone()[0]
            result.add(f"{table}__rejects", deleted)
    removed_at = datetime.now(UTC).replace(tzinfo=None)
    for source_name, file, rows, rejects in counts:
        con.execute(
            "update raw._load_log set rows_loaded = rows_loaded - ?, "
            "rows_rejected = rows_rejected - ?, "
            "rows_erased = coalesce(rows_erased, 0) + ?, rows_removed_at = ? "
            "where source = ? and file = ? and status = 'loaded'",
            [rows, rejects, rows + rejects, removed_at, source_name, file],
        )
    _record_new_file_hashes(con, rewritten)


def _record_new_file_hashes(
    con: duckdb.DuckDBPyConnection, rewritten: dict[tuple[str, str], RewrittenFile]
) -> None:
    """Store the rewritten files' sha256 and renumber the rows kept for them."""
    sources = {s.name: s for s in SOURCES}
    for (source_name, file), rewrite in rewritten.items():
        con.execute(
            "update raw._load_log set sha256 = ? "
            "where source = ? and file = ? and status = 'loaded'",
            [rewrite.sha256, source_name, file],
        )
        if table_exists(con, "raw", sources[source_name].table):
            landing.renumber_rows(con, sources[source_name], file, rewrite.removed)


def _delete_identity_rows(
    con: duckdb.DuckDBPyConnection, result: ErasureResult
) -> None:
    for column in RECORD_KEY_COLUMNS:
        for schema, table in _tables_with_column(con, ("identity",), column):
            if table in ID_ONLY_TABLES:
                continue
            deleted = con.execute(
                f'delete from {schema}."{table}" where "{column}" in '
                "(select record_key from _erasure_keys)"
            ).fetchone()[0]
            result.add(f"{schema}.{table}", deleted)
    for schema, table in _tables_with_column(con, ("identity",), "customer_id"):
        if table in ID_ONLY_TABLES or table == "customer_id_map":
            continue
        deleted = con.execute(
            f'delete from {schema}."{table}" where customer_id in '
            "(select customer_id from _erasure_customers)"
        ).fetchone()[0]
        result.add(f"{schema}.{table}", deleted)
    if table_exists(con, "identity", "customer_ids"):
        updated = con.execute(
            "update identity.customer_ids set minted_from_record_key = ? "
            "where minted_from_record_key in (select record_key from _erasure_keys)",
            [ERASED],
        ).fetchone()[0]
        result.add("identity.customer_ids", updated)
    if result.records:
        _drop_incremental_scoring_state(con, result)
    if table_exists(con, "identity", "skipped_identifiers"):
        deleted = con.execute(
            "delete from identity.skipped_identifiers where identifier_type in "
            f"('email', 'phone') and {IDENTIFIER_VALUE_HASH} in "
            "(select identifier_hash from _erasure_hashes)",
            {"salt": store.salt(con)},
        ).fetchone()[0]
        result.add("identity.skipped_identifiers", deleted)


def _drop_incremental_scoring_state(
    con: duckdb.DuckDBPyConnection, result: ErasureResult
) -> None:
    """Drop the term frequency ranges and the state of incremental identity scoring.

    The ranges are keyed by a hash of each first and last name, and a rare name's
    hash points to its person. Without the state the next identity run scores every
    pair and starts the ranges afresh (``identity.incremental``).
    """
    for table in ("incremental_tf_ranges", "incremental_state"):
        if table_exists(con, "identity", table):
            rows = con.execute(f"select count(*) from identity.{table}").fetchone()[0]
            con.execute(f"drop table identity.{table}")
            result.add(f"identity.{table}", rows)


def _delete_derived_rows(con: duckdb.DuckDBPyConnection, result: ErasureResult) -> None:
    deletions = [
        ("record_key", "(select record_key from _erasure_keys)"),
        ("customer_id", "(select customer_id from _erasure_customers)"),
    ]
    for column, selected in deletions:
        for schema, table in _tables_with_column(con, DERIVED_SCHEMAS, column):
            deleted = con.execute(
                f'delete from {schema}."{table}" where "{column}" in {selected}'
            ).fetchone()[0]
            result.add(f"{schema}.{table}", deleted)


def _digest(value: str | None) -> str | None:
    return value if value is None or is_sha256_hex(value) else sha256_hex(value)


def _digest_activation_rows(
    con: duckdb.DuckDBPyConnection, result: ErasureResult
) -> set[str]:
    """Replace the person's values in activation tables with SHA-256 digests.

    The snapshot rows stay, so the next sync of each destination finds the person
    gone and sends a removal, which then carries the digests. That holds when the
    next sync has the run date of the last one too, because a rerun of a run date
    removes the people its earlier attempt sent (``activation/plan.py``). Returns the customer
    ids and the destination keys sent before, to find the person's rows in
    audience files.

    NOTE: a destination that matches on plain values (csv, mailchimp) receives
    digests in that removal and cannot match them; remove the person there by hand.
    """
    match_values = {
        r[0]
        for r in con.execute("select customer_id from _erasure_customers").fetchall()
    }
    if not table_exists(con, "activation", "audience_snapshots"):
        return match_values
    rows = con.execute(
        "select destination, segment, run_date, customer_id, match_key, payload "
        "from activation.audience_snapshots "
        "where customer_id in (select customer_id from _erasure_customers)"
    ).fetchall()
    for destination, segment, run_date, customer_id, key, payload in rows:
        values = tuple(_digest(v) for v in json.loads(payload))
        match_values.add(key)
        con.execute(
            "update activation.audience_snapshots set match_key = ?, payload = ?, "
            "record_hash = ? where destination = ? and segment = ? and run_date = ? "
            "and customer_id = ?",
            [
                _digest(key),
                json.dumps(list(values), ensure_ascii=False),
                record_hash(values),
                destination,
                segment,
                run_date,
                customer_id,
            ],
        )
    result.add("activation.audience_snapshots", len(rows))
    for table, column, value in (
        ("sync_changes", "record_hash", ERASED),
        ("failed_rows", "reason", "erased on request"),
    ):
        updated = con.execute(
            f"update activation.{table} set {column} = ? "
            "where customer_id in (select customer_id from _erasure_customers)",
            [value],
        ).fetchone()[0]
        result.add(f"activation.{table}", updated)
    return match_values


def _redact_dropped_landing_rows(
    con: duckdb.DuckDBPyConnection, landing_dir: Path
) -> None:
    """Remove from landing files the rows the loader dropped as erased."""
    if not table_exists(con, "privacy", "landing_redactions"):
        return
    rows = con.execute(
        "select source, file, list(distinct row_number) from privacy.landing_redactions "
        "group by source, file order by source, file"
    ).fetchall()
    if not rows:
        return
    result = ErasureResult("loader")
    rewritten = _remove_landing_rows(landing_dir, rows, result)
    con.begin()
    try:
        _record_new_file_hashes(con, rewritten)
        con.execute("delete from privacy.landing_redactions")
        con.commit()
    except Exception:
        con.rollback()
        raise
    logger.info(
        "removed %d dropped rows from %d landing files",
        sum(result.rows.values()),
        len(rewritten),
    )


def compact_warehouse(path: Path) -> tuple[int, int]:
    """Rewrite the DuckDB file so no free block keeps an erased value.

    DuckDB reuses the blocks of deleted rows but does not clear them, so erased
    values stay readable in the file until overwritten; CHECKPOINT does not change
    that (checked on DuckDB 2.0.1). ``COPY FROM DATABASE`` into a new file copies
    only live data, with comments and views. No other connection may be open.
    Returns the file size before and after, in bytes.
    """
    before = path.stat().st_size
    fresh = path.with_name(f".{path.name}.compacting")
    fresh.unlink(missing_ok=True)
    with duckdb.connect() as con:
        settings.configure_duckdb(con)
        con.execute(f"attach '{_quote(fresh)}' as compacted")
        con.execute(f"attach '{_quote(path)}' as erased_source (read_only)")
        con.execute("copy from database erased_source to compacted")
        con.execute("detach erased_source")
        con.execute("checkpoint compacted")
        con.execute("detach compacted")
    os.replace(fresh, path)
    Path(f"{path}.wal").unlink(missing_ok=True)
    return before, path.stat().st_size


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def erased_requests(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Ids of requests erased from the tables but not yet compacted out of the file."""
    if not store.has_tables(con):
        return []
    rows = con.execute(
        "select request_id from privacy.erasure_requests where status = ? "
        "order by requested_at",
        [ERASED],
    ).fetchall()
    return [r[0] for r in rows]


def mark_completed(con: duckdb.DuckDBPyConnection, request_ids: list[str]) -> None:
    for request_id in request_ids:
        store.log_step(con, request_id, "compacted", "warehouse file", 0)
        con.execute(
            "update privacy.erasure_requests set status = 'completed', "
            "completed_at = ? where request_id = ?",
            [store.now(), request_id],
        )
