# SPDX-License-Identifier: BSD-3-Clause
"""Metadata returned with every dataset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["DatasetInfo", "size_category"]

Task = Literal["binary", "multiclass", "regression"]
Metric = Literal["roc_auc", "accuracy", "rmse"]
Transform = Literal["none", "log", "log1p"]
Size = Literal["small", "medium", "large"]

#: Primary metric of each task, as the benchmark protocol defines it.
PRIMARY_METRIC: dict[str, Metric] = {
    "binary": "roc_auc",
    "multiclass": "accuracy",
    "regression": "rmse",
}
#: Row-count bounds of the size classes, which the benchmark profiles use:
#: small < 2,000 <= medium <= 60,000 < large.
SMALL_MAX_ROWS = 2_000
MEDIUM_MAX_ROWS = 60_000


def size_category(n_rows: int) -> Size:
    """Size class of a dataset with ``n_rows`` rows.

    Parameters
    ----------
    n_rows : int
        Number of rows.

    Returns
    -------
    {"small", "medium", "large"}
        "small" below 2,000 rows, "large" above 60,000, "medium" otherwise.

    Examples
    --------
    >>> from tabkit.datasets._info import size_category
    >>> size_category(442), size_category(2_000), size_category(60_001)
    ('small', 'medium', 'large')
    """
    if n_rows < SMALL_MAX_ROWS:
        return "small"
    if n_rows > MEDIUM_MAX_ROWS:
        return "large"
    return "medium"


@dataclass(frozen=True)
class DatasetInfo:
    """What a loaded dataset is: task, target, metric, provenance and size.

    Attributes
    ----------
    name : str
        Dataset name, as passed to :func:`~tabkit.datasets.load_dataset`.
    task : {"binary", "multiclass", "regression"}
        Learning task.
    primary_metric : {"roc_auc", "accuracy", "rmse"}
        Metric the benchmarks rank models by (on the returned ``y``).
    target : str
        Name of the target column in the source data.
    target_transform : {"none", "log", "log1p"}
        Transform already applied to the returned regression ``y``.
    positive_class : object or None
        Binary tasks: the original label encoded as 1; None otherwise.
    classes : tuple or None
        Classification: original labels, ``classes[k]`` being the label of
        ``y == k`` (binary: ``(negative, positive)``; multiclass: sorted
        labels). None for regression.
    source_package : str
        Installed package whose files hold the data.
    licence : str
        Licence of the data.
    n_rows : int
        Number of rows of ``X`` (rows with a missing target removed).
    n_features : int
        Number of columns of ``X``.
    description : str
        One line on what the data is.
    size : {"small", "medium", "large"}
        Size class: below 2,000 rows, up to 60,000 rows, above.

    Examples
    --------
    >>> from tabkit.datasets import load_dataset
    >>> X, y, info = load_dataset("diabetes")
    >>> info.task, info.primary_metric, info.size, info.n_rows == len(X)
    ('regression', 'rmse', 'small', True)
    """

    name: str
    task: Task
    primary_metric: Metric
    target: str
    target_transform: Transform
    positive_class: Any
    classes: tuple[Any, ...] | None
    source_package: str
    licence: str
    n_rows: int
    n_features: int
    description: str
    size: Size
