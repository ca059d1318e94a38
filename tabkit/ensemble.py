# SPDX-License-Identifier: BSD-3-Clause
"""Greedy ensemble selection (Caruana et al., 2004) over out-of-fold predictions.

:class:`EnsembleClassifier` and :class:`EnsembleRegressor` take a list of named
scikit-learn estimators, fit each on the training folds of a cross-validation,
predict the held-out fold, and greedily build a weighted average of the members
(with replacement) that minimises a loss on those out-of-fold predictions.
The selected members are then refit on every training row. A member's weight
is the number of times it was picked over ``n_iterations``.

Because every selection row is held out from the member that predicts it (and
so also from that member's own early-stopping rows), the weights are not biased
towards members that overfit their training rows. Members fitted elsewhere are
accepted only wrapped in :class:`sklearn.frozen.FrozenEstimator`: they are never
refit, and their predictions on the rows passed to ``fit`` are used for the
selection, so those rows must be rows they were not trained on.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import (
    ClassifierMixin,
    RegressorMixin,
    clone,
    is_classifier,
)
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import check_cv
from sklearn.utils import Bunch, get_tags
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_is_fitted,
    column_or_1d,
    has_fit_parameter,
    validate_data,
)

from tabkit._compat import (
    Interval,
    StrOptions,
    _BaseComposition,
    _check_sample_weight,
    _fit_context,
    _safe_indexing,
)

__all__ = ["EnsembleClassifier", "EnsembleRegressor", "greedy_selection"]

#: A loss of the averaged predictions: ``loss(y_true, y_pred, sample_weight)``.
Loss = Callable[[np.ndarray, np.ndarray, np.ndarray | None], float]

_EPS = 1e-15


def _log_loss(y: np.ndarray, proba: np.ndarray, w: np.ndarray | None) -> float:
    p = np.clip(proba[np.arange(len(y)), y], _EPS, 1.0)
    return float(np.average(-np.log(p), weights=w))


def _brier(y: np.ndarray, proba: np.ndarray, w: np.ndarray | None) -> float:
    onehot = np.zeros_like(proba)
    onehot[np.arange(len(y)), y] = 1.0
    return float(np.average(((proba - onehot) ** 2).sum(axis=1), weights=w))


def _error_rate(y: np.ndarray, proba: np.ndarray, w: np.ndarray | None) -> float:
    return float(np.average(proba.argmax(axis=1) != y, weights=w))


def _one_minus_auc(y: np.ndarray, proba: np.ndarray, w: np.ndarray | None) -> float:
    if proba.shape[1] == 2:
        return 1.0 - float(roc_auc_score(y, proba[:, 1], sample_weight=w))
    labels = np.arange(proba.shape[1])
    auc = roc_auc_score(y, proba, multi_class="ovr", labels=labels, sample_weight=w)
    return 1.0 - float(auc)


def _rmse(y: np.ndarray, pred: np.ndarray, w: np.ndarray | None) -> float:
    return float(np.sqrt(np.average((pred - y) ** 2, axis=0, weights=w).mean()))


def _mae(y: np.ndarray, pred: np.ndarray, w: np.ndarray | None) -> float:
    return float(np.average(np.abs(pred - y), axis=0, weights=w).mean())


# name -> (loss on encoded labels / values, sign that turns the loss into the
# metric's usual value: value = offset + sign * loss)
_CLASSIFIER_METRICS: dict[str, tuple[Loss, float, float]] = {
    "log_loss": (_log_loss, 0.0, 1.0),
    "brier": (_brier, 0.0, 1.0),
    "accuracy": (_error_rate, 1.0, -1.0),
    "roc_auc": (_one_minus_auc, 1.0, -1.0),
}
_REGRESSOR_METRICS: dict[str, tuple[Loss, float, float]] = {
    "rmse": (_rmse, 0.0, 1.0),
    "mae": (_mae, 0.0, 1.0),
}


def greedy_selection(
    predictions: Sequence[np.ndarray],
    y: np.ndarray,
    loss: Loss,
    n_iterations: int = 40,
    sample_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, list[float]]:
    """Caruana's greedy ensemble selection with replacement.

    Starting from an empty ensemble, each iteration adds the member whose
    inclusion gives the averaged predictions the lowest loss (ties go to the
    first member); a member may be added many times.

    Parameters
    ----------
    predictions : sequence of ndarray, each of shape (n_samples, ...)
        One prediction array per member (probabilities or values), all of
        the same shape.
    y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        What the loss compares the predictions with.
    loss : callable
        ``loss(y, averaged_predictions, sample_weight) -> float``, lower is
        better.
    n_iterations : int, default=40
        Members added (the ensemble size, counting repeats).
    sample_weight : ndarray of shape (n_samples,) or None, default=None
        Row weights passed to ``loss``.

    Returns
    -------
    counts : ndarray of shape (n_members,)
        How often each member was picked; the weights are
        ``counts / n_iterations``.
    trajectory : list of float
        The ensemble's loss after each iteration (never above the best single
        member's loss, which is the first entry).

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0.0, 1.0, 2.0, 3.0])
    >>> low, high = y - 1.0, y + 1.0
    >>> mse = lambda t, p, w: float(np.average((p - t) ** 2, weights=w))
    >>> counts, trajectory = greedy_selection([low, high, y + 3.0], y, mse, 4)
    >>> counts.tolist(), [round(v, 3) for v in trajectory]
    ([2, 2, 0], [1.0, 0.0, 0.111, 0.0])
    """
    if not predictions:
        raise ValueError("greedy_selection needs at least one member")
    counts = np.zeros(len(predictions), dtype=np.int64)
    total = np.zeros_like(predictions[0], dtype=np.float64)
    trajectory: list[float] = []
    for k in range(1, n_iterations + 1):
        losses = [loss(y, (total + p) / k, sample_weight) for p in predictions]
        best = int(np.argmin(losses))
        counts[best] += 1
        total += predictions[best]
        trajectory.append(float(losses[best]))
    return counts, trajectory


def _fit_predict(
    name: str,
    estimator: Any,
    X: Any,
    y: np.ndarray,
    *,
    sample_weight: np.ndarray | None,
    train: np.ndarray | None,
    test: np.ndarray | None,
    method: str,
) -> tuple[Any, Any]:
    """Fit ``estimator`` on rows ``train`` (None: frozen, no fit), predict ``test``."""
    try:
        if train is not None:
            params = {}
            if sample_weight is not None:
                params["sample_weight"] = sample_weight[train]
            estimator.fit(_safe_indexing(X, train), _safe_indexing(y, train), **params)
        if test is None:
            return estimator, None
        return estimator, getattr(estimator, method)(_safe_indexing(X, test))
    except Exception as exc:
        exc.add_note(f"(in ensemble member {name!r}, {type(estimator).__name__})")
        raise


class _Ensemble(_BaseComposition):
    """Shared implementation of the greedy-selection ensembles."""

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "estimators": [list],
        "metric": [StrOptions(set()), callable],  # options set per subclass
        "n_iterations": [Interval(numbers.Integral, 1, None, closed="left")],
        "cv": ["cv_object"],
        "n_jobs": [numbers.Integral, None],
        "verbose": ["verbose"],
    }
    _metrics: ClassVar[dict[str, tuple[Loss, float, float]]] = {}
    _method: ClassVar[str] = "predict"

    def __init__(
        self,
        estimators: list[tuple[str, Any]],
        *,
        metric: str | Callable[..., float],
        n_iterations: int = 40,
        cv: Any = 5,
        n_jobs: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.estimators = estimators
        self.metric = metric
        self.n_iterations = n_iterations
        self.cv = cv
        self.n_jobs = n_jobs
        self.verbose = verbose

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters, with each member's as ``<name>__<parameter>``.

        Parameters
        ----------
        deep : bool, default=True
            Include the members and their parameters.

        Returns
        -------
        dict
            Parameter names mapped to their values.
        """
        return self._get_params("estimators", deep=deep)

    def set_params(self, **params: Any) -> _Ensemble:
        """Set parameters, a member (``<name>=est``) or a member's parameter.

        Parameters
        ----------
        **params : dict
            ``estimators``, ``<name>``, ``<name>__<parameter>`` or any other
            parameter of the ensemble.

        Returns
        -------
        self
        """
        self._set_params("estimators", **params)
        return self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        members = self._members(strict=False)
        if members:
            member_tags = [get_tags(est) for _, est in members]
            tags.input_tags.allow_nan = all(t.input_tags.allow_nan for t in member_tags)
            tags.input_tags.categorical = all(
                t.input_tags.categorical for t in member_tags
            )
            tags.input_tags.string = all(t.input_tags.string for t in member_tags)
            tags.input_tags.sparse = all(t.input_tags.sparse for t in member_tags)
            tags.target_tags.multi_output = all(
                t.target_tags.multi_output for t in member_tags
            )
            tags.non_deterministic = any(t.non_deterministic for t in member_tags)
        return tags

    # -- validation -----------------------------------------------------------

    def _members(self, strict: bool = True) -> list[tuple[str, Any]]:
        """Return the ``(name, estimator)`` pairs, checked when ``strict``."""
        members = self.estimators
        if not strict:
            try:
                return [(str(n), e) for n, e in members]
            except (TypeError, ValueError):
                return []
        if not members:
            raise ValueError("estimators must be a non-empty list of (name, estimator)")
        for item in members:
            if not (isinstance(item, tuple) and len(item) == 2):
                raise ValueError(
                    f"estimators must be (name, estimator) pairs, got {item!r}"
                )
        names = [name for name, _ in members]
        self._validate_names(names)
        own_type = get_tags(self).estimator_type
        for name, est in members:
            member_type = get_tags(est).estimator_type
            if member_type is not None and member_type != own_type:
                raise TypeError(
                    f"member {name!r} ({type(est).__name__}) is a {member_type}, "
                    f"not a {own_type}"
                )
            for method in ("fit", self._method):
                if not hasattr(est, method):
                    raise TypeError(
                        f"member {name!r} ({type(est).__name__}) has no {method}()"
                    )
        return list(members)

    def _check_X(self, X: Any, reset: bool) -> Any:
        """DataFrames pass through as they are; anything else becomes an array.

        Arrays keep their dtype (object columns stay object), may hold NaN
        when every member accepts it, and may be sparse when every member
        accepts sparse input.
        """
        if hasattr(X, "columns") and hasattr(X, "iloc"):
            return validate_data(self, X, reset=reset, skip_check_array=True)
        tags = self.__sklearn_tags__().input_tags
        return validate_data(
            self,
            X,
            reset=reset,
            accept_sparse="csr" if tags.sparse else False,
            dtype=None,
            ensure_all_finite="allow-nan" if tags.allow_nan else True,
        )

    def _loss(self) -> Loss:
        if callable(self.metric):
            metric = self.metric

            def loss(y: np.ndarray, pred: np.ndarray, w: np.ndarray | None) -> float:
                return float(metric(y, pred, sample_weight=w))

            return loss
        return self._metrics[self.metric][0]

    def _to_metric(self, loss: float) -> float:
        """Turn a loss into the metric's usual value (AUC, accuracy; losses as is)."""
        if callable(self.metric):
            return loss
        _, offset, sign = self._metrics[self.metric]
        return offset + sign * loss

    # -- fitting --------------------------------------------------------------

    def _encode_y(self, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(y for the members, y for the selection)``."""
        raise NotImplementedError

    def _align(self, estimator: Any, pred: Any) -> np.ndarray:
        """Member predictions in the ensemble's layout."""
        raise NotImplementedError

    def _fit(self, X: Any, y: Any, sample_weight: Any = None) -> _Ensemble:
        members = self._members()
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None"
            )
        X = self._check_X(X, reset=True)
        y_members, y_enc = self._encode_y(y)
        n = len(y_enc)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
            for name, est in members:
                if not isinstance(est, FrozenEstimator) and not has_fit_parameter(
                    est, "sample_weight"
                ):
                    raise ValueError(
                        f"sample_weight was given but member {name!r} "
                        f"({type(est).__name__}) does not accept it in fit"
                    )
        cv = check_cv(self.cv, y_enc, classifier=is_classifier(self))
        folds = list(cv.split(X, y_enc))
        frozen = [isinstance(est, FrozenEstimator) for _, est in members]
        jobs = []
        everything = np.arange(n)
        for m in range(len(members)):
            if frozen[m]:
                jobs.append((m, None, everything))
            else:
                jobs.extend((m, train, test) for train, test in folds)
        fitted = Parallel(n_jobs=self.n_jobs, verbose=self.verbose)(
            delayed(_fit_predict)(
                members[m][0],
                members[m][1] if train is None else clone(members[m][1]),
                X,
                y_members,
                sample_weight=sample_weight,
                train=train,
                test=test,
                method=self._method,
            )
            for m, train, test in jobs
        )
        sums: dict[int, np.ndarray] = {}
        seen = np.zeros((len(members), n), dtype=np.int64)
        for (m, _, test), (est, pred) in zip(jobs, fitted, strict=True):
            aligned = self._align(est, pred)
            if m not in sums:
                sums[m] = np.zeros((n, *aligned.shape[1:]), dtype=np.float64)
            sums[m][test] += aligned
            seen[m, test] += 1
        rows = np.flatnonzero(seen.min(axis=0) > 0)
        if rows.size == 0:
            raise ValueError(
                "cv left no row held out for every member: use a splitter whose "
                "test folds cover rows (KFold, StratifiedKFold, ShuffleSplit)"
            )
        preds = [
            sums[m][rows] / seen[m, rows].reshape(-1, *([1] * (sums[m].ndim - 1)))
            for m in range(len(members))
        ]
        weight_rows = None if sample_weight is None else sample_weight[rows]
        loss = self._loss()
        counts, trajectory = greedy_selection(
            preds, y_enc[rows], loss, self.n_iterations, weight_rows
        )
        self.weights_ = counts / counts.sum()
        self.selection_scores_ = {
            name: self._to_metric(loss(y_enc[rows], p, weight_rows))
            for (name, _), p in zip(members, preds, strict=True)
        }
        self.selection_score_ = self._to_metric(trajectory[-1])
        self.n_selection_rows_ = int(rows.size)
        selected = [m for m in range(len(members)) if counts[m] > 0]
        refits = Parallel(n_jobs=self.n_jobs, verbose=self.verbose)(
            delayed(_fit_predict)(
                members[m][0],
                clone(members[m][1]),
                X,
                y_members,
                sample_weight=sample_weight,
                train=everything,
                test=None,
                method=self._method,
            )
            for m in selected
            if not frozen[m]
        )
        refit_iter = iter(est for est, _ in refits)
        self.estimators_ = [
            members[m][1] if frozen[m] else next(refit_iter) for m in selected
        ]
        self._selected = np.asarray(selected, dtype=np.int64)
        self.named_estimators_ = Bunch(
            **{
                members[m][0]: est
                for m, est in zip(selected, self.estimators_, strict=True)
            }
        )
        return self

    def _average(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        total: np.ndarray | None = None
        for m, est in zip(self._selected, self.estimators_, strict=True):
            pred = self.weights_[m] * self._align(est, getattr(est, self._method)(X))
            total = pred if total is None else total + pred
        assert total is not None
        return total


class EnsembleClassifier(ClassifierMixin, _Ensemble):
    """Greedy ensemble selection of classifiers on out-of-fold probabilities.

    Each member is fitted on the training folds of ``cv`` and predicts the
    held-out fold; starting from nothing, ``n_iterations`` times the member
    whose addition gives the averaged probabilities the best ``metric`` is
    added (with replacement: a member can be picked several times). Members
    that were picked are refit on every row passed to ``fit``; prediction
    averages their probabilities with weights ``weights_``.

    Parameters
    ----------
    estimators : list of (str, estimator)
        Named classifiers with ``predict_proba``. They are cloned; members
        fitted elsewhere are used as they are only when wrapped in
        :class:`sklearn.frozen.FrozenEstimator`, and then the rows passed to
        ``fit`` must be rows they were not trained on (their predictions on
        them are used for the selection, and they are never refit).
    metric : {"log_loss", "roc_auc", "accuracy", "brier"} or callable, \
default="log_loss"
        What the selection optimises, on the probabilities of ``classes_``;
        a callable ``metric(y_true, proba, sample_weight=None)`` is a loss
        (lower is better), ``y_true`` holding indices into ``classes_``.
    n_iterations : int, default=40
        Members added in the greedy selection (the ensemble size, counting
        repeats; TabArena's value).
    cv : int, cross-validation generator or iterable, default=5
        Splits for the out-of-fold predictions (an int: stratified k-fold).
        Rows in no test fold are not used by the selection; rows in several
        are averaged.
    n_jobs : int or None, default=None
        Fits run in parallel with joblib (None: one at a time).
    verbose : int, default=0
        joblib's verbosity.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    weights_ : ndarray of shape (n_members,)
        Weight of each member of ``estimators`` (zeros for those never picked);
        sums to one.
    estimators_ : list of estimators
        The picked members, refit on every row (frozen ones as given), in the
        order of ``estimators``.
    named_estimators_ : Bunch
        ``estimators_`` by name.
    selection_scores_ : dict of str to float
        Each member's out-of-fold ``metric`` (for a callable: its loss).
    selection_score_ : float
        The ensemble's out-of-fold ``metric``: an optimistic estimate, since
        the weights were chosen on the same rows.
    n_selection_rows_ : int
        Rows the selection used.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during fit, when ``X`` has string column names.

    See Also
    --------
    EnsembleRegressor : The same for regressors.
    sklearn.ensemble.StackingClassifier : Learns a meta-model instead.

    Notes
    -----
    Caruana, Niculescu-Mizil, Crew and Ksikes, "Ensemble selection from
    libraries of models", ICML 2004. Starting from an empty ensemble makes the
    first pick the best single member, so the selection score is never worse
    than the best member's.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from tabkit.ensemble import EnsembleClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> members = [
    ...     ("linear", make_pipeline(StandardScaler(), LogisticRegression())),
    ...     ("bayes", GaussianNB()),
    ...     ("stump", DecisionTreeClassifier(max_depth=1, random_state=0)),
    ... ]
    >>> ens = EnsembleClassifier(members, cv=3).fit(X, y)
    >>> float(ens.weights_.sum()), float(ens.weights_[0]) > 0.5
    (1.0, True)
    >>> ens.selection_score_ <= min(ens.selection_scores_.values())
    True
    >>> ens.predict_proba(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_Ensemble._parameter_constraints,
        "metric": [StrOptions(set(_CLASSIFIER_METRICS)), callable],
    }
    _metrics = _CLASSIFIER_METRICS
    _method = "predict_proba"

    def __init__(
        self,
        estimators: list[tuple[str, Any]],
        *,
        metric: str | Callable[..., float] = "log_loss",
        n_iterations: int = 40,
        cv: Any = 5,
        n_jobs: int | None = None,
        verbose: int = 0,
    ) -> None:
        super().__init__(
            estimators,
            metric=metric,
            n_iterations=n_iterations,
            cv=cv,
            n_jobs=n_jobs,
            verbose=verbose,
        )

    def _encode_y(self, y: Any) -> tuple[np.ndarray, np.ndarray]:
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(
                "EnsembleClassifier needs at least 2 classes in y, got 1 class: "
                f"{self.classes_[0]!r}"
            )
        # Members see the original labels; the selection the encoded ones.
        return y, y_enc

    def _align(self, estimator: Any, pred: Any) -> np.ndarray:
        """Member probabilities as columns of ``classes_`` (absent classes: 0)."""
        pred = np.asarray(pred, dtype=np.float64)
        member_classes = np.asarray(estimator.classes_)
        out = np.zeros((pred.shape[0], self.classes_.size), dtype=np.float64)
        index = np.searchsorted(self.classes_, member_classes)
        index = np.clip(index, 0, self.classes_.size - 1)
        unknown = self.classes_[index] != member_classes
        if unknown.any():
            raise ValueError(
                f"member {type(estimator).__name__} predicts classes "
                f"{member_classes[unknown].tolist()} that are not in y"
            )
        out[:, index] = pred
        return out

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> EnsembleClassifier:
        """Select members on out-of-fold probabilities, then refit them.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Training rows, passed to the members as they are.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Passed to every member's ``fit`` and used by the selection metric.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Weighted average of the members' probabilities.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Rows to predict.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Probabilities of ``classes_``.
        """
        return self._average(X)

    def predict(self, X: Any) -> np.ndarray:
        """Predict the class with the highest averaged probability.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Rows to predict.

        Returns
        -------
        ndarray of shape (n_samples,)
            Predicted labels.
        """
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]


class EnsembleRegressor(RegressorMixin, _Ensemble):
    """Greedy ensemble selection of regressors on out-of-fold predictions.

    Each member is fitted on the training folds of ``cv`` and predicts the
    held-out fold; starting from nothing, ``n_iterations`` times the member
    whose addition gives the averaged predictions the lowest ``metric`` is
    added (with replacement). Members that were picked are refit on every
    row passed to ``fit``; prediction averages them with weights
    ``weights_``.

    Parameters
    ----------
    estimators : list of (str, estimator)
        Named regressors. They are cloned; members fitted elsewhere are used
        as they are only when wrapped in :class:`sklearn.frozen.FrozenEstimator`,
        and then the rows passed to ``fit`` must be rows they were not trained
        on (they are never refit).
    metric : {"rmse", "mae"} or callable, default="rmse"
        What the selection minimises; a callable
        ``metric(y_true, y_pred, sample_weight=None)`` is a loss.
    n_iterations : int, default=40
        Members added in the greedy selection (the ensemble size, counting
        repeats).
    cv : int, cross-validation generator or iterable, default=5
        Splits for the out-of-fold predictions (an int: k-fold without
        shuffling). Rows in no test fold are not used by the selection.
    n_jobs : int or None, default=None
        Fits run in parallel with joblib (None: one at a time).
    verbose : int, default=0
        joblib's verbosity.

    Attributes
    ----------
    weights_ : ndarray of shape (n_members,)
        Weight of each member of ``estimators`` (zeros for those never picked).
    estimators_ : list of estimators
        The picked members, refit on every row (frozen ones as given).
    named_estimators_ : Bunch
        ``estimators_`` by name.
    selection_scores_ : dict of str to float
        Each member's out-of-fold ``metric``.
    selection_score_ : float
        The ensemble's out-of-fold ``metric`` (optimistic: the weights were
        chosen on the same rows).
    n_selection_rows_ : int
        Rows the selection used.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during fit, when ``X`` has string column names.

    See Also
    --------
    EnsembleClassifier : The same for classifiers.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from tabkit.ensemble import EnsembleRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> members = [
    ...     ("ridge", Ridge(alpha=0.1)),
    ...     ("tree", DecisionTreeRegressor(max_depth=3, random_state=0)),
    ... ]
    >>> ens = EnsembleRegressor(members, cv=5).fit(X, y)
    >>> ens.selection_score_ <= min(ens.selection_scores_.values())
    True
    >>> ens.predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_Ensemble._parameter_constraints,
        "metric": [StrOptions(set(_REGRESSOR_METRICS)), callable],
    }
    _metrics = _REGRESSOR_METRICS
    _method = "predict"

    def __init__(
        self,
        estimators: list[tuple[str, Any]],
        *,
        metric: str | Callable[..., float] = "rmse",
        n_iterations: int = 40,
        cv: Any = 5,
        n_jobs: int | None = None,
        verbose: int = 0,
    ) -> None:
        super().__init__(
            estimators,
            metric=metric,
            n_iterations=n_iterations,
            cv=cv,
            n_jobs=n_jobs,
            verbose=verbose,
        )

    def _encode_y(self, y: Any) -> tuple[np.ndarray, np.ndarray]:
        y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
        if not self.__sklearn_tags__().target_tags.multi_output:
            y = column_or_1d(y, warn=True)
        self._y_2d = y.ndim == 2
        return y, y

    def _align(self, _estimator: Any, pred: Any) -> np.ndarray:
        """Member predictions shaped like ``y`` (some give (n, 1) for (n,))."""
        pred = np.asarray(pred, dtype=np.float64)
        if not self._y_2d and pred.ndim == 2 and pred.shape[1] != 1:
            raise ValueError(
                f"member {type(_estimator).__name__} predicts {pred.shape[1]} "
                "outputs per row, but y has one"
            )
        return pred.reshape(pred.shape[0], -1) if self._y_2d else pred.reshape(-1)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> EnsembleRegressor:
        """Select members on out-of-fold predictions, then refit them.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Training rows, passed to the members as they are.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Passed to every member's ``fit`` and used by the selection metric.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight)

    def predict(self, X: Any) -> np.ndarray:
        """Weighted average of the members' predictions.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Rows to predict.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions.
        """
        return self._average(X)
