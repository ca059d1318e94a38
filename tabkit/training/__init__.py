# SPDX-License-Identifier: BSD-3-Clause
"""THE training loop of tabkit and the pieces it is built from.

Every neural estimator trains through :func:`run_loop`: :func:`fit_module` runs
it with one epoch of mini-batches per iteration, and the boosted NN runs it with
one boosting step per iteration, fitting each step's units with
:func:`minimize`. Early stopping, best-state restoration, time budgets,
callbacks, progress bars and histories are therefore shared by all models.
"""

from __future__ import annotations

from tabkit.training._boosting import fit_boosting
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
from tabkit.training._losses import (
    BinomialDeviance,
    BoostingLoss,
    Huber,
    MultinomialDeviance,
    SquaredError,
)
from tabkit.training._optim import (
    MinimizeResult,
    OptimizerFactory,
    SchedulerFactory,
    WeightEMA,
    adamw,
    make_parameter_groups,
    minimize,
    warmup_cosine,
)
from tabkit.training._units import StageUnits, fit_stage_units

__all__ = [
    "BaseCallback",
    "BatchSource",
    "BinomialDeviance",
    "BoostingLoss",
    "Callback",
    "EarlyStopping",
    "History",
    "Huber",
    "LoopState",
    "MinimizeResult",
    "MultinomialDeviance",
    "OptimizerFactory",
    "SchedulerFactory",
    "SquaredError",
    "StageUnits",
    "StopTraining",
    "TensorBatches",
    "WeightEMA",
    "adamw",
    "fit_boosting",
    "fit_module",
    "fit_stage_units",
    "make_parameter_groups",
    "minimize",
    "notify",
    "run_loop",
    "warmup_cosine",
]
