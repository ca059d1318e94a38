# SPDX-License-Identifier: BSD-3-Clause
"""Evaluate a ``RelationalFeatures`` plan: chunks of seeds, redundant features.

:class:`Plan` lists the features of a fitted plan in output order;
:func:`evaluate` computes the wanted ones chunk of seeds by chunk of seeds
(every chunk shares the tables' arrays and the paths' sorted rows), and
:class:`Redundancy` finds, from those chunks, the features that are constant
or duplicate an earlier one, without holding the feature table.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from tabkit.relational._database import Database
from tabkit.relational._features_context import Computation, Shared, category_values
from tabkit.relational._features_plan import dedupe, name_part

#: Seeds per chunk: the working arrays of a chunk are a few times this many
#: numbers per aggregation path; the output is written chunk by chunk.
SEED_CHUNK = 1 << 16


class Plan:
    """The fitted plan of ``RelationalFeatures`` and its features, in order.

    Parameters
    ----------
    entity : str
        The entity table.
    windows : list of [str, int or None]
        Window labels and spans.
    columns : list of dict
        Entity and parent columns.
    seed_features : list of str
        Seed-time features.
    paths : list of dict
        Aggregation paths.
    numeric, categorical : list of str
        Aggregates of numeric and categorical columns.
    """

    def __init__(
        self,
        *,
        entity: str,
        windows: list[list[Any]],
        columns: list[dict[str, Any]],
        seed_features: list[str],
        paths: list[dict[str, Any]],
        numeric: list[str],
        categorical: list[str],
    ) -> None:
        self.entity, self.windows = entity, windows
        self.columns, self.seed_features, self.paths = columns, seed_features, paths
        self.numeric, self.categorical = numeric, categorical

    def names(self) -> list[str]:
        """Every feature's name, in output order (repeats suffixed ``~2``...)."""
        return dedupe([name for name, _ in self.emit(None)])

    def categorical_at(self) -> dict[int, pd.Index]:
        """Positions of the categorical features and their categories."""
        return {
            j: category_values(spec)
            for j, spec in enumerate(self.columns)
            if spec["kind"] == "cat"
        }

    def emit(self, ctx: Computation | None) -> Iterator[tuple[str, Callable[[], Any]]]:
        """Yield ``(name, compute)`` per feature, in output order.

        Without a computation it only lists the names; with one, every
        ``compute()`` returns the feature for the computation's seeds.
        """
        part = functools.partial
        run: Any = ctx  # attributes looked up only when a compute is called
        for spec in self.columns:
            yield spec["name"], part(_call, run, "column", spec)
        for which in self.seed_features:
            yield f"seed.{which}", part(_call, run, "seed", which, self.paths)
        num, cat = self.numeric, self.categorical
        for path in self.paths:
            label = path["name"]
            wins = self.windows if path["timed"] else [["all", None]]
            wide = wins[-1] if wins[-1][1] is None else max(wins, key=lambda w: w[1])
            agg = functools.partial(_call, run, "aggregate", path)
            if "count" in num or "count" in cat:
                for w, span in wins:
                    yield f"{label}.count.{w}", part(agg, "rows", span)
            if "recency" in num and path["timed"]:
                yield f"{label}.recency.{wide[0]}", part(agg, "recency", wide[1])
            for col in path["columns"]:
                yield from _column_features(
                    col, f"{label}.{col['label']}", wins, wide, agg, num, cat
                )


def _call(ctx: Any, method: str, *args: Any) -> Any:
    return getattr(ctx, method)(*args)


def _column_features(  # noqa: PLR0917 - one path's settings
    col: dict[str, Any],
    base: str,
    wins: list[list[Any]],
    wide: list[Any],
    agg: Callable[..., Any],
    num: list[str],
    cat: list[str],
) -> Iterator[tuple[str, Callable[[], Any]]]:
    """Yield the aggregates of one column of a path, in output order."""
    part = functools.partial
    if col["kind"] in ("cat", "key"):
        for w, span in wins:
            if col["kind"] == "cat" and "count" in cat:
                for k, value in enumerate(col["categories"]):
                    name = f"{base}={name_part(value)}.count.{w}"
                    yield name, part(agg, "value", span, col, k)
            if "nunique" in cat:
                yield f"{base}.nunique.{w}", part(agg, "nunique", span, col)
        return
    allowed = {"mean", "min", "max", "sum", "nunique"}
    if col["via"] is not None:
        allowed = {"mean"}  # carried parent columns
    elif col["kind"] == "time":
        allowed = {"mean", "min", "max"}
    if col.get("missing") and col["via"] is None:
        allowed.add("count")
    for w, span in wins:
        for a in num:
            if a in allowed:
                yield f"{base}.{a}.{w}", part(agg, a, span, col)
    if "last" in num and col["via"] is None:
        yield f"{base}.last.{wide[0]}", part(agg, "last", wide[1], col)


def evaluate(  # noqa: PLR0917 - the call's data
    plan: Plan,
    db: Database,
    keys: pd.Series,
    cutoff: np.ndarray,
    wanted: Sequence[bool],
    progress: str | None = None,
) -> Iterator[tuple[slice, int, Any]]:
    """Compute the wanted features, chunk of seeds by chunk of seeds.

    Parameters
    ----------
    plan : Plan
    db : Database
    keys : Series
        The seeds' entity keys (positional index).
    cutoff : ndarray
        The seeds' cut-offs in int64 nanoseconds.
    wanted : sequence of bool
        Per feature of ``plan.names()``: whether to compute it.
    progress : str, optional
        Show a progress bar with this description.

    Yields
    ------
    rows : slice
        The chunk's seeds.
    j : int
        The feature's position in ``plan.names()``.
    values : ndarray or Categorical
        The feature for the chunk's seeds.
    """
    shared = Shared(db, plan.entity)
    n, chunk = len(keys), max(int(SEED_CHUNK), 1)
    starts = range(0, n, chunk)
    total = len(starts) * int(sum(wanted))
    with tqdm(
        total=total,
        desc=progress,
        unit="feature",
        disable=progress is None,
        leave=False,
    ) as bar:
        for start in starts:
            rows = slice(start, min(start + chunk, n))
            ctx = Computation(shared, keys.iloc[rows], cutoff[rows], plan.windows)
            emitted = 0
            for emitted, (_, make) in enumerate(plan.emit(ctx), start=1):
                if wanted[emitted - 1]:
                    yield rows, emitted - 1, make()
                    bar.update()
            if emitted != len(wanted):  # pragma: no cover - a planning bug
                raise RuntimeError(
                    "RelationalFeatures emitted an unexpected feature set"
                )


class Redundancy:
    """Constant and duplicate features, found from chunks of their values.

    A feature is constant when every row has the same value (missing counts as
    a value: all missing is constant, some missing is not). A numeric feature
    duplicates an earlier one when their float32 values are equal on every row
    (missing equal to missing, ``-0.0`` to ``0.0``), compared through a 128-bit
    BLAKE2b hash of the values, so that the feature table is never held.

    Parameters
    ----------
    n_features : int

    Examples
    --------
    >>> import numpy as np
    >>> from tabkit.relational._features_run import Redundancy
    >>> found = Redundancy(4)
    >>> for j, x in enumerate([[1, 2], [1.0, 2.0], [np.nan, np.nan], [np.nan, 2]]):
    ...     found.update(j, np.asarray(x, dtype=float))
    >>> found.dropped(["a", "b", "c", "d"])
    {'b': 'duplicate of a', 'c': 'constant'}
    """

    def __init__(self, n_features: int) -> None:
        self._first: list[Any] = [None] * n_features
        self._constant = np.ones(n_features, dtype=bool)
        self._hash: dict[int, Any] = {}
        self._kept: dict[bytes, str] = {}  # digest -> the feature kept with it

    def update(self, j: int, values: Any) -> None:
        """Take the next chunk of rows of feature ``j`` (float array or Categorical)."""
        if isinstance(values, pd.Categorical):
            bits = np.asarray(values.codes)
        else:
            x = np.asarray(values, dtype=np.float32) + np.float32(0)  # -0.0 -> 0.0
            x[np.isnan(x)] = np.float32(np.nan)  # one NaN pattern
            bits = x.view(np.uint32)
            if j not in self._hash:
                self._hash[j] = hashlib.blake2b(digest_size=16)
            self._hash[j].update(bits.tobytes())
        if not len(bits):
            return
        if self._first[j] is None:
            self._first[j] = bits[0]
        if self._constant[j]:
            self._constant[j] = bool((bits == self._first[j]).all())

    def verdict(self, j: int, name: str) -> str | None:
        """Why feature ``j`` is dropped (None: kept), once all its rows are in.

        Call it for every feature, in order: a duplicate names the first
        feature with the same values.
        """
        if self._constant[j] and self._first[j] is not None:
            return "constant"
        if j in self._hash:
            digest = self._hash[j].digest()
            if digest in self._kept:
                return f"duplicate of {self._kept[digest]}"
            self._kept[digest] = name
        return None

    def dropped(self, names: Sequence[str]) -> dict[str, str]:
        """``{name: "constant" or "duplicate of <earlier name>"}``, in order."""
        self._kept.clear()
        verdicts = {name: self.verdict(j, name) for j, name in enumerate(names)}
        return {name: why for name, why in verdicts.items() if why is not None}


def find_redundant(
    plan: Plan, db: Database, keys: pd.Series, cutoff: np.ndarray, progress: str | None
) -> dict[str, str]:
    """Compute every feature, chunk by chunk; return the dropped ones and why."""
    names = plan.names()
    found = Redundancy(len(names))
    for _, j, value in evaluate(plan, db, keys, cutoff, [True] * len(names), progress):
        found.update(j, value)
    return found.dropped(names)


def compute_and_drop(
    plan: Plan, db: Database, keys: pd.Series, cutoff: np.ndarray, progress: str | None
) -> tuple[dict[str, str], list[int], np.ndarray, dict[int, np.ndarray]]:
    """Compute every feature once, keeping or dropping each as it comes.

    For seeds that fit in one chunk (``len(keys) <= SEED_CHUNK``): each
    feature then has all its rows when it is computed.

    Returns
    -------
    dropped : dict of str to str
    kept : list of int
        Positions of the kept features in ``plan.names()``.
    values : ndarray of float32, shape (numeric kept features, seeds)
    codes : dict of int to ndarray
        Category codes of the kept categorical features.
    """
    names = plan.names()
    categories = plan.categorical_at()
    n = len(keys)
    found = Redundancy(len(names))
    # rows of kept numeric features are written first; the rest of this
    # buffer is never touched (so never resident) and is cut off at the end
    values = np.empty((len(names) - len(categories), n), dtype=np.float32)
    dropped: dict[str, str] = {}
    codes: dict[int, np.ndarray] = {}
    kept: list[int] = []
    for _, j, value in evaluate(plan, db, keys, cutoff, [True] * len(names), progress):
        found.update(j, value)  # one chunk: all the rows
        why = found.verdict(j, names[j])
        if why is not None:
            dropped[names[j]] = why
            continue
        if j in categories:
            codes[j] = np.asarray(value.codes, dtype=np.int32)
        else:
            values[len(kept) - len(codes)] = value
        kept.append(j)
    values.resize((len(kept) - len(codes), n), refcheck=False)  # in place
    return dropped, kept, values, codes


def frame_of(  # noqa: PLR0917 - the output's parts
    index: pd.Index,
    names: list[str],
    kept: list[int],
    values: np.ndarray,
    codes: dict[int, np.ndarray],
    categories: dict[int, pd.Index],
) -> pd.DataFrame:
    """Assemble the output: ``values`` (numeric features by row), then categories.

    The float32 block is used as it is (no copy); the categorical columns are
    inserted at their places.
    """
    numeric = [names[j] for j in kept if j not in codes]
    frame = pd.DataFrame(values.T, index=index, columns=numeric, copy=False)
    for position, j in enumerate(kept):
        if j in codes:
            column: Any = pd.Categorical.from_codes(codes[j], categories=categories[j])
            frame.insert(position, names[j], column)
    return frame
