# SPDX-License-Identifier: BSD-3-Clause
"""Callbacks, loop state and early stopping shared by every training procedure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from torch import nn

from tabkit.training._history import History


class StopTraining(Exception):
    """Raise from a callback to end training cleanly (best weights are kept).

    Examples
    --------
    >>> from tabkit.training import StopTraining
    >>> issubclass(StopTraining, Exception)
    True
    """


@dataclass
class LoopState:
    """What a callback sees: the current position of the training loop.

    Attributes
    ----------
    iteration : int
        1-based index of the current outer iteration (an epoch of
        :func:`~tabkit.training.fit_module`, a step of the boosted NN).
    unit : str
        ``"epoch"`` or ``"step"``: what one outer iteration is.
    max_iter : int
        Iteration limit of this run.
    n_updates : int
        Optimiser steps (mini-batches) taken so far, over all iterations.
    metrics : dict
        Metrics of the latest iteration (``train_loss``, ``val_loss``, ...);
        inside ``on_batch_end`` it holds ``batch_loss`` (a detached tensor).
    history : History
        All records so far.
    module : torch.nn.Module or None
        The module being trained (``None`` for procedures without one).
    elapsed : float
        Seconds since training started.
    stop : bool
        Set to ``True`` in a callback to stop after the current iteration.

    Examples
    --------
    >>> from tabkit.training import LoopState
    >>> LoopState(unit="epoch", max_iter=10).iteration
    0
    """

    unit: str = "epoch"
    max_iter: int = 0
    iteration: int = 0
    n_updates: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    history: History = field(default_factory=History)
    module: nn.Module | None = None
    elapsed: float = 0.0
    stop: bool = False


@runtime_checkable
class Callback(Protocol):
    """Protocol of training callbacks (all four hooks; subclass :class:`BaseCallback`).

    A hook may set ``state.stop = True``, return ``True`` or raise
    :class:`StopTraining` to end training after the current iteration; any other
    exception (for example ``optuna.TrialPruned``) propagates to the caller.
    """

    def on_train_begin(self, state: LoopState) -> bool | None:
        """Call before the first iteration."""

    def on_iteration_end(self, state: LoopState) -> bool | None:
        """Call after each outer iteration (epoch or boosting step), with metrics."""

    def on_batch_end(self, state: LoopState) -> bool | None:
        """Call after each optimiser step of mini-batch training."""

    def on_train_end(self, state: LoopState) -> bool | None:
        """Call once training has ended and the kept weights are in place."""


class BaseCallback:
    """Callback with no-op hooks: subclass it and override what you need.

    Examples
    --------
    >>> from tabkit.training import BaseCallback
    >>> class StopAtThree(BaseCallback):
    ...     def on_iteration_end(self, state):
    ...         return state.iteration >= 3
    >>> StopAtThree().on_train_begin(None) is None
    True
    """

    def on_train_begin(self, state: LoopState) -> bool | None:  # noqa: ARG002
        """Call before the first iteration."""
        return None

    def on_iteration_end(self, state: LoopState) -> bool | None:  # noqa: ARG002
        """Call after each outer iteration (epoch or boosting step)."""
        return None

    def on_batch_end(self, state: LoopState) -> bool | None:  # noqa: ARG002
        """Call after each optimiser step of mini-batch training."""
        return None

    def on_train_end(self, state: LoopState) -> bool | None:  # noqa: ARG002
        """Call once training has ended."""
        return None


def notify(callbacks: Sequence[Any], hook: str, state: LoopState) -> bool:
    """Call ``hook`` on every callback that has it; return whether to stop.

    Parameters
    ----------
    callbacks : sequence of callbacks
        Objects with any subset of the :class:`Callback` hooks.
    hook : str
        Hook name, e.g. ``"on_iteration_end"``.
    state : LoopState
        Passed to the hook.

    Returns
    -------
    stop : bool
        ``True`` when a callback asked to stop.

    Examples
    --------
    >>> from tabkit.training import LoopState, notify
    >>> class Stopper:
    ...     def on_iteration_end(self, state):
    ...         return True
    >>> notify([Stopper()], "on_iteration_end", LoopState())
    True
    """
    stop = False
    for callback in callbacks:
        method = getattr(callback, hook, None)
        if method is None:
            continue
        try:
            if method(state):
                stop = True
        except StopTraining:
            stop = True
    return stop or state.stop


class EarlyStopping:
    """Track a monitored metric and say when it stopped improving.

    Parameters
    ----------
    monitor : str, default="val_loss"
        Metric name in the iteration's metrics.
    mode : {"min", "max"}, default="min"
        Whether lower or higher values are better.
    patience : int, default=10
        Evaluations without improvement before stopping.
    tol : float, default=0.0
        Minimum improvement that counts (absolute).
    restore_best : bool, default=True
        Whether the weights of the best evaluation are restored at the end.
    min_iterations : int, default=0
        Never stop before this iteration (the best value is tracked from the
        start): for models whose objective shifts during training, such as
        Hopular's annealed loss.

    Attributes
    ----------
    best_value : float
        Best monitored value so far (``inf`` / ``-inf`` before any).
    best_iteration : int or None
        Iteration of the best value.
    n_bad : int
        Evaluations since the last improvement.

    Examples
    --------
    >>> from tabkit.training import EarlyStopping
    >>> es = EarlyStopping(patience=2)
    >>> [es.update(v, i) for i, v in enumerate([3.0, 2.0, 2.5, 2.4], start=1)]
    [True, True, False, False]
    >>> es.should_stop, es.best_iteration
    (True, 2)
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        *,
        mode: Literal["min", "max"] = "min",
        patience: int = 10,
        tol: float = 0.0,
        restore_best: bool = True,
        min_iterations: int = 0,
    ) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience!r}")
        self.monitor = monitor
        self.mode = mode
        self.patience = patience
        self.tol = tol
        self.restore_best = restore_best
        self.min_iterations = min_iterations
        self.reset()

    def reset(self) -> None:
        """Forget everything seen so far."""
        self.best_value = math.inf if self.mode == "min" else -math.inf
        self.best_iteration: int | None = None
        self.n_bad = 0
        self.last_iteration = 0

    def update(self, value: float, iteration: int) -> bool:
        """Record a new value of the monitored metric.

        Parameters
        ----------
        value : float
            The new value (NaN never counts as an improvement).
        iteration : int
            The iteration it belongs to.

        Returns
        -------
        improved : bool
            Whether the value beats the best one by more than ``tol``.
        """
        sign = 1.0 if self.mode == "min" else -1.0
        self.last_iteration = iteration
        improved = math.isfinite(value) and (
            self.best_iteration is None or sign * (self.best_value - value) > self.tol
        )
        if improved:
            self.best_value = value
            self.best_iteration = iteration
            self.n_bad = 0
        else:
            self.n_bad += 1
        return improved

    @property
    def should_stop(self) -> bool:
        """Whether ``patience`` evaluations passed without improvement."""
        started = self.last_iteration >= self.min_iterations
        return started and self.n_bad >= self.patience
