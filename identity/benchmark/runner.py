"""Run every method on every requested data set and score it against ground truth."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from identity.benchmark import datasets, methods
from identity.benchmark.methods import MethodUnavailable, ProjectModel
from identity.evaluation import linkable_records_sql, score_clusters, score_groupings
from identity.splink_model import DEFAULT_MODEL_PATH
from identity.tables import IDENTIFIERS, PERSON_RECORDS

logger = logging.getLogger(__name__)

EXACT_EMAIL = "exact e-mail"
RECORDLINKAGE = "recordlinkage recipe"
PROJECT = "this project"
METHODS = (EXACT_EMAIL, RECORDLINKAGE, PROJECT)


@dataclass(frozen=True)
class MethodResult:
    """Scores of one method on one data set, or the reason it did not run.

    Scores are None when the method was skipped or a score is undefined (see
    ``evaluation.PairwiseMetrics`` and ``evaluation.ClusterMetrics``). seconds is
    the wall-clock time of the method alone, without building the data set.
    """

    dataset: str
    method: str
    records: int
    seconds: float | None
    detail: str
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    b_cubed_precision: float | None = None
    b_cubed_recall: float | None = None
    b_cubed_f1: float | None = None
    exact_cluster_recall: float | None = None
    adjusted_rand_index: float | None = None
    # Recall over the true pairs whose two records are both linkable (see
    # evaluation.linkable_records_sql), and the share of all true pairs that are.
    # The ceiling is the best recall any method can reach on the data set.
    linkable_recall: float | None = None
    recall_ceiling: float | None = None
    skipped: bool = False

    def as_record(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class BenchmarkOptions:
    """Data set sizes and where the optional recordlinkage method comes from."""

    customers: int
    seed: int
    work_dir: Path
    recordlinkage_python: str | None
    febrl_csv: Path | None
    hard_model_path: Path = DEFAULT_MODEL_PATH


def run_dataset(name: str, options: BenchmarkOptions) -> list[MethodResult]:
    """Build data set ``name`` ('hard' or 'febrl3') and score each method on it."""
    folder = options.work_dir / name
    try:
        python = methods.find_recordlinkage_python(options.recordlinkage_python)
    except MethodUnavailable as error:
        python, python_error = None, error

    if name == "hard":
        warehouse = datasets.build_hard_mode(folder, options.customers, options.seed)
        model = ProjectModel(options.hard_model_path, train=False)
    elif name == "febrl3":
        csv_path = options.febrl_csv
        if csv_path is None:
            if python is None:
                raise python_error
            csv_path = methods.find_febrl_csv(python)
        warehouse = datasets.build_febrl(folder, csv_path)
        # The repository model learned German names and e-mail addresses, so FEBRL3
        # gets a model trained on its own records, as a new deployment would.
        model = ProjectModel(folder / "febrl3_model.json", train=True)
    else:
        raise ValueError(f"unknown data set {name!r}; expected 'hard' or 'febrl3'")

    runs: dict[str, Callable[[duckdb.DuckDBPyConnection], str]] = {
        EXACT_EMAIL: methods.exact_email,
        PROJECT: lambda con: methods.project_resolution(con, model),
    }
    if python is not None:
        runs[RECORDLINKAGE] = lambda con: methods.recordlinkage_recipe(con, python)

    results = []
    with duckdb.connect(str(warehouse)) as con:
        for method in METHODS:
            if method not in runs:
                results.append(_skipped(name, method, con, str(python_error)))
                continue
            results.append(_run_method(name, method, runs[method], con))
    return results


def _run_method(dataset, method, run, con: duckdb.DuckDBPyConnection) -> MethodResult:
    logger.info("Running %s on %s", method, dataset)
    started = time.perf_counter()
    detail = run(con)
    seconds = time.perf_counter() - started

    labelled = f"""(
        select p.record_key, p.predicted_id, t.person_id as true_id
        from {methods.PREDICTIONS} as p
        inner join {datasets.GROUND_TRUTH} as t using (record_key)
    )"""
    pairwise = score_groupings(con, labelled)
    clusters = score_clusters(con, labelled)
    linkable = score_groupings(
        con,
        f"""(
            select l.predicted_id, l.true_id
            from {labelled} as l
            where l.record_key in {linkable_records_sql(PERSON_RECORDS, IDENTIFIERS)}
        )""",
    )
    ceiling = linkable.true_pairs / pairwise.true_pairs if pairwise.true_pairs else None
    return MethodResult(
        dataset=dataset,
        method=method,
        records=pairwise.records,
        seconds=seconds,
        detail=detail,
        precision=pairwise.precision,
        recall=pairwise.recall,
        f1=pairwise.f1,
        b_cubed_precision=clusters.b_cubed_precision if clusters else None,
        b_cubed_recall=clusters.b_cubed_recall if clusters else None,
        b_cubed_f1=clusters.b_cubed_f1 if clusters else None,
        exact_cluster_recall=clusters.exact_cluster_recall if clusters else None,
        adjusted_rand_index=clusters.adjusted_rand_index if clusters else None,
        linkable_recall=linkable.recall,
        recall_ceiling=ceiling,
    )


def _skipped(dataset, method, con, reason: str) -> MethodResult:
    logger.warning("Skipped %s on %s: %s", method, dataset, reason)
    records = con.execute(f"select count(*) from {datasets.GROUND_TRUTH}").fetchall()
    return MethodResult(dataset, method, records[0][0], None, reason, skipped=True)
