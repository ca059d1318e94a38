# SPDX-License-Identifier: BSD-3-Clause
"""RelationalFeatures: leak-free temporal aggregates of a database, for GBDTs.

:class:`RelationalFeatures` turns a seed table (entity key, cut-off) into one
row of features per seed, computed from the rows of the database known at the
seed's cut-off (tabkit's time rule: a prediction at cut-off ``t`` uses rows
known at ``t`` only). It is the strong tabular baseline of relational tasks:
``make_pipeline(RelationalFeatures(...), LGBMClassifier())``.

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
the fit-time plan in :mod:`tabkit.relational._features_plan`; chunks of seeds
and the search for constant and duplicate features in
:mod:`tabkit.relational._features_run`.
"""

from __future__ import annotations

import inspect
import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from numbers import Integral
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from tabkit._compat import Interval, _fit_context
from tabkit.relational import _features_run as run
from tabkit.relational._database import Database
from tabkit.relational._estimator import DatabaseParamMixin
from tabkit.relational._features_context import TableData
from tabkit.relational._features_plan import (
    CATEGORICAL_AGGREGATES,
    NUMERIC_AGGREGATES,
    Planner,
    check_excluded,
    check_names,
    fingerprint,
    parse_windows,
    window_label,
    window_span,
)
from tabkit.relational._features_run import (
    Plan,
    compute_and_drop,
    evaluate,
    find_redundant,
    frame_of,
)

__all__ = ["RelationalFeatures"]

logger = logging.getLogger(__name__)
#: Feature table size (float32, GiB) above which ``fit`` warns.
_LARGE_GIB = 1.0
_F = TypeVar("_F", bound=Callable[..., Any])


def _validated(method: _F) -> _F:
    """Apply scikit-learn's ``_fit_context`` (parameter validation)."""
    return cast(_F, _fit_context(prefer_skip_nested_validation=True)(method))


# ---------------------------------------------------------------- estimator
class RelationalFeatures(DatabaseParamMixin, TransformerMixin, BaseEstimator):
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
        Use parents' columns: the entity's parents', and those carried by
        child rows (see Notes).
    time_features : bool, default=True
        Add the seed-time features.
    max_categories : int, default=16
        Entity and parent categorical columns become pandas ``category``
        columns with their ``max_categories`` most frequent values at fit,
        ``"__other__"`` (other values) and ``"__missing__"`` (missing values,
        and entities or parents not known at the cut-off); aggregated ones get
        per-value counts up to this many values.
    exclude_columns : dict, optional
        Columns never used, by table: ``{"orders": ["note", "coupon"]}`` (a
        single column may be given as a string). They are left out everywhere:
        as entity or parent columns, aggregated and carried. Only feature
        columns can be excluded (not keys or time columns); an unknown table or
        column is an error that names it.
    drop_redundant : bool, default=True
        Drop, at fit, the features that are constant on the fit's seeds or
        equal to an earlier feature on all of them (see Notes);
        :attr:`dropped_features_` lists them and :meth:`get_feature_names_out`
        the others.
    verbose : int, default=0
        Above 0, show a progress bar (features computed) in ``fit`` and
        ``transform``.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        Output columns, in order (see Notes).
    dropped_features_ : dict of str to str
        Features dropped at fit and why: ``"constant"`` or
        ``"duplicate of <name>"`` (the kept feature with the same values).
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

    Carried columns. A child row carries its other parents' columns (an item
    its product's price), averaged like the row's own columns. When the rows
    of several tables reference the same parent table, only the table with
    the most rows carries its columns: a player's teams are the same through
    his batting, fielding and appearance rows, and carrying the teams'
    columns along each would repeat nearly the same averages.

    A seed whose entity is not in the entity table (or not yet visible) gets
    missing numeric entity columns, ``"__missing__"`` categorical ones and zero
    counts. Categorical columns have no missing values: CatBoost takes them as
    they are, and LightGBM converts the output to float32, not float64.

    Size. Features are computed in chunks of seeds straight into the float32
    output. With ``drop_redundant``, ``fit`` computes every planned feature
    once, chunk by chunk, keeping only a hash of each (not the table), and
    drops the constant ones and the duplicates (a 7-day and a 30-day window
    hold the same rows when rows are dated once a season; a mean over one row
    is its sum); a feature table above 1 GiB raises a ``UserWarning`` that
    says how to make it narrower. ``fit_transform`` is ``fit`` then
    ``transform``.

    Pickles and model files keep the schema fingerprint, not the tables: after
    loading a model file, ``set_params(database=db)``; a database whose
    tables, keys or columns used by the features differ is a
    :class:`SchemaError`. A pickle refers to a copy of the database written
    once to disk per database and process (removed when the process exits),
    which is what process-based parallelism such as ``GridSearchCV(...,
    n_jobs=2)`` needs: each worker process memory-maps that copy once. A
    pickle whose copy is gone unpickles without a database.

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
    ...                         windows=("7D", "30D", None),
    ...                         numeric_aggregates=("count", "sum"))
    >>> out = rf.fit_transform(seeds)
    >>> out[["orders.count.7D", "orders.amount.sum.30D"]].to_numpy().tolist()
    [[1.0, 12.0], [0.0, 0.0]]

    On these seeds, 30 days hold every order so far: the all-time features
    repeat the 30-day ones and are dropped.

    >>> for name, why in rf.dropped_features_.items():
    ...     print(name, "->", why)
    orders.count.all -> duplicate of orders.count.30D
    orders.amount.sum.all -> duplicate of orders.amount.sum.30D
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
        "exclude_columns": [dict, None],
        "drop_redundant": ["boolean"],
        "verbose": ["verbose"],
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
        exclude_columns: Mapping[str, str | Sequence[str]] | None = None,
        drop_redundant: bool = True,
        verbose: int = 0,
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
        self.exclude_columns = exclude_columns
        self.drop_redundant = drop_redundant
        self.verbose = verbose

    # ------------------------------------------------------------ public API
    @_validated
    def fit(self, X: Any, y: Any = None) -> RelationalFeatures:
        """Plan the features, then drop the constant and duplicate ones.

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
        db, keys, cutoff = self._fit_plan(X)
        self._drop_redundant(db, keys, cutoff)
        return self

    @_validated
    def fit_transform(self, X: Any, y: Any = None) -> pd.DataFrame:
        """Fit, and return the features of the fit's seeds.

        When the seeds fit in one chunk, every feature is computed once, and
        kept or dropped as it comes; otherwise this is ``fit`` then
        ``transform``.

        Parameters
        ----------
        X : DataFrame
            Seed table: the entity table's primary-key column and ``"cutoff"``.
        y : ignored

        Returns
        -------
        features : DataFrame
            As :meth:`transform`.
        """
        del y
        db, keys, cutoff = self._fit_plan(X)
        if not self.drop_redundant or len(keys) > run.SEED_CHUNK:
            self._drop_redundant(db, keys, cutoff)
            return self.transform(X)
        plan = self._plan()
        names = plan.names()
        dropped, kept, values, codes = compute_and_drop(
            plan, db, keys, cutoff, self._progress("fit_transform")
        )
        self.dropped_features_ = dropped
        self._set_kept(names, len(keys))
        return frame_of(X.index, names, kept, values, codes, plan.categorical_at())

    def _drop_redundant(
        self, db: Database, keys: pd.Series, cutoff: np.ndarray
    ) -> None:
        """Find the constant and duplicate features (``drop_redundant``)."""
        plan = self._plan()
        self.dropped_features_ = (
            find_redundant(plan, db, keys, cutoff, self._progress("fit"))
            if self.drop_redundant
            else {}
        )
        self._set_kept(plan.names(), len(keys))

    def _fit_plan(self, X: Any) -> tuple[Database, pd.Series, np.ndarray]:
        """Check the seeds and plan the features (every planned one)."""
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
            excluded=check_excluded(db, self.exclude_columns),
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
        return db, keys, cutoff

    def _set_kept(self, names: list[str], n_seeds: int) -> None:
        kept = [name for name in names if name not in self.dropped_features_]
        self.feature_names_out_ = np.asarray(kept, dtype=object)
        self._report_size(len(names), n_seeds)

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
        plan = self._plan()
        names = plan.names()
        dropped = getattr(self, "dropped_features_", {})
        wanted = [name not in dropped for name in names]
        if sum(wanted) != len(self.feature_names_out_):  # pragma: no cover
            raise RuntimeError("RelationalFeatures planned an unexpected feature set")
        categories = plan.categorical_at()
        kept = [j for j in range(len(names)) if wanted[j]]
        numeric = [j for j in kept if j not in categories]
        slot = {j: i for i, j in enumerate(numeric)}
        n = len(keys)
        values = np.empty((len(numeric), n), dtype=np.float32)  # column by column
        codes = {j: np.full(n, -1, dtype=np.int32) for j in kept if j in categories}
        for rows, j, value in evaluate(
            plan, db, keys, cutoff, wanted, self._progress("transform")
        ):
            if j in codes:
                codes[j][rows] = value.codes
            else:
                values[slot[j], rows] = value
        return frame_of(X.index, names, kept, values, codes, categories)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the :meth:`transform` columns.

        Parameters
        ----------
        input_features : ignored
            The output does not depend on the seed table's column names.

        Returns
        -------
        ndarray of str objects
            The planned features less the dropped ones
            (:attr:`dropped_features_`).
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

        twin = self._twin_without_tables()
        twin.windows = tuple(
            w if w is None or isinstance(w, str) else window_label(window_span(w))
            for w in self.windows
        )
        return save(twin, path)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags

    # ------------------------------------------------------------ helpers
    def _plan(self) -> Plan:
        return Plan(
            entity=str(self.entity_table),
            windows=self.windows_,
            columns=self.columns_,
            seed_features=self.seed_features_,
            paths=self.paths_,
            numeric=self.aggregates_["numeric"],
            categorical=self.aggregates_["categorical"],
        )

    def _progress(self, stage: str) -> str | None:
        return (
            f"RelationalFeatures({self.entity_table}).{stage}" if self.verbose else None
        )

    def _report_size(self, planned: int, n_seeds: int) -> None:
        """Log the width; warn when the feature table is large."""
        width = len(self.feature_names_out_)
        size = n_seeds * width * 4 / 2**30
        logger.info(
            "RelationalFeatures(%s): %d features from %d aggregation paths (%d "
            "constant or duplicate ones dropped), %.2f GiB for these %d seeds",
            self.entity_table,
            width,
            len(self.paths_),
            planned - width,
            size,
            n_seeds,
        )
        if size > _LARGE_GIB:
            warnings.warn(
                f"RelationalFeatures({self.entity_table}): {width:,} features make "
                f"a feature table of {size:.1f} GiB for these {n_seeds:,} seeds, "
                "and a model fitted on it needs several times that; fewer windows, "
                "aggregates or hops, a smaller max_categories, "
                "include_parents=False or exclude_columns= give fewer features",
                UserWarning,
                stacklevel=_caller_level(),
            )

    # ------------------------------------------------------------ validation


def _caller_level() -> int:
    """``stacklevel`` of the first caller outside tabkit, scikit-learn and joblib.

    For a warning raised in the caller of this function: it then points at the
    user's ``fit`` (or ``pipeline.fit``) line, however deep the call.
    """
    inside = tuple(
        str(Path(path).parent)
        for path in (Path(__file__).parent, sklearn.__file__, joblib.__file__)
        if path is not None
    )
    frame, level = inspect.currentframe(), 0
    while frame is not None and frame.f_code.co_filename.startswith(inside):
        frame, level = frame.f_back, level + 1
    return max(level, 1)
