"""The dbt project as Dagster loads it, with its manifest kept up to date."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from orchestration import settings

logger = logging.getLogger(__name__)

dbt_project = DbtProject(
    project_dir=settings.DBT_PROJECT_DIR,
    profiles_dir=settings.DBT_PROJECT_DIR,
)


def _newest_source_change(project_dir: Path) -> float:
    watched = ["models", "macros", "seeds", "tests", "snapshots"]
    files = [project_dir / "dbt_project.yml", project_dir / "profiles.yml"]
    for folder in watched:
        files.extend(p for p in (project_dir / folder).rglob("*") if p.is_file())
    return max(p.stat().st_mtime for p in files if p.exists())


def ensure_manifest() -> Path:
    """Parse the dbt project when its manifest is missing or older than its files.

    dagster-dbt builds asset definitions from ``target/manifest.json``; a stale
    manifest would hide a model that an analytics engineer just added.
    """
    manifest = dbt_project.manifest_path
    project_dir = Path(dbt_project.project_dir)
    stale = not manifest.exists() or manifest.stat().st_mtime < _newest_source_change(
        project_dir
    )
    if stale:
        logger.info("parsing the dbt project into %s", manifest)
        settings.export_settings_to_environment()
        dbt = Path(sys.executable).with_name("dbt")
        subprocess.run(
            [str(dbt), "parse", "--quiet", "--profiles-dir", str(project_dir)],
            cwd=project_dir,
            check=True,
        )
    return manifest
