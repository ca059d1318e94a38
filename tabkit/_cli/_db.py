# SPDX-License-Identifier: BSD-3-Clause
"""``tabkit db inspect``: tables, keys, time columns and orphans of a SQL database."""

from __future__ import annotations

import argparse
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from tabkit._cli._common import CommandError, HelpFormatter, format_int, text_table
from tabkit.relational import (
    Database,
    OrphanKeysWarning,
    SchemaError,
    TimeColumnInferredWarning,
)

DESCRIPTION = """\
Work with relational databases as tabkit reads them (Database.from_sql).
"""

INSPECT_DESCRIPTION = """\
Show a database as tabkit reads it: its tables (rows, columns, primary key,
time column or "static"), its foreign keys and, per foreign key, the orphans:
child rows whose key matches no row of the parent table.

URL is a SQLite file path, or a SQLAlchemy URL: sqlite:///shop.db,
duckdb:///shop.duckdb (the tabkit-ml[duckdb] extra),
postgresql+psycopg://user@host/db (a driver). The database is opened
read-only.

Time: every table is timed (a time column, the moment its rows become
known) or static (its rows are always known). A table written by
Database.to_sql records which; in other databases a table with one date or
time column gets it as its time column (marked "inferred": check it), a
table with none is static, and a table with several is UNDECLARED: tabkit's
features and tasks refuse it until you declare it (--time / --static here,
time_columns= / static= in Database.from_sql).
"""

INSPECT_EPILOG = """\
examples:
  tabkit db inspect shop.db
  tabkit db inspect sqlite:///shop.db --table customers --table orders
  tabkit db inspect shop.db --time loans=start --static products
  tabkit db inspect postgresql+psycopg://me@localhost/shop
"""


def add_parser(sub: Any) -> None:
    """Register ``db`` (with ``db inspect``) on the ``tabkit`` subparsers.

    Parameters
    ----------
    sub : argparse subparsers action
        What ``ArgumentParser.add_subparsers`` returned.

    Examples
    --------
    >>> import argparse
    >>> from tabkit._cli._db import add_parser
    >>> parser = argparse.ArgumentParser(prog="tabkit")
    >>> add_parser(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["db", "inspect", "shop.db", "--time", "o=ts"])
    >>> args.url, args.time
    ('shop.db', [('o', 'ts')])
    """
    db = sub.add_parser(
        "db",
        help="inspect a relational database",
        description=DESCRIPTION,
        epilog="example:\n  tabkit db inspect shop.db\n",
        formatter_class=HelpFormatter,
    )
    db_sub = db.add_subparsers(dest="db_command", metavar="COMMAND")
    db_sub.required = True
    inspect = db_sub.add_parser(
        "inspect",
        help="tables, keys, time columns and orphan keys",
        description=INSPECT_DESCRIPTION,
        epilog=INSPECT_EPILOG,
        formatter_class=HelpFormatter,
    )
    inspect.add_argument("url", metavar="URL", help="SQLite file or SQLAlchemy URL")
    inspect.add_argument(
        "--table",
        action="append",
        metavar="TABLE",
        help="read only this table (repeatable; default: all)",
    )
    inspect.add_argument(
        "--time",
        action="append",
        type=_assignment,
        default=[],
        metavar="TABLE=COLUMN",
        help="declare a table's time column (repeatable)",
    )
    inspect.add_argument(
        "--static",
        action="append",
        default=[],
        metavar="TABLE",
        help="declare a table static (repeatable)",
    )
    inspect.set_defaults(handler=run_inspect)


def _assignment(text: str) -> tuple[str, str]:
    table, sep, column = text.partition("=")
    if not sep or not table or not column:
        raise argparse.ArgumentTypeError(f"expected TABLE=COLUMN, got {text!r}")
    return table, column


def _label(url: str) -> str:
    if "://" not in url:
        return f"SQLite file {url}"
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


def open_database(
    url: str,
    *,
    tables: list[str] | None = None,
    time_columns: dict[str, str] | None = None,
    static: list[str] | None = None,
) -> tuple[Database, bool]:
    """Read a database with :meth:`Database.from_sql`, with command-line errors.

    Parameters
    ----------
    url : str
        SQLite file path or SQLAlchemy URL.
    tables : list of str, optional
        Tables to read (default: all).
    time_columns : dict, optional
        ``{table: column}`` declarations.
    static : list of str, optional
        Tables declared static.

    Returns
    -------
    database : Database
    inferred : bool
        Whether ``from_sql`` inferred time columns nobody declared.

    Raises
    ------
    CommandError
        For a missing file, a URL that does not parse, a driver that is not
        installed, a database that cannot be reached or read, and schemas
        tabkit refuses (duplicated primary keys...): the message says which.

    Examples
    --------
    >>> from tabkit._cli._db import open_database
    >>> open_database("no/such/shop.db")
    Traceback (most recent call last):
    ...
    tabkit._cli._common.CommandError: no SQLite database at no/such/shop.db
    """
    if "://" not in url:
        path = Path(url)
        if not path.exists():
            raise CommandError(f"no SQLite database at {url}")
        if path.is_dir():
            raise CommandError(f"{url} is a directory, not a SQLite file")
    label = _label(url)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            db = Database.from_sql(
                url, tables=tables, time_columns=time_columns, static=static
            )
        except sa.exc.ArgumentError as exc:
            raise CommandError(
                f"cannot parse the database URL {url!r} ({exc}); give a SQLite file "
                "path or a SQLAlchemy URL such as sqlite:///shop.db"
            ) from None
        except sa.exc.SQLAlchemyError as exc:
            reason = str(exc).splitlines()[0]
            raise CommandError(f"cannot read {label}: {reason}") from None
        except (ImportError, OSError, SchemaError) as exc:
            raise CommandError(f"cannot read {label}: {exc}") from None
    inferred = False
    for warning in caught:
        if issubclass(warning.category, TimeColumnInferredWarning):
            inferred = True
        elif not issubclass(warning.category, OrphanKeysWarning):  # shown below
            warnings.warn(warning.message, warning.category, stacklevel=2)
    return db, inferred


def _time_text(row: pd.Series) -> str:
    status = row["time"]
    if status == "declared":
        return str(row["time_column"])
    if status == "inferred":
        return f"{row['time_column']} (inferred)"
    if status == "static":
        return "static"
    return "UNDECLARED (date/time columns: " + ", ".join(row["datetime_columns"]) + ")"


def _key_text(key: Any) -> str:
    if key is None:
        return "-"
    if isinstance(key, tuple):
        return "(" + ", ".join(key) + ")"
    return str(key)


def describe_database(db: Database) -> str:
    """Format a database's tables, foreign keys and orphans as text.

    Parameters
    ----------
    db : Database

    Returns
    -------
    report : str

    Examples
    --------
    >>> import pandas as pd
    >>> from tabkit.relational import Database, Table
    >>> from tabkit._cli._db import describe_database
    >>> db = Database({
    ...     "p": Table(pd.DataFrame({"id": [1, 2]}), primary_key="id"),
    ...     "c": Table(pd.DataFrame({"p_id": [1, 3, None]}),
    ...                foreign_keys={"p_id": "p"})}, validate=False)
    >>> print(describe_database(db))
    tables
    table  rows  columns  primary key  time
    p         2        1  id           static
    c         3        1  -            static
    <BLANKLINE>
    foreign keys
    foreign key  references  rows with a key    orphans
    c.p_id       p                         2  1 (50.0%)
    """
    summary = db.describe()
    tables = pd.DataFrame(
        {
            "table": list(summary.index),
            "rows": [format_int(n) for n in summary["rows"]],
            "columns": [len(db[name].columns) for name in summary.index],
            "primary key": [_key_text(k) for k in summary["primary_key"]],
            "time": [_time_text(row) for _, row in summary.iterrows()],
        }
    )
    parts = ["tables", text_table(tables, numeric=["rows", "columns"])]
    report = db.orphans
    orphans = dict(
        zip(
            zip(report["table"], report["column"], strict=True),
            report["n_orphans"].astype(int).tolist(),
            strict=True,
        )
    )
    rows = []
    for name in db:
        table = db[name]
        for column, parent in table.foreign_keys.items():
            present = int(table.df[column].notna().sum())
            n = orphans.get((name, column), 0)
            share = f" ({n / present:.1%})" if present and n else ""
            rows.append(
                {
                    "foreign key": f"{name}.{_key_text(_parts(table, column))}",
                    "references": parent,
                    "rows with a key": format_int(present),
                    "orphans": f"{format_int(n)}{share}",
                }
            )
    parts.append("")
    if rows:
        numeric = ["rows with a key", "orphans"]
        parts += ["foreign keys", text_table(pd.DataFrame(rows), numeric=numeric)]
    else:
        parts.append("no foreign keys")
    return "\n".join(parts)


def _parts(table: Any, column: str) -> Any:
    key = table.key_parts(column)
    return key[0] if len(key) == 1 else key


def _undeclared_notes(db: Database) -> list[str]:
    notes = []
    for name, row in db.describe().iterrows():
        if row["time"] == "UNDECLARED":
            first = row["datetime_columns"][0]
            notes.append(
                f"table {name!r} has date/time columns {row['datetime_columns']} "
                "but no time column and is not static: tabkit's features and "
                "tasks refuse it. Declare the moment its rows become known, for "
                f"example --time {name}={first}, or --static {name} if its rows "
                "are always known."
            )
    return notes


def run_inspect(args: argparse.Namespace) -> int:
    """Run ``tabkit db inspect`` (see ``tabkit db inspect --help``).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.

    Returns
    -------
    status : int
        0 when the database was read (errors raise :class:`CommandError`).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import pandas as pd
    >>> from tabkit.relational import Database, Table
    >>> from tabkit.cli import main
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.db"
    >>> Database({"t": Table(pd.DataFrame({"id": [1, 2]}),
    ...                      primary_key="id")}).to_sql(path)
    >>> main(["db", "inspect", str(path)])  # doctest: +ELLIPSIS
    database: SQLite file ...tiny.db (1 table)
    <BLANKLINE>
    tables
    table  rows  columns  primary key  time
    t         2        1  id           static
    <BLANKLINE>
    no foreign keys
    0
    """
    db, inferred = open_database(
        args.url,
        tables=args.table,
        time_columns=dict(args.time) or None,
        static=args.static or None,
    )
    write = sys.stdout.write
    n = len(db)
    write(f"database: {_label(args.url)} ({n} table{'s' if n != 1 else ''})\n\n")
    write(describe_database(db) + "\n")
    notes = _undeclared_notes(db)
    if inferred:
        notes.insert(
            0,
            'time columns marked "inferred" were chosen by tabkit (each is its '
            "table's only date/time column): check them, and declare them with "
            "--time TABLE=COLUMN (or Database.from_sql(..., time_columns=...)).",
        )
    for note in notes:
        write("\n" + textwrap.fill(f"note: {note}", width=79, subsequent_indent="  "))
        write("\n")
    return 0
