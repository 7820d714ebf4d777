"""A sensor that starts the nightly job when new extracts land (stopped by default)."""

import hashlib

import dagster as dg

from ingestion.loader import landing_files
from ingestion.sources import SOURCES
from orchestration import settings
from orchestration.jobs import nightly_job


def landing_fingerprint() -> str:
    """Hash of every landing file's name, size and modification time.

    The sensor does not open the warehouse: DuckDB allows one writer, and a sensor
    reading the load log would contend with the running job for the file lock.
    """
    digest = hashlib.sha256()
    for source in SOURCES:
        for path in landing_files(source, settings.landing_dir()):
            stat = path.stat()
            digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@dg.sensor(
    job=nightly_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Starts the nightly job when files in the landing folder change. "
    "Files already loaded are skipped by content hash, so a false start is cheap.",
)
def new_extracts_sensor(context: dg.SensorEvaluationContext):
    fingerprint = landing_fingerprint()
    if fingerprint == context.cursor:
        return dg.SkipReason("no new or changed landing files")
    context.update_cursor(fingerprint)
    return dg.RunRequest(run_key=fingerprint)
