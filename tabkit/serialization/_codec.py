# SPDX-License-Identifier: BSD-3-Clause
"""Estimators to a JSON tree plus arrays, and back, with every entry checked.

The tree's tagged entries (``{"__array__": 3, "kind": "tensor"}``,
``{"__dict__": {...}}``, ``{"__estimator__": name, "params": ..., "state":
...}``, ...) are decoded only when they have exactly the expected keys and
types; classes come from the registry (:mod:`tabkit.serialization._registry`),
an estimator receives only its declared fitted attributes, and a module's
constructor arguments are checked, then tried on PyTorch's ``meta`` device (no
memory) and compared with the stored weights before the module is built.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from torch import nn

from tabkit.exceptions import IncompatibleModelFileError, ModelFileError
from tabkit.relational import Database
from tabkit.serialization import _registry as registry
from tabkit.serialization._archive import (
    ARRAY_KINDS,
    TENSOR_DTYPES,
    Limits,
    parse_json,
)
from tabkit.training import History

_DTYPE = re.compile(r"[<>|=]?(?:[biuf][1-8]|U[0-9]{1,6}|[mM]8(?:\[[a-zA-Z]{1,2}\])?)")
_HISTORY_KEYS = frozenset({"records", "best_iteration", "stop_reason"})


def _plain_scalars(value: Any) -> Any:
    """NumPy scalars to Python ones, through lists, tuples and dicts."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return type(value)(_plain_scalars(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain_scalars(v) for k, v in value.items()}
    return value


def _check_config(cls: type, config: Any, where: str) -> list[str]:
    """Problems of a module's constructor arguments against its schema."""
    if not isinstance(config, dict):
        return [f"{where}: the constructor arguments are not a dict"]
    schema = registry.config_schema(cls)
    problems = [
        f"{where}: unknown argument {k!r:.60}" for k in config if k not in schema
    ]
    for name, (hint, required) in schema.items():
        if name not in config:
            if required:
                problems.append(f"{where}: missing argument {name!r}")
        elif not registry.matches(config[name], hint):
            problems.append(
                f"{where}: argument {name}={config[name]!r:.60} does not fit {hint!r}"
            )
    return problems


def _state_problems(entry: registry.Entry, cls: type, state: dict[str, Any]) -> str:
    """Names among ``state`` that an estimator of ``entry`` may not receive."""
    undeclared = sorted(set(state) - set(entry.state))
    if undeclared:
        return f"the undeclared fitted attribute(s) {undeclared[:5]!r:.200}"
    shadowing = sorted(name for name in state if hasattr(cls, name))
    if shadowing:
        return f"attribute(s) {shadowing[:5]!r:.200} shadowing the class's own"
    return ""


# ------------------------------------------------------------------ writer
class Writer:
    """Turn an estimator into a JSON tree, collecting arrays on the side."""

    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []

    def array(self, value: np.ndarray, where: str, kind: str = "ndarray") -> Any:
        if value.dtype == object:
            if not all(isinstance(v, str) for v in value.ravel()):
                kinds = sorted({type(v).__name__ for v in value.ravel()})
                raise TypeError(
                    f"{where}: cannot export an object array holding non-string "
                    f"values {kinds}"
                )
            value, kind = value.astype(str), "object_str"
        dtype = value.dtype
        if dtype.kind not in ARRAY_KINDS or dtype.fields is not None:
            raise TypeError(f"{where}: cannot export an array of dtype {dtype}")
        if kind == "tensor" and dtype.str[1:] not in TENSOR_DTYPES:
            raise TypeError(f"{where}: cannot export a tensor of dtype {dtype}")
        # (np.ascontiguousarray would make a 0-d array 1-d, as format 1 did)
        self.arrays.append(value if value.flags.c_contiguous else value.copy())
        return {"__array__": len(self.arrays) - 1, "kind": kind}

    def encode(self, value: Any, where: str) -> Any:  # noqa: PLR0911 - one branch per type
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int | float | np.integer | np.floating | np.bool_):
            item = value.item() if isinstance(value, np.generic) else value
            if isinstance(item, float) and not np.isfinite(item):
                return {"__float__": repr(item)}
            return item
        if isinstance(value, History):
            return {"__history__": value.to_json()}
        if isinstance(value, np.ndarray):
            return self.array(value, where)
        if isinstance(value, torch.Tensor):
            return self.array(value.detach().cpu().numpy(), where, "tensor")
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v, where) for v in value]}
        if isinstance(value, dict):
            if all(isinstance(k, str) for k in value):
                return {
                    "__dict__": {
                        k: self.encode(v, f"{where}.{k}") for k, v in value.items()
                    }
                }
            return {
                "__items__": [
                    [self.encode(k, where), self.encode(v, where)]
                    for k, v in value.items()
                ]
            }
        if isinstance(value, np.dtype):
            return {"__dtype__": value.str}
        if isinstance(value, np.random.RandomState):
            name, keys, pos, has_gauss, cached = value.get_state(legacy=True)
            keys_ref = self.array(np.asarray(keys), where)
            return {"__random_state__": [name, keys_ref, pos, has_gauss, cached]}
        if isinstance(value, nn.Module):
            return self.module(value, where)
        if isinstance(value, BaseEstimator):
            return self.estimator(value, where)
        raise TypeError(
            f"cannot export {where} of type {type(value).__module__}."
            f"{type(value).__qualname__} to a tabkit model file"
        )

    def module(self, module: nn.Module, where: str) -> dict[str, Any]:
        entry = registry.entry_for(module, "module")
        if entry is None:
            raise TypeError(
                f"{where}: only tabkit.nn modules registered in "
                "tabkit.serialization._registry can be exported, not "
                f"{type(module).__qualname__}"
            )
        config = _plain_scalars(module.get_config())  # type: ignore[operator]
        problems = _check_config(type(module), config, f"{where}.get_config()")
        if problems:
            raise TypeError("; ".join(problems))
        return {
            "__module__": entry.name,
            "config": self.encode(config, f"{where}.config"),
            "state": {
                k: self.array(v.detach().cpu().numpy(), f"{where}.{k}", "tensor")
                for k, v in module.state_dict().items()
            },
        }

    def estimator(self, est: BaseEstimator, where: str) -> dict[str, Any]:
        entry = registry.entry_for(est, "estimator")
        if entry is None:
            raise TypeError(
                f"{where}: only tabkit estimators can be exported (registered in "
                f"tabkit.serialization._registry), not {type(est).__qualname__}"
            )
        params = est.get_params(deep=False)
        fitted = {k: v for k, v in vars(est).items() if k not in params}
        problem = _state_problems(entry, type(est), fitted)
        if problem:
            raise TypeError(
                f"{where}: {type(est).__name__} has {problem}; declare every "
                f"fitted attribute in the {entry.name!r} entry of "
                "tabkit/serialization/_registry.py"
            )
        for name, value in fitted.items():
            if not registry.conforms(value, entry.state[name]):
                raise TypeError(
                    f"{where}.{name} is a {type(value).__name__}, but the "
                    f"{entry.name!r} entry of tabkit/serialization/_registry.py "
                    f"declares {registry.describe(entry.state[name])}"
                )
        # Model files never hold data: a database parameter is written as None
        # (relational estimators keep its schema fingerprint in their state and
        # ask for set_params(database=...) after loading).
        params = {k: None if isinstance(v, Database) else v for k, v in params.items()}
        return {
            "__estimator__": entry.name,
            "params": self.encode(params, f"{where}.params"),
            "state": self.encode(fitted, where),
        }


# ------------------------------------------------------------------ reader
_TAGS = {
    "__array__": frozenset({"__array__", "kind"}),
    "__float__": frozenset({"__float__"}),
    "__tuple__": frozenset({"__tuple__"}),
    "__dict__": frozenset({"__dict__"}),
    "__items__": frozenset({"__items__"}),
    "__history__": frozenset({"__history__"}),
    "__dtype__": frozenset({"__dtype__"}),
    "__random_state__": frozenset({"__random_state__"}),
    "__module__": frozenset({"__module__", "config", "state"}),
    "__estimator__": frozenset({"__estimator__", "params", "state"}),
}


def _fail(where: str, message: str) -> ModelFileError:
    where = where if len(where) <= 200 else f"{where[:100]}...{where[-100:]}"
    return ModelFileError(f"{where}: {message}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Reader:
    """Rebuild objects from a checked JSON tree and the file's arrays."""

    def __init__(self, arrays: list[np.ndarray], version: int, limits: Limits) -> None:
        self.arrays = arrays
        self.used = [False] * len(arrays)
        self.legacy = version == 1
        self.limits = limits
        self.objects = 0

    def _count_object(self) -> None:
        self.objects += 1
        if self.objects > self.limits.objects:
            raise ModelFileError(
                "the file holds more estimators and modules than tabkit."
                f"serialization.MAX_OBJECTS ({self.limits.objects})"
            )

    def root(self, node: Any, class_name: str) -> BaseEstimator:
        """Decode the file's estimator, named ``class_name`` by the manifest."""
        if not isinstance(node, dict) or node.get("__estimator__") != class_name:
            raise ModelFileError(
                f"state.json: the top entry is not the estimator {class_name!r:.80} "
                "that the manifest names"
            )
        est = self.decode(node, "state.json")
        unused = [f"arrays/{i}.npy" for i, used in enumerate(self.used) if not used]
        if unused:
            raise ModelFileError(f"the arrays {unused[:3]} are never used")
        return est

    def decode(self, node: Any, where: str) -> Any:
        if node is None or isinstance(node, bool | int | float | str):
            return node
        if isinstance(node, list):
            if all(v is None or isinstance(v, bool | int | float | str) for v in node):
                return node  # the common long lists: vocabularies, names
            return [self.decode(v, f"{where}[{i}]") for i, v in enumerate(node)]
        if not isinstance(node, dict):  # pragma: no cover - json gives no others
            raise _fail(where, f"unexpected {type(node).__name__}")
        tags = [key for key in node if key in _TAGS]
        if len(tags) != 1 or set(node) != _TAGS[tags[0]]:
            raise _fail(where, f"unknown entry with keys {sorted(node)[:4]!r:.200}")
        return getattr(self, f"_tag_{tags[0].strip('_')}")(node, where)

    def _dict(self, node: Any, where: str) -> dict[str, Any]:
        """Return the items of a ``{"__dict__": {...}}`` entry, not yet decoded."""
        if not (isinstance(node, dict) and set(node) == {"__dict__"}):
            raise _fail(where, "expected a {'__dict__': ...} entry")
        items = node["__dict__"]
        if not isinstance(items, dict):
            raise _fail(where, "__dict__ does not hold an object")
        return items

    # -- tagged entries, by tag
    def _tag_array(
        self, node: dict[str, Any], where: str, kinds: tuple[str, ...] = ()
    ) -> Any:
        index, kind = node["__array__"], node["kind"]
        if not _is_int(index) or not 0 <= index < len(self.arrays):
            raise _fail(where, f"refers to a missing array {index!r:.60}")
        if kind not in (kinds or ("ndarray", "tensor", "object_str")):
            raise _fail(where, f"has an array of kind {kind!r:.60}")
        if self.used[index]:
            raise _fail(where, f"uses arrays/{index}.npy a second time")
        self.used[index] = True
        value = self.arrays[index]
        if kind == "tensor":
            if value.dtype.str[1:] not in TENSOR_DTYPES:
                raise _fail(where, f"has a tensor of dtype {value.dtype}")
            return torch.from_numpy(value)
        if kind == "object_str":
            if value.dtype.kind != "U":
                raise _fail(where, f"has a string array of dtype {value.dtype}")
            return value.astype(object)
        return value

    def _tag_float(self, node: dict[str, Any], where: str) -> float:
        if node["__float__"] not in ("nan", "inf", "-inf"):
            raise _fail(where, f"has the float {node['__float__']!r:.40}")
        return float(node["__float__"])

    def _tag_tuple(self, node: dict[str, Any], where: str) -> tuple[Any, ...]:
        if not isinstance(node["__tuple__"], list):
            raise _fail(where, "__tuple__ does not hold a list")
        return tuple(self.decode(v, where) for v in node["__tuple__"])

    def _tag_dict(self, node: dict[str, Any], where: str) -> dict[str, Any]:
        return {
            k: self.decode(v, f"{where}.{k}")
            for k, v in self._dict(node, where).items()
        }

    def _tag_items(self, node: dict[str, Any], where: str) -> dict[Any, Any]:
        pairs = node["__items__"]
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 for p in pairs
        ):
            raise _fail(where, "__items__ does not hold [key, value] pairs")
        result = {}
        for key_node, value_node in pairs:
            key = self.decode(key_node, where)
            try:
                if key in result:
                    raise _fail(where, f"has the key {key!r:.40} twice")
            except TypeError:
                raise _fail(where, f"has an unhashable key {key!r:.40}") from None
            result[key] = self.decode(value_node, f"{where}[{key!r:.40}]")
        return result

    def _tag_history(self, node: dict[str, Any], where: str) -> History:
        text = node["__history__"]
        if not isinstance(text, str):
            raise _fail(where, "__history__ does not hold a JSON string")
        data = parse_json(text, f"{where} (history)", self.limits, constants=True)
        if not isinstance(data, dict) or not set(data) <= _HISTORY_KEYS:
            raise _fail(where, "the history is not a records object")
        records, best = data.get("records", []), data.get("best_iteration")
        if not isinstance(records, list) or not all(
            isinstance(r, dict) for r in records
        ):
            raise _fail(where, "the history's records are not a list of objects")
        if best is not None and not _is_int(best):
            raise _fail(where, f"the history's best_iteration is {best!r:.40}")
        if not isinstance(data.get("stop_reason", ""), str):
            raise _fail(where, "the history's stop_reason is not a string")
        return History.from_json(text)

    def _tag_dtype(self, node: dict[str, Any], where: str) -> np.dtype[Any]:
        text = node["__dtype__"]
        if not isinstance(text, str) or not _DTYPE.fullmatch(text):
            raise _fail(where, f"has the dtype {text!r:.40}")
        return np.dtype(text)

    def _tag_random_state(
        self, node: dict[str, Any], where: str
    ) -> np.random.RandomState:
        value = node["__random_state__"]
        if not (isinstance(value, list) and len(value) == 5):
            raise _fail(where, "__random_state__ is not a 5-item list")
        name, keys_node, pos, has_gauss, cached = value
        if not (isinstance(keys_node, dict) and set(keys_node) == _TAGS["__array__"]):
            raise _fail(where, "the random state's key is not an array")
        keys = self._tag_array(keys_node, where, ("ndarray",))
        if (
            name != "MT19937"
            or keys.dtype != np.uint32
            or keys.shape != (624,)
            or not (_is_int(pos) and 0 <= pos <= 624)
            or has_gauss not in (0, 1)
            or not isinstance(cached, int | float)
        ):
            raise _fail(where, "the random state is not a valid MT19937 state")
        state = np.random.RandomState()
        state.set_state((name, keys, pos, has_gauss, cached))
        return state

    def _tag_module(self, node: dict[str, Any], where: str) -> nn.Module:
        name = node["__module__"]
        if not isinstance(name, str):
            raise _fail(where, "__module__ is not a class name")
        self._count_object()
        cls = registry.entry(name, "module", self.legacy).resolve()
        where = f"{where} ({cls.__name__})"
        config = self._tag_dict(node["config"], f"{where}.config")
        problems = _check_config(cls, config, where)
        if problems:
            raise ModelFileError("; ".join(problems[:3]))
        stored = node["state"]
        if not isinstance(stored, dict) or not all(
            isinstance(v, dict) and set(v) == _TAGS["__array__"]
            for v in stored.values()
        ):
            raise _fail(where, "the weights are not a dict of arrays")
        try:  # on the meta device: shapes without memory
            with torch.device("meta"):
                expected = cls(**config).state_dict()
        except Exception as error:
            raise _fail(
                where, f"{cls.__name__}(**{config!r:.200}) fails: {error}"
            ) from None
        if set(stored) != set(expected):
            raise _fail(
                where,
                f"the weights {sorted(stored)[:5]!r:.200} are not those of "
                f"{cls.__name__}: {sorted(expected)[:5]}",
            )
        state = {
            k: self._tag_array(v, f"{where}.{k}", ("tensor",))
            for k, v in stored.items()
        }
        for key, want in expected.items():
            if self.legacy and want.dim() == 0 and state[key].shape == (1,):
                state[key] = state[key].reshape(())  # format 1 wrote 0-d as 1-d
            tensor = state[key]
            if tensor.shape != want.shape or (
                tensor.dtype != want.dtype
                and not (tensor.is_floating_point() and want.is_floating_point())
            ):
                raise _fail(
                    where,
                    f"weight {key!r:.60} is {tuple(tensor.shape)} {tensor.dtype}, but "
                    f"the arguments make it {tuple(want.shape)} {want.dtype}",
                )
        try:
            module = cls(**config)
            module.load_state_dict(state, strict=True, assign=True)
        except Exception as error:
            raise _fail(where, f"the weights do not load: {error}") from None
        return module

    def _tag_estimator(self, node: dict[str, Any], where: str) -> BaseEstimator:
        name = node["__estimator__"]
        if not isinstance(name, str):
            raise _fail(where, "__estimator__ is not a class name")
        self._count_object()
        entry = registry.entry(name, "estimator", self.legacy)
        cls = entry.resolve()
        raw_params = self._dict(node["params"], f"{where}.params")
        allowed = set(inspect.signature(cls).parameters)
        unknown = sorted(set(raw_params) - allowed)
        if unknown:
            raise IncompatibleModelFileError(
                f"{where}: {cls.__name__} has no parameter(s) {unknown[:5]!r:.200}"
            )
        raw_state = self._dict(node["state"], where)
        problem = _state_problems(entry, cls, raw_state)
        if problem:
            raise _fail(where, f"the file gives {cls.__name__} {problem}")
        params = {k: self.decode(v, f"{where}.{k}") for k, v in raw_params.items()}
        est = cls(**params)
        try:
            est._validate_params()
        except (ValueError, TypeError) as error:
            raise _fail(where, f"invalid parameter: {error}") from None
        state = {k: self.decode(v, f"{where}.{k}") for k, v in raw_state.items()}
        for key, value in state.items():
            if not registry.conforms(value, entry.state[key]):
                raise _fail(
                    f"{where}.{key}",
                    f"is a {type(value).__name__}, not "
                    f"{registry.describe(entry.state[key])}",
                )
        vars(est).update(state)
        return est
