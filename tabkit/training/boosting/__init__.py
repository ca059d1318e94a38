# SPDX-License-Identifier: BSD-3-Clause
"""The engine of the boosted sequential neural network.

Gradient boosting of small networks: :func:`fit_boosting` grows one
:class:`~tabkit.nn.BoostedNetwork` a few hidden units per step, through the one
training loop (:func:`tabkit.training.run_loop`). Its pieces are the boosting
losses (initial constant, pseudo-residuals, guarded line search), the per-step
unit fit by variable projection (:func:`fit_stage_units`) and the full-batch
optimiser behind it (:func:`minimize`: dense BFGS, L-BFGS and Adam on torch
tensors or NumPy arrays).
"""

from __future__ import annotations

from tabkit.training.boosting._driver import fit_boosting
from tabkit.training.boosting._losses import (
    BinomialDeviance,
    BoostingLoss,
    Huber,
    MultinomialDeviance,
    SquaredError,
)
from tabkit.training.boosting._minimize import MinimizeResult, minimize
from tabkit.training.boosting._units import StageUnits, fit_stage_units

__all__ = [
    "BinomialDeviance",
    "BoostingLoss",
    "Huber",
    "MinimizeResult",
    "MultinomialDeviance",
    "SquaredError",
    "StageUnits",
    "fit_boosting",
    "fit_stage_units",
    "minimize",
]
