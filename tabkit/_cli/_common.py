# SPDX-License-Identifier: BSD-3-Clause
"""What the commands share: errors, warnings, tables on disk, ``--param`` values."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

#: Table file types by suffix: what ``read_table`` reads.
TABLE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}
#: Compression suffixes pandas handles for text tables (``data.csv.gz``).
COMPRESSION_SUFFIXES = frozenset({".gz", ".bz2", ".xz", ".zip", ".zst"})


class CommandError(Exception):
    """An expected error of a command: reported as ``tabkit: error: ...``.

    Parameters
    ----------
    message : str
        What went wrong, naming the file, column or table at fault.
    status : int, default=1
        Exit status: 1 for runtime errors (a bad path, a missing column),
        2 for usage errors.

    Examples
    --------
    >>> from tabkit._cli._common import CommandError
    >>> error = CommandError("no such file: data.csv")
    >>> str(error), error.status
    ('no such file: data.csv', 1)
    """

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keep descriptions and epilogs as written; show defaults where set.

    Examples
    --------
    >>> import argparse
    >>> from tabkit._cli._common import HelpFormatter
    >>> parser = argparse.ArgumentParser(prog="x", formatter_class=HelpFormatter)
    >>> _ = parser.add_argument("--n", type=int, default=3, help="a number")
    >>> "(default: 3)" in parser.format_help()
    True
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        shown = not (
            default is None
            or default is False
            or default == argparse.SUPPRESS
            or (isinstance(default, list) and not default)
        )
        if shown and "default" not in text:
            text += " (default: %(default)s)"
        return text


def error_line(message: str) -> str:
    r"""Format ``message`` as the command line reports an error.

    Parameters
    ----------
    message : str
        The error message.

    Returns
    -------
    line : str
        ``"tabkit: error: <message>"`` with a final newline.

    Examples
    --------
    >>> from tabkit._cli._common import error_line
    >>> error_line("no such file: data.csv")
    'tabkit: error: no such file: data.csv\n'
    """
    return f"tabkit: error: {message}\n"


@contextmanager
def terminal_warnings(stream: TextIO | None = None) -> Iterator[None]:
    r"""Show warnings as ``tabkit: warning: ...`` lines, without source lines.

    A user of the command line cannot act on the file and line a warning was
    raised from; the message is what matters. The warning filters are left
    as they are; the previous settings are restored on exit.

    Parameters
    ----------
    stream : file-like, optional
        Where warnings go (default: ``sys.stderr`` at the time of the warning).

    Yields
    ------
    None

    Examples
    --------
    >>> import io, warnings
    >>> from tabkit._cli._common import terminal_warnings
    >>> out = io.StringIO()
    >>> with terminal_warnings(out):
    ...     warnings.warn("dropped 2 rows", UserWarning)
    >>> out.getvalue()
    'tabkit: warning: dropped 2 rows\n'
    """

    def show(  # noqa: PLR0917 - warnings.showwarning's signature
        message: Warning | str,
        category: type[Warning],
        filename: str,  # noqa: ARG001
        lineno: int,  # noqa: ARG001
        file: TextIO | None = None,  # noqa: ARG001
        line: str | None = None,  # noqa: ARG001
    ) -> None:
        kind = "" if category is UserWarning else f"{category.__name__}: "
        target = stream if stream is not None else sys.stderr
        target.write(f"tabkit: warning: {kind}{message}\n")

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def _table_kind(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if len(suffixes) >= 2 and suffixes[-1] in COMPRESSION_SUFFIXES:
        kind = TABLE_SUFFIXES.get(suffixes[-2])
        if kind in {"csv", "tsv"}:
            return kind
    kind = TABLE_SUFFIXES.get(suffixes[-1] if suffixes else "")
    if kind is None:
        shown = "".join(path.suffixes) or "(none)"
        raise CommandError(
            f"cannot read {path}: unsupported file type {shown}; use a table in "
            "CSV (.csv), tab-separated (.tsv) or Parquet (.parquet, .pq) format "
            "(.csv and .tsv may be compressed: .csv.gz, .tsv.zip, ...)"
        )
    return kind


def table_stem(path: str | Path) -> str:
    """Return a table file's name without its table and compression suffixes.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    stem : str

    Examples
    --------
    >>> from tabkit._cli._common import table_stem
    >>> table_stem("data/shop.v2.csv.gz"), table_stem("houses.parquet")
    ('shop.v2', 'houses')
    """
    name = Path(path).name
    lower = name.lower()
    for suffix in COMPRESSION_SUFFIXES:
        if lower.endswith(suffix) and len(name) > len(suffix):
            name, lower = name[: -len(suffix)], lower[: -len(suffix)]
            break
    for suffix in TABLE_SUFFIXES:
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def read_table(path: str | Path) -> pd.DataFrame:
    r"""Read a table file, its format chosen by its suffix.

    ``.csv`` and ``.tsv`` (optionally compressed: ``.csv.gz``, ``.tsv.zip``,
    ...) are read with :func:`pandas.read_csv`, ``.parquet`` and ``.pq`` with
    :func:`pandas.read_parquet` (the ``tabkit-ml[parquet]`` extra).

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    table : DataFrame

    Raises
    ------
    CommandError
        When the suffix is not one of those, the file does not exist or
        cannot be parsed; the message names the file.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from tabkit._cli._common import read_table
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_text("x,city\n1.5,Oslo\n,Lima\n")
    >>> read_table(path).shape
    (2, 2)
    >>> read_table(path.with_suffix(".xlsx"))
    Traceback (most recent call last):
    ...
    tabkit._cli._common.CommandError: cannot read ...t.xlsx: unsupported file type...
    """
    path = Path(path)
    kind = _table_kind(path)
    if not path.exists():
        raise CommandError(f"no such file: {path}")
    if path.is_dir():
        raise CommandError(f"{path} is a directory; give a table file")
    try:
        if kind == "parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, sep="\t" if kind == "tsv" else ",")
    except ImportError as exc:
        raise CommandError(
            f"cannot read {path}: reading Parquet needs pyarrow "
            f"(pip install 'tabkit-ml[parquet]'): {exc}"
        ) from None
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        # pandas' ParserError and EmptyDataError and pyarrow's ArrowInvalid are
        # ValueErrors
        raise CommandError(f"cannot read {path}: {exc}") from None


def parse_value(text: str) -> Any:
    """Turn a ``--param`` value into a Python value: JSON when it parses, else text.

    Parameters
    ----------
    text : str
        The value as typed.

    Returns
    -------
    value : Any

    Examples
    --------
    >>> from tabkit._cli._common import parse_value
    >>> parse_value("2"), parse_value("0.5"), parse_value("false"), parse_value("null")
    (2, 0.5, False, None)
    >>> parse_value("[16, 8]"), parse_value("balanced")
    ([16, 8], 'balanced')
    """
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_params(items: Iterable[str], valid: Sequence[str], owner: str) -> dict:
    """Parse ``key=value`` items into estimator parameters, checking the keys.

    Parameters
    ----------
    items : iterable of str
        ``key=value`` strings; values go through :func:`parse_value`.
    valid : sequence of str
        The parameters the estimator accepts.
    owner : str
        The estimator's name, for messages.

    Returns
    -------
    params : dict

    Raises
    ------
    CommandError
        For an item without ``=`` (status 2) or an unknown key (status 1),
        listing the valid parameters.

    Examples
    --------
    >>> from tabkit._cli._common import parse_params
    >>> parse_params(["max_epochs=2", "mix_type=none"], ["max_epochs", "mix_type"],
    ...              "ExcelFormerClassifier")
    {'max_epochs': 2, 'mix_type': 'none'}
    >>> parse_params(["max_epoch=2"], ["max_epochs"], "ExcelFormerClassifier")
    Traceback (most recent call last):
    ...
    tabkit._cli._common.CommandError: unknown parameter 'max_epoch' for ...
    """
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CommandError(f"--param expects key=value, got {item!r}", status=2)
        if key not in valid:
            raise CommandError(
                f"unknown parameter {key!r} for {owner}; valid parameters: "
                + ", ".join(sorted(valid))
            )
        params[key] = parse_value(value)
    return params


def format_int(n: int) -> str:
    """Write an integer with thousands separators.

    Parameters
    ----------
    n : int

    Returns
    -------
    str

    Examples
    --------
    >>> from tabkit._cli._common import format_int
    >>> format_int(12345)
    '12,345'
    """
    return f"{int(n):,}"


def text_table(frame: pd.DataFrame, numeric: Sequence[str] = ()) -> str:
    """Format a table as aligned text: text left, the ``numeric`` columns right.

    Parameters
    ----------
    frame : DataFrame
        The rows to show (the index is left out).
    numeric : sequence of str, default=()
        Columns aligned to the right.

    Returns
    -------
    text : str
        A header line and one line per row, without trailing spaces.

    Examples
    --------
    >>> import pandas as pd
    >>> from tabkit._cli._common import text_table
    >>> print(text_table(pd.DataFrame({"table": ["orders", "t"], "rows": [12, 3]}),
    ...                  numeric=["rows"]))
    table   rows
    orders    12
    t          3
    """
    columns = [str(c) for c in frame.columns]
    cells = [columns] + [
        ["-" if v is None else str(v) for v in row]
        for row in frame.itertuples(index=False)
    ]
    widths = [max(len(row[j]) for row in cells) for j in range(len(columns))]
    lines = []
    for row in cells:
        parts = [
            cell.rjust(width) if name in numeric else cell.ljust(width)
            for cell, width, name in zip(row, widths, columns, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)
