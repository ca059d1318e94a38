# SPDX-License-Identifier: BSD-3-Clause
"""The mini-batch base: build a module, batch the rows, train it with the one loop.

:class:`MiniBatchTrainer` is what every batch-trained family builds on,
whatever its input: it builds the family's module (``_build_module``), and
trains it with :func:`~tabkit.training.fit_module` on the batches of
``_make_batches``: the per-batch loss is the ``_loss`` hook (by default the
weighted mean of the mixin's per-row loss after the ``_augment`` hook),
validation metrics come from the mixin (``val_loss``, ``val_score``) on the
raw outputs of ``_validation_raw``, early stopping keeps the weights of the
best epoch, and the time budget, callbacks and progress bar are the loop's.

:class:`MiniBatchEstimator` is that trainer on the table layer (ExcelFormer,
Hopular): seeded mini-batches of encoded rows. The relational GNN is the same
trainer on the relational layer (batches of sampled subgraphs).
"""

from __future__ import annotations

from collections.abc import Iterator
from numbers import Integral, Real
from typing import Any, ClassVar

import torch
from torch import nn

from tabkit._compat import Interval
from tabkit.base._tabular import Batch, TabularEstimator
from tabkit.base._torch import TorchEstimator, resolve_device
from tabkit.training import (
    EarlyStopping,
    History,
    OptimizerFactory,
    SchedulerFactory,
    TensorBatches,
    adamw,
    fit_module,
)


class BatchesOf:
    """Seeded mini-batches of a :class:`Batch`: a training-loop ``BatchSource``.

    Parameters
    ----------
    batch : Batch
        Encoded rows with targets and weights, on the training device.
    batch_size : int
        Rows per batch.
    shuffle : bool, default=True
        A new permutation every epoch, drawn from the loop's generator.
    drop_last : bool, default=False
        Drop a smaller last batch.

    Examples
    --------
    >>> import torch
    >>> from tabkit.base import Batch, BatchesOf
    >>> rows = Batch(torch.zeros(5, 2), torch.zeros(5, 0, dtype=torch.int64),
    ...              torch.arange(5))
    >>> batches = BatchesOf(rows, batch_size=2, shuffle=False)
    >>> len(batches), [b.y.tolist() for b in batches(None)]
    (3, [[0, 1], [2, 3], [4]])
    """

    def __init__(
        self,
        batch: Batch,
        *,
        batch_size: int,
        shuffle: bool = True,
        drop_last: bool = False,
    ) -> None:
        self._batches = TensorBatches(
            *batch, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last
        )

    def __len__(self) -> int:
        return len(self._batches)

    def __call__(self, generator: torch.Generator | None) -> Iterator[Batch]:
        """Yield the batches of one epoch."""
        for x_num, x_cat, y, weight in self._batches(generator):
            assert x_num is not None
            assert x_cat is not None
            yield Batch(x_num, x_cat, y, weight)


class MiniBatchTrainer(TorchEstimator):
    """Base of tabkit's mini-batch trained models, whatever their input.

    Not used directly.

    An input layer implements the input hooks of
    :class:`~tabkit.base.TorchEstimator` plus ``_make_batches(train)`` (a
    ``BatchSource`` of the loop whose batches have ``y`` and ``weight``) and
    ``_validation_raw(valid)``; a family implements ``_build_module(train)`` and
    ``_forward(batch)``, and may override ``_loss`` (e.g. to mix samples),
    ``_augment`` (e.g. to corrupt inputs), ``_prepare(train, generator)``
    (statistics of the training rows needed before the module is built),
    ``_scheduler`` and ``_optimizer``.

    Fitted attributes set here: ``module_``, ``history_`` (one record per
    epoch: ``train_loss``, ``val_loss``, ``val_score``, ``seconds``),
    ``n_iter_`` (epochs run, over all fits with ``warm_start``) and
    ``best_epoch_`` (the epoch whose weights were kept, or None when the last
    epoch's were).
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **TorchEstimator._parameter_constraints,
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
    }
    history_: History
    n_iter_: int
    best_epoch_: int | None

    #: The validation metric early stopping monitors, and whether to minimise it.
    _monitor: ClassVar[tuple[str, str]] = ("val_loss", "min")
    #: Smallest number of rows from which ``early_stopping="auto"`` holds out rows.
    _auto_early_stopping_rows: ClassVar[int] = 1_000

    # ------------------------------------------------------------ family hooks
    def _forward(self, batch: Any) -> torch.Tensor:
        """Return the raw outputs (n, n_outputs) of one batch."""
        raise NotImplementedError

    def _prepare(self, train: Any, generator: torch.Generator) -> None:
        """Learn what the module needs from the training rows (first fit only)."""

    def _build_module(self, train: Any) -> nn.Module:
        """Return the family's freshly initialised module for these inputs."""
        raise NotImplementedError

    def _augment(self, batch: Any, generator: torch.Generator) -> Any:  # noqa: ARG002
        """Return a training batch after augmentation (default: unchanged)."""
        return batch

    def _loss(self, batch: Any, generator: torch.Generator) -> torch.Tensor:
        """Weighted mean of the per-row losses of one augmented training batch."""
        assert batch.y is not None
        batch = self._augment(batch, generator)
        losses = self._sample_losses(self._forward(batch), batch.y)
        return _weighted_mean(losses, batch.weight)

    def _optimizer(self) -> OptimizerFactory:
        """Return the optimiser factory (default: AdamW)."""
        return adamw

    def _scheduler(self) -> SchedulerFactory | None:
        """Return the learning-rate schedule, stepped per update (default: none)."""
        return None

    def _make_batches(self, train: Any) -> Any:
        """Return the training batches (a ``BatchSource`` of the loop)."""
        raise NotImplementedError

    def _validation_raw(self, valid: Any) -> torch.Tensor:
        """Return the raw outputs (n, n_outputs) of the validation rows."""
        raise NotImplementedError

    def _setting(self, name: str) -> Any:
        """Return the value of a training parameter (a preset may fill it in)."""
        return getattr(self, name)

    def _min_epochs(self) -> int:
        """Return the epochs before which early stopping may not stop (default 0)."""
        return 0

    def _loop_options(self) -> dict[str, Any]:
        """Return extra ``fit_module`` options (``grad_clip``, ``ema_decay``, ...)."""
        return {}

    # ------------------------------------------------------------ training
    def _fit_model(
        self,
        train: Any,
        valid: Any | None,
        *,
        generator: torch.Generator,
        callbacks: list[Any],
        first_fit: bool,
    ) -> None:
        device = resolve_device(self.device)
        if first_fit:
            self._prepare(train, generator)
            self.module_ = self._build_module(train).to(device)
        else:
            self.module_.to(device=device, dtype=torch.float32)
        early_stopping = None
        if valid is not None:
            monitor, mode = self._monitor
            early_stopping = EarlyStopping(
                monitor,
                mode="max" if mode == "max" else "min",
                patience=self.n_iter_no_change,
                tol=self.tol,
                min_iterations=self._min_epochs() + (0 if first_fit else self.n_iter_),
            )
        history = fit_module(
            self.module_,
            lambda module, batch: self._loss(batch, generator),  # noqa: ARG005
            self._make_batches(train),
            max_epochs=self._setting("max_epochs"),
            evaluate=None if valid is None else lambda _: self._evaluate(valid),
            optimizer=self._optimizer(),
            learning_rate=self._setting("learning_rate"),
            weight_decay=self.weight_decay,
            scheduler=self._scheduler(),
            early_stopping=early_stopping,
            time_budget=self.time_budget,
            callbacks=callbacks,
            generator=generator,
            start_epoch=0 if first_fit else self.n_iter_,
            verbose=bool(self.verbose),
            limit_name="max_epochs",
            **self._loop_options(),
        )
        history.optimizer_state = None
        if not first_fit:
            previous = History(list(self.history_) + list(history))
            previous.best_iteration = history.best_iteration
            previous.stop_reason = history.stop_reason
            history = previous
        self.history_ = history
        self.n_iter_ = len(history)
        self.best_epoch_ = history.best_iteration

    def _evaluate(self, valid: Any) -> dict[str, float]:
        """Return the validation metrics (called in eval mode, without grad)."""
        assert valid.y is not None
        raw = self._validation_raw(valid)
        metrics: dict[str, float] = self._validation_metrics(
            raw.float(), valid.y, valid.weight
        )
        return metrics


class MiniBatchEstimator(MiniBatchTrainer, TabularEstimator):
    """Base of tabkit's mini-batch trained table models (not used directly).

    :class:`MiniBatchTrainer` on the table layer: the training rows are an
    encoded :class:`Batch`, cut into seeded mini-batches (:class:`BatchesOf`);
    a family implements ``_build_module(train)`` and ``_forward(batch)``.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **TabularEstimator._parameter_constraints,
        **MiniBatchTrainer._parameter_constraints,
    }

    def _forward(self, batch: Batch) -> torch.Tensor:
        """Return the raw outputs (n, n_outputs) of one batch."""
        raise NotImplementedError

    def _make_batches(self, train: Batch) -> Any:
        """Return the training batches (a ``BatchSource`` of the loop)."""
        return BatchesOf(train, batch_size=self.batch_size, shuffle=True)

    def _validation_raw(self, valid: Batch) -> torch.Tensor:
        size = self._predict_batch_rows()
        return torch.cat(
            [
                self._forward(
                    Batch(valid.x_num[i : i + size], valid.x_cat[i : i + size])
                )
                for i in range(0, valid.x_num.shape[0], size)
            ]
        )


def _weighted_mean(values: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``values`` weighted by ``weight`` (plain mean without weights)."""
    if weight is None:
        return values.mean()
    return (values * weight).sum() / weight.sum().clamp_min(1e-12)
