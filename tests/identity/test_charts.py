"""Splink chart files written by an identity run."""

from __future__ import annotations

import re
import stat

from identity.resolve import resolve_identities


def test_run_writes_offline_charts(build_warehouse, synthetic_population, tmp_path):
    records = synthetic_population(60, 7)
    con = build_warehouse(records)
    charts = tmp_path / "reports" / "identity" / "2026-11-30"

    resolve_identities(con, charts_dir=charts)

    names = sorted(path.name for path in charts.iterdir())
    assert names == ["cluster_studio.html", "match_weights.html", "waterfall.html"]
    # Bundled libraries mention CDN addresses in their code; what matters is that
    # no tag loads anything from the network when the file is opened.
    external = re.compile(r"""<(script|link)[^>]+(src|href)=["']?https?://""")
    for path in charts.iterdir():
        html = path.read_text(encoding="utf-8")
        assert not external.search(html), path.name
    assert stat.S_IMODE(charts.stat().st_mode) == 0o700
    assert stat.S_IMODE((charts / "cluster_studio.html").stat().st_mode) == 0o600


def test_waterfall_chart_contains_no_values(
    build_warehouse, synthetic_population, tmp_path
):
    records = synthetic_population(60, 7)
    con = build_warehouse(records)
    charts = tmp_path / "charts"

    resolve_identities(con, charts_dir=charts)

    waterfall = (charts / "waterfall.html").read_text(encoding="utf-8")
    emails = {str(r["email"]) for r in records if r["email"]}
    assert emails
    assert not [email for email in emails if email in waterfall]


def test_run_without_charts_dir_writes_nothing(
    build_warehouse, synthetic_population, tmp_path
):
    con = build_warehouse(synthetic_population(20, 3))

    resolve_identities(con)

    assert not (tmp_path / "reports").exists()
