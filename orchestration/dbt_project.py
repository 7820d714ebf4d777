"""The dbt project as Dagster loads it, with its manifest kept up to date."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
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


# Environment variables that profiles.yml reads. dbt keeps a hash of the rendered
# profile in target/partial_parse.msgpack and parses the whole project again when
# it changes. That full parse took 7 to 10 s longer than a partial one here
# (`dbt parse` twice on a 2-core machine).
PROFILE_VARIABLES = (
    "CDP_WAREHOUSE",
    "CDP_SPARK_THRIFT_HOST",
    "CDP_SPARK_THRIFT_PORT",
    "CDP_SPARK_THRIFT_USER",
)
PARSED_PROFILE_FILE = "cdp_parsed_profile.txt"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
MANIFEST_FILE = "manifest.json"


def profile_fingerprint() -> str:
    """Hash the values of the environment variables that the dbt profile reads."""
    values = "\n".join(
        f"{name}={os.environ.get(name, '')}" for name in PROFILE_VARIABLES
    )
    return hashlib.sha256(values.encode("utf-8")).hexdigest()


def ensure_manifest() -> Path:
    """Parse the dbt project when its manifest is missing, older than its files, or
    parsed for another profile.

    dagster-dbt builds asset definitions from ``target/manifest.json``; a stale
    manifest would hide a model that an analytics engineer just added. Each dbt
    step of a run starts from the partial-parse file next to the manifest, so a
    file parsed for another warehouse (a test, a benchmark) would make all of them
    parse the whole project again.
    """
    manifest = dbt_project.manifest_path
    project_dir = Path(dbt_project.project_dir)
    settings.export_settings_to_environment()
    parsed_profile = manifest.with_name(PARSED_PROFILE_FILE)
    fingerprint = profile_fingerprint()
    stale = (
        not manifest.exists()
        or manifest.stat().st_mtime < _newest_source_change(project_dir)
        or not parsed_profile.exists()
        or parsed_profile.read_text(encoding="utf-8") != fingerprint
    )
    if stale:
        logger.info("parsing the dbt project into %s", manifest)
        _parse_into(manifest.parent, project_dir)
        parsed_profile.write_text(fingerprint, encoding="utf-8")
    return manifest


def _parse_into(target: Path, project_dir: Path) -> None:
    """Run ``dbt parse`` in a private folder, then move its files into ``target``.

    Renaming replaces each file at once, so another process reading the manifest
    or copying the partial-parse file meanwhile reads the old file or the new
    one, never half of one.
    """
    target.mkdir(parents=True, exist_ok=True)
    dbt = Path(sys.executable).with_name("dbt")
    with tempfile.TemporaryDirectory(prefix=".parse-", dir=target) as private:
        subprocess.run(
            [
                str(dbt),
                "parse",
                "--quiet",
                "--profiles-dir",
                str(project_dir),
                "--target-path",
                private,
            ],
            cwd=project_dir,
            check=True,
        )
        for name in (PARTIAL_PARSE_FILE, MANIFEST_FILE):
            os.replace(Path(private) / name, target / name)
