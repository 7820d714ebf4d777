"""Functional test: dbt_project/tests/assert_layer_dependencies.sql catches violations.

The rule test passes on the project itself in every full ``dbt build`` (see the
``built_warehouse`` fixture). Here a copy of the project gets one model for each rule
the test enforces. The test has to fail and report exactly those three models.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.dbt.test_dbt_project import PROJECT_DIR, query, run_dbt

BAD_MODELS = {
    "models/marts/orders_with_crm_contacts.sql": """
        select orders.order_id, contacts.contact_id
        from {{ ref('stg_shop__orders') }} as orders
        inner join {{ ref('stg_crm__contacts') }} as contacts
            on orders.email = contacts.email
    """,
    "models/marts/raw_crm_contacts.sql": """
        select * from {{ source('raw', 'crm_contacts') }}
    """,
    "models/staging/shop/stg_shop__orders_copy.sql": """
        select * from {{ ref('stg_shop__orders') }}
    """,
}

EXPECTED_VIOLATIONS = {
    "orders_with_crm_contacts (marts) reads staging models of several sources: "
    "crm, shop",
    "raw_crm_contacts (marts) calls source source.cdp.raw.crm_contacts",
    "stg_shop__orders_copy (staging) refs staging model model.cdp.stg_shop__orders",
}


def copy_project_with_bad_models(folder: Path) -> Path:
    project = folder / "dbt_project"
    shutil.copytree(
        PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs")
    )
    for relative_path, sql in BAD_MODELS.items():
        (project / relative_path).write_text(sql)
    return project


def test_layer_rule_test_reports_violations(tmp_path):
    project = copy_project_with_bad_models(tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"

    result = run_dbt(
        ["test", "--select", "assert_layer_dependencies", "--store-failures"],
        warehouse,
        tmp_path,
        project_dir=project,
    )

    assert result.returncode == 1, result.stdout[-8000:] + result.stderr[-4000:]
    rows = query(
        warehouse, "select violation from dbt_test__audit.assert_layer_dependencies"
    )
    assert {violation for (violation,) in rows} == EXPECTED_VIOLATIONS
