# SPDX-License-Identifier: BSD-3-Clause
"""Model files: fitted estimators as arrays + JSON, loaded without running code.

A model file is a zip archive with

* ``manifest.json``: format name and version, the tabkit version that wrote
  it, the estimator's class, library versions, and the size and SHA-256
  checksum of every other member;
* ``state.json``: the estimator's parameters and fitted state as a JSON tree;
* ``arrays/<n>.npy``: every array (tensors, weights, vocabularies) in NumPy's
  format, read without unpickling.

Loading rebuilds only the classes of an explicit registry (tabkit's
estimators, the encoder, ``RelationalFeatures`` and :mod:`tabkit.nn` modules;
histories are a fixed entry type), gives each estimator only the fitted
attributes declared for its class, checks every size, shape, dtype and
constructor argument before allocating anything for it, and refuses anything
else with a :class:`~tabkit.exceptions.ModelFileError`. Nothing in the file is
executed, unlike a pickle. The checksums detect corruption but do not
authenticate a file: anyone can write a valid model file, so load only files
from sources you trust.

The limits below bound the memory a file can make :func:`load` use; a file
above them is refused. They are read at each call: raise them (for example
``tabkit.serialization.MAX_TOTAL_BYTES = 4 * 2**30``) to save and load a
larger model.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import torch

from tabkit._version import __version__
from tabkit.exceptions import ModelFileError
from tabkit.serialization import _archive, _codec
from tabkit.serialization._archive import FORMAT_VERSION

__all__ = [
    "FORMAT_VERSION",
    "MAX_JSON_CONTAINERS",
    "MAX_JSON_DEPTH",
    "MAX_MEMBERS",
    "MAX_OBJECTS",
    "MAX_STATE_BYTES",
    "MAX_TOTAL_BYTES",
    "load",
    "save",
]

#: Largest total uncompressed size of a model file's members (1 GiB).
MAX_TOTAL_BYTES = 2**30
#: Largest number of members (arrays) in a model file.
MAX_MEMBERS = 10_000
#: Largest ``state.json`` (64 MiB).
MAX_STATE_BYTES = 64 * 2**20
#: Deepest nesting of JSON arrays and objects.
MAX_JSON_DEPTH = 100
#: Largest number of JSON arrays and objects in ``state.json``.
MAX_JSON_CONTAINERS = 1_000_000
#: Largest number of estimators and modules rebuilt from one file.
MAX_OBJECTS = 10_000


def _limits() -> _archive.Limits:
    return _archive.Limits(
        total_bytes=MAX_TOTAL_BYTES,
        members=MAX_MEMBERS,
        state_bytes=MAX_STATE_BYTES,
        json_depth=MAX_JSON_DEPTH,
        json_containers=MAX_JSON_CONTAINERS,
        objects=MAX_OBJECTS,
    )


def save(estimator: Any, path: str | Path) -> Path:
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

    Raises
    ------
    TypeError
        When the estimator is not an exportable tabkit class, or holds a
        fitted attribute its class does not declare for model files.
    ValueError
        When the file would exceed the limits :func:`load` applies.

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
    limits = _limits()
    writer = _codec.Writer()
    tree = writer.estimator(estimator, type(estimator).__name__)
    state = json.dumps(tree, allow_nan=False).encode()
    members = {_archive.STATE: state}
    for i, array in enumerate(writer.arrays):
        members[f"arrays/{i}.npy"] = _archive.npy_bytes(array)
    _archive.check_writable(members, limits)
    manifest = {
        "format": _archive.FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "tabkit_version": __version__,
        "class": tree["__estimator__"],
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": {
            "torch": torch.__version__,
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
        },
        "sizes": {name: len(data) for name, data in members.items()},
        "checksums": {name: _archive.sha256(data) for name, data in members.items()},
    }
    path = Path(path)
    _archive.write(path, json.dumps(manifest, indent=1).encode(), members)
    return path


def load(path: str | Path) -> Any:
    """Load an estimator written by :func:`save` (or ``estimator.save``).

    No code stored in the file is executed, and the file cannot make loading
    use much more memory than its declared contents (at most
    ``MAX_TOTAL_BYTES`` of arrays, see :mod:`tabkit.serialization`): only the
    registered tabkit classes are rebuilt, each estimator receives only the
    fitted attributes declared for its class, and every size, shape, dtype and
    module argument is checked before memory is allocated for it. The SHA-256
    checksums detect a truncated or corrupted file but do not authenticate it
    (anyone can write a valid model file): only load files from sources you
    trust.

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
        When the file is not a tabkit model file, is truncated or corrupted,
        or holds anything the checks refuse; the message says what.
    IncompatibleModelFileError
        When the file was written in a newer format, or names a class or
        parameter this tabkit does not have.
    OSError
        When the file cannot be opened (``FileNotFoundError`` ...).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import tabkit
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "junk.tabkit"
    >>> _ = path.write_bytes(b"not a model")
    >>> tabkit.load(path)
    Traceback (most recent call last):
    ...
    tabkit.exceptions.ModelFileError: cannot load ...junk.tabkit: not a readable...
    """
    path = Path(path)
    limits = _limits()
    try:
        contents = _archive.read(path, limits)
        reader = _codec.Reader(contents.arrays, contents.version, limits)
        return reader.root(contents.state, contents.manifest["class"])
    except ModelFileError as error:
        raise type(error)(f"cannot load {path}: {error}") from None
    except (OSError, MemoryError):
        raise
    except Exception as error:
        raise ModelFileError(
            f"cannot load {path}: unexpected {type(error).__name__} ({error}); "
            "this is a tabkit bug, please report it"
        ) from error
