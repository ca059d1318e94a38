# SPDX-License-Identifier: BSD-3-Clause
"""The results CSV: fixed header, crash-safe appends, repair and resume keys.

One row per fit, appended as soon as the fit finishes (write, flush, fsync),
so that a run killed at any moment loses at most the fit in progress. A line
left truncated by a kill is dropped by ``repair_csv`` before the next append.
Error messages are flattened to one line, so every record is one line.

A file written with an older header of this harness (its columns a subset of
``COLUMNS``, e.g. the committed ``results/foundation.csv``) is read with the
new columns empty (``read_frame``) and rewritten with the current header,
every value kept, before anything is appended to it (``repair_csv``).
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import logging
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pandas as pd

logger = logging.getLogger(__name__)

#: The CSV header. Fixed on purpose: a later change adds columns here
#: deliberately; files with an older header are migrated (``repair_csv``).
#: ``budget_s`` is the time budget handed to the model (``adapter.budget_s``),
#: ``timeout_s`` the wall-clock limit after which the fit's worker is killed.
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
    "timeout_s",
    "train_cap",
    "profile",
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


def _valid_record(line: str, n_fields: int = len(COLUMNS)) -> bool:
    try:
        fields = next(csv.reader([line]))
    except (csv.Error, StopIteration):
        return False
    return len(fields) == n_fields


def _parse_header(line: str) -> list[str]:
    try:
        return next(csv.reader([line]))
    except (csv.Error, StopIteration):
        return []


def is_older_header(header: list[str]) -> bool:
    """Whether ``header`` is an older header of this harness.

    Parameters
    ----------
    header : list of str
        Column names of a CSV.

    Returns
    -------
    bool
        True when it differs from ``COLUMNS`` but names only columns of
        ``COLUMNS`` (columns were added since), including the ``KEY`` and
        ``status`` columns.
    """
    names = set(header)
    return (
        list(header) != list(COLUMNS)
        and len(names) == len(header)
        and names <= set(COLUMNS)
        and {*KEY, "status"} <= names
    )


def _migrate(path: Path, lines: list[str]) -> None:
    """Rewrite ``lines`` (an older header, then records) under ``COLUMNS``.

    Values are copied as the strings they are (no number reformatting);
    columns the old header lacks are empty. The file is replaced atomically.
    """
    old = _parse_header(lines[0])
    rows = [dict(zip(old, next(csv.reader([line])), strict=True)) for line in lines[1:]]
    text = _header_line() + "".join(format_row(row) for row in rows)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    logger.warning(
        "%s: migrated %d records to the current header (%d new empty columns)",
        path,
        len(rows),
        len(COLUMNS) - len(old),
    )


def repair_csv(path: str | os.PathLike) -> int:
    """Drop a truncated last line left by a killed run; migrate old headers.

    A record is complete when it ends with a newline and has as many fields
    as the header; an incomplete last record is cut off. A file with an older
    header of this harness (``is_older_header``) is then rewritten with the
    current ``COLUMNS``, every value kept and new columns empty. Any other
    header is an error (results of another schema: use a new file).

    Parameters
    ----------
    path : path-like
        The results CSV; nothing happens when it does not exist.

    Returns
    -------
    int
        Number of bytes of truncated record removed.
    """
    path = Path(path)
    if not path.exists():
        return 0
    with _locked(path, "rb+") as fh:
        data = fh.read()
        keep = data[: data.rfind(b"\n") + 1]
        lines = keep.decode("utf-8", errors="replace").splitlines(keepends=True)
        header = _parse_header(lines[0]) if lines else list(COLUMNS)
        older = is_older_header(header)
        if lines and lines[0] != _header_line() and not older:
            raise ValueError(
                f"{path} has a different header than benchmarks.store.COLUMNS; "
                "write these results to a new file"
            )
        if len(lines) > 1 and not _valid_record(lines[-1], len(header)):
            keep = keep[: keep.rstrip(b"\n").rfind(b"\n") + 1]
            lines = lines[:-1]
        removed = len(data) - len(keep)
        if removed:
            logger.warning(
                "%s: dropped a truncated last line (%d bytes)", path, removed
            )
            fh.truncate(len(keep))
            fh.flush()
            os.fsync(fh.fileno())
        if older:
            _migrate(path, lines)
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


def read_frame(path: str | os.PathLike) -> pd.DataFrame:
    """Read the CSV as a DataFrame with every ``COLUMNS`` column, in order.

    Files with an older header (``is_older_header``) are read as they are,
    the columns they lack empty (NaN); nothing is written.

    Parameters
    ----------
    path : path-like
        The results CSV.

    Returns
    -------
    DataFrame
        One row per record; no rows when the file does not exist.
    """
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=list(COLUMNS))
    frame = pd.read_csv(path)
    extra = [c for c in frame.columns if c not in COLUMNS]
    if extra:
        raise ValueError(f"{path}: columns not in benchmarks.store.COLUMNS: {extra}")
    return frame.reindex(columns=list(COLUMNS))


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
