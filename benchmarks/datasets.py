# SPDX-License-Identifier: BSD-3-Clause
"""Dataset registry of the benchmark harness.

A loader takes no argument and returns ``(X, y, task)``: a DataFrame of
features (categoricals as pandas ``category``, NaN kept), a 1-d target array
(already on the scale the metrics use) and one of ``protocol.TASKS``.
Registering a dataset is one line::

    register_dataset("adult", functools.partial(load_public, "adult"), suite="standard")
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd

from benchmarks.protocol import check_task

logger = logging.getLogger(__name__)

Loader = Callable[[], tuple[pd.DataFrame, np.ndarray, str]]

#: Dataset name -> loader.
DATASETS: dict[str, Loader] = {}
#: Suite name -> list of dataset names.
SUITES: dict[str, list[str]] = {}


def register_dataset(
    name: str, loader: Loader, *, suite: str | None = None, overwrite: bool = False
) -> Loader:
    """Register ``loader`` under ``name`` (and append it to ``suite``).

    Parameters
    ----------
    name : str
        Dataset name used on the command line and in the CSV.
    loader : callable
        ``loader() -> (X, y, task)``. For isolated (subprocess) runs it must
        be registered when its module is imported.
    suite : str or None, default=None
        Also add the dataset to this suite (created if needed).
    overwrite : bool, default=False
        Replace an existing registration instead of raising.

    Returns
    -------
    callable
        ``loader``, so that the function can be used as a decorator helper.
    """
    if name in DATASETS and not overwrite and DATASETS[name] is not loader:
        raise ValueError(f"dataset {name!r} is already registered")
    DATASETS[name] = loader
    if suite is not None and name not in SUITES.setdefault(suite, []):
        SUITES[suite].append(name)
    return loader


def load_dataset(name: str) -> tuple[pd.DataFrame, np.ndarray, str]:
    """Load a registered dataset and check what the loader returned.

    Parameters
    ----------
    name : str
        A key of ``DATASETS``.

    Returns
    -------
    X : DataFrame of shape (n_samples, n_features)
        Features.
    y : ndarray of shape (n_samples,)
        Target.
    task : str
        One of ``protocol.TASKS``.
    """
    if name not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; registered: {sorted(DATASETS)}")
    X, y, task = DATASETS[name]()
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"dataset {name!r}: X must be a DataFrame, got {type(X)}")
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(f"dataset {name!r}: y has shape {y.shape}, X {X.shape}")
    return X, y, check_task(task)


def suite_datasets(suite: str) -> list[str]:
    """Dataset names of a suite.

    Parameters
    ----------
    suite : str
        A key of ``SUITES``.

    Returns
    -------
    list of str
        The suite's datasets, in registration order.
    """
    if suite not in SUITES:
        raise KeyError(f"unknown suite {suite!r}; known: {sorted(SUITES)}")
    return list(SUITES[suite])


def _sklearn_frame(load: Callable, task: str) -> tuple[pd.DataFrame, np.ndarray, str]:
    bunch = load(as_frame=True)
    return bunch.data, bunch.target.to_numpy(), task


def load_breast_cancer() -> tuple[pd.DataFrame, np.ndarray, str]:
    """Wisconsin breast cancer (569 x 30, binary), shipped with scikit-learn."""
    from sklearn.datasets import load_breast_cancer as load

    return _sklearn_frame(load, "binary")


def load_digits() -> tuple[pd.DataFrame, np.ndarray, str]:
    """Optical digits (1,797 x 64, 10 classes), shipped with scikit-learn."""
    from sklearn.datasets import load_digits as load

    return _sklearn_frame(load, "multiclass")


def load_diabetes() -> tuple[pd.DataFrame, np.ndarray, str]:
    """Diabetes progression (442 x 10, regression), shipped with scikit-learn."""
    from sklearn.datasets import load_diabetes as load

    return _sklearn_frame(load, "regression")


def load_make_classification_20k() -> tuple[pd.DataFrame, np.ndarray, str]:
    """Synthetic binary problem: ``make_classification`` 20,000 x 20, seed 0."""
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=20000, n_features=20, n_informative=10, random_state=0
    )
    columns = [f"x{j}" for j in range(X.shape[1])]
    return pd.DataFrame(X, columns=columns), y, "binary"


register_dataset("breast_cancer", load_breast_cancer, suite="foundation")
register_dataset("digits", load_digits, suite="foundation")
register_dataset("diabetes", load_diabetes, suite="foundation")
register_dataset(
    "make_classification_20k", load_make_classification_20k, suite="foundation"
)
