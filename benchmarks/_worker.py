# SPDX-License-Identifier: BSD-3-Clause
"""Worker process: one measured fit in a fresh interpreter.

Started by ``benchmarks.run`` as ``python -m benchmarks._worker SPEC RESULT``
with the thread variables (``OMP_NUM_THREADS`` ...) already in its
environment, so they apply before anything is imported. ``SPEC`` is a JSON
file with ``dataset``, ``model``, ``seed``, ``threads``, ``train_cap`` and
``imports`` (modules to import first, so that datasets and models registered
outside ``benchmarks`` exist here too), and optionally ``budget_s`` (handed
to the adapter), ``reset_peak`` and ``data_factory``: ``{"function":
"module:name", "kwargs": {...}}``, a function returning ``(X, y, task,
split)`` that replaces loading ``dataset`` and splitting it (the scaling
benchmark's subsamples). The partial or complete row is written to the JSON
file ``RESULT``; the peak RSS is this process's.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import traceback
from pathlib import Path
from typing import Any

logger = logging.getLogger("benchmarks.worker")


def error_message(exc: BaseException) -> str:
    """``Type: message (at file:line in function)`` of the innermost frame.

    Parameters
    ----------
    exc : BaseException
        The exception.

    Returns
    -------
    str
        A one-line description.
    """
    text = f"{type(exc).__name__}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        text += f" (at {Path(last.filename).name}:{last.lineno} in {last.name})"
    return text


def build_data(factory: dict[str, Any]) -> tuple[Any, Any, str, Any]:
    """Call a spec's ``data_factory``.

    Parameters
    ----------
    factory : dict
        ``function`` ("package.module:function") and ``kwargs``.

    Returns
    -------
    tuple
        ``(X, y, task, split)`` as the function returns them.
    """
    module, _, name = factory["function"].partition(":")
    function = getattr(importlib.import_module(module), name)
    return function(**factory.get("kwargs", {}))


def run_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the fit a spec describes; never raises for an ``Exception``.

    Parameters
    ----------
    spec : dict
        See the module docstring.

    Returns
    -------
    dict
        The row: complete with ``status="ok"``, or partial with
        ``status="error"`` and ``error``.
    """
    from benchmarks.measure import measure_fit, peak_rss_mb

    row: dict[str, Any] = {}
    try:
        for module in spec.get("imports", []):
            importlib.import_module(module)
        data = split = None
        if spec.get("data_factory"):
            *data, split = build_data(spec["data_factory"])
        measure_fit(
            row,
            spec["dataset"],
            spec["model"],
            int(spec["seed"]),
            threads=int(spec["threads"]),
            train_cap=spec.get("train_cap"),
            data=None if data is None else tuple(data),
            split=split,
            budget_s=spec.get("budget_s"),
            reset_peak=bool(spec.get("reset_peak", False)),
        )
    except Exception as exc:
        logger.exception("fit failed")
        row.update(status="error", error=error_message(exc), peak_rss_mb=peak_rss_mb())
    return row


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m benchmarks._worker SPEC RESULT``.

    Parameters
    ----------
    argv : list of str or None, default=None
        ``[SPEC, RESULT]``; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
        Exit status (0 when a result was written).
    """
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    spec_path, result_path = argv if argv is not None else sys.argv[1:]
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    row = run_spec(spec)
    Path(result_path).write_text(json.dumps(row), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
