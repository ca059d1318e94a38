"""Model files of format 1, generated for the tests that read old files.

Format 1 is the layout written by tabkit before model files were checked on
loading (before the class registry and the manifest's ``sizes``). Tests do not
keep such a file in the repository: :func:`write_format1` writes one from a
fitted estimator, and :func:`format1_classifier` fits the kind of model the
format-1 tests load.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np


def _v1_names() -> dict[str, str]:
    """The format-1 name (``"module:QualName"``) of each registered class that
    format 1 knew: the inverse of the reader's frozen table."""
    from tabkit.serialization import _registry

    return {stable: old for old, stable in _registry._V1_NAMES.items()}


def _rename(node: Any, names: dict[str, str]) -> None:
    """Give every estimator and module entry of a state tree its format-1 name."""
    if isinstance(node, list):
        for value in node:
            _rename(value, names)
        return
    if not isinstance(node, dict):
        return
    for tag, keys in (("__estimator__", {"params"}), ("__module__", {"config"})):
        if set(node) == {tag, "state", *keys}:
            if node[tag] not in names:
                raise ValueError(
                    f"{node[tag]!r} has no format-1 name: format 1 predates it"
                )
            node[tag] = names[node[tag]]
    for value in node.values():
        _rename(value, names)


def _v1_array(data: bytes) -> bytes:
    """An array member as format 1 wrote it: a 0-d array as shape ``(1,)``.

    The format-1 writer passed every array through ``np.ascontiguousarray``,
    which returns at least one dimension.
    """
    array = np.load(io.BytesIO(data), allow_pickle=False)
    if array.ndim:
        return data
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def write_format1(estimator: Any, path: str | Path) -> Path:
    """Write ``estimator`` as a model file of format 1.

    The file is written by today's :func:`tabkit.save`, then rewritten to the
    format-1 layout, as the format-1 writer (tabkit's ``serialization.py``
    before the registry) produced it:

    * the manifest has the keys ``format``, ``format_version`` (1),
      ``tabkit_version``, ``class``, ``created``, ``versions`` and
      ``checksums``, in that order and indented by one space; no ``sizes``;
    * classes, in the manifest and in ``state.json``, have their format-1 names
      ``"module:QualName"`` (the reader's frozen table); a class registered
      after format 1 has none, and raises ``ValueError``;
    * 0-d arrays (such as a module's step counter) are stored with shape
      ``(1,)``;
    * ``state.json`` is ``json.dumps`` of the tree (compact separators), and
      the zip holds, deflated, the manifest first, then ``state.json``, then
      ``arrays/0.npy``, ``arrays/1.npy``, ... with their SHA-256 checksums.

    How it differs from a file written by tabkit with format 1: the manifest's
    ``tabkit_version`` and ``versions`` are today's, and the estimator's
    parameters and fitted attributes are those today's estimator holds (a
    format-1 tabkit's estimators had the attributes of their time, and some
    other parameter defaults: pass the parameters explicitly to mimic them).
    The file's layout and encoding are otherwise the same, byte for byte up to
    the zip's timestamps.

    Parameters
    ----------
    estimator : tabkit estimator
        An estimator :func:`tabkit.save` accepts, of a class format 1 knew.
    path : str or Path
        Destination.

    Returns
    -------
    path : Path
    """
    import tabkit

    path = Path(path)
    with tempfile.TemporaryDirectory() as folder:
        current = tabkit.save(estimator, Path(folder) / "current.tabkit")
        with zipfile.ZipFile(current) as archive:
            manifest = json.loads(archive.read("manifest.json"))
            members = {
                name: archive.read(name)
                for name in archive.namelist()
                if name != "manifest.json"
            }
    names = _v1_names()
    state = json.loads(members["state.json"])
    _rename(state, names)
    old: dict[str, bytes] = {"state.json": json.dumps(state).encode()}
    n_arrays = len(members) - 1
    for i in range(n_arrays):
        old[f"arrays/{i}.npy"] = _v1_array(members[f"arrays/{i}.npy"])
    old_manifest = {
        "format": manifest["format"],
        "format_version": 1,
        "tabkit_version": manifest["tabkit_version"],
        "class": state["__estimator__"],
        "created": manifest["created"],
        "versions": manifest["versions"],
        "checksums": {name: hashlib.sha256(d).hexdigest() for name, d in old.items()},
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(old_manifest, indent=1))
        for name, data in old.items():
            archive.writestr(name, data)
    return path


def format1_classifier(n: int = 80, seed: int = 0) -> tuple[Any, Any]:
    """Fit the kind of model the format-1 tests load; return it and its inputs.

    A small ``BoostedNNClassifier`` (classes ``"no"`` and ``"yes"``) on a
    numeric column ``x`` and a string column ``kind``, with the parameter
    defaults of format-1 times.

    Returns
    -------
    model : BoostedNNClassifier
    X : DataFrame
    """
    import pandas as pd

    from tabkit import BoostedNNClassifier

    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "x": rng.normal(size=n).round(3),
            "kind": pd.Series(rng.choice(["blue", "green", "red"], n), dtype="string"),
        }
    )
    score = X["x"].to_numpy() + (X["kind"] == "red").to_numpy(dtype=float)
    y = np.where(score + rng.normal(scale=0.3, size=n) > 0.3, "yes", "no")
    model = BoostedNNClassifier(
        n_estimators=4, units_per_step=2, early_stopping=False, random_state=0
    )
    return model.fit(X, y), X
