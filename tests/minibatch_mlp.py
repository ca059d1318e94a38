"""A small test-only MLP on the mini-batch base: it pins the base's behaviour.

Numeric block + one embedding per categorical column ("blocks" view), one hidden
layer, dropout; everything else (validation, encoder, targets, weights, early
stopping, batches, loop, prediction, pickling, model files) is the base's.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import torch
from torch import nn

from tabkit._compat import Interval
from tabkit.base import (
    Batch,
    MiniBatchEstimator,
    TorchClassifierMixin,
    TorchRegressorMixin,
)


class TinyMLP(nn.Module):
    """Numeric block + categorical embeddings -> hidden layer -> outputs."""

    def __init__(
        self,
        d_num: int,
        cardinalities: list[int],
        d_out: int,
        *,
        d_hidden: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.embeddings = nn.ModuleList(nn.Embedding(c, 4) for c in cardinalities)
        d_in = d_num + 4 * len(cardinalities)
        self.net = nn.Sequential(
            nn.Linear(d_in, d_hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(d_hidden, d_out),
        )

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        parts = [x_num] + [emb(x_cat[:, j]) for j, emb in enumerate(self.embeddings)]
        return self.net(torch.cat(parts, dim=1))


class _TinyMLP(MiniBatchEstimator):
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **MiniBatchEstimator._parameter_constraints,
        "d_hidden": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
    }
    _encoder_options: ClassVar[dict[str, Any]] = {
        "numeric": "standard",
        "categorical": "codes",
    }

    def __init__(
        self,
        *,
        d_hidden=16,
        dropout=0.0,
        batch_size=32,
        max_epochs=20,
        learning_rate=1e-2,
        weight_decay=0.0,
        categorical_features="auto",
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=5,
        tol=0.0,
        time_budget=None,
        warm_start=False,
        random_state=None,
        n_threads=None,
        device="cpu",
        verbose=0,
    ):
        self.d_hidden = d_hidden
        self.dropout = dropout
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
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

    def _build_module(self, train: Batch) -> nn.Module:
        return TinyMLP(
            train.x_num.shape[1],
            list(self._encoder.cardinalities_),
            self._n_outputs,
            d_hidden=self.d_hidden,
            dropout=self.dropout,
        )

    def _forward(self, batch: Batch) -> torch.Tensor:
        return self.module_(batch.x_num, batch.x_cat)


class TinyMLPClassifier(TorchClassifierMixin, _TinyMLP):
    """Test-only MLP classifier."""


class TinyMLPRegressor(TorchRegressorMixin, _TinyMLP):
    """Test-only MLP regressor."""
