# SPDX-License-Identifier: BSD-3-Clause
"""THE training loop of tabkit and the pieces it is built from.

Every neural estimator trains through :func:`run_loop`: :func:`fit_module` runs
it with one epoch of mini-batches per iteration (ExcelFormer and every other
mini-batch model), and the boosted NN (:mod:`tabkit.training.boosting`) runs it
with one boosting step per iteration. Early stopping, best-state restoration,
time budgets, callbacks, progress bars and histories are therefore shared by
all models.
"""

from __future__ import annotations

from tabkit.training._callbacks import (
    BaseCallback,
    Callback,
    EarlyStopping,
    LoopState,
    StopTraining,
    notify,
)
from tabkit.training._history import History
from tabkit.training._loop import BatchSource, TensorBatches, fit_module, run_loop
from tabkit.training._optim import (
    OptimizerFactory,
    SchedulerFactory,
    WeightEMA,
    adamw,
    make_parameter_groups,
    warmup_cosine,
)

__all__ = [
    "BaseCallback",
    "BatchSource",
    "Callback",
    "EarlyStopping",
    "History",
    "LoopState",
    "OptimizerFactory",
    "SchedulerFactory",
    "StopTraining",
    "TensorBatches",
    "WeightEMA",
    "adamw",
    "fit_module",
    "make_parameter_groups",
    "notify",
    "run_loop",
    "warmup_cosine",
]
