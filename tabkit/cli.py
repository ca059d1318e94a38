# SPDX-License-Identifier: BSD-3-Clause
"""The ``tabkit`` command line.

``tabkit demo`` fits the boosted NN and LightGBM side by side on data that
ships with scikit-learn and prints their test scores and fit times;
``tabkit --version`` prints the version.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, roc_auc_score, root_mean_squared_error
from sklearn.model_selection import train_test_split

import tabkit

_DEMO_DATA = {
    "breast_cancer": (load_breast_cancer, "binary"),
    "digits": (load_digits, "multiclass"),
    "diabetes": (load_diabetes, "regression"),
}


def _score(task: str, model: Any, X: pd.DataFrame, y: np.ndarray) -> tuple[str, float]:
    if task == "binary":
        return "ROC AUC", float(roc_auc_score(y, model.predict_proba(X)[:, 1]))
    if task == "multiclass":
        return "accuracy", float(accuracy_score(y, model.predict(X)))
    return "RMSE", float(root_mean_squared_error(y, model.predict(X)))


def _models(task: str, seed: int, threads: int) -> dict[str, Any]:
    import lightgbm  # noqa: PLC0415 - imported when the demo runs

    if task == "regression":
        return {
            "BoostedNNRegressor": tabkit.BoostedNNRegressor(
                random_state=seed, n_threads=threads
            ),
            "LGBMRegressor": lightgbm.LGBMRegressor(
                n_estimators=2000, random_state=seed, n_jobs=threads, verbose=-1
            ),
        }
    return {
        "BoostedNNClassifier": tabkit.BoostedNNClassifier(
            random_state=seed, n_threads=threads
        ),
        "LGBMClassifier": lightgbm.LGBMClassifier(
            n_estimators=2000, random_state=seed, n_jobs=threads, verbose=-1
        ),
    }


def _fit(model: Any, X: pd.DataFrame, y: Any, X_val: pd.DataFrame, y_val: Any) -> None:
    if isinstance(model, tabkit.BoostedNNClassifier | tabkit.BoostedNNRegressor):
        model.fit(X, y, X_val=X_val, y_val=y_val)
        return
    import lightgbm  # noqa: PLC0415

    stop = [lightgbm.early_stopping(50, verbose=False)]
    if "eval_X" in inspect.signature(model.fit).parameters:  # LightGBM >= 4.6
        model.fit(X, y, eval_X=X_val, eval_y=y_val, callbacks=stop)
    else:
        model.fit(X, y, eval_set=[(X_val, y_val)], callbacks=stop)


def run_demo(seed: int = 0, threads: int = 1) -> pd.DataFrame:
    """Fit the boosted NN and LightGBM on three scikit-learn datasets.

    Each dataset is split 60 / 20 / 20 (stratified for classification) into
    train, validation and test rows; both models early-stop on the validation
    rows and are scored on the test rows.

    Parameters
    ----------
    seed : int, default=0
        Split and model seed.
    threads : int, default=1
        Threads given to both models.

    Returns
    -------
    results : DataFrame
        One row per dataset and model: metric, test score, fit seconds.

    Examples
    --------
    >>> from tabkit.cli import run_demo
    >>> table = run_demo()
    >>> sorted(table["dataset"].unique())
    ['breast_cancer', 'diabetes', 'digits']
    """
    rows = []
    for name, (loader, task) in _DEMO_DATA.items():
        X, y = loader(return_X_y=True, as_frame=True)
        y = np.asarray(y)
        stratify = None if task == "regression" else y
        X_rest, X_test, y_rest, y_test = train_test_split(
            X, y, test_size=0.2, random_state=seed, stratify=stratify
        )
        X_train, X_val, y_train, y_val = train_test_split(
            X_rest,
            y_rest,
            test_size=0.25,
            random_state=seed,
            stratify=None if task == "regression" else y_rest,
        )
        for model_name, model in _models(task, seed, threads).items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                # the defaults' step cap may stop the boosted NN while it still
                # improves; the demo shows the defaults as they are
                warnings.simplefilter("ignore", ConvergenceWarning)
                _fit(model, X_train, y_train, X_val, y_val)
            seconds = time.perf_counter() - start
            metric, value = _score(task, model, X_test, y_test)
            rows.append(
                {
                    "dataset": name,
                    "model": model_name,
                    "metric": metric,
                    "test score": round(value, 4),
                    "fit seconds": round(seconds, 3),
                }
            )
    return pd.DataFrame(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tabkit`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    status : int
        Exit status.

    Examples
    --------
    >>> from tabkit.cli import main
    >>> main(["--version"])  # doctest: +ELLIPSIS
    tabkit ...
    0
    """
    parser = argparse.ArgumentParser(prog="tabkit", description=__doc__)
    parser.add_argument("--version", action="store_true", help="print the version")
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="boosted NN vs LightGBM on bundled data")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if args.version:
        sys.stdout.write(f"tabkit {tabkit.__version__}\n")
        return 0
    if args.command == "demo":
        table = run_demo(seed=args.seed, threads=args.threads)
        sys.stdout.write(table.to_string(index=False) + "\n")
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
