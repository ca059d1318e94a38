# SPDX-License-Identifier: BSD-3-Clause
"""Per-call data of ``RelationalFeatures``: tables, paths, chunks of seeds.

A ``transform`` call converts each table's columns once (:class:`TableData`)
and sorts each aggregation path's rows once (:class:`Shared`); the seeds are
then processed in chunks, each a :class:`Computation` that follows the chains
of keys from its seeds and evaluates the features with the kernels of
:mod:`tabkit.relational._features_compute`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from tabkit.relational._database import Database
from tabkit.relational._errors import SchemaError
from tabkit.relational._features_compute import (
    ALWAYS,
    DAY,
    MISSING,
    NEVER,
    OTHER,
    PathRows,
    Ranges,
    as_float,
    count_new,
    gather,
    prefix,
    previous_same,
    range_reduce,
    take,
    to_ns,
)
from tabkit.relational._table import Table


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


def category_values(spec: dict[str, Any]) -> pd.Index:
    """Categories of an entity or parent column: its vocabulary, other, missing."""
    return pd.Index([*spec["categories"], OTHER, MISSING], dtype=object)


class Shared:
    """What the chunks of one call share: tables' arrays and paths' sorted rows.

    Only the path being computed keeps its column arrays (prefix sums and
    the like): they are released when the features move to another path.
    """

    def __init__(self, db: Database, entity: str) -> None:
        self.db, self.entity = db, entity
        self._tables: dict[str, TableData] = {}
        self._paths: dict[str, PathRows] = {}
        self._current = ""

    def table(self, name: str) -> TableData:
        if name not in self._tables:
            self._tables[name] = TableData(name, self.db[name])
        return self._tables[name]

    def path(self, name: str, make: Callable[[], tuple[Any, np.ndarray]]) -> PathRows:
        """Return the sorted rows of a path; ``make`` gives their keys and times."""
        if name != self._current and self._current in self._paths:
            self._paths[self._current].release()
        self._current = name
        if name not in self._paths:
            self._paths[name] = PathRows(*make())
        return self._paths[name]


class Computation:
    """The features of one chunk of seeds: shared data, seeds and fitted plan."""

    def __init__(
        self,
        shared: Shared,
        keys: pd.Series,
        cutoff: np.ndarray,
        windows: list[list[Any]],
    ) -> None:
        self.shared, self.entity = shared, shared.entity
        self.keys, self.t = keys.reset_index(drop=True), cutoff
        self.days = cutoff / DAY
        self.windows = windows
        self.table = shared.table
        self._chains: dict[tuple[tuple[str, str], ...], tuple[np.ndarray, Any]] = {}
        self._ranges: dict[str, Ranges] = {}

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

    def path_rows(self, path: dict[str, Any]) -> tuple[Any, np.ndarray]:
        """Key (entity or parent) and effective time of a path's rows."""
        if path["up"]:
            parent = path["up"][0][1]
            child, fkc = path["down"][0]
            rows = self.table(child)
            key = rows.df[fkc]
            eff = (
                rows.time if rows.time is not None else self.table(parent).time_of(key)
            )
            return key, eff
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
        return key, eff

    def path_seeds(self, path: dict[str, Any]) -> Any:
        """Return the seeds' keys on a path: their entity's, or its parent's."""
        if not path["up"]:
            return self.keys
        fk = path["up"][0][0]
        idx, vis = self.chain([])
        return take(self.table(self.entity).df[fk], idx, vis)

    def ranges(self, path: dict[str, Any]) -> Ranges:
        name = path["name"]
        rows = self.shared.path(name, lambda: self.path_rows(path))
        if name not in self._ranges:
            spans = [span for _, span in self.windows_of(path)]
            self._ranges[name] = rows.ranges(self.path_seeds(path), self.t, spans)
        return self._ranges[name]

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
        """Return an entity or parent column at each seed (missing if not visible).

        A categorical column's missing values are the category ``"__missing__"``.
        """
        idx, vis = self.chain(spec["chain"])
        data = self.table(spec["table"])
        if spec["kind"] == "cat":
            categories = category_values(spec)
            codes = gather(
                data.vocab_codes(spec["column"], spec["categories"]), idx, vis, -1
            )
            codes[codes < 0] = len(categories) - 1
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
            ufunc = np.fmin if what == "min" else np.fmax
            return range_reduce(ufunc, x, lo, hi, r.order(span))
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
