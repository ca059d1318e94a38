# SPDX-License-Identifier: BSD-3-Clause
"""Fit-time planning of :class:`~tabkit.relational.features.RelationalFeatures`.

The plan is plain data (lists, dicts, strings, ints), so that model files can
store it as JSON: which entity and parent columns, which aggregation paths
(child tables, grandchildren, children of the entity's parents) with which
columns and category values, and the schema they rely on.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tabkit.relational._database import Database
from tabkit.relational._features_compute import MISSING, OTHER, column_kind, to_ns
from tabkit.relational._table import Table

NUMERIC_AGGREGATES = (
    "count",
    "mean",
    "min",
    "max",
    "sum",
    "last",
    "nunique",
    "recency",
)
CATEGORICAL_AGGREGATES = ("count", "nunique")
_BAD_NAME = re.compile(r'[\s",:\[\]{}=]+')


class Planner:
    """Choose the columns and paths of a fit (kinds, category values).

    Parameters
    ----------
    db : Database
    entity : str
        The entity table.
    t_max : int
        Last cut-off of the fit (ns): category values come from rows known then.
    hops, include_parents, max_categories, nunique
        The transformer's options (``nunique``: count distinct foreign keys).
    excluded : mapping of str to set of str, optional
        Columns never used, by table (see :func:`check_excluded`).
    """

    def __init__(
        self,
        db: Database,
        entity: str,
        t_max: int,
        *,
        hops: int,
        include_parents: bool,
        max_categories: int,
        nunique: bool,
        excluded: Mapping[str, set[str]] | None = None,
    ) -> None:
        self.db, self.entity, self.t_max = db, entity, t_max
        self.excluded = dict(excluded or {})
        self.hops, self.include_parents = hops, include_parents
        self.max_categories, self.nunique = max_categories, nunique
        self.used: dict[str, None] = {entity: None}
        self.carriers: dict[str, str] = {}
        self._frames: dict[str, pd.DataFrame] = {}
        self._visible: dict[str, np.ndarray] = {}

    def feature_columns(self, table: str) -> list[str]:
        """Return the table's feature columns, less the excluded ones."""
        skip = self.excluded.get(table, set())
        return [c for c in self.db[table].feature_columns if c not in skip]

    def frame(self, name: str) -> pd.DataFrame:
        if name not in self._frames:
            self._frames[name] = self.db[name].df
            self.used[name] = None
        return self._frames[name]

    def visible(self, name: str) -> np.ndarray:
        """Rows known by the last cut-off of the fit."""
        if name not in self._visible:
            column = self.db[name].time_column
            frame = self.frame(name)
            self._visible[name] = (
                np.ones(len(frame), dtype=bool)
                if column is None
                else to_ns(frame[column]) <= self.t_max
            )
        return self._visible[name]

    def spec(
        self, source: str, column: str, *, counted: bool = False, **extra: Any
    ) -> dict[str, Any]:
        """Describe a column: its kind, and its category values or missing values.

        An entity or parent column keeps its ``max_categories`` most frequent
        values; an aggregated (``counted``) column keeps all its values when it
        has at most ``max_categories`` of them, else none (no per-value counts).
        """
        values = self.frame(source)[column]
        kind = column_kind(values)
        spec = {"column": column, "kind": kind, **extra}
        seen = values[self.visible(source)]
        if kind == "cat":
            top = top_values(seen, self.max_categories + 2)
            top = [v for v in top if v not in (OTHER, MISSING)]
            if counted and len(top) > self.max_categories:
                top = []
            spec["categories"] = top[: self.max_categories]
        else:
            spec["missing"] = bool(seen.isna().any())
        return spec

    def entity_columns(self) -> list[dict[str, Any]]:
        """List the entity's columns, then its parents' (grandparents' at 2 hops)."""
        chains: list[list[list[str]]] = [[]]
        if self.include_parents and self.hops >= 1:
            for fk, parent in self.db[self.entity].foreign_keys.items():
                chains.append([[fk, parent]])
                if self.hops >= 2:
                    for fk2, grand in self.db[parent].foreign_keys.items():
                        chains.append([[fk, parent], [fk2, grand]])
        specs = []
        for chain in chains:
            table = chain[-1][1] if chain else self.entity
            prefix = "".join(f"{fk}->{t}." for fk, t in chain) or f"{self.entity}."
            for column in self.feature_columns(table):
                name = prefix + column
                specs.append(
                    self.spec(table, column, name=name, chain=chain, table=table)
                )
        return specs

    def children(self, parent: str) -> list[tuple[str, str]]:
        """``(table, foreign key)`` of every reference to ``parent``."""
        return [
            (name, fk)
            for name in self.db
            for fk, target in self.db[name].foreign_keys.items()
            if target == parent
        ]

    def step(self, child: str, fk: str, parent: str) -> str:
        links = sum(t == parent for t in self.db[child].foreign_keys.values())
        return f"{child}@{fk}" if links > 1 or child == parent else child

    def paths(self) -> list[dict[str, Any]]:
        """Children, grandchildren (2 hops) and the parents' children (2 hops)."""
        db, entity = self.db, self.entity
        shapes: list[tuple[str, list[list[str]], list[list[str]]]] = []
        if self.hops == 0:
            return []
        for child, fk in self.children(entity):
            label = self.step(child, fk, entity)
            shapes.append((label, [], [[child, fk]]))
            if self.hops >= 2 and db[child].primary_key is not None:
                for grand, fk2 in self.children(child):
                    name = f"{label}/{self.step(grand, fk2, child)}"
                    shapes.append((name, [], [[child, fk], [grand, fk2]]))
        if self.hops >= 2 and self.include_parents:
            for fk, parent in db[entity].foreign_keys.items():
                for child, fkc in self.children(parent):
                    name = f"{fk}->{parent}/{self.step(child, fkc, parent)}"
                    shapes.append((name, [[fk, parent]], [[child, fkc]]))
        self.carriers = self.choose_carriers([down[-1] for _, _, down in shapes])
        return [self.path(name, up, down) for name, up, down in shapes]

    def choose_carriers(self, ends: list[list[str]]) -> dict[str, str]:
        """Pick, per parent table, the child table whose paths carry its columns.

        ``ends`` are the paths' last steps ``[table, foreign key]``. A parent
        referenced by the rows of several tables is carried by the table with
        the most rows (the first on ties): the others mostly reach the same
        parent rows (a player's teams through his batting, fielding and
        appearance rows) and would repeat nearly the same averages.
        """
        candidates: dict[str, list[str]] = {}
        for table, path_fk in ends:
            for fk, parent in self.db[table].foreign_keys.items():
                if fk != path_fk and table not in candidates.get(parent, []):
                    candidates.setdefault(parent, []).append(table)
        return {
            parent: max(tables, key=lambda t: len(self.db[t]))  # first on ties
            for parent, tables in candidates.items()
        }

    def path(
        self, name: str, up: list[list[str]], down: list[list[str]]
    ) -> dict[str, Any]:
        """One path: its tables, whether it has time, and the aggregated columns."""
        table, path_fk = down[-1]
        anchors = [up[0][1] if up else self.entity, *(t for t, _ in down)]
        for t in anchors:
            self.frame(t)
        rows = self.db[table]
        columns = [
            self.spec(table, c, counted=True, label=c, via=None)
            for c in self.feature_columns(table)
        ]
        others = [(f, q) for f, q in rows.foreign_keys.items() if f != path_fk]
        if self.nunique:
            columns += [
                {"label": f, "via": None, "column": f, "kind": "key"} for f, _ in others
            ]
        if self.include_parents:
            for f, q in others:
                if self.carriers.get(q, table) != table:
                    continue  # carried by another table's paths
                for c in self.feature_columns(q):
                    label = f"{f}->{q}.{c}"
                    columns.append(
                        self.spec(q, c, counted=True, label=label, via=[f, q])
                    )
        return {
            "name": name,
            "up": up,
            "down": down,
            "timed": any(self.db[t].time_column is not None for t in anchors),
            "columns": columns,
        }

    def schema(self) -> dict[str, Any]:
        """Keys, time column and column kinds of every table the plan uses."""
        return {
            name: describe(self.db[name], self.frame(name), self.feature_columns(name))
            for name in self.used
        }


# ---------------------------------------------------------------- helpers
def top_values(values: pd.Series, k: int) -> list[str]:
    """Return the ``k`` most frequent values as strings (ties: by value)."""
    counts = values.astype("string").value_counts(dropna=True)
    labels = counts.index.to_numpy(dtype=object).astype(str)
    order = np.lexsort((labels, -counts.to_numpy()))[:k]
    return [str(v) for v in labels[order]]


def name_part(value: str) -> str:
    """Write a category value for a feature name (no blanks or JSON marks)."""
    return _BAD_NAME.sub("_", value)[:40] or "_"


def check_excluded(db: Database, spec: Any) -> dict[str, set[str]]:
    """Validate ``exclude_columns``: ``{table: column or list of columns}``.

    Every table must be in the database and every column one of its feature
    columns (not a key or the time column); the errors name them.

    Parameters
    ----------
    db : Database
    spec : mapping or None

    Returns
    -------
    dict of str to set of str

    Examples
    --------
    >>> import pandas as pd
    >>> from tabkit.relational import Database, Table
    >>> from tabkit.relational._features_plan import check_excluded
    >>> db = Database({"t": Table(pd.DataFrame({"id": [1], "x": [2.0], "y": ["a"]}),
    ...                           primary_key="id")})
    >>> check_excluded(db, {"t": "x"})
    {'t': {'x'}}
    >>> check_excluded(db, {"t": ["id"]})
    Traceback (most recent call last):
    ...
    ValueError: exclude_columns: column 'id' of table 't' is its primary key; ...
    """
    if spec is None:
        return {}
    if not isinstance(spec, Mapping):
        raise TypeError(
            "exclude_columns must map table names to column names, e.g. "
            f"{{'orders': ['note']}}, got {type(spec).__name__}"
        )
    out: dict[str, set[str]] = {}
    for table, columns in spec.items():
        if table not in db:
            raise ValueError(
                f"exclude_columns: table {table!r} is not a table of the database "
                f"(tables: {sorted(db)})"
            )
        names = [columns] if isinstance(columns, str) else columns
        if not isinstance(names, Sequence) or not all(
            isinstance(c, str) for c in names
        ):
            raise TypeError(
                f"exclude_columns[{table!r}] must be a column name or a list of "
                f"column names, got {columns!r}"
            )
        t = db[table]
        features = t.feature_columns
        roles = {t.primary_key: "its primary key", t.time_column: "its time column"}
        roles.update(dict.fromkeys(t.foreign_keys, "a foreign key"))
        roles.update(dict.fromkeys(t.composite_keys, "a composite key"))
        for column in names:
            if column in features:
                continue
            if column in roles:
                raise ValueError(
                    f"exclude_columns: column {column!r} of table {table!r} is "
                    f"{roles[column]}; only feature columns can be excluded "
                    f"(feature columns of {table!r}: {features})"
                )
            raise ValueError(
                f"exclude_columns: table {table!r} has no column {column!r} "
                f"(feature columns: {features})"
            )
        out[table] = set(names)
    return out


def describe(
    table: Table, frame: pd.DataFrame, columns: Sequence[str] | None = None
) -> dict[str, Any]:
    """Describe one table's schema: keys, time column, column kinds.

    ``columns``: the feature columns described (default: all of them).
    """
    if columns is None:
        columns = table.feature_columns
    return {
        "primary_key": table.primary_key,
        "time_column": table.time_column,
        "foreign_keys": dict(table.foreign_keys),
        "columns": {str(c): column_kind(frame[c]) for c in columns},
    }


def fingerprint(db: Database) -> str:
    """``db.fingerprint()`` when the database has one, else a schema hash."""
    method = getattr(db, "fingerprint", None)
    if callable(method):
        return str(method())
    schema = {name: describe(db[name], db[name].df) for name in sorted(db)}
    return hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()


def window_span(window: Any) -> int:
    """Return a window in (positive) nanoseconds; a clear error otherwise."""
    try:
        span = pd.Timedelta(window)
    except (ValueError, TypeError):
        kind = (
            "a calendar offset"
            if isinstance(window, pd.DateOffset)
            else "not a duration"
        )
        raise ValueError(
            f"window {window!r} is {kind}: use fixed durations such as '30D' or "
            "pd.Timedelta(days=30), or None for all time"
        ) from None
    if span is pd.NaT or span <= pd.Timedelta(0):
        raise ValueError(f"window {window!r} must be a positive duration")
    return int(span.value)


def window_label(span: int) -> str:
    """``"7D"``, ``"12h"``, ``"90min"``, ``"30s"`` or ``"<n>ns"``."""
    units = (("D", 86_400 * 10**9), ("h", 3_600 * 10**9), ("min", 60 * 10**9))
    for unit, size in (*units, ("s", 10**9)):
        if span % size == 0:
            return f"{span // size}{unit}"
    return f"{span}ns"


def parse_windows(windows: Sequence[Any]) -> list[list[Any]]:
    """``[[label, span in ns or None], ...]`` of the ``windows`` parameter."""
    out: list[list[Any]] = []
    for window in windows:
        span = None if window is None else window_span(window)
        label = "all" if span is None else window_label(span)
        if any(label == w for w, _ in out):
            raise ValueError(f"window {window!r} is given twice in windows")
        out.append([label, span])
    if not out:
        raise ValueError("windows is empty: pass (None,) for all time")
    return out


def check_names(
    values: Sequence[str], allowed: tuple[str, ...], kind: str
) -> list[str]:
    """Validate aggregate names (order kept, duplicates dropped)."""
    names = [str(v) for v in values]
    unknown = sorted(set(names) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown {kind} aggregates {unknown}; choose among {list(allowed)}"
        )
    return list(dict.fromkeys(names))


def dedupe(names: list[str]) -> list[str]:
    """Make names unique by suffixing repeats with ``~2``, ``~3``, ..."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}~{seen[name]}")
    return out
