"""Functional test: ``dbt docs generate`` documents every mart and its columns.

The marts and the analytics views persist their YAML descriptions as table and
column comments (``+persist_docs`` in dbt_project.yml), so the catalog that
``dbt docs generate`` reads from the warehouse carries them.
"""

from __future__ import annotations

import json
import shutil

import pytest

from tests.dbt.test_dbt_project import run_dbt

# Models allowed to have columns without a description; none at present.
PARTLY_DESCRIBED_MARTS: set[str] = set()


@pytest.fixture(scope="module")
def docs_artifacts(built_warehouse, tmp_path_factory) -> tuple[dict, dict]:
    """Run ``dbt docs generate`` on the built warehouse, return manifest and catalog.

    ``--no-compile`` skips compiling the SQL, which the catalog does not need, and
    writes no manifest, so the manifest is the one of the build. dbt opens the
    warehouse for writing, so it reads a copy, which the other test files can read
    meanwhile.
    """
    built, build_target = built_warehouse
    folder = tmp_path_factory.mktemp("dbt_docs")
    warehouse = folder / "warehouse.duckdb"
    shutil.copyfile(built, warehouse)
    result = run_dbt(["docs", "generate", "--no-compile"], warehouse, folder)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]

    manifest = json.loads((build_target / "manifest.json").read_text())
    catalog = json.loads((folder / "target" / "catalog.json").read_text())
    return manifest, catalog


def mart_models(manifest: dict) -> dict[str, str]:
    """Map the unique id of each model under models/marts/ and models/analytics/,
    the layers people query, to its name. Ephemeral models have no relation, so
    they are left out."""
    return {
        node_id: node["name"]
        for node_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
        and node["fqn"][1] in ("marts", "analytics")
        and node["config"]["materialized"] != "ephemeral"
    }


def test_catalog_lists_every_mart(docs_artifacts):
    manifest, catalog = docs_artifacts
    marts = mart_models(manifest)

    assert "model.cdp.fct_orders" in marts
    assert "model.cdp.customer_traits" in marts
    assert "model.cdp.analytics_customers" in marts
    assert set(marts) - set(catalog["nodes"]) == set()


def test_catalog_has_mart_descriptions(docs_artifacts):
    manifest, catalog = docs_artifacts
    marts = mart_models(manifest)

    tables_without_comment = [
        name
        for node_id, name in marts.items()
        if not catalog["nodes"][node_id]["metadata"].get("comment")
    ]
    assert tables_without_comment == []


def test_catalog_has_mart_column_descriptions(docs_artifacts):
    manifest, catalog = docs_artifacts
    marts = mart_models(manifest)

    checked_columns = 0
    columns_without_comment = []
    for node_id, name in marts.items():
        if name in PARTLY_DESCRIBED_MARTS:
            continue
        for column, info in catalog["nodes"][node_id]["columns"].items():
            checked_columns += 1
            if not (info.get("comment") or "").strip():
                columns_without_comment.append(f"{name}.{column}")

    assert checked_columns > 200
    assert columns_without_comment == []


def test_every_mart_has_enforced_contract(docs_artifacts):
    manifest, _catalog = docs_artifacts
    marts = mart_models(manifest)

    without_contract = [
        name
        for node_id, name in marts.items()
        if not manifest["nodes"][node_id]["config"]["contract"]["enforced"]
    ]
    assert without_contract == []
