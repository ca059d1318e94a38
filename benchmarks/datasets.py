# SPDX-License-Identifier: BSD-3-Clause
"""Dataset registry of the benchmark harness.

A loader takes no argument and returns ``(X, y, task)``: a DataFrame of
features (categoricals as pandas ``category``, NaN kept), a 1-d target array
(already on the scale the metrics use) and one of ``protocol.TASKS``.
Registering a dataset is one line::

    register_dataset("adult", functools.partial(load_public, "adult"), suite="public")

Suites: ``foundation`` (breast_cancer, digits, diabetes and the synthetic
``make_classification_20k``), ``public`` (the 13 public datasets of
``tabkit.datasets.list_datasets()``, loaded through ``tabkit.datasets``) and
``small_public`` (its 5 datasets under 2,000 rows). breast_cancer, digits and
diabetes ship with scikit-learn and keep their scikit-learn loaders, which
``tabkit.datasets`` mirrors (a test checks that the two agree).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from benchmarks.protocol import check_task

logger = logging.getLogger(__name__)

Loader = Callable[[], tuple[pd.DataFrame, np.ndarray, str]]

#: Dataset name -> loader.
DATASETS: dict[str, Loader] = {}
#: Suite name -> list of dataset names.
SUITES: dict[str, list[str]] = {}
#: Dataset name -> size class ("small", "medium", "large"), where registered.
SIZES: dict[str, str] = {}
#: Size classes: small below ``SMALL_ROWS`` rows, medium up to ``MEDIUM_ROWS``.
SMALL_ROWS, MEDIUM_ROWS = 2_000, 60_000
#: The 13 public datasets (binary, multiclass, then regression) and size classes.
PUBLIC_SIZES: dict[str, str] = {
    "breast_cancer": "small",
    "german_credit": "small",
    "telco_churn": "medium",
    "adult": "medium",
    "nyc_flight_disruption": "large",
    "digits": "small",
    "hawks": "small",
    "hpc_jobs": "medium",
    "insteval": "large",
    "diabetes": "small",
    "ames_housing": "medium",
    "bikeshare": "medium",
    "diamonds": "medium",
}


def size_class(n_rows: int) -> str:
    """Size class of a dataset of ``n_rows`` rows.

    Parameters
    ----------
    n_rows : int
        Rows of the whole dataset.

    Returns
    -------
    str
        "small" (< 2,000 rows), "medium" (2,000-60,000) or "large".
    """
    if n_rows < SMALL_ROWS:
        return "small"
    return "medium" if n_rows <= MEDIUM_ROWS else "large"


def register_dataset(
    name: str,
    loader: Loader,
    *,
    suite: str | Sequence[str] | None = None,
    size: str | None = None,
    overwrite: bool = False,
) -> Loader:
    """Register ``loader`` under ``name`` (and append it to ``suite``).

    Parameters
    ----------
    name : str
        Dataset name used on the command line and in the CSV.
    loader : callable
        ``loader() -> (X, y, task)``. For isolated (subprocess) runs it must
        be registered when its module is imported.
    suite : str, sequence of str or None, default=None
        Also add the dataset to this suite, or these suites (created if needed).
    size : {"small", "medium", "large"} or None, default=None
        Size class, if known without loading (see ``dataset_size``).
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
    suites = [suite] if isinstance(suite, str) else list(suite or ())
    for one in suites:
        if name not in SUITES.setdefault(one, []):
            SUITES[one].append(name)
    if size is not None:
        SIZES[name] = size
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


def dataset_size(name: str) -> str:
    """Size class of a registered dataset (loads it when not registered).

    Parameters
    ----------
    name : str
        A key of ``DATASETS``.

    Returns
    -------
    str
        "small", "medium" or "large" (see ``size_class``).
    """
    if name not in SIZES:
        X, _, _ = load_dataset(name)
        SIZES[name] = size_class(len(X))
    return SIZES[name]


def load_public(name: str) -> tuple[pd.DataFrame, np.ndarray, str]:
    """Load a public dataset through ``tabkit.datasets``.

    Parameters
    ----------
    name : str
        One of ``tabkit.datasets.list_datasets()``.

    Returns
    -------
    X : DataFrame
        Features, ID and leak columns dropped, categoricals as ``category``.
    y : ndarray
        Target, already transformed as the suite defines it.
    task : str
        ``info.task``.
    """
    try:
        from tabkit.datasets import load_dataset as load
    except ImportError as exc:
        raise ImportError(
            f"dataset {name!r} needs tabkit.datasets, which cannot be imported: {exc}"
        ) from exc
    X, y, info = load(name)
    return X, np.asarray(y), info.task


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


#: Public datasets that ship with scikit-learn: loaded from it directly.
SKLEARN_LOADERS: dict[str, Loader] = {
    "breast_cancer": load_breast_cancer,
    "digits": load_digits,
    "diabetes": load_diabetes,
}

for _name, _loader in SKLEARN_LOADERS.items():
    register_dataset(_name, _loader, suite="foundation", size=PUBLIC_SIZES[_name])
register_dataset(
    "make_classification_20k",
    load_make_classification_20k,
    suite="foundation",
    size="medium",
)
for _name, _size in PUBLIC_SIZES.items():
    register_dataset(
        _name,
        SKLEARN_LOADERS.get(_name) or functools.partial(load_public, _name),
        suite=("public", "small_public") if _size == "small" else "public",
        size=_size,
    )
del _name, _loader, _size
