"""The figures of the KPI report, read from the marts, identity and raw schemas.

Every query aggregates: the report contains counts, sums, rates, campaign names and file
names, never a person's data. A table that does not exist yet gives None, and the
report says so in place of the section.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

MAX_COHORTS = 18
MAX_COHORT_MONTHS = 18
MAX_CAMPAIGNS = 25
MAX_IDENTITY_RUNS = 15
MAX_SEGMENT_DATES = 60
MAX_LOAD_LOG_ROWS = 30

QUERIES = {
    "monthly": """
        select strftime(month_start_date, '%Y-%m') as month, revenue_eur, order_count,
            average_order_value_eur, active_customers, buying_customers,
            new_customers, returning_customers, new_customer_revenue_eur,
            returning_customer_revenue_eur
        from marts.mgmt_kpis_monthly
        order by month_start_date
    """,
    "cohorts": f"""
        with recent as (
            select distinct cohort_month_start_date
            from marts.mgmt_cohort_retention
            order by cohort_month_start_date desc
            limit {MAX_COHORTS}
        )

        select strftime(r.cohort_month_start_date, '%Y-%m') as cohort,
            r.months_since_first_order, r.cohort_customers, r.retention_rate
        from marts.mgmt_cohort_retention as r
        join recent using (cohort_month_start_date)
        where r.months_since_first_order < {MAX_COHORT_MONTHS}
        order by r.cohort_month_start_date, r.months_since_first_order
    """,
    # Members of each segment at the end of each day on which any membership began
    # or ended, from the snapshot history.
    "segment_sizes": f"""
        with change_dates as (
            select distinct cast(entered_at as date) as day
            from marts.segment_membership_history
            union
            select distinct cast(left_at as date)
            from marts.segment_membership_history
            where left_at is not null
        ),

        recent as (
            select day from change_dates order by day desc limit {MAX_SEGMENT_DATES}
        )

        select strftime(d.day, '%Y-%m-%d') as day, h.segment_name,
            count(distinct h.customer_id) filter (
                where cast(h.entered_at as date) <= d.day
                and (h.left_at is null or cast(h.left_at as date) > d.day)
            ) as members
        from recent as d
        cross join marts.segment_membership_history as h
        group by d.day, h.segment_name
        order by d.day, h.segment_name
    """,
    "campaigns": f"""
        select campaign_name, cast(first_sent_at as date) as first_sent_date,
            sent_customers, open_rate, click_rate, click_to_open_rate,
            unsubscribed_customers, last_touch_orders, last_touch_revenue_eur
        from marts.campaign_performance
        order by first_sent_at desc nulls last, campaign_id
        limit {MAX_CAMPAIGNS}
    """,
    "identity_runs": f"""
        select strftime(r.resolved_at, '%Y-%m-%d %H:%M') as resolved_at, r.records,
            r.customers, r.pairs_deterministic, r.pairs_splink, r."precision",
            r.recall, r.f1
        from identity.resolution_metrics as r
        order by r.resolved_at desc
        limit {MAX_IDENTITY_RUNS}
    """,
    "cluster_runs": f"""
        select strftime(resolved_at, '%Y-%m-%d %H:%M') as resolved_at,
            largest_cluster_size, large_cluster_size, large_clusters,
            merged_record_share, merge_rate
        from identity.cluster_metrics
        order by resolved_at desc
        limit {MAX_IDENTITY_RUNS}
    """,
    # The newest load of each file: what the warehouse contains now.
    "load_log": f"""
        select source, file, status, rows_read, rows_loaded, rows_rejected, message,
            strftime(loaded_at, '%Y-%m-%d %H:%M') as loaded_at
        from raw._load_log
        qualify row_number() over (
            partition by source, file order by loaded_at desc
        ) = 1
        order by loaded_at desc, source, file
        limit {MAX_LOAD_LOG_ROWS}
    """,
    "load_totals": """
        with latest as (
            select *
            from raw._load_log
            qualify row_number() over (
                partition by source, file order by loaded_at desc
            ) = 1
        )

        select source, count(*) as files,
            count(*) filter (where status = 'rejected') as rejected_files,
            coalesce(sum(rows_read), 0) as rows_read,
            coalesce(sum(rows_loaded), 0) as rows_loaded,
            coalesce(sum(rows_rejected), 0) as rows_rejected
        from latest
        group by source
        order by source
    """,
}

# The relation each query reads; a missing one leaves its section empty.
QUERY_TABLES = {
    "monthly": ("marts", "mgmt_kpis_monthly"),
    "cohorts": ("marts", "mgmt_cohort_retention"),
    "segment_sizes": ("marts", "segment_membership_history"),
    "campaigns": ("marts", "campaign_performance"),
    "identity_runs": ("identity", "resolution_metrics"),
    "cluster_runs": ("identity", "cluster_metrics"),
    "load_log": ("raw", "_load_log"),
    "load_totals": ("raw", "_load_log"),
}


@dataclass(frozen=True)
class Rows:
    columns: list[str]
    rows: list[tuple]

    def column(self, name: str) -> list:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def dicts(self) -> list[dict]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def _existing_relations(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    rows = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = current_database()"
    ).fetchall()
    return {(schema, name) for schema, name in rows}


def collect(con: duckdb.DuckDBPyConnection) -> dict[str, Rows | None]:
    """Run every report query; a query whose table is missing gives None."""
    existing = _existing_relations(con)
    results: dict[str, Rows | None] = {}
    for name, sql in QUERIES.items():
        if QUERY_TABLES[name] not in existing:
            results[name] = None
            continue
        cursor = con.execute(sql)
        columns = [column[0] for column in cursor.description]
        results[name] = Rows(columns, cursor.fetchall())
    return results
