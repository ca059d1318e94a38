# SPDX-License-Identifier: BSD-3-Clause
"""Input validation shared by every tabkit estimator.

:func:`check_table` validates a DataFrame or an array, records or checks its columns
on the estimator through scikit-learn, and returns a DataFrame; arrays are wrapped
without copying and DataFrames are returned as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import validate_data


def check_table(
    estimator: BaseEstimator,
    X: Any,
    *,
    reset: bool,
    categorical_features: Any = "auto",
) -> pd.DataFrame:
    """Validate a table and record or check its columns on ``estimator``.

    Parameters
    ----------
    estimator : BaseEstimator
        The estimator validating its input; ``n_features_in_`` and
        ``feature_names_in_`` are set on it (``reset=True``) or checked against it
        (``reset=False``) by :func:`sklearn.utils.validation.validate_data`.
    X : DataFrame, ndarray or array-like of shape (n_samples, n_features)
        The table. A DataFrame is returned as it is (never copied nor modified);
        arrays are validated by scikit-learn and wrapped in a DataFrame with
        columns ``x0 .. x{d-1}``. ``inf`` is not checked here.
    reset : bool
        True in ``fit``, False in every other method.
    categorical_features : "auto", None or array-like, default="auto"
        With ``"auto"`` or None arrays are converted to float64; with explicit
        categorical columns they keep their dtype (object arrays are allowed).

    Returns
    -------
    DataFrame
        The input frame, or a frame viewing the validated array.

    Raises
    ------
    ValueError
        Empty tables, 1-D or complex input, names or number of columns that differ
        from those seen at fit.
    TypeError
        Sparse input (scipy sparse matrices or pandas sparse columns).

    See Also
    --------
    TabularEncoder : The encoder built on this validation.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.base import BaseEstimator
    >>> est = BaseEstimator()
    >>> frame = check_table(est, pd.DataFrame({"a": [1.0], "b": ["x"]}), reset=True)
    >>> est.n_features_in_, est.feature_names_in_.tolist()
    (2, ['a', 'b'])
    >>> check_table(est, [[1.0, 2.0]], reset=True).columns.tolist()
    ['x0', 'x1']
    """
    if not isinstance(X, pd.DataFrame):
        numeric = categorical_features is None or isinstance(categorical_features, str)
        array = validate_data(
            estimator,
            X,
            reset=reset,
            accept_sparse=False,
            ensure_all_finite=False,
            dtype=np.float64 if numeric else None,
        )
        columns = [f"x{i}" for i in range(array.shape[1])]
        return pd.DataFrame(array, columns=columns, dtype=array.dtype, copy=False)
    validate_data(estimator, X, reset=reset, skip_check_array=True)
    context = f" by {type(estimator).__name__}"
    if X.shape[0] == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 "
            f"is required{context}."
        )
    if X.shape[1] == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 "
            f"is required{context}."
        )
    for name, dtype in zip(X.columns, X.dtypes, strict=True):
        if isinstance(dtype, pd.SparseDtype):
            raise TypeError(
                f"Column {str(name)!r} has the pandas sparse dtype {dtype}; sparse "
                "input is not supported, convert it with X.sparse.to_dense()."
            )
    return X
