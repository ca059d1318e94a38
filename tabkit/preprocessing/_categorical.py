# SPDX-License-Identifier: BSD-3-Clause
"""Categorical column helpers of :class:`~tabkit.preprocessing.TabularEncoder`.

Vocabularies fitted from category, object and string columns, their mapping to the
reserved codes (0 missing, 1 unknown, 2.. the vocabulary) with a cache of lookup
indexes, and the target statistics of the columns encoded by their target.
"""

from __future__ import annotations

import weakref
from numbers import Integral
from typing import Any, cast

import numpy as np
import pandas as pd
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_array

from tabkit.preprocessing._numeric import _nan_moments

_MISSING, _UNKNOWN = 0, 1  # reserved codes; the vocabulary starts at 2
# Lookup indexes of fitted vocabularies (building one costs ~10 ms per 100k levels),
# kept outside the encoders so that their fitted state stays plain data.
_VOCABULARY_INDEXES: weakref.WeakKeyDictionary[
    Any, dict[int, tuple[list[Any], pd.Index]]
] = weakref.WeakKeyDictionary()


def _to_plain(value: Any) -> Any:
    """Convert to a plain Python scalar; None when ``value`` has none."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    return str(value) if isinstance(value, str) else None


def _levels(series: pd.Series) -> tuple[np.ndarray, pd.Index, bool]:
    """Integer codes (-1 = missing), their levels, and whether levels are declared."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        categorical = cast(pd.Categorical, series.array)
        return np.asarray(categorical.codes), categorical.categories, True
    codes, uniques = pd.factorize(series)
    return np.asarray(codes), pd.Index(uniques), False


def _fit_vocabulary(
    series: pd.Series,
    min_frequency: int,
    max_categories: int | None,
    weights: np.ndarray | None,
) -> tuple[list[Any], bool, bool]:
    """Vocabulary (plain scalars), whether values map through ``str``, had missing."""
    codes, uniques, declared = _levels(series)
    seen = codes >= 0
    counts = np.bincount(
        codes[seen], None if weights is None else weights[seen], len(uniques)
    )
    plain = [_to_plain(value) for value in uniques]
    as_str = any(value is None for value in plain)
    merged: dict[Any, float] = {}
    for value, raw, count in zip(plain, uniques, counts, strict=True):
        key = str(raw) if as_str else value
        merged[key] = merged.get(key, 0) + float(count)
    vocab = list(merged)
    if not declared:
        try:
            vocab = sorted(vocab)
        except TypeError:
            vocab = sorted(vocab, key=str)
    frequency = np.array([merged[value] for value in vocab], dtype=np.float64)
    keep = (
        frequency >= min_frequency if min_frequency > 1 else np.ones(len(vocab), bool)
    )
    if max_categories is not None and keep.sum() > max_categories:
        order = np.argsort(-np.where(keep, frequency, -1), kind="stable")
        keep = np.zeros(len(vocab), dtype=bool)
        keep[order[:max_categories]] = True
    kept = [value for value, k in zip(vocab, keep, strict=True) if k]
    return kept, as_str, bool((codes < 0).any())


def _category_codes(series: pd.Series, vocab: pd.Index, as_str: bool) -> np.ndarray:
    """Reserved-code mapping: 0 missing, 1 unknown, 2.. the vocabulary."""
    codes, uniques, _ = _levels(series)
    # Object indexes on both sides: the fastest lookup, and exact Python equality.
    levels = [str(v) for v in uniques] if as_str else uniques.to_numpy(dtype=object)
    found = vocab.get_indexer(pd.Index(levels, dtype=object))
    table = np.append(np.where(found < 0, _UNKNOWN, found + 2), _MISSING)
    return np.asarray(table.astype(np.int64)[codes])


# ---------------------------------------------------------- target statistics
def _target_statistics(
    codes: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray | None,
    size: int,
    smoothing: float,
) -> np.ndarray:
    """Compute m-estimates per code (size, n_targets); unknown/unseen get the prior."""
    w = np.ones(len(codes)) if weights is None else weights
    prior = targets.mean(axis=0)
    if w.sum() > 0:
        prior = w @ targets / w.sum()
    counts = np.bincount(codes, weights=w, minlength=size)
    sums = np.column_stack(
        [np.bincount(codes, weights=w * t, minlength=size) for t in targets.T]
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        stats = (sums + smoothing * prior) / (counts[:, None] + smoothing)
    stats[counts == 0] = prior
    stats[_UNKNOWN] = prior
    return np.asarray(stats)


def _prepare_target(
    y: Any, target_type: str, n_rows: int, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None, str, np.ndarray | None]:
    """Targets (n, n_targets), strata, resolved target type and classes."""
    y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(
            f"Target statistics need a single target, but y has shape {y.shape}; "
            "multi-output targets are not supported."
        )
    if len(y) != n_rows:
        raise ValueError(f"X has {n_rows} rows but y has {len(y)}.")
    kind = type_of_target(y, input_name="y") if target_type == "auto" else target_type
    if kind == "continuous":
        try:
            values = y.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError("target_type='continuous' needs a numeric y.") from None
        mean, std = _nan_moments(values[:, None], weights)
        scale = float(std[0]) or 1.0
        return ((values - mean[0]) / scale)[:, None], None, kind, None
    if kind not in {"binary", "multiclass"}:
        raise ValueError(
            f"Target statistics support binary, multiclass or continuous targets, "
            f"got a {kind!r} target (multi-output targets are not supported)."
        )
    classes, inverse = np.unique(y, return_inverse=True)
    if len(classes) < 2 or (kind == "binary" and len(classes) > 2):
        raise ValueError(f"target_type={kind!r} but y has {len(classes)} class(es).")
    if classes.dtype == object:
        classes = np.asarray(classes.tolist())
        classes = classes.astype(str) if classes.dtype == object else classes
    if kind == "binary":
        return (inverse == 1).astype(np.float64)[:, None], inverse, kind, classes
    return np.eye(len(classes))[inverse], inverse, kind, classes
