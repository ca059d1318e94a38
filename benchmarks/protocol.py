# SPDX-License-Identifier: BSD-3-Clause
"""The benchmark protocol: tasks, splits and metrics (``docs/benchmarks.md``).

A split for seed ``s`` holds out 20 % of the rows as test (stratified for
classification), then 20 % of the rest as validation (stratified), and trains
on the remainder. Every model, GBDTs included, early-stops on the same
validation rows.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    log_loss,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)
from sklearn.model_selection import train_test_split

logger = logging.getLogger(__name__)

TASKS = ("binary", "multiclass", "regression")
TEST_FRACTION = 0.2
VAL_FRACTION = 0.2

#: Primary metric per task.
PRIMARY_METRIC = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "rmse"}
#: Secondary metrics per task.
SECONDARY_METRICS = {
    "binary": ("log_loss", "accuracy"),
    "multiclass": ("log_loss",),
    "regression": ("r2",),
}
#: Every metric any task reports, in CSV column order.
ALL_METRICS = ("roc_auc", "log_loss", "accuracy", "rmse", "r2")
_HIGHER_IS_BETTER = {
    "roc_auc": True,
    "accuracy": True,
    "r2": True,
    "log_loss": False,
    "rmse": False,
    "mae": False,
}


class Split(NamedTuple):
    """Row positions of one train / validation / test split (sorted, disjoint)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def check_task(task: str) -> str:
    """Return ``task`` if it is a known task, else raise ``ValueError``.

    Parameters
    ----------
    task : str
        Candidate task name.

    Returns
    -------
    str
        The same task name.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task=}; expected one of {TASKS}")
    return task


def is_classification(task: str) -> bool:
    """Whether ``task`` is a classification task.

    Parameters
    ----------
    task : str
        One of ``TASKS``.

    Returns
    -------
    bool
        True for "binary" and "multiclass".
    """
    return check_task(task) != "regression"


def _split_off(
    idx: np.ndarray, y: np.ndarray, size: float | int, stratify: bool, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``idx`` into (rest, held-out of ``size``), stratified when asked.

    Stratification falls back to a plain random split, with a warning, when a
    class is too rare to be stratified.
    """
    strata = y[idx] if stratify else None
    try:
        rest, held = train_test_split(
            idx, test_size=size, stratify=strata, random_state=seed
        )
    except ValueError as exc:
        if strata is None:
            raise
        logger.warning("stratified split impossible (%s); splitting at random", exc)
        rest, held = train_test_split(idx, test_size=size, random_state=seed)
    return np.sort(rest), np.sort(held)


def make_split(
    y: np.ndarray, task: str, seed: int, train_cap: int | None = None
) -> Split:
    """Split rows into train / validation / test for one seed.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Targets, used for stratification (classification tasks).
    task : {"binary", "multiclass", "regression"}
        The task; classification splits are stratified.
    seed : int
        Seed of the split; the same seed gives the same split.
    train_cap : int or None, default=None
        Keep at most this many training rows (a stratified, seeded subsample).
        Validation and test rows are unaffected.

    Returns
    -------
    Split
        Sorted, disjoint row positions covering all rows (all but the dropped
        training rows when ``train_cap`` applies).
    """
    y = np.asarray(y)
    stratify = is_classification(task)
    rows = np.arange(len(y))
    rest, test = _split_off(rows, y, TEST_FRACTION, stratify, seed)
    train, val = _split_off(rest, y, VAL_FRACTION, stratify, seed)
    if train_cap is not None and train_cap < len(train):
        _, train = _split_off(train, y, int(train_cap), stratify, seed)
    return Split(train=train, val=val, test=test)


def primary_metric(task: str) -> str:
    """Name of the primary metric of ``task``.

    Parameters
    ----------
    task : str
        One of ``TASKS``.

    Returns
    -------
    str
        "roc_auc", "accuracy" or "rmse".
    """
    return PRIMARY_METRIC[check_task(task)]


def higher_is_better(metric: str) -> bool:
    """Whether larger values of ``metric`` are better.

    Parameters
    ----------
    metric : str
        A metric name, optionally prefixed by ``test_`` or ``val_``.

    Returns
    -------
    bool
        True for ROC AUC, accuracy and R², False for log loss, RMSE and MAE.
    """
    name = metric.removeprefix("test_").removeprefix("val_")
    if name not in _HIGHER_IS_BETTER:
        raise ValueError(f"unknown metric {metric=}")
    return _HIGHER_IS_BETTER[name]


def _classification_metrics(
    task: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray,
    labels: np.ndarray,
) -> dict[str, float]:
    proba = np.asarray(proba, dtype=np.float64)
    proba = proba / proba.sum(axis=1, keepdims=True)  # float32 rounding
    scores = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "log_loss": float(log_loss(y_true, proba, labels=labels)),
    }
    if task == "binary":
        positive = np.asarray(y_true) == labels[1]
        scores["roc_auc"] = float(roc_auc_score(positive, proba[:, 1]))
    return scores


def evaluate(
    task: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray | None = None,
    labels: np.ndarray | None = None,
) -> dict[str, float]:
    """Primary and secondary metrics of one prediction.

    Parameters
    ----------
    task : {"binary", "multiclass", "regression"}
        The task.
    y_true : ndarray of shape (n_samples,)
        True targets.
    y_pred : ndarray of shape (n_samples,)
        Predicted labels (classification) or values (regression).
    proba : ndarray of shape (n_samples, n_classes) or None, default=None
        Class probabilities, columns in the order of ``labels``; required for
        classification. Rows are renormalised to sum to one (float32 outputs).
    labels : ndarray of shape (n_classes,) or None, default=None
        Class labels of the ``proba`` columns; defaults to the sorted unique
        values of ``y_true``.

    Returns
    -------
    dict of str to float
        Binary: ``roc_auc`` (primary), ``log_loss``, ``accuracy``;
        multiclass: ``accuracy`` (primary), ``log_loss``; regression: ``rmse``
        (primary), ``r2``.
    """
    y_true = np.asarray(y_true)
    if not is_classification(task):
        y_true = y_true.astype(np.float64)
        y_hat = np.asarray(y_pred, dtype=np.float64).ravel()
        return {
            "rmse": float(root_mean_squared_error(y_true, y_hat)),
            "r2": float(r2_score(y_true, y_hat)),
        }
    if proba is None:
        raise ValueError("classification metrics need predicted probabilities")
    labels = np.unique(y_true) if labels is None else np.asarray(labels)
    return _classification_metrics(task, y_true, np.asarray(y_pred), proba, labels)
