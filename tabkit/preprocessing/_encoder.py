# SPDX-License-Identifier: BSD-3-Clause
"""The encoder class and the table type it returns.

:class:`TabularEncoder` learns column kinds, scaling, category vocabularies, missing
indicators and target statistics, and encodes tables into an :class:`EncodedTable`
(a float block ``x_num`` and an integer block ``x_cat``) or into one float64 matrix
for scikit-learn; the column arithmetic lives in the helper modules of this package.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any, Literal, NamedTuple, TypeVar, cast

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from tabkit._compat import Interval, StrOptions, _check_sample_weight, _fit_context
from tabkit._warnings import user_stacklevel
from tabkit.preprocessing._categorical import (
    _MISSING,
    _VOCABULARY_INDEXES,
    _category_codes,
    _fit_vocabulary,
    _prepare_target,
    _target_statistics,
)
from tabkit.preprocessing._numeric import (
    _DATETIME_FEATURES,
    _DEFAULT_DATETIME_FEATURES,
    _datetime_block,
    _datetime_parts,
    _fit_quantiles,
    _float_block,
    _is_float_like,
    _nan_moments,
    _nan_quantiles,
    _normal_scores,
    _quantile_probability,
)
from tabkit.preprocessing._validation import check_table

# The package's name, as before the split into modules.
logger = logging.getLogger("tabkit.preprocessing")

_Method = TypeVar("_Method", bound=Callable[..., Any])


class EncodedTable(NamedTuple):
    """The two blocks a model consumes, as returned by :meth:`TabularEncoder.encode`.

    Attributes
    ----------
    x_num : ndarray of shape (n_samples, n_num_features), dtype float32
        Scaled numeric columns, datetime-derived features, missing indicators and
        target statistics, in that order (see ``num_feature_names_``).
    x_cat : ndarray of shape (n_samples, n_cat_features), dtype int64
        Category codes: 0 = missing, 1 = unknown, 2.. = the vocabulary (see
        ``cat_feature_names_`` and ``cardinalities_``).

    See Also
    --------
    TabularEncoder : Produces encoded tables.

    Examples
    --------
    >>> import numpy as np
    >>> table = EncodedTable(np.zeros((2, 3), np.float32), np.ones((2, 1), np.int64))
    >>> table.x_num.shape, table.x_cat.shape
    ((2, 3), (2, 1))
    """

    x_num: np.ndarray
    x_cat: np.ndarray


class _Training(NamedTuple):
    """Training targets kept during one ``fit_encode`` for out-of-fold statistics."""

    values: np.ndarray
    strata: np.ndarray | None
    weights: np.ndarray | None
    seed: int


def _fit_method(method: _Method) -> _Method:
    """Apply scikit-learn's ``_fit_context`` (parameter validation), keeping types."""
    return cast(_Method, _fit_context(prefer_skip_nested_validation=True)(method))


def _derive_seed(random_state: Any) -> int:
    """Derive a seed; None draws fresh entropy, never from the global RNG."""
    if random_state is None:
        return int(np.random.default_rng().integers(np.iinfo(np.int32).max))
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


class TabularEncoder(TransformerMixin, BaseEstimator):  # type: ignore[misc,unused-ignore]
    """Encode a table into a float block and a category-code block.

    The one place in tabkit that learns scaling, category vocabularies and
    missing-value handling; each model picks its strategies. Column kinds:

    - numbers, booleans (0/1), nullable ``Int64``/``Float64``/``boolean`` (``pd.NA``
      is missing) and timedeltas (seconds) are **numeric**;
    - pandas ``category`` (declared categories in declared order, unused ones
      included), object and string columns are **categorical**;
    - naive and tz-aware datetimes (converted to UTC) give derived numeric
      features ``{col}__year``, ``{col}__month_sin``, ...; ``epoch`` is years since
      1970-01-01; features constant on the training rows are dropped;
    - all-missing columns are **dropped** at fit with one warning, and ignored at
      transform whatever they hold.

    Parameters
    ----------
    numeric : {"standard", "quantile", "none"}, default="standard"
        ``"standard"``: (x - mean) / std (std 0 -> 1). ``"quantile"``: to a standard
        normal through ``max(min(n // 30, 1000), 10)`` quantiles per column, as the
        ExcelFormer/rtdl reference. ``"none"``: values as floats.
    quantile_noise : float, default=0.0
        If > 0 (the reference uses 1e-3), quantiles are fitted on
        ``x + noise / max(std, noise) * N(0, 1)``, seeded by ``random_state``.
    categorical : {"codes", "onehot", "target", "auto"}, default="codes"
        ``"codes"`` and ``"onehot"`` put codes in ``x_cat`` (the ``transform`` view
        shows them as floats or one-hot columns). ``"target"`` replaces each
        categorical column by leak-free target statistics in ``x_num``.
        ``"auto"``: one-hot up to ``onehot_max_cardinality`` levels, target above.
        Target statistics need ``y`` at fit.
    onehot_max_cardinality : int, default=16
        Most levels for one-hot with ``categorical="auto"``.
    categorical_features : "auto", None or array-like, default="auto"
        ``"auto"``: category, object and string columns of a DataFrame (arrays have
        none). Column names, positions or a boolean mask: exactly those columns.
        None: no categorical column. Undeclared non-numeric columns are errors.
    max_categories : int >= 2 or None, default=None
        Keep at most this many levels per column (the most frequent; ties by
        vocabulary order); the others map to the unknown code.
    min_frequency : int >= 1, default=1
        Levels seen fewer times at fit map to the unknown code. With 1, every level
        is kept, including unused declared categories.
    datetime_features : tuple of str, default=("epoch", "year", "month", "day", \
"dayofweek", "hour")
        Features derived from datetime columns, among those and ``"minute"``.
    datetime_cyclical : bool, default=True
        Also add sin/cos of month, dayofweek and hour when requested.
    missing_indicators : bool, default=True
        Add a 0/1 column ``{col}__missing`` for every numeric or datetime column
        with missing values at fit.
    target_type : {"auto", "binary", "multiclass", "continuous"}, default="auto"
        Target kind for target statistics; ``"auto"`` uses ``type_of_target``.
    target_smoothing : float >= 0, default=10.0
        m of the m-estimate ``(sum + m * prior) / (count + m)``.
    target_cv : int >= 2, default=5
        Folds for the out-of-fold statistics of ``fit_encode``/``fit_transform``.
    random_state : int, RandomState instance or None, default=None
        Seeds the target-statistic folds and the quantile noise. The global NumPy
        random state is never used.

    Attributes
    ----------
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Input column names, when they are all strings.
    column_kinds_ : dict of str to str
        Kind of each column: ``"numeric"``, ``"categorical"``, ``"datetime"`` or
        ``"dropped"``.
    categories_ : dict of str to list
        Kept vocabulary of each categorical column (plain Python scalars).
    cardinalities_ : list of int
        ``len(vocabulary) + 2`` for each ``x_cat`` column.
    num_feature_names_ : list of str
        Names of the ``x_num`` columns.
    cat_feature_names_ : list of str
        Names of the ``x_cat`` columns.
    dropped_columns_ : list of str
        Columns dropped at fit because all their values were missing.
    target_type_ : str
        Resolved target type; only with target statistics.
    classes_ : ndarray of shape (n_classes,)
        Target classes; only with target statistics of a classification target.

    See Also
    --------
    check_table : The input validation used by every tabkit estimator.
    sklearn.preprocessing.TargetEncoder : Cross-fitted target encoding.

    Notes
    -----
    Codes in ``x_cat`` are reserved: **0 = missing**, **1 = unknown** (unseen at
    fit, or infrequent per ``max_categories``/``min_frequency``), **2..k+1 = the
    vocabulary** in ``categories_`` order, so ``cardinalities_[j] = k + 2``.

    ``x_num`` holds numeric columns (input order), datetime features, missing
    indicators (numeric columns, then datetime columns), then target statistics.
    Missing numeric values are imputed with the training mean (0 after
    ``"standard"`` scaling, the mean itself with ``"none"``) or, with
    ``"quantile"``, the training median (about 0 after the transform). A column
    without missing values at fit is imputed at transform but has no indicator
    column. ``inf`` is an error naming the column. ``epoch`` counts mean
    Gregorian years (365.2425 days) since 1970-01-01.

    Target statistics: binary, one column P(y = classes_[1]); multiclass, one
    column per class; continuous, the mean of the standardised target. Missing
    is a level of its own, unknown gets the prior. ``fit_encode`` and
    ``fit_transform`` return out-of-fold statistics (``target_cv`` shuffled
    folds, stratified when every class has that many rows); ``encode`` and
    ``transform`` use all training rows, like scikit-learn's ``TargetEncoder``.

    With integer ``sample_weight``, every statistic (means, quantiles, level
    frequencies, target statistics) counts a row as if repeated ``weight`` times;
    rows of weight 0 are ignored, for vocabularies and missing values too. Other
    weights are first rescaled to sum to the number of rows with a positive
    weight, so that their scale does not matter. Only the random
    ``quantile_noise`` makes weighting and repetition differ.

    All fitted state is plain Python data or numeric/str NumPy arrays, so that
    model files can store it as JSON plus arrays.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> X = pd.DataFrame({
    ...     "age": [25.0, 32.0, np.nan, 51.0],
    ...     "city": pd.Series(["Paris", "Lyon", "Paris", None], dtype="string"),
    ... })
    >>> enc = TabularEncoder().fit(X)
    >>> enc.num_feature_names_, enc.categories_
    (['age', 'age__missing'], {'city': ['Lyon', 'Paris']})
    >>> table = enc.encode(X)
    >>> table.x_num.dtype, table.x_cat.ravel().tolist(), enc.cardinalities_
    (dtype('float32'), [3, 2, 3, 0], [4])
    >>> enc.encode(pd.DataFrame({"age": [40.0], "city": ["Nice"]})).x_cat.tolist()
    [[1]]
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "numeric": [StrOptions({"standard", "quantile", "none"})],
        "quantile_noise": [Interval(Real, 0, None, closed="left")],
        "categorical": [StrOptions({"codes", "onehot", "target", "auto"})],
        "onehot_max_cardinality": [Interval(Integral, 0, None, closed="left")],
        "categorical_features": [StrOptions({"auto"}), "array-like", None],
        "max_categories": [Interval(Integral, 2, None, closed="left"), None],
        "min_frequency": [Interval(Integral, 1, None, closed="left")],
        "datetime_features": [list, tuple],
        "datetime_cyclical": ["boolean"],
        "missing_indicators": ["boolean"],
        "target_type": [StrOptions({"auto", "binary", "multiclass", "continuous"})],
        "target_smoothing": [Interval(Real, 0, None, closed="left")],
        "target_cv": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        numeric: Literal["standard", "quantile", "none"] = "standard",
        quantile_noise: float = 0.0,
        categorical: Literal["codes", "onehot", "target", "auto"] = "codes",
        onehot_max_cardinality: int = 16,
        categorical_features: Any = "auto",
        max_categories: int | None = None,
        min_frequency: int = 1,
        datetime_features: tuple[str, ...] | list[str] = _DEFAULT_DATETIME_FEATURES,
        datetime_cyclical: bool = True,
        missing_indicators: bool = True,
        target_type: Literal["auto", "binary", "multiclass", "continuous"] = "auto",
        target_smoothing: float = 10.0,
        target_cv: int = 5,
        random_state: Any = None,
    ) -> None:
        self.numeric = numeric
        self.quantile_noise = quantile_noise
        self.categorical = categorical
        self.onehot_max_cardinality = onehot_max_cardinality
        self.categorical_features = categorical_features
        self.max_categories = max_categories
        self.min_frequency = min_frequency
        self.datetime_features = datetime_features
        self.datetime_cyclical = datetime_cyclical
        self.missing_indicators = missing_indicators
        self.target_type = target_type
        self.target_smoothing = target_smoothing
        self.target_cv = target_cv
        self.random_state = random_state

    # ------------------------------------------------------------------ public
    @_fit_method
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> TabularEncoder:
        """Learn column kinds, scaling, vocabularies and target statistics.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Training table; never modified.
        y : array-like of shape (n_samples,), default=None
            Target; needed only for target statistics.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights: a row counts as if repeated ``weight`` times
            in every statistic (rows of weight 0 are ignored); see Notes.

        Returns
        -------
        self : TabularEncoder
            The fitted encoder.
        """
        self._fit(X, y, sample_weight)
        return self

    @_fit_method
    def fit_encode(
        self, X: Any, y: Any = None, sample_weight: Any = None
    ) -> EncodedTable:
        """Fit, then encode the training rows with out-of-fold target statistics.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Training table; never modified.
        y : array-like of shape (n_samples,), default=None
            Target; needed only for target statistics.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights: a row counts as if repeated ``weight`` times
            in every statistic (rows of weight 0 are ignored); see Notes.

        Returns
        -------
        EncodedTable
            ``x_num`` float32 and ``x_cat`` int64 blocks of the training rows.
        """
        frame, training = self._fit(X, y, sample_weight)
        return self._encode(frame, training=training)

    def encode(self, X: Any) -> EncodedTable:
        """Encode a table for a model.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Table with the columns seen at fit; never modified.

        Returns
        -------
        EncodedTable
            ``x_num`` float32 of shape (n_samples, len(num_feature_names_)) and
            ``x_cat`` int64 of shape (n_samples, len(cat_feature_names_)).
        """
        check_is_fitted(self)
        return self._encode(self._check(X))

    def transform(self, X: Any) -> np.ndarray:
        """Encode a table as one float64 matrix (the scikit-learn view).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Table with the columns seen at fit; never modified.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out)
            ``x_num`` followed by the codes as floats (``categorical="codes"``) or
            their one-hot columns; see :meth:`get_feature_names_out`.
        """
        check_is_fitted(self)
        return self._view(self._check(X), None)

    @_fit_method
    def fit_transform(
        self, X: Any, y: Any = None, sample_weight: Any = None
    ) -> np.ndarray:
        """Fit, then transform the training rows (out-of-fold target statistics).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Training table; never modified.
        y : array-like of shape (n_samples,), default=None
            Target; needed only for target statistics.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights: a row counts as if repeated ``weight`` times
            in every statistic (rows of weight 0 are ignored); see Notes.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out)
            The same content as :meth:`fit_encode`, in the :meth:`transform` view.
        """
        frame, training = self._fit(X, y, sample_weight)
        return self._view(frame, training)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the :meth:`transform` columns.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Input column names; default the names seen at fit (``x0``, ... for
            arrays).

        Returns
        -------
        ndarray of str objects
            One name per column of :meth:`transform`.
        """
        check_is_fitted(self)
        inputs = self._input_names
        if input_features is not None:
            inputs = [str(name) for name in input_features]
            if len(inputs) != self.n_features_in_:
                raise ValueError(
                    "input_features should have length equal to number of features "
                    f"({self.n_features_in_}), got {len(inputs)}"
                )
            if hasattr(self, "feature_names_in_") and not np.array_equal(
                np.asarray(inputs, dtype=object), self.feature_names_in_
            ):
                raise ValueError("input_features is not equal to feature_names_in_")
        num, cat = self._names(inputs)
        if self._onehot_view:
            cat = []
            for j, position in enumerate(self._x_cat_positions):
                vocab = self.categories_[self._input_names[position]]
                cat += [f"{inputs[position]}_{value}" for value in vocab]
                if self._x_cat_missing[j]:
                    cat.append(f"{inputs[position]}__missing")
        return np.asarray(num + cat, dtype=object)

    def num_feature_layout(self) -> pd.DataFrame:
        """Describe each ``x_num`` column and where its missing indicator is.

        Models that treat missing values themselves (for example by a flag
        next to each value) use this instead of parsing feature names.

        Returns
        -------
        layout : DataFrame with one row per ``x_num`` column
            ``name`` (as in ``num_feature_names_``), ``source`` (the input
            column), ``kind`` (``"numeric"``, ``"datetime"``, ``"indicator"`` or
            ``"target"``) and ``indicator`` (the ``x_num`` position of the
            column's missing indicator, -1 when it has none or is not a value).

        Examples
        --------
        >>> import numpy as np
        >>> import pandas as pd
        >>> X = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [1.0, 2.0, 4.0]})
        >>> TabularEncoder().fit(X).num_feature_layout()
                name source       kind  indicator
        0          a      a    numeric          2
        1          b      b    numeric         -1
        2  a__missing      a  indicator         -1
        """
        check_is_fitted(self)
        names = self._input_names
        n_num, n_parts = len(self._num_positions), sum(map(len, self._dt_parts))
        sources = [names[p] for p in self._num_positions]
        kinds = ["numeric"] * n_num
        indicator = [-1] * n_num
        start = n_num + n_parts
        for k, j in enumerate(self._ind_num):
            indicator[j] = start + k
        for j, parts in enumerate(self._dt_parts):
            at = (
                start + len(self._ind_num) + self._ind_dt.index(j)
                if j in self._ind_dt
                else -1
            )
            sources += [names[self._dt_positions[j]]] * len(parts)
            kinds += ["datetime"] * len(parts)
            indicator += [at] * len(parts)
        sources += [names[self._num_positions[j]] for j in self._ind_num]
        sources += [names[self._dt_positions[j]] for j in self._ind_dt]
        n_ind = len(self._ind_num) + len(self._ind_dt)
        kinds += ["indicator"] * n_ind
        indicator += [-1] * n_ind
        targeted = [
            p for p, t in zip(self._cat_positions, self._cat_target, strict=True) if t
        ]
        for p in targeted:
            sources += [names[p]] * len(self._target_suffixes)
        n_target = len(targeted) * len(self._target_suffixes)
        kinds += ["target"] * n_target
        indicator += [-1] * n_target
        return pd.DataFrame(
            {
                "name": pd.Series(self.num_feature_names_, dtype=object),
                "source": pd.Series(sources, dtype=object),
                "kind": pd.Series(kinds, dtype=object),
                "indicator": np.asarray(indicator, dtype=np.int64),
            }
        )

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # ----------------------------------------------------------------- fitting
    def _fit(
        self, X: Any, y: Any, sample_weight: Any
    ) -> tuple[pd.DataFrame, _Training | None]:
        """Fit every part; return the validated frame and the training targets."""
        for stale in ("classes_", "target_type_"):
            self.__dict__.pop(stale, None)
        frame = check_table(
            self, X, reset=True, categorical_features=self.categorical_features
        )
        names = [str(column) for column in frame.columns]
        duplicated = sorted(name for name, n in Counter(names).items() if n > 1)
        if duplicated:
            raise ValueError(
                f"Expected unique column names, got duplicates {duplicated}."
            )
        unknown = [f for f in self.datetime_features if f not in _DATETIME_FEATURES]
        if unknown:
            raise ValueError(
                f"datetime_features has unknown name(s) {unknown}; choose among "
                f"{list(_DATETIME_FEATURES)}."
            )
        self._input_names = names
        weight = sample_weight
        if weight is not None:
            weight = _check_sample_weight(
                weight, frame, dtype=np.float64, ensure_non_negative=True
            )
            if not np.array_equal(weight, np.round(weight)):
                # Not counts: rescale to the number of weighted rows (scale-free).
                weight = weight * (np.count_nonzero(weight) / weight.sum())
        # Rows of weight 0 take no part in any statistic, as if removed.
        rows = frame if weight is None else frame.iloc[np.flatnonzero(weight > 0)]
        row_weight = None if weight is None else weight[weight > 0]
        kinds = self._fit_kinds(rows)
        self.column_kinds_ = dict(zip(names, kinds, strict=True))
        self.dropped_columns_ = [
            n for n, k in zip(names, kinds, strict=True) if k == "dropped"
        ]
        if self.dropped_columns_:
            warnings.warn(
                f"Dropping column(s) {self.dropped_columns_}: all their values are "
                "missing. They are ignored at transform.",
                UserWarning,
                stacklevel=user_stacklevel(),
            )
        needs_seed = self.categorical in {"target", "auto"} or (
            self.numeric == "quantile" and self.quantile_noise > 0
        )
        seed = _derive_seed(self.random_state) if needs_seed else 0
        self._fit_numeric(rows, kinds, seed, row_weight)
        self._fit_vocabularies(rows, kinds, row_weight)
        training = self._fit_targets(frame, y, seed, weight)
        self.num_feature_names_, self.cat_feature_names_ = self._names(names)
        logger.debug(
            "TabularEncoder fitted: kinds %s, %d x_num and %d x_cat columns",
            {kind: kinds.count(kind) for kind in set(kinds)},
            len(self.num_feature_names_),
            len(self.cat_feature_names_),
        )
        return frame, training

    def _declared_categorical(self, frame: pd.DataFrame) -> set[int] | None:
        """Positions of declared categorical columns; None for ``"auto"``."""
        spec, n_columns = self.categorical_features, frame.shape[1]
        if isinstance(spec, str):
            return None
        values = np.asarray([] if spec is None else spec)
        if values.size == 0:
            return set()
        if values.ndim == 1 and values.dtype.kind == "b":
            if len(values) != n_columns:
                raise ValueError(
                    f"categorical_features is a boolean mask of length {len(values)}"
                    f" but X has {n_columns} columns."
                )
            return set(np.flatnonzero(values).tolist())
        if values.ndim == 1 and values.dtype.kind in "iu":
            bad = values[(values < 0) | (values >= n_columns)].tolist()
            if bad:
                raise ValueError(
                    f"categorical_features has position(s) {bad} outside the "
                    f"{n_columns} columns of X."
                )
            return set(values.tolist())
        if values.ndim == 1 and values.dtype.kind in "UO":
            if not hasattr(self, "feature_names_in_"):
                raise ValueError(
                    "categorical_features names columns, but X has no string column "
                    "names; pass positions or a boolean mask."
                )
            lookup = {name: p for p, name in enumerate(self._input_names)}
            missing = [v for v in values.tolist() if str(v) not in lookup]
            if missing:
                raise ValueError(
                    f"categorical_features {missing} are not columns of X."
                )
            return {lookup[str(v)] for v in values.tolist()}
        raise ValueError(
            "categorical_features must be 'auto', None, column names, positions or "
            f"a boolean mask, got {spec!r}."
        )

    def _fit_kinds(self, frame: pd.DataFrame) -> list[str]:
        """Kind of each column at fit."""
        declared = self._declared_categorical(frame)
        self._declared_positions = sorted(declared or ())
        empty = frame.isna().all(axis=0).to_numpy()
        kinds = []
        for position, dtype in enumerate(frame.dtypes):
            numeric = _is_float_like(dtype) or pd.api.types.is_timedelta64_dtype(dtype)
            if empty[position]:
                kinds.append("dropped")
            elif declared is not None and position in declared:
                kinds.append("categorical")
            elif pd.api.types.is_datetime64_any_dtype(dtype):
                kinds.append("datetime")
            elif declared is None and not (
                numeric or pd.api.types.is_complex_dtype(dtype)
            ):
                kinds.append("categorical")
            else:
                kinds.append("numeric")
        return kinds

    def _fit_numeric(
        self, frame: pd.DataFrame, kinds: list[str], seed: int, weights: Any
    ) -> None:
        """Numeric and datetime features: kept datetime parts, scaling, indicators."""
        self._num_positions = [p for p, k in enumerate(kinds) if k == "numeric"]
        self._dt_positions = [p for p, k in enumerate(kinds) if k == "datetime"]
        candidates = _datetime_parts(self.datetime_features, self.datetime_cyclical)
        raw, nat = self._raw(frame, [candidates] * len(self._dt_positions))
        nan = self._missing_mask(raw)
        d_block, width = len(self._num_positions), len(candidates)
        derived = raw[:, d_block:]
        keep = np.zeros(derived.shape[1], dtype=bool)
        if derived.shape[1]:
            keep = np.nanmax(derived, axis=0) > np.nanmin(derived, axis=0)
        self._dt_parts = [
            [part for part, k in zip(candidates, keep[j * width :], strict=False) if k]
            for j in range(len(self._dt_positions))
        ]
        columns = np.concatenate([np.arange(d_block), d_block + np.flatnonzero(keep)])
        self._fit_scaling(raw[:, columns], seed, weights)
        has_nan = np.zeros(d_block, bool) if nan is None else nan[:, :d_block].any(0)
        indicators = self.missing_indicators
        self._ind_num = np.flatnonzero(has_nan).tolist() if indicators else []
        self._ind_dt = np.flatnonzero(nat.any(axis=0)).tolist() if indicators else []

    def _fit_scaling(self, raw: np.ndarray, seed: int, weights: Any) -> None:
        """Learn the numeric strategy and the fill values in output space."""
        n_features = raw.shape[1]
        self._scaling = self.numeric
        self._num_mean, std = _nan_moments(raw, weights)
        self._num_std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        self._quantiles = np.zeros((0, n_features))
        self._num_fill = np.zeros(n_features)
        if self.numeric == "quantile" and n_features:
            self._quantiles = _fit_quantiles(
                raw, std, self.quantile_noise, seed, weights
            )
            median = _nan_quantiles(raw, np.array([0.5]), weights)[0]
            self._num_fill = np.array(
                [
                    _normal_scores(_quantile_probability(m, q))
                    for m, q in zip(median, self._quantiles.T, strict=True)
                ]
            )
        elif self.numeric == "none":
            self._num_fill = self._num_mean.copy()

    def _fit_vocabularies(
        self, frame: pd.DataFrame, kinds: list[str], weights: Any
    ) -> None:
        """Vocabularies, reserved-code cardinalities and per-column strategy."""
        names = self._input_names
        self._cat_positions = [p for p, k in enumerate(kinds) if k == "categorical"]
        self.categories_: dict[str, list[Any]] = {}
        self._cat_as_str, self._cat_missing = [], []
        for position in self._cat_positions:
            vocab, as_str, missing = _fit_vocabulary(
                frame.iloc[:, position],
                self.min_frequency,
                self.max_categories,
                weights,
            )
            self.categories_[names[position]] = vocab
            self._cat_as_str.append(as_str)
            self._cat_missing.append(missing)
        limit = {"target": -1, "auto": self.onehot_max_cardinality}.get(
            self.categorical, np.inf
        )
        sizes = [len(self.categories_[names[p]]) for p in self._cat_positions]
        self._cat_target = [size > limit for size in sizes]
        self._onehot_view = self.categorical != "codes"
        plain = [j for j, t in enumerate(self._cat_target) if not t]
        self._x_cat_positions = [self._cat_positions[j] for j in plain]
        self._x_cat_missing = [self._cat_missing[j] for j in plain]
        self.cardinalities_ = [sizes[j] + 2 for j in plain]

    def _fit_targets(
        self, frame: pd.DataFrame, y: Any, seed: int, weights: Any
    ) -> _Training | None:
        """Full-data target statistics of the columns encoded by their target."""
        names = self._input_names
        self._target_suffixes: list[str] = []
        self._target_stats = np.zeros((0, 0))
        self._target_offsets = [0]
        targeted = [j for j, t in enumerate(self._cat_target) if t]
        if not targeted:
            return None
        if y is None:
            columns = [names[self._cat_positions[j]] for j in targeted]
            raise ValueError(
                f"categorical={self.categorical!r} needs y to compute target "
                f"statistics for column(s) {columns}."
            )
        values, strata, kind, classes = _prepare_target(
            y, self.target_type, frame.shape[0], weights
        )
        self.target_type_ = kind
        if classes is not None:
            self.classes_ = classes
        self._target_suffixes = (
            ["__target"]
            if values.shape[1] == 1
            else [f"__target_{c}" for c in np.asarray(classes).tolist()]
        )
        sizes = [len(self.categories_[names[self._cat_positions[j]]]) for j in targeted]
        stats = [
            _target_statistics(codes, values, weights, size + 2, self.target_smoothing)
            for size, codes in zip(sizes, self._codes(frame, targeted).T, strict=True)
        ]
        self._target_stats = np.vstack(stats)
        self._target_offsets = np.cumsum([0] + [len(s) for s in stats]).tolist()
        return _Training(values, strata, weights, seed)

    # ---------------------------------------------------------------- encoding
    def _check(self, X: Any) -> pd.DataFrame:
        """Validate a table at transform time."""
        spec = self._declared_positions or None
        return check_table(self, X, reset=False, categorical_features=spec)

    def _raw(
        self, frame: pd.DataFrame, parts: list[list[str]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Numeric block then datetime parts (float64), and the NaT masks."""
        names = self._input_names
        block = _float_block(frame, list(frame.dtypes), self._num_positions, names)
        derived, nat = _datetime_block(frame, self._dt_positions, parts, names)
        raw = block if derived.shape[1] == 0 else np.hstack([block, derived])
        return raw, nat

    def _missing_mask(self, raw: np.ndarray) -> np.ndarray | None:
        """Return the NaN mask of ``raw`` (None if all finite); raise on ``inf``."""
        if raw.size == 0 or np.isfinite(raw).all():
            return None
        infinite = np.isinf(raw).any(axis=0)
        if infinite.any():
            bad = [
                self._input_names[self._num_positions[j]]
                for j in np.flatnonzero(infinite)
            ]
            raise ValueError(
                f"Input contains inf or -inf in numeric column(s) {bad}; replace "
                "them with finite values or NaN (NaN is imputed)."
            )
        return np.asarray(np.isnan(raw))

    def _codes(self, frame: pd.DataFrame, indices: list[int]) -> np.ndarray:
        """Reserved codes of the categorical columns ``indices`` (into positions)."""
        codes = np.empty((frame.shape[0], len(indices)), dtype=np.int64)
        for out, j in enumerate(indices):
            position = self._cat_positions[j]
            vocab = self._vocabulary_index(position)
            series = frame.iloc[:, position]
            codes[:, out] = _category_codes(series, vocab, self._cat_as_str[j])
        return codes

    def _vocabulary_index(self, position: int) -> pd.Index:
        """Lookup index of a fitted vocabulary, cached while it is the same list."""
        vocab = self.categories_[self._input_names[position]]
        entries = _VOCABULARY_INDEXES.setdefault(self, {})
        cached = entries.get(position)
        if cached is None or cached[0] is not vocab:
            cached = entries[position] = (vocab, pd.Index(vocab, dtype=object))
        return cached[1]

    def _encode(
        self,
        frame: pd.DataFrame,
        *,
        training: _Training | None = None,
        out: np.ndarray | None = None,
    ) -> EncodedTable:
        """Encode a validated frame into ``out`` (default: a new float32 array).

        With ``training``, target statistics are out-of-fold.
        """
        n_rows = frame.shape[0]
        raw, nat = self._raw(frame, self._dt_parts)
        nan = self._missing_mask(raw)
        x_num = out
        if x_num is None:
            x_num = np.empty((n_rows, len(self.num_feature_names_)), np.float32)
        d_f, d_i = raw.shape[1], len(self._ind_num) + len(self._ind_dt)
        self._scale(raw, nan, x_num[:, :d_f])
        if d_i:
            flags = np.zeros((n_rows, len(self._ind_num)), dtype=bool)
            if nan is not None:
                flags = nan[:, self._ind_num]
            x_num[:, d_f : d_f + d_i] = np.hstack([flags, nat[:, self._ind_dt]])
        codes = self._codes(frame, list(range(len(self._cat_positions))))
        targeted = np.asarray(self._cat_target, dtype=bool)
        if targeted.any():
            x_num[:, d_f + d_i :] = self._target_block(codes[:, targeted], training)
        x_cat = np.ascontiguousarray(codes[:, ~targeted]) if targeted.any() else codes
        return EncodedTable(x_num, x_cat)

    def _scale(self, raw: np.ndarray, nan: np.ndarray | None, out: np.ndarray) -> None:
        """Apply the numeric strategy into ``out`` and impute missing values."""
        if self._scaling == "standard":
            # In place: no n x d temporary (fresh large buffers are slow to fault in).
            np.subtract(raw, self._num_mean, out=out, casting="same_kind")
            np.divide(out, self._num_std, out=out, casting="same_kind")
        elif self._scaling == "quantile":
            probability = np.empty(raw.shape, order="F")
            for j in range(raw.shape[1]):
                column = _quantile_probability(raw[:, j], self._quantiles[:, j])
                probability[:, j] = column
            out[...] = _normal_scores(probability)
        else:
            out[...] = raw
        if nan is not None:
            np.copyto(out, self._num_fill, casting="same_kind", where=nan)

    def _target_block(
        self, codes: np.ndarray, training: _Training | None
    ) -> np.ndarray:
        """Target statistics of the targeted columns: full-data or out-of-fold."""
        n_rows, n_columns = codes.shape
        width, offsets = len(self._target_suffixes), self._target_offsets
        out = np.empty((n_rows, n_columns * width))
        if training is None:
            for j in range(n_columns):
                stats = self._target_stats[offsets[j] : offsets[j + 1]]
                out[:, j * width : (j + 1) * width] = stats[codes[:, j]]
            return out
        values, strata, weights, seed = training
        n_splits = min(self.target_cv, n_rows)
        if n_splits < 2:
            out[:] = np.tile(values.mean(axis=0), n_columns)
            return out
        if strata is not None and np.bincount(strata).min() >= n_splits:
            folds = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
            splits = folds.split(codes, strata)
        else:
            splits = KFold(n_splits, shuffle=True, random_state=seed).split(codes)
        for train, test in splits:
            for j in range(n_columns):
                stats = _target_statistics(
                    codes[train, j],
                    values[train],
                    None if weights is None else weights[train],
                    offsets[j + 1] - offsets[j],
                    self.target_smoothing,
                )
                out[test, j * width : (j + 1) * width] = stats[codes[test, j]]
        return out

    def _names(self, inputs: list[str]) -> tuple[list[str], list[str]]:
        """Names of the ``x_num`` and ``x_cat`` columns for the input names."""
        num = [inputs[p] for p in self._num_positions]
        num += [
            f"{inputs[p]}__{part}"
            for p, parts in zip(self._dt_positions, self._dt_parts, strict=True)
            for part in parts
        ]
        num += [f"{inputs[self._num_positions[j]]}__missing" for j in self._ind_num]
        num += [f"{inputs[self._dt_positions[j]]}__missing" for j in self._ind_dt]
        num += [
            f"{inputs[p]}{suffix}"
            for p, t in zip(self._cat_positions, self._cat_target, strict=True)
            if t
            for suffix in self._target_suffixes
        ]
        return num, [inputs[p] for p in self._x_cat_positions]

    def _view(self, frame: pd.DataFrame, training: _Training | None) -> np.ndarray:
        """Build the scikit-learn float64 view, written into one output array."""
        n_rows, d_num = frame.shape[0], len(self.num_feature_names_)
        widths = [1] * len(self.cardinalities_)
        if self._onehot_view:
            widths = [
                c - 2 + int(m)
                for c, m in zip(self.cardinalities_, self._x_cat_missing, strict=True)
            ]
        out = np.empty((n_rows, d_num + sum(widths)))
        x_cat = self._encode(frame, training=training, out=out[:, :d_num]).x_cat
        if not self._onehot_view:
            out[:, d_num:] = x_cat
            return out
        out[:, d_num:] = 0.0
        rows, start = np.arange(n_rows), d_num
        for j, width in enumerate(widths):
            codes = x_cat[:, j]
            column = np.where(codes >= 2, codes - 2, -1)
            if self._x_cat_missing[j]:
                column[codes == _MISSING] = width - 1
            hit = column >= 0
            out[rows[hit], start + column[hit]] = 1.0
            start += width
        return out
