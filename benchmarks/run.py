# SPDX-License-Identifier: BSD-3-Clause
"""Run a benchmark: every (dataset, model, seed) not yet in the results CSV.

.. code-block:: bash

    python -m benchmarks.run --suite foundation --models lightgbm,mlp \
        --seeds 0,1,2 --threads 1 --out benchmarks/results/foundation.csv

By default each fit runs in a fresh worker process (``benchmarks._worker``):
its peak RSS is that fit's, its thread settings are clean (``OMP_NUM_THREADS``,
``MKL_NUM_THREADS`` and ``OPENBLAS_NUM_THREADS`` set before it imports
anything), and a crash or an exceeded time limit ends only that fit. Each
row is appended to the CSV as soon as its fit ends; rerunning the same
command resumes where a killed run stopped.

Two limits exist: ``--budget S`` kills any fit after S seconds; ``--model-budget
S`` is the per-fit budget of the neural models (``profiles.BUDGETED_FAMILIES``):
the adapter gets ``budget_s = S`` and its worker is killed after
``profiles.hard_timeout(S)`` = ``1.5 * S + 60`` seconds. Profiles
(``python -m benchmarks.tabular``) use the latter.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from benchmarks._env import (
    REPO_ROOT,
    child_pythonpath,
    collect_environment,
    csv_list,
    thread_environment,
)
from benchmarks._worker import error_message
from benchmarks.datasets import DATASETS, SUITES, load_dataset, suite_datasets
from benchmarks.measure import measure_fit
from benchmarks.models import MODELS, make_model
from benchmarks.profiles import TIMEOUT_GRACE_S, fit_limits
from benchmarks.store import (
    COLUMNS,
    KEY,
    append_row,
    done_keys,
    read_frame,
    repair_csv,
    row_key,
)

logger = logging.getLogger("benchmarks.run")

__all__ = ["COLUMNS", "KEY", "main", "run_benchmark", "run_isolated", "summary"]

#: Characters of the worker's output kept in an error message.
LOG_TAIL_CHARS = 1500


def _defining_module(obj: Any) -> str | None:
    """Return the module defining a registered loader or factory, if importable."""
    while isinstance(obj, functools.partial):
        obj = obj.func
    module = getattr(obj, "__module__", None)
    if module in (None, "__main__", "builtins"):
        return None
    return module


def worker_imports(model: str, dataset: str | None = None) -> list[str]:
    """Modules a worker imports so that ``model`` and ``dataset`` are registered.

    Parameters
    ----------
    model : str
        Registered model name.
    dataset : str or None, default=None
        Registered dataset name, if the worker loads it.

    Returns
    -------
    list of str
        The modules defining the model's factory and the dataset's loader.
    """
    modules = [_defining_module(MODELS[model])]
    if dataset is not None:
        modules.insert(0, _defining_module(DATASETS[dataset]))
    return list(dict.fromkeys(m for m in modules if m))


def _kill(proc: subprocess.Popen) -> None:
    """Kill a worker and everything it started (its own session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _log_tail(path: Path) -> str:
    text = path.read_text(encoding="utf-8", errors="replace")
    return text[-LOG_TAIL_CHARS:].strip()


def run_isolated(spec: dict[str, Any], timeout: float | None) -> dict[str, Any]:
    """Run one fit in a fresh worker process.

    Parameters
    ----------
    spec : dict
        ``dataset``, ``model``, ``seed``, ``threads``, ``train_cap``,
        ``imports`` and optional keys (see ``benchmarks._worker``).
    timeout : float or None
        Wall-clock seconds the worker may take (loading, fit, prediction);
        None for no limit.

    Returns
    -------
    dict
        The worker's row, or a row with ``status`` "timeout" / "error" when
        it was killed or died without a result.
    """
    env = {**os.environ, **thread_environment(spec["threads"])}
    env["PYTHONPATH"] = child_pythonpath()
    with tempfile.TemporaryDirectory(prefix="tabkit-bench-") as tmp:
        spec_path, result_path = Path(tmp, "spec.json"), Path(tmp, "result.json")
        log_path = Path(tmp, "worker.log")
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        command = [sys.executable, "-m", "benchmarks._worker"]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [*command, str(spec_path), str(result_path)],
                env=env,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill(proc)
                error = f"killed after the {timeout:g} s time limit"
                if spec.get("budget_s") is not None:
                    error += f" (model budget {spec['budget_s']:g} s)"
                return {"status": "timeout", "error": error}
            except BaseException:
                _kill(proc)
                raise
        if result_path.exists():
            return json.loads(result_path.read_text(encoding="utf-8"))
        tail = _log_tail(log_path)
        return {"status": "error", "error": f"worker exited with {code}: {tail}"}


def run_inline(spec: dict[str, Any], data: tuple | None = None) -> dict[str, Any]:
    """Run one fit in this process (``isolate=False``).

    ``peak_rss_mb`` is then this process's peak so far, not the fit's alone.
    An ``Exception`` becomes an error row; ``KeyboardInterrupt`` propagates.

    Parameters
    ----------
    spec : dict
        As for ``run_isolated``.
    data : tuple or None, default=None
        Already loaded ``(X, y, task)`` of the dataset.

    Returns
    -------
    dict
        The row.
    """
    row: dict[str, Any] = {}
    try:
        measure_fit(
            row,
            spec["dataset"],
            spec["model"],
            spec["seed"],
            threads=spec["threads"],
            train_cap=spec["train_cap"],
            data=data,
            budget_s=spec.get("budget_s"),
        )
    except Exception as exc:
        logger.debug("fit failed", exc_info=True)
        row.update(status="error", error=error_message(exc))
    return row


SeedPlan = Sequence[int] | Mapping[str, Sequence[int]]


def _seeds_of(seeds: SeedPlan, dataset: str) -> list[int]:
    chosen = seeds[dataset] if isinstance(seeds, Mapping) else seeds
    return [int(s) for s in chosen]


def _plan(
    models: Sequence[str], datasets: Sequence[str], seeds: SeedPlan, skip: set
) -> list[dict[str, Any]]:
    """Fits to run, dataset-major then seed then model, minus ``skip`` keys."""
    adapters = {m: make_model(m) for m in models}
    todo = []
    for dataset in datasets:
        for seed in _seeds_of(seeds, dataset):
            for name, adapter in adapters.items():
                fit = {
                    "dataset": dataset,
                    "model": name,
                    "config": adapter.config,
                    "family": adapter.family,
                    "seed": int(seed),
                }
                if row_key(fit) not in skip:
                    todo.append(fit)
    return todo


def _check_names(models: Iterable[str], datasets: Iterable[str]) -> None:
    unknown_models = [m for m in models if m not in MODELS]
    unknown_data = [d for d in datasets if d not in DATASETS]
    if unknown_models:
        raise KeyError(f"unknown models {unknown_models}; known: {sorted(MODELS)}")
    if unknown_data:
        raise KeyError(f"unknown datasets {unknown_data}; known: {sorted(DATASETS)}")


def _api_command(**kwargs: Any) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return f"benchmarks.run.run_benchmark({args})"


def run_benchmark(
    models: Sequence[str],
    datasets: Sequence[str],
    seeds: SeedPlan,
    out: str | os.PathLike,
    *,
    threads: int = 1,
    isolate: bool = True,
    budget: float | None = None,
    progress: bool = True,
    train_cap: int | None = None,
    retry_errors: bool = False,
    command: str | None = None,
    model_budget: float | None = None,
    timeout_grace_s: float = TIMEOUT_GRACE_S,
    profile: str | None = None,
) -> pd.DataFrame:
    """Run every (dataset, model, seed) not yet in ``out`` and append the rows.

    Parameters
    ----------
    models : sequence of str
        Registered model names (``benchmarks.models.MODELS``).
    datasets : sequence of str
        Registered dataset names (``benchmarks.datasets.DATASETS``).
    seeds : sequence of int or mapping of str to sequence of int
        Split and model seeds: the same for every dataset, or per dataset.
    out : path-like
        Results CSV; created, or repaired and resumed.
    threads : int, default=1
        Thread count of every model and native thread pool.
    isolate : bool, default=True
        Run each fit in a fresh worker process (per-fit peak RSS, clean thread
        settings, ``budget`` enforced). False runs them in this process.
    budget : float or None, default=None
        Wall-clock limit in seconds of every isolated fit (the worker is
        killed and the fit recorded as "timeout"); not enforced in-process.
    progress : bool, default=True
        Show a tqdm progress bar over the fits (on stderr).
    train_cap : int or None, default=None
        Cap on the training rows (see ``protocol.make_split``).
    retry_errors : bool, default=False
        Rerun fits recorded with status "error" or "timeout"; by default only
        fits without any record run.
    command : str or None, default=None
        The command line to record; a Python call is recorded when None.
    model_budget : float or None, default=None
        Per-fit time budget in seconds of the models in
        ``profiles.BUDGETED_FAMILIES``: set as ``adapter.budget_s`` before the
        fit, and their isolated worker is killed (status "timeout") after
        ``profiles.hard_timeout(model_budget, grace_s=timeout_grace_s)``.
    timeout_grace_s : float, default=profiles.TIMEOUT_GRACE_S
        Seconds the hard timeout adds to ``1.5 * model_budget``.
    profile : str or None, default=None
        Profile name recorded in the ``profile`` column.

    Returns
    -------
    DataFrame
        Every record of ``out`` (earlier runs included).
    """
    models, datasets = list(models), list(datasets)
    if isinstance(seeds, Mapping):
        seeds = {d: _seeds_of(seeds, d) for d in datasets}
    else:
        seeds = [int(s) for s in seeds]
    _check_names(models, datasets)
    if command is None:
        settings = {"threads": threads, "isolate": isolate, "budget": budget}
        settings.update(train_cap=train_cap, model_budget=model_budget)
        settings["profile"] = profile
        command = _api_command(
            models=models, datasets=datasets, seeds=seeds, out=str(out), **settings
        )
    if (budget is not None or model_budget is not None) and not isolate:
        logger.warning("hard time limits are only enforced with isolation")
    out = Path(out)
    repair_csv(out)
    todo = _plan(models, datasets, seeds, done_keys(out, retry_errors=retry_errors))
    logger.info("%d fits to run, results in %s", len(todo), out)
    base = {
        **collect_environment(),
        "threads": threads,
        "isolated": isolate,
        "train_cap": train_cap,
        "profile": profile,
        "command": command,
    }
    cache: dict[str, tuple] = {}
    with logging_redirect_tqdm(), tqdm(todo, disable=not progress, unit="fit") as bar:
        for fit in bar:
            bar.set_postfix_str(f"{fit['dataset']} {fit['model']} seed={fit['seed']}")
            fit_budget, timeout = fit_limits(
                fit["family"], model_budget, grace_s=timeout_grace_s, timeout_s=budget
            )
            spec = {**fit, "threads": threads, "train_cap": train_cap}
            spec["budget_s"] = fit_budget
            if isolate:
                spec["imports"] = worker_imports(fit["model"], fit["dataset"])
                result = run_isolated(spec, timeout)
            else:
                data = _cached_data(cache, fit["dataset"])
                result = run_inline(spec, data)
            _log_result(fit, result)
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            limits = {"budget_s": fit_budget, "timeout_s": timeout if isolate else None}
            row = {**base, **result, **fit, **limits, "timestamp": stamp}
            append_row(out, row)
    return read_frame(out)


def _cached_data(cache: dict[str, tuple], dataset: str) -> tuple | None:
    """Load a dataset once per in-process run (None if loading fails)."""
    if dataset not in cache:
        try:
            cache[dataset] = load_dataset(dataset)
        except Exception:
            logger.debug("loading %s failed", dataset, exc_info=True)
            return None  # measure_fit loads it again and records the error
    return cache[dataset]


def _log_result(fit: dict[str, Any], result: dict[str, Any]) -> None:
    what = f"{fit['dataset']} / {fit['model']} / seed {fit['seed']}"
    if result.get("status") == "ok":
        logger.info(
            "%s: %s=%.4f fit %.2f s",
            what,
            result["primary_metric"],
            result["test_primary"],
            result["fit_s"],
        )
    else:
        logger.warning("%s: %s: %s", what, result.get("status"), result.get("error"))


# ============================================================ command line


def build_parser() -> argparse.ArgumentParser:
    """Build the command-line parser of ``python -m benchmarks.run``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--suite", choices=sorted(SUITES), help="dataset suite")
    parser.add_argument(
        "--datasets", type=csv_list, help="comma-separated datasets (default: suite)"
    )
    parser.add_argument(
        "--models", type=csv_list, help="comma-separated models (default: all)"
    )
    parser.add_argument("--seeds", type=csv_list, default=["0"], help="e.g. 0,1,2")
    parser.add_argument("--threads", type=int, default=2, help="threads per fit")
    parser.add_argument("--out", type=Path, required=True, help="results CSV")
    parser.add_argument(
        "--budget", type=float, help="wall-clock limit of every fit, in seconds"
    )
    parser.add_argument(
        "--model-budget",
        type=float,
        help="per-fit time budget of the neural models, in seconds",
    )
    parser.add_argument("--train-cap", type=int, help="cap on training rows")
    parser.add_argument("--no-isolate", action="store_true", help="fit in this process")
    parser.add_argument(
        "--retry-errors", action="store_true", help="rerun error/timeout fits"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--log-level", default="INFO", help="logging level")
    return parser


def summary(results: pd.DataFrame, command: str) -> str:
    """One line: records in total and the statuses of this command's fits.

    Parameters
    ----------
    results : DataFrame
        Records of the CSV.
    command : str
        The command whose records are counted.

    Returns
    -------
    str
        The line, with its newline.
    """
    mine = results[results["command"] == command] if len(results) else results
    counts = Counter(mine["status"]) if len(mine) else Counter()
    parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return f"{len(results)} records in total; this command: {parts or 'nothing'}\n"


def unfinished(
    models: Sequence[str], datasets: Sequence[str], seeds: SeedPlan, out: Path
) -> list[dict[str, Any]]:
    """Planned fits without an "ok" record in ``out``.

    Parameters
    ----------
    models, datasets, seeds
        As for ``run_benchmark``.
    out : Path
        Results CSV.

    Returns
    -------
    list of dict
        The fits (``dataset``, ``model``, ``config``, ``family``, ``seed``).
    """
    return _plan(models, datasets, seeds, done_keys(out, retry_errors=True))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks.run``.

    Parameters
    ----------
    argv : sequence of str or None, default=None
        Arguments; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
        0 when every fit of the plan has an "ok" record, 1 otherwise.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    if not args.datasets and not args.suite:
        build_parser().error("give --suite or --datasets")
    datasets = args.datasets or suite_datasets(args.suite)
    models = args.models or sorted(MODELS)
    command = shlex.join(["python", "-m", "benchmarks.run", *argv])
    seeds = [int(s) for s in args.seeds]
    results = run_benchmark(
        models,
        datasets,
        seeds,
        args.out,
        threads=args.threads,
        isolate=not args.no_isolate,
        budget=args.budget,
        progress=not args.no_progress,
        train_cap=args.train_cap,
        retry_errors=args.retry_errors,
        command=command,
        model_budget=args.model_budget,
    )
    sys.stdout.write(summary(results, command))
    return 0 if not unfinished(models, datasets, seeds, args.out) else 1


if __name__ == "__main__":
    sys.exit(main())
