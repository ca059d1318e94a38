# SPDX-License-Identifier: BSD-3-Clause
"""Provenance of a benchmark run: CPU, versions, commit.

Collected once per run by the parent process (the fits run in children of the
same environment) and written to every CSV row.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

#: CSV column -> distribution name whose version it records.
PACKAGE_COLUMNS = {
    "torch_version": "torch",
    "sklearn_version": "scikit-learn",
    "numpy_version": "numpy",
    "pandas_version": "pandas",
    "lightgbm_version": "lightgbm",
    "xgboost_version": "xgboost",
    "catboost_version": "catboost",
    "gbnn_version": "GBNN",
}


def cpu_model() -> str:
    """CPU model name from ``/proc/cpuinfo`` (``platform.processor()`` elsewhere).

    Returns
    -------
    str
        For example "AMD EPYC 7B13"; "unknown" when nothing is found.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_version(dist: str) -> str:
    """Installed version of a distribution, or "" when it is not installed."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return ""


def tabkit_version() -> str:
    """Version of the ``tabkit`` that ``import tabkit`` finds ("" if none)."""
    try:
        return str(importlib.import_module("tabkit").__version__)
    except Exception:  # any import failure means "not available"
        return ""


def _git(*args: str) -> str:
    # Read-only queries; --no-optional-locks keeps `git status` from taking
    # the index lock, so a benchmark never disturbs concurrent git work.
    out = subprocess.run(
        ["git", "--no-optional-locks", "-C", str(REPO_ROOT), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return out.stdout.strip()


def git_state() -> tuple[str, bool | None]:
    """Commit of the repository and whether tracked files are modified.

    Returns
    -------
    commit : str
        ``HEAD``'s hash, or "unknown" outside a git checkout.
    dirty : bool or None
        True when tracked files differ from ``HEAD`` (untracked files, such as
        results being written, do not count); None when unknown.
    """
    try:
        commit = _git("rev-parse", "HEAD")
        dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return "unknown", None
    return commit, dirty


@functools.cache
def collect_environment() -> dict[str, object]:
    """Everything the CSV records about the machine and the software.

    Returns
    -------
    dict
        Keys ``cpu_model``, ``n_cpus``, ``python_version``, ``tabkit_version``,
        ``git_commit``, ``git_dirty`` and the ``PACKAGE_COLUMNS`` keys.
    """
    commit, dirty = git_state()
    env: dict[str, object] = {
        "cpu_model": cpu_model(),
        "n_cpus": os.cpu_count(),
        "python_version": platform.python_version(),
        "tabkit_version": tabkit_version(),
        "git_commit": commit,
        "git_dirty": dirty,
    }
    env.update({col: package_version(d) for col, d in PACKAGE_COLUMNS.items()})
    return env


def thread_environment(threads: int) -> dict[str, str]:
    """Environment variables that pin native thread pools to ``threads``.

    Parameters
    ----------
    threads : int
        Thread count.

    Returns
    -------
    dict of str to str
        ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` and ``OPENBLAS_NUM_THREADS``.
    """
    value = str(int(threads))
    return {
        "OMP_NUM_THREADS": value,
        "MKL_NUM_THREADS": value,
        "OPENBLAS_NUM_THREADS": value,
    }


def child_pythonpath() -> str:
    """``PYTHONPATH`` for a worker: the repository root, then this ``sys.path``.

    A worker must import the same ``benchmarks``, ``tabkit`` and the modules
    that registered datasets or models as the parent did.
    """
    paths = [str(REPO_ROOT), *(p for p in sys.path if p and Path(p).is_dir())]
    return os.pathsep.join(dict.fromkeys(paths))


def csv_list(text: str) -> list[str]:
    """Split a comma-separated command-line value, dropping blanks.

    Examples
    --------
    >>> csv_list("lightgbm, boosted_nn,,")
    ['lightgbm', 'boosted_nn']
    """
    return [part.strip() for part in text.split(",") if part.strip()]
