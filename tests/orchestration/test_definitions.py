"""Snapshot of the Dagster graph: a change to assets, checks, jobs or schedules shows
up here.

Loading the definitions parses the dbt project when its manifest is stale, so this
test also proves that the real project and dagster-dbt agree.
"""

import dagster as dg
import pytest

ASSETS = [
    "analytics/analyst_copy",
    "analytics/campaign_performance",
    "analytics/consent_ledger",
    "analytics/customer_id_changes",
    "analytics/customer_timeline",
    "analytics/customers",
    "analytics/email_activities",
    "analytics/events",
    "analytics/funnel_conversion",
    "analytics/lead_scores",
    "analytics/mgmt_cohort_retention",
    "analytics/mgmt_kpis_monthly",
    "analytics/order_attribution",
    "analytics/orders",
    "analytics/product_monthly_performance",
    "analytics/segment_membership_history",
    "analytics/segment_memberships",
    "analytics/sessions",
    "analytics/support_tickets",
    "identity/customer_id_history",
    "identity/customer_id_lookup",
    "identity/record_customers",
    "intermediate/int_email_consent_signals",
    "intermediate/int_email_suppressions",
    "intermediate/int_identifiers",
    "intermediate/int_person_records",
    "intermediate/int_person_records_first_seen",
    "intermediate/int_record_touchpoints",
    "intermediate/int_run_context",
    "intermediate/int_web_profiles",
    "landing/crm_contacts",
    "landing/email_activity",
    "landing/helpdesk_tickets",
    "landing/shop_orders",
    "landing/social_leads",
    "landing/web_events",
    "marts/campaign_performance",
    "marts/consent_ledger",
    "marts/customer_addresses",
    "marts/customer_clv",
    "marts/customer_consent",
    "marts/customer_email_consent",
    "marts/customer_emails",
    "marts/customer_engagement",
    "marts/customer_golden_fields",
    "marts/customer_id_changes",
    "marts/customer_phones",
    "marts/customer_record_fingerprints",
    "marts/customer_rfm",
    "marts/customer_source_records",
    "marts/customer_timeline",
    "marts/customer_timeline_fingerprints",
    "marts/customer_traits",
    "marts/dim_customers",
    "marts/fct_email_activities",
    "marts/fct_events",
    "marts/fct_orders",
    "marts/fct_session_events",
    "marts/fct_sessions",
    "marts/fct_support_tickets",
    "marts/funnel_conversion",
    "marts/mgmt_cohort_retention",
    "marts/mgmt_kpis_monthly",
    "marts/order_attribution",
    "marts/product_monthly_performance",
    "marts/pseudonymized_customer_timeline",
    "marts/pseudonymized_events",
    "marts/pseudonymized_sessions",
    "marts/sales_lead_scores",
    "marts/segment_browse_abandoners",
    "marts/segment_champions",
    "marts/segment_churn_risk_high_value",
    "marts/segment_engaged_non_buyers",
    "marts/segment_high_predicted_clv",
    "marts/segment_high_value_customers",
    "marts/segment_lapsed_buyers",
    "marts/segment_membership_history",
    "marts/segment_memberships",
    "marts/segment_new_customers",
    "marts/segment_one_time_buyers",
    "marts/segment_unhappy_customers",
    "outbox/analytics_lake",
    "outbox/google_ads_high_value",
    "outbox/loyalty_program",
    "outbox/mailchimp_reactivation",
    "outbox/meta_high_value",
    "outbox/newsletter_tool",
    "privacy/erasure",
    "privacy/erasure_verification",
    "privacy/retention",
    "privacy/warehouse_compaction",
    "raw/crm_contacts",
    "raw/email_activity",
    "raw/helpdesk_tickets",
    "raw/shop_orders",
    "raw/social_leads",
    "raw/web_events",
    "reports/kpi",
    "snapshots/segment_memberships_snapshot",
    "staging/fx_rates_to_eur",
    "staging/product_categories",
    "staging/stg_clv__customer_clv",
    "staging/stg_crm__contacts",
    "staging/stg_email__activities",
    "staging/stg_helpdesk__tickets",
    "staging/stg_identity__customer_id_history",
    "staging/stg_identity__customer_id_lookup",
    "staging/stg_identity__record_customers",
    "staging/stg_privacy__pseudonym_keys",
    "staging/stg_shop__order_lines",
    "staging/stg_shop__orders",
    "staging/stg_social__leads",
    "staging/stg_web__events",
    "staging/survivorship_rules",
]

# (asset, check, blocking) for every asset check.
CHECKS = [
    ("marts/dim_customers", "great_expectations_suite", True),
    *[
        (f"raw/{source}", check, check != "rows_accounted_for")
        for source in (
            "crm_contacts",
            "email_activity",
            "helpdesk_tickets",
            "shop_orders",
            "social_leads",
            "web_events",
        )
        for check in (
            "great_expectations_suite",
            "no_rejected_files",
            "rows_accounted_for",
        )
    ],
    ("staging/stg_crm__contacts", "great_expectations_suite", True),
    ("staging/stg_shop__orders", "great_expectations_suite", True),
    ("staging/stg_web__events", "great_expectations_suite", True),
]

GATED_STAGING_MODELS = {
    "staging/stg_crm__contacts",
    "staging/stg_shop__orders",
    "staging/stg_web__events",
}


@pytest.fixture(scope="module")
def defs(tmp_path_factory, monkeypatch_module):
    root = tmp_path_factory.mktemp("defs")
    monkeypatch_module.setenv("CDP_WAREHOUSE", str(root / "warehouse.duckdb"))
    monkeypatch_module.setenv("DAGSTER_HOME", str(root / "dagster"))
    from orchestration.definitions import defs as definitions

    return definitions


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def graph(defs):
    return defs.resolve_asset_graph()


def parents(graph, key: str) -> set[str]:
    node = graph.get(dg.AssetKey.from_user_string(key))
    return {p.to_user_string() for p in node.parent_keys}


def test_raw_tables_come_from_landing_files(graph):
    assert parents(graph, "raw/crm_contacts") >= {"landing/crm_contacts"}


def test_asset_list_unchanged(graph):
    keys = sorted(k.to_user_string() for k in graph.get_all_asset_keys())
    assert keys == ASSETS


def test_check_list_unchanged(defs):
    checks = sorted(
        (spec.asset_key.to_user_string(), spec.name, spec.blocking)
        for check in defs.asset_checks or []
        for spec in check.check_specs
    )
    assert checks == CHECKS


def test_identity_runs_after_intermediate_and_gates(graph):
    upstream = parents(graph, "identity/record_customers")
    assert upstream == {
        "intermediate/int_person_records",
        "intermediate/int_identifiers",
        "intermediate/int_email_consent_signals",
        *GATED_STAGING_MODELS,
    }


def test_staging_gates_wired_into_identity_step(defs):
    """The job must pass each gate's result to identity, or a failure would not block."""
    job = defs.resolve_job_def("nightly")
    identity_inputs = next(
        deps
        for node, deps in job.dependencies.items()
        if node.name == "identity_resolution"
    )
    for model in GATED_STAGING_MODELS:
        dependency = identity_inputs[model.replace("/", "_")]
        blocking_nodes = {d.node for d in dependency.asset_check_dependencies}
        check_node = model.replace("/", "__") + "_great_expectations_suite"
        assert check_node in blocking_nodes, model


def test_marts_read_identity_through_staging(graph):
    upstream = parents(graph, "staging/stg_identity__record_customers")
    assert upstream == {"identity/record_customers", "privacy/erasure_verification"}


def test_erasure_between_raw_and_staging(graph):
    assert "privacy/erasure" in parents(graph, "staging/stg_crm__contacts")
    assert parents(graph, "privacy/erasure") == {
        f"raw/{source}"
        for source in (
            "crm_contacts",
            "email_activity",
            "helpdesk_tickets",
            "shop_orders",
            "social_leads",
            "web_events",
        )
    }
    assert parents(graph, "privacy/erasure_verification") == {
        "identity/record_customers"
    }


def test_compaction_after_every_export(graph):
    upstream = parents(graph, "privacy/warehouse_compaction")
    assert "outbox/newsletter_tool" in upstream
    assert "marts/segment_membership_history" in upstream


def test_exports_depend_on_their_segments(graph):
    upstream = parents(graph, "outbox/newsletter_tool")
    assert "marts/segment_engaged_non_buyers" in upstream
    assert "marts/segment_lapsed_buyers" in upstream
    assert "marts/dim_customers" in upstream
    assert "intermediate/int_email_suppressions" in upstream


def test_kpi_report_runs_after_marts_and_raw(graph):
    upstream = parents(graph, "reports/kpi")
    assert "marts/mgmt_kpis_monthly" in upstream
    assert "marts/segment_membership_history" in upstream
    assert "identity/record_customers" in upstream
    assert "raw/shop_orders" in upstream


def test_snapshot_between_memberships_and_history(graph):
    snapshot = "snapshots/segment_memberships_snapshot"
    assert parents(graph, snapshot) == {"marts/segment_memberships"}
    assert parents(graph, "marts/segment_membership_history") == {snapshot}


def test_snapshot_runs_with_segments_in_one_step(defs):
    """One dbt build orders segments, snapshot and history by their refs."""
    snapshot_key = dg.AssetKey(["snapshots", "segment_memberships_snapshot"])
    step = next(
        assets_def
        for assets_def in defs.assets or []
        if isinstance(assets_def, dg.AssetsDefinition)
        and snapshot_key in assets_def.keys
    )
    assert dg.AssetKey(["marts", "segment_memberships"]) in step.keys
    assert dg.AssetKey(["marts", "segment_membership_history"]) in step.keys


def test_segment_assets_owned_by_meta_owner(graph):
    champions = graph.get(dg.AssetKey.from_user_string("marts/segment_champions"))
    customers = graph.get(dg.AssetKey.from_user_string("marts/dim_customers"))
    assert champions.owners == ["team:loyalty-marketing"]
    assert customers.owners == ["team:analytics-engineering"]


def test_segment_history_grouped_with_segments(graph):
    for key in (
        "marts/segment_memberships",
        "snapshots/segment_memberships_snapshot",
        "marts/segment_membership_history",
    ):
        assert graph.get(dg.AssetKey.from_user_string(key)).group_name == "segments"


def test_every_asset_grouped_and_described(graph):
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.group_name != "default", key
        assert node.description, key


def test_nightly_schedule_at_two_berlin(defs):
    schedule = defs.resolve_schedule_def("nightly_at_two")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "Europe/Berlin"
    assert schedule.job_name == "nightly"


def test_consent_suite_blocks_exports(defs):
    checks = {
        (spec.asset_key.to_user_string(), spec.name): spec
        for check in defs.asset_checks or []
        for spec in check.check_specs
    }
    suite = checks[("marts/dim_customers", "great_expectations_suite")]
    assert suite.blocking


def test_new_extracts_sensor_stopped_by_default(defs):
    sensor = defs.resolve_sensor_def("new_extracts_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert sensor.job_name == "nightly"


def test_sensor_requests_run_only_on_change(tmp_path, monkeypatch):
    from orchestration.sensors import new_extracts_sensor

    monkeypatch.setenv("CDP_LANDING_DIR", str(tmp_path))
    folder = tmp_path / "crm_contacts"
    folder.mkdir()
    (folder / "crm_contacts_2026-11-30.csv").write_text("Record ID\n1\n")

    first = new_extracts_sensor(dg.build_sensor_context(cursor=None))
    unchanged = new_extracts_sensor(dg.build_sensor_context(cursor=first.run_key))
    (folder / "crm_contacts_2026-12-01.csv").write_text("Record ID\n2\n")
    changed = new_extracts_sensor(dg.build_sensor_context(cursor=first.run_key))

    assert isinstance(first, dg.RunRequest)
    assert isinstance(unchanged, dg.SkipReason)
    assert isinstance(changed, dg.RunRequest)
    assert changed.run_key != first.run_key


def test_staging_waits_for_privacy_steps(graph):
    assert parents(graph, "staging/stg_web__events") == {
        "raw/web_events",
        "privacy/erasure",
        "privacy/retention",
    }
    assert parents(graph, "staging/stg_privacy__pseudonym_keys") == {"privacy/erasure"}
    assert parents(graph, "privacy/retention") == {
        f"raw/{source}"
        for source in (
            "crm_contacts",
            "email_activity",
            "helpdesk_tickets",
            "shop_orders",
            "social_leads",
            "web_events",
        )
    }


def test_analyst_copy_after_every_analytics_view(graph):
    views = {
        key for key in ASSETS if key.startswith("analytics/") and "copy" not in key
    }
    assert parents(graph, "analytics/analyst_copy") == views
    assert "analytics/analyst_copy" in parents(graph, "privacy/warehouse_compaction")
