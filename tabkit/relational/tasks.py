# SPDX-License-Identifier: BSD-3-Clause
"""Temporal prediction tasks on a :class:`~tabkit.relational.Database`.

An :class:`EntityTask` turns a database into seed tables: one row per
(entity, cut-off ``t``) with a label computed from the rows of a table with
time in ``(t, t + window]``. Which entities get a row at ``t`` (the
*population*) is decided from rows with time <= ``t`` only, and the entity's
own row must be visible at ``t``: a row's time is when the whole row is known,
and a table with date/time columns must be timed or declared static before a
task uses it (:meth:`~tabkit.relational.Database.check_time_columns`).

Declarative labels (:func:`count`, :func:`exists`, :func:`aggregate`) and
populations (:func:`active`) are vectorised over all cut-offs at once: every
timed row is matched to the cut-offs whose window holds it with two
``searchsorted`` calls, and labels are group-bys over the (row, cut-off) pairs.
Memory grows with the number of such pairs, close to the table's size when
windows do not overlap much. :func:`window_rows` is the same join for label
functions.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from tabkit.relational._database import Database
from tabkit.relational._errors import RelationalWarning, SchemaError, warn
from tabkit.relational._task_windows import (
    _NAT,
    _Active,
    _bounds,
    _cutoff_index,
    _key_index,
    _ns,
    _parse_window,
    _shift,
    _window_pairs,
    _WindowLabel,
    active,
    aggregate,
    count,
    exists,
    window_rows,
)

__all__ = [
    "EntityTask",
    "RelationalTask",
    "TaskSplit",
    "active",
    "aggregate",
    "count",
    "exists",
    "schedule",
    "window_rows",
]

logger = logging.getLogger(__name__)

Seeds = tuple[pd.DataFrame, np.ndarray]


def schedule(start: Any, end: Any, freq: Any) -> pd.DatetimeIndex:
    """Regular cut-offs from ``start`` to ``end`` (both included when on ``freq``).

    Parameters
    ----------
    start, end : Timestamp or str
        First and last possible cut-off.
    freq : str or DateOffset
        pandas frequency: ``"MS"`` (first of each month), ``"W-MON"`` (Mondays),
        ``"YE"`` (December 31), ``"7D"``...

    Returns
    -------
    DatetimeIndex

    Examples
    --------
    >>> from tabkit.relational.tasks import schedule
    >>> schedule("2013-02-01", "2013-04-01", "MS").strftime("%m-%d").tolist()
    ['02-01', '03-01', '04-01']
    """
    cutoffs = pd.date_range(start, end, freq=freq)
    if len(cutoffs) == 0:
        raise ValueError(f"no cut-off between {start} and {end} at frequency {freq!r}")
    return cutoffs


# ------------------------------------------------------------------ tasks
class TaskSplit(NamedTuple):
    """Train, validation and test seed tables, each a tuple ``(X, y)``."""

    train: Seeds
    val: Seeds
    test: Seeds


LabelFunction = Callable[[Database, pd.DataFrame], Any]
PopulationFunction = Callable[[Database, pd.Timestamp], Any]


@dataclass(frozen=True, kw_only=True)
class EntityTask:
    """Predict a label about an entity at cut-offs, from rows of the future window.

    For each cut-off ``t`` the task picks the entities of the *population*
    (decided from rows with time <= ``t``; the entity's own row must be visible
    at ``t``) and labels each from rows with time in ``(t, t + window]``.
    Entities whose label is missing get no row.

    Parameters
    ----------
    name : str
        Task name.
    entity_table : str
        Table of the entities (it needs a primary key).
    window : Timedelta, DateOffset or str
        Label horizon. A string is read as a pandas frequency first (``"30D"``,
        ``"7D"``, ``"12h"``: fixed durations; ``"MS"``: up to the next first of
        a month; ``"YE"``: the next December 31), then as a Timedelta string
        (``"30 days"``). ``pd.DateOffset(months=1)`` is a calendar month.
    label : label or callable
        :func:`count`, :func:`exists`, :func:`aggregate`, or a function
        ``label(db, seeds) -> values``. ``seeds`` has the entity's key column
        and ``"cutoff"``; the function returns one value per seed row (a Series
        indexed like ``seeds`` or an array; NaN drops the seed). It must take
        the future only from rows with time in ``(cutoff, cutoff + window]``;
        it may compare with rows with time <= ``cutoff`` (a trend). ``db``
        holds no row later than the last cut-off's window end.
    task_type : {"binary", "regression"}
        Binary labels must be 0/1 (or bool); ``y`` is then int64, else float64.
    population : population or callable, optional
        :func:`active`, or ``population(db_upto_t, t) -> entity keys``, called
        once per cut-off with the database as known at ``t``. Default: the
        entities whose own row is visible at ``t`` (all of a static table).

    Examples
    --------
    >>> import pandas as pd
    >>> from tabkit.relational import Database, Table
    >>> from tabkit.relational.tasks import EntityTask, count
    >>> db = Database({
    ...     "customers": Table(pd.DataFrame({"cid": [1, 2]}), primary_key="cid"),
    ...     "orders": Table(pd.DataFrame({"oid": [1, 2, 3], "cid": [1, 1, 2],
    ...                                   "ts": ["2026-01-05", "2026-02-05",
    ...                                          "2026-02-07"]}),
    ...                     primary_key="oid", foreign_keys={"cid": "customers"},
    ...                     time_column="ts")})
    >>> task = EntityTask(name="orders-next-month", entity_table="customers",
    ...                   window="30D", label=count("orders"), task_type="regression")
    >>> X, y = task.make_table(db, ["2026-01-01", "2026-02-01"])
    >>> print(X.assign(y=y).to_string(index=False))
     cid     cutoff   y
       1 2026-01-01 1.0
       2 2026-01-01 0.0
       1 2026-02-01 1.0
       2 2026-02-01 1.0
    """

    name: str
    entity_table: str
    window: Any
    label: _WindowLabel | LabelFunction
    task_type: Literal["binary", "regression"]
    population: _Active | PopulationFunction | None = field(default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "window", _parse_window(self.window))
        if self.task_type not in ("binary", "regression"):
            raise ValueError(
                f"task {self.name!r}: task_type must be 'binary' or 'regression', "
                f"got {self.task_type!r}"
            )
        if not (isinstance(self.label, _WindowLabel) or callable(self.label)):
            raise TypeError(
                f"task {self.name!r}: label must be count(...), exists(...), "
                f"aggregate(...) or a function, got {type(self.label).__name__}"
            )
        if not (
            self.population is None
            or isinstance(self.population, _Active)
            or callable(self.population)
        ):
            raise TypeError(
                f"task {self.name!r}: population must be active(...), a function "
                f"or None, got {type(self.population).__name__}"
            )

    # ------------------------------------------------------------ seeds
    def make_table(self, db: Database, cutoffs: Any) -> Seeds:
        """Seed table and labels for the given cut-offs.

        Parameters
        ----------
        db : Database
            The database (the task reads rows up to the last window's end).
        cutoffs : list, DatetimeIndex or Timestamp
            Cut-offs (see :func:`schedule`); duplicates are merged.

        Returns
        -------
        X : DataFrame
            The entity's primary-key column and ``"cutoff"``, sorted by
            (cutoff, key), with a fresh RangeIndex.
        y : ndarray of shape (len(X),)
            Labels: int64 0/1 for binary tasks, float64 for regression.

        Raises
        ------
        SchemaError
            When a table of ``db`` has date/time columns but is neither timed
            nor static (:meth:`Database.check_time_columns`), or the entity
            table is missing.
        """
        db.check_time_columns()
        cut = _cutoff_index(cutoffs, db)
        if self.entity_table not in db:
            raise SchemaError(
                f"task {self.name!r}: no entity table {self.entity_table!r} in the "
                f"database (tables: {sorted(db)})"
            )
        entity = db[self.entity_table]
        keys = _key_index(entity)
        n = max(len(entity), 1)
        seeds = np.unique(self._population(db, cut, keys, n))
        seed_cut, seed_code = seeds // n, seeds % n
        if entity.time_column is not None:  # the entity's own row must be visible
            born = _ns(entity._df[entity.time_column])[seed_code]
            keep = (born != _NAT) & (born <= _ns(cut)[seed_cut])
            seed_cut, seed_code, seeds = seed_cut[keep], seed_code[keep], seeds[keep]
        frame = pd.DataFrame(
            {
                entity.primary_key: entity._df[entity.primary_key]
                .iloc[seed_code]
                .reset_index(drop=True),
                "cutoff": cut[seed_cut],
            }
        )
        if isinstance(self.label, _WindowLabel):
            lo, hi = _bounds(cut, None, self.window)
            y = self.label.values(db, self.entity_table, lo, hi, seeds)
        else:
            y = self._call_label(db, cut, frame)
        rank = np.empty(len(keys), dtype=np.int64)
        rank[keys.argsort()] = np.arange(len(keys))
        order = np.lexsort((rank[seed_code], seed_cut))
        order = order[~np.isnan(y[order])]
        X = frame.iloc[order].reset_index(drop=True)
        y = y[order]
        if self.task_type == "binary":
            if not np.isin(y, (0.0, 1.0)).all():
                bad = np.unique(y[~np.isin(y, (0.0, 1.0))])[:5].tolist()
                raise ValueError(f"task {self.name!r}: binary labels {bad} are not 0/1")
            y = y.astype(np.int64)
        logger.info("task %s: %d seeds at %d cut-offs", self.name, len(X), len(cut))
        return X, y

    def _population(
        self, db: Database, cut: pd.DatetimeIndex, keys: pd.Index, n: int
    ) -> np.ndarray:
        entity = db[self.entity_table]
        if isinstance(self.population, _Active):
            return self.population.keys(db, self.entity_table, cut)
        if self.population is None:
            if entity.time_column is None:
                return (
                    np.arange(len(cut))[:, None] * n + np.arange(len(entity))
                ).ravel()
            times = _ns(entity._df[entity.time_column])
            rows, windows = _window_pairs(times, np.full(len(cut), _NAT + 1), _ns(cut))
            return windows.astype(np.int64) * n + rows
        parts = []
        unknown: list[tuple[pd.Timestamp, int]] = []
        for i, t in enumerate(cut):
            found = keys.get_indexer(
                pd.Index(np.asarray(self.population(db.upto(t), t)))
            )
            if (found < 0).any():
                unknown.append((t, int((found < 0).sum())))
            parts.append(i * n + found[found >= 0])
        if unknown:
            warn(
                f"task {self.name!r}: the population function returned keys that "
                f"are not keys of {self.entity_table!r} at {len(unknown)} of "
                f"{len(cut)} cut-offs ({sum(k for _, k in unknown)} in all; first "
                f"at {unknown[0][0]}: {unknown[0][1]}); they get no seed",
                RelationalWarning,
            )
        return (
            np.concatenate(parts).astype(np.int64) if parts else np.empty(0, np.int64)
        )

    def _call_label(
        self, db: Database, cut: pd.DatetimeIndex, frame: pd.DataFrame
    ) -> np.ndarray:
        horizon = _shift(cut, self.window, 1).max()
        result = self.label(db.upto(horizon), frame.copy())  # type: ignore[operator]
        if isinstance(result, pd.Series):
            result = result.reindex(frame.index)
        values = np.asarray(
            pd.Series(np.asarray(result))
            .astype("Float64")
            .to_numpy(np.float64, na_value=np.nan)
        )
        if len(values) != len(frame):
            raise ValueError(
                f"task {self.name!r}: the label function returned {len(values)} "
                f"values for {len(frame)} seeds"
            )
        return values

    # ------------------------------------------------------------ splits
    def split(self, db: Database, *, train: Any, val: Any, test: Any) -> TaskSplit:
        """Train, validation and test seed tables with non-overlapping windows.

        Every train label window must close at or before the first validation
        cut-off, and every validation window at or before the first test
        cut-off.

        Parameters
        ----------
        db : Database
        train, val, test : list or DatetimeIndex
            Cut-offs of each split.

        Returns
        -------
        TaskSplit
            ``(train, val, test)``, each ``(X, y)`` as :meth:`make_table`.

        Raises
        ------
        ValueError
            When windows overlap; the message gives the offending dates.
        SchemaError
            When a table is neither timed nor static
            (:meth:`Database.check_time_columns`).
        """
        db.check_time_columns()
        parts = {
            "train": _cutoff_index(train, db),
            "validation": _cutoff_index(val, db),
            "test": _cutoff_index(test, db),
        }
        names = list(parts)
        for before, after in itertools.pairwise(names):
            ends = _shift(parts[before], self.window, 1)
            first = parts[after].min()
            if ends.max() > first:
                late = parts[before][ends > first]
                raise ValueError(
                    f"task {self.name!r}: {before} label windows overlap the "
                    f"{after} cut-offs: the window of {before} cut-off {late[0]} "
                    f"closes at {ends[ends > first][0]}, after the first {after} "
                    f"cut-off {first}"
                )
        X, y = self.make_table(db, parts["train"].append(list(parts.values())[1:]))
        out = []
        for cut in parts.values():
            mask = X["cutoff"].isin(cut).to_numpy()
            out.append((X[mask].reset_index(drop=True), y[mask]))
        return TaskSplit(*out)


# ------------------------------------------------------------------ built tasks
@dataclass(frozen=True, eq=False)
class RelationalTask:
    """A database, a task and its train / validation / test seed tables.

    Attributes
    ----------
    name : str
    database : Database
    task : EntityTask
    train, val, test : tuple of (DataFrame, ndarray)
        Seed tables ``X`` (entity key, ``"cutoff"``) and labels ``y``.
    task_type : {"binary", "regression"}
    metric : {"roc_auc", "mae"}
        The metric to report (higher AUC, lower MAE is better).
    info : dict
        Source package, licence, description (synthetic data: ``"oracle"``).

    Examples
    --------
    >>> import pandas as pd
    >>> from tabkit.relational import Database, Table
    >>> from tabkit.relational.tasks import EntityTask, RelationalTask, exists
    >>> db = Database({
    ...     "users": Table(pd.DataFrame({"uid": [1, 2]}), primary_key="uid"),
    ...     "visits": Table(pd.DataFrame({"vid": [1, 2], "uid": [1, 2],
    ...                                   "ts": ["2026-01-02", "2026-01-20"]}),
    ...                     primary_key="vid", foreign_keys={"uid": "users"},
    ...                     time_column="ts")})
    >>> task = EntityTask(name="visit", entity_table="users", window="7D",
    ...                   label=exists("visits"), task_type="binary")
    >>> rt = RelationalTask.from_task(db, task, train=["2026-01-01"],
    ...                               val=["2026-01-08"], test=["2026-01-15"])
    >>> rt.metric, rt.train[1].tolist(), rt.test[1].tolist()
    ('roc_auc', [1, 0], [0, 1])
    """

    name: str
    database: Database
    task: EntityTask
    train: Seeds
    val: Seeds
    test: Seeds
    task_type: Literal["binary", "regression"]
    metric: Literal["roc_auc", "mae"]
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_task(
        cls,
        database: Database,
        task: EntityTask,
        *,
        train: Any,
        val: Any,
        test: Any,
        info: dict[str, Any] | None = None,
    ) -> RelationalTask:
        """Build the splits of ``task`` (:meth:`EntityTask.split`) and wrap them.

        The metric is AUC for binary tasks and MAE for regression.

        Parameters
        ----------
        database : Database
        task : EntityTask
        train, val, test : list or DatetimeIndex
            Cut-offs of each split.
        info : dict, optional

        Returns
        -------
        RelationalTask
        """
        parts = task.split(database, train=train, val=val, test=test)
        return cls(
            name=task.name,
            database=database,
            task=task,
            train=parts.train,
            val=parts.val,
            test=parts.test,
            task_type=task.task_type,
            metric="roc_auc" if task.task_type == "binary" else "mae",
            info=dict(info or {}),
        )
