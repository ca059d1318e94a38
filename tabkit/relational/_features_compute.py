# SPDX-License-Identifier: BSD-3-Clause
"""Vectorised window aggregates of ``RelationalFeatures`` (relational.features).

Rows of an aggregation path are sorted by (entity code, effective time)
(:class:`PathRows`, once per ``transform`` call); each (seed, window) pair is
then a contiguous range ``[lo, hi)`` found with ``np.searchsorted`` on
``entity code * width + time rank``, the rank of a row time among the distinct
row times, a query time (cut-off, cut-off - window) being located among those
same times first, so the comparison is exact (:class:`Ranges`, per chunk of
seeds). On these ranges:

On these ranges:

* count, sum and mean are differences of prefix sums;
* ``last`` and ``recency`` index the range's end (a running "latest non-missing
  row" index gives the last non-missing value);
* min / max are ``ufunc.reduceat`` over the ranges, ordered by decreasing
  ``lo`` so that the gaps between ranges are empty and the work is the total
  length of the ranges;
* ``nunique`` counts the rows of a range whose previous row with the same
  entity and value lies before the range, over chunks of expanded ranges.

No Python loop runs over seeds or rows (only over chunks of seeds). The
per-call data (tables' arrays, chains of keys, the features of a chunk) is in
:mod:`tabkit.relational._features_context`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

DAY = 86_400 * 10**9
NEVER = np.iinfo(np.int64).max  # effective time of a row that is never visible
ALWAYS = np.iinfo(np.int64).min  # effective time of a static row
OTHER = "__other__"  # categorical values outside the fit's vocabulary
MISSING = "__missing__"  # missing categorical values, and unknown rows
_CHUNK = 1 << 22  # expanded (seed, row) pairs per nunique chunk


# ---------------------------------------------------------------- columns
def to_ns(values: pd.Series) -> np.ndarray:
    """Datetimes as int64 nanoseconds (UTC for aware ones); NaT -> ``NEVER``.

    Examples
    --------
    >>> import pandas as pd
    >>> from tabkit.relational._features_compute import NEVER, to_ns
    >>> ns = to_ns(pd.Series(pd.to_datetime(["1970-01-02", None])))
    >>> int(ns[0]), bool(ns[1] == NEVER)
    (86400000000000, True)
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    arr = np.asarray(values, dtype="datetime64[ns]")
    out = arr.view(np.int64).copy()
    out[np.isnat(arr)] = NEVER
    return out


def column_kind(values: pd.Series) -> str:
    """``"num"`` (numbers, booleans, durations), ``"time"`` or ``"cat"``."""
    dtype = values.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "time"
    if pd.api.types.is_timedelta64_dtype(dtype) or (
        pd.api.types.is_numeric_dtype(dtype)
        and not isinstance(dtype, pd.CategoricalDtype)
    ):
        return "num"
    return "cat"


def as_float(values: pd.Series, kind: str) -> np.ndarray:
    """Return a numeric column as float64, datetimes in epoch days.

    Missing and infinite values become NaN (missing).
    """
    if kind == "time":
        ns = to_ns(values)
        out = ns / DAY
        out[ns == NEVER] = np.nan
        return out
    if pd.api.types.is_timedelta64_dtype(values.dtype):
        seconds = values.dt.total_seconds()
        out = seconds.to_numpy(np.float64, na_value=np.nan) / 86_400
    else:
        out = values.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    out[np.isinf(out)] = np.nan
    return out


def take(values: pd.Series, idx: np.ndarray, mask: np.ndarray) -> pd.Series:
    """``values`` at positions ``idx`` where ``mask``, missing elsewhere."""
    if len(values) == 0:
        return pd.Series([None] * len(idx), dtype=object)
    picked = values.take(np.where(mask, idx, 0)).reset_index(drop=True)
    return picked.where(pd.Series(mask))


def gather(values: np.ndarray, idx: np.ndarray, mask: np.ndarray, fill: Any) -> Any:
    """``values[idx]`` where ``mask``, ``fill`` elsewhere."""
    if len(values) == 0:
        return np.full(len(idx), fill, dtype=np.result_type(values.dtype, type(fill)))
    return np.where(mask, values[np.where(mask, idx, 0)], fill)


# ---------------------------------------------------------------- kernels
def prefix(x: np.ndarray) -> np.ndarray:
    """Prefix sums with a leading 0 (``out[i]`` = sum of ``x[:i]``)."""
    out = np.zeros(len(x) + 1, dtype=np.result_type(x.dtype, np.int64))
    np.cumsum(x, out=out[1:])
    return out


def range_reduce(
    ufunc: np.ufunc,
    x: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    order: np.ndarray | None = None,
) -> np.ndarray:
    """``ufunc`` (``np.fmin``/``np.fmax``) over each ``x[lo:hi]``; NaN if empty.

    ``order`` (optional, reusable across columns) is ``argsort(-lo)``: ranges
    by decreasing ``lo`` leave empty gaps, so the work is the ranges' length.

    Examples
    --------
    >>> import numpy as np
    >>> from tabkit.relational._features_compute import range_reduce
    >>> x = np.array([3.0, 1.0, np.nan, 5.0])
    >>> range_reduce(np.fmax, x, np.array([0, 2, 1]), np.array([2, 3, 1])).tolist()
    [3.0, nan, nan]
    """
    out = np.full(len(lo), np.nan)
    if len(lo) == 0 or len(x) == 0:
        return out
    if order is None:
        order = np.argsort(-lo, kind="stable")
    idx = np.empty(2 * len(lo), dtype=np.intp)
    idx[0::2], idx[1::2] = lo[order], hi[order]
    out[order] = ufunc.reduceat(np.append(x, np.nan), idx)[0::2]
    out[hi <= lo] = np.nan
    return out


def previous_same(entity: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Position of the previous row with the same entity and value (-1: none).

    Rows with a missing value (code -1) get their own position: never counted.
    """
    n = len(codes)
    prev = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return prev
    key = entity.astype(np.int64) * (int(codes.max()) + 2) + (codes + 1)
    order = np.argsort(key, kind="stable")  # ties keep row order
    same = key[order][1:] == key[order][:-1]
    prev[order[1:][same]] = order[:-1][same]
    missing = codes < 0
    prev[missing] = np.flatnonzero(missing)
    return prev


def count_new(
    prev: np.ndarray, lo: np.ndarray, hi: np.ndarray, start: np.ndarray
) -> np.ndarray:
    """Distinct values per range: rows whose previous equal value is before ``lo``.

    ``start`` is the first row of each seed's entity: a range starting there
    counts the first occurrences (a prefix sum); other ranges are expanded, in
    chunks of seeds.

    Examples
    --------
    >>> import numpy as np
    >>> from tabkit.relational._features_compute import count_new, previous_same
    >>> prev = previous_same(np.zeros(4, dtype=int), np.array([7, 8, 7, -1]))
    >>> lo, hi = np.array([0, 1, 3]), np.array([4, 3, 4])
    >>> count_new(prev, lo, hi, np.zeros(3, dtype=int)).tolist()
    [2, 2, 0]
    """
    out = np.zeros(len(lo), dtype=np.int64)
    whole = lo <= start
    firsts = prefix(prev == -1)
    out[whole] = firsts[hi[whole]] - firsts[start[whole]]
    rest = np.flatnonzero(~whole & (hi > lo))
    lens = hi[rest] - lo[rest]
    ends = np.cumsum(lens)
    first = 0
    while first < len(rest):  # chunks of seeds, bounded in expanded pairs
        base = ends[first - 1] if first else 0
        stop = max(first + 1, int(np.searchsorted(ends, base + _CHUNK, "right")))
        part, lows = lens[first:stop], lo[rest[first:stop]]
        offsets = np.cumsum(part) - part
        pos = np.arange(int(part.sum())) - np.repeat(offsets - lows, part)
        sums = prefix(prev[pos] < np.repeat(lows, part))
        out[rest[first:stop]] = sums[offsets + part] - sums[offsets]
        first = stop
    return out


class PathRows:
    """Rows of one path sorted by (entity, effective time); no seed involved.

    The seed-independent half of the window ranges, built once per
    ``transform`` call and shared by its chunks of seeds. A row's sort key is
    ``entity code * width + rank of its time`` among the distinct row times,
    so that one ``searchsorted`` finds the rows of an entity up to a time.

    Attributes
    ----------
    take : ndarray
        Positions (in the path's table) of the visible rows, in sorted order.
    entity, time : ndarray
        Entity code and effective time of the sorted rows.

    Examples
    --------
    >>> import numpy as np
    >>> from tabkit.relational._features_compute import PathRows
    >>> rows = PathRows(np.array(["b", "a", "a"]), np.array([5, 9, 3]))
    >>> rows.take.tolist(), rows.entity.tolist(), rows.time.tolist()
    ([0, 2, 1], [0, 1, 1], [5, 3, 9])
    >>> r = rows.ranges(np.array(["a", "c"]), np.array([4, 4]), [3])
    >>> r.start.tolist(), r.hi.tolist(), r.lo[3].tolist()
    ([1, 0], [2, 0], [1, 0])
    """

    def __init__(self, row_key: Any, row_time: np.ndarray) -> None:
        codes, uniques = pd.factorize(row_key)
        keep = np.flatnonzero((codes >= 0) & (row_time != NEVER))
        order = np.lexsort((row_time[keep], codes[keep]))
        self.take = keep[order]
        self.entity = codes[self.take].astype(np.int64)
        self.time = row_time[self.take]
        self.uniques = pd.Index(uniques)
        self.times = np.unique(self.time)
        self.width = np.int64(len(self.times) + 1)
        self.key = self.entity * self.width + np.searchsorted(self.times, self.time)
        self._cache: dict[Any, Any] = {}
        self._column = ""

    def ranges(
        self, seed_key: Any, seed_time: np.ndarray, spans: Sequence[int | None]
    ) -> Ranges:
        """Return each seed's rows and window ranges (see :class:`Ranges`)."""
        return Ranges(self, seed_key, seed_time, spans)

    def cached(self, key: Any, make: Callable[[], Any], column: str = "") -> Any:
        """Compute ``make()`` once per key (prefix sums and the like).

        Entries of a ``column`` are dropped when another column's arrive
        (features come column by column), which bounds the memory held.
        """
        if column and column != self._column:
            self._cache = {k: v for k, v in self._cache.items() if not k[0]}
            self._column = column
        key = (column, *key)
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def release(self) -> None:
        """Drop the cached column arrays (the sorted rows stay)."""
        self._cache = {k: v for k, v in self._cache.items() if not k[0]}
        self._column = ""

    def upto(self, base: np.ndarray, t: np.ndarray) -> np.ndarray:
        """End of the rows with time <= ``t`` of the entity starting at key ``base``."""
        rank = np.searchsorted(self.times, t, "right")
        return np.searchsorted(self.key, base + rank, "left")


class Ranges:
    """One chunk of seeds: each seed's rows of a path and its window ranges.

    Attributes
    ----------
    take, entity, time : ndarray
        The path's sorted rows (see :class:`PathRows`).
    start, hi : ndarray
        Per seed: first row of its entity, end of its rows with time <= cut-off.
    lo : dict
        Per window span (None = all time): first row of each seed's window
        ``(t - span, t]``.
    """

    def __init__(
        self,
        rows: PathRows,
        seed_key: Any,
        seed_time: np.ndarray,
        spans: Sequence[int | None],
    ) -> None:
        self.rows = rows
        self.take, self.entity, self.time = rows.take, rows.entity, rows.time
        code = rows.uniques.get_indexer(seed_key)
        found = code >= 0
        base = np.where(found, code, 0).astype(np.int64) * rows.width
        self.start = np.where(found, np.searchsorted(rows.key, base, "left"), 0)
        self.hi = np.where(found, rows.upto(base, seed_time), 0)
        self.lo: dict[int | None, np.ndarray] = {None: self.start}
        for span in spans:
            if span is not None:
                lo = rows.upto(base, minus(seed_time, span))
                self.lo[span] = np.clip(lo, self.start, self.hi)
        self._order: dict[int | None, np.ndarray] = {}

    def cached(self, key: Any, make: Callable[[], Any], column: str = "") -> Any:
        """Return the path's cached column arrays (see :meth:`PathRows.cached`)."""
        return self.rows.cached(key, make, column)

    def order(self, span: int | None) -> np.ndarray:
        """``argsort(-lo)`` of a window, for :func:`range_reduce` (per chunk)."""
        if span not in self._order:
            self._order[span] = np.argsort(-self.lo[span], kind="stable")
        return self._order[span]


def minus(t: np.ndarray, span: int) -> np.ndarray:
    """``t - span`` in int64 nanoseconds, saturating at the earliest time.

    Examples
    --------
    >>> import numpy as np
    >>> from tabkit.relational._features_compute import ALWAYS, minus
    >>> minus(np.array([10, ALWAYS + 5]), 7).tolist() == [3, ALWAYS]
    True
    """
    return np.where(t < ALWAYS + span, ALWAYS, t - span)
