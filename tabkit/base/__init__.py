# SPDX-License-Identifier: BSD-3-Clause
"""Shared scikit-learn plumbing of every tabkit estimator.

Three layers, each used by the next:

- :class:`TorchEstimator`: what every estimator needs whatever its input: one
  validated ``fit`` (sample and class weights, the early-stopping validation
  split, seeds that never touch global random state, threads, device),
  pickling with weights on the CPU and model files. Classification and
  regression differ only by the small hooks of :class:`TorchClassifierMixin`
  and :class:`TorchRegressorMixin` (target encoding, number of outputs,
  per-row losses, validation metrics, ``predict`` / ``predict_proba``), placed
  left of the base as in scikit-learn.
- :class:`TabularEstimator`: the table layer: input validation through
  :func:`~tabkit.preprocessing.check_table`, the fitted
  :class:`~tabkit.preprocessing.TabularEncoder`, and batched prediction that
  does not depend on the batch composition.
- :class:`MiniBatchTrainer`: module, batches and the one training loop
  (:func:`~tabkit.training.fit_module`) with ``_loss`` / ``_augment`` hooks,
  best-epoch restore, budget and callbacks: the base of every batch-trained
  family whatever its input. :class:`MiniBatchEstimator` is it on the table
  layer (seeded mini-batches of rows: ExcelFormer, Hopular); the relational
  GNN puts it on the relational layer (batches of sampled subgraphs).

The boosted NN (:mod:`tabkit.estimators`) is a :class:`TabularEstimator` whose
``_fit_model`` grows its network by boosting steps instead of epochs.
"""

from __future__ import annotations

from tabkit.base._minibatch import BatchesOf, MiniBatchEstimator, MiniBatchTrainer
from tabkit.base._tabular import (
    PREDICT_BATCH_ROWS,
    Batch,
    TabularEstimator,
    padded_rows,
)
from tabkit.base._targets import TorchClassifierMixin, TorchRegressorMixin
from tabkit.base._torch import TorchEstimator, derive_seed, resolve_device

__all__ = [
    "PREDICT_BATCH_ROWS",
    "Batch",
    "BatchesOf",
    "MiniBatchEstimator",
    "MiniBatchTrainer",
    "TabularEstimator",
    "TorchClassifierMixin",
    "TorchEstimator",
    "TorchRegressorMixin",
    "derive_seed",
    "padded_rows",
    "resolve_device",
]
