# SPDX-License-Identifier: BSD-3-Clause
"""Model adapters of the benchmark harness and their registry.

Every model is driven through the same small protocol (``ModelAdapter``):
``fit(X_train, y_train, X_val, y_val, *, task, seed, threads)`` on raw
DataFrames, then ``predict`` / ``predict_proba``. Whatever a model needs to
turn a DataFrame into its input (category alignment, one-hot encoding,
scaling, label encoding) happens inside the adapter, so it counts in the fit
and predict times. Every model gets the same thread count.

Registering a model is one line::

    register_model("excelformer", functools.partial(TabkitAdapter, ...))
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import warnings
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from benchmarks.protocol import check_task, is_classification

logger = logging.getLogger(__name__)

#: Boosting rounds before early stopping for the GBDTs.
GBDT_ROUNDS = 2000
#: Early-stopping patience (rounds without improvement on the validation rows).
GBDT_PATIENCE = 50
#: Level that CatBoost gets for missing categorical values.
MISSING_LEVEL = "__missing__"
#: HistGradientBoosting's categorical cardinality limit (its ``max_bins``).
HGB_MAX_CATEGORIES = 255


@runtime_checkable
class ModelAdapter(Protocol):
    """What the runner needs from a model.

    Attributes
    ----------
    name : str
        Registry name, written to the CSV ``model`` column.
    config : str
        Configuration name, written to the CSV ``config`` column.
    family : str
        "gbdt", "baseline", "reference" or "tabkit".
    uses_torch : bool
        Whether the model trains with torch (the isolated runner then sets
        ``torch.set_num_threads(threads)`` before the fit).
    classes_ : ndarray
        After ``fit`` on a classification task: the class labels, in the
        order of the ``predict_proba`` columns.
    """

    name: str
    config: str
    family: str
    uses_torch: bool

    def fit(
        self,
        X_train: pd.DataFrame,
        y_train: np.ndarray,
        X_val: pd.DataFrame,
        y_val: np.ndarray,
        *,
        task: str,
        seed: int,
        threads: int,
    ) -> None:
        """Fit on the training rows; early-stop on the validation rows."""

    def setup(self) -> None:
        """Import the model's libraries (called before the timed fit)."""

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted labels (classification) or values (regression)."""

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""

    def fit_info(self) -> dict[str, Any]:
        """Small JSON-serialisable facts about the fit (e.g. iterations)."""


#: Model name -> factory returning a fresh, unfitted adapter.
MODELS: dict[str, Callable[[], ModelAdapter]] = {}


def register_model(
    name: str, factory: Callable[[], ModelAdapter], *, overwrite: bool = False
) -> Callable[[], ModelAdapter]:
    """Register an adapter factory under ``name``.

    Parameters
    ----------
    name : str
        Model name used on the command line and in the CSV.
    factory : callable
        ``factory() -> ModelAdapter``; it must be cheap (no heavy imports), as
        the runner calls it to read ``config`` before deciding what to run.
    overwrite : bool, default=False
        Replace an existing registration instead of raising.

    Returns
    -------
    callable
        ``factory``.
    """
    if name in MODELS and not overwrite and MODELS[name] is not factory:
        raise ValueError(f"model {name!r} is already registered")
    MODELS[name] = factory
    return factory


def make_model(name: str) -> ModelAdapter:
    """Build a fresh adapter of a registered model.

    Parameters
    ----------
    name : str
        A key of ``MODELS``.

    Returns
    -------
    ModelAdapter
        An unfitted adapter whose ``name`` is ``name``.
    """
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; registered: {sorted(MODELS)}")
    adapter = MODELS[name]()
    adapter.name = name
    return adapter


# ============================================================ data helpers


def is_categorical(col: pd.Series) -> bool:
    """Whether a column is categorical: pandas category, string or object dtype.

    Parameters
    ----------
    col : Series
        A DataFrame column.

    Returns
    -------
    bool
        True for ``category``, ``string``/``str`` and ``object`` dtypes.
    """
    return (
        isinstance(col.dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(col.dtype)
        or pd.api.types.is_object_dtype(col.dtype)
    )


def categorical_columns(X: pd.DataFrame) -> list[str]:
    """Names of the categorical columns of ``X`` (see ``is_categorical``)."""
    return [c for c in X.columns if is_categorical(X[c])]


def _to_float(X: pd.DataFrame) -> np.ndarray:
    """Numeric block as float64 (nullable NA -> NaN, bool -> 0/1)."""
    return X.astype("float64").to_numpy()


def _to_object(X: pd.DataFrame) -> np.ndarray:
    """Categorical block as an object array of strings, NaN where missing."""
    out = np.empty(X.shape, dtype=object)
    for j, name in enumerate(X.columns):
        col = X[name]
        text = col.astype(str).to_numpy(dtype=object)
        text[col.isna().to_numpy()] = np.nan
        out[:, j] = text
    return out


def make_encoder(X: pd.DataFrame):
    """Build the shared encoder for models that need numeric input (MLP, GBNN).

    Numeric columns: median imputation then ``StandardScaler``. Categorical
    columns (pandas category / object / string): most-frequent imputation then
    ``OneHotEncoder(handle_unknown="ignore")``. The output is a dense float64
    array.

    Parameters
    ----------
    X : DataFrame
        Training features; only the column dtypes are read.

    Returns
    -------
    ColumnTransformer
        Unfitted encoder.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    cat = categorical_columns(X)
    num = [c for c in X.columns if c not in cat]
    numeric = make_pipeline(
        FunctionTransformer(_to_float),
        SimpleImputer(strategy="median"),
        StandardScaler(),
    )
    categorical = make_pipeline(
        FunctionTransformer(_to_object),
        SimpleImputer(strategy="most_frequent"),
        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
    )
    return ColumnTransformer(
        [("num", numeric, num), ("cat", categorical, cat)], sparse_threshold=0.0
    )


class CategoryAligner:
    """Give every frame the training frame's categorical columns and categories.

    Categorical columns (see ``is_categorical``) become pandas ``category``
    with the categories of the training frame (its dtype's categories, or the
    sorted observed values for string / object columns); unseen values become
    missing. Other non-float columns (bool, nullable integers) become float64.
    This is what the GBDTs' native categorical support needs.
    """

    def fit(self, X: pd.DataFrame) -> CategoryAligner:
        """Record the categorical columns and their categories."""
        self.categories_: dict[str, pd.Index] = {}
        for name in categorical_columns(X):
            col = X[name]
            if isinstance(col.dtype, pd.CategoricalDtype):
                self.categories_[name] = col.dtype.categories
            else:
                self.categories_[name] = pd.Index(sorted(set(col.dropna().astype(str))))
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Return a copy of ``X`` with aligned categories and float numerics."""
        out = {}
        for name in X.columns:
            col = X[name]
            if name in self.categories_:
                out[name] = _align_categories(col, self.categories_[name])
            elif col.dtype.kind not in "fi" or not isinstance(col.dtype, np.dtype):
                out[name] = col.astype("float64")
            else:
                out[name] = col
        return pd.DataFrame(out, index=X.index)


def _align_categories(col: pd.Series, categories: pd.Index) -> pd.Categorical:
    """``col`` as a Categorical over ``categories``; other values become NaN."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        if col.dtype.categories.equals(categories):
            return col.array
        values = col.astype(object)
    else:
        values = col.astype(object).where(col.isna(), col.astype(str))
    return pd.Categorical(values.where(values.isin(categories)), categories=categories)


def _catboost_frame(X: pd.DataFrame, cat_cols: list[str]) -> pd.DataFrame:
    """CatBoost input: categorical columns as strings, missing as a level."""
    out = {}
    for name in X.columns:
        col = X[name]
        if name in cat_cols:
            text = col.astype(object).where(col.isna(), col.astype(str))
            out[name] = text.where(col.notna(), MISSING_LEVEL).astype(object)
        elif col.dtype.kind not in "fi" or not isinstance(col.dtype, np.dtype):
            out[name] = col.astype("float64")
        else:
            out[name] = col
    return pd.DataFrame(out, index=X.index)


def _supports_kwarg(func: Callable, name: str) -> bool:
    return name in inspect.signature(func).parameters


# ============================================================ adapter bases


class _Adapter:
    """Shared plumbing: an estimator behind an input transform.

    Subclasses implement ``_fit`` (which sets ``estimator_``) and may override
    ``_transform`` (applied to every frame at predict time).
    """

    name: str = ""
    config: str = "default"
    family: str = ""
    uses_torch: bool = False
    #: Modules the model needs, imported by ``setup`` before the timed fit.
    modules: tuple[str, ...] = ()

    def setup(self) -> None:
        """Import the model's libraries, so that import time is not fit time."""
        for module in self.modules:
            importlib.import_module(module)

    def fit(
        self,
        X_train: pd.DataFrame,
        y_train: np.ndarray,
        X_val: pd.DataFrame,
        y_val: np.ndarray,
        *,
        task: str,
        seed: int,
        threads: int,
    ) -> None:
        """Fit on the training rows; early-stop on the validation rows.

        Parameters
        ----------
        X_train, X_val : DataFrame
            Training and validation features, as the dataset provides them.
        y_train, y_val : ndarray of shape (n_rows,)
            Targets as given (labels of any type for classification).
        task : {"binary", "multiclass", "regression"}
            The task.
        seed : int
            Seed for the model's randomness.
        threads : int
            Thread count for the model.
        """
        self.task_ = check_task(task)
        y_train, y_val = np.asarray(y_train), np.asarray(y_val)
        self._fit(X_train, y_train, X_val, y_val, seed=seed, threads=threads)

    def _fit(self, X_train, y_train, X_val, y_val, *, seed: int, threads: int):
        raise NotImplementedError

    def _transform(self, X: pd.DataFrame) -> Any:
        return X

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted labels (classification) or values (regression).

        Parameters
        ----------
        X : DataFrame
            Features.

        Returns
        -------
        ndarray of shape (n_rows,)
            Predictions.
        """
        pred = np.asarray(self.estimator_.predict(self._transform(X)))
        return self._decode(pred.ravel())

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : DataFrame
            Features.

        Returns
        -------
        ndarray of shape (n_rows, n_classes)
            Probabilities.
        """
        if not is_classification(self.task_):
            raise AttributeError("predict_proba is only defined for classification")
        return np.asarray(self.estimator_.predict_proba(self._transform(X)))

    def _decode(self, pred: np.ndarray) -> np.ndarray:
        return pred

    def fit_info(self) -> dict[str, Any]:
        """Facts about the fit for the CSV ``fit_info`` column."""
        return {}


class _GBDTAdapter(_Adapter):
    """Base of the GBDT adapters: native categoricals, early stopping.

    Parameters
    ----------
    params : dict, optional
        Constructor parameters that replace the adapter's defaults (tuning);
        the configuration name lists them.
    """

    family = "gbdt"
    config = f"defaults_es{GBDT_PATIENCE}"

    def __init__(self, params: dict[str, Any] | None = None):
        self.params = dict(params or {})
        if self.params:
            self.config = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))

    def _estimator(self, cls: Any, **defaults: Any) -> Any:
        """``cls`` with the adapter's defaults, overridden by ``params``."""
        return cls(**{**defaults, **self.params})

    def _transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return self.aligner_.transform(X)

    def _prepare(self, X_train, X_val) -> tuple[pd.DataFrame, pd.DataFrame]:
        self.aligner_ = CategoryAligner().fit(X_train)
        return self._transform(X_train), self._transform(X_val)


class _LabelEncodedGBDT(_GBDTAdapter):
    """A GBDT whose library wants labels 0..K-1 (XGBoost, CatBoost)."""

    def _encode_labels(self, y_train, y_val) -> tuple[np.ndarray, np.ndarray]:
        if not is_classification(self.task_):
            return y_train, y_val
        from sklearn.preprocessing import LabelEncoder

        self.label_encoder_ = LabelEncoder().fit(y_train)
        self.classes_ = self.label_encoder_.classes_
        return self.label_encoder_.transform(y_train), self.label_encoder_.transform(
            y_val
        )

    def _decode(self, pred: np.ndarray) -> np.ndarray:
        if not is_classification(self.task_):
            return pred
        return self.label_encoder_.inverse_transform(pred.astype(np.int64))


# ============================================================ GBDT adapters


class LightGBMAdapter(_LabelEncodedGBDT):
    """LightGBM with defaults, early stopping on the validation rows.

    ``LGBMClassifier`` / ``LGBMRegressor(n_estimators=2000, n_jobs=threads,
    random_state=seed, verbose=-1)`` with ``lightgbm.early_stopping(50)`` on
    the validation rows and native pandas categoricals. Labels are encoded
    0..K-1 here: LightGBM 4.7 does not encode ``eval_y`` labels itself.
    """

    modules = ("lightgbm",)

    def _fit(self, X_train, y_train, X_val, y_val, *, seed, threads):
        import lightgbm

        Xt, Xv = self._prepare(X_train, X_val)
        yt, yv = self._encode_labels(y_train, y_val)
        clf = is_classification(self.task_)
        cls = lightgbm.LGBMClassifier if clf else lightgbm.LGBMRegressor
        self.estimator_ = self._estimator(
            cls,
            n_estimators=GBDT_ROUNDS,
            n_jobs=threads,
            random_state=seed,
            verbose=-1,
        )
        callbacks = [lightgbm.early_stopping(GBDT_PATIENCE, verbose=False)]
        if _supports_kwarg(self.estimator_.fit, "eval_X"):
            evals = {"eval_X": (Xv,), "eval_y": (yv,)}
        else:  # lightgbm < 4.7
            evals = {"eval_set": [(Xv, yv)]}
        self.estimator_.fit(Xt, yt, callbacks=callbacks, **evals)

    def fit_info(self) -> dict[str, Any]:
        """Best iteration (early stopping)."""
        return {"best_iteration": int(self.estimator_.best_iteration_)}


class XGBoostAdapter(_LabelEncodedGBDT):
    """XGBoost (hist) with defaults, early stopping on the validation rows.

    ``XGBClassifier`` / ``XGBRegressor(n_estimators=2000,
    early_stopping_rounds=50, tree_method="hist", enable_categorical=True,
    n_jobs=threads, random_state=seed)``; labels encoded 0..K-1.
    """

    modules = ("xgboost",)

    def _fit(self, X_train, y_train, X_val, y_val, *, seed, threads):
        import xgboost

        Xt, Xv = self._prepare(X_train, X_val)
        yt, yv = self._encode_labels(y_train, y_val)
        clf = is_classification(self.task_)
        cls = xgboost.XGBClassifier if clf else xgboost.XGBRegressor
        self.estimator_ = self._estimator(
            cls,
            n_estimators=GBDT_ROUNDS,
            early_stopping_rounds=GBDT_PATIENCE,
            tree_method="hist",
            enable_categorical=True,
            n_jobs=threads,
            random_state=seed,
        )
        self.estimator_.fit(Xt, yt, eval_set=[(Xv, yv)], verbose=False)

    def fit_info(self) -> dict[str, Any]:
        """Best iteration (early stopping)."""
        return {"best_iteration": int(self.estimator_.best_iteration)}


class CatBoostAdapter(_LabelEncodedGBDT):
    """CatBoost with defaults, early stopping on the validation rows.

    ``CatBoostClassifier`` / ``CatBoostRegressor(iterations=2000,
    early_stopping_rounds=50, thread_count=threads, random_seed=seed,
    verbose=False, allow_writing_files=False)``; categorical columns passed as
    ``cat_features`` (strings, missing values as the level ``"__missing__"``);
    labels encoded 0..K-1.
    """

    modules = ("catboost",)

    def _transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return _catboost_frame(X, self.cat_features_)

    def _fit(self, X_train, y_train, X_val, y_val, *, seed, threads):
        import catboost

        self.cat_features_ = categorical_columns(X_train)
        Xt, Xv = self._transform(X_train), self._transform(X_val)
        yt, yv = self._encode_labels(y_train, y_val)
        clf = is_classification(self.task_)
        cls = catboost.CatBoostClassifier if clf else catboost.CatBoostRegressor
        self.estimator_ = self._estimator(
            cls,
            iterations=GBDT_ROUNDS,
            early_stopping_rounds=GBDT_PATIENCE,
            thread_count=threads,
            random_seed=seed,
            verbose=False,
            allow_writing_files=False,
        )
        self.estimator_.fit(Xt, yt, cat_features=self.cat_features_, eval_set=(Xv, yv))

    def fit_info(self) -> dict[str, Any]:
        """Best iteration (early stopping)."""
        return {"best_iteration": int(self.estimator_.get_best_iteration())}


class HistGBDTAdapter(_GBDTAdapter):
    """scikit-learn HistGradientBoosting, early stopping on the validation rows.

    ``HistGradientBoostingClassifier`` / ``Regressor(max_iter=2000,
    early_stopping=True, n_iter_no_change=50, categorical_features="from_dtype",
    random_state=seed)`` fitted with ``fit(X, y, X_val=..., y_val=...)`` so
    that it stops on the same validation rows as the other models. Its
    threads are OpenMP threads, limited by the runner. Categorical columns
    with more than 255 training levels (HGB's limit) enter as their integer
    codes instead.
    """

    modules = ("sklearn.ensemble",)

    def _prepare(self, X_train, X_val):
        self.aligner_ = CategoryAligner().fit(X_train)
        self.ordinal_columns_ = [
            c
            for c in self.aligner_.categories_
            if X_train[c].nunique() > HGB_MAX_CATEGORIES
        ]
        return self._transform(X_train), self._transform(X_val)

    def _codes(self, X: pd.DataFrame) -> pd.DataFrame:
        if not self.ordinal_columns_:
            return X
        codes = {c: X[c].cat.codes.astype("float64") for c in self.ordinal_columns_}
        codes = {c: v.where(v >= 0) for c, v in codes.items()}
        return X.assign(**codes)

    def _transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return self._codes(self.aligner_.transform(X))

    def _fit(self, X_train, y_train, X_val, y_val, *, seed, threads):  # noqa: ARG002
        from sklearn.ensemble import (
            HistGradientBoostingClassifier,
            HistGradientBoostingRegressor,
        )

        Xt, Xv = self._prepare(X_train, X_val)
        cls = HistGradientBoostingClassifier
        if not is_classification(self.task_):
            cls = HistGradientBoostingRegressor
        self.estimator_ = self._estimator(
            cls,
            max_iter=GBDT_ROUNDS,
            early_stopping=True,
            n_iter_no_change=GBDT_PATIENCE,
            categorical_features="from_dtype",
            random_state=seed,
        )
        self.estimator_.fit(Xt, y_train, X_val=Xv, y_val=y_val)
        if is_classification(self.task_):
            self.classes_ = self.estimator_.classes_

    def fit_info(self) -> dict[str, Any]:
        """Report the iterations run (early-stopped count) and ordinal columns."""
        info: dict[str, Any] = {"n_iter": int(self.estimator_.n_iter_)}
        if self.ordinal_columns_:
            info["ordinal_columns"] = list(self.ordinal_columns_)
        return info


# ============================================================ encoded adapters


class _EncodedAdapter(_Adapter):
    """A model on numeric input: ``make_encoder`` fitted on the training rows."""

    def _transform(self, X: pd.DataFrame) -> np.ndarray:
        return self.encoder_.transform(X)

    def _encode(self, X_train: pd.DataFrame) -> np.ndarray:
        self.encoder_ = make_encoder(X_train)
        return self.encoder_.fit_transform(X_train)


class MLPAdapter(_EncodedAdapter):
    """scikit-learn MLP with defaults behind the shared encoder.

    ``MLPClassifier(random_state=seed)``; for regression
    ``TransformedTargetRegressor(MLPRegressor(random_state=seed),
    transformer=StandardScaler())``, i.e. the target is standardised for
    training and predictions are mapped back. Trains on the training rows only
    (the validation rows are not used; the MLP's own defaults do not
    early-stop). Convergence warnings are silenced.
    """

    modules = ("sklearn.compose", "sklearn.neural_network")

    family = "baseline"

    def _fit(self, X_train, y_train, X_val, y_val, *, seed, threads):  # noqa: ARG002
        from sklearn.compose import TransformedTargetRegressor
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier, MLPRegressor
        from sklearn.preprocessing import StandardScaler

        Z = self._encode(X_train)
        if is_classification(self.task_):
            self.estimator_ = MLPClassifier(random_state=seed)
        else:
            self.estimator_ = TransformedTargetRegressor(
                regressor=MLPRegressor(random_state=seed), transformer=StandardScaler()
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.estimator_.fit(Z, y_train)
        if is_classification(self.task_):
            self.classes_ = self.estimator_.classes_

    def fit_info(self) -> dict[str, Any]:
        """Epochs run."""
        mlp = getattr(self.estimator_, "regressor_", self.estimator_)
        return {"n_iter": int(mlp.n_iter_)}


class LinearAdapter(_EncodedAdapter):
    """Logistic regression or ridge regression behind the shared encoder.

    ``LogisticRegression(max_iter=1000)`` (L2, C=1) for classification;
    ``TransformedTargetRegressor(RidgeCV(alphas=logspace(-3, 3, 13)),
    transformer=StandardScaler())`` for regression (the penalty chosen by
    efficient leave-one-out on the training rows). Trains on the training rows
    only. Convergence warnings are silenced.
    """

    modules = ("sklearn.compose", "sklearn.linear_model")

    family = "baseline"

    def _fit(self, X_train, y_train, X_val, y_val, *, seed, threads):  # noqa: ARG002
        from sklearn.compose import TransformedTargetRegressor
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression, RidgeCV
        from sklearn.preprocessing import StandardScaler

        Z = self._encode(X_train)
        if is_classification(self.task_):
            self.estimator_ = LogisticRegression(max_iter=1000, random_state=seed)
        else:
            self.estimator_ = TransformedTargetRegressor(
                regressor=RidgeCV(alphas=np.logspace(-3, 3, 13)),
                transformer=StandardScaler(),
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.estimator_.fit(Z, y_train)
        if is_classification(self.task_):
            self.classes_ = self.estimator_.classes_


@functools.cache
def _import_gbnn():
    try:
        import gbnn
    except ImportError as exc:
        raise ImportError(
            "the authors' GBNN 0.0.2 package is not installed; "
            "install it with `make gbnn`"
        ) from exc
    return gbnn


@functools.cache
def _gbnn_classifier_class() -> type:
    """``gbnn.GNEGNEClassifier`` with bug B1 fixed (scikit-learn >= 1.6 tags).

    GBNN 0.0.2 declares ``GNEGNEClassifier(GNEGNE, ClassifierMixin)``, so
    ``BaseEstimator.__sklearn_tags__`` wins, ``is_classifier`` is False and
    ``fit`` takes the regression branch. The subclass restores the tags.
    """
    from sklearn.utils import ClassifierTags

    gbnn = _import_gbnn()

    class FixedGNEGNEClassifier(gbnn.GNEGNEClassifier):
        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags()
            return tags

    return FixedGNEGNEClassifier


class GBNNAdapter(_EncodedAdapter):
    """The authors' GBNN 0.0.2 (reference anchor) behind the shared encoder.

    ``gbnn.GNEGNEClassifier`` / ``gbnn.GNEGNERegressor(total_nn=200,
    num_nn_step=1, subsample=0.5, eta=eta, random_state=seed)``, other
    parameters at the package defaults; the regression target is left
    unscaled, as the authors did. Two of the package's bugs are handled here
    and only here: B1 (classifier tags on scikit-learn >= 1.6, see
    ``_gbnn_classifier_class``) and B3 (subsampling uses the global NumPy RNG,
    so ``np.random.seed(seed)`` is called right before ``fit``). Its ``fit``
    returns None (B4). Convergence warnings are silenced.

    Parameters
    ----------
    eta : float
        Shrinkage (the package's ``eta``).
    total_nn : int, default=200
        Total hidden units (boosting steps times ``num_nn_step``).
    num_nn_step : int, default=1
        Hidden units per step.
    subsample : float, default=0.5
        Row subsampling fraction per step.
    """

    modules = ("gbnn", "sklearn.compose", "sklearn.neural_network")

    family = "reference"
    #: The tabkit model this implementation is the reference of.
    reference_for = "boosted_nn"
    #: Fit and predict speed-ups over it that the report checks.
    speedup_target: float | None = 10.0

    def __init__(
        self,
        *,
        eta: float,
        total_nn: int = 200,
        num_nn_step: int = 1,
        subsample: float = 0.5,
    ):
        self.eta = eta
        self.total_nn = total_nn
        self.num_nn_step = num_nn_step
        self.subsample = subsample
        self.config = f"T{total_nn}_J{num_nn_step}_sub{subsample}_eta{eta}"

    def _fit(self, X_train, y_train, X_val, y_val, *, seed, threads):  # noqa: ARG002
        from sklearn.exceptions import ConvergenceWarning

        gbnn = _import_gbnn()
        cls = gbnn.GNEGNERegressor
        if is_classification(self.task_):
            cls = _gbnn_classifier_class()
        Z = self._encode(X_train)
        self.estimator_ = cls(
            total_nn=self.total_nn,
            num_nn_step=self.num_nn_step,
            subsample=self.subsample,
            eta=self.eta,
            random_state=seed,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            np.random.seed(seed)  # noqa: NPY002 (B3: the package uses np.random)
            self.estimator_.fit(Z, y_train)  # B4: returns None
        if is_classification(self.task_):
            self.classes_ = self.estimator_.classes_

    def fit_info(self) -> dict[str, Any]:
        """Boosting steps fitted and the largest absolute step size."""
        steps = np.abs(np.asarray(self.estimator_.steps, dtype=np.float64))
        return {"n_steps": len(steps), "max_abs_step": float(np.max(steps))}


class TabkitAdapter(_Adapter):
    """A tabkit model family with its defaults (one adapter for every family).

    ``<Family>Classifier`` / ``<Family>Regressor(random_state=seed,
    n_threads=threads, time_budget=budget_s)`` from ``tabkit.estimators.FAMILIES``,
    fitted with ``fit(X_train, y_train, X_val=X_val, y_val=y_val)`` on the raw
    DataFrames (tabkit estimators take DataFrames as they are, so no encoding
    happens here). ``budget_s`` is the per-fit budget the runner sets (None: no
    limit). Every family in ``tabkit.estimators.FAMILIES`` is registered under
    its name at import, so a new family needs no edit here.

    Parameters
    ----------
    family_name : str
        A key of ``tabkit.estimators.FAMILIES``.
    params : dict, optional
        Constructor parameters other than the defaults (a variant); the
        configuration name lists them.
    """

    modules = ("tabkit",)

    family = "tabkit"
    uses_torch = True
    budget_s: float | None = None

    def __init__(self, family_name: str, params: dict[str, Any] | None = None):
        self.family_name = family_name
        self.params = dict(params or {})
        #: Training-loop callbacks passed to ``fit`` (tuning's pruning).
        self.callbacks: list[Any] = []
        if self.params:
            self.config = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))

    def _fit(self, X_train, y_train, X_val, y_val, *, seed, threads):
        from tabkit.estimators import FAMILIES

        clf = is_classification(self.task_)
        cls = FAMILIES[self.family_name][0 if clf else 1]
        self.estimator_ = cls(
            **self.params,
            random_state=seed,
            n_threads=threads,
            time_budget=self.budget_s,
        )
        self.estimator_.fit(
            X_train, y_train, X_val=X_val, y_val=y_val, callbacks=self.callbacks
        )
        if clf:
            self.classes_ = self.estimator_.classes_

    def fit_info(self) -> dict[str, Any]:
        """Return iterations run and kept, the time budget and the stop reason."""
        info: dict[str, Any] = {}
        for name in ("n_iter_", "n_steps_", "best_epoch_"):
            value = getattr(self.estimator_, name, None)
            if value is not None:
                info[name.rstrip("_")] = int(value)
        history = getattr(self.estimator_, "history_", None)
        reason = getattr(history, "stop_reason", None)
        if reason is not None:
            info["stop_reason"] = str(reason)
        if self.budget_s is not None:
            info["time_budget"] = self.budget_s
        return info


def _register_tabkit_families() -> None:
    """Register one ``TabkitAdapter`` per tabkit model family."""
    from tabkit.estimators import FAMILIES

    for family in FAMILIES:
        register_model(family, functools.partial(TabkitAdapter, family))


register_model("lightgbm", LightGBMAdapter)
register_model("xgboost", XGBoostAdapter)
register_model("catboost", CatBoostAdapter)
register_model("hist_gbdt", HistGBDTAdapter)
register_model("mlp", MLPAdapter)
register_model("linear", LinearAdapter)
register_model("gbnn_lr1.0", functools.partial(GBNNAdapter, eta=1.0))
register_model("gbnn_lr0.1", functools.partial(GBNNAdapter, eta=0.1))
_register_tabkit_families()


def _register_frame_models() -> None:
    """Register the pytorch-frame anchors (``benchmarks.frame_models``)."""
    try:
        importlib.import_module("benchmarks.frame_models")
    except ImportError:  # pragma: no cover - the module itself imports nothing heavy
        logger.warning("benchmarks.frame_models cannot be imported", exc_info=True)


_register_frame_models()
