# SPDX-License-Identifier: BSD-3-Clause
"""THE training loop: one driver for epochs and boosting steps alike."""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

import torch
from sklearn.exceptions import ConvergenceWarning
from torch import Tensor, nn
from tqdm.auto import tqdm

from tabkit._warnings import user_stacklevel
from tabkit.training._callbacks import EarlyStopping, LoopState, notify
from tabkit.training._history import History
from tabkit.training._optim import (
    OptimizerFactory,
    SchedulerFactory,
    WeightEMA,
    adamw,
    make_parameter_groups,
)

logger = logging.getLogger("tabkit.training")

#: ``loss_fn(module, batch) -> scalar loss`` (the model hook: mixing, masking, ...).
LossFn = Callable[[nn.Module, Any], Tensor]
#: ``evaluate(module) -> metrics``; called in eval mode under ``torch.no_grad``.
EvalFn = Callable[[nn.Module], dict[str, float]]


class BatchSource(Protocol):
    """The batches of one epoch: ``source(generator)`` yields them, ``len`` counts."""

    def __call__(self, generator: torch.Generator | None) -> Iterable[Any]:
        """Yield the batches of one epoch in an order drawn from ``generator``."""
        ...

    def __len__(self) -> int:
        """Return the number of batches per epoch."""
        ...


class TensorBatches:
    """Seeded mini-batches over aligned tensors (``None`` entries pass through).

    Parameters
    ----------
    *tensors : Tensor or None
        Tensors with the same first dimension, already on the training device.
    batch_size : int
        Rows per batch.
    shuffle : bool, default=True
        Draw a new permutation every epoch from the generator given to
        ``__call__``.
    drop_last : bool, default=False
        Drop a last, smaller batch (useful with batch normalisation).

    Examples
    --------
    >>> import torch
    >>> from tabkit.training import TensorBatches
    >>> batches = TensorBatches(torch.arange(5), None, batch_size=2, shuffle=False)
    >>> len(batches), [b[0].tolist() for b in batches(None)]
    (3, [[0, 1], [2, 3], [4]])
    """

    def __init__(
        self,
        *tensors: Tensor | None,
        batch_size: int,
        shuffle: bool = True,
        drop_last: bool = False,
    ) -> None:
        present = [t for t in tensors if t is not None]
        if not present:
            raise ValueError("TensorBatches needs at least one tensor")
        self.n_rows = int(present[0].shape[0])
        if any(int(t.shape[0]) != self.n_rows for t in present):
            raise ValueError("all tensors must have the same number of rows")
        self.tensors = tensors
        self.batch_size = max(1, min(int(batch_size), self.n_rows))
        self.shuffle = shuffle
        self.drop_last = drop_last and self.n_rows > self.batch_size

    def __len__(self) -> int:
        if self.drop_last:
            return self.n_rows // self.batch_size
        return math.ceil(self.n_rows / self.batch_size)

    def __call__(
        self, generator: torch.Generator | None
    ) -> Iterator[tuple[Tensor | None, ...]]:
        """Yield the batches of one epoch."""
        device = next(t for t in self.tensors if t is not None).device
        if self.shuffle:
            order = torch.randperm(self.n_rows, generator=generator).to(device)
        else:
            order = torch.arange(self.n_rows, device=device)
        for i in range(len(self)):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            yield tuple(None if t is None else t[idx] for t in self.tensors)


#: Metrics shown on the progress bar (every float metric is logged).
_BAR_METRICS = ("train_loss", "val_loss", "val_score")


def run_loop(
    iterate: Callable[[LoopState], dict[str, float]],
    *,
    max_iter: int,
    unit: str = "epoch",
    evaluate: Callable[[LoopState], dict[str, float]] | None = None,
    eval_every: int = 1,
    early_stopping: EarlyStopping | None = None,
    snapshot: Callable[[], Any] | None = None,
    restore: Callable[[Any], Any] | None = None,
    time_budget: float | None = None,
    callbacks: Sequence[Any] = (),
    module: nn.Module | None = None,
    start_iteration: int = 0,
    verbose: bool = False,
    description: str = "training",
    limit_name: str = "max_iter",
) -> History:
    """Drive an iterative training procedure: the one loop behind every model.

    :func:`fit_module` runs it with one epoch of mini-batches per iteration; the
    boosted NN runs it with one boosting step per iteration. The loop owns
    evaluation every ``eval_every`` iterations, early stopping with the best
    state restored, the time budget, callbacks, the progress bar and the history.

    Parameters
    ----------
    iterate : callable
        ``iterate(state) -> metrics``: performs one iteration.
    max_iter : int
        Number of iterations unless stopped earlier.
    unit : str, default="epoch"
        What one iteration is (shown in the progress bar and to callbacks).
    evaluate : callable, optional
        ``evaluate(state) -> metrics`` (validation metrics).
    eval_every : int, default=1
        Evaluate every this many iterations (and at the last one).
    early_stopping : EarlyStopping, optional
        Tracker of the monitored metric; stops when it runs out of patience.
    snapshot, restore : callable, optional
        ``snapshot()`` captures the state to keep when the monitored metric
        improves; ``restore(snapshot)`` puts the best one back at the end.
    time_budget : float, optional
        Seconds; training stops after the iteration that exceeds it, with a
        warning.
    callbacks : sequence, optional
        Objects with :class:`~tabkit.training.Callback` hooks.
    module : torch.nn.Module, optional
        Shown to callbacks as ``state.module``.
    start_iteration : int, default=0
        Iterations done by earlier calls (warm start keeps numbering).
    verbose : bool, default=False
        Show a tqdm progress bar and log each iteration at INFO level.
    description : str, default="training"
        Progress bar label.
    limit_name : str, default="max_iter"
        Name of the user's parameter that set ``max_iter`` (for example
        ``"max_epochs"`` or ``"n_estimators"``), named in the warning given when
        the limit is reached while the monitored metric still improves.

    Returns
    -------
    history : History
        One record per iteration; ``best_iteration`` and ``stop_reason`` set.

    Examples
    --------
    >>> from tabkit.training import EarlyStopping, run_loop
    >>> values = iter([3.0, 2.0, 2.5, 2.6, 2.7])
    >>> kept = []
    >>> h = run_loop(lambda s: {"val_loss": next(values)}, max_iter=5,
    ...              early_stopping=EarlyStopping(patience=2),
    ...              snapshot=lambda: "weights", restore=kept.append)
    >>> h.stop_reason, h.best_iteration, len(h), kept
    ('early_stopping', 2, 4, ['weights'])
    """
    state = LoopState(unit=unit, max_iter=max_iter, module=module)
    history = state.history
    history.stop_reason = "max_iter"
    best: Any = None
    has_best = False
    start = time.perf_counter()
    bar = tqdm(
        total=max_iter, desc=description, unit=unit, disable=not verbose, leave=False
    )
    try:
        notify(callbacks, "on_train_begin", state)
        for i in range(1, max_iter + 1):
            state.iteration = start_iteration + i
            tick = time.perf_counter()
            metrics = dict(iterate(state))
            if evaluate is not None and (i % eval_every == 0 or i == max_iter):
                metrics.update(evaluate(state))
            state.elapsed = time.perf_counter() - start
            metrics["seconds"] = time.perf_counter() - tick
            state.metrics = metrics
            history.append({"iteration": state.iteration, **metrics})
            if early_stopping is not None and early_stopping.monitor in metrics:
                improved = early_stopping.update(
                    float(metrics[early_stopping.monitor]), state.iteration
                )
                if improved and early_stopping.restore_best and snapshot is not None:
                    best, has_best = snapshot(), True
            stop = notify(callbacks, "on_iteration_end", state)
            bar.update(1)
            if verbose:
                shown = {k: v for k, v in metrics.items() if isinstance(v, float)}
                # the bar shows the losses and the score; the log has everything
                bar.set_postfix(
                    {k: f"{v:.4g}" for k, v in shown.items() if k in _BAR_METRICS}
                )
                logger.info("%s %d: %s", unit, state.iteration, shown)
            if stop:
                history.stop_reason = "callback"
                break
            if early_stopping is not None and early_stopping.should_stop:
                history.stop_reason = "early_stopping"
                break
            over_budget = time_budget is not None and state.elapsed >= time_budget
            if over_budget and i < max_iter:
                history.stop_reason = "time_budget"
                warnings.warn(
                    f"time_budget={time_budget:g} s cut training short after "
                    f"{i} of {max_iter} {unit}s",
                    ConvergenceWarning,
                    stacklevel=user_stacklevel(),
                )
                break
    finally:
        bar.close()
    if early_stopping is not None:
        if early_stopping.best_iteration is None:
            raise ValueError(
                f"early stopping monitors {early_stopping.monitor!r}, which no "
                f"evaluation reported (metrics: {sorted(state.metrics)})"
            )
        if has_best and restore is not None:
            restore(best)
            history.best_iteration = early_stopping.best_iteration
        if history.stop_reason == "max_iter" and early_stopping.n_bad == 0:
            warnings.warn(
                f"the {limit_name} limit ({max_iter} {unit}s) was reached while "
                f"{early_stopping.monitor} was still improving; consider raising "
                f"{limit_name}",
                ConvergenceWarning,
                stacklevel=user_stacklevel(),
            )
    notify(callbacks, "on_train_end", state)
    return history


def fit_module(
    module: nn.Module,
    loss_fn: LossFn,
    train: BatchSource,
    *,
    max_epochs: int,
    evaluate: EvalFn | None = None,
    optimizer: OptimizerFactory = adamw,
    learning_rate: float = 1e-3,
    weight_decay: float = 0.0,
    scheduler: SchedulerFactory | None = None,
    grad_clip: float | None = None,
    eval_every: int = 1,
    ema_decay: float | None = None,
    early_stopping: EarlyStopping | None = None,
    time_budget: float | None = None,
    callbacks: Sequence[Any] = (),
    generator: torch.Generator | None = None,
    optimizer_state: dict[str, Any] | None = None,
    start_epoch: int = 0,
    verbose: bool = False,
    limit_name: str = "max_epochs",
) -> History:
    """Train a torch module with mini-batches: the loop every neural model uses.

    Parameters
    ----------
    module : torch.nn.Module
        Trained in place. With warm start it already holds earlier weights.
    loss_fn : callable
        ``loss_fn(module, batch) -> scalar tensor``; the model hook where
        mixing, masking or sample weights enter.
    train : callable
        ``train(generator)`` yields the batches of one epoch (for example
        :class:`TensorBatches` or a graph sampler); ``len(train)`` is the number
        of batches per epoch.
    max_epochs : int
        Epoch limit.
    evaluate : callable, optional
        ``evaluate(module) -> metrics`` on validation data; runs in eval mode,
        under ``torch.no_grad``, with EMA weights when ``ema_decay`` is set.
    optimizer : callable, default=adamw
        ``optimizer(param_groups, learning_rate)``; groups come from
        :func:`make_parameter_groups` (no decay on biases, norms, embeddings).
    learning_rate : float, default=1e-3
        Peak learning rate.
    weight_decay : float, default=0.0
        Decay of the decayed parameter group.
    scheduler : callable, optional
        ``scheduler(optimizer, total_updates)``, stepped after every update, for
        example :func:`warmup_cosine`.
    grad_clip : float, optional
        Clip the global gradient norm to this value.
    eval_every : int, default=1
        Evaluate every this many epochs.
    ema_decay : float, optional
        Keep an exponential moving average of the weights; it is what is
        evaluated and what is kept at the end. The decay warms up
        (``min(ema_decay, (1 + t) / (10 + t))`` at update ``t``; see
        :class:`WeightEMA`), so short trainings do not keep the initial weights.
    early_stopping : EarlyStopping, optional
        Stop when the monitored validation metric stops improving and restore
        the best weights.
    time_budget : float, optional
        Seconds; training stops (mid-epoch if needed) once exceeded, with a
        warning.
    callbacks : sequence, optional
        Per-epoch (``on_iteration_end``) and per-update (``on_batch_end``)
        callbacks; either may stop training.
    generator : torch.Generator, optional
        Source of the batch order; pass a seeded one for reproducibility. The
        global RNG is never used here.
    optimizer_state : dict, optional
        Optimiser state from a previous call (warm start).
    start_epoch : int, default=0
        Epochs done by earlier calls (warm start keeps numbering).
    verbose : bool, default=False
        Progress bar and INFO logs.
    limit_name : str, default="max_epochs"
        The user-facing name of ``max_epochs``, named in the warning given when
        it is reached while the validation metric still improves.

    Returns
    -------
    history : History
        Per-epoch records (``train_loss``, validation metrics, ``seconds``);
        ``history.optimizer_state`` holds the final optimiser state for a warm
        start.

    Examples
    --------
    >>> import torch
    >>> from tabkit.training import EarlyStopping, TensorBatches, fit_module
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(64, 3, generator=g)
    >>> y = x @ torch.tensor([1.0, -2.0, 0.5])
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Linear(3, 1)
    >>> mse = lambda m, b: ((m(b[0]).squeeze(1) - b[1]) ** 2).mean()
    >>> hist = fit_module(model, mse, TensorBatches(x, y, batch_size=16),
    ...                   max_epochs=200, learning_rate=0.05, generator=g,
    ...                   evaluate=lambda m: {"val_loss": mse(m, (x, y)).item()},
    ...                   early_stopping=EarlyStopping(patience=5, tol=1e-6))
    >>> hist.stop_reason, min(hist[:, "val_loss"]) < 1e-3
    ('early_stopping', True)
    """
    opt = optimizer(make_parameter_groups(module, weight_decay), learning_rate)
    if optimizer_state is not None:
        opt.load_state_dict(optimizer_state)
    n_batches = len(train)
    sched = scheduler(opt, max(max_epochs * n_batches, 1)) if scheduler else None
    ema = WeightEMA(module, ema_decay, warmup=True) if ema_decay else None
    deadline = None if time_budget is None else time.perf_counter() + time_budget
    params = [p for p in module.parameters() if p.requires_grad]

    def one_epoch(state: LoopState) -> dict[str, float]:
        module.train()
        total = torch.zeros(())
        count = 0
        for batch in train(generator):
            loss = loss_fn(module, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(params, grad_clip)
            opt.step()
            if sched is not None:
                sched.step()
            if ema is not None:
                ema.update()
            state.n_updates += 1
            total = total + loss.detach().cpu()
            count += 1
            if callbacks:
                state.metrics = {"batch_loss": loss.detach()}
                if notify(callbacks, "on_batch_end", state):
                    state.stop = True
                    break
            if deadline is not None and time.perf_counter() > deadline:
                break
        train_loss = float(total) / max(count, 1)
        if not math.isfinite(train_loss):
            raise FloatingPointError(
                f"the training loss became {train_loss} in epoch {state.iteration}; "
                "lower the learning rate or enable gradient clipping"
            )
        return {"train_loss": train_loss}

    def run_evaluation(state: LoopState) -> dict[str, float]:  # noqa: ARG001
        assert evaluate is not None
        module.eval()
        if ema is not None:
            ema.swap()
        try:
            with torch.no_grad():
                return evaluate(module)
        finally:
            if ema is not None:
                ema.swap()

    def snapshot() -> dict[str, Tensor]:
        source = ema.shadow if ema is not None else module.state_dict()
        return {k: v.detach().clone() for k, v in source.items()}

    history = run_loop(
        one_epoch,
        max_iter=max_epochs,
        unit="epoch",
        evaluate=run_evaluation if evaluate is not None else None,
        eval_every=eval_every,
        early_stopping=early_stopping,
        snapshot=snapshot,
        restore=module.load_state_dict,
        time_budget=time_budget,
        callbacks=callbacks,
        module=module,
        start_iteration=start_epoch,
        verbose=verbose,
        description=type(module).__name__,
        limit_name=limit_name,
    )
    if ema is not None and history.best_iteration is None:
        module.load_state_dict(ema.shadow)
    module.eval()
    history.optimizer_state = opt.state_dict()
    return history
