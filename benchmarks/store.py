# SPDX-License-Identifier: BSD-3-Clause
"""The results CSV: fixed header, crash-safe appends, repair and resume keys.

One row per fit, appended as soon as the fit finishes (write, flush, fsync),
so that a run killed at any moment loses at most the fit in progress. A line
left truncated by a kill is dropped by ``repair_csv`` before the next append.
Error messages are flattened to one line, so every record is one line.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import logging
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

logger = logging.getLogger(__name__)

#: The CSV header. Fixed on purpose: a later change adds columns here
#: deliberately (and starts a new results file).
COLUMNS: tuple[str, ...] = (
    "timestamp",
    "dataset",
    "model",
    "config",
    "family",
    "seed",
    "task",
    "n_train",
    "n_val",
    "n_test",
    "n_features",
    "primary_metric",
    "test_primary",
    "val_primary",
    "test_roc_auc",
    "test_log_loss",
    "test_accuracy",
    "test_rmse",
    "test_r2",
    "fit_s",
    "predict_s",
    "predict_test_s",
    "peak_rss_mb",
    "threads",
    "isolated",
    "budget_s",
    "train_cap",
    "cpu_model",
    "n_cpus",
    "python_version",
    "tabkit_version",
    "git_commit",
    "git_dirty",
    "torch_version",
    "sklearn_version",
    "numpy_version",
    "pandas_version",
    "lightgbm_version",
    "xgboost_version",
    "catboost_version",
    "gbnn_version",
    "fit_info",
    "status",
    "error",
    "command",
)
#: Columns identifying one fit; resume skips keys already measured.
KEY: tuple[str, ...] = ("dataset", "model", "config", "seed")
#: Values of the ``status`` column.
STATUSES = ("ok", "error", "timeout")
MAX_ERROR_CHARS = 2000


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    text = str(value)
    return " | ".join(part for part in text.splitlines() if part.strip())


def format_row(row: Mapping[str, object]) -> str:
    """One CSV line (with its newline) in ``COLUMNS`` order.

    Parameters
    ----------
    row : mapping
        Column -> value; missing columns are written empty. Keys outside
        ``COLUMNS`` are an error.

    Returns
    -------
    str
        The line; newlines inside values are flattened to " | ".
    """
    unknown = set(row) - set(COLUMNS)
    if unknown:
        raise KeyError(f"columns not in the CSV header: {sorted(unknown)}")
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([_cell(row.get(c)) for c in COLUMNS])
    return buf.getvalue()


@contextlib.contextmanager
def _locked(path: Path, mode: str) -> Iterator[io.BufferedIOBase]:
    """Open ``path`` in binary ``mode`` under an exclusive advisory lock."""
    with open(path, mode) as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield fh
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _header_line() -> str:
    return format_row(dict(zip(COLUMNS, COLUMNS, strict=True)))


def _valid_record(line: str) -> bool:
    try:
        fields = next(csv.reader([line]))
    except (csv.Error, StopIteration):
        return False
    return len(fields) == len(COLUMNS)


def repair_csv(path: str | os.PathLike) -> int:
    """Drop a truncated last line left by a killed run.

    A record is complete when it ends with a newline and has ``len(COLUMNS)``
    fields; an incomplete last record is cut off. A file whose header differs
    from ``COLUMNS`` is an error (results of another schema: use a new file).

    Parameters
    ----------
    path : path-like
        The results CSV; nothing happens when it does not exist.

    Returns
    -------
    int
        Number of bytes removed.
    """
    path = Path(path)
    if not path.exists():
        return 0
    with _locked(path, "rb+") as fh:
        data = fh.read()
        keep = data[: data.rfind(b"\n") + 1]
        lines = keep.decode("utf-8", errors="replace").splitlines(keepends=True)
        if lines and lines[0] != _header_line():
            raise ValueError(
                f"{path} has a different header than benchmarks.store.COLUMNS; "
                "write these results to a new file"
            )
        if len(lines) > 1 and not _valid_record(lines[-1]):
            keep = keep[: keep.rstrip(b"\n").rfind(b"\n") + 1]
        removed = len(data) - len(keep)
        if removed:
            logger.warning(
                "%s: dropped a truncated last line (%d bytes)", path, removed
            )
            fh.truncate(len(keep))
            fh.flush()
            os.fsync(fh.fileno())
    return removed


def append_row(path: str | os.PathLike, row: Mapping[str, object]) -> None:
    """Append one record durably (header first if the file is new or empty).

    Parameters
    ----------
    path : path-like
        The results CSV; its parent directory is created if needed.
    row : mapping
        Column -> value (see ``format_row``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = format_row(row)
    with _locked(path, "ab") as fh:
        if fh.tell() == 0:
            line = _header_line() + line
        fh.write(line.encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())


def read_records(path: str | os.PathLike) -> list[dict[str, str]]:
    """All complete records of the CSV as dicts of strings.

    Parameters
    ----------
    path : path-like
        The results CSV.

    Returns
    -------
    list of dict
        One dict per record; empty when the file does not exist.
    """
    path = Path(path)
    if not path.exists():
        return []
    with open(path, encoding="utf-8", newline="") as fh:
        records = csv.DictReader(fh)
        return [r for r in records if None not in r and None not in r.values()]


def row_key(row: Mapping[str, object]) -> tuple[str, ...]:
    """Return the resume key of a row, as strings (``KEY`` columns)."""
    return tuple(str(row[c]) for c in KEY)


def done_keys(path: str | os.PathLike, *, retry_errors: bool = False) -> set:
    """Keys that a resumed run skips.

    Parameters
    ----------
    path : path-like
        The results CSV.
    retry_errors : bool, default=False
        When False, keys recorded with status "error" or "timeout" are
        skipped too; when True only keys with an "ok" record are.

    Returns
    -------
    set of tuple of str
        Keys as ``row_key`` builds them.
    """
    skip = {"ok"} if retry_errors else set(STATUSES)
    return {row_key(r) for r in read_records(path) if r["status"] in skip}
