# SPDX-License-Identifier: BSD-3-Clause
"""Search spaces: one per tabkit estimator and per gradient-boosted-tree baseline.

:func:`search_space` looks a space up (through a Pipeline's last step),
:func:`suggest_params` draws one configuration from it, and ``_check_space``
refuses a space the estimator cannot take before the first trial.
"""

from __future__ import annotations

import difflib
import inspect
import warnings
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from tabkit._warnings import user_stacklevel

__all__ = ["SearchSpace", "search_space", "suggest_params"]

SearchSpace = dict[str, BaseDistribution]


def _f(low: float, high: float, log: bool = False) -> FloatDistribution:
    return FloatDistribution(low, high, log=log)


def _i(low: int, high: int, log: bool = False) -> IntDistribution:
    return IntDistribution(low, high, log=log)


def _c(*choices: Any) -> CategoricalDistribution:
    return CategoricalDistribution(choices)


# ExcelFormer's official spaces (tune_only_mix.py, tune_fully_after_mix_tune.py).
_EXCELFORMER_MIX: SearchSpace = {
    "beta": _f(0.1, 3.0),
    "mix_type": _c("feat_mix", "hidden_mix", "none"),
}
_EXCELFORMER_FULL: SearchSpace = {
    "residual_dropout": _f(0.0, 0.5),
    "n_blocks": _i(2, 5),
    "n_heads": _c(4, 8, 16, 32),
    "d_token": _c(64, 128, 256),
    "learning_rate": _f(3e-5, 1e-3, log=True),
    "weight_decay": _f(1e-6, 1e-3, log=True),
    **_EXCELFORMER_MIX,
}
# tabkit's own (the Hopular paper's grids are not in its code).
_HOPULAR: SearchSpace = {
    "feature_size": _c(16, 32),
    "n_blocks": _i(1, 3),
    "n_heads": _c(4, 8),
    "learning_rate": _f(2e-4, 3e-3, log=True),
    "weight_decay": _f(1e-3, 0.3, log=True),
    "lookup_dropout": _f(0.0, 0.3),
    "replace_probability": _f(0.05, 0.3),
    "batch_size": _c(32, 64, 128, 256),
}
# The per-step optimiser budget matters most on regression: the default 16
# iterations starve each step's fit (docs/benchmarks.md, tuned profile).
_BOOSTED_NN: SearchSpace = {
    "n_estimators": _i(10, 200, log=True),
    "units_per_step": _i(2, 32, log=True),
    "learning_rate": _f(0.01, 0.5, log=True),
    "alpha": _f(1e-6, 1e-1, log=True),
    "activation": _c("relu", "tanh"),
    "max_iter_per_step": _i(8, 200, log=True),
    "subsample": _f(0.25, 1.0),
}
_RELATIONAL_GNN: SearchSpace = {
    "channels": _c(32, 64, 128),
    "n_layers": _i(1, 3),
    "num_neighbors": _c(8, 16, 32),
    "aggr": _c("sum", "mean"),
    "dropout": _f(0.0, 0.3),
    "learning_rate": _f(1e-3, 1e-2, log=True),
}
# Gradient-boosted trees: the usual ranges of TabArena-style random search.
_LIGHTGBM: SearchSpace = {
    "n_estimators": _i(50, 1000, log=True),
    "learning_rate": _f(0.005, 0.2, log=True),
    "num_leaves": _i(4, 256, log=True),
    "min_child_samples": _i(2, 100, log=True),
    "subsample": _f(0.5, 1.0),
    "subsample_freq": _c(1),
    "colsample_bytree": _f(0.4, 1.0),
    "reg_lambda": _f(1e-4, 10.0, log=True),
}
_XGBOOST: SearchSpace = {
    "n_estimators": _i(50, 1000, log=True),
    "learning_rate": _f(0.005, 0.2, log=True),
    "max_depth": _i(2, 10),
    "min_child_weight": _f(0.1, 20.0, log=True),
    "subsample": _f(0.5, 1.0),
    "colsample_bytree": _f(0.4, 1.0),
    "reg_lambda": _f(1e-4, 10.0, log=True),
    "reg_alpha": _f(1e-4, 10.0, log=True),
}
_CATBOOST: SearchSpace = {
    "iterations": _i(100, 1000, log=True),
    "learning_rate": _f(0.01, 0.2, log=True),
    "depth": _i(4, 8),
    "l2_leaf_reg": _f(1.0, 10.0, log=True),
    "random_strength": _f(0.1, 10.0, log=True),
    "bagging_temperature": _f(0.0, 1.0),
}
_HIST_GBDT: SearchSpace = {
    "max_iter": _i(50, 1000, log=True),
    "learning_rate": _f(0.01, 0.3, log=True),
    "max_leaf_nodes": _i(4, 128, log=True),
    "min_samples_leaf": _i(2, 100, log=True),
    "l2_regularization": _f(1e-4, 10.0, log=True),
    "max_features": _f(0.4, 1.0),
}

_SPACES: dict[str, dict[str, SearchSpace]] = {
    "ExcelFormer": {
        "default": _EXCELFORMER_FULL,
        "fully-tuned": _EXCELFORMER_FULL,
        "mix-tuned": _EXCELFORMER_MIX,
    },
    "Hopular": {"default": _HOPULAR},
    "BoostedNN": {"default": _BOOSTED_NN},
    "RelationalGNN": {"default": _RELATIONAL_GNN},
    "LGBM": {"default": _LIGHTGBM},
    "XGB": {"default": _XGBOOST},
    "CatBoost": {"default": _CATBOOST},
    "HistGradientBoosting": {"default": _HIST_GBDT},
}


def _final_step(estimator: Any) -> tuple[Any, str]:
    """Return the estimator ending a Pipeline (or itself) and its param prefix."""
    prefix = ""
    while isinstance(estimator, Pipeline):
        name, estimator = estimator.steps[-1]
        prefix += f"{name}__"
    return estimator, prefix


def search_space(estimator: Any, name: str = "default") -> SearchSpace:
    """Return the search space of an estimator: optuna distributions by parameter.

    Parameters
    ----------
    estimator : estimator instance or class
        A tabkit estimator, a LightGBM / XGBoost / CatBoost / scikit-learn
        HistGradientBoosting model, or a Pipeline ending in one (the names
        then carry the step prefix, ``"step__param"``).
    name : str, default="default"
        Which space: ``"default"`` everywhere; ExcelFormer also has its
        paper's ``"mix-tuned"`` (``beta``, ``mix_type``) and ``"fully-tuned"``
        (the default) spaces.

    Returns
    -------
    dict of str to optuna distribution
        A new dict: change it freely.

    Examples
    --------
    >>> from tabkit import ExcelFormerClassifier
    >>> from tabkit.tuning import search_space
    >>> sorted(search_space(ExcelFormerClassifier(), "mix-tuned"))
    ['beta', 'mix_type']
    >>> search_space(ExcelFormerClassifier())["n_heads"].choices
    (4, 8, 16, 32)
    """
    final, prefix = _final_step(estimator)
    cls = final if inspect.isclass(final) else type(final)
    family = next(
        (key for key in _SPACES if cls.__name__.startswith(key)),
        None,
    )
    if family is None:
        known = ", ".join(sorted(_SPACES))
        raise ValueError(
            f"no search space for {cls.__name__}: pass param_space explicitly "
            f"(spaces exist for estimators named {known}*)"
        )
    spaces = _SPACES[family]
    if name not in spaces:
        raise ValueError(
            f"{cls.__name__} has no search space {name!r}; choose from {sorted(spaces)}"
        )
    return {prefix + key: dist for key, dist in spaces[name].items()}


def suggest_params(trial: optuna.Trial, space: Mapping[str, Any]) -> dict[str, Any]:
    """Draw one configuration from ``space`` through an optuna trial.

    Parameters
    ----------
    trial : optuna.Trial
        The trial that records the draws.
    space : mapping of str to optuna distribution or value
        Float, int and categorical distributions are suggested under their
        names; any other value is returned as it is (a fixed parameter).

    Returns
    -------
    dict
        Parameter names mapped to values.

    Examples
    --------
    >>> import optuna
    >>> from optuna.distributions import IntDistribution
    >>> from tabkit.tuning import suggest_params
    >>> study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    >>> params = suggest_params(study.ask(), {"depth": IntDistribution(3, 3), "k": 7})
    >>> params
    {'depth': 3, 'k': 7}
    """
    params: dict[str, Any] = {}
    for key, dist in space.items():
        if isinstance(dist, FloatDistribution):
            params[key] = trial.suggest_float(
                key, dist.low, dist.high, log=dist.log, step=dist.step
            )
        elif isinstance(dist, IntDistribution):
            params[key] = trial.suggest_int(
                key, dist.low, dist.high, log=dist.log, step=dist.step
            )
        elif isinstance(dist, CategoricalDistribution):
            params[key] = trial.suggest_categorical(key, dist.choices)
        else:
            _check_fixed_value(key, dist)
            params[key] = dist  # a fixed value
    return params


def _check_fixed_value(key: str, value: Any) -> None:
    """Refuse space values that would silently be taken as fixed by mistake."""
    if isinstance(value, BaseDistribution):
        raise TypeError(f"parameter {key!r}: unsupported distribution {value!r}")
    if isinstance(value, list):
        raise TypeError(
            f"parameter {key!r}: a list in the search space is ambiguous (scikit-"
            "learn's grid and randomized searches read it as choices); give "
            f"CategoricalDistribution({value!r}) to search over the choices, or a "
            "tuple to pass the sequence as one fixed value"
        )


def _misspelt(estimator: Any, key: str) -> list[str]:
    """Return the parameters ``key`` may be a misspelling of (none if it is one).

    Compares the last part of ``key`` with the parameters of the object it
    names (the estimator, or a step of a Pipeline), their constructor's
    arguments included (CatBoost lists only the parameters set).
    """
    prefix, _, name = key.rpartition("__")
    params = estimator.get_params(deep=True)
    owner = params.get(prefix, estimator) if prefix else estimator
    if not hasattr(owner, "get_params"):
        return []
    names = set(owner.get_params(deep=False))
    names |= set(inspect.signature(type(owner).__init__).parameters) - {"self"}
    if name in names:
        return []
    close = difflib.get_close_matches(name, sorted(names), n=3, cutoff=0.8)
    return [f"{prefix}__{c}" if prefix else c for c in close]


def _check_space(estimator: Any, space: Mapping[str, Any]) -> None:
    """Check a search space against ``estimator`` before any trial runs.

    Every value must be an optuna distribution this module draws from or a
    fixed value, and the estimator's own ``set_params`` must take every name
    (so ``step__param`` for a Pipeline, parameters of a step the space
    replaces, and the extra keyword parameters LightGBM and CatBoost take
    all pass), set shallow names first, on a clone. An extra keyword that
    is close to one of the estimator's parameters (a misspelling LightGBM
    would take silently) gets a warning.
    """
    sample: dict[str, Any] = {}
    for key, value in space.items():
        if not isinstance(key, str):
            raise TypeError(f"search space names must be strings, got {key!r}")
        if isinstance(value, FloatDistribution | IntDistribution):
            sample[key] = value.low
        elif isinstance(value, CategoricalDistribution):
            sample[key] = value.choices[0]
        else:
            _check_fixed_value(key, value)
            sample[key] = value
    probe = clone(estimator)
    for key in sorted(sample, key=lambda k: k.count("__")):
        # on the probe before this name is set (LightGBM then lists it), after
        # the shallower ones (a step the space replaces is the one compared)
        close = _misspelt(probe, key)
        try:
            probe.set_params(**{key: sample[key]})
        except ValueError as exc:
            valid = sorted(probe.get_params(deep=True))
            close = difflib.get_close_matches(key, valid, n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ValueError(
                f"search space parameter {key!r} is refused by "
                f"{type(estimator).__name__}.set_params{hint} ({exc})"
            ) from exc
        if close:
            # LightGBM and CatBoost take any name, as a parameter of their own
            warnings.warn(
                f"search space parameter {key!r} is not a parameter of "
                f"{type(estimator).__name__} (did you mean "
                f"{', '.join(map(repr, close))}?); it is passed on as an extra "
                "keyword, which the model may ignore",
                UserWarning,
                stacklevel=user_stacklevel(),
            )
