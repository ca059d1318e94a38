# SPDX-License-Identifier: BSD-3-Clause
"""Run the ``tuned`` profile: tune every model family with optuna, then ensemble.

.. code-block:: bash

    python -m benchmarks.tuned --threads 1 --out benchmarks/results/tuned.csv
    python -m benchmarks.tuned --report --out benchmarks/results/tuned.csv

Protocol, per dataset and seed (``protocol.make_split`` with the profile's
10,000-row training cap):

- The validation rows are halved (stratified for classification, seeded):
  the **tuning half** is what every fit early-stops on and what the search
  scores; the **selection half** is only predicted, and the ensemble is
  selected on it, so its rows are disjoint from every member's training and
  early-stopping rows. The test rows score everything.
- Each model family runs ``n_trials`` optuna trials (TPE sampler seeded with
  the seed; the tabkit families are pruned by ``MedianPruner`` through the
  training loop's per-epoch or per-step callback, and each of their fits gets
  the profile's per-trial budget). The GBDTs keep their adapters' 2,000
  rounds with early stopping, so their spaces leave the number of trees out.
  Parameters added to a library space after the profile was run
  (``PROFILE_EXCLUDED``) are left out too; ``--full-space`` searches them,
  into ``tuned_full`` rows.
  A ``default`` fit of every family runs on the same split for comparison.
- The ``tuned`` row of a family is its best trial by the tuning-half score;
  its ``fit_s`` is the whole search's fit time, ``fit_info`` the best
  parameters and trial counts.
- The ``ensemble`` row: Caruana's greedy selection with replacement
  (``tabkit.ensemble.greedy_selection``, 40 iterations) over the tuned
  members' selection-half predictions (ROC AUC for binary tasks, log loss for
  multiclass, RMSE for regression), scored on the test rows; the same for
  the default fits.

Each search is stored in an optuna journal file and every trial's
predictions in ``.npz`` files under ``--cache`` (not committed), so an
interrupted run resumes mid-search; results go to the CSV one row at a time.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._env import REPO_ROOT, collect_environment, csv_list
from benchmarks.datasets import load_dataset
from benchmarks.measure import limit_threads
from benchmarks.models import MODELS, make_model
from benchmarks.profiles import get_profile
from benchmarks.protocol import (
    Split,
    evaluate,
    higher_is_better,
    is_classification,
    make_split,
    primary_metric,
)
from benchmarks.store import append_row, done_keys, read_frame, repair_csv

logger = logging.getLogger("benchmarks.tuned")

#: Where results go by default.
DEFAULT_OUT = REPO_ROOT / "benchmarks" / "results" / "tuned.csv"
#: Where searches and trial predictions are kept (git-ignored).
DEFAULT_CACHE = REPO_ROOT / "benchmarks" / "results" / "cache" / "tuned"
#: Greedy-selection iterations of the ensembles (TabArena's value).
ENSEMBLE_ITERATIONS = 40
#: Parameters that set the number of boosting rounds: the GBDT adapters keep
#: 2,000 rounds with early stopping instead.
ROUND_PARAMS = ("n_estimators", "iterations", "max_iter")
#: Parameters added to a library space after the profile was run: the
#: committed ``tuned`` rows were searched without them, so the profile leaves
#: them out; ``--full-space`` searches the whole space (rows ``tuned_full``).
PROFILE_EXCLUDED: dict[str, tuple[str, ...]] = {
    "boosted_nn": ("max_iter_per_step", "subsample"),
}


def estimator_class(model: str) -> type:
    """Return the estimator class whose search space a registered model uses.

    Parameters
    ----------
    model : str
        ``lightgbm``, ``xgboost``, ``catboost``, ``hist_gbdt`` or a tabkit
        family name.

    Returns
    -------
    type
        The classifier class (the regressor's space is the same).
    """
    if model == "lightgbm":
        import lightgbm

        return lightgbm.LGBMClassifier
    if model == "xgboost":
        import xgboost

        return xgboost.XGBClassifier
    if model == "catboost":
        import catboost

        return catboost.CatBoostClassifier
    if model == "hist_gbdt":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier
    from tabkit.estimators import FAMILIES

    if model in FAMILIES:
        return FAMILIES[model][0]
    raise KeyError(f"model {model!r} has no search space in the tuned profile")


def model_space(model: str, *, full: bool = False) -> dict[str, Any]:
    """Return the search space of ``model`` in this profile (module docstring).

    Parameters
    ----------
    model : str
        A registered model name.
    full : bool, default=False
        Keep the parameters of :data:`PROFILE_EXCLUDED` (``--full-space``).

    Returns
    -------
    dict
        Parameter names mapped to optuna distributions.

    Examples
    --------
    >>> full, profile = model_space("boosted_nn", full=True), model_space("boosted_nn")
    >>> sorted(set(full) - set(profile))
    ['max_iter_per_step', 'subsample']
    >>> "n_estimators" in model_space("lightgbm")
    False
    """
    from tabkit.tuning import search_space

    space = search_space(estimator_class(model))
    if make_model(model).family == "gbdt":
        space = {k: v for k, v in space.items() if k not in ROUND_PARAMS}
    if not full:
        left_out = PROFILE_EXCLUDED.get(model, ())
        space = {k: v for k, v in space.items() if k not in left_out}
    return space


def tuning_split(
    split: Split, y: np.ndarray, task: str, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Halve the validation rows into (tuning half, selection half).

    Parameters
    ----------
    split : Split
        The seed's split.
    y : ndarray
        All targets.
    task : str
        The task (classification halves are stratified).
    seed : int
        Seed of the halving.

    Returns
    -------
    tune, select : ndarray
        Sorted row positions.
    """
    from sklearn.model_selection import train_test_split

    stratify = y[split.val] if is_classification(task) else None
    try:
        tune, select = train_test_split(
            split.val, test_size=0.5, random_state=seed, stratify=stratify
        )
    except ValueError:  # a class with a single validation row
        tune, select = train_test_split(split.val, test_size=0.5, random_state=seed)
    return np.sort(tune), np.sort(select)


class _Data:
    """One dataset and seed: the frames of every part of the split."""

    def __init__(self, dataset: str, seed: int, train_cap: int | None) -> None:
        X, y, task = load_dataset(dataset)
        split = make_split(y, task, seed, train_cap)
        tune, select = tuning_split(split, y, task, seed)
        self.dataset, self.seed, self.task = dataset, seed, task
        self.X, self.y = X, y
        self.parts = {
            "train": split.train,
            "tune": tune,
            "select": select,
            "test": split.test,
        }
        self.labels = np.unique(y[split.train]) if is_classification(task) else None

    def frame(self, part: str) -> pd.DataFrame:
        return self.X.iloc[self.parts[part]]

    def target(self, part: str) -> np.ndarray:
        return self.y[self.parts[part]]


def _outputs(adapter: Any, X: pd.DataFrame, data: _Data) -> np.ndarray:
    """Probabilities on ``data.labels`` (classification) or values."""
    if not is_classification(data.task):
        return np.asarray(adapter.predict(X), dtype=np.float64).ravel()
    proba = np.asarray(adapter.predict_proba(X), dtype=np.float64)
    out = np.zeros((len(X), len(data.labels)))
    index = np.searchsorted(data.labels, np.asarray(adapter.classes_))
    out[:, index] = proba
    return out / out.sum(axis=1, keepdims=True)


def score(data: _Data, part: str, outputs: np.ndarray) -> dict[str, float]:
    """Metrics of ``outputs`` on a part of the split (``protocol.evaluate``)."""
    y = data.target(part)
    if not is_classification(data.task):
        return evaluate(data.task, y, outputs)
    pred = data.labels[outputs.argmax(axis=1)]
    return evaluate(data.task, y, pred, outputs, data.labels)


def fit_once(
    model: str,
    params: dict[str, Any],
    data: _Data,
    *,
    threads: int,
    budget_s: float | None,
    callbacks: Sequence[Any] = (),
) -> tuple[dict[str, np.ndarray], float, dict[str, Any]]:
    """Fit one configuration; return its outputs per part, fit seconds, fit info."""
    adapter = MODELS[model](params) if params else make_model(model)
    if budget_s is not None:
        adapter.budget_s = float(budget_s)
    if callbacks:
        adapter.callbacks = list(callbacks)
    with limit_threads(threads, set_torch=adapter.uses_torch):
        adapter.setup()
        tick = time.perf_counter()
        adapter.fit(
            data.frame("train"),
            data.target("train"),
            data.frame("tune"),
            data.target("tune"),
            task=data.task,
            seed=data.seed,
            threads=threads,
        )
        fit_s = time.perf_counter() - tick
        outputs = {
            part: _outputs(adapter, data.frame(part), data)
            for part in ("tune", "select", "test")
        }
    return outputs, fit_s, adapter.fit_info()


def _cache_file(cache: Path, data: _Data, model: str, name: str) -> Path:
    path = cache / data.dataset / f"seed{data.seed}" / model / f"{name}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _save(path: Path, outputs: dict[str, np.ndarray], **facts: Any) -> None:
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **outputs, facts=np.array(json.dumps(facts, default=str)))
    tmp.replace(path)


def _load(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    with np.load(path) as f:
        outputs = {k: f[k] for k in f.files if k != "facts"}
        facts = json.loads(str(f["facts"]))
    return outputs, facts


def search(
    model: str,
    data: _Data,
    *,
    n_trials: int,
    threads: int,
    budget_s: float | None,
    cache: Path,
    prune: bool = True,
    full_space: bool = False,
) -> Any:
    """Run (or resume) the optuna search of one model on one dataset and seed.

    Returns
    -------
    optuna.Study
        The study, with every trial's outputs saved under ``cache``.
    """
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from tabkit.tuning import OptunaPruningCallback, suggest_params

    space = model_space(model, full=full_space)
    metric = primary_metric(data.task)
    journal = _cache_file(cache, data, model, "study").with_suffix(".journal")
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5)
        if prune
        else optuna.pruners.NopPruner()
    )
    study = optuna.create_study(
        storage=JournalStorage(JournalFileBackend(str(journal))),
        study_name="search",
        direction="maximize" if higher_is_better(metric) else "minimize",
        sampler=optuna.samplers.TPESampler(seed=data.seed),
        pruner=pruner,
        load_if_exists=True,
    )
    tabkit_model = make_model(model).family == "tabkit"

    def objective(trial: optuna.Trial) -> float:
        params = suggest_params(trial, space)
        callbacks = [OptunaPruningCallback(trial)] if tabkit_model and prune else []
        tick = time.perf_counter()
        try:
            outputs, fit_s, info = fit_once(
                model,
                params,
                data,
                threads=threads,
                budget_s=budget_s,
                callbacks=callbacks,
            )
        finally:
            trial.set_user_attr("fit_s", time.perf_counter() - tick)
        value = score(data, "tune", outputs["tune"])[metric]
        _save(
            _cache_file(cache, data, model, f"trial{trial.number}"),
            outputs,
            params=params,
            fit_s=fit_s,
            fit_info=info,
        )
        return value

    states = (
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.PRUNED,
        optuna.trial.TrialState.FAIL,
    )
    # A trial left RUNNING by a killed run stays so; it is not counted.
    remaining = n_trials - len(study.get_trials(states=states))
    if remaining > 0:
        study.optimize(objective, n_trials=remaining, catch=(Exception,))
    return study


def _base_row(
    data: _Data, model: str, config: str, family: str, *, threads: int
) -> dict[str, Any]:
    return {
        "timestamp": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "dataset": data.dataset,
        "model": model,
        "config": config,
        "family": family,
        "seed": data.seed,
        "task": data.task,
        "n_train": len(data.parts["train"]),
        "n_val": len(data.parts["tune"]) + len(data.parts["select"]),
        "n_test": len(data.parts["test"]),
        "n_features": data.X.shape[1],
        "primary_metric": primary_metric(data.task),
        "threads": threads,
        "isolated": False,
        "profile": "tuned",
        "status": "ok",
        "command": shlex.join(["python", "-m", "benchmarks.tuned", *sys.argv[1:]]),
    }


def _with_metrics(
    row: dict[str, Any], data: _Data, outputs: dict[str, np.ndarray]
) -> dict[str, Any]:
    metric = primary_metric(data.task)
    test = score(data, "test", outputs["test"])
    row["test_primary"] = test[metric]
    row["val_primary"] = score(data, "tune", outputs["tune"])[metric]
    for name, value in test.items():
        row[f"test_{name}"] = value
    return row


def run_model(
    model: str,
    data: _Data,
    *,
    n_trials: int,
    threads: int,
    budget_s: float | None,
    cache: Path,
    out: Path,
    env: dict[str, Any],
    done: set[tuple[str, ...]],
    prune: bool = True,
    config: str = "tuned",
    need_outputs: bool = False,
    full_space: bool = False,
) -> None:
    """Run the default fit and the search of one model; append their rows.

    With ``need_outputs`` (the ensemble of this dataset and seed is still to
    do), a model whose row exists but whose best trial's outputs are not in
    the cache is searched again.
    """
    family = make_model(model).family
    key = (data.dataset, model, "default", str(data.seed))
    default_file = _cache_file(cache, data, model, "default")
    if key not in done or not default_file.exists():
        outputs, fit_s, info = fit_once(
            model, {}, data, threads=threads, budget_s=budget_s
        )
        _save(default_file, outputs, params={}, fit_s=fit_s, fit_info=info)
        if key not in done:
            row = _base_row(data, model, "default", family, threads=threads)
            row.update(env, fit_s=fit_s, budget_s=budget_s, fit_info=json.dumps(info))
            append_row(out, _with_metrics(row, data, outputs))
    key = (data.dataset, model, config, str(data.seed))
    if key in done and (
        not need_outputs or _best_file(cache, data, model, config, out) is not None
    ):
        return
    # Not searched yet, or searched in a run whose cache is gone while the
    # ensemble still needs the outputs: search (again); the new row supersedes.
    tick = time.perf_counter()
    study = search(
        model,
        data,
        n_trials=n_trials,
        threads=threads,
        budget_s=budget_s,
        cache=cache,
        prune=prune,
        full_space=full_space,
    )
    wall = time.perf_counter() - tick
    import optuna

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    row = _base_row(data, model, config, family, threads=threads)
    row.update(env, budget_s=budget_s)
    counts = {
        state: sum(t.state.name == state for t in study.trials)
        for state in ("COMPLETE", "PRUNED", "FAIL")
    }
    if not complete:
        row.update(status="error", error="no trial completed")
        append_row(out, row)
        return
    best = study.best_trial
    outputs, facts = _load(_cache_file(cache, data, model, f"trial{best.number}"))
    info = {
        "best_trial": best.number,
        "best_params": best.params,
        "best_fit_s": facts["fit_s"],
        "n_trials": sum(counts.values()),
        "n_interrupted": len(study.trials) - sum(counts.values()),
        "n_complete": counts["COMPLETE"],
        "n_pruned": counts["PRUNED"],
        "n_failed": counts["FAIL"],
        "this_run_s": wall,
    }
    row["fit_s"] = float(sum(t.user_attrs.get("fit_s", 0.0) for t in study.trials))
    row["fit_info"] = json.dumps(info, sort_keys=True, default=str)
    append_row(out, _with_metrics(row, data, outputs))


def _best_file(
    cache: Path, data: _Data, model: str, config: str, out: Path
) -> Path | None:
    """Return the cached outputs of a model's recorded best trial, if they exist."""
    results = read_frame(out)
    rows = results[
        (results["dataset"] == data.dataset)
        & (results["model"] == model)
        & (results["config"] == config)
        & (results["seed"].astype(str) == str(data.seed))
        & (results["status"] == "ok")
    ]
    if rows.empty:
        return None
    best = json.loads(rows["fit_info"].iloc[-1])["best_trial"]
    path = _cache_file(cache, data, model, f"trial{best}")
    return path if path.exists() else None


def _ensemble_loss(task: str, labels: np.ndarray | None):
    from sklearn.metrics import log_loss, roc_auc_score

    if task == "binary":
        return lambda y, p, w: (
            1.0 - roc_auc_score(y == labels[1], p[:, 1], sample_weight=w)
        )
    if task == "multiclass":
        return lambda y, p, w: log_loss(
            y, np.clip(p, 1e-15, 1.0), labels=labels, sample_weight=w
        )
    return lambda y, p, w: float(np.sqrt(np.average((p - y) ** 2, weights=w)))


def ensemble(
    data: _Data,
    models: Sequence[str],
    *,
    source: str,
    cache: Path,
    out: Path,
    env: dict[str, Any],
    threads: int,
) -> None:
    """Greedy ensemble selection on the selection half over ``models``' outputs.

    ``source`` is "tuned" (each model's best trial) or "default".
    """
    from tabkit.ensemble import greedy_selection

    members, preds, tests, tunes = [], [], [], []
    for model in models:
        if source == "default":
            path: Path | None = _cache_file(cache, data, model, "default")
        else:
            path = _best_file(cache, data, model, source, out)
        if path is None or not path.exists():
            logger.warning(
                "%s / seed %d: no cached outputs of %s (%s); ensemble left out",
                data.dataset,
                data.seed,
                model,
                source,
            )
            return
        outputs, _ = _load(path)
        members.append(model)
        preds.append(outputs["select"])
        tests.append(outputs["test"])
        tunes.append(outputs["tune"])
    loss = _ensemble_loss(data.task, data.labels)
    counts, trajectory = greedy_selection(
        preds, data.target("select"), loss, ENSEMBLE_ITERATIONS
    )
    weights = counts / counts.sum()
    combined = {
        "test": sum(w * t for w, t in zip(weights, tests, strict=True)),
        "tune": sum(w * t for w, t in zip(weights, tunes, strict=True)),
    }
    row = _base_row(data, "ensemble", source, "ensemble", threads=threads)
    single = {
        m: float(loss(data.target("select"), p, None))
        for m, p in zip(members, preds, strict=True)
    }
    info = {
        "weights": {
            m: float(w) for m, w in zip(members, weights, strict=True) if w > 0
        },
        "selection_loss": trajectory[-1],
        "member_selection_loss": single,
        "iterations": ENSEMBLE_ITERATIONS,
    }
    row.update(env, fit_info=json.dumps(info, sort_keys=True))
    append_row(out, _with_metrics(row, data, combined))


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    profile = get_profile("tuned")
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.tuned", description=__doc__.splitlines()[1]
    )
    parser.add_argument("--models", help="comma-separated models (default: profile)")
    parser.add_argument(
        "--datasets", help="comma-separated datasets (default: profile)"
    )
    parser.add_argument("--seeds", help="seeds, e.g. 0,1,2 (default: profile)")
    parser.add_argument("--trials", type=int, default=profile.n_trials)
    parser.add_argument(
        "--budget",
        type=float,
        default=profile.budget_s,
        help="seconds per tabkit trial",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--no-prune", action="store_true", help="run every trial to the end"
    )
    parser.add_argument(
        "--full-space",
        action="store_true",
        help="search the library's whole space (PROFILE_EXCLUDED too)",
    )
    parser.add_argument(
        "--config",
        default=None,
        help="config name of the tuned rows (default: tuned, with _full after "
        "--full-space and _noprune after --no-prune)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument(
        "--report", action="store_true", help="only write <out>.md from the CSV"
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(levelname)s:%(name)s:%(message)s"
    )
    if args.report:
        from benchmarks.tuned_report import write_tuned_report

        if not Path(args.out).is_file():
            parser.error(f"--report: no results file {str(args.out)!r}")

        write_tuned_report(args.out)
        return 0
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    models = csv_list(args.models) if args.models else list(profile.models)
    datasets = csv_list(args.datasets) if args.datasets else list(profile.datasets)
    seeds = (
        [int(s) for s in csv_list(args.seeds)]
        if args.seeds
        else list(range(profile.seeds))
    )
    prune = not args.no_prune
    config = args.config or (
        "tuned" + ("_full" if args.full_space else "") + ("" if prune else "_noprune")
    )
    cache = args.cache if config == "tuned" else args.cache / config
    env = collect_environment()
    env["train_cap"] = profile.train_cap
    if args.out.exists():
        repair_csv(args.out)
    for seed in seeds:
        for dataset in datasets:
            data = _Data(dataset, seed, profile.train_cap)
            need = (dataset, "ensemble", "tuned", str(seed)) not in (
                done_keys(args.out) if args.out.exists() else set()
            )
            for model in models:
                done = done_keys(args.out) if args.out.exists() else set()
                logger.info("%s / %s / seed %d: searching", dataset, model, seed)
                run_model(
                    model,
                    data,
                    n_trials=args.trials,
                    threads=args.threads,
                    budget_s=args.budget,
                    cache=cache,
                    out=args.out,
                    env=env,
                    done=done,
                    prune=prune,
                    config=config,
                    need_outputs=need and config == "tuned",
                    full_space=args.full_space,
                )
            if config != "tuned":
                continue
            done = done_keys(args.out)
            for source in ("tuned", "default"):
                if (dataset, "ensemble", source, str(seed)) not in done:
                    ensemble(
                        data,
                        models,
                        source=source,
                        cache=cache,
                        out=args.out,
                        env=env,
                        threads=args.threads,
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
