# SPDX-License-Identifier: BSD-3-Clause
"""Boosted sequential neural networks as scikit-learn estimators."""

from __future__ import annotations

from collections.abc import Iterator
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from tabkit._compat import Interval, RealNotInt, StrOptions
from tabkit.base import (
    Batch,
    TabularEstimator,
    TorchClassifierMixin,
    TorchRegressorMixin,
)
from tabkit.nn.boosted import BoostedNetwork
from tabkit.training import EarlyStopping, History
from tabkit.training.boosting import (
    BinomialDeviance,
    BoostingLoss,
    Huber,
    MultinomialDeviance,
    SquaredError,
    fit_boosting,
)

#: Parameters of the paper's setting (Emami & Martínez-Muñoz; GBNN 0.0.2 with the
#: shrinkage its authors' grids favour): one unit per step, 200 steps, L-BFGS
#: run to convergence, no early stopping.
PAPER_PRESET: dict[str, Any] = {
    "n_estimators": 200,
    "units_per_step": 1,
    "learning_rate": 0.1,
    "subsample": 0.5,
    "activation": "logistic",
    "max_iter_per_step": 200,
    "solver": "lbfgs",
    "early_stopping": False,
}


class _BoostedNN(TabularEstimator):
    """Shared implementation of the boosted NN classifier and regressor."""

    history_: History

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **TabularEstimator._parameter_constraints,
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "units_per_step": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "subsample": [
            StrOptions({"auto"}),
            Interval(RealNotInt, 0, 1, closed="right"),
            Interval(Integral, 2, None, closed="left"),
        ],
        "activation": [StrOptions({"relu", "logistic", "tanh"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "max_iter_per_step": [Interval(Integral, 1, None, closed="left")],
        "solver": [StrOptions({"auto", "bfgs", "lbfgs", "adam"})],
        "n_candidates": [Interval(Integral, 1, None, closed="left")],
    }
    _encoder_options: ClassVar[dict[str, Any]] = {
        "numeric": "standard",
        "categorical": "auto",
    }
    _encoder_view: ClassVar[str] = "dense"
    _auto_early_stopping_rows: ClassVar[int] = 200

    @classmethod
    def preset_params(cls, name: str) -> dict[str, Any]:
        """Return the parameters of a named preset.

        Parameters
        ----------
        name : {"default", "paper"}
            ``"default"``: tabkit's CPU-sized defaults (many units per step,
            few optimiser iterations, early stopping). ``"paper"``: the
            setting of Emami & Martínez-Muñoz (one unit per step, 200 steps,
            L-BFGS to convergence, shrinkage 0.1, no early stopping).

        Returns
        -------
        params : dict
            Keyword arguments for the constructor.

        Examples
        --------
        >>> from tabkit import BoostedNNRegressor
        >>> params = BoostedNNRegressor.preset_params("paper")
        >>> BoostedNNRegressor(**params).units_per_step
        1
        """
        if name == "paper":
            return dict(PAPER_PRESET)
        if name == "default":
            return {}
        raise ValueError(f"unknown preset {name!r}; choose 'default' or 'paper'")

    # ------------------------------------------------------------ training
    # Hooks of the classifier and the regressor.
    def _boosting_loss(self) -> BoostingLoss:
        raise NotImplementedError

    def _loss_targets(self, y: torch.Tensor) -> torch.Tensor:
        """Targets in the boosting loss's format: shape (n, n_outputs)."""
        return y.reshape(-1, 1).float()

    def _val_score(self, y: torch.Tensor, raw: torch.Tensor) -> float:
        raise NotImplementedError

    def _fit_model(
        self,
        train: Batch,
        valid: Batch | None,
        *,
        generator: torch.Generator,
        callbacks: list[Any],
        first_fit: bool,
    ) -> None:
        assert train.y is not None
        x = train.x_num
        if first_fit:
            self.module_ = BoostedNetwork(
                x.shape[1],
                self._n_outputs,
                units_per_step=self.units_per_step,
                max_steps=self.n_estimators,
                activation=self.activation,
            ).to(x.device)
        else:
            self._check_warm_start()
            self.module_.to(device=x.device, dtype=x.dtype)
        validation = None
        if valid is not None:
            assert valid.y is not None
            validation = (valid.x_num, self._loss_targets(valid.y), valid.weight)
        early_stopping = None
        if validation is not None:
            early_stopping = EarlyStopping(
                "val_loss", patience=self.n_iter_no_change, tol=self.tol
            )
        subsample = self._subsample_fraction(x.shape[0])
        history = fit_boosting(
            self.module_,
            self._boosting_loss(),
            x,
            self._loss_targets(train.y),
            train.weight,
            n_steps=self.n_estimators,
            learning_rate=self.learning_rate,
            subsample=subsample,
            alpha=self.alpha,
            max_iter_per_step=self.max_iter_per_step,
            solver=self.solver,
            n_candidates=self.n_candidates,
            validation=validation,
            score=self._val_score,
            early_stopping=early_stopping,
            time_budget=self.time_budget,
            callbacks=callbacks,
            generator=generator,
            verbose=bool(self.verbose),
            limit_name="n_estimators",
        )
        if not first_fit:
            previous = list(self.history_)
            history = History(previous + list(history))
        self.history_ = history
        self.module_.to(dtype=self._predict_dtype)
        self.n_steps_ = self.module_.n_steps
        self.n_iter_ = max(1, len(self.history_))
        self.train_score_ = np.asarray(self.history_[:, "train_loss"], dtype=float)
        self.validation_score_ = np.asarray(
            [v for v in self.history_[:, "val_loss"] if v is not None], dtype=float
        )

    def _subsample_fraction(self, n_rows: int) -> float:
        if self.subsample == "auto":
            return min(n_rows / 2, max(2048, n_rows / 10)) / n_rows
        if isinstance(self.subsample, Integral):
            return min(1.0, float(self.subsample) / n_rows)
        return float(self.subsample)

    def _check_warm_start(self) -> None:
        module = self.module_
        if module.units_per_step != self.units_per_step:
            raise ValueError(
                "warm_start=True cannot change units_per_step "
                f"({module.units_per_step} -> {self.units_per_step})"
            )
        if module.activation != self.activation:
            raise ValueError(
                "warm_start=True cannot change activation "
                f"({module.activation!r} -> {self.activation!r})"
            )
        if self.n_estimators < module.n_steps:
            raise ValueError(
                f"n_estimators={self.n_estimators} must be >= the {module.n_steps} "
                "steps already fitted when warm_start=True"
            )

    # ------------------------------------------------------------ prediction
    def _forward(self, batch: Batch) -> torch.Tensor:
        out: torch.Tensor = self.module_(batch.x_num)
        return out

    def _raw_output(self, X: Any) -> np.ndarray:
        return self._raw(X, None)

    def _check_n_steps(self, n_steps: int | None) -> int | None:
        if n_steps is None:
            return None
        if isinstance(n_steps, bool) or not isinstance(n_steps, Integral):
            raise TypeError(f"n_steps must be an int, got {n_steps!r}")
        if not 0 <= n_steps <= self.n_steps_:
            raise ValueError(f"n_steps must be in [0, {self.n_steps_}], got {n_steps}")
        return int(n_steps)

    def _raw(self, X: Any, n_steps: int | None) -> np.ndarray:
        check_is_fitted(self, "module_")
        n_steps = self._check_n_steps(n_steps)
        units = self.module_.units_per_step * (
            self.module_.n_steps if n_steps is None else n_steps
        )
        work: list[torch.Tensor] = []  # one activation buffer for all batches

        def forward(batch: Batch) -> torch.Tensor:
            if not work:
                work.append(batch.x_num.new_empty(batch.x_num.shape[0], units))
            out: torch.Tensor = self.module_(
                batch.x_num, n_steps=n_steps, hidden_out=work[0]
            )
            return out

        return self._predict_raw(X, forward)

    def _staged_raw(self, X: Any) -> np.ndarray:
        """Raw scores after every step: shape (n_steps_, n_samples, n_outputs)."""
        check_is_fitted(self, "module_")
        return self._predict_raw(
            X, lambda b: self.module_.staged_forward(b.x_num), axis=1
        )


class BoostedNNClassifier(TorchClassifierMixin, _BoostedNN):
    """Classifier: a neural network trained step by step by gradient boosting.

    The sequential training of neural networks with gradient boosting (GBNN)
    of Emami & Martínez-Muñoz. Training starts from the constant that minimises
    the log loss (the log class priors); each boosting step fits
    ``units_per_step`` new hidden units to the pseudo-residuals on a
    subsample, takes a line-search step on the real loss over all rows, and
    shrinks it by ``learning_rate``. The result is ONE single-hidden-layer
    network (``module_``) whose units are ordered by training step: predicting
    with the first ``t`` steps (``predict(X, n_steps=t)``, the paper's
    "switch-off" of the last-trained units) is exactly the boosting model after
    ``t`` steps, so a model can be made cheaper at prediction time on the fly.

    Numeric, categorical (one-hot up to 16 levels, out-of-fold target
    statistics above), boolean, datetime and missing values in a DataFrame are
    handled by :class:`~tabkit.preprocessing.TabularEncoder`.

    Parameters
    ----------
    n_estimators : int, default=40
        Maximum number of boosting steps.
    units_per_step : int, default=8
        Hidden units fitted per step (the paper's J). With the shrinkage of
        0.1, a few wide steps reach a given accuracy with fewer units and in
        less time than many narrow ones.
    learning_rate : float, default=0.1
        Shrinkage of every step.
    subsample : "auto", float or int, default="auto"
        Rows each step's units are fitted on, drawn without replacement: a
        fraction in (0, 1], a number of rows, or ``"auto"``: half the rows,
        but no more than ``max(2048, n_samples / 10)``. The step size is always
        computed on all rows.
    activation : {"relu", "logistic", "tanh"}, default="relu"
        Hidden activation (the paper uses ``"logistic"``; ReLU units are as
        accurate here and cheaper to evaluate).
    alpha : float, default=1e-4
        L2 penalty of each step's least-squares fit (hidden and output weights).
    max_iter_per_step : int, default=16
        Quasi-Newton iterations per step's fit (the reference runs L-BFGS for
        up to 200).
    solver : {"auto", "bfgs", "lbfgs", "adam"}, default="auto"
        Optimiser of each step's fit: ``"auto"`` is L-BFGS on CPUs; on GPUs,
        dense BFGS for up to 600 hidden weights per step, L-BFGS above.
    n_candidates : int, default=32
        Random candidate units from which each step's starting units are chosen.
    categorical_features : "auto", array-like or None, default="auto"
        Categorical columns: ``"auto"`` takes pandas ``category``, object and
        string columns; or a list of names / positions, or a boolean mask.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplied with ``sample_weight``.
    early_stopping : "auto" or bool, default="auto"
        Stop when the staged validation loss stops improving and keep the best
        number of steps. ``"auto"``: on when ``X_val`` is passed to ``fit`` or
        when there are at least 200 rows (boosting over-fits small data).
    validation_fraction : float, default=0.1
        Fraction of the training rows held out (stratified) for early stopping
        when ``X_val`` is not given.
    n_iter_no_change : int, default=10
        Steps without improvement of the validation loss before stopping.
    tol : float, default=1e-4
        Minimum decrease of the validation loss that counts as improvement.
    time_budget : float or None, default=None
        Seconds; training stops (with a warning) after the step that exceeds it.
    warm_start : bool, default=False
        Continue from the steps of the previous ``fit`` (raise ``n_estimators``
        to add steps); the encoder of the first fit is kept.
    random_state : int, RandomState or None, default=None
        Seeds subsampling, candidate units and the validation split. The global
        random state is never changed.
    n_threads : int or None, default=None
        Torch threads during fit and predict (None: leave torch's setting).
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where the network is trained and evaluated.
    verbose : int, default=0
        Show a progress bar and log each step.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    module_ : BoostedNetwork
        The assembled network (``n_steps_ * units_per_step`` hidden units).
    n_steps_ : int
        Boosting steps kept (after early stopping).
    n_iter_ : int
        Boosting steps run (over all fits with ``warm_start``).
    history_ : History
        Per-step records: ``train_loss``, ``step_size``, ``val_loss``,
        ``val_score`` (accuracy), ``seconds``.
    train_score_ : ndarray of shape (n_iter_,)
        Training log loss after each step.
    validation_score_ : ndarray
        Validation log loss after each step (empty without early stopping).
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Input column names (when ``X`` had string column names).

    See Also
    --------
    BoostedNNRegressor : The same method for regression.
    sklearn.ensemble.HistGradientBoostingClassifier : Gradient-boosted trees.

    References
    ----------
    .. [1] S. Emami and G. Martínez-Muñoz, "Sequential Training of Neural
       Networks with Gradient Boosting", IEEE Access 11, 42738-42750, 2023.
       arXiv:1909.12098.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from tabkit import BoostedNNClassifier
    >>> X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    >>> clf = BoostedNNClassifier(n_estimators=500, random_state=0).fit(X, y)
    >>> clf.history_.stop_reason, clf.n_steps_ < clf.n_iter_ < 500
    ('early_stopping', True)
    >>> clf.score(X, y) > 0.95
    True
    >>> clf.predict_proba(X.iloc[:2], n_steps=5).shape
    (2, 2)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_BoostedNN._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        *,
        n_estimators: int = 40,
        units_per_step: int = 8,
        learning_rate: float = 0.1,
        subsample: Any = "auto",
        activation: str = "relu",
        alpha: float = 1e-4,
        max_iter_per_step: int = 16,
        solver: str = "auto",
        n_candidates: int = 32,
        categorical_features: Any = "auto",
        class_weight: Any = None,
        early_stopping: Any = "auto",
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        time_budget: float | None = None,
        warm_start: bool = False,
        random_state: Any = None,
        n_threads: int | None = None,
        device: str = "auto",
        verbose: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.units_per_step = units_per_step
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.activation = activation
        self.alpha = alpha
        self.max_iter_per_step = max_iter_per_step
        self.solver = solver
        self.n_candidates = n_candidates
        self.categorical_features = categorical_features
        self.class_weight = class_weight
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.time_budget = time_budget
        self.warm_start = warm_start
        self.random_state = random_state
        self.n_threads = n_threads
        self.device = device
        self.verbose = verbose

    def _boosting_loss(self) -> BoostingLoss:
        if len(self.classes_) == 2:
            return BinomialDeviance()
        return MultinomialDeviance(len(self.classes_))

    def _loss_targets(self, y: torch.Tensor) -> torch.Tensor:
        if len(self.classes_) == 2:
            return y.reshape(-1, 1).float()
        return torch.nn.functional.one_hot(y, len(self.classes_)).float()

    def _val_score(self, y: torch.Tensor, raw: torch.Tensor) -> float:
        truth = y[:, 0].long() if y.shape[1] == 1 else y.argmax(1)
        return self._validation_metrics(raw, truth, None)["val_score"]

    def decision_function(self, X: Any, n_steps: int | None = None) -> np.ndarray:
        """Return raw scores (log-odds for two classes) after ``n_steps`` steps.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
        n_steps : int, optional
            Use only the first ``n_steps`` steps (default: all kept steps).

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        raw = self._raw(X, n_steps)
        return raw[:, 0] if raw.shape[1] == 1 else raw

    def predict_proba(self, X: Any, n_steps: int | None = None) -> np.ndarray:
        """Return class probabilities after ``n_steps`` steps.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
        n_steps : int, optional
            Use only the first ``n_steps`` steps (default: all kept steps).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return self._proba_from_raw(self._raw(X, n_steps))

    def predict(self, X: Any, n_steps: int | None = None) -> np.ndarray:
        """Return predicted classes after ``n_steps`` steps.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
        n_steps : int, optional
            Use only the first ``n_steps`` steps (default: all kept steps).

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X, n_steps)
        return np.asarray(self.classes_[proba.argmax(axis=1)])

    def staged_predict_proba(self, X: Any) -> Iterator[np.ndarray]:
        """Yield class probabilities after each step ``t = 1..n_steps_``.

        All stages are computed in one pass over the hidden layer (memory:
        ``n_steps_ * n_samples * n_classes`` floats).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Yields
        ------
        proba : ndarray of shape (n_samples, n_classes)
        """
        yield from self._proba_from_raw(self._staged_raw(X))

    def staged_predict(self, X: Any) -> Iterator[np.ndarray]:
        """Yield predicted classes after each step ``t = 1..n_steps_``.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Yields
        ------
        y : ndarray of shape (n_samples,)
        """
        for proba in self.staged_predict_proba(X):
            yield np.asarray(self.classes_[proba.argmax(axis=1)])


class BoostedNNRegressor(TorchRegressorMixin, _BoostedNN):
    """Regressor: a neural network trained step by step by gradient boosting.

    The sequential training of neural networks with gradient boosting (GBNN)
    of Emami & Martínez-Muñoz. Targets are standardised; training starts from
    their weighted mean (median for the Huber loss); each boosting step fits
    ``units_per_step`` new hidden units to the pseudo-residuals on a
    subsample, takes a line-search step on the real loss over all rows, and
    shrinks it by ``learning_rate``. The result is ONE single-hidden-layer
    network (``module_``) whose units are ordered by training step: predicting
    with the first ``t`` steps (``predict(X, n_steps=t)``, the paper's
    "switch-off" of the last-trained units) is exactly the boosting model after
    ``t`` steps.

    Numeric, categorical (one-hot up to 16 levels, out-of-fold target
    statistics above), boolean, datetime and missing values in a DataFrame are
    handled by :class:`~tabkit.preprocessing.TabularEncoder`.

    Parameters
    ----------
    loss : {"squared_error", "huber"}, default="squared_error"
        Training loss. With ``"huber"`` the transition point is re-estimated
        at every step as the ``huber_quantile`` quantile of the absolute
        residuals, the pseudo-residuals are the clipped residuals, and the
        step size comes from a safeguarded Newton line search on the Huber loss.
    huber_quantile : float, default=0.9
        Quantile of the absolute residuals used as the Huber transition point.
    n_estimators : int, default=40
        Maximum number of boosting steps.
    units_per_step : int, default=8
        Hidden units fitted per step (the paper's J). With the shrinkage of
        0.1, a few wide steps reach a given accuracy with fewer units and in
        less time than many narrow ones.
    learning_rate : float, default=0.1
        Shrinkage of every step.
    subsample : "auto", float or int, default="auto"
        Rows each step's units are fitted on, drawn without replacement: a
        fraction in (0, 1], a number of rows, or ``"auto"``: half the rows,
        but no more than ``max(2048, n_samples / 10)``. The step size is always
        computed on all rows.
    activation : {"relu", "logistic", "tanh"}, default="relu"
        Hidden activation (the paper uses ``"logistic"``; ReLU units are as
        accurate here and cheaper to evaluate).
    alpha : float, default=1e-4
        L2 penalty of each step's least-squares fit (hidden and output weights).
    max_iter_per_step : int, default=16
        Quasi-Newton iterations per step's fit (the reference runs L-BFGS for
        up to 200).
    solver : {"auto", "bfgs", "lbfgs", "adam"}, default="auto"
        Optimiser of each step's fit: ``"auto"`` is L-BFGS on CPUs; on GPUs,
        dense BFGS for up to 600 hidden weights per step, L-BFGS above.
    n_candidates : int, default=32
        Random candidate units from which each step's starting units are chosen.
    categorical_features : "auto", array-like or None, default="auto"
        Categorical columns: ``"auto"`` takes pandas ``category``, object and
        string columns; or a list of names / positions, or a boolean mask.
    early_stopping : "auto" or bool, default="auto"
        Stop when the staged validation loss stops improving and keep the best
        number of steps. ``"auto"``: on when ``X_val`` is passed to ``fit`` or
        when there are at least 200 rows (boosting over-fits small data).
    validation_fraction : float, default=0.1
        Fraction of the training rows held out for early stopping when
        ``X_val`` is not given.
    n_iter_no_change : int, default=10
        Steps without improvement of the validation loss before stopping.
    tol : float, default=1e-4
        Minimum decrease of the validation loss that counts as improvement.
    time_budget : float or None, default=None
        Seconds; training stops (with a warning) after the step that exceeds it.
    warm_start : bool, default=False
        Continue from the steps of the previous ``fit`` (raise ``n_estimators``
        to add steps); the encoder of the first fit is kept.
    random_state : int, RandomState or None, default=None
        Seeds subsampling, candidate units and the validation split. The global
        random state is never changed.
    n_threads : int or None, default=None
        Torch threads during fit and predict (None: leave torch's setting).
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where the network is trained and evaluated.
    verbose : int, default=0
        Show a progress bar and log each step.

    Attributes
    ----------
    module_ : BoostedNetwork
        The assembled network, on standardised targets.
    n_steps_ : int
        Boosting steps kept (after early stopping).
    n_iter_ : int
        Boosting steps run (over all fits with ``warm_start``).
    history_ : History
        Per-step records: ``train_loss``, ``step_size``, ``val_loss``,
        ``val_score`` (R²), ``seconds``.
    train_score_ : ndarray of shape (n_iter_,)
        Training loss (standardised units) after each step.
    validation_score_ : ndarray
        Validation loss after each step (empty without early stopping).
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Input column names (when ``X`` had string column names).

    See Also
    --------
    BoostedNNClassifier : The same method for classification.
    sklearn.ensemble.HistGradientBoostingRegressor : Gradient-boosted trees.

    References
    ----------
    .. [1] S. Emami and G. Martínez-Muñoz, "Sequential Training of Neural
       Networks with Gradient Boosting", IEEE Access 11, 42738-42750, 2023.
       arXiv:1909.12098.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from tabkit import BoostedNNRegressor
    >>> X, y = load_diabetes(return_X_y=True, as_frame=True)
    >>> reg = BoostedNNRegressor(n_estimators=10, early_stopping=False, random_state=0)
    >>> reg = reg.fit(X, y)
    >>> reg.n_steps_, reg.predict(X.iloc[:3]).shape
    (10, (3,))
    >>> stages = list(reg.staged_predict(X.iloc[:3]))
    >>> len(stages), bool(abs(stages[-1] - reg.predict(X.iloc[:3])).max() < 1e-3)
    (10, True)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_BoostedNN._parameter_constraints,
        "loss": [StrOptions({"squared_error", "huber"})],
        "huber_quantile": [Interval(Real, 0, 1, closed="neither")],
    }

    def __init__(
        self,
        *,
        loss: str = "squared_error",
        huber_quantile: float = 0.9,
        n_estimators: int = 40,
        units_per_step: int = 8,
        learning_rate: float = 0.1,
        subsample: Any = "auto",
        activation: str = "relu",
        alpha: float = 1e-4,
        max_iter_per_step: int = 16,
        solver: str = "auto",
        n_candidates: int = 32,
        categorical_features: Any = "auto",
        early_stopping: Any = "auto",
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        time_budget: float | None = None,
        warm_start: bool = False,
        random_state: Any = None,
        n_threads: int | None = None,
        device: str = "auto",
        verbose: int = 0,
    ) -> None:
        self.loss = loss
        self.huber_quantile = huber_quantile
        self.n_estimators = n_estimators
        self.units_per_step = units_per_step
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.activation = activation
        self.alpha = alpha
        self.max_iter_per_step = max_iter_per_step
        self.solver = solver
        self.n_candidates = n_candidates
        self.categorical_features = categorical_features
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.time_budget = time_budget
        self.warm_start = warm_start
        self.random_state = random_state
        self.n_threads = n_threads
        self.device = device
        self.verbose = verbose

    def _boosting_loss(self) -> BoostingLoss:
        if self.loss == "huber":
            return Huber(self.huber_quantile)
        return SquaredError()

    def _val_score(self, y: torch.Tensor, raw: torch.Tensor) -> float:
        return self._validation_metrics(raw, y[:, 0], None)["val_score"]

    def predict(self, X: Any, n_steps: int | None = None) -> np.ndarray:
        """Return predictions after ``n_steps`` steps.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
        n_steps : int, optional
            Use only the first ``n_steps`` steps (default: all kept steps).

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        return self._value_from_raw(self._raw(X, n_steps))

    def staged_predict(self, X: Any) -> Iterator[np.ndarray]:
        """Yield predictions after each step ``t = 1..n_steps_``.

        All stages are computed in one pass over the hidden layer.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Yields
        ------
        y : ndarray of shape (n_samples,)
        """
        yield from self._value_from_raw(self._staged_raw(X))
