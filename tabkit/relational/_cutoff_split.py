# SPDX-License-Identifier: BSD-3-Clause
"""CutoffSplit: time-ordered cross-validation folds over a seed table's cut-offs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator

from tabkit.relational._task_windows import _parse_window, _shift

__all__ = ["CutoffSplit"]


class CutoffSplit(BaseCrossValidator):
    """Cross-validation folds by cut-off time, with non-overlapping label windows.

    The seed table's distinct cut-offs, sorted, are cut into ``n_splits + 1``
    consecutive groups of equal size (the first one takes the remainder), as
    scikit-learn's ``TimeSeriesSplit`` does with rows. Fold ``k`` validates on
    the seeds of group ``k + 1`` and trains on the seeds of the earlier cut-offs
    whose label window closes by the fold's first validation cut-off::

        cutoff + window (+ gap) <= first validation cut-off

    so that no training label is read from the period the fold validates on.
    Training cut-offs grow from fold to fold; validation cut-offs always come
    after them.

    Parameters
    ----------
    n_splits : int, default=3
        Number of folds (at least 1).
    window : Timedelta, DateOffset or str
        The task's label window (``task.window``): ``"30D"``, ``"MS"``,
        ``pd.DateOffset(years=1)``.
    gap : Timedelta, DateOffset or str, optional
        Extra time between the close of the training label windows and the
        first validation cut-off.

    Examples
    --------
    >>> import pandas as pd
    >>> from tabkit.relational import CutoffSplit
    >>> cutoffs = pd.date_range("2026-01-01", periods=8, freq="MS")
    >>> seeds = pd.DataFrame({"customer_id": [1, 2] * 8,
    ...                       "cutoff": cutoffs.repeat(2)})
    >>> def months(rows):
    ...     return seeds["cutoff"].iloc[rows].dt.strftime("%b").unique().tolist()
    >>> for train, val in CutoffSplit(n_splits=3, window="MS").split(seeds):
    ...     print(months(train), months(val))
    ['Jan', 'Feb'] ['Mar', 'Apr']
    ['Jan', 'Feb', 'Mar', 'Apr'] ['May', 'Jun']
    ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun'] ['Jul', 'Aug']

    A label window of 45 days leaves out the last training cut-off of each
    fold: its labels would be read from the first validation month.

    >>> for train, val in CutoffSplit(n_splits=3, window="45D").split(seeds):
    ...     print(months(train), months(val))
    ['Jan'] ['Mar', 'Apr']
    ['Jan', 'Feb', 'Mar'] ['May', 'Jun']
    ['Jan', 'Feb', 'Mar', 'Apr', 'May'] ['Jul', 'Aug']
    """

    def __init__(self, *, n_splits: int = 3, window: Any, gap: Any = None) -> None:
        self.n_splits = n_splits
        self.window = window
        self.gap = gap

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Return the number of folds.

        Parameters
        ----------
        X, y, groups : ignored

        Returns
        -------
        int
        """
        del X, y, groups
        return int(self.n_splits)

    def split(
        self, X: Any, y: Any = None, groups: Any = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield the training and validation rows of each fold.

        Parameters
        ----------
        X : DataFrame
            Seed table with a datetime ``"cutoff"`` column.
        y, groups : ignored

        Yields
        ------
        train, val : ndarray of int
            Row positions in ``X``.
        """
        del y, groups
        n_splits = self._n_splits()
        cut = _cutoff_column(X)
        window = _parse_window(self.window, "CutoffSplit window")
        gap = None if self.gap is None else _parse_window(self.gap, "CutoffSplit gap")
        index = pd.DatetimeIndex(cut)
        distinct = index.unique().sort_values()
        groups_of = distinct.get_indexer(index)  # each row's cut-off, 0..m-1
        m = len(distinct)
        if m < n_splits + 1:
            raise ValueError(
                f"CutoffSplit(n_splits={n_splits}) needs at least {n_splits + 1} "
                f"distinct cut-offs in column 'cutoff', got {m}"
            )
        size = m // (n_splits + 1)
        closes = _shift(distinct, window, 1)
        if gap is not None:
            closes = _shift(closes, gap, 1)
        for fold, start in enumerate(range(m - n_splits * size, m, size), start=1):
            first = distinct[start]
            allowed = np.flatnonzero(closes[:start] <= first)
            if not len(allowed):
                raise ValueError(
                    f"CutoffSplit fold {fold}: no cut-off before {first} has its "
                    f"label window ({self.window!r}"
                    f"{'' if gap is None else f' + gap {self.gap!r}'}) closed by "
                    f"then (earliest cut-off {distinct[0]}); use fewer splits or a "
                    "shorter gap"
                )
            train = np.flatnonzero(np.isin(groups_of, allowed))
            val = np.flatnonzero((groups_of >= start) & (groups_of < start + size))
            yield train, val

    def _n_splits(self) -> int:
        n = self.n_splits
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(
                f"CutoffSplit: n_splits must be an integer >= 1, got {n!r}"
            )
        return int(n)


def _cutoff_column(X: Any) -> pd.Series:
    """Return the seed table's ``cutoff`` column, checked."""
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            "CutoffSplit splits a seed table: a pandas DataFrame with a 'cutoff' "
            f"column, got {type(X).__name__}"
        )
    if "cutoff" not in X.columns:
        raise ValueError(
            "CutoffSplit: the seed table has no column 'cutoff' (columns: "
            f"{[str(c) for c in X.columns]})"
        )
    cut = X["cutoff"]
    if not pd.api.types.is_datetime64_any_dtype(cut.dtype):
        raise TypeError(
            f"CutoffSplit: column 'cutoff' is {cut.dtype}, not datetime; convert it "
            "with pd.to_datetime"
        )
    if cut.isna().any():
        raise ValueError(
            f"CutoffSplit: column 'cutoff' has {int(cut.isna().sum())} missing values"
        )
    return cut
