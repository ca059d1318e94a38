# SPDX-License-Identifier: BSD-3-Clause
"""The ``tabkit`` command line.

``tabkit fit`` fits a model on a table file (CSV or Parquet) and writes a
model file; ``tabkit predict`` predicts with it; ``tabkit db inspect`` shows a
SQL database as tabkit reads it; ``tabkit bench`` runs a benchmark profile of
a source checkout; ``tabkit demo`` fits tabkit's models beside LightGBM on
bundled tables and on a synthetic database. ``tabkit COMMAND --help`` explains
each command. The commands live in the private package ``tabkit._cli``; this
module assembles them (:func:`main`) and exposes the demo's two parts
(:func:`run_demo`, :func:`run_relational_demo`).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Sequence

import tabkit
from tabkit._cli import _bench, _db, _demo, _fit
from tabkit._cli._common import (
    CommandError,
    HelpFormatter,
    error_line,
    terminal_warnings,
)
from tabkit._cli._demo import run_demo, run_relational_demo

__all__ = ["build_parser", "main", "run_demo", "run_relational_demo"]

DESCRIPTION = """\
tabkit: scikit-learn estimators for tables and relational databases.

Fit a model on a table file and write a model file (fit), predict with it
(predict), inspect a SQL database (db inspect), run benchmark profiles of a
source checkout (bench), or compare tabkit's models with LightGBM on
bundled data (demo). `tabkit COMMAND --help` explains a command.
"""

EPILOG = """\
examples:
  tabkit demo
  tabkit fit train.csv --target churned
  tabkit predict train.tabkit new.csv --proba --out predictions.csv
  tabkit db inspect shop.db
  tabkit bench --list
"""


def build_parser() -> argparse.ArgumentParser:
    """Build the parser of the ``tabkit`` command line.

    Returns
    -------
    parser : argparse.ArgumentParser
        Each command's parser sets ``handler`` (``handler(args) -> int``).

    Examples
    --------
    >>> from tabkit.cli import build_parser
    >>> args = build_parser().parse_args(["predict", "m.tabkit", "new.csv"])
    >>> args.command, args.proba
    ('predict', False)
    """
    parser = argparse.ArgumentParser(
        prog="tabkit",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"tabkit {tabkit.__version__}"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _fit.add_parsers(sub)
    _db.add_parser(sub)
    _bench.add_parser(sub)
    _demo.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tabkit`` command line.

    Usage errors exit with status 2 (argparse's ``usage:`` and message);
    runtime errors (a missing file or column, an unreadable database) are
    reported as ``tabkit: error: ...`` on stderr with status 1, without a
    traceback. Warnings are shown as ``tabkit: warning: ...``.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    status : int
        Exit status.

    Examples
    --------
    >>> from tabkit.cli import main
    >>> main(["--version"])  # doctest: +ELLIPSIS
    tabkit ...
    0
    >>> main(["predict", "missing.tabkit", "new.csv"])
    1
    """
    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown and not getattr(args, "forwards_unknown", False):
            parser.error("unrecognized arguments: " + " ".join(unknown))
        args.unknown = unknown
        if args.command is None:
            parser.print_help()
            return 0
        with terminal_warnings():
            return int(args.handler(args))
    except CommandError as exc:
        sys.stdout.flush()
        sys.stderr.write(error_line(str(exc)))
        return exc.status
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except KeyboardInterrupt:
        sys.stderr.write("tabkit: interrupted\n")
        return 130
    except BrokenPipeError:  # `tabkit predict ... | head`: the reader left
        _silence_stdout()
        return 1


def _silence_stdout() -> None:
    """Point stdout at devnull, so that exiting does not fail flushing it."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


if __name__ == "__main__":
    sys.exit(main())
