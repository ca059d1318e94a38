# SPDX-License-Identifier: BSD-3-Clause
"""Classifier and regressor behaviour of torch estimators, as mixins.

scikit-learn's HistGradientBoosting pattern: the shared base has one ``fit``,
and what differs between classification and regression is a handful of small
hooks overridden here: target validation and encoding (``_check_y``,
``_encode_y``, ``_encode_val_y``), the number of outputs (``_n_outputs``),
the stratification of the validation split, the per-sample training loss
(``_sample_losses``), the validation metrics, and the public prediction
methods built on the raw outputs (``_raw_output``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from scipy.special import expit, softmax
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, column_or_1d
from torch.nn import functional as F


def _check_target_length(y: Any, n_rows: int, name: str) -> np.ndarray:
    if y is None:
        raise ValueError(f"{name} requires y to be passed, but the target y is None")
    y = column_or_1d(y, warn=True)
    if len(y) != n_rows:
        raise ValueError(
            f"X has {n_rows} rows but y has {len(y)}; they must be equally long"
        )
    return y


class TorchClassifierMixin(ClassifierMixin):
    """Classification hooks of tabkit's torch estimators (left of the base).

    Targets become class indices (``classes_`` sorted as by ``np.unique``); a
    binary problem has one output (the log-odds of ``classes_[1]``), ``k > 2``
    classes have ``k`` outputs (logits).

    Examples
    --------
    >>> from tabkit.base import TorchClassifierMixin
    >>> TorchClassifierMixin._target_dtype
    torch.int64
    """

    classes_: np.ndarray
    _target_dtype: ClassVar[torch.dtype] = torch.int64

    # ------------------------------------------------------------ targets
    def _check_y(self, y: Any, n_rows: int) -> np.ndarray:
        y = _check_target_length(y, n_rows, type(self).__name__)
        if y.dtype.kind in "fc":
            check_array(y, ensure_2d=False, dtype=None, input_name="y")
        elif pd.isna(y).any():
            raise ValueError("Input y contains NaN (missing labels)")
        check_classification_targets(y)
        return y

    def _encode_y(self, y: np.ndarray, weight: np.ndarray, *, warm: bool) -> np.ndarray:  # noqa: ARG002
        classes, codes = np.unique(y, return_inverse=True)
        if warm and not np.array_equal(classes, self.classes_):
            raise ValueError(
                f"warm_start=True needs the classes of the first fit "
                f"{self.classes_.tolist()}, got {classes.tolist()}"
            )
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in "
                f"y; got only one class: {classes[0]!r}"
            )
        self.classes_ = classes
        return codes.astype(np.int64)

    def _encode_val_y(self, y: Any) -> np.ndarray:
        y = self._check_y(y, len(y) if hasattr(y, "__len__") else 0)
        index = pd.Index(self.classes_).get_indexer(y)
        if (index < 0).any():
            unknown = sorted(set(np.asarray(y)[index < 0].tolist()), key=str)
            raise ValueError(f"y_val contains classes not seen in y: {unknown}")
        return index.astype(np.int64)

    def _stratify(self, target: np.ndarray) -> np.ndarray | None:
        return target if np.bincount(target).min() >= 2 else None

    @property
    def _n_outputs(self) -> int:
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    # ------------------------------------------------------------ losses
    def _sample_losses(self, raw: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-row log loss of raw outputs (n, n_outputs) against class indices."""
        if raw.shape[1] == 1:
            return F.binary_cross_entropy_with_logits(
                raw[:, 0], y.to(raw.dtype), reduction="none"
            )
        return F.cross_entropy(raw, y, reduction="none")

    def _validation_metrics(
        self, raw: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None
    ) -> dict[str, float]:
        """``val_loss`` (mean log loss) and ``val_score`` (accuracy)."""
        w = torch.ones_like(raw[:, 0]) if weight is None else weight.to(raw.dtype)
        loss = (self._sample_losses(raw, y) * w).sum() / w.sum()
        pred = (raw[:, 0] > 0).long() if raw.shape[1] == 1 else raw.argmax(1)
        accuracy = ((pred == y).to(raw.dtype) * w).sum() / w.sum()
        return {"val_loss": float(loss), "val_score": float(accuracy)}

    # ------------------------------------------------------------ prediction
    def _proba_from_raw(self, raw: np.ndarray) -> np.ndarray:
        """Class probabilities from raw scores (last axis: outputs)."""
        if raw.shape[-1] == 1:
            p = expit(raw[..., 0])
            return np.stack([1.0 - p, p], axis=-1)
        return np.asarray(softmax(raw, axis=-1))

    def decision_function(self, X: Any) -> np.ndarray:
        """Return raw scores: log-odds of ``classes_[1]`` (binary) or logits.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        raw = self._raw_output(X)
        return np.asarray(raw[:, 0] if raw.shape[1] == 1 else raw)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Return class probabilities.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        return self._proba_from_raw(self._raw_output(X))

    def predict(self, X: Any) -> np.ndarray:
        """Return predicted classes.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return np.asarray(self.classes_[proba.argmax(axis=1)])


class TorchRegressorMixin(RegressorMixin):
    """Regression hooks of tabkit's torch estimators (left of the base).

    Targets are standardised with their (weighted) mean and standard deviation
    at fit; the network predicts standardised values and ``predict`` maps them
    back to the original units.

    Examples
    --------
    >>> from tabkit.base import TorchRegressorMixin
    >>> TorchRegressorMixin._target_dtype
    torch.float32
    """

    _y_mean: float
    _y_scale: float
    _target_dtype: ClassVar[torch.dtype] = torch.float32
    _n_outputs: ClassVar[int] = 1

    # ------------------------------------------------------------ targets
    def _check_y(self, y: Any, n_rows: int) -> np.ndarray:
        y = _check_target_length(y, n_rows, type(self).__name__)
        return np.asarray(
            check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
        )

    def _encode_y(self, y: np.ndarray, weight: np.ndarray, *, warm: bool) -> np.ndarray:
        if not warm:
            mean = float(np.average(y, weights=weight))
            std = float(np.sqrt(np.average((y - mean) ** 2, weights=weight)))
            self._y_mean, self._y_scale = mean, std if std > 0 else 1.0
        return (y - self._y_mean) / self._y_scale

    def _encode_val_y(self, y: Any) -> np.ndarray:
        y = self._check_y(y, len(y) if hasattr(y, "__len__") else 0)
        return (y - self._y_mean) / self._y_scale

    # ------------------------------------------------------------ losses
    def _sample_losses(self, raw: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-row squared error on the standardised scale."""
        return (raw[:, 0] - y.to(raw.dtype)) ** 2

    def _validation_metrics(
        self, raw: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None
    ) -> dict[str, float]:
        """``val_loss`` (mean squared error, standardised) and ``val_score`` (R²)."""
        w = torch.ones_like(raw[:, 0]) if weight is None else weight.to(raw.dtype)
        y = y.to(raw.dtype)
        sse = ((raw[:, 0] - y) ** 2 * w).sum()
        mean = (y * w).sum() / w.sum()
        sst = ((y - mean) ** 2 * w).sum().clamp_min(1e-12)
        return {"val_loss": float(sse / w.sum()), "val_score": float(1.0 - sse / sst)}

    # ------------------------------------------------------------ prediction
    def _value_from_raw(self, raw: np.ndarray) -> np.ndarray:
        """Regression predictions in the original target units."""
        return np.asarray(raw[..., 0] * self._y_scale + self._y_mean)

    def predict(self, X: Any) -> np.ndarray:
        """Return predictions in the units of the training targets.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        return self._value_from_raw(self._raw_output(X))
