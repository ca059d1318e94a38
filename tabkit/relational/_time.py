# SPDX-License-Identifier: BSD-3-Clause
"""Time columns: parsing and the normalisation of the time rule."""

from __future__ import annotations

import pandas as pd

from tabkit.relational._errors import SchemaError


def normalize_time(values: pd.Series, table: str, column: str) -> pd.Series:
    """Parse a time column: tz-aware values to UTC, naive ones kept naive.

    Parameters
    ----------
    values : Series
        Datetimes or strings.
    table, column : str
        Names used in error messages.

    Returns
    -------
    times : Series of datetime64
        Missing or empty values become NaT.

    Raises
    ------
    SchemaError
        When values cannot be parsed, or mix time zones (or aware and naive).

    Examples
    --------
    >>> import pandas as pd
    >>> from tabkit.relational._time import normalize_time
    >>> s = pd.Series(["2026-01-01T10:00:00+02:00", None])
    >>> normalize_time(s, "t", "c").tolist()
    [Timestamp('2026-01-01 08:00:00+0000', tz='UTC'), NaT]
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.astype("datetime64[ns]") if values.dtype.kind == "M" else values
    present = values.dropna()
    if len(present) and all(isinstance(v, pd.Timestamp) for v in present.iloc[:1000]):
        zones = {v.tzinfo is not None for v in present}
        if len(zones) > 1:
            raise SchemaError(
                f"table {table!r}: time column {column!r} mixes time-zone-aware and "
                "naive timestamps"
            )
    try:
        parsed = pd.to_datetime(values, format="mixed")
    except (ValueError, TypeError) as exc:
        if "tz-aware" in str(exc) or "time zone" in str(exc).lower():
            raise SchemaError(
                f"table {table!r}: time column {column!r} mixes time zones "
                f"({exc}); store UTC or naive local times"
            ) from None
        raise SchemaError(
            f"table {table!r}: time column {column!r} cannot be parsed as datetimes "
            f"({exc})"
        ) from None
    if parsed.dtype == object:
        raise SchemaError(
            f"table {table!r}: time column {column!r} mixes time zones; store UTC "
            "or naive local times"
        )
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return parsed.dt.tz_convert("UTC")
    return parsed.astype("datetime64[ns]")
