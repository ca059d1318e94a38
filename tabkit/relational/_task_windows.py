# SPDX-License-Identifier: BSD-3-Clause
"""Window machinery of :mod:`tabkit.relational.tasks`: labels and populations.

Every timed row is matched to the cut-offs whose window holds it with two
``searchsorted`` calls over the sorted cut-offs (windows are non-decreasing in
the cut-off), and labels are group-bys over the (row, window) pairs, keyed by
``window * n_entities + entity row``. Rows reach their entity through a chain of
foreign keys, resolved with ``Index.get_indexer`` (positions, -1 for none).
"""

from __future__ import annotations

import datetime
import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from tabkit.relational._database import Database
from tabkit.relational._errors import RelationalWarning, SchemaError, warn
from tabkit.relational._table import Table

__all__ = ["active", "aggregate", "count", "exists", "window_rows"]

logger = logging.getLogger("tabkit.relational.tasks")

Window = pd.Timedelta | pd.offsets.BaseOffset
Where = Callable[[pd.DataFrame], Any]
_HOWS = ("mean", "sum", "min", "max", "count", "nunique")
_MAX_HOPS = 4
_NAT = np.iinfo(np.int64).min


# ------------------------------------------------------------------ time
def _parse_window(
    window: Any, what: str = "window", *, positive: bool = True
) -> Window:
    """Timedelta for fixed durations, a DateOffset for calendar offsets."""
    value = window
    if isinstance(value, str):
        try:
            value = to_offset(value)
        except ValueError:
            try:
                value = pd.Timedelta(value)
            except ValueError:
                raise ValueError(
                    f"{what} {window!r} is neither a pandas frequency ('30D', '1MS') "
                    "nor a Timedelta string ('30 days')"
                ) from None
    if isinstance(value, pd.offsets.Day):
        value = pd.Timedelta(days=value.n)
    elif isinstance(value, pd.offsets.Tick | np.timedelta64 | datetime.timedelta):
        value = pd.Timedelta(value)
    if isinstance(value, pd.Timedelta):
        if positive and value <= pd.Timedelta(0):
            raise ValueError(f"{what} must be positive, got {window!r}")
        return value
    if isinstance(value, pd.offsets.BaseOffset):
        return value
    raise TypeError(
        f"{what} must be a pd.Timedelta, a pd.DateOffset or a string, got "
        f"{type(window).__name__}"
    )


def _shift(times: pd.DatetimeIndex, offset: Window, sign: int) -> pd.DatetimeIndex:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
        return times + offset if sign > 0 else times - offset


def _ns(values: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """int64 nanoseconds (UTC for aware values); NaT becomes the int64 minimum."""
    index = pd.DatetimeIndex(values)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return np.asarray(index.as_unit("ns").asi8, dtype=np.int64)


def _cutoff_index(cutoffs: Any, db: Database) -> pd.DatetimeIndex:
    if isinstance(cutoffs, str | pd.Timestamp) or not hasattr(cutoffs, "__len__"):
        cutoffs = [cutoffs]
    index = pd.DatetimeIndex(pd.to_datetime(list(cutoffs)))
    if len(index) == 0:
        raise ValueError("no cut-offs given")
    if index.hasnans:
        raise ValueError("cut-offs contain a missing value (NaT)")
    aware = db.time_aware
    if aware and index.tz is None:
        raise ValueError(
            "the database's time columns are time-zone-aware (UTC): give "
            "time-zone-aware cut-offs"
        )
    if aware is False and index.tz is not None:
        raise ValueError(
            "the database's time columns are naive: give naive cut-offs (local time)"
        )
    if index.tz is not None:
        index = index.tz_convert("UTC")
    return index.as_unit("ns").unique().sort_values()


def _window_pairs(
    times: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(row, window) pairs with ``lo[w] < times[row] <= hi[w]``.

    ``lo`` and ``hi`` must be non-decreasing: the windows holding a row are then
    a contiguous range, found with two ``searchsorted`` calls.
    """
    valid = np.flatnonzero(times != _NAT)
    t = times[valid]
    first = np.searchsorted(hi, t, side="left")  # hi[w] >= t
    stop = np.searchsorted(lo, t, side="left")  # lo[w] < t
    n = np.maximum(stop - first, 0)
    rows = np.repeat(valid, n)
    starts = np.repeat(first - np.cumsum(n) + n, n)
    windows = starts + np.arange(n.sum())
    return rows, windows


def _bounds(
    cutoffs: pd.DatetimeIndex, start: Window | None, end: Window | None
) -> tuple[np.ndarray, np.ndarray]:
    """Window bounds ``(t + start, t + end]`` as int64 ns, checked monotone.

    ``None`` stands for the cut-off itself.
    """
    lo = _ns(cutoffs if start is None else _shift(cutoffs, start, 1))
    hi = _ns(cutoffs if end is None else _shift(cutoffs, end, 1))
    if np.any(np.diff(lo) < 0) or np.any(np.diff(hi) < 0) or np.any(hi <= lo):
        raise ValueError(
            "the window bounds do not increase with the cut-offs; use a "
            "Timedelta or a DateOffset that moves every date forward"
        )
    return lo, hi


def _negate(window: Window) -> Window:
    if isinstance(window, pd.Timedelta):
        return -window
    return window * -1


# ------------------------------------------------------------------ keys
def _key_index(table: Table) -> pd.Index:
    if table.primary_key is None:
        raise SchemaError(f"table {table.name!r} has no primary key")
    index = pd.Index(table._df[table.primary_key])
    if not index.is_unique:
        raise SchemaError(
            f"table {table.name!r}: primary key {table.primary_key!r} has duplicates"
        )
    return index


def _fk_paths(
    db: Database, table: str, entity: str, via: Sequence[str]
) -> list[tuple[tuple[str, str], ...]]:
    """Foreign-key paths (column, parent) from ``table`` to ``entity``."""
    if table == entity and not via:
        return [()]
    found: list[tuple[tuple[str, str], ...]] = []

    def walk(name: str, path: tuple[tuple[str, str], ...], seen: set[str]) -> None:
        if len(path) >= _MAX_HOPS:
            return
        for column, parent in db[name].foreign_keys.items():
            step = (*path, (column, parent))
            if any(a != b for a, (b, _) in zip(via, step, strict=False)):
                continue
            if parent == entity:
                found.append(step)
            elif parent not in seen:
                walk(parent, step, seen | {parent})

    walk(table, (), {table})
    return [p for p in found if len(p) >= len(via)]


def _entity_codes(db: Database, table: str, entity: str, via: Any) -> np.ndarray:
    """Row position in ``entity`` of each row of ``table`` (-1: none)."""
    columns = (via,) if isinstance(via, str) else tuple(via or ())
    paths = _fk_paths(db, table, entity, columns)
    if len(paths) != 1:
        shown = [
            " -> ".join(f"{t}.{c}" for t, c in _path_tables(table, p)) for p in paths
        ]
        reason = "no foreign-key path" if not paths else "several foreign-key paths"
        raise SchemaError(
            f"{reason} from table {table!r} to the entity table {entity!r}"
            + (f" starting with {list(columns)}" if columns else "")
            + (f": {shown}; pass via= to choose one" if paths else "")
        )
    if not paths[0]:
        return np.arange(len(db[table]), dtype=np.int64)
    positions = np.arange(len(db[table]), dtype=np.int64)
    name = table
    for column, parent in paths[0]:
        source = db[name]._df[column].to_numpy()
        if len(source) == 0:
            positions, name = np.full(len(positions), -1, dtype=np.int64), parent
            continue
        values = source[np.maximum(positions, 0)]
        found = _key_index(db[parent]).get_indexer(pd.Index(values))
        found[positions < 0] = -1
        if len(found) and (found < 0).all() and pd.notna(values).any():
            warn(
                f"no value of {name}.{column} is a key of {parent}: no row of "
                f"{table!r} reaches an entity through this path (check the key "
                "types and values)",
                RelationalWarning,
            )
        positions, name = found.astype(np.int64), parent
    return positions


def _path_tables(
    table: str, path: tuple[tuple[str, str], ...]
) -> list[tuple[str, str]]:
    names = [table, *(parent for _, parent in path)]
    return [(names[i], column) for i, (column, _) in enumerate(path)]


def _mask(where: Where | None, frame: pd.DataFrame, table: str) -> np.ndarray:
    if where is None:
        return np.ones(len(frame), dtype=bool)
    mask = pd.Series(where(frame))
    if len(mask) != len(frame):
        raise ValueError(
            f"where= on table {table!r} returned {len(mask)} values for "
            f"{len(frame)} rows"
        )
    return np.asarray(mask.fillna(False).astype(bool), dtype=bool)


def _timed(db: Database, table: str) -> Table:
    if table not in db:
        raise SchemaError(f"no table {table!r} in the database (tables: {sorted(db)})")
    if db[table].time_column is None:
        raise SchemaError(
            f"table {table!r} has no time column: windows need timed rows"
        )
    return db[table]


def _windowed(
    db: Database,
    table: str,
    entity: str,
    *,
    via: Any,
    where: Where | None,
    lo: np.ndarray,
    hi: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``table`` in each window: (row positions, window * n + entity code)."""
    timed = _timed(db, table)
    codes = _entity_codes(db, table, entity, via)
    keep = (codes >= 0) & _mask(where, timed.df, table)
    times = _ns(timed._df[timed.time_column])
    times[~keep] = _NAT
    rows, windows = _window_pairs(times, lo, hi)
    return rows, windows.astype(np.int64) * max(len(db[entity]), 1) + codes[rows]


# ------------------------------------------------------------------ labels
@dataclass(frozen=True)
class _WindowLabel:
    """A label computed from the rows of ``table`` in ``(t, t + window]``."""

    kind: Literal["count", "exists", "aggregate"]
    table: str
    column: str | Callable[[pd.DataFrame], Any] | None = None
    how: str = "count"
    where: Where | None = None
    fill_value: float | None = None
    via: str | Sequence[str] | None = None
    transform: Callable[[np.ndarray], np.ndarray] | None = None

    def values(
        self,
        db: Database,
        entity: str,
        lo: np.ndarray,
        hi: np.ndarray,
        keys: np.ndarray,
    ) -> np.ndarray:
        """Label of each seed (``keys`` = window * n + entity code); NaN: none."""
        rows, groups = _windowed(
            db, self.table, entity, via=self.via, where=self.where, lo=lo, hi=hi
        )
        if self.kind != "aggregate":
            per_group = pd.Series(groups).value_counts()
            result = per_group.reindex(keys).fillna(0).to_numpy(dtype=np.float64)
            return (result > 0).astype(np.float64) if self.kind == "exists" else result
        frame = db[self.table].df
        if callable(self.column):
            column = pd.Series(self.column(frame))
            label = getattr(self.column, "__name__", "<function>")
        else:
            if self.column not in frame.columns:
                raise SchemaError(
                    f"table {self.table!r} has no column {self.column!r} to aggregate"
                )
            column, label = frame[self.column], str(self.column)
        if len(column) != len(frame):
            raise ValueError(
                f"column function {label!r} returned {len(column)} values for the "
                f"{len(frame)} rows of table {self.table!r}"
            )
        values = column.reset_index(drop=True)
        if self.how not in ("nunique", "count"):
            try:
                values = pd.Series(
                    values.astype("Float64").to_numpy(np.float64, na_value=np.nan)
                )
            except (TypeError, ValueError):
                raise ValueError(
                    f"cannot take the {self.how} of non-numeric column {label!r} of "
                    f"table {self.table!r}"
                ) from None
        grouped = values.iloc[rows].reset_index(drop=True).groupby(groups)
        stats = grouped.sum(min_count=1) if self.how == "sum" else grouped.agg(self.how)
        result = stats.reindex(keys).to_numpy(dtype=np.float64, na_value=np.nan)
        if self.transform is not None:
            with np.errstate(all="ignore"):
                result = np.asarray(self.transform(result), dtype=np.float64)
            result[~np.isfinite(result)] = np.nan
        if self.fill_value is not None:
            result = np.where(np.isnan(result), self.fill_value, result)
        return result


def count(
    table: str, where: Where | None = None, *, via: str | Sequence[str] | None = None
) -> _WindowLabel:
    """Label: number of rows of ``table`` of the entity in ``(t, t + window]``.

    A row belongs to the entity through the foreign-key path from ``table`` to
    the entity table (one foreign key, or a chain such as items -> orders ->
    customers); an entity without rows gets 0.

    Parameters
    ----------
    table : str
        Timed table whose rows are counted.
    where : callable, optional
        ``where(frame) -> bool mask`` over the rows of ``table`` (row-wise: it
        must not compare rows with each other); only rows where it is True
        count. Missing values count as False.
    via : str or sequence of str, optional
        Foreign-key column(s) of the path, starting at ``table``; needed when
        several paths lead to the entity table (flights.origin and flights.dest
        both reference airports).

    Returns
    -------
    label
        To pass as ``EntityTask(label=...)``.

    Examples
    --------
    >>> from tabkit.relational.tasks import count
    >>> count("orders").kind
    'count'
    """
    return _WindowLabel("count", table, where=where, via=via)


def exists(
    table: str, where: Where | None = None, *, via: str | Sequence[str] | None = None
) -> _WindowLabel:
    """Label: 1 when the entity has a row of ``table`` in ``(t, t + window]``, else 0.

    Parameters
    ----------
    table, where, via
        As in :func:`count`.

    Returns
    -------
    label

    Examples
    --------
    >>> from tabkit.relational.tasks import exists
    >>> exists("orders", where=lambda df: df["amount"] > 100).table
    'orders'
    """
    return _WindowLabel("exists", table, where=where, via=via)


def aggregate(
    table: str,
    column: str | Callable[[pd.DataFrame], Any],
    how: str,
    where: Where | None = None,
    fill_value: float | None = None,
    *,
    via: str | Sequence[str] | None = None,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
) -> _WindowLabel:
    """Label: an aggregate of a column over the entity's rows in ``(t, t + window]``.

    Missing values of the column are ignored. An entity with no row in the
    window, or whose aggregate is missing (all its values missing), gets
    ``fill_value``, or no seed row when ``fill_value`` is None.

    Parameters
    ----------
    table : str
        Timed table holding the rows.
    column : str or callable
        Column to aggregate, or ``column(frame) -> Series`` computing one value
        per row (row-wise, like ``where``).
    how : {"mean", "sum", "min", "max", "count", "nunique"}
        Aggregate; "count" counts non-missing values.
    where, via
        As in :func:`count`.
    fill_value : float, optional
        Label of entities without a value (a final label: not transformed).
    transform : callable, optional
        Applied to the aggregated labels, for example ``np.log10``; non-finite
        results are missing labels.

    Returns
    -------
    label

    Examples
    --------
    >>> from tabkit.relational.tasks import aggregate
    >>> aggregate("orders", "amount", "sum", fill_value=0.0).how
    'sum'
    """
    if how not in _HOWS:
        raise ValueError(f"how={how!r} is not one of {list(_HOWS)}")
    return _WindowLabel(
        "aggregate", table, column, how, where, fill_value, via, transform
    )


# ------------------------------------------------------------------ populations
@dataclass(frozen=True)
class _Active:
    """Population: entities with >= min_rows rows of ``table`` in (t - window, t]."""

    table: str
    window: Window
    min_rows: int = 1
    where: Where | None = None
    via: str | Sequence[str] | None = None

    def keys(self, db: Database, entity: str, cutoffs: pd.DatetimeIndex) -> np.ndarray:
        """``window * n + entity code`` of each member."""
        lo, hi = _bounds(cutoffs, _negate(self.window), None)
        _, groups = _windowed(
            db, self.table, entity, via=self.via, where=self.where, lo=lo, hi=hi
        )
        members, counts = np.unique(groups, return_counts=True)
        return members[counts >= self.min_rows]


def active(
    table: str,
    window: Any,
    min_rows: int = 1,
    *,
    where: Where | None = None,
    via: str | Sequence[str] | None = None,
) -> _Active:
    """Select entities with at least ``min_rows`` rows of ``table`` in (t - window, t].

    Parameters
    ----------
    table : str
        Timed table whose rows make an entity active.
    window : Timedelta, DateOffset or str
        Look-back, parsed like :class:`EntityTask`'s ``window``.
    min_rows : int, default=1
        Rows needed in the look-back.
    where, via
        As in :func:`count`.

    Returns
    -------
    population
        To pass as ``EntityTask(population=...)``.

    Examples
    --------
    >>> from tabkit.relational.tasks import active
    >>> active("orders", "30D", min_rows=2).window
    Timedelta('30 days 00:00:00')
    """
    if min_rows < 1:
        raise ValueError(f"min_rows must be >= 1, got {min_rows}")
    return _Active(
        table, _parse_window(window, "population window"), min_rows, where, via
    )


def window_rows(
    db: Database,
    seeds: pd.DataFrame,
    table: str,
    *,
    entity_table: str,
    end: Any,
    start: Any = None,
    via: str | Sequence[str] | None = None,
    where: Where | None = None,
) -> pd.DataFrame:
    """Rows of ``table`` of each seed's entity in (cutoff + start, cutoff + end].

    A building block for label functions: group the result by its index (the
    seed's position in ``seeds``) to aggregate.

    Parameters
    ----------
    db : Database
    seeds : DataFrame
        The entity table's key column and ``"cutoff"``.
    table : str
        Timed table to read.
    entity_table : str
        Table of the seeds' entities.
    end : Timedelta, DateOffset or str
        Window end relative to the cut-off (inclusive).
    start : Timedelta, DateOffset or str, optional
        Window start relative to the cut-off (exclusive); None: the cut-off.
        Negative offsets (``"-7D"``) reach into the past.
    via, where
        As in :func:`count`.

    Returns
    -------
    DataFrame
        The matching rows' columns, indexed by seed position (index name
        ``"seed"``), in (seed, row) order.

    Examples
    --------
    >>> import pandas as pd
    >>> from tabkit.relational import Database, Table
    >>> from tabkit.relational.tasks import window_rows
    >>> db = Database({
    ...     "users": Table(pd.DataFrame({"uid": [1]}), primary_key="uid"),
    ...     "visits": Table(pd.DataFrame({"vid": [1, 2], "uid": [1, 1],
    ...                                   "ts": ["2026-01-02", "2026-01-09"]}),
    ...                     primary_key="vid", foreign_keys={"uid": "users"},
    ...                     time_column="ts")})
    >>> seeds = pd.DataFrame({"uid": [1], "cutoff": pd.to_datetime(["2026-01-08"])})
    >>> window_rows(db, seeds, "visits", entity_table="users", start="-7D",
    ...             end=pd.Timedelta(0))["vid"].tolist()
    [1]
    """
    db.check_time_columns()
    entity = db[entity_table]
    keys = _key_index(entity)
    n = max(len(entity), 1)
    cut = _cutoff_index(seeds["cutoff"], db)
    codes = keys.get_indexer(pd.Index(seeds[entity.primary_key]))
    seed_keys = cut.get_indexer(_cutoff_index_like(seeds["cutoff"], cut)) * n + codes
    begin = None if start is None else _parse_window(start, "start", positive=False)
    lo, hi = _bounds(cut, begin, _parse_window(end, "end", positive=False))
    rows, groups = _windowed(
        db, table, entity_table, via=via, where=where, lo=lo, hi=hi
    )
    pairs = pd.DataFrame({"key": groups, "row": rows}).merge(
        pd.DataFrame(
            {"key": seed_keys[codes >= 0], "seed": np.flatnonzero(codes >= 0)}
        ),
        on="key",
    )
    pairs = pairs.sort_values(["seed", "row"], kind="stable")
    out = db[table].df.iloc[pairs["row"].to_numpy()]
    out.index = pd.Index(pairs["seed"].to_numpy(), name="seed")
    return out


def _cutoff_index_like(values: pd.Series, like: pd.DatetimeIndex) -> pd.DatetimeIndex:
    index = pd.DatetimeIndex(values)
    if index.tz is not None:
        index = index.tz_convert("UTC")
    return index.as_unit(like.unit)
