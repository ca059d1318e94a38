# SPDX-License-Identifier: BSD-3-Clause
"""One table of a relational database: a DataFrame with keys and a time column."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from tabkit.relational._errors import SchemaError
from tabkit.relational._time import as_cutoff, normalize_time

#: Joins the column names of a composite key into the surrogate column's name.
SURROGATE_NAME_SEP = "__"
#: Joins the string forms of a composite key's parts into one value.
SURROGATE_VALUE_SEP = "|"
#: Escapes ``|`` and itself inside a part, so that joined keys never collide.
SURROGATE_ESCAPE = "\\"
#: Strings that count as dates: ISO 8601 dates, optionally with a time and an
#: offset (``2026-01-31``, ``2026-01-31 10:00``, ``2026-01-31T10:00:00.5+02:00``).
_ISO_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?"
    r"(?: ?(?:Z|[+-]\d{2}(?::?\d{2})?))?"
)

try:  # the pandas >= 2.3 default string dtype (NaN for missing)
    _STR: Any = pd.StringDtype(na_value=np.nan)
except TypeError:  # pragma: no cover - pandas 2.2
    _STR = object


class Table:
    r"""A DataFrame with its primary key, foreign keys and time column.

    A table is immutable: it keeps its own copy of the frame (cheap with
    pandas' copy-on-write), :attr:`df` returns a new frame object each time, and
    :func:`copy.copy` / :func:`copy.deepcopy` return the table itself.

    Parameters
    ----------
    df : DataFrame
        The rows. Not modified.
    primary_key : str or tuple of str, optional
        Column whose values identify the rows (unique, never missing; checked
        by :class:`Database`). A tuple of several columns is a composite key:
        see *Composite keys* below.
    foreign_keys : mapping, optional
        ``{column: referenced table name}``; the column holds values of that
        table's primary key (missing values allowed). A key may be a tuple of
        columns, matched by position with the referenced table's composite
        primary key.
    time_column : str, optional
        The moment each row becomes known: a row is visible at cut-off ``t``
        when its time is ``<= t``. Parsed to datetime: tz-aware values become
        UTC, naive ones stay naive.
    static : bool, default=False
        Declare that the rows have no time of their own (a lookup table, a
        list of products): :meth:`upto` keeps them all, and reached through a
        timed row they are known when that row is. Incompatible with
        ``time_column``. A table with neither a time column nor any date/time
        column (see :attr:`datetime_columns`) is static without saying so; a
        table *with* date/time columns must declare one of the two before
        features or tasks use it (:meth:`Database.check_time_columns`).
    name : str, optional
        The table's name, used in error messages (a :class:`Database` names
        its tables).

    Attributes
    ----------
    primary_key : str or None
    foreign_keys : mapping of str to str (read-only)
    time_column : str or None
    static : bool
    datetime_columns : list of str
    composite_keys : mapping of str to tuple of str (read-only)

    Notes
    -----
    **Composite keys.** A key of several columns ``(a, b)`` gets a *surrogate*
    column named ``"a__b"`` (the column names joined by ``"__"``), appended to
    the frame. Its values are the parts' string forms joined by ``"|"``
    (``2001`` and ``"NYA"`` give ``"2001|NYA"``), missing where any part is
    missing. A ``"|"`` or ``"\"`` inside a part is escaped with ``"\"``, so
    that two different key tuples never give the same value (``("a|b", "c")``
    gives ``"a\|b|c"``, ``("a", "b|c")`` gives ``"a|b\|c"``). String
    forms: whole numbers are written as integers (so ``2001`` and ``2001.0``
    agree: a nullable integer column often becomes float), other floats as
    pandas prints them, booleans as ``True`` / ``False``, datetimes as
    ``YYYY-MM-DD HH:MM:SS`` (UTC for tz-aware ones, with ``.ffffff`` when
    there are microseconds), strings as they are.
    :attr:`primary_key` and :attr:`foreign_keys` then name the surrogate
    column, and :attr:`composite_keys` maps it to its parts. The parts stay
    ordinary columns (and features); the surrogate is not a feature.

    Examples
    --------
    >>> import pandas as pd
    >>> from tabkit.relational import Table
    >>> orders = Table(
    ...     pd.DataFrame({"order_id": [1, 2], "customer_id": [7, 7],
    ...                   "ts": ["2026-01-01", "2026-02-01"]}),
    ...     primary_key="order_id", foreign_keys={"customer_id": "customers"},
    ...     time_column="ts")
    >>> len(orders.upto(pd.Timestamp("2026-01-15")))
    1
    >>> orders.df["ts"].dtype
    dtype('<M8[ns]')
    >>> teams = Table(pd.DataFrame({"yearID": [2001, 2001], "teamID": ["NYA", "BOS"]}),
    ...               primary_key=("yearID", "teamID"))
    >>> teams.primary_key, teams.df["yearID__teamID"].tolist()
    ('yearID__teamID', ['2001|NYA', '2001|BOS'])
    >>> parks = Table(pd.DataFrame({"park": ["A", "B"],
    ...                             "opened": ["1912-04-20", None]}),
    ...               primary_key="park", static=True)
    >>> parks.static, parks.datetime_columns
    (True, ['opened'])
    """

    # defaults for tables pickled before these attributes existed
    _static: bool = False
    _time_inferred: bool = False
    _datetime: tuple[str, ...] = ()

    def __init__(
        self,
        df: pd.DataFrame,
        *,
        primary_key: str | Sequence[str] | None = None,
        foreign_keys: Mapping[str | tuple[str, ...], str] | None = None,
        time_column: str | None = None,
        static: bool = False,
        name: str | None = None,
    ) -> None:
        label = name or "<unnamed>"
        if not isinstance(static, bool | np.bool_):
            raise TypeError(
                f"table {label!r}: static must be True or False, got {static!r}"
            )
        if static and time_column is not None:
            raise SchemaError(
                f"table {label!r}: static=True and time_column={time_column!r} "
                "contradict each other: a static table has no time column (its "
                "rows are always visible); pass one of them"
            )
        if not isinstance(df, pd.DataFrame):
            raise TypeError(
                f"table {label!r}: expected a pandas DataFrame, got {type(df).__name__}"
            )
        frame = df.copy(deep=False)
        if frame.columns.has_duplicates:
            dup = sorted(map(str, frame.columns[frame.columns.duplicated()]))
            raise SchemaError(f"table {label!r}: duplicate column names {dup}")
        composite: dict[str, tuple[str, ...]] = {}

        def key_column(spec: Any, role: str) -> str:
            parts = _key_parts(spec, label, role)
            for part in parts:
                if part not in frame.columns:
                    raise SchemaError(
                        f"table {label!r}: {role} column {part!r} is not a column "
                        f"(columns: {list(map(str, frame.columns))[:20]})"
                    )
            if len(parts) == 1:
                return parts[0]
            column = SURROGATE_NAME_SEP.join(parts)
            if composite.get(column) == parts:
                return column
            values = surrogate_values(frame, parts)
            if column in frame.columns and not _same_values(frame[column], values):
                raise SchemaError(
                    f"table {label!r}: column {column!r} exists and is not the "
                    f"surrogate key of {role} {parts}; rename it"
                )
            frame[column] = values
            composite[column] = parts
            return column

        if time_column is not None:  # parsed first: it may be part of a key
            if not isinstance(time_column, str) or time_column not in frame.columns:
                raise SchemaError(
                    f"table {label!r}: time column {time_column!r} is not a column "
                    f"(columns: {list(map(str, frame.columns))[:20]})"
                )
            frame[time_column] = normalize_time(frame[time_column], label, time_column)
        pk = None if primary_key is None else key_column(primary_key, "primary key")
        fks: dict[str, str] = {}
        for spec, parent in (foreign_keys or {}).items():
            if not isinstance(parent, str):
                raise SchemaError(
                    f"table {label!r}: foreign key {spec!r} must name a table (a "
                    f"str), got {type(parent).__name__}"
                )
            column = key_column(spec, "foreign key")
            if column in fks:
                raise SchemaError(
                    f"table {label!r}: foreign key column {column!r} is declared twice"
                )
            fks[column] = parent
        self._df = frame
        self._name = name
        self._primary_key = pk
        self._foreign_keys = MappingProxyType(fks)
        self._time_column = time_column
        self._composite = MappingProxyType(composite)
        self._static = bool(static)
        self._time_inferred = False
        self._datetime = tuple(
            str(c)
            for c in frame.columns
            if c not in composite and is_datetime_column(frame[c])
        )

    # ---------------------------------------------------------------- access
    @property
    def df(self) -> pd.DataFrame:
        """The rows: a new frame sharing the data (edits never reach the table)."""
        return self._df.copy(deep=False)

    @property
    def name(self) -> str | None:
        """The table's name in its database (None before it joins one)."""
        return self._name

    @property
    def primary_key(self) -> str | None:
        """Primary key column (the surrogate column of a composite key), or None."""
        return self._primary_key

    @property
    def foreign_keys(self) -> Mapping[str, str]:
        """``{column: referenced table}`` (read-only; surrogates for composites)."""
        return self._foreign_keys

    @property
    def composite_keys(self) -> Mapping[str, tuple[str, ...]]:
        """``{surrogate column: its parts}`` for composite keys (read-only)."""
        return self._composite

    @property
    def time_column(self) -> str | None:
        """Time column, or None for a static table."""
        return self._time_column

    @property
    def static(self) -> bool:
        """Whether the rows have no time of their own (``upto`` keeps them all).

        True when the table was declared ``static=True``, or when it has
        neither a time column nor any date/time column. A table with
        date/time columns but neither a time column nor ``static=True`` is
        *undeclared*: features and tasks refuse it
        (:meth:`Database.check_time_columns`).
        """
        return self._static or (self._time_column is None and not self._datetime)

    @property
    def datetime_columns(self) -> list[str]:
        """Columns holding dates or times (the time column included).

        A column counts when its dtype is a datetime (naive or tz-aware, or a
        category of datetimes), when it holds :class:`datetime.date` /
        :class:`datetime.datetime` objects, or when it holds strings that are
        all ISO 8601 dates (``YYYY-MM-DD``, optionally with a time such as
        ``10:30`` or ``10:30:00.5`` after a space or ``T``, and an offset).
        Numbers are never dates (a year, a Unix time): declare those yourself.
        """
        return list(self._datetime)

    @property
    def columns(self) -> list[str]:
        """All column names (surrogate key columns included)."""
        return [str(c) for c in self._df.columns]

    @property
    def feature_columns(self) -> list[str]:
        """Columns other than the keys and the time column.

        The parts of a composite key stay features; its surrogate does not.
        """
        skip = {
            self._primary_key,
            self._time_column,
            *self._foreign_keys,
            *self._composite,
        }
        return [str(c) for c in self._df.columns if c not in skip]

    def key_parts(self, column: str) -> tuple[str, ...]:
        """Return the columns a key column stands for: its parts, or ``(column,)``.

        Parameters
        ----------
        column : str
            A key column of this table.

        Returns
        -------
        parts : tuple of str

        Examples
        --------
        >>> import pandas as pd
        >>> from tabkit.relational import Table
        >>> t = Table(pd.DataFrame({"a": [1], "b": [2]}), primary_key=("a", "b"))
        >>> t.key_parts("a__b"), t.key_parts("a")
        (('a', 'b'), ('a',))
        """
        return self._composite.get(column, (column,))

    def __len__(self) -> int:
        return len(self._df)

    def __repr__(self) -> str:
        parts = [f"{len(self)} rows"]
        if self._primary_key:
            parts.append(f"primary_key={self._primary_key!r}")
        if self._foreign_keys:
            parts.append(f"foreign_keys={dict(self._foreign_keys)!r}")
        if self._time_column:
            parts.append(f"time_column={self._time_column!r}")
        if self._static:
            parts.append("static=True")
        return f"Table({', '.join(parts)})"

    # ---------------------------------------------------------------- time
    def visible_mask(self, t: Any) -> pd.Series:
        """Rows visible at time ``t``: time <= t (rows with a missing time never).

        Parameters
        ----------
        t : Timestamp or str
            The cut-off. A naive cut-off against tz-aware times is read as UTC.

        Returns
        -------
        mask : Series of bool

        Examples
        --------
        >>> import pandas as pd
        >>> from tabkit.relational import Table
        >>> t = Table(pd.DataFrame({"ts": ["2026-01-01", None, "2026-03-01"]}),
        ...           time_column="ts")
        >>> t.visible_mask("2026-01-01").tolist()
        [True, False, False]
        """
        if self._time_column is None:
            return pd.Series(True, index=self._df.index)
        times = self._df[self._time_column]
        aware = isinstance(times.dtype, pd.DatetimeTZDtype)
        cutoff = as_cutoff(t, aware, self._name or "<unnamed>")
        return (times <= cutoff).fillna(False).astype(bool)

    def upto(self, t: Any) -> Table:
        """Return the table as known at ``t`` (rows with time <= t).

        Parameters
        ----------
        t : Timestamp or str
            The cut-off (inclusive).

        Returns
        -------
        table : Table
            This table itself when it has no time column.

        Examples
        --------
        >>> import pandas as pd
        >>> from tabkit.relational import Table
        >>> t = Table(pd.DataFrame({"ts": ["2026-01-01", "2026-03-01"]}),
        ...           time_column="ts")
        >>> len(t.upto("2026-01-01")), len(t.upto("2025-12-31"))
        (1, 0)
        """
        if self._time_column is None:
            return self
        return self._with_frame(self._df[self.visible_mask(t).to_numpy()])

    def _with_frame(self, frame: pd.DataFrame) -> Table:
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)  # the schema, date/time columns included
        new._df = frame
        return new

    def _named(self, name: str) -> Table:
        if self._name == name:
            return self
        new = self._with_frame(self._df)
        new._name = name
        return new

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_foreign_keys"] = dict(self._foreign_keys)
        state["_composite"] = dict(self._composite)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        state["_foreign_keys"] = MappingProxyType(state["_foreign_keys"])
        state["_composite"] = MappingProxyType(state["_composite"])
        self.__dict__.update(state)

    def __copy__(self) -> Table:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Table:
        return self


# -------------------------------------------------------------------- keys
def _key_parts(spec: Any, table: str, role: str) -> tuple[str, ...]:
    """Normalise a key declaration to a non-empty tuple of distinct names."""
    parts = (spec,) if isinstance(spec, str) else spec
    if not isinstance(parts, tuple | list) or not parts:
        raise SchemaError(
            f"table {table!r}: {role} must be a column name or a tuple of column "
            f"names, got {spec!r}"
        )
    if not all(isinstance(p, str) for p in parts):
        raise SchemaError(f"table {table!r}: {role} {spec!r} must name columns")
    if len(set(parts)) != len(parts):
        raise SchemaError(f"table {table!r}: {role} {spec!r} repeats a column")
    return tuple(parts)


def surrogate_values(frame: pd.DataFrame, parts: Sequence[str]) -> pd.Series:
    r"""Build a composite key's surrogate: the parts' string forms joined by ``|``.

    ``\`` and ``|`` inside a part are escaped with ``\`` first, so that
    different key tuples always give different values.

    Parameters
    ----------
    frame : DataFrame
        Holds the parts.
    parts : sequence of str
        The key's columns, in order.

    Returns
    -------
    values : Series of str
        Missing where any part is missing.

    Examples
    --------
    >>> import pandas as pd
    >>> from tabkit.relational._table import surrogate_values
    >>> df = pd.DataFrame({"y": [2001.0, None], "t": ["NYA", "BOS"]})
    >>> surrogate_values(df, ["y", "t"]).tolist()
    ['2001|NYA', nan]
    >>> print(*surrogate_values(pd.DataFrame({"a": ["a|b", "a"], "b": ["c", "b|c"]}),
    ...                         ["a", "b"]))
    a\|b|c a|b\|c
    """
    strings = [_escaped(key_strings(frame[p])) for p in parts]
    others: Any = strings[1:]
    joined = strings[0].str.cat(others, sep=SURROGATE_VALUE_SEP)
    return joined.astype(_STR)


def _escaped(strings: pd.Series) -> pd.Series:
    """Escape the escape character and the separator inside key parts."""
    esc = SURROGATE_ESCAPE
    return strings.str.replace(esc, esc + esc, regex=False).str.replace(
        SURROGATE_VALUE_SEP, esc + SURROGATE_VALUE_SEP, regex=False
    )


def key_strings(values: pd.Series) -> pd.Series:  # noqa: PLR0911
    """Return the string forms of key values (the parts of a surrogate key).

    Parameters
    ----------
    values : Series

    Returns
    -------
    strings : Series of "string" dtype (``pd.NA`` for missing values)
    """
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        cats = dtype.categories.dtype
        if pd.api.types.is_numeric_dtype(cats) and not pd.api.types.is_bool_dtype(cats):
            values = values.astype("float64")
        elif pd.api.types.is_datetime64_any_dtype(cats):
            values = values.astype(cats)
        else:
            return values.astype(object).astype("string")
        dtype = values.dtype
    elif pd.api.types.is_object_dtype(dtype):
        inferred = pd.api.types.infer_dtype(values, skipna=True)
        if inferred in {"integer", "floating", "mixed-integer-float", "decimal"}:
            values = pd.to_numeric(values)
        elif inferred in {"datetime", "datetime64", "date"}:
            values = pd.to_datetime(values, utc=_any_aware(values))
        else:
            return values.astype("string")
        dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return values.astype("string")
    if pd.api.types.is_float_dtype(dtype):
        arr = values.to_numpy(dtype="float64", na_value=np.nan)
        whole = np.isfinite(arr) & (np.floor(arr) == arr) & (np.abs(arr) < 2.0**63)
        as_int = pd.Series(np.where(whole, arr, np.nan), index=values.index)
        out = as_int.astype("Int64").astype("string")
        return out.where(whole, values.astype("string"))
    if pd.api.types.is_integer_dtype(dtype):
        return values.astype("string")
    if pd.api.types.is_datetime64_any_dtype(dtype):
        if isinstance(dtype, pd.DatetimeTZDtype):
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        base = values.dt.strftime("%Y-%m-%d %H:%M:%S").astype("string")
        micro = values.dt.microsecond.fillna(0).to_numpy() != 0
        if micro.any():
            frac = values.dt.strftime(".%f").astype("string")
            base = base.where(~micro, base + frac)
        return base
    return values.astype("string")


def is_datetime_column(values: pd.Series) -> bool:  # noqa: PLR0911
    """Whether a column holds dates or times (see :attr:`Table.datetime_columns`).

    Parameters
    ----------
    values : Series

    Returns
    -------
    bool

    Examples
    --------
    >>> import pandas as pd
    >>> from tabkit.relational._table import is_datetime_column
    >>> is_datetime_column(pd.Series(["2026-01-31 10:00", None]))
    True
    >>> is_datetime_column(pd.Series(["2026-01-31", "soon"]))
    False
    >>> is_datetime_column(pd.Series([2026, 2027]))  # numbers are never dates
    False
    """
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return is_datetime_column(pd.Series(dtype.categories))
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return True
    if not (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)):
        return False
    first = values.first_valid_index()
    if first is None:
        return False
    sample = values.loc[first]
    if isinstance(sample, pd.Series):  # a repeated index label
        sample = sample.iloc[0]
    if isinstance(sample, date | datetime | np.datetime64):
        kind = pd.api.types.infer_dtype(values, skipna=True)
        return kind in {"datetime", "datetime64", "date"}
    if not isinstance(sample, str) or not _ISO_DATE.fullmatch(sample):
        return False  # most columns stop here, after one value
    present = values.dropna()
    if pd.api.types.infer_dtype(present, skipna=True) != "string":
        return False
    strings = present.astype("string")
    if not bool(strings.str.fullmatch(_ISO_DATE.pattern).all()):
        return False
    parsed = pd.to_datetime(strings, format="ISO8601", utc=True, errors="coerce")
    return bool(parsed.notna().all())


def _any_aware(values: pd.Series) -> bool:
    present = values.dropna()
    return bool(len(present)) and getattr(present.iloc[0], "tzinfo", None) is not None


def _same_values(a: pd.Series, b: pd.Series) -> bool:
    sa, sb = a.astype("string"), b.astype("string")
    return bool((sa.isna().to_numpy() == sb.isna().to_numpy()).all()) and bool(
        (sa.fillna("") == sb.fillna("")).all()
    )


def key_kind(values: pd.Series) -> str:  # noqa: PLR0911 - one return per kind
    """Return the kind of a key column, for type checks between keys.

    Kinds: ``"integer"`` (integers, and floats whose values are all whole
    numbers), ``"float"``, ``"string"`` (str, object and category of strings),
    ``"bool"``, ``"datetime"``, and ``"empty"`` (no value; compatible with all).

    Parameters
    ----------
    values : Series

    Returns
    -------
    kind : str

    Examples
    --------
    >>> import pandas as pd
    >>> from tabkit.relational._table import key_kind
    >>> key_kind(pd.Series([1.0, None])), key_kind(pd.Series(["a"], dtype="category"))
    ('integer', 'string')
    """
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        values = pd.Series(dtype.categories[dtype.categories.notna()])
        dtype = values.dtype
    present = values.dropna()
    if not len(present):
        return "empty"
    if pd.api.types.is_object_dtype(dtype):
        inferred = pd.api.types.infer_dtype(present, skipna=True)
        if inferred == "integer":
            return "integer"
        if inferred in {"floating", "mixed-integer-float", "decimal"}:
            return key_kind(pd.to_numeric(present))
        if inferred == "boolean":
            return "bool"
        if inferred in {"datetime", "datetime64", "date"}:
            return "datetime"
        return "string"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        arr = present.to_numpy(dtype="float64")
        return "integer" if bool((np.floor(arr) == arr).all()) else "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_string_dtype(dtype):
        return "string"
    return str(dtype)
