# SPDX-License-Identifier: BSD-3-Clause
"""RelationalFeatures: leak-free temporal aggregates of a database, for GBDTs.

:class:`RelationalFeatures` turns a seed table (entity key, cut-off) into one
row of features per seed, computed from the rows of the database known at the
seed's cut-off (ARCHITECTURE.md's time rule). It is the strong tabular baseline
of relational tasks: ``make_pipeline(RelationalFeatures(...), LGBMClassifier())``.

Visibility. A row of a timed table is visible at cut-off ``t`` when its time is
<= ``t`` (a missing time: never). A row reached through another row is visible
only when both are (its effective time is the later of the two): a grandchild
``item`` counts when the item and its ``order`` are known. A row of a table
without a time column takes the effective time of the row it hangs from (an
item without a time is known when its order is); static tables reached from a
static entity are always visible. A parent's columns carried by a child row
(an item carries its product's price) are used when the parent row is known by
the child row's effective time, else they count as missing.

The vectorised method (sorted rows, ``np.searchsorted`` window bounds, prefix
sums, ``reduceat``) is described in :mod:`tabkit.relational._features_compute`;
the fit-time plan in :mod:`tabkit.relational._features_plan`.
"""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from numbers import Integral
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from tabkit._compat import Interval, _fit_context
from tabkit.relational._database import Database
from tabkit.relational._errors import SchemaError
from tabkit.relational._features_compute import NEVER, Computation, TableData, to_ns
from tabkit.relational._features_plan import (
    CATEGORICAL_AGGREGATES,
    NUMERIC_AGGREGATES,
    Planner,
    check_names,
    dedupe,
    describe,
    fingerprint,
    name_part,
    parse_windows,
    window_label,
    window_span,
)
from tabkit.relational._table import Table
from tabkit.relational._time import normalize_time

__all__ = ["RelationalFeatures"]

logger = logging.getLogger(__name__)
#: Output size (float32, GiB) above which ``fit`` logs a warning.
_LARGE_GIB = 1.0
_F = TypeVar("_F", bound=Callable[..., Any])


def _validated(method: _F) -> _F:
    """Apply scikit-learn's ``_fit_context`` (parameter validation)."""
    return cast(_F, _fit_context(prefer_skip_nested_validation=True)(method))


# ---------------------------------------------------------------- estimator
class RelationalFeatures(TransformerMixin, BaseEstimator):
    """Leak-free temporal aggregate features of a database (a GBDT baseline).

    For each seed (entity, cut-off ``t``) of a seed table it computes, from the
    rows of ``database`` visible at ``t`` only (see the module docstring):

    * the entity's own columns and, with ``include_parents``, its parents'
      columns (tables the entity references; at ``hops=2`` also grandparents);
    * with ``time_features``, seed-time features: the entity's age at ``t``,
      days since it first appeared (its row or its first child row) and days
      since its last child row;
    * temporal aggregates over child rows (1 hop) and, at ``hops=2``, over
      grandchildren and over the children of the entity's parents, each child
      row carrying its other parents' columns (an item carries its product's).

    Parameters
    ----------
    database : Database
        The rows. Shared, never copied (by ``clone`` too); ``transform`` reads
        the current one, so ``set_params(database=newer_snapshot)`` works.
        None only in an unpickled or loaded transformer, until it is set.
    entity_table : str
        Table of the seeds' entities; it needs a primary key.
    hops : {0, 1, 2}, default=2
        Foreign-key edges followed away from the entity. ``0`` gives the
        entity-only baseline: the entity's own columns and seed-time features,
        no parents and no aggregates.
    windows : sequence, default=("7D", "30D", "365D", None)
        Aggregation windows ``(t - window, t]``: Timedeltas or strings such as
        ``"30D"``; ``None`` = all rows up to ``t``. Paths without any time
        column get the all-time window only.
    numeric_aggregates : sequence of str, default=("count", "mean", "min", \
"max", "sum", "last", "nunique", "recency")
        ``count`` is the number of rows of a path (and, for a column with
        missing values, of its non-missing values); ``last`` (latest non-missing
        value) and ``recency`` (days since the latest row) use the widest
        window only. Datetime columns give mean / min / max / last as days
        before the cut-off. Columns carried from a parent get ``mean`` only.
        Infinite values count as missing.
    categorical_aggregates : sequence of str, default=("count", "nunique")
        ``count``: rows per value, for columns with at most ``max_categories``
        values at fit (others get ``nunique`` only); ``nunique``: distinct
        values (also of foreign keys).
    include_parents : bool, default=True
        Use parents' columns (of the entity and of child rows).
    time_features : bool, default=True
        Add the seed-time features.
    max_categories : int, default=16
        Entity and parent categorical columns become pandas ``category``
        columns with their ``max_categories`` most frequent values at fit plus
        ``"__other__"``; aggregated ones get per-value counts up to this many
        values.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        Output columns, in order (see Notes).
    windows_ : list of [str, int or None]
        Window labels and spans in nanoseconds.
    columns_ : list of dict
        Entity and parent columns used.
    paths_ : list of dict
        Aggregation paths and their columns.
    schema_ : dict
        Keys, time column and column kinds of every table used at fit.
    schema_fingerprint_ : str
        ``database.fingerprint()`` at fit (or a hash of the schema).
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Notes
    -----
    Feature names: ``customers.age`` (entity column), ``store_id->stores.size``
    (parent via foreign key ``store_id``), ``seed.entity_age_days``,
    ``seed.days_since_first``, ``seed.days_since_last``, and aggregates
    ``<path>.<column>.<aggregate>.<window>`` where a path is child tables
    joined by ``/`` (``orders/items``; ``orders@buyer_id`` when a table joins
    its parent through several keys), optionally behind a parent step
    (``store_id->stores/orders``), a column carried from a parent is
    ``product_id->products.price``, per-value counts are
    ``orders.channel=web.count.30D``, row counts ``orders.count.30D`` and
    recency ``orders.recency.all``.

    A seed whose entity is not in the entity table (or not yet visible) gets
    missing entity columns and zero counts.

    Pickles and model files keep the schema fingerprint, not the tables: after
    loading, ``set_params(database=db)``; a database whose tables, keys or
    columns used by the features differ is a :class:`SchemaError`. Process-based
    parallelism pickles estimators too: ``GridSearchCV(..., n_jobs=2)`` needs
    ``joblib.parallel_backend("threading")`` (or ``n_jobs=1``).

    Examples
    --------
    >>> import pandas as pd
    >>> from tabkit.relational import Database, Table
    >>> from tabkit.relational.features import RelationalFeatures
    >>> db = Database({
    ...     "customers": Table(pd.DataFrame({"customer_id": [1, 2]}),
    ...                        primary_key="customer_id"),
    ...     "orders": Table(pd.DataFrame({
    ...         "order_id": [10, 11, 12], "customer_id": [1, 1, 2],
    ...         "amount": [5.0, 7.0, 1.0],
    ...         "ts": ["2026-01-01", "2026-01-20", "2026-02-01"]}),
    ...         primary_key="order_id", foreign_keys={"customer_id": "customers"},
    ...         time_column="ts")})
    >>> seeds = pd.DataFrame({"customer_id": [1, 2],
    ...                       "cutoff": pd.to_datetime(["2026-01-25"] * 2)})
    >>> rf = RelationalFeatures(database=db, entity_table="customers",
    ...                         windows=("7D", None),
    ...                         numeric_aggregates=("count", "sum"))
    >>> out = rf.fit_transform(seeds)
    >>> out[["orders.count.7D", "orders.amount.sum.all"]].to_numpy().tolist()
    [[1.0, 12.0], [0.0, 0.0]]
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "database": [Database, None],
        "entity_table": [str, None],
        "hops": [Interval(Integral, 0, 2, closed="both")],
        "windows": ["array-like"],
        "numeric_aggregates": ["array-like"],
        "categorical_aggregates": ["array-like"],
        "include_parents": ["boolean"],
        "time_features": ["boolean"],
        "max_categories": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        database: Database | None = None,
        entity_table: str | None = None,
        hops: int = 2,
        windows: Sequence[Any] = ("7D", "30D", "365D", None),
        numeric_aggregates: Sequence[str] = NUMERIC_AGGREGATES,
        categorical_aggregates: Sequence[str] = CATEGORICAL_AGGREGATES,
        include_parents: bool = True,
        time_features: bool = True,
        max_categories: int = 16,
    ) -> None:
        self.database = database
        self.entity_table = entity_table
        self.hops = hops
        self.windows = windows
        self.numeric_aggregates = numeric_aggregates
        self.categorical_aggregates = categorical_aggregates
        self.include_parents = include_parents
        self.time_features = time_features
        self.max_categories = max_categories

    # ------------------------------------------------------------ public API
    @_validated
    def fit(self, X: Any, y: Any = None) -> RelationalFeatures:
        """Plan the features: tables, columns, windows and category values.

        Parameters
        ----------
        X : DataFrame
            Seed table: the entity table's primary-key column and ``"cutoff"``.
        y : ignored

        Returns
        -------
        self : RelationalFeatures
        """
        del y  # seeds only: labels never shape the features
        db = self._database(fitted=False)
        db.check_time_columns()  # tables with date/time columns: timed or static
        entity = self._entity(db)
        keys, cutoff = self._check_seeds(X, db, reset=True)
        if len(keys) == 0:
            raise ValueError("the seed table X has no rows: nothing to fit")
        located = TableData(str(self.entity_table), entity).locate(keys)
        if not (located >= 0).any():
            raise ValueError(
                f"none of the seed keys in column {entity.primary_key!r} is a key of "
                f"table {self.entity_table!r} (seed dtype {keys.dtype}, key dtype "
                f"{entity.df[entity.primary_key].dtype})"
            )
        self.windows_ = parse_windows(self.windows)
        self.aggregates_ = {
            "numeric": check_names(
                self.numeric_aggregates, NUMERIC_AGGREGATES, "numeric"
            ),
            "categorical": check_names(
                self.categorical_aggregates, CATEGORICAL_AGGREGATES, "categorical"
            ),
        }
        planner = Planner(
            db,
            str(self.entity_table),
            int(cutoff.max()),
            hops=int(self.hops),
            include_parents=bool(self.include_parents),
            max_categories=int(self.max_categories),
            nunique="nunique" in self.aggregates_["categorical"],
        )
        self.columns_ = planner.entity_columns()
        self.paths_ = planner.paths()
        timed_entity = entity.time_column is not None
        hop1 = any(
            not p["up"] and len(p["down"]) == 1 and p["timed"] for p in self.paths_
        )
        self.seed_features_ = [
            name
            for name, keep in (
                ("entity_age_days", timed_entity),
                ("days_since_first", timed_entity or hop1),
                ("days_since_last", hop1),
            )
            if keep and self.time_features
        ]
        self.schema_ = planner.schema()
        self.schema_fingerprint_ = fingerprint(db)
        names = dedupe([name for name, _ in self._emit(None)])
        self.feature_names_out_ = np.asarray(names, dtype=object)
        size = len(keys) * len(names) * 4 / 2**30
        log = logger.warning if size > _LARGE_GIB else logger.info
        log(
            "RelationalFeatures(%s): %d features from %d aggregation paths (%.2f "
            "GiB for these %d seeds); fewer windows, aggregates, hops, "
            "max_categories or include_parents=False give fewer",
            self.entity_table,
            len(names),
            len(self.paths_),
            size,
            len(keys),
        )
        return self

    def transform(self, X: Any) -> pd.DataFrame:
        """Compute the features of each seed from rows visible at its cut-off.

        Parameters
        ----------
        X : DataFrame
            Seed table (entity key, ``"cutoff"``).

        Returns
        -------
        features : DataFrame
            One row per seed (same index as ``X``), columns
            ``feature_names_out_``: float32 and pandas ``category``.
        """
        check_is_fitted(self, "feature_names_out_")
        db = self._database(fitted=True)
        keys, cutoff = self._check_seeds(X, db, reset=False)
        ctx = Computation(db, str(self.entity_table), keys, cutoff, self.windows_)
        names = self.feature_names_out_
        n_cat = sum(spec["kind"] == "cat" for spec in self.columns_)
        block = np.empty((len(keys), len(names) - n_cat), dtype=np.float32, order="F")
        categorical: list[tuple[int, Any]] = []
        filled = 0
        emitted = 0
        for emitted, (_, make) in enumerate(self._emit(ctx), start=1):
            value = make()
            if isinstance(value, pd.Categorical):
                categorical.append((emitted - 1, value))
            else:
                block[:, filled] = value
                filled += 1
        if emitted != len(names):  # pragma: no cover - a planning bug
            raise RuntimeError("RelationalFeatures emitted an unexpected feature set")
        positions = {j for j, _ in categorical}
        numeric = [name for j, name in enumerate(names) if j not in positions]
        frame = pd.DataFrame(block, index=X.index, columns=numeric, copy=False)
        for j, value in categorical:
            frame.insert(j, names[j], value)
        return frame

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the :meth:`transform` columns.

        Parameters
        ----------
        input_features : ignored
            The output does not depend on the seed table's column names.

        Returns
        -------
        ndarray of str objects
        """
        del input_features
        check_is_fitted(self, "feature_names_out_")
        return np.asarray(self.feature_names_out_, dtype=object)

    def save(self, path: str | Path) -> Path:
        """Write the fitted transformer to a model file, without the tables.

        Parameters
        ----------
        path : str or Path
            Destination (conventionally ending in ``.tabkit``).

        Returns
        -------
        path : Path
        """
        from tabkit.serialization import save  # noqa: PLC0415 - avoids an import cycle

        twin = type(self).__new__(type(self))
        twin.__dict__.update(self.__getstate__())
        twin.windows = tuple(
            w if w is None or isinstance(w, str) else window_label(window_span(w))
            for w in self.windows
        )
        return save(twin, path)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state["database"] = None  # the tables stay out; schema_fingerprint_ stays
        return state

    def __deepcopy__(self, memo: dict[int, Any]) -> RelationalFeatures:
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        new.__dict__.update(copy.deepcopy(dict(self.__dict__), memo))  # db: shared
        return new

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags

    # ------------------------------------------------------------ validation
    def _database(self, *, fitted: bool) -> Database:
        db = self.database
        if db is None:
            if fitted:
                raise ValueError(
                    "RelationalFeatures has no database (pickles and model files "
                    "keep only its schema fingerprint "
                    f"{self.schema_fingerprint_[:12]}...): call "
                    "set_params(database=db) first"
                )
            raise ValueError(
                "RelationalFeatures needs database=, a tabkit.relational.Database "
                "(pickles drop it: with process-based parallelism such as "
                "n_jobs > 1, use joblib.parallel_backend('threading'))"
            )
        if fitted:
            self._check_schema(db)
        return db

    def _entity(self, db: Database) -> Table:
        if self.entity_table is None:
            raise ValueError("RelationalFeatures needs entity_table=, a table name")
        if self.entity_table not in db:
            raise SchemaError(
                f"entity_table {self.entity_table!r} is not a table of the database "
                f"(tables: {sorted(db)})"
            )
        entity = db[self.entity_table]
        if entity.primary_key is None:
            raise SchemaError(
                f"entity table {self.entity_table!r} has no primary key: seeds "
                "name their entity by it"
            )
        return entity

    def _check_seeds(
        self, X: Any, db: Database, *, reset: bool
    ) -> tuple[pd.Series, np.ndarray]:
        key = self._entity(db).primary_key
        if not isinstance(X, pd.DataFrame):
            raise TypeError(
                f"X must be a seed table: a pandas DataFrame with columns [{key!r}, "
                f"'cutoff'], got {type(X).__name__}"
            )
        columns = [str(c) for c in X.columns]
        missing = [c for c in (key, "cutoff") if c not in columns]
        extra = [c for c in columns if c not in (key, "cutoff")]
        if missing or extra or len(columns) != 2:
            raise ValueError(
                f"the seed table X must have exactly the columns [{key!r}, 'cutoff'] "
                f"(the primary key of {self.entity_table!r} and the cut-off); "
                f"missing {missing}, unexpected {extra}"
            )
        cut = X["cutoff"]
        if not pd.api.types.is_datetime64_any_dtype(cut.dtype):
            cut = normalize_time(cut, "seed table", "cutoff")
        cutoff = to_ns(cut)
        if (cutoff == NEVER).any():
            raise ValueError(
                f"the seed table's 'cutoff' column has {(cutoff == NEVER).sum()} "
                "missing values"
            )
        aware, db_aware = isinstance(cut.dtype, pd.DatetimeTZDtype), db.time_aware
        if db_aware is not None and aware != db_aware:
            raise ValueError(
                "the seed table's 'cutoff' is "
                f"{'time-zone-aware' if aware else 'naive'} but the database's time "
                f"columns are {'time-zone-aware (UTC)' if db_aware else 'naive'}"
            )
        keys = X[key].reset_index(drop=True)
        if keys.isna().any():
            raise ValueError(f"the seed table's key column {key!r} has missing values")
        if reset:
            self.n_features_in_ = 2
            self.feature_names_in_ = np.asarray(columns, dtype=object)
        return keys, cutoff

    def _check_schema(self, db: Database) -> None:
        """Check the database against the fit's schema fingerprint.

        Equal fingerprints pass at once. Otherwise every table, key and column
        the features use must be there with the same kind (a datetime unit or
        int -> float change keeps the kind); unused tables and columns may
        differ.
        """
        current = fingerprint(db)
        if current == self.schema_fingerprint_:
            return
        for name, fitted in self.schema_.items():
            if name not in db:
                raise SchemaError(
                    f"table {name!r}, used at fit, is not in the database "
                    f"(tables: {sorted(db)})"
                )
            now = describe(db[name], db[name].df)
            for field in ("primary_key", "time_column", "foreign_keys"):
                if now[field] != fitted[field]:
                    raise SchemaError(
                        f"table {name!r}: {field} is {now[field]!r}, but was "
                        f"{fitted[field]!r} at fit"
                    )
            for column, kind in fitted["columns"].items():
                if now["columns"].get(column) != kind:
                    got = now["columns"].get(column, "missing")
                    raise SchemaError(
                        f"table {name!r}: column {column!r} is {got}, but was {kind} "
                        "at fit"
                    )
        logger.info(
            "RelationalFeatures: schema fingerprint %s... differs from the fit's "
            "(%s...) only in dtypes or parts the features do not use",
            current[:12],
            self.schema_fingerprint_[:12],
        )

    # ------------------------------------------------------------ features
    def _emit(self, ctx: Computation | None) -> Iterator[tuple[str, Callable[[], Any]]]:
        """Yield ``(name, compute)`` per feature, in output order.

        ``fit`` calls it without a computation to list the names;
        ``transform`` evaluates every ``compute``.
        """
        part = functools.partial
        run: Any = ctx  # attributes looked up only when a compute is called
        for spec in self.columns_:
            yield spec["name"], part(_call, run, "column", spec)
        for which in self.seed_features_:
            yield f"seed.{which}", part(_call, run, "seed", which, self.paths_)
        num, cat = self.aggregates_["numeric"], self.aggregates_["categorical"]
        for path in self.paths_:
            label = path["name"]
            wins = self.windows_ if path["timed"] else [["all", None]]
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
