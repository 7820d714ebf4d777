"""Splink's charts for one identity run, written as self-contained HTML files.

Each run writes three files into its report folder:

- ``match_weights.html``: the model's match weight per comparison level.
- ``waterfall.html``: how the match weight adds up for sample pairs, the ones scored
  closest to the threshold first. Splink's ``remove_sensitive_data`` option keeps
  record values out of it.
- ``cluster_studio.html``: Splink's cluster studio for the largest groups that
  Splink pairs at or above the threshold form among a sample of records. Splink
  scores only pairs that identifier links do not join already, so the groups show
  what Splink adds to the identifier links, not whole customers. It shows
  record values (names, emails), so the folder is created readable by its owner only.

The charts bundle their JavaScript (``inline=True``), so they open without network
access. Splink 5.0.0's cluster studio still links a web font, which is removed.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import duckdb
from splink import DuckDBAPI, Linker

from identity.sql import fetch_value

logger = logging.getLogger(__name__)

WATERFALL_PAIRS = 20
CLUSTER_STUDIO_CLUSTERS = 10
# Records whose Splink pairs feed the cluster studio sample.
CLUSTER_STUDIO_SEED_RECORDS = 200
PREDICTIONS_SAMPLE = "identity_chart_predictions"

_WEB_FONT_LINK = re.compile(r"<link[^>]+fonts\.(googleapis|gstatic)\.com[^>]*>\s*")


def write_run_charts(
    linker: Linker,
    splink_cursor: duckdb.DuckDBPyConnection,
    predictions_table: str,
    threshold: float,
    out_dir: Path,
) -> list[Path]:
    """Write the run's charts into ``out_dir`` and return the files written.

    ``predictions_table`` is Splink's prediction table in the scratch database,
    with the matching columns retained.
    """
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    written = [_write_match_weights(linker, out_dir)]
    pairs = fetch_value(splink_cursor, f"select count(*) from {predictions_table}")
    if pairs == 0:
        logger.info("No scored pairs; wrote the match weights chart only")
        return written

    written.append(
        _write_waterfall(linker, splink_cursor, predictions_table, threshold, out_dir)
    )
    studio = _write_cluster_studio(
        linker, splink_cursor, predictions_table, threshold, out_dir
    )
    if studio is not None:
        written.append(studio)
    logger.info("Wrote %d identity charts to %s", len(written), out_dir)
    return written


def _write_match_weights(linker: Linker, out_dir: Path) -> Path:
    path = out_dir / "match_weights.html"
    linker.visualisations.match_weights_chart().save(str(path), inline=True)
    return path


def _write_waterfall(
    linker: Linker,
    splink_cursor: duckdb.DuckDBPyConnection,
    predictions_table: str,
    threshold: float,
    out_dir: Path,
) -> Path:
    cursor = splink_cursor.execute(
        f"select * from {predictions_table} "
        "order by abs(match_probability - $threshold), record_key_l, record_key_r "
        f"limit {WATERFALL_PAIRS}",
        {"threshold": threshold},
    )
    names = [column[0] for column in cursor.description]
    records = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    path = out_dir / "waterfall.html"
    chart = linker.visualisations.waterfall_chart(records, remove_sensitive_data=True)
    chart.save(str(path), inline=True)
    return path


def _write_cluster_studio(
    linker: Linker,
    splink_cursor: duckdb.DuckDBPyConnection,
    predictions_table: str,
    threshold: float,
    out_dir: Path,
) -> Path | None:
    # A deterministic sample: the pairs touching the first records by hash, so the
    # clusters shown are small connected groups, not the whole graph.
    splink_cursor.execute(
        f"""
        create or replace table {PREDICTIONS_SAMPLE} as
        with seeds as (
            select record_key_l as record_key from {predictions_table}
            where match_probability >= $threshold
            group by record_key_l
            order by hash(record_key_l)
            limit {CLUSTER_STUDIO_SEED_RECORDS}
        )
        select * from {predictions_table}
        where match_probability >= $threshold
            and (record_key_l in (select record_key from seeds)
                or record_key_r in (select record_key from seeds))
        """,
        {"threshold": threshold},
    )
    if fetch_value(splink_cursor, f"select count(*) from {PREDICTIONS_SAMPLE}") == 0:
        return None

    sample = DuckDBAPI(connection=splink_cursor).register(PREDICTIONS_SAMPLE)
    predictions = linker.table_management.register_table_predict(sample)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=threshold
    )
    path = out_dir / "cluster_studio.html"
    html = linker.visualisations.cluster_studio_dashboard(
        predictions,
        clusters,
        str(path),
        sampling_method="by_cluster_size",
        sample_size=CLUSTER_STUDIO_CLUSTERS,
        overwrite=True,
        return_html_as_string=True,
    )
    path.write_text(_WEB_FONT_LINK.sub("", html), encoding="utf-8")
    path.chmod(0o600)
    clusters.drop_table_from_database_and_remove_from_cache()
    splink_cursor.execute(f"drop table {PREDICTIONS_SAMPLE}")
    return path
