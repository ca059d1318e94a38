# SPDX-License-Identifier: BSD-3-Clause
"""One fit, measured: split, fit, predict timings, metrics, peak memory.

``measure_fit`` fills a row of the results CSV. It runs the same code in the
runner's own process (``isolate=False``) and in a fresh worker process (the
default, see ``benchmarks._worker``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import resource
import statistics
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.datasets import load_dataset
from benchmarks.models import ModelAdapter, make_model
from benchmarks.protocol import (
    SECONDARY_METRICS,
    Split,
    evaluate,
    is_classification,
    make_split,
    primary_metric,
)

logger = logging.getLogger(__name__)

#: Rows of the fixed prediction frame (drawn from the test rows with replacement).
PREDICT_ROWS = 5000
#: Timed repeats of the prediction on that frame; the median is recorded.
PREDICT_REPEATS = 3


def _status_kib(field: str) -> int | None:
    """Read a ``/proc/self/status`` field in KiB (Linux); None if unavailable."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB.

    On Linux this is ``VmHWM`` of ``/proc/self/status``: the high-water mark
    of this process's own memory. ``ru_maxrss`` is used elsewhere; on Linux it
    is not, because a child started by ``subprocess`` (vfork + exec) inherits
    its parent's ``ru_maxrss``, so every worker would report at least the
    runner's peak.

    Returns
    -------
    float
        MiB.
    """
    hwm = _status_kib("VmHWM")
    if hwm is not None:
        return hwm / 1024
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024


def reset_peak_rss() -> bool:
    """Reset this process's peak-memory mark to its current RSS (Linux).

    Writes ``5`` to ``/proc/self/clear_refs``, so that ``peak_rss_mb`` then
    measures from the memory in use now (e.g. after loading and subsampling a
    large dataset) rather than from the process start.

    Returns
    -------
    bool
        Whether the mark was reset.
    """
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        logger.debug("cannot reset the peak RSS mark", exc_info=True)
        return False
    return True


@contextlib.contextmanager
def limit_threads(threads: int, *, set_torch: bool) -> Iterator[None]:
    """Limit native thread pools (OpenMP, BLAS; torch if asked) to ``threads``.

    Parameters
    ----------
    threads : int
        Thread count.
    set_torch : bool
        Also call ``torch.set_num_threads(threads)`` (restored afterwards).
    """
    from threadpoolctl import threadpool_limits

    previous = None
    torch = None
    if set_torch:
        try:
            import torch
        except ImportError:
            torch = None
        else:
            previous = torch.get_num_threads()
            torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        if torch is not None and previous is not None:
            torch.set_num_threads(previous)


def _predict_scores(adapter: ModelAdapter, X: pd.DataFrame, task: str) -> np.ndarray:
    """Predict what the timings measure: probabilities or values."""
    if is_classification(task):
        return adapter.predict_proba(X)
    return adapter.predict(X)


def _timed(func, *args) -> tuple[Any, float]:
    start = time.perf_counter()
    out = func(*args)
    return out, time.perf_counter() - start


def _metrics(adapter, X, y, task) -> tuple[dict[str, float], float]:
    """Metrics on (X, y) and the seconds of the one scoring predict."""
    scores, seconds = _timed(_predict_scores, adapter, X, task)
    if not is_classification(task):
        return evaluate(task, y, scores), seconds
    labels = np.asarray(adapter.classes_)
    y_pred = adapter.predict(X)
    if not np.all(np.isfinite(scores)):
        logger.warning("%s: non-finite probabilities", adapter.name)
        metrics = {"accuracy": float(np.mean(y_pred == y))}
        metrics.update(dict.fromkeys(("roc_auc", "log_loss"), float("nan")))
        metrics["non_finite_proba"] = True
        return metrics, seconds
    return evaluate(task, y, y_pred, scores, labels), seconds


def _predict_time(adapter, X: pd.DataFrame, test: np.ndarray, task, seed) -> float:
    rng = np.random.default_rng(seed)
    frame = X.iloc[rng.choice(test, size=PREDICT_ROWS, replace=True)]
    times = [
        _timed(_predict_scores, adapter, frame, task)[1] for _ in range(PREDICT_REPEATS)
    ]
    return float(statistics.median(times))


def _record_data(row: dict, X: pd.DataFrame, task: str, split: Split) -> None:
    row.update(
        task=task,
        n_train=len(split.train),
        n_val=len(split.val),
        n_test=len(split.test),
        n_features=X.shape[1],
        primary_metric=primary_metric(task),
    )


def _record_metrics(row: dict, task: str, test: dict, val: dict) -> None:
    name = primary_metric(task)
    row["test_primary"] = test[name]
    row["val_primary"] = val[name]
    for metric in (name, *SECONDARY_METRICS[task]):
        row[f"test_{metric}"] = test[metric]


def measure_fit(
    row: dict[str, Any],
    dataset: str,
    model: str | ModelAdapter,
    seed: int,
    *,
    threads: int,
    train_cap: int | None = None,
    data: tuple[pd.DataFrame, np.ndarray, str] | None = None,
    split: Split | None = None,
    budget_s: float | None = None,
    reset_peak: bool = False,
) -> dict[str, Any]:
    """Fit one model on one dataset and seed; fill ``row`` as it goes.

    ``row`` is updated in place step by step, so that a caller catching an
    exception still has the facts gathered before it. ``fit_s`` is the wall
    time of the adapter's ``fit`` (encoding included; the model's libraries are
    imported before, by the adapter's ``setup``); ``predict_s`` the
    median of ``PREDICT_REPEATS`` predictions (``predict_proba`` for
    classifiers) on a fixed ``PREDICT_ROWS``-row frame drawn from the test rows
    with replacement (seeded); ``predict_test_s`` the one prediction on the
    test rows that is scored; ``peak_rss_mb`` the process's peak memory (see
    ``peak_rss_mb``), from the start or from just before the fit
    (``reset_peak``).

    Parameters
    ----------
    row : dict
        The row to fill (CSV columns).
    dataset : str
        Registered dataset name (only read when ``data`` is None).
    model : str or ModelAdapter
        Registered model name, or an adapter.
    seed : int
        Split and model seed.
    threads : int
        Thread count given to the model and to the native thread pools.
    train_cap : int or None, default=None
        Cap on the training rows (see ``protocol.make_split``); ignored when
        ``split`` is given.
    data : tuple or None, default=None
        Already loaded ``(X, y, task)``: ``dataset``'s rows, or a subset that
        a caller built (e.g. ``benchmarks.scaling``).
    split : Split or None, default=None
        Pre-built row positions into ``data``; ``protocol.make_split`` when None.
    budget_s : float or None, default=None
        Time budget handed to the model as ``adapter.budget_s`` before the fit
        (adapters that declare a ``budget_s`` attribute honour it).
    reset_peak : bool, default=False
        Reset the peak-memory mark before the fit (``reset_peak_rss``), so
        that ``peak_rss_mb`` leaves out what loading the data took.

    Returns
    -------
    dict
        ``row``, complete, with ``status="ok"``.
    """
    adapter = make_model(model) if isinstance(model, str) else model
    if budget_s is not None:
        adapter.budget_s = float(budget_s)
    X, y, task = data if data is not None else load_dataset(dataset)
    if split is None:
        split = make_split(y, task, seed, train_cap)
    _record_data(row, X, task, split)
    X_train, X_val, X_test = (X.iloc[i] for i in split)
    fit = functools.partial(adapter.fit, task=task, seed=seed, threads=threads)
    with limit_threads(threads, set_torch=adapter.uses_torch):
        setup = getattr(adapter, "setup", None)
        if setup is not None:
            setup()  # imports are not part of the fit time
        if reset_peak:
            reset_peak_rss()
        _, row["fit_s"] = _timed(fit, X_train, y[split.train], X_val, y[split.val])
        val, _ = _metrics(adapter, X_val, y[split.val], task)
        test, row["predict_test_s"] = _metrics(adapter, X_test, y[split.test], task)
        row["predict_s"] = _predict_time(adapter, X, split.test, task, seed)
    _record_metrics(row, task, test, val)
    info = adapter.fit_info()
    if test.get("non_finite_proba"):
        info["non_finite_proba"] = True
    row.update(fit_info=json.dumps(info, sort_keys=True), status="ok")
    row["peak_rss_mb"] = peak_rss_mb()
    return row
