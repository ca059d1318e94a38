# SPDX-License-Identifier: BSD-3-Clause
"""The generic torch estimator: one validated ``fit`` shared by every model.

:class:`TorchEstimator` owns what every tabkit estimator needs whatever its
input: the single ``fit`` (validation, sample and class weights, target
encoding through the classifier / regressor mixins, the early-stopping
validation split, seeding without touching global random state, threads and
device), prediction through the mixins, pickling with weights on the CPU, and
model files. Input handling is a layer of hooks (``_validate_inputs``,
``_take_rows``, ``_fit_inputs``, ``_inputs``, ``_raw_output``) implemented by
the table layer (:class:`~tabkit.base.TabularEstimator`) and, later, by the
relational layer; the model family implements ``_fit_model``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_sample_weight

from tabkit._compat import (
    Interval,
    RealNotInt,
    StrOptions,
    _check_sample_weight,
    _fit_context,
)


def resolve_device(device: str) -> torch.device:
    """Turn ``"auto" | "cpu" | "cuda"`` into a :class:`torch.device`.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}
        ``"auto"`` picks CUDA when available.

    Returns
    -------
    device : torch.device

    Examples
    --------
    >>> from tabkit.base import resolve_device
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was requested but CUDA is not available")
    return torch.device(device)


def derive_seed(random_state: Any) -> int:
    """Draw a 31-bit seed from ``random_state`` without touching global RNG state.

    Parameters
    ----------
    random_state : None, int or numpy.random.RandomState
        ``None`` draws fresh OS entropy (never NumPy's global generator).

    Returns
    -------
    seed : int

    Examples
    --------
    >>> from tabkit.base import derive_seed
    >>> derive_seed(3) == derive_seed(3)
    True
    """
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0] >> 1)
    if isinstance(random_state, Integral):
        return int(np.random.SeedSequence(int(random_state)).generate_state(1)[0] >> 1)
    return int(random_state.randint(np.iinfo(np.int32).max))


class TorchEstimator(BaseEstimator):
    """Generic base of tabkit's torch estimators (not used directly).

    Subclasses combine it with :class:`~tabkit.base.TorchClassifierMixin` or
    :class:`~tabkit.base.TorchRegressorMixin` (left of it), list their
    parameters in ``__init__`` (keyword-only, stored as given), extend
    ``_parameter_constraints``, and implement the input hooks (the table layer
    does) and ``_fit_model``.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "early_stopping": [StrOptions({"auto"}), "boolean"],
        "validation_fraction": [Interval(RealNotInt, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "time_budget": [Interval(Real, 0, None, closed="neither"), None],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "device": [StrOptions({"auto", "cpu", "cuda"})],
        "verbose": ["verbose"],
    }
    module_: Any

    #: Rows from which ``early_stopping="auto"`` holds out a validation split.
    _auto_early_stopping_rows: ClassVar[int] = 10_000

    # ------------------------------------------------------------ input hooks
    def _validate_inputs(self, X: Any, *, reset: bool) -> Any:
        """Validate ``X`` (setting ``n_features_in_`` when ``reset``)."""
        raise NotImplementedError

    def _take_rows(self, X: Any, rows: np.ndarray) -> Any:
        """Rows ``rows`` of validated inputs."""
        raise NotImplementedError

    def _fit_inputs(
        self,
        X: Any,
        target: np.ndarray,
        weight: np.ndarray,
        device: torch.device,
        seed: int,
    ) -> Any:
        """Fit the input encoding on the training rows and return their batch."""
        raise NotImplementedError

    def _inputs(self, X: Any, device: torch.device) -> Any:
        """Encode validated inputs with the fitted encoding."""
        raise NotImplementedError

    def _attach_targets(self, inputs: Any, y: Any, weight: Any) -> Any:
        """Return the encoded inputs with their target and weight tensors."""
        raise NotImplementedError

    # ------------------------------------------------------------ target hooks
    # (the classifier / regressor mixins implement these)
    def _check_y(self, y: Any, n_rows: int) -> np.ndarray:
        raise NotImplementedError

    def _encode_y(self, y: np.ndarray, weight: np.ndarray, *, warm: bool) -> np.ndarray:
        raise NotImplementedError

    def _encode_val_y(self, y: Any) -> np.ndarray:
        raise NotImplementedError

    def _stratify(self, target: np.ndarray) -> np.ndarray | None:  # noqa: ARG002
        return None

    # ------------------------------------------------------------ model hooks
    def _fit_model(
        self,
        train: Any,
        valid: Any | None,
        *,
        generator: torch.Generator,
        callbacks: list[Any],
        first_fit: bool,
    ) -> None:
        """Build (when ``first_fit``) and train ``self.module_``."""
        raise NotImplementedError

    def _raw_output(self, X: Any) -> np.ndarray:
        """Raw outputs of shape (n_samples, n_outputs) (logits, standardised values)."""
        raise NotImplementedError

    # ------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        *,
        X_val: Any = None,
        y_val: Any = None,
        sample_weight_val: Any = None,
        callbacks: Any = None,
    ) -> Any:
        """Fit the estimator.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Training inputs; DataFrames may mix numeric, categorical, string,
            boolean, datetime and missing values.
        y : array-like of shape (n_samples,)
            Class labels (classifiers) or targets (regressors).
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights (multiplied by ``class_weight`` where it exists).
        X_val, y_val : DataFrame / array-like, default=None
            Validation rows for early stopping (instead of an internal split
            of ``validation_fraction`` of the training rows).
        sample_weight_val : array-like, default=None
            Weights of the validation rows.
        callbacks : list, default=None
            Objects with :class:`~tabkit.training.Callback` hooks, called after
            every iteration (epoch or boosting step) with the training and
            validation metrics (optuna pruning uses this); a callback may stop
            training.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        warm = bool(self.warm_start) and hasattr(self, "module_")
        if (X_val is None) != (y_val is None):
            raise ValueError("X_val and y_val must be passed together")
        with self._runtime():
            X = self._validate_inputs(X, reset=not warm)
            y = self._check_y(y, _n_rows(X))
            weight = self._sample_weight(sample_weight, X, y)
            target = self._encode_y(y, weight, warm=warm)
            seed = derive_seed(self.random_state)
            device = resolve_device(self.device)
            train, valid = self._training_data(
                X, target, weight, (X_val, y_val, sample_weight_val), seed, device, warm
            )
            with self._seeded(seed, device) as generator:
                self._fit_model(
                    train,
                    valid,
                    generator=generator,
                    callbacks=list(callbacks or []),
                    first_fit=not warm,
                )
        return self

    def _training_data(  # noqa: PLR0917
        self,
        X: Any,
        target: np.ndarray,
        weight: np.ndarray,
        validation: tuple[Any, Any, Any],
        seed: int,
        device: torch.device,
        warm: bool,
    ) -> tuple[Any, Any | None]:
        """Split off the validation rows, then encode both parts."""
        X_val, y_val, w_val = validation
        valid = None
        if self._use_early_stopping(X, X_val is not None):
            if X_val is not None:
                X_val = self._validate_inputs(X_val, reset=False)
                y_val = self._encode_val_y(y_val)
                if len(y_val) != _n_rows(X_val):
                    raise ValueError("X_val and y_val have different numbers of rows")
                if w_val is not None:
                    w_val = _check_sample_weight(w_val, X_val, dtype=np.float64)
            else:
                train_rows, val_rows = self._split_rows(X, target, seed)
                X_val, y_val, w_val = (
                    self._take_rows(X, val_rows),
                    target[val_rows],
                    weight[val_rows],
                )
                X, target, weight = (
                    self._take_rows(X, train_rows),
                    target[train_rows],
                    weight[train_rows],
                )
        if warm:
            inputs = self._inputs(X, device)
        else:
            inputs = self._fit_inputs(X, target, weight, device, seed)
        train = self._attach_targets(inputs, target, weight)
        if X_val is not None:
            valid = self._attach_targets(self._inputs(X_val, device), y_val, w_val)
        return train, valid

    def _split_rows(
        self,
        X: Any,  # noqa: ARG002 - the relational layer splits by cut-off
        target: np.ndarray,
        seed: int,
    ) -> tuple[np.ndarray, ...]:
        """Sorted (train, validation) row indices of the internal split."""
        rows = np.arange(len(target))
        try:
            train_rows, val_rows = train_test_split(
                rows,
                test_size=self.validation_fraction,
                stratify=self._stratify(target),
                random_state=seed,
            )
        except ValueError:  # too few rows per class for a stratified split
            train_rows, val_rows = train_test_split(
                rows, test_size=self.validation_fraction, random_state=seed
            )
        if len(val_rows) == 0 or len(train_rows) == 0:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves no rows for "
                f"training or validation with {len(rows)} samples; pass X_val and "
                "y_val, or set early_stopping=False"
            )
        return np.sort(train_rows), np.sort(val_rows)

    def _sample_weight(self, sample_weight: Any, X: Any, y: np.ndarray) -> Any:
        weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        class_weight = getattr(self, "class_weight", None)
        if class_weight is not None:
            weight = weight * compute_sample_weight(class_weight, y)
        if (weight < 0).any():
            raise ValueError("sample_weight must be non-negative")
        if weight.sum() <= 0:
            raise ValueError("sample_weight sums to zero: nothing to fit")
        return weight

    def _use_early_stopping(self, X: Any, has_val: bool) -> bool:
        """Whether to early-stop: on X_val, or on a split of ``X`` (validated)."""
        if has_val and self.early_stopping is False:
            raise ValueError(
                "X_val and y_val were passed to fit while early_stopping=False; "
                "set early_stopping='auto' or True to use them"
            )
        if self.early_stopping == "auto":
            return has_val or _n_rows(X) >= self._auto_early_stopping_rows
        return bool(self.early_stopping)

    # ------------------------------------------------------------ runtime
    @contextmanager
    def _runtime(self) -> Iterator[None]:
        """Apply ``n_threads`` for the duration of fit / predict."""
        previous = torch.get_num_threads()
        if self.n_threads is not None:
            torch.set_num_threads(int(self.n_threads))
        try:
            yield
        finally:
            torch.set_num_threads(previous)

    @contextmanager
    def _seeded(self, seed: int, device: torch.device) -> Iterator[torch.Generator]:
        """Fork torch's global RNG (restored on exit) and yield a seeded generator."""
        devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield torch.Generator().manual_seed(seed)

    # ------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the fitted estimator to a model file (arrays + JSON, no pickle).

        Loading it with :func:`tabkit.load` executes no code from the file; a
        truncated or corrupted file is rejected by its checksums.

        Parameters
        ----------
        path : str or Path
            Destination (conventionally ending in ``.tabkit``).

        Returns
        -------
        path : Path
            The written file.
        """
        from tabkit.serialization import save  # noqa: PLC0415 - avoids an import cycle

        return save(self, path)

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = super().__getstate__()
        module = state.get("module_")
        if module is not None and any(
            t.device.type != "cpu" for t in module.state_dict().values()
        ):
            state = dict(state)
            state["module_"] = copy.deepcopy(module).cpu()
        return state


def _n_rows(X: Any) -> int:
    """Return the number of rows of validated inputs."""
    return int(X.shape[0]) if hasattr(X, "shape") else len(X)
