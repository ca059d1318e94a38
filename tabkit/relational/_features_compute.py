# SPDX-License-Identifier: BSD-3-Clause
"""Vectorised window aggregates of ``RelationalFeatures`` (relational.features).

Rows of an aggregation path are sorted by (entity code, effective time); each
(seed, window) pair is then a contiguous range ``[lo, hi)`` found with
``np.searchsorted`` on ``entity code * width + time rank``, where the ranks are
dense ranks of the row times and every query time (cut-off, cut-off - window)
together, so the comparison is exact. On these ranges:

* count, sum and mean are differences of prefix sums;
* ``last`` and ``recency`` index the range's end (a running "latest non-missing
  row" index gives the last non-missing value);
* min / max are ``ufunc.reduceat`` over the ranges, ordered by decreasing
  ``lo`` so that the gaps between ranges are empty and the work is the total
  length of the ranges;
* ``nunique`` counts the rows of a range whose previous row with the same
  entity and value lies before the range, over chunks of expanded ranges.

No Python loop runs over seeds or rows (only over chunks of seeds).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tabkit.relational._database import Database
from tabkit.relational._errors import SchemaError
from tabkit.relational._table import Table

DAY = 86_400 * 10**9
NEVER = np.iinfo(np.int64).max  # effective time of a row that is never visible
ALWAYS = np.iinfo(np.int64).min  # effective time of a static row
OTHER = "__other__"
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


class Ranges:
    """Rows of one path sorted by (entity, time) and each seed's window ranges.

    Attributes
    ----------
    take : ndarray
        Positions (in the path's table) of the visible rows, in sorted order.
    entity, time : ndarray
        Entity code and effective time of the sorted rows.
    start, hi : ndarray
        Per seed: first row of its entity, end of its rows with time <= cut-off.
    lo : dict
        Per window span (None = all time): first row of each seed's window.
    """

    def __init__(
        self,
        row_key: Any,
        row_time: np.ndarray,
        seed_key: Any,
        seed_time: np.ndarray,
        spans: Sequence[int | None],
    ) -> None:
        codes, uniques = pd.factorize(row_key)
        seed_code = pd.Index(uniques).get_indexer(seed_key)
        keep = np.flatnonzero((codes >= 0) & (row_time != NEVER))
        order = np.lexsort((row_time[keep], codes[keep]))
        self.take = keep[order]
        self.entity = codes[self.take].astype(np.int64)
        self.time = row_time[self.take]
        n, q = len(self.take), len(seed_time)
        finite = [s for s in spans if s is not None]
        queries = [self.time, seed_time, *(seed_time - s for s in finite)]
        ranks = np.unique(np.concatenate(queries), return_inverse=True)[1]
        width = np.int64(ranks.max() + 2 if len(ranks) else 1)
        sorted_key = self.entity * width + ranks[:n]
        found = seed_code >= 0
        base = np.where(found, seed_code, 0).astype(np.int64) * width
        start = np.searchsorted(sorted_key, base, "left")
        end = np.searchsorted(sorted_key, base + ranks[n : n + q], "right")
        self.start = np.where(found, start, 0)
        self.hi = np.where(found, end, 0)
        self.lo: dict[int | None, np.ndarray] = {None: self.start}
        for j, span in enumerate(finite, start=1):
            rank = ranks[n + j * q : n + (j + 1) * q]
            lo = np.searchsorted(sorted_key, base + rank, "right")
            self.lo[span] = np.clip(lo, self.start, self.hi)
        self._cache: dict[Any, Any] = {}
        self._column = ""

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


# ---------------------------------------------------------------- per-call data
class TableData:
    """One table's arrays, converted once per ``transform`` call."""

    def __init__(self, name: str, table: Table) -> None:
        self.name = name
        self.table = table
        self.df = table.df
        column = table.time_column
        self.time = None if column is None else to_ns(self.df[column])
        self._index: pd.Index | None = None
        self._cache: dict[Any, Any] = {}

    def locate(self, keys: Any) -> np.ndarray:
        """Row positions of primary-key values (-1 where absent)."""
        if self._index is None:
            index = pd.Index(self.df[self.table.primary_key])
            if not index.is_unique:
                raise SchemaError(
                    f"table {self.name!r}: primary key {self.table.primary_key!r} "
                    "has duplicate values"
                )
            self._index = index
        return np.asarray(self._index.get_indexer(keys), dtype=np.int64)

    def time_of(self, keys: Any) -> np.ndarray:
        """Return the times of the rows with these keys (absent: never)."""
        if self.time is None:
            return np.full(len(keys), ALWAYS, dtype=np.int64)
        idx = self.locate(keys)
        return gather(self.time, idx, idx >= 0, NEVER)

    def own_time(self) -> np.ndarray:
        """Row times, ``ALWAYS`` for a static table."""
        if self.time is None:
            return np.full(len(self.df), ALWAYS, dtype=np.int64)
        return self.time

    def visible(self, idx: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Whether row ``idx`` exists and is known at ``t``."""
        if self.time is None:
            return idx >= 0
        return (idx >= 0) & (gather(self.time, idx, idx >= 0, NEVER) <= t)

    def floats(self, column: str, kind: str) -> np.ndarray:
        return self._get(("f", column), lambda: as_float(self.df[column], kind))

    def codes(self, column: str, kind: str) -> np.ndarray:
        """Codes of distinct values (-1: missing; numbers as :meth:`floats`)."""

        def make() -> np.ndarray:
            if kind in ("num", "time"):
                return pd.factorize(self.floats(column, kind))[0]
            return pd.factorize(self.df[column])[0]

        return self._get(("c", column), make)

    def vocab_codes(self, column: str, vocab: list[str]) -> np.ndarray:
        """Codes in ``vocab``: ``len(vocab)`` for other values, -1 for missing."""

        def make() -> np.ndarray:
            strings = self.df[column].astype("string")
            index = pd.Index(vocab, dtype=object)
            codes = index.get_indexer(pd.Index(strings.astype(object)))
            other = (codes < 0) & strings.notna().to_numpy()
            return np.where(other, len(vocab), codes)

        return self._get(("v", column, tuple(vocab)), make)

    def _get(self, key: Any, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]


class Computation:
    """The features of one ``transform`` call: database, seeds and fitted plan."""

    def __init__(
        self,
        db: Database,
        entity: str,
        keys: pd.Series,
        cutoff: np.ndarray,
        windows: list[list[Any]],
    ) -> None:
        self.db, self.entity, self.keys, self.t = db, entity, keys, cutoff
        self.days = cutoff / DAY
        self.windows = windows
        self._tables: dict[str, TableData] = {}
        self._chains: dict[tuple[tuple[str, str], ...], tuple[np.ndarray, Any]] = {}
        self._ranges: dict[str, Ranges] = {}

    def table(self, name: str) -> TableData:
        if name not in self._tables:
            self._tables[name] = TableData(name, self.db[name])
        return self._tables[name]

    def entity_time(self, keys: Any) -> np.ndarray:
        """Return the times of these entities' rows (for static children)."""
        return self.table(self.entity).time_of(keys)

    def windows_of(self, path: dict[str, Any]) -> list[list[Any]]:
        """Return the fitted windows, or only all time for a path without time."""
        return self.windows if path["timed"] else [["all", None]]

    # ------------------------------------------------------------ rows
    def chain(self, chain: list[list[str]]) -> tuple[np.ndarray, Any]:
        """Rows reached from each seed's entity through ``chain``; visibility."""
        key = tuple((fk, t) for fk, t in chain)
        if key not in self._chains:
            if not chain:
                data = self.table(self.entity)
                idx = data.locate(self.keys)
            else:
                prev, prev_vis = self.chain(chain[:-1])
                source = chain[-2][1] if len(chain) > 1 else self.entity
                fk, parent = chain[-1]
                values = take(self.table(source).df[fk], prev, prev_vis)
                data = self.table(parent)
                idx = np.where(prev_vis, data.locate(values), -1)
            self._chains[key] = (idx, data.visible(idx, self.t))
        return self._chains[key]

    def path_rows(self, path: dict[str, Any]) -> tuple[Any, np.ndarray, Any]:
        """Key (entity or parent), effective time and seed keys of a path's rows."""
        if path["up"]:
            fk, parent = path["up"][0]
            child, fkc = path["down"][0]
            rows = self.table(child)
            key = rows.df[fkc]
            eff = (
                rows.time if rows.time is not None else self.table(parent).time_of(key)
            )
            idx, vis = self.chain([])
            return key, eff, take(self.table(self.entity).df[fk], idx, vis)
        child, fk1 = path["down"][0]
        rows = self.table(child)
        key = rows.df[fk1]
        eff = rows.time if rows.time is not None else self.entity_time(key)
        if len(path["down"]) == 2:
            grand, fk2 = path["down"][1]
            below = self.table(grand)
            parent = rows.locate(below.df[fk2])
            ok = parent >= 0
            key = take(key, parent, ok)
            eff = np.maximum(below.own_time(), gather(eff, parent, ok, NEVER))
        return key, eff, self.keys

    def ranges(self, path: dict[str, Any]) -> Ranges:
        if path["name"] not in self._ranges:
            key, eff, seeds = self.path_rows(path)
            spans = [span for _, span in self.windows_of(path)]
            self._ranges[path["name"]] = Ranges(key, eff, seeds, self.t, spans)
        return self._ranges[path["name"]]

    def values(
        self, path: dict[str, Any], r: Ranges, col: dict[str, Any], what: str
    ) -> np.ndarray:
        """Return a column of the path's rows in sorted order: floats or codes.

        A carried parent column is missing where the parent row is absent or
        not yet known at the row's effective time.
        """
        data = self.table(path["down"][-1][0])
        source = data if col["via"] is None else self.table(col["via"][1])
        if what == "floats":
            array, fill = source.floats(col["column"], col["kind"]), np.nan
        elif what == "vocab":
            array, fill = source.vocab_codes(col["column"], col["categories"]), -1
        else:
            array, fill = source.codes(col["column"], col["kind"]), -1
        if col["via"] is None:
            return array[r.take]
        fk = col["via"][0]
        idx = r.cached(("via", fk), lambda: source.locate(data.df[fk])[r.take])
        known = r.cached(("known", fk), lambda: source.visible(idx, r.time))
        return gather(array, idx, known, fill)

    # ------------------------------------------------------------ features
    def column(self, spec: dict[str, Any]) -> Any:
        """Return an entity or parent column at each seed (missing if not visible)."""
        idx, vis = self.chain(spec["chain"])
        data = self.table(spec["table"])
        if spec["kind"] == "cat":
            vocab = spec["categories"]
            codes = gather(data.vocab_codes(spec["column"], vocab), idx, vis, -1)
            categories = pd.Index([*vocab, OTHER], dtype=object)
            return pd.Categorical.from_codes(codes, categories=categories)
        values = gather(data.floats(spec["column"], spec["kind"]), idx, vis, np.nan)
        return self.days - values if spec["kind"] == "time" else values

    def seed(self, which: str, paths: list[dict[str, Any]]) -> np.ndarray:
        """Entity age, days since first appearance or since the last child row."""
        hop1 = [p for p in paths if not p["up"] and len(p["down"]) == 1]
        ranges = [self.ranges(p) for p in hop1 if p["timed"]]
        if which == "days_since_last":
            best = np.full(len(self.t), ALWAYS, dtype=np.int64)
            for r in ranges:
                last = gather(r.time, r.hi - 1, r.hi > r.start, ALWAYS)
                best = np.maximum(best, last)
            return np.where(best == ALWAYS, np.nan, (self.t - best) / DAY)
        entity = self.table(self.entity)
        first = np.full(len(self.t), NEVER, dtype=np.int64)
        if entity.time is not None:
            idx, vis = self.chain([])
            first = gather(entity.time, idx, vis, NEVER)
        if which == "days_since_first":
            for r in ranges:
                first = np.minimum(
                    first, gather(r.time, r.start, r.hi > r.start, NEVER)
                )
        return np.where(first == NEVER, np.nan, (self.t - first) / DAY)

    def aggregate(
        self,
        path: dict[str, Any],
        what: str,
        span: int | None,
        col: dict[str, Any] | None = None,
        k: int = 0,
    ) -> np.ndarray:
        """Return one aggregate of a path's rows per seed, over one window."""
        r = self.ranges(path)
        lo, hi = r.lo[span], r.hi
        if what == "rows":
            return (hi - lo).astype(np.float64)
        if what == "recency":
            last = gather(r.time, hi - 1, hi > lo, NEVER)
            return np.where(hi > lo, (self.t - last) / DAY, np.nan)
        assert col is not None
        name = col["label"]
        if what == "value":
            hits = r.cached(
                ("value", k),
                lambda: prefix(self.values(path, r, col, "vocab") == k),
                name,
            )
            return (hits[hi] - hits[lo]).astype(np.float64)
        if what == "nunique":
            prev = r.cached(
                ("prev",),
                lambda: previous_same(r.entity, self.values(path, r, col, "codes")),
                name,
            )
            return count_new(prev, lo, hi, r.start).astype(np.float64)
        x = r.cached(("x",), lambda: self.values(path, r, col, "floats"), name)
        out = self._numeric(r, x, name, what, span)
        return self.days - out if col["kind"] == "time" and what != "count" else out

    def _numeric(
        self, r: Ranges, x: np.ndarray, name: str, what: str, span: int | None
    ) -> np.ndarray:
        lo, hi = r.lo[span], r.hi
        if what in ("min", "max"):
            order = r.cached(("order", span), lambda: np.argsort(-lo, kind="stable"))
            return range_reduce(np.fmin if what == "min" else np.fmax, x, lo, hi, order)
        if what == "last":
            latest = r.cached(
                ("latest",),
                lambda: np.maximum.accumulate(
                    np.where(np.isnan(x), -1, np.arange(len(x)))
                ),
                name,
            )
            j = gather(latest, hi - 1, hi > lo, -1)
            return np.where(j >= lo, gather(x, j, j >= 0, np.nan), np.nan)
        counts = r.cached(("n",), lambda: prefix(~np.isnan(x)), name)
        n = (counts[hi] - counts[lo]).astype(np.float64)
        if what == "count":
            return n
        sums = r.cached(("sum",), lambda: prefix(np.where(np.isnan(x), 0.0, x)), name)
        total = sums[hi] - sums[lo]
        if what == "sum":
            return total
        return np.divide(total, n, out=np.full(len(n), np.nan), where=n > 0)
