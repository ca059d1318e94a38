# SPDX-License-Identifier: BSD-3-Clause
"""The search: :class:`OptunaSearch`, its objective and its pruning callback.

Trials run in this process, in local worker processes sharing a temporary
journal file, or on several machines sharing one optuna storage; the pruning
callback reports the training loop's per-iteration metric to the trial.
"""

from __future__ import annotations

import inspect
import math
import numbers
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import optuna
from joblib import Parallel, delayed
from optuna.distributions import BaseDistribution
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv, train_test_split
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, indexable

from tabkit._compat import (
    HasMethods,
    Interval,
    StrOptions,
    _fit_context,
    _safe_indexing,
)
from tabkit.base import TorchEstimator
from tabkit.training import BaseCallback, LoopState
from tabkit.tuning._spaces import (
    _check_space,
    _final_step,
    search_space,
    suggest_params,
)

__all__ = ["OptunaPruningCallback", "OptunaSearch"]


class OptunaPruningCallback(BaseCallback):
    """Report a training-loop metric to an optuna trial and prune on request.

    After every iteration (an epoch of the mini-batch models, a boosting step
    of the boosted NN) the monitored metric is reported as the trial's
    intermediate value at that iteration; when the study's pruner says so,
    :class:`optuna.TrialPruned` is raised and ends the fit.

    Parameters
    ----------
    trial : optuna.Trial
        The running trial.
    monitor : str, default="val_loss"
        Metric of the loop's records (the validation loss needs validation
        rows: ``early_stopping`` on, or ``X_val`` given).
    greater_is_better : bool, default=False
        Direction of ``monitor``; the value is negated when it disagrees
        with the study's direction.

    Examples
    --------
    >>> import optuna
    >>> from tabkit import BoostedNNClassifier
    >>> from tabkit.tuning import OptunaPruningCallback
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=300, random_state=0)
    >>> study = optuna.create_study(direction="maximize")
    >>> trial = study.ask()
    >>> clf = BoostedNNClassifier(early_stopping=True, random_state=0)
    >>> _ = clf.fit(X, y, callbacks=[OptunaPruningCallback(trial)])
    >>> _ = study.tell(trial, clf.score(X, y))
    >>> steps = study.trials[0].intermediate_values
    >>> len(steps) == clf.n_iter_, max(steps.values()) < 0  # -val_loss
    (True, True)
    """

    def __init__(
        self,
        trial: optuna.Trial,
        monitor: str = "val_loss",
        greater_is_better: bool = False,
    ) -> None:
        self.trial = trial
        self.monitor = monitor
        self.greater_is_better = greater_is_better

    def on_iteration_end(self, state: LoopState) -> bool | None:
        """Report the metric; raise :class:`optuna.TrialPruned` when pruned."""
        value = state.metrics.get(self.monitor)
        if value is None or not math.isfinite(float(value)):
            return None
        maximize = self.trial.study.direction == optuna.study.StudyDirection.MAXIMIZE
        sign = 1.0 if maximize == self.greater_is_better else -1.0
        self.trial.report(sign * float(value), state.iteration)
        if self.trial.should_prune():
            raise optuna.TrialPruned(
                f"pruned at {state.unit} {state.iteration} ({self.monitor}={value:.6g})"
            )
        return None


def _accepts_callbacks(estimator: Any) -> bool:
    """Whether the final step's ``fit`` takes tabkit training-loop callbacks.

    LightGBM's and XGBoost's ``fit`` also have a ``callbacks`` parameter, for
    their own callback protocols: only tabkit estimators get the pruning
    callback.
    """
    final, _ = _final_step(estimator)
    if not isinstance(final, TorchEstimator):
        return False
    try:
        return "callbacks" in inspect.signature(final.fit).parameters
    except (TypeError, ValueError):
        return False


def _rows_of(params: Mapping[str, Any], rows: np.ndarray, n: int) -> dict[str, Any]:
    """Cut fit parameters with one entry per row (sample_weight) to ``rows``."""
    out = {}
    for key, value in params.items():
        if not isinstance(value, str) and hasattr(value, "__len__") and len(value) == n:
            out[key] = _safe_indexing(value, rows)
        else:
            out[key] = value
    return out


def _open_storage(storage: Any) -> Any:
    """Open a journal file path; pass RDB URLs, storages and None through."""
    if storage is None or not isinstance(storage, str):
        return storage
    if "://" in storage:
        return storage  # optuna opens RDB URLs itself
    from optuna.storages import JournalStorage  # noqa: PLC0415
    from optuna.storages.journal import JournalFileBackend  # noqa: PLC0415

    return JournalStorage(JournalFileBackend(storage))


class _Objective:
    """One trial: fit the configuration on every split and return the mean score."""

    def __init__(  # noqa: PLR0917
        self,
        search: OptunaSearch,
        space: Mapping[str, Any],
        X: Any,
        y: Any,
        splits: list[tuple[np.ndarray, np.ndarray]],
        fit_params: dict[str, Any],
    ) -> None:
        self.search = search
        self.space = space
        self.X = X
        self.y = y
        self.splits = splits
        self.fit_params = fit_params
        self.scorer = check_scoring(search.estimator, scoring=search.scoring)
        self.prunable = search.pruner is not None and _accepts_callbacks(
            search.estimator
        )
        self.first_error: BaseException | None = None

    def __call__(self, trial: optuna.Trial) -> float:
        params = suggest_params(trial, self.space)
        trial.set_user_attr("pid", os.getpid())
        scores = []
        tick = time.perf_counter()
        try:
            for k, (train, test) in enumerate(self.splits):
                est = clone(self.search.estimator).set_params(**params)
                fit_params = _rows_of(self.fit_params, train, len(self.y))
                if k == 0 and self.prunable:
                    _, prefix = _final_step(est)
                    fit_params[prefix + "callbacks"] = [OptunaPruningCallback(trial)]
                est.fit(
                    _safe_indexing(self.X, train),
                    _safe_indexing(self.y, train),
                    **fit_params,
                )
                score = float(
                    self.scorer(
                        est, _safe_indexing(self.X, test), _safe_indexing(self.y, test)
                    )
                )
                scores.append(score)
        except optuna.TrialPruned:
            raise
        except Exception as exc:
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
            if self.first_error is None:
                self.first_error = exc
            raise
        finally:
            trial.set_user_attr("fit_s", time.perf_counter() - tick)
        trial.set_user_attr("split_scores", scores)
        return float(np.mean(scores))


_COUNTED = (
    optuna.trial.TrialState.COMPLETE,
    optuna.trial.TrialState.PRUNED,
    optuna.trial.TrialState.FAIL,
    optuna.trial.TrialState.RUNNING,
)


def _optimize(study: optuna.Study, search: OptunaSearch, objective: _Objective) -> None:
    """Run trials of ``study`` until it holds ``search.n_trials`` of them."""
    done = len(study.get_trials(deepcopy=False, states=_COUNTED))
    remaining = search.n_trials - done
    if remaining <= 0:
        return
    study.optimize(
        objective,
        n_trials=remaining,
        timeout=search.timeout,
        catch=() if search.error_score == "raise" else (Exception,),
        callbacks=[optuna.study.MaxTrialsCallback(search.n_trials, states=_COUNTED)],
    )


def _run_worker(  # noqa: PLR0917
    search: OptunaSearch,
    storage: str,
    study_name: str,
    seed: int | None,
    objective: _Objective,
    verbosity: int,
) -> None:
    """Join the shared study from a worker process and run trials."""
    optuna.logging.set_verbosity(verbosity)  # the parent's, in this worker
    study = optuna.load_study(
        study_name=study_name,
        storage=_open_storage(storage),
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=search._make_pruner(),
    )
    _optimize(study, search, objective)


def _best_has(attr: str) -> Callable[[Any], bool]:
    def check(self: OptunaSearch) -> bool:
        if hasattr(self, "best_estimator_"):
            return hasattr(self.best_estimator_, attr)
        return hasattr(self.estimator, attr)

    return check


class OptunaSearch(MetaEstimatorMixin, BaseEstimator):
    """Search hyperparameters with optuna, then refit the best configuration.

    Each trial draws a configuration from ``param_space`` with optuna's TPE
    sampler, fits a clone of ``estimator`` on the training part of every
    split and scores the held-out part with ``scoring``; the study maximises
    the mean score. Fits of tabkit estimators report their validation loss
    after every epoch (boosting step for the boosted NN) to the trial, so the
    pruner can stop unpromising ones early (with ``cv``, during the first
    split). Other estimators are searched without pruning.

    Parameters
    ----------
    estimator : estimator
        The model to tune (cloned for every fit); a Pipeline works, with
        ``step__param`` names in the space.
    param_space : dict or None, default=None
        Parameter names mapped to optuna distributions (or fixed values;
        a list is refused as ambiguous: choices go in a
        ``CategoricalDistribution``); None: :func:`search_space` of
        ``estimator``. Before the first trial, the estimator's
        ``set_params`` must take every name.
    n_trials : int, default=20
        Trials in the study, counting pruned and failed ones, over all
        workers (a study reloaded from ``storage`` counts its earlier trials).
    timeout : float or None, default=None
        Seconds after which each worker starts no new trial.
    scoring : str, callable or None, default=None
        A scikit-learn scorer (greater is better); None: the estimator's
        ``score``.
    cv : int, cross-validation generator, iterable or None, default=None
        None: one split holding out ``validation_fraction`` of the rows
        (stratified for classifiers). Otherwise the folds, as in
        :class:`~sklearn.model_selection.GridSearchCV`.
    validation_fraction : float, default=0.2
        Held-out fraction when ``cv`` is None.
    pruner : {"median", "halving"}, optuna pruner or None, default="median"
        ``"median"``: :class:`optuna.pruners.MedianPruner` (5 startup trials,
        5 warm-up iterations); ``"halving"``: successive halving; None: no
        pruning.
    storage : str, optuna storage or None, default=None
        Where the study lives: None (in memory; with ``n_jobs > 1`` a
        temporary journal file), a journal file path (several processes on
        one machine, or machines sharing a network file system), or an RDB
        URL such as ``"postgresql://user:pw@host/db"`` (many machines).
    study_name : str or None, default=None
        Study to create or join in ``storage`` (None: a fresh name).
        Workers started with the same ``storage`` and ``study_name`` share
        trials; give each machine a different ``random_state``.
    n_jobs : int, default=1
        Worker processes on this machine.
    refit : bool, default=True
        Fit ``best_estimator_`` on all rows with the best configuration.
    error_score : "raise" or np.nan, default=np.nan
        ``"raise"``: a fit that fails ends the search with its error.
        ``np.nan``: the trial is recorded as failed (its error in
        ``cv_results_["error"]``) and the search goes on; if every trial
        fails, the first error is raised.
    random_state : int or None, default=None
        Seeds the sampler and the held-out split (worker ``k`` of ``n_jobs``
        uses ``random_state + k``). With ``n_jobs=1`` and no shared storage,
        the search repeats exactly when the estimator's own fits do.
    verbose : int, default=0
        joblib's verbosity for the workers.

    Attributes
    ----------
    best_params_ : dict
        The best configuration.
    best_score_ : float
        Its mean held-out score.
    best_estimator_ : estimator
        ``estimator`` with ``best_params_``, refit on all rows (``refit=True``).
    study_ : optuna.Study
        The study (copied into memory when its storage was temporary).
    cv_results_ : dict of str to ndarray
        One entry per trial: ``number``, ``state``, ``params``,
        ``param_<name>``, ``split<k>_test_score``, ``mean_test_score``,
        ``std_test_score``, ``rank_test_score``, ``fit_s`` and ``error``
        (NaN scores for pruned and failed trials).
    n_trials_ : int
        Trials in the study.
    classes_ : ndarray
        The refit classifier's classes.

    See Also
    --------
    search_space : The default spaces.
    tabkit.ensemble.EnsembleClassifier : Combine tuned models.

    Examples
    --------
    >>> import optuna
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.ensemble import HistGradientBoostingClassifier
    >>> from tabkit.tuning import OptunaSearch
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> search = OptunaSearch(
    ...     HistGradientBoostingClassifier(random_state=0),
    ...     {"learning_rate": optuna.distributions.FloatDistribution(
    ...         0.01, 0.3, log=True)},
    ...     n_trials=4, scoring="roc_auc", random_state=0,
    ... ).fit(X, y)
    >>> sorted(search.best_params_), search.best_score_ > 0.95
    (['learning_rate'], True)
    >>> len(search.cv_results_["mean_test_score"])
    4
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "estimator": [HasMethods(["fit"])],
        "param_space": [dict, None],
        "n_trials": [Interval(numbers.Integral, 1, None, closed="left")],
        "timeout": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "scoring": [str, callable, None],
        "cv": ["cv_object"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "pruner": [StrOptions({"median", "halving"}), optuna.pruners.BasePruner, None],
        "storage": [str, optuna.storages.BaseStorage, None],
        "study_name": [str, None],
        "n_jobs": [Interval(numbers.Integral, 1, None, closed="left")],
        "refit": ["boolean"],
        "error_score": [StrOptions({"raise"}), numbers.Real],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator: Any,
        param_space: dict[str, Any] | None = None,
        *,
        n_trials: int = 20,
        timeout: float | None = None,
        scoring: Any = None,
        cv: Any = None,
        validation_fraction: float = 0.2,
        pruner: Any = "median",
        storage: Any = None,
        study_name: str | None = None,
        n_jobs: int = 1,
        refit: bool = True,
        error_score: Any = np.nan,
        random_state: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.estimator = estimator
        self.param_space = param_space
        self.n_trials = n_trials
        self.timeout = timeout
        self.scoring = scoring
        self.cv = cv
        self.validation_fraction = validation_fraction
        self.pruner = pruner
        self.storage = storage
        self.study_name = study_name
        self.n_jobs = n_jobs
        self.refit = refit
        self.error_score = error_score
        self.random_state = random_state
        self.verbose = verbose

    def _make_pruner(self) -> optuna.pruners.BasePruner:
        if self.pruner is None:
            return optuna.pruners.NopPruner()
        if self.pruner == "median":
            return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5)
        if self.pruner == "halving":
            return optuna.pruners.SuccessiveHalvingPruner()
        return self.pruner

    def _splits(self, X: Any, y: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        classifier = is_classifier(self.estimator)
        rows = np.arange(len(y))
        if self.cv is None:
            seed = self.random_state
            stratify = np.asarray(y) if classifier else None
            try:
                train, test = train_test_split(
                    rows,
                    test_size=self.validation_fraction,
                    random_state=seed,
                    stratify=stratify,
                )
            except ValueError:  # a class too small to stratify
                train, test = train_test_split(
                    rows, test_size=self.validation_fraction, random_state=seed
                )
            return [(np.sort(train), np.sort(test))]
        cv = check_cv(self.cv, y, classifier=classifier)
        return [(np.asarray(a), np.asarray(b)) for a, b in cv.split(X, y)]

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X: Any, y: Any = None, **fit_params: Any) -> OptunaSearch:
        """Run the search, then refit the best configuration on all rows.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Training rows, passed to the estimator as they are.
        y : array-like of shape (n_samples,)
            Targets.
        **fit_params : dict
            Passed to every fit of the estimator (``step__param`` for a
            Pipeline); values with one entry per row (``sample_weight``) are
            cut to each split's training rows.

        Returns
        -------
        self
        """
        if y is None:
            raise ValueError(
                "OptunaSearch requires y to be passed, but the target y is None"
            )
        X, y = indexable(X, y)
        space = (
            search_space(self.estimator)
            if self.param_space is None
            else dict(self.param_space)
        )
        _check_space(self.estimator, space)
        objective = _Objective(self, space, X, y, self._splits(X, y), fit_params)
        seed = None if self.random_state is None else int(self.random_state)
        study_name = self.study_name or f"tabkit-{os.getpid()}-{time.time_ns()}"
        temp_dir = None
        storage = self.storage
        if self.n_jobs > 1 and storage is None:
            temp_dir = tempfile.mkdtemp(prefix="tabkit-optuna-")
            storage = os.path.join(temp_dir, "journal.log")
        if self.n_jobs > 1 and not isinstance(storage, str):
            raise ValueError(
                "with n_jobs > 1, storage must be None, a journal file path or an "
                "RDB URL (a storage object cannot be shared by worker processes)"
            )
        try:
            study = optuna.create_study(
                storage=_open_storage(storage),
                study_name=study_name,
                direction="maximize",
                load_if_exists=True,
                sampler=optuna.samplers.TPESampler(seed=seed),
                pruner=self._make_pruner(),
            )
            if self.n_jobs == 1:
                _optimize(study, self, objective)
            else:
                Parallel(n_jobs=self.n_jobs, verbose=self.verbose)(
                    delayed(_run_worker)(
                        self,
                        storage,
                        study_name,
                        None if seed is None else seed + k,
                        objective,
                        optuna.logging.get_verbosity(),
                    )
                    for k in range(self.n_jobs)
                )
            if temp_dir is not None:
                memory = optuna.storages.InMemoryStorage()
                optuna.copy_study(
                    from_study_name=study_name,
                    from_storage=_open_storage(storage),
                    to_storage=memory,
                )
                study = optuna.load_study(study_name=study_name, storage=memory)
            elif self.n_jobs > 1:  # the workers' trials, read back
                study = optuna.load_study(
                    study_name=study_name, storage=_open_storage(storage)
                )
        finally:
            if temp_dir is not None:
                shutil.rmtree(temp_dir, ignore_errors=True)
        self.study_ = study
        self._record(study, space, objective.first_error)
        if self.refit:
            self.best_estimator_ = clone(self.estimator).set_params(**self.best_params_)
            self.best_estimator_.fit(X, y, **fit_params)
        return self

    def _record(
        self,
        study: optuna.Study,
        space: Mapping[str, Any],
        first_error: BaseException | None,
    ) -> None:
        trials = study.get_trials(deepcopy=False)
        complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
        if not complete and first_error is not None:
            raise first_error  # every trial failed in this process: the cause
        if not complete:
            errors = [t.user_attrs.get("error") for t in trials]
            first = next((e for e in errors if e), "all trials were pruned")
            raise RuntimeError(
                f"no trial of the {len(trials)} completed; first error: {first}"
            )
        best = max(complete, key=lambda t: t.value)  # type: ignore[arg-type,return-value]
        fixed = {k: v for k, v in space.items() if not isinstance(v, BaseDistribution)}
        self.best_params_ = {**fixed, **best.params}
        self.best_score_ = float(best.value)  # type: ignore[arg-type]
        self.n_trials_ = len(trials)
        n_splits = max(
            (len(t.user_attrs.get("split_scores", [])) for t in trials), default=0
        )
        results: dict[str, Any] = {
            "number": np.array([t.number for t in trials]),
            "state": np.array([t.state.name for t in trials]),
            "params": [{**fixed, **t.params} for t in trials],
        }
        for key in space:
            if isinstance(space[key], BaseDistribution):
                results[f"param_{key}"] = np.ma.masked_array(
                    [t.params.get(key) for t in trials],
                    mask=[key not in t.params for t in trials],
                    dtype=object,
                )
        for k in range(n_splits):
            results[f"split{k}_test_score"] = np.array(
                [
                    t.user_attrs["split_scores"][k]
                    if t.state == optuna.trial.TrialState.COMPLETE
                    else np.nan
                    for t in trials
                ]
            )
        done = [t.state == optuna.trial.TrialState.COMPLETE for t in trials]
        mean = np.array(
            [t.value if ok else np.nan for t, ok in zip(trials, done, strict=True)],
            dtype=float,
        )
        std = np.array(
            [
                np.std(t.user_attrs["split_scores"]) if ok else np.nan
                for t, ok in zip(trials, done, strict=True)
            ]
        )
        results["mean_test_score"] = mean
        results["std_test_score"] = std
        order = np.argsort(-np.nan_to_num(mean, nan=-np.inf), kind="stable")
        rank = np.empty(len(trials), dtype=np.int64)
        rank[order] = np.arange(1, len(trials) + 1)
        results["rank_test_score"] = rank
        results["fit_s"] = np.array([t.user_attrs.get("fit_s", np.nan) for t in trials])
        results["error"] = np.array([t.user_attrs.get("error", "") for t in trials])
        self.cv_results_ = results

    # -- delegation to the refit estimator -------------------------------------

    def _best(self) -> Any:
        check_is_fitted(self)
        if not hasattr(self, "best_estimator_"):
            raise AttributeError(
                "OptunaSearch was fitted with refit=False: best_estimator_ does "
                "not exist; refit the best_params_ yourself"
            )
        return self.best_estimator_

    @available_if(_best_has("predict"))
    def predict(self, X: Any) -> Any:
        """Predict with ``best_estimator_``.

        Parameters
        ----------
        X : array-like or DataFrame
            Rows to predict.

        Returns
        -------
        ndarray
            The best estimator's predictions.
        """
        return self._best().predict(X)

    @available_if(_best_has("predict_proba"))
    def predict_proba(self, X: Any) -> Any:
        """Class probabilities of ``best_estimator_``.

        Parameters
        ----------
        X : array-like or DataFrame
            Rows to predict.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            The best estimator's probabilities.
        """
        return self._best().predict_proba(X)

    @available_if(_best_has("score"))
    def score(self, X: Any, y: Any) -> float:
        """Score ``best_estimator_`` with ``scoring`` (or its own ``score``).

        Parameters
        ----------
        X : array-like or DataFrame
            Rows.
        y : array-like
            Targets.

        Returns
        -------
        float
            The score.
        """
        best = self._best()
        scorer = check_scoring(best, scoring=self.scoring)
        return float(scorer(best, X, y))

    @property
    def classes_(self) -> np.ndarray:
        """Classes of the refit classifier."""
        return self._best().classes_

    @property
    def n_features_in_(self) -> int:
        """Number of features the refit estimator saw."""
        return self._best().n_features_in_

    @property
    def feature_names_in_(self) -> np.ndarray:
        """Feature names the refit estimator saw (string column names only)."""
        return self._best().feature_names_in_

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        if not hasattr(self.estimator, "__sklearn_tags__"):
            return tags  # not an estimator: parameter validation will say so
        inner = self.estimator.__sklearn_tags__()
        tags.estimator_type = inner.estimator_type
        tags.input_tags = inner.input_tags
        tags.target_tags = inner.target_tags
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        tags.non_deterministic = True
        return tags
