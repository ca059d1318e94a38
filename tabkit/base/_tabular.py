# SPDX-License-Identifier: BSD-3-Clause
"""The table layer of torch estimators: validation, the encoder, batched prediction.

:class:`TabularEstimator` implements the input hooks of
:class:`~tabkit.base.TorchEstimator` for single tables: inputs are validated by
:func:`~tabkit.preprocessing.check_table`, encoded by the fitted
:class:`~tabkit.preprocessing.TabularEncoder` (strategies chosen by the model
family) into a :class:`Batch` of tensors, and predicted in fixed-size padded
row blocks so that float32 predictions do not depend on the batch composition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted

from tabkit._compat import StrOptions
from tabkit.base._torch import TorchEstimator, resolve_device
from tabkit.preprocessing import EncodedTable, TabularEncoder, check_table

#: Rows per batch at prediction time (1,024 rows of activations stay in cache).
#: Every batch is padded to exactly this size, so each row goes through matrix
#: products of the same shape whatever the number of rows predicted: float32
#: predictions then do not depend on the batch composition (scikit-learn's
#: subset and order invariance checks).
PREDICT_BATCH_ROWS = 1024


class Batch(NamedTuple):
    """Encoded tensors of some rows, on the model's device.

    Attributes
    ----------
    x_num : Tensor of shape (n, d_num), float32
        Numeric block (scaled numbers, datetime features, missing indicators,
        target statistics).
    x_cat : Tensor of shape (n, d_cat), int64
        Category codes (0 = missing, 1 = unknown).
    y : Tensor of shape (n,) or None
        Encoded targets (class indices or standardised values).
    weight : Tensor of shape (n,) or None
        Sample weights.

    Examples
    --------
    >>> import torch
    >>> from tabkit.base import Batch
    >>> b = Batch(torch.zeros(4, 2), torch.zeros(4, 0, dtype=torch.int64))
    >>> b.x_num.shape, b.y is None
    (torch.Size([4, 2]), True)
    """

    x_num: torch.Tensor
    x_cat: torch.Tensor
    y: torch.Tensor | None = None
    weight: torch.Tensor | None = None


def padded_rows(batch: Batch, start: int, size: int) -> Batch:
    """Rows ``start:start + size`` of ``batch``, zero-padded to ``size`` rows.

    Parameters
    ----------
    batch : Batch
        Encoded rows (targets and weights are dropped).
    start : int
        First row.
    size : int
        Rows of the result.

    Returns
    -------
    part : Batch

    Examples
    --------
    >>> import torch
    >>> from tabkit.base import Batch, padded_rows
    >>> b = Batch(torch.ones(3, 2), torch.ones(3, 1, dtype=torch.int64))
    >>> padded_rows(b, 2, 4).x_num.sum(dim=1).tolist()
    [2.0, 0.0, 0.0, 0.0]
    """
    x_num = batch.x_num[start : start + size]
    x_cat = batch.x_cat[start : start + size]
    missing = size - x_num.shape[0]
    if missing:
        x_num = torch.cat([x_num, x_num.new_zeros(missing, x_num.shape[1])])
        x_cat = torch.cat([x_cat, x_cat.new_zeros(missing, x_cat.shape[1])])
    return Batch(x_num, x_cat)


class TabularEstimator(TorchEstimator):
    """Table layer of tabkit's torch estimators (not used directly).

    Inputs are DataFrames or arrays validated by
    :func:`~tabkit.preprocessing.check_table` and encoded by a
    :class:`~tabkit.preprocessing.TabularEncoder` with the family's
    ``_encoder_options``; the model sees a :class:`Batch` (``_encoder_view``
    ``"blocks"``: numeric block + category codes; ``"dense"``: one float matrix
    as ``x_num``). A model family implements ``_fit_model`` and ``_forward``.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **TorchEstimator._parameter_constraints,
        "categorical_features": [StrOptions({"auto"}), "array-like", None],
    }
    _encoder: TabularEncoder

    #: TabularEncoder strategies of the model family.
    _encoder_options: ClassVar[dict[str, Any]] = {}
    #: ``"blocks"``: x_num + x_cat codes; ``"dense"``: TabularEncoder.transform.
    _encoder_view: ClassVar[str] = "blocks"
    #: Floating-point type of the module and inputs at prediction time.
    _predict_dtype: ClassVar[torch.dtype] = torch.float32

    # ------------------------------------------------------------ model hook
    def _forward(self, batch: Batch) -> torch.Tensor:
        """Return the raw outputs (n, n_outputs) of one batch."""
        raise NotImplementedError

    # ------------------------------------------------------------ input hooks
    def _validate_inputs(self, X: Any, *, reset: bool) -> pd.DataFrame:
        return check_table(
            self, X, reset=reset, categorical_features=self.categorical_features
        )

    def _take_rows(self, X: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
        return X.iloc[rows]

    def _fit_inputs(
        self,
        X: pd.DataFrame,
        target: np.ndarray,
        weight: np.ndarray,
        device: torch.device,
        seed: int,
    ) -> Batch:
        self._encoder = TabularEncoder(
            **self._encoder_options,
            categorical_features=self.categorical_features,
            random_state=seed,
        )
        if self._encoder_view == "dense":
            dense = self._encoder.fit_transform(X, target, sample_weight=weight)
            return self._tensors(dense, device)
        return self._tensors(
            self._encoder.fit_encode(X, target, sample_weight=weight), device
        )

    def _inputs(
        self, X: pd.DataFrame, device: torch.device, dtype: torch.dtype = torch.float32
    ) -> Batch:
        if self._encoder_view == "dense":
            return self._tensors(self._encoder.transform(X), device, dtype)
        return self._tensors(self._encoder.encode(X), device, dtype)

    def _attach_targets(
        self, inputs: Batch, y: np.ndarray, weight: np.ndarray | None
    ) -> Batch:
        device = inputs.x_num.device
        y = np.asarray(y)
        if not y.flags.writeable:  # e.g. a read-only view of a pandas column
            y = y.copy()
        y_t = torch.as_tensor(y, dtype=self._target_dtype, device=device)
        w_t = None
        if weight is not None:
            w_t = torch.as_tensor(weight, dtype=torch.float32, device=device)
        return inputs._replace(y=y_t, weight=w_t)

    @staticmethod
    def _tensors(
        table: EncodedTable | np.ndarray,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
    ) -> Batch:
        if isinstance(table, np.ndarray):
            x_num, x_cat = table, np.zeros((len(table), 0), dtype=np.int64)
        else:
            x_num, x_cat = table.x_num, table.x_cat
        return Batch(
            torch.as_tensor(x_num, dtype=dtype, device=device),
            torch.as_tensor(x_cat, dtype=torch.int64, device=device),
        )

    # ------------------------------------------------------------ prediction
    def _predict_batch_rows(self) -> int:
        """Rows per (padded) prediction batch."""
        return PREDICT_BATCH_ROWS

    def _raw_output(self, X: Any) -> np.ndarray:
        return self._predict_raw(X)

    def _predict_raw(
        self,
        X: Any,
        forward: Callable[[Batch], torch.Tensor] | None = None,
        *,
        axis: int = 0,
    ) -> np.ndarray:
        """Encode ``X`` and run ``forward`` (default ``_forward``) in row batches."""
        check_is_fitted(self, "module_")
        forward = forward or self._forward
        with self._runtime():
            frame = self._validate_inputs(X, reset=False)
            device = resolve_device(self.device)
            self.module_.to(device=device, dtype=self._predict_dtype)
            self.module_.eval()
            batch = self._inputs(frame, device, self._predict_dtype)
            size = self._predict_batch_rows()
            outputs = []
            with torch.no_grad():
                for start in range(0, len(frame), size):
                    part = padded_rows(batch, start, size)
                    n = min(size, len(frame) - start)
                    out = forward(part).detach().cpu().numpy()
                    outputs.append(out[:n] if axis == 0 else out[:, :n])
        return np.concatenate(outputs, axis=axis).astype(np.float64)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        return tags
