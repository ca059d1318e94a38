# SPDX-License-Identifier: BSD-3-Clause
"""Model files: fitted estimators as arrays + JSON, loaded without running code.

A model file is a zip archive with

* ``manifest.json``: format name and version, the tabkit version that wrote
  it, the estimator class, library versions, and a SHA-256 checksum of every
  other member;
* ``state.json``: the estimator's parameters and fitted state as a JSON tree;
* ``arrays/<n>.npy``: every array (tensors, weights, vocabularies) in NumPy's
  format, read with ``allow_pickle=False``.

Loading rebuilds only tabkit's own classes (estimators, the encoder, torch
modules of :mod:`tabkit.nn`, histories), by name, from the installed tabkit:
nothing in the file is executed, unlike a pickle. A truncated or altered file
fails its checksums; a file written in a newer format gives a clear error.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import torch
from sklearn.base import BaseEstimator
from torch import nn

from tabkit._version import __version__
from tabkit.exceptions import IncompatibleModelFileError, ModelFileError
from tabkit.relational import Database
from tabkit.training import History

__all__ = ["FORMAT_VERSION", "load", "save"]

#: Version of the model-file layout; a reader accepts files up to its own.
FORMAT_VERSION = 1
_FORMAT_NAME = "tabkit-model"
_MANIFEST = "manifest.json"
_STATE = "state.json"


# ---------------------------------------------------------------- encoding
class _Writer:
    """Turn Python objects into a JSON tree, collecting arrays on the side."""

    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []

    def array(self, value: np.ndarray, kind: str = "ndarray") -> dict[str, Any]:
        if value.dtype == object:
            if not all(isinstance(v, str) for v in value.ravel()):
                kinds = sorted({type(v).__name__ for v in value.ravel()})
                raise TypeError(
                    f"cannot export an object array holding non-string values {kinds}"
                )
            value, kind = value.astype(str), "object_str"
        self.arrays.append(np.ascontiguousarray(value))
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
            return self.array(value)
        if isinstance(value, torch.Tensor):
            return self.array(value.detach().cpu().numpy(), "tensor")
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
            keys_ref = self.array(np.asarray(keys))
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
        get_config = getattr(module, "get_config", None)
        if get_config is None or not type(module).__module__.startswith("tabkit."):
            raise TypeError(f"{where}: only tabkit.nn modules can be exported")
        return {
            "__module__": _qualified(module),
            "config": self.encode(get_config(), f"{where}.config"),
            "state": {
                k: self.array(v.detach().cpu().numpy(), "tensor")
                for k, v in module.state_dict().items()
            },
        }

    def estimator(self, est: BaseEstimator, where: str) -> dict[str, Any]:
        if not type(est).__module__.startswith("tabkit."):
            raise TypeError(f"{where}: only tabkit estimators can be exported")
        params = est.get_params(deep=False)
        fitted = {k: v for k, v in vars(est).items() if k not in params}
        # Model files never hold data: a database parameter is written as None
        # (relational estimators keep its schema fingerprint in their state and
        # ask for set_params(database=...) after loading).
        params = {k: None if isinstance(v, Database) else v for k, v in params.items()}
        return {
            "__estimator__": _qualified(est),
            "params": self.encode(params, f"{where}.params"),
            "state": self.encode(fitted, where),
        }


def _qualified(obj: Any) -> str:
    return f"{type(obj).__module__}:{type(obj).__qualname__}"


# ---------------------------------------------------------------- decoding
def _tabkit_class(name: str, base: type) -> type:
    """Resolve ``module:QualName`` to a tabkit class (nothing else is allowed)."""
    module_name, _, qualname = name.partition(":")
    if not (module_name == "tabkit" or module_name.startswith("tabkit.")):
        raise ModelFileError(f"the model file names a non-tabkit class {name!r}")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        raise IncompatibleModelFileError(
            f"the model file needs class {name!r}, which this tabkit "
            f"({__version__}) does not have"
        ) from None
    if not (isinstance(obj, type) and issubclass(obj, base)):
        raise ModelFileError(f"{name!r} is not a {base.__name__}")
    return obj


class _Reader:
    def __init__(self, arrays: list[np.ndarray]) -> None:
        self.arrays = arrays

    def array(self, ref: dict[str, Any]) -> Any:
        value = self.arrays[ref["__array__"]]
        if ref.get("kind") == "tensor":
            return torch.from_numpy(np.array(value))
        if ref.get("kind") == "object_str":
            return value.astype(object)
        return np.array(value)

    def decode(self, node: Any) -> Any:  # noqa: PLR0911 - one branch per tag
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict):
            return node
        if "__array__" in node:
            return self.array(node)
        if "__float__" in node:
            return float(node["__float__"])
        if "__tuple__" in node:
            return tuple(self.decode(v) for v in node["__tuple__"])
        if "__dict__" in node:
            return {k: self.decode(v) for k, v in node["__dict__"].items()}
        if "__items__" in node:
            return {self.decode(k): self.decode(v) for k, v in node["__items__"]}
        if "__history__" in node:
            return History.from_json(node["__history__"])
        if "__dtype__" in node:
            return np.dtype(node["__dtype__"])
        if "__random_state__" in node:
            name, keys, pos, has_gauss, cached = node["__random_state__"]
            rs = np.random.RandomState()
            rs.set_state((name, self.array(keys), pos, has_gauss, cached))
            return rs
        if "__module__" in node:
            cls = _tabkit_class(node["__module__"], nn.Module)
            module = cls(**self.decode(node["config"]))
            state = {k: self.array(v) for k, v in node["state"].items()}
            module.load_state_dict(state)
            return module
        if "__estimator__" in node:
            cls = _tabkit_class(node["__estimator__"], BaseEstimator)
            est = cls(**self.decode(node["params"]))
            vars(est).update(self.decode(node["state"]))
            return est
        raise ModelFileError(f"unknown entry in the model file: {sorted(node)[:3]}")


# ---------------------------------------------------------------- files
def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save(estimator: BaseEstimator, path: str | Path) -> Path:
    """Write a fitted tabkit estimator to a model file.

    Parameters
    ----------
    estimator : tabkit estimator
        Fitted (or not) estimator; its parameters and fitted state are saved.
    path : str or Path
        Destination; conventionally ending in ``.tabkit``.

    Returns
    -------
    path : Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import tabkit
    >>> from tabkit.preprocessing import TabularEncoder
    >>> enc = TabularEncoder().fit([[0.0], [1.0], [2.0]])
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "encoder.tabkit"
    >>> _ = tabkit.save(enc, path)
    >>> tabkit.load(path).transform([[1.0]]).round(3).tolist()
    [[0.0]]
    """
    writer = _Writer()
    state = json.dumps(writer.encode(estimator, type(estimator).__name__)).encode()
    members: dict[str, bytes] = {_STATE: state}
    for i, array in enumerate(writer.arrays):
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        members[f"arrays/{i}.npy"] = buffer.getvalue()
    manifest = {
        "format": _FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "tabkit_version": __version__,
        "class": _qualified(estimator),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": {
            "torch": torch.__version__,
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
        },
        "checksums": {name: _sha256(data) for name, data in members.items()},
    }
    path = Path(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_MANIFEST, json.dumps(manifest, indent=1))
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _read_members(path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if _MANIFEST not in names:
                raise ModelFileError(f"{path} is not a tabkit model file (no manifest)")
            manifest = json.loads(archive.read(_MANIFEST))
            members = {n: archive.read(n) for n in names if n != _MANIFEST}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        if isinstance(exc, ModelFileError | FileNotFoundError):
            raise
        raise ModelFileError(
            f"{path} is not a readable tabkit model file (truncated or corrupted?): "
            f"{exc}"
        ) from None
    return manifest, members


def load(path: str | Path) -> Any:
    """Load an estimator written by :func:`save` (or ``estimator.save``).

    No code stored in the file is executed: only tabkit's own classes are
    rebuilt from the JSON state and the arrays.

    Parameters
    ----------
    path : str or Path
        The model file.

    Returns
    -------
    estimator : tabkit estimator

    Raises
    ------
    ModelFileError
        When the file is not a tabkit model file, or is truncated or corrupted.
    IncompatibleModelFileError
        When the file was written in a format this tabkit cannot read.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import tabkit
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "junk.tabkit"
    >>> _ = path.write_bytes(b"not a model")
    >>> tabkit.load(path)
    Traceback (most recent call last):
    ...
    tabkit.exceptions.ModelFileError: ...junk.tabkit is not a readable tabkit model...
    """
    path = Path(path)
    manifest, members = _read_members(path)
    if manifest.get("format") != _FORMAT_NAME:
        raise ModelFileError(f"{path} is not a tabkit model file")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise IncompatibleModelFileError(
            f"{path} uses model-file format {version!r}, written by tabkit "
            f"{manifest.get('tabkit_version')}; this tabkit ({__version__}) reads "
            f"formats up to {FORMAT_VERSION}: upgrade tabkit to load it"
        )
    checksums = manifest.get("checksums", {})
    if set(checksums) != set(members):
        raise ModelFileError(
            f"{path} is corrupted: its members do not match the manifest"
        )
    for name, data in members.items():
        if _sha256(data) != checksums[name]:
            raise ModelFileError(f"{path} is corrupted: checksum mismatch in {name}")
    arrays = []
    for i in range(len(members) - 1):
        arrays.append(
            np.load(io.BytesIO(members[f"arrays/{i}.npy"]), allow_pickle=False)
        )
    return _Reader(arrays).decode(json.loads(members[_STATE]))
