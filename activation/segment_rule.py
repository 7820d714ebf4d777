"""The rule behind a segment and its values for one customer, for ``cdp trace``.

The description, owner and SQL file of a segment come from the dbt manifest
(``dbt_project/target/manifest.json``), the values of the vars its SQL reads from
``dbt_project.yml``, which the nightly job passes to dbt unchanged. The reason
columns are every column of ``marts.segment_<name>`` except ``customer_id``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import yaml

from activation.audience import table_exists

TRAITS = "marts.customer_traits"
VAR_CALL = re.compile(r"""\bvar\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]""")


class SegmentNotFoundError(LookupError):
    """No segment model of that name in the dbt manifest."""


@dataclass(frozen=True)
class ReasonValue:
    """One column of the segment model with its value for the customer."""

    column: str
    value: Any
    description: str


@dataclass(frozen=True)
class SegmentRule:
    """A segment's documentation, vars and the customer's reason values.

    ``values_from`` names the table the values were read from: the segment model
    for a member, ``marts.customer_traits`` for a customer who is not a member now,
    or None when neither has a row.
    """

    segment: str
    model: str
    label: str | None
    description: str
    owner: str | None
    sql_path: Path
    variables: tuple[tuple[str, Any], ...]
    is_member: bool
    values_from: str | None
    reasons: tuple[ReasonValue, ...]


def read_segment_rule(
    con: duckdb.DuckDBPyConnection,
    segment: str,
    customer_id: str,
    manifest_path: Path,
    project_dir: Path,
) -> SegmentRule:
    """Return the rule of ``segment`` and its reason values for ``customer_id``.

    Raises SegmentNotFoundError when the manifest has no model segment_<segment>.
    """
    model = f"segment_{segment}"
    node = _model_node(manifest_path, model)
    meta = node.get("config", {}).get("meta") or node.get("meta") or {}
    project_vars = _project_vars(project_dir / "dbt_project.yml")
    used = dict.fromkeys(VAR_CALL.findall(node.get("raw_code", "")))
    descriptions = {
        name: column.get("description", "").strip()
        for name, column in node.get("columns", {}).items()
    }
    is_member, values_from, values = _reason_values(con, model, customer_id)
    return SegmentRule(
        segment=segment,
        model=model,
        label=meta.get("label"),
        description=" ".join(node.get("description", "").split()),
        owner=meta.get("owner"),
        sql_path=project_dir / node["original_file_path"],
        variables=tuple((name, project_vars.get(name)) for name in used),
        is_member=is_member,
        values_from=values_from,
        reasons=tuple(
            ReasonValue(column, value, " ".join(descriptions.get(column, "").split()))
            for column, value in values.items()
        ),
    )


def _model_node(manifest_path: Path, model: str) -> dict:
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") == "model" and node.get("name") == model:
            return node
    raise SegmentNotFoundError(
        f"segment not found: the dbt manifest {manifest_path} has no model {model}"
    )


def _project_vars(project_file: Path) -> dict[str, Any]:
    if not project_file.is_file():
        return {}
    project = yaml.safe_load(project_file.read_text(encoding="utf-8")) or {}
    return project.get("vars") or {}


def _reason_values(
    con: duckdb.DuckDBPyConnection, model: str, customer_id: str
) -> tuple[bool, str | None, dict[str, Any]]:
    """Read the segment model's columns for the customer, or for a customer who is
    not a member, the columns of the same name in customer_traits."""
    table = f"marts.{model}"
    if not table_exists(con, table):
        return False, None, {}
    columns = [
        row[0]
        for row in con.execute(f"describe {table}").fetchall()
        if row[0] != "customer_id"
    ]
    values = _row(con, table, columns, customer_id)
    if values is not None:
        return True, table, values

    if not table_exists(con, TRAITS):
        return False, None, {}
    trait_columns = {row[0] for row in con.execute(f"describe {TRAITS}").fetchall()}
    shared = [column for column in columns if column in trait_columns]
    values = _row(con, TRAITS, shared, customer_id) if shared else None
    return False, (TRAITS if values is not None else None), values or {}


def _row(
    con: duckdb.DuckDBPyConnection, table: str, columns: list[str], customer_id: str
) -> dict[str, Any] | None:
    selected = ", ".join(f'"{column}"' for column in columns) or "1"
    row = con.execute(
        f"select {selected} from {table} where customer_id = ?", [customer_id]
    ).fetchone()
    if row is None:
        return None
    return dict(zip(columns, row, strict=False))
