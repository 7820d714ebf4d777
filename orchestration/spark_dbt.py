"""Run dbt on the Spark engine, in this process.

dbt-spark's session method runs every query on ``SparkSession.builder.getOrCreate()``
of the process that runs dbt. So the project's session, with its catalog and the
normalizer functions of the staging models, must exist before dbt starts. dbt must
then run in the same process through ``dbtRunner``, because the ``dbt`` command
line would start a new process with a session that lacks the functions.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence

from orchestration.settings import DBT_PROJECT_DIR
from orchestration.spark_session import export_spark_conf, spark_session

logger = logging.getLogger(__name__)

SPARK_TARGET = "spark"


def prepare_spark_for_dbt():
    """Start the project's Spark session with the normalizer functions registered.

    Return the session. Spark's Python workers run the functions, so they start
    with this interpreter, which can import the project.
    """
    from ingestion.spark_udfs import register_functions

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    export_spark_conf()
    session = spark_session()
    register_functions(session)
    return session


def run_dbt_on_spark(args: Sequence[str], callbacks: Sequence[Callable] = ()):
    """Invoke dbt with ``args`` on the ``spark`` target and return dbt's result.

    ``--project-dir``, ``--profiles-dir`` and ``--target`` default to this project
    and its Spark target when ``args`` do not set them. ``callbacks`` receive every
    dbt event as it happens.
    """
    from dbt.cli.main import dbtRunner

    prepare_spark_for_dbt()
    command = list(args)
    defaults = {
        "--project-dir": str(DBT_PROJECT_DIR),
        "--profiles-dir": str(DBT_PROJECT_DIR),
        "--target": SPARK_TARGET,
    }
    for option, value in defaults.items():
        if option not in command:
            command += [option, value]

    logger.info("running dbt on Spark: %s", " ".join(command))
    return dbtRunner(callbacks=list(callbacks)).invoke(command)


if __name__ == "__main__":
    # python -m orchestration.spark_dbt build --select path:models/staging
    sys.exit(0 if run_dbt_on_spark(sys.argv[1:]).success else 1)
