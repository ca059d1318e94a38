# SPDX-License-Identifier: BSD-3-Clause
"""Hyperparameter search with optuna: search spaces and :class:`OptunaSearch`.

:func:`search_space` returns the space of every tabkit estimator and of the
gradient-boosted trees they are compared with (LightGBM, XGBoost, CatBoost,
scikit-learn's HistGradientBoosting), so baselines get the same budget.
:class:`OptunaSearch` is a scikit-learn meta-estimator that searches such a
space with optuna's TPE sampler, prunes unpromising tabkit fits through the
training loop's per-epoch (or boosting-step) callbacks, runs trials in several
local worker processes or on several machines sharing one optuna storage, and
refits the best configuration.

The spaces live in ``_spaces``, the search in ``_search``.
"""

from tabkit.tuning._search import OptunaPruningCallback, OptunaSearch
from tabkit.tuning._spaces import SearchSpace, search_space, suggest_params

__all__ = [
    "OptunaPruningCallback",
    "OptunaSearch",
    "SearchSpace",
    "search_space",
    "suggest_params",
]
