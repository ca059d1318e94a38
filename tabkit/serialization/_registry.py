# SPDX-License-Identifier: BSD-3-Clause
"""The classes a model file may name, and what each of them may hold.

A model file names classes by a stable name (``"tabkit.estimators.
BoostedNNClassifier"``), never by a module path to import: :func:`entry` looks
the name up in this table and nothing else. Each estimator entry declares the
fitted attributes that :func:`tabkit.load` may set on it, with their types;
anything else in a file is refused, and :func:`tabkit.save` refuses to write an
attribute that is not declared, so that a new fitted attribute fails the
round-trip tests rather than a user's load. A module entry's constructor
arguments are checked against its ``__init__`` type hints.

Adding a model family is one line per class at the bottom of this file, for
example::

    register_estimator("tabkit.estimators.ExcelFormerClassifier", TABULAR_STATE)
    register_module("tabkit.nn.ExcelFormer")

(the name is where the class is imported from, lazily; pass ``where=
"module:attribute"`` when it lives elsewhere).
"""

from __future__ import annotations

import collections.abc
import functools
import importlib
import inspect
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from torch import nn

from tabkit.exceptions import IncompatibleModelFileError, ModelFileError
from tabkit.training import History

#: A declared type: a class (``float`` also accepts ints), a tuple of them
#: (``None`` for ``NoneType``), or the stable name of a registered class.
TypeSpec = type | str | None | tuple[type | str | None, ...]

#: Largest integer accepted in a module's constructor arguments (sizes).
MAX_CONFIG_INT = 2**31 - 1
#: Longest string or sequence accepted in a module's constructor arguments.
MAX_CONFIG_ITEMS = 100_000


@dataclass(frozen=True)
class Entry:
    """One exportable class: its stable name, import location and declarations."""

    name: str
    where: str
    kind: Literal["estimator", "module"]
    state: Mapping[str, TypeSpec] = field(default_factory=dict)

    def resolve(self) -> type:
        """Import the class (from tabkit's own code, never from a file)."""
        return _resolve(self.where)


@functools.cache
def _resolve(where: str) -> type:
    module_name, _, attribute = where.partition(":")
    cls = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(cls, type):  # pragma: no cover - a registration bug
        raise TypeError(f"the registry entry {where!r} is not a class")
    return cls


_REGISTRY: dict[str, Entry] = {}


def _where(name: str, where: str | None) -> str:
    if where is not None:
        return where
    module_name, _, attribute = name.rpartition(".")
    return f"{module_name}:{attribute}"


def register_estimator(
    name: str, state: Mapping[str, TypeSpec], *, where: str | None = None
) -> None:
    """Make an estimator class exportable, with the fitted attributes it may hold.

    Parameters
    ----------
    name : str
        Stable name written to model files; by default also where the class
        is imported from (``"package.module.Class"``).
    state : mapping of str to type
        Every fitted attribute a model file may set, with its type.
    where : str, optional
        ``"module:attribute"`` to import the class from, when not ``name``.
    """
    if name in _REGISTRY:  # pragma: no cover - a registration bug
        raise ValueError(f"{name!r} is registered twice")
    _REGISTRY[name] = Entry(name, _where(name, where), "estimator", dict(state))


def register_module(name: str, *, where: str | None = None) -> None:
    """Make a :mod:`tabkit.nn` module exportable (it must have ``get_config``).

    Parameters
    ----------
    name : str
        Stable name written to model files (see :func:`register_estimator`).
    where : str, optional
        ``"module:attribute"`` to import the class from, when not ``name``.
    """
    if name in _REGISTRY:  # pragma: no cover - a registration bug
        raise ValueError(f"{name!r} is registered twice")
    _REGISTRY[name] = Entry(name, _where(name, where), "module")


def entries() -> list[Entry]:
    """Return every registered class."""
    return list(_REGISTRY.values())


def entry(name: str, kind: str, legacy: bool = False) -> Entry:
    """Return the registry entry a file names, or raise :class:`ModelFileError`.

    Parameters
    ----------
    name : str
        The name in the file.
    kind : {"estimator", "module"}
        What the file says it is.
    legacy : bool
        The name comes from a format-1 file (``"module:QualName"``).
    """
    stable = _V1_NAMES.get(name) if legacy else name
    found = _REGISTRY.get(stable) if isinstance(stable, str) else None
    if found is None:
        if not (name == "tabkit" or name.startswith(("tabkit.", "tabkit:"))):
            raise ModelFileError(
                f"the model file names a non-tabkit class {name!r:.80}"
            )
        raise IncompatibleModelFileError(
            f"the model file names class {name!r:.80}, which is not a class this "
            "tabkit can load (an estimator, the encoder, RelationalFeatures or a "
            "tabkit.nn module registered in tabkit.serialization)"
        )
    if found.kind != kind:
        article = "an" if kind == "estimator" else "a"
        raise ModelFileError(f"{name!r:.80} is a {found.kind}, not {article} {kind}")
    return found


def entry_for(obj: Any, kind: str) -> Entry | None:
    """Return the entry whose class is exactly ``type(obj)``, if any."""
    cls = type(obj)
    for candidate in _REGISTRY.values():
        same_name = candidate.where.rpartition(":")[2] == cls.__name__
        if same_name and candidate.kind == kind and candidate.resolve() is cls:
            return candidate
    return None


# ------------------------------------------------------------------ types
def conforms(value: Any, spec: TypeSpec) -> bool:  # noqa: PLR0911
    """Whether ``value`` has the declared type ``spec``.

    Parameters
    ----------
    value : object
    spec : type, str, None or tuple of them

    Returns
    -------
    bool
    """
    if isinstance(spec, tuple):
        return any(conforms(value, one) for one in spec)
    if spec is None:
        return value is None
    if isinstance(spec, str):
        registered = _REGISTRY.get(spec)
        return registered is not None and type(value) is registered.resolve()
    if isinstance(value, bool | np.bool_) and spec is not bool:
        return False
    if spec is int:
        return isinstance(value, int | np.integer)
    if spec is float:
        return isinstance(value, int | float | np.integer | np.floating)
    return isinstance(value, spec)


def describe(spec: TypeSpec) -> str:
    """Return a type spec in words."""
    if isinstance(spec, tuple):
        return " or ".join(describe(one) for one in spec)
    if spec is None:
        return "None"
    if isinstance(spec, str):
        return spec
    return spec.__name__


# ------------------------------------------------------------ module configs
@functools.cache
def config_schema(cls: type) -> dict[str, tuple[Any, bool]]:
    """Return a module's constructor arguments: ``{name: (hint, required)}``."""
    hints = typing.get_type_hints(cls.__init__)  # type: ignore[misc]
    schema = {}
    for parameter in inspect.signature(cls).parameters.values():
        if parameter.kind in {parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD}:
            raise TypeError(f"{cls.__name__}.__init__ takes *args or **kwargs")
        if parameter.name not in hints:
            raise TypeError(f"{cls.__name__}.__init__({parameter.name}) has no hint")
        hint = hints[parameter.name]
        _check_hint(hint, cls)
        schema[parameter.name] = (hint, parameter.default is parameter.empty)
    return schema


_SEQUENCES = (list, tuple, collections.abc.Sequence)
_MAPPINGS = (dict, collections.abc.Mapping)
_UNIONS = (typing.Union, types.UnionType)


def _check_hint(hint: Any, cls: type) -> None:
    """Refuse (at registration-test time) an annotation :func:`matches` lacks."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint in (Any, None, type(None), bool, int, float, str) or origin is Literal:
        return
    if origin in _UNIONS or origin in _SEQUENCES or origin in _MAPPINGS:
        for arg in args:
            if arg is not Ellipsis:
                _check_hint(arg, cls)
        return
    raise TypeError(
        f"{cls.__name__}.__init__ has the annotation {hint!r}, which model files "
        "cannot check: use bool, int, float, str, None, Literal, unions, "
        "sequences or mappings of them"
    )


def matches(value: Any, hint: Any) -> bool:  # noqa: PLR0911 - one branch per kind
    """Whether a decoded constructor argument fits its annotation and bounds.

    Parameters
    ----------
    value : object
    hint : annotation

    Returns
    -------
    bool
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return _plain(value)
    if hint is None or hint is type(None):
        return value is None
    if origin is Literal:
        return any(type(value) is type(a) and value == a for a in args)
    if origin in _UNIONS:
        return any(matches(value, arg) for arg in args)
    if isinstance(value, bool):
        return hint is bool
    if hint is int:
        return isinstance(value, int) and abs(value) <= MAX_CONFIG_INT
    if hint is float:
        return isinstance(value, int | float) and abs(value) <= 1e300
    if hint is str:
        return isinstance(value, str) and len(value) <= MAX_CONFIG_ITEMS
    if origin in _SEQUENCES:
        if not isinstance(value, list | tuple) or len(value) > MAX_CONFIG_ITEMS:
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(map(matches, value, args))
        item = args[0] if args else Any
        return all(matches(v, item) for v in value)
    if origin in _MAPPINGS:
        key, item = args or (Any, Any)
        return (
            isinstance(value, dict)
            and len(value) <= MAX_CONFIG_ITEMS
            and all(matches(k, key) and matches(v, item) for k, v in value.items())
        )
    return False


def _plain(value: Any) -> bool:
    """JSON-like data: no arrays, modules or estimators."""
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    return False


# ------------------------------------------------------------- declarations
#: Fitted attributes every estimator built on ``tabkit.base.TabularEstimator``
#: may hold (set by its validation, encoder, target encoding and module).
TABULAR_STATE: dict[str, TypeSpec] = {
    "n_features_in_": int,
    "feature_names_in_": np.ndarray,
    "classes_": np.ndarray,
    "module_": nn.Module,
    "_encoder": "tabkit.preprocessing.TabularEncoder",
    "_y_mean": float,
    "_y_scale": float,
}

BOOSTED_NN_STATE: dict[str, TypeSpec] = {
    **TABULAR_STATE,
    "module_": "tabkit.nn.BoostedNetwork",
    "history_": History,
    "n_steps_": int,
    "n_iter_": int,
    "train_score_": np.ndarray,
    "validation_score_": np.ndarray,
}

#: Fitted attributes of every ``tabkit.base.MiniBatchEstimator``.
MINIBATCH_STATE: dict[str, TypeSpec] = {
    **TABULAR_STATE,
    "history_": History,
    "n_iter_": int,
    "best_epoch_": (int, None),
}

EXCELFORMER_STATE: dict[str, TypeSpec] = {
    **MINIBATCH_STATE,
    "module_": "tabkit.nn.ExcelFormer",
    "feature_order_": np.ndarray,
    "mi_scores_": np.ndarray,
    "feature_names_": list,
}

HOPULAR_STATE: dict[str, TypeSpec] = {
    **MINIBATCH_STATE,
    "module_": "tabkit.nn.Hopular",
    "memory_num_": np.ndarray,
    "memory_flag_": np.ndarray,
    "memory_cat_": np.ndarray,
    "_value_columns": np.ndarray,
    "_flag_columns": np.ndarray,
    "_feature_cardinalities": list,
}

#: scikit-learn's ``set_output`` configuration of a transformer.
_OUTPUT_CONFIG: dict[str, TypeSpec] = {"_sklearn_output_config": dict}

TABULAR_ENCODER_STATE: dict[str, TypeSpec] = {
    "n_features_in_": int,
    "feature_names_in_": np.ndarray,
    "column_kinds_": dict,
    "dropped_columns_": list,
    "categories_": dict,
    "cardinalities_": list,
    "num_feature_names_": list,
    "cat_feature_names_": list,
    "classes_": np.ndarray,
    "target_type_": str,
    "_input_names": list,
    "_declared_positions": list,
    "_num_positions": list,
    "_dt_positions": list,
    "_dt_parts": list,
    "_ind_num": list,
    "_ind_dt": list,
    "_scaling": str,
    "_num_mean": np.ndarray,
    "_num_std": np.ndarray,
    "_num_fill": np.ndarray,
    "_quantiles": np.ndarray,
    "_cat_positions": list,
    "_cat_as_str": list,
    "_cat_missing": list,
    "_cat_target": list,
    "_onehot_view": bool,
    "_x_cat_positions": list,
    "_x_cat_missing": list,
    "_target_suffixes": list,
    "_target_stats": np.ndarray,
    "_target_offsets": list,
    **_OUTPUT_CONFIG,
}

RELATIONAL_FEATURES_STATE: dict[str, TypeSpec] = {
    "n_features_in_": int,
    "feature_names_in_": np.ndarray,
    "windows_": list,
    "aggregates_": dict,
    "columns_": list,
    "paths_": list,
    "seed_features_": list,
    "schema_": dict,
    "schema_fingerprint_": str,
    "feature_names_out_": np.ndarray,
    "dropped_features_": dict,
    **_OUTPUT_CONFIG,
}

GRAPH_BUILDER_STATE: dict[str, TypeSpec] = {
    "encoders_": dict,
    "edge_types_": list,
    "timed_": list,
    "fingerprint_": str,
    "schema_": dict,
    "columns_": dict,
}

RELATIONAL_GNN_STATE: dict[str, TypeSpec] = {
    "n_features_in_": int,
    "feature_names_in_": np.ndarray,
    "classes_": np.ndarray,
    "_y_mean": float,
    "_y_scale": float,
    "_y_clip": np.ndarray,
    "graph_": "tabkit.relational.graph.GraphBuilder",
    "module_": "tabkit.nn.RelationalGNN",
    "schema_": dict,
    "schema_fingerprint_": str,
    "history_": History,
    "n_iter_": int,
    "best_epoch_": (int, None),
}

# One line per exportable class (the stable name is also where it is imported).
register_estimator("tabkit.estimators.BoostedNNClassifier", BOOSTED_NN_STATE)
register_estimator("tabkit.estimators.BoostedNNRegressor", BOOSTED_NN_STATE)
register_estimator("tabkit.estimators.ExcelFormerClassifier", EXCELFORMER_STATE)
register_estimator("tabkit.estimators.ExcelFormerRegressor", EXCELFORMER_STATE)
register_estimator("tabkit.estimators.HopularClassifier", HOPULAR_STATE)
register_estimator("tabkit.estimators.HopularRegressor", HOPULAR_STATE)
register_estimator("tabkit.preprocessing.TabularEncoder", TABULAR_ENCODER_STATE)
register_estimator("tabkit.relational.RelationalFeatures", RELATIONAL_FEATURES_STATE)
register_estimator("tabkit.relational.graph.GraphBuilder", GRAPH_BUILDER_STATE)
register_estimator("tabkit.estimators.RelationalGNNClassifier", RELATIONAL_GNN_STATE)
register_estimator("tabkit.estimators.RelationalGNNRegressor", RELATIONAL_GNN_STATE)
register_module("tabkit.nn.BoostedNetwork")
register_module("tabkit.nn.ExcelFormer")
register_module("tabkit.nn.Hopular")
register_module("tabkit.nn.RelationalGNN")

#: Names written by format 1 (``module:QualName``), frozen: new classes only
#: ever appear under their stable names.
_V1_NAMES = {
    "tabkit.estimators._boosted:BoostedNNClassifier": (
        "tabkit.estimators.BoostedNNClassifier"
    ),
    "tabkit.estimators._boosted:BoostedNNRegressor": (
        "tabkit.estimators.BoostedNNRegressor"
    ),
    "tabkit.preprocessing._encoder:TabularEncoder": (
        "tabkit.preprocessing.TabularEncoder"
    ),
    "tabkit.relational.features:RelationalFeatures": (
        "tabkit.relational.RelationalFeatures"
    ),
    "tabkit.nn.boosted:BoostedNetwork": "tabkit.nn.BoostedNetwork",
}
