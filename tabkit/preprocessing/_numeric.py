# SPDX-License-Identifier: BSD-3-Clause
"""Numeric column helpers of :class:`~tabkit.preprocessing.TabularEncoder`.

Conversion of numeric columns to float64, features derived from datetime columns,
and the (optionally weighted) moments and quantiles behind the ``"standard"`` and
``"quantile"`` numeric strategies.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

_DATETIME_FEATURES = ("epoch", "year", "month", "day", "dayofweek", "hour", "minute")
_DEFAULT_DATETIME_FEATURES = _DATETIME_FEATURES[:-1]
_CYCLES = {"month": (1.0, 12.0), "dayofweek": (0.0, 7.0), "hour": (0.0, 24.0)}
_DT_ACCESSORS = {"dayofweek": "day_of_week"}
_DAYS_PER_YEAR = 365.2425  # "epoch" is in mean Gregorian years since 1970-01-01
_CLIP = 1e-7


def _is_float_like(dtype: Any) -> bool:
    """Whether one ``to_numpy(float64)`` converts the dtype (numbers and booleans)."""
    if isinstance(dtype, np.dtype):
        return dtype.kind in "biuf"
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_complex_dtype(dtype):
        return False
    return bool(
        pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
    )


def _column_to_float(series: pd.Series, name: str) -> np.ndarray:
    """Convert one column declared numeric to float64, naming it in errors."""
    dtype = series.dtype
    if pd.api.types.is_complex_dtype(dtype):
        raise ValueError(f"Complex data not supported: column {name!r} is {dtype}.")
    if pd.api.types.is_timedelta64_dtype(dtype):
        seconds = series.dt.total_seconds()
        return np.asarray(seconds.to_numpy(dtype=np.float64, na_value=np.nan))
    if pd.api.types.is_datetime64_any_dtype(dtype):
        raise TypeError(f"Column {name!r} must be numeric but has dtype {dtype}.")
    try:
        return np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan))
    except (TypeError, ValueError):
        pass
    try:
        numbers = pd.to_numeric(series, errors="raise")
        return np.asarray(numbers.to_numpy(dtype=np.float64, na_value=np.nan))
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"Column {name!r} (dtype {dtype}) is not numeric and is not a "
            f"categorical feature ({exc}); list it in categorical_features or "
            "convert it to numbers."
        ) from None


def _float_block(
    frame: pd.DataFrame, dtypes: list[Any], positions: list[int], names: list[str]
) -> np.ndarray:
    """Numeric columns as one float64 matrix (one ``to_numpy`` for the usual dtypes)."""
    n_rows = frame.shape[0]
    fast = [j for j, p in enumerate(positions) if _is_float_like(dtypes[p])]
    if not fast:
        out = np.empty((n_rows, len(positions)))
    else:
        columns = [positions[j] for j in fast]
        sub = frame if len(columns) == frame.shape[1] else frame.iloc[:, columns]
        if all(isinstance(dtypes[p], np.dtype) for p in columns):
            values = sub.to_numpy(dtype=np.float64)
        else:
            values = sub.to_numpy(dtype=np.float64, na_value=np.nan)
        if len(fast) == len(positions):
            return values
        out = np.empty((n_rows, len(positions)))
        out[:, fast] = values
    for j in sorted(set(range(len(positions))) - set(fast)):
        out[:, j] = _column_to_float(frame.iloc[:, positions[j]], names[positions[j]])
    return out


def _datetime_parts(features: Any, cyclical: bool) -> list[str]:
    """List the derived feature names of the requested datetime features."""
    parts: list[str] = []
    for feature in dict.fromkeys(features):
        parts.append(feature)
        if cyclical and feature in _CYCLES:
            parts += [f"{feature}_sin", f"{feature}_cos"]
    return parts


def _datetime_block(
    frame: pd.DataFrame, positions: list[int], parts: list[list[str]], names: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Compute derived datetime features (float64, NaN for NaT) and NaT masks."""
    n_rows = frame.shape[0]
    columns: list[np.ndarray] = []
    nat = np.zeros((n_rows, len(positions)), dtype=bool)
    for j, (position, wanted) in enumerate(zip(positions, parts, strict=True)):
        series = frame.iloc[:, position]
        if not pd.api.types.is_datetime64_any_dtype(series.dtype):
            raise TypeError(
                f"Column {names[position]!r} was a datetime column at fit but has "
                f"dtype {series.dtype}."
            )
        if getattr(series.dt, "tz", None) is not None:
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        nat[:, j] = series.isna().to_numpy()
        cache: dict[str, np.ndarray] = {}
        columns += [_datetime_part(series, part, cache) for part in wanted]
    matrix = np.column_stack(columns) if columns else np.empty((n_rows, 0))
    return matrix, nat


def _datetime_part(series: pd.Series, part: str, cache: dict[str, np.ndarray]) -> Any:
    """One derived feature of a naive datetime column."""
    base, _, trig = part.partition("_")
    if base not in cache:
        if base == "epoch":
            values = (series - pd.Timestamp(0)) / pd.Timedelta(days=_DAYS_PER_YEAR)
        else:
            values = getattr(series.dt, _DT_ACCESSORS.get(base, base))
        cache[base] = values.to_numpy(dtype=np.float64, na_value=np.nan)
    if not trig:
        return cache[base]
    offset, period = _CYCLES[base]
    angle = (cache[base] - offset) * (2.0 * np.pi / period)
    return np.sin(angle) if trig == "sin" else np.cos(angle)


# ------------------------------------------------------ quantiles and moments
def _quantile_probability(values: Any, quantiles: np.ndarray) -> Any:
    """Map values to [0, 1] through the fitted quantiles of one column."""
    references = np.linspace(0.0, 1.0, len(quantiles))
    probability = np.interp(values, quantiles, references)
    if (np.diff(quantiles) == 0).any():
        # Tied quantiles: average with the reversed interpolation (as scikit-learn)
        backward = np.interp(-values, -quantiles[::-1], -references[::-1])
        probability = 0.5 * (probability - backward)
    return probability


def _normal_scores(probability: Any) -> Any:
    """Standard-normal quantiles of probabilities clipped to [1e-7, 1 - 1e-7]."""
    return ndtri(np.clip(probability, _CLIP, 1 - _CLIP))


def _nan_moments(
    raw: np.ndarray, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each column over its non-missing values."""
    if raw.shape[1] == 0:
        return np.zeros(0), np.ones(0)
    if weights is None:
        return np.nanmean(raw, axis=0), np.nanstd(raw, axis=0)
    present = ~np.isnan(raw)
    w = np.where(present, weights[:, None], 0.0)
    values = np.where(present, raw, 0.0)
    mean = (w * values).sum(axis=0) / w.sum(axis=0)
    variance = (w * (values - mean) ** 2).sum(axis=0) / w.sum(axis=0)
    return mean, np.sqrt(variance)


def _nan_quantiles(
    raw: np.ndarray, levels: np.ndarray, weights: np.ndarray | None
) -> np.ndarray:
    """Linear quantiles (n_levels, n_features) over non-missing values.

    With weights, rows count as if repeated ``weight`` times (exactly so for
    integer weights).
    """
    if weights is None:
        return np.nanquantile(raw, levels, axis=0).reshape(len(levels), -1)
    out = np.empty((len(levels), raw.shape[1]))
    for j, column in enumerate(raw.T):
        present = ~np.isnan(column)
        order = np.argsort(column[present], kind="stable")
        values, cumulative = column[present][order], np.cumsum(weights[present][order])
        position = levels * max(cumulative[-1] - 1.0, 0.0)
        below = np.floor(position)
        last = len(values) - 1
        low = np.searchsorted(cumulative, below, side="right").clip(max=last)
        high = np.searchsorted(cumulative, below + 1, side="right").clip(max=last)
        out[:, j] = values[low] + (position - below) * (values[high] - values[low])
    return out


def _fit_quantiles(
    raw: np.ndarray, std: np.ndarray, noise: float, seed: int, weights: Any
) -> np.ndarray:
    """Quantiles of shape (n_quantiles, n_features), as the ExcelFormer reference."""
    n_rows = raw.shape[0] if weights is None else round(float(weights.sum()))
    n_quantiles = max(2, min(max(min(n_rows // 30, 1000), 10), n_rows))
    if noise > 0:
        scale = noise / np.maximum(std, noise)
        rng = np.random.default_rng(seed)
        raw = raw + scale * rng.standard_normal(raw.shape)
    levels = np.linspace(0.0, 1.0, n_quantiles)
    quantiles = _nan_quantiles(raw, levels, weights)
    return np.maximum.accumulate(quantiles, axis=0)
