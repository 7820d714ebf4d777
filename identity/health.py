"""Health metrics of a resolution run and the thresholds its asset checks apply.

Over-merging is the failure that hurts most: one wrong link can join hundreds of
people into one customer. The checks look at the largest cluster, the number of
large clusters, the share of records merged with another record, and the change in
merge rate since the previous run. A sudden jump usually means a bad model, a
placeholder identifier or a broken upstream model rather than new customers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from identity.sql import fetch_row
from identity.tables import IDENTITY_SCHEMA, RECORD_CUSTOMERS, RESOLUTION_METRICS

CLUSTER_METRICS = f"{IDENTITY_SCHEMA}.cluster_metrics"


@dataclass(frozen=True)
class HealthThresholds:
    """Limits of the identity asset checks; all of them live here.

    merge_rate is (records - customers) / records. max_merge_rate_change is an
    absolute change of that share between two runs, e.g. 0.05 for five points.
    """

    # NOTE: starting values, not measured on production data; tune them on the
    # first weeks of resolution_metrics.
    max_cluster_size: int = 50
    large_cluster_size: int = 10
    max_large_clusters: int = 100
    max_merged_record_share: float = 0.8
    max_merge_rate_change: float = 0.05


DEFAULT_THRESHOLDS = HealthThresholds()


@dataclass(frozen=True)
class ClusterMetrics:
    """Cluster sizes of one run, from ``identity.record_customers``."""

    records: int
    customers: int
    largest_cluster_size: int
    large_clusters: int
    merged_record_share: float

    @property
    def merge_rate(self) -> float:
        return 0.0 if not self.records else 1 - self.customers / self.records


def compute_cluster_metrics(
    con: duckdb.DuckDBPyConnection, large_cluster_size: int
) -> ClusterMetrics:
    """Compute the cluster metrics of the records now in ``identity.record_customers``.

    A cluster counts as large when it has more than ``large_cluster_size`` records.
    """
    records, customers, largest, large, merged = fetch_row(
        con,
        f"""
        with sizes as (
            select customer_id, count(*) as size
            from {RECORD_CUSTOMERS}
            group by customer_id
        )

        select
            coalesce(sum(size), 0),
            count(*),
            coalesce(max(size), 0),
            count(*) filter (where size > $large),
            coalesce(sum(size) filter (where size > 1), 0)
        from sizes
        """,
        {"large": large_cluster_size},
    )
    share = merged / records if records else 0.0
    return ClusterMetrics(records, customers, largest, large, share)


def write_cluster_metrics(
    con: duckdb.DuckDBPyConnection,
    resolved_at: datetime,
    thresholds: HealthThresholds = DEFAULT_THRESHOLDS,
) -> ClusterMetrics:
    """Append this run's cluster metrics to ``identity.cluster_metrics``.

    Call after ``identity.record_customers`` is written. The row's resolved_at
    matches the run's row in ``identity.resolution_metrics``.
    """
    metrics = compute_cluster_metrics(con, thresholds.large_cluster_size)
    con.execute(f"""
        create table if not exists {CLUSTER_METRICS} (
            resolved_at timestamp not null,
            largest_cluster_size bigint not null,
            large_cluster_size bigint not null,
            large_clusters bigint not null,
            merged_record_share double not null,
            merge_rate double not null
        )
    """)
    con.execute(
        f"insert into {CLUSTER_METRICS} values (?, ?, ?, ?, ?, ?)",
        [
            resolved_at,
            metrics.largest_cluster_size,
            thresholds.large_cluster_size,
            metrics.large_clusters,
            metrics.merged_record_share,
            metrics.merge_rate,
        ],
    )
    return metrics


def merge_rates(con: duckdb.DuckDBPyConnection) -> tuple[float | None, float | None]:
    """Return the merge rates of the latest and the previous run, None when missing.

    Read from ``identity.resolution_metrics``, which has one row per run.
    """
    rows = con.execute(f"""
        select 1 - customers / records
        from {RESOLUTION_METRICS}
        where records > 0
        order by resolved_at desc
        limit 2
    """).fetchall()
    latest = rows[0][0] if rows else None
    previous = rows[1][0] if len(rows) > 1 else None
    return latest, previous
