# SPDX-License-Identifier: BSD-3-Clause
"""Tests of tabkit.preprocessing: TabularEncoder and check_table."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone

from tabkit.preprocessing import EncodedTable, TabularEncoder, check_table

# ---------------------------------------------------------------- helpers


def _assert_plain(value, path="encoder"):
    """Fitted state must be plain containers or numeric / str arrays."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str), f"{path} has key {key!r}"
            _assert_plain(item, f"{path}[{key!r}]")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _assert_plain(item, f"{path}[{i}]")
    elif isinstance(value, np.ndarray):
        assert value.dtype.kind in "biufU", f"{path} has dtype {value.dtype}"
    else:
        assert value is None or type(value) in {str, int, float, bool}, (
            f"{path} is {type(value).__name__}"
        )


def _fitted_state(encoder):
    """Fitted attributes (trailing or leading underscore); parameters excluded."""
    params = set(encoder.get_params())
    return {
        key: value
        for key, value in vars(encoder).items()
        if key not in params and key != "feature_names_in_"
    }


# ------------------------------------------------------------- column kinds


def test_float_and_int_columns_are_standardised():
    X = pd.DataFrame({"f": [1.0, 2.0, 3.0, 4.0], "i": [10, 20, 30, 40]})
    enc = TabularEncoder().fit(X)
    out = enc.encode(X)
    assert enc.column_kinds_ == {"f": "numeric", "i": "numeric"}
    assert out.x_num.dtype == np.float32 and out.x_cat.dtype == np.int64
    assert out.x_cat.shape == (4, 0)
    np.testing.assert_allclose(out.x_num.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(out.x_num.std(axis=0), 1.0, atol=1e-6)


def test_constant_column_has_unit_scale():
    X = pd.DataFrame({"c": [5.0, 5.0, 5.0]})
    np.testing.assert_array_equal(TabularEncoder().fit_encode(X).x_num, 0.0)


def test_nullable_dtypes_with_pd_na_are_numeric_with_indicators():
    X = pd.DataFrame(
        {
            "i": pd.array([1, None, 3, 4], dtype="Int64"),
            "f": pd.array([0.5, 1.5, None, 2.5], dtype="Float64"),
            "b": pd.array([True, False, None, True], dtype="boolean"),
        }
    )
    enc = TabularEncoder(numeric="none").fit(X)
    assert set(enc.column_kinds_.values()) == {"numeric"}
    assert enc.num_feature_names_ == [
        "i",
        "f",
        "b",
        "i__missing",
        "f__missing",
        "b__missing",
    ]
    x = enc.encode(X).x_num
    np.testing.assert_allclose(x[1, 0], np.mean([1, 3, 4]), rtol=1e-6)  # mean
    np.testing.assert_allclose(x[2, 1], 1.5, rtol=1e-6)
    np.testing.assert_allclose(x[:, 2], [1, 0, 2 / 3, 1], rtol=1e-6)
    np.testing.assert_array_equal(
        x[:, 3:], [[0, 0, 0], [1, 0, 0], [0, 1, 1], [0, 0, 0]]
    )


def test_bool_column_is_zero_one():
    X = pd.DataFrame({"b": [True, False, True]})
    enc = TabularEncoder(numeric="none").fit(X)
    assert enc.column_kinds_ == {"b": "numeric"}
    np.testing.assert_array_equal(enc.encode(X).x_num[:, 0], [1, 0, 1])


def test_timedelta_is_seconds():
    X = pd.DataFrame({"t": pd.to_timedelta([1, 90, None], unit="s")})
    x = TabularEncoder(numeric="none", missing_indicators=False).fit_encode(X).x_num
    np.testing.assert_allclose(x[:, 0], [1.0, 90.0, 45.5])


def test_category_keeps_declared_order_and_unused_categories():
    cat = pd.Categorical(["b", "a", None, "b"], categories=["z", "b", "a", "unused"])
    X = pd.DataFrame({"c": cat})
    enc = TabularEncoder().fit(X)
    assert enc.column_kinds_ == {"c": "categorical"}
    assert enc.categories_ == {"c": ["z", "b", "a", "unused"]}
    assert enc.cardinalities_ == [6]
    np.testing.assert_array_equal(enc.encode(X).x_cat[:, 0], [3, 4, 0, 3])


@pytest.mark.parametrize("dtype", [object, "string[python]", "string[pyarrow]", "str"])
def test_string_columns_are_categorical_with_sorted_vocabulary(dtype):
    X = pd.DataFrame({"s": pd.Series(["pear", "apple", None, "fig"], dtype=dtype)})
    enc = TabularEncoder().fit(X)
    assert enc.column_kinds_ == {"s": "categorical"}
    assert enc.categories_ == {"s": ["apple", "fig", "pear"]}
    assert all(type(v) is str for v in enc.categories_["s"])
    np.testing.assert_array_equal(enc.encode(X).x_cat[:, 0], [4, 2, 0, 3])


def test_mixed_type_object_column_sorts_by_str():
    X = pd.DataFrame({"m": pd.Series([3, "a", 1.5, np.int64(2)], dtype=object)})
    enc = TabularEncoder().fit(X)
    assert enc.categories_["m"] == [1.5, 2, 3, "a"]
    assert [type(v) for v in enc.categories_["m"]] == [float, int, int, str]
    np.testing.assert_array_equal(enc.encode(X).x_cat[:, 0], [4, 5, 2, 3])


def test_non_scalar_values_map_through_str():
    values = [pd.Period("2020-01"), pd.Period("2020-02"), None]
    X = pd.DataFrame({"p": pd.Series(values, dtype=object)})
    enc = TabularEncoder().fit(X)
    assert enc.categories_ == {"p": ["2020-01", "2020-02"]}
    np.testing.assert_array_equal(enc.encode(X).x_cat[:, 0], [2, 3, 0])


def _dates(tz=None):
    stamps = pd.to_datetime(
        ["2021-01-04 10:00", "2021-06-15 13:00", None, "2022-03-01 08:00"]
    )
    series = pd.Series(stamps)
    return series.dt.tz_localize("UTC").dt.tz_convert(tz) if tz else series


def test_datetime_features_naive_and_tz_aware_agree():
    naive = pd.DataFrame({"d": _dates()})
    aware = pd.DataFrame({"d": _dates("America/New_York")})
    enc_naive, enc_aware = TabularEncoder().fit(naive), TabularEncoder().fit(aware)
    assert enc_naive.column_kinds_ == {"d": "datetime"}
    assert enc_naive.num_feature_names_ == enc_aware.num_feature_names_
    assert "d__hour_sin" in enc_naive.num_feature_names_
    assert enc_naive.num_feature_names_[-1] == "d__missing"
    np.testing.assert_allclose(
        enc_naive.encode(naive).x_num, enc_aware.encode(aware).x_num
    )
    raw = TabularEncoder(numeric="none").fit(naive)
    row = dict(zip(raw.num_feature_names_, raw.encode(naive).x_num[0], strict=True))
    assert (row["d__year"], row["d__month"], row["d__day"]) == (2021, 1, 4)
    assert (row["d__dayofweek"], row["d__hour"]) == (0, 10)  # a Monday
    np.testing.assert_allclose(row["d__epoch"], 51.0, atol=0.02)
    assert row["d__missing"] == 0


def test_constant_datetime_features_are_dropped():
    X = pd.DataFrame({"d": pd.to_datetime(["2020-01-01", "2020-03-05", "2020-07-09"])})
    enc = TabularEncoder(datetime_features=("year", "month", "hour", "minute")).fit(X)
    assert enc.num_feature_names_ == ["d__month", "d__month_sin", "d__month_cos"]
    enc = TabularEncoder(datetime_features=["epoch"], datetime_cyclical=False).fit(X)
    assert enc.num_feature_names_ == ["d__epoch"]


def test_all_missing_column_is_dropped_with_one_warning():
    X = pd.DataFrame({"a": [1.0, 2.0], "e": [np.nan, np.nan], "s": [None, None]})
    with pytest.warns(UserWarning, match=r"\['e', 's'\]") as record:
        enc = TabularEncoder().fit(X)
    assert len([w for w in record if issubclass(w.category, UserWarning)]) == 1
    assert enc.dropped_columns_ == ["e", "s"]
    assert enc.column_kinds_ == {"a": "numeric", "e": "dropped", "s": "dropped"}
    later = pd.DataFrame({"a": [1.0], "e": [np.inf], "s": ["anything"]})
    assert enc.encode(later).x_num.shape == (1, 1)


# ------------------------------------------------------------------- errors


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_inf_raises_naming_the_column(value):
    X = pd.DataFrame({"ok": [1.0, 2.0], "bad": [1.0, value]})
    with pytest.raises(ValueError, match=r"inf.*'bad'"):
        TabularEncoder().fit(X)
    enc = TabularEncoder().fit(X.assign(bad=[1.0, 2.0]))
    with pytest.raises(ValueError, match=r"inf.*'bad'"):
        enc.encode(X)
    with pytest.raises(ValueError, match=r"inf.*'bad'"):
        enc.transform(X)


def test_scipy_sparse_input_is_rejected():
    X = sp.csr_matrix(np.eye(3))
    with pytest.raises(TypeError, match=r"(?i)sparse"):
        TabularEncoder().fit(X)


def test_pandas_sparse_column_is_rejected_naming_it():
    X = pd.DataFrame({"a": [1.0, 2.0], "s": pd.arrays.SparseArray([0.0, 1.0])})
    with pytest.raises(TypeError, match=r"'s'.*sparse"):
        TabularEncoder().fit(X)
    enc = TabularEncoder().fit(X.assign(s=[0.0, 1.0]))
    with pytest.raises(TypeError, match="sparse"):
        enc.encode(X)


@pytest.mark.parametrize(
    "change",
    [
        lambda X: X[["b", "a", "c"]],
        lambda X: X.rename(columns={"c": "z"}),
        lambda X: X[["a", "b"]],
        lambda X: X.assign(d=1.0),
    ],
    ids=["order", "names", "fewer", "more"],
)
def test_different_columns_at_transform_raise(change):
    X = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0], "c": [5.0, 6.0]})
    enc = TabularEncoder().fit(X)
    with pytest.raises(ValueError, match="feature"):
        enc.transform(change(X))


@pytest.mark.parametrize(
    ("X", "match"),
    [
        (pd.DataFrame({"a": [], "b": []}), r"0 sample\(s\) \(shape=\(0, 2\)\)"),
        (pd.DataFrame(index=[0, 1]), r"0 feature\(s\) \(shape=\(2, 0\)\)"),
        (np.empty((0, 3)), "0 sample"),
        ([1.0, 2.0], "Expected 2D array"),
        (np.array([[1 + 1j]]), "Complex data not supported"),
    ],
)
def test_check_table_rejects_bad_tables(X, match):
    with pytest.raises(ValueError, match=match):
        check_table(BaseEstimator(), X, reset=True)


def test_check_table_rejects_dicts():
    with pytest.raises(TypeError):
        check_table(BaseEstimator(), np.array([[{"a": 1}]], dtype=object), reset=True)


def test_check_table_returns_frames_unchanged_and_wraps_arrays():
    est = BaseEstimator()
    X = pd.DataFrame({"a": [1.0], "b": ["x"]})
    assert check_table(est, X, reset=True) is X
    assert est.feature_names_in_.tolist() == ["a", "b"]
    array = np.arange(6.0).reshape(3, 2)
    frame = check_table(est, array, reset=True)
    assert frame.columns.tolist() == ["x0", "x1"]
    assert np.shares_memory(frame.to_numpy(), array)
    assert not hasattr(est, "feature_names_in_")


def test_check_table_keeps_object_arrays_with_explicit_categoricals():
    X = np.array([["a", 1.0], ["b", 2.0]], dtype=object)
    frame = check_table(BaseEstimator(), X, reset=True, categorical_features=[0])
    assert frame.dtypes.tolist() == [object, object]


def test_non_numeric_column_without_categoricals_raises_naming_it():
    X = pd.DataFrame({"a": [1.0, 2.0], "s": ["x", "y"]})
    with pytest.raises(ValueError, match="'s'"):
        TabularEncoder(categorical_features=None).fit(X)


def test_complex_column_raises_naming_it():
    X = pd.DataFrame({"z": np.array([1 + 1j, 2.0])})
    with pytest.raises(ValueError, match=r"Complex.*'z'"):
        TabularEncoder().fit(X)


def test_categorical_features_validation():
    X = pd.DataFrame({"a": [1.0, 2.0], "b": [3, 4]})
    with pytest.raises(ValueError, match=r"\['nope'\]"):
        TabularEncoder(categorical_features=["nope"]).fit(X)
    with pytest.raises(ValueError, match=r"position\(s\) \[5\]"):
        TabularEncoder(categorical_features=[5]).fit(X)
    with pytest.raises(ValueError, match="boolean mask of length 1"):
        TabularEncoder(categorical_features=[True]).fit(X)
    with pytest.raises(ValueError, match="no string column names"):
        TabularEncoder(categorical_features=["x0"]).fit(X.to_numpy())
    for spec in (["b"], [1], [False, True]):
        enc = TabularEncoder(categorical_features=spec).fit(X)
        assert enc.column_kinds_ == {"a": "numeric", "b": "categorical"}
        assert enc.categories_ == {"b": [3, 4]}


def test_invalid_datetime_feature_and_duplicate_columns_raise():
    X = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(ValueError, match="'week'"):
        TabularEncoder(datetime_features=("week",)).fit(X)
    for names in (["a", "a"], [0, 0]):
        with pytest.raises(ValueError, match="unique column names"):
            TabularEncoder().fit(pd.DataFrame([[1.0, 2.0]], columns=names))


def test_invalid_parameter_is_rejected_at_fit():
    with pytest.raises(ValueError, match="numeric"):
        TabularEncoder(numeric="minmax").fit(np.ones((3, 1)))


def test_transform_before_fit_raises():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        TabularEncoder().encode(np.ones((2, 2)))


# ---------------------------------------------------------- input safety


def test_callers_frame_is_never_modified(mixed_frame):
    X, y = mixed_frame
    X = X.assign(
        when=pd.date_range("2020-01-01", periods=len(X), freq="h", tz="UTC"),
        gone=np.nan,
        obj=pd.Series(["u", None, 3] * (len(X) // 3), dtype=object),
    ).set_index(pd.RangeIndex(100, 100 + len(X)))
    before = X.copy(deep=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for params in ({}, {"categorical": "target"}, {"numeric": "quantile"}):
            enc = TabularEncoder(**params, random_state=0)
            enc.fit_encode(X, y)
            enc.encode(X)
            enc.transform(X)
            enc.fit_transform(X, y)
    pd.testing.assert_frame_equal(X, before, check_exact=True)


def test_caller_array_is_never_modified():
    X = np.array([[1.0, np.nan], [3.0, 4.0], [5.0, 6.0]])
    before = X.copy()
    TabularEncoder().fit_transform(X)
    np.testing.assert_array_equal(X, before)
    assert X.flags.writeable


def test_global_rng_is_untouched(mixed_frame):
    X, y = mixed_frame
    state = np.random.get_state()  # noqa: NPY002 (the global RNG)
    for random_state in (0, None, np.random.RandomState(1)):
        TabularEncoder(
            categorical="target",
            numeric="quantile",
            quantile_noise=1e-3,
            random_state=random_state,
        ).fit_encode(X, y)
    after = np.random.get_state()  # noqa: NPY002
    assert state[0] == after[0]
    np.testing.assert_array_equal(state[1], after[1])
    assert state[2:] == after[2:]


# ------------------------------------------------------------- categories


def test_unseen_infrequent_and_missing_codes():
    train = pd.DataFrame({"c": ["a"] * 5 + ["b"] * 3 + ["rare"] + [None]})
    enc = TabularEncoder(min_frequency=2).fit(train)
    assert enc.categories_ == {"c": ["a", "b"]}
    assert enc.cardinalities_ == [4]
    test = pd.DataFrame({"c": ["a", "b", "rare", "new", None]})
    np.testing.assert_array_equal(enc.encode(test).x_cat[:, 0], [2, 3, 1, 1, 0])
    enc = TabularEncoder(max_categories=2).fit(pd.DataFrame({"c": list("aaabbbbc")}))
    assert enc.categories_ == {"c": ["a", "b"]}
    np.testing.assert_array_equal(
        enc.encode(pd.DataFrame({"c": ["c", "b"]})).x_cat[:, 0], [1, 3]
    )


def test_category_codes_at_transform_with_other_categories():
    train = pd.DataFrame({"c": pd.Categorical(["x", "y"], categories=["y", "x"])})
    enc = TabularEncoder().fit(train)
    test = pd.DataFrame({"c": pd.Categorical(["x", "q", None], categories=["q", "x"])})
    np.testing.assert_array_equal(enc.encode(test).x_cat[:, 0], [3, 1, 0])
    as_strings = pd.DataFrame({"c": ["y", "x"]})
    np.testing.assert_array_equal(enc.encode(as_strings).x_cat[:, 0], [2, 3])


def test_onehot_view_and_names():
    X = pd.DataFrame(
        {"n": [1.0, 2.0, 3.0, 4.0], "c": pd.Series(["u", "v", None, "u"], dtype="str")}
    )
    enc = TabularEncoder(categorical="onehot").fit(X)
    names = enc.get_feature_names_out().tolist()
    assert names == ["n", "c_u", "c_v", "c__missing"]
    out = enc.transform(pd.DataFrame({"n": [0.0, 0.0, 0.0], "c": ["v", "new", None]}))
    np.testing.assert_array_equal(out[:, 1:], [[0, 1, 0], [0, 0, 0], [0, 0, 1]])
    assert enc.encode(X).x_cat.tolist() == [[2], [3], [0], [2]]


def test_codes_view_is_codes_as_floats():
    X = pd.DataFrame({"n": [1.0, 2.0], "c": ["a", "b"]})
    enc = TabularEncoder().fit(X)
    assert enc.get_feature_names_out().tolist() == ["n", "c"]
    np.testing.assert_array_equal(enc.transform(X)[:, 1], [2.0, 3.0])


def test_missing_at_transform_only_is_imputed_without_indicator():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    enc = TabularEncoder().fit(X)
    out = enc.encode(pd.DataFrame({"a": [np.nan, 2.0]}))
    assert out.x_num.shape == (2, 1)
    np.testing.assert_allclose(out.x_num[:, 0], [0.0, 0.0], atol=1e-7)


def test_missing_indicators_can_be_disabled():
    X = pd.DataFrame({"a": [1.0, np.nan, 3.0]})
    enc = TabularEncoder(missing_indicators=False).fit(X)
    assert enc.num_feature_names_ == ["a"]


def test_numpy_input_with_object_categorical_column():
    X = np.array(
        [["red", 1.0], ["blue", 2.0], [None, 3.0], ["red", np.nan]], dtype=object
    )
    enc = TabularEncoder(categorical_features=[0]).fit(X)
    assert enc.column_kinds_ == {"x0": "categorical", "x1": "numeric"}
    assert enc.categories_ == {"x0": ["blue", "red"]}
    out = enc.encode(X)
    np.testing.assert_array_equal(out.x_cat[:, 0], [3, 2, 0, 3])
    assert enc.num_feature_names_ == ["x1", "x1__missing"]
    assert not hasattr(enc, "feature_names_in_")


def test_integer_column_names_are_displayed_as_str():
    X = pd.DataFrame({0: [1.0, 2.0], 1: ["a", "b"]})
    enc = TabularEncoder().fit(X)
    assert enc.column_kinds_ == {"0": "numeric", "1": "categorical"}
    assert enc.get_feature_names_out().tolist() == ["0", "1"]
    assert not hasattr(enc, "feature_names_in_")


# ---------------------------------------------------------- target statistics


def test_target_statistics_are_out_of_fold_in_fit_transform():
    rng = np.random.default_rng(0)
    n = 200
    y = rng.integers(0, 2, n)
    X = pd.DataFrame({"id": [f"row{i}" for i in range(n)], "x": rng.normal(size=n)})
    enc = TabularEncoder(categorical="target", random_state=0)
    train = enc.fit_transform(X, y)
    column = enc.get_feature_names_out().tolist().index("id__target")
    # every id is unseen in the other folds: its statistic is the fold's prior
    assert np.corrcoef(train[:, column], y)[0, 1] < 0.5
    np.testing.assert_allclose(train[:, column], y.mean(), atol=0.05)
    np.testing.assert_allclose(enc.fit_encode(X, y).x_num, train, rtol=1e-6)
    # transform uses all rows: (y + m * prior) / (1 + m)
    expected = (y + 10.0 * y.mean()) / (1 + 10.0)
    np.testing.assert_allclose(enc.transform(X)[:, column], expected)


def test_target_statistics_binary_values():
    X = pd.DataFrame({"c": ["a", "a", "a", "b", "b", None]})
    y = np.array(["no", "yes", "yes", "no", "no", "yes"])
    enc = TabularEncoder(categorical="target", target_smoothing=0.0).fit(X, y)
    assert enc.target_type_ == "binary"
    assert enc.classes_.tolist() == ["no", "yes"]
    assert enc.num_feature_names_ == ["c__target"]
    assert enc.cat_feature_names_ == [] and enc.cardinalities_ == []
    test = pd.DataFrame({"c": ["a", "b", None, "new"]})
    np.testing.assert_allclose(enc.encode(test).x_num[:, 0], [2 / 3, 0, 1, 0.5])


def test_target_statistics_multiclass_one_column_per_class():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"c": rng.choice(list("pqr"), 90)})
    y = rng.choice(["cat", "dog", "eel"], 90)
    enc = TabularEncoder(categorical="target", random_state=0).fit(X, y)
    assert enc.target_type_ == "multiclass"
    assert enc.num_feature_names_ == ["c__target_cat", "c__target_dog", "c__target_eel"]
    x = enc.encode(X).x_num
    assert x.shape == (90, 3)
    np.testing.assert_allclose(x.sum(axis=1), 1.0, rtol=1e-6)
    assert enc.fit_transform(X, y).shape == (90, 3)


def test_target_statistics_continuous_target():
    X = pd.DataFrame({"c": list("aabb")})
    y = np.array([1.0, 2.0, 10.0, 11.5])
    enc = TabularEncoder(categorical="target", target_smoothing=0.0).fit(X, y)
    assert enc.target_type_ == "continuous" and not hasattr(enc, "classes_")
    z = (y - y.mean()) / y.std()
    np.testing.assert_allclose(
        enc.encode(X).x_num[:, 0], np.repeat([z[:2].mean(), z[2:].mean()], 2), rtol=1e-6
    )


def test_auto_strategy_mixes_onehot_and_target():
    rng = np.random.default_rng(2)
    X = pd.DataFrame(
        {"low": rng.choice(list("ab"), 60), "high": rng.choice(list("abcdefgh"), 60)}
    )
    y = rng.integers(0, 2, 60)
    enc = TabularEncoder(categorical="auto", onehot_max_cardinality=3, random_state=0)
    out = enc.fit_transform(X, y)
    assert enc.num_feature_names_ == ["high__target"]
    assert enc.cat_feature_names_ == ["low"]
    assert enc.get_feature_names_out().tolist() == ["high__target", "low_a", "low_b"]
    assert out.shape == (60, 3)


def test_target_strategy_errors():
    X = pd.DataFrame({"c": list("abab")})
    with pytest.raises(ValueError, match="needs y"):
        TabularEncoder(categorical="target").fit(X)
    with pytest.raises(ValueError, match="multi-output"):
        TabularEncoder(categorical="target").fit(X, np.ones((4, 2)))
    with pytest.raises(ValueError, match="3 class"):
        TabularEncoder(categorical="target", target_type="binary").fit(X, [0, 1, 2, 0])
    # no categorical column: y is not needed
    TabularEncoder(categorical="target").fit(pd.DataFrame({"a": [1.0, 2.0]}))


# ------------------------------------------------------------------ quantile


def test_quantile_output_is_standard_normal():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"e": rng.exponential(size=3000), "u": rng.uniform(size=3000)})
    x = TabularEncoder(numeric="quantile").fit_encode(X).x_num
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=0.05)
    np.testing.assert_allclose(x.std(axis=0), 1.0, atol=0.1)
    np.testing.assert_allclose(np.median(x, axis=0), 0.0, atol=0.05)


def test_quantile_noise_is_seeded():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {"d": rng.integers(0, 3, 300).astype(float), "n": rng.normal(size=300)}
    )

    def run(seed):
        enc = TabularEncoder(numeric="quantile", quantile_noise=1e-3, random_state=seed)
        return enc.fit_encode(X).x_num

    np.testing.assert_array_equal(run(0), run(0))
    assert not np.array_equal(run(0), run(1))


def test_quantile_imputes_the_median():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, np.nan, 5.0]})
    x = TabularEncoder(numeric="quantile").fit_encode(X).x_num
    assert abs(x[3, 0]) < 0.2 and x[3, 1] == 1.0


# -------------------------------------------------------- scikit-learn view


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"categorical": "onehot"},
        {"categorical": "target"},
        {"categorical": "auto", "onehot_max_cardinality": 2},
        {"numeric": "quantile"},
        {"numeric": "none"},
    ],
)
def test_feature_names_match_transform_and_fit_transform_matches_fit_encode(
    params, mixed_frame
):
    X, y = mixed_frame
    enc = TabularEncoder(**params, random_state=0)
    table = enc.fit_encode(X, y)
    assert isinstance(table, EncodedTable)
    assert table.x_num.shape == (len(X), len(enc.num_feature_names_))
    assert table.x_cat.shape == (len(X), len(enc.cat_feature_names_))
    out = clone(enc).fit_transform(X, y)
    assert out.dtype == np.float64
    assert out.shape[1] == len(enc.get_feature_names_out())
    assert enc.transform(X).shape == out.shape
    np.testing.assert_allclose(out[:, : table.x_num.shape[1]], table.x_num, rtol=1e-6)
    if params.get("categorical", "codes") == "codes":
        np.testing.assert_array_equal(out[:, table.x_num.shape[1] :], table.x_cat)
    _assert_plain(_fitted_state(enc))


def test_set_output_pandas_keeps_index(mixed_frame):
    X, _ = mixed_frame
    X = X.set_axis(pd.Index([f"r{i}" for i in range(len(X))]), axis=0)
    enc = TabularEncoder(categorical="onehot").set_output(transform="pandas")
    out = enc.fit_transform(X)
    assert isinstance(out, pd.DataFrame)
    assert out.index.equals(X.index)
    assert out.columns.tolist() == enc.get_feature_names_out().tolist()
    assert enc.transform(X).index.equals(X.index)


def test_get_feature_names_out_input_features():
    enc = TabularEncoder().fit(np.array([[1.0, np.nan], [2.0, 3.0]]))
    assert enc.get_feature_names_out().tolist() == ["x0", "x1", "x1__missing"]
    assert enc.get_feature_names_out(["p", "q"]).tolist() == ["p", "q", "q__missing"]
    with pytest.raises(ValueError, match="input_features should have length"):
        enc.get_feature_names_out(["p"])


def test_clone_and_pickle_round_trip(mixed_frame):
    X, y = mixed_frame
    enc = TabularEncoder(categorical="target", numeric="quantile", random_state=0)
    expected = enc.fit_encode(X, y)
    restored = pickle.loads(pickle.dumps(enc))
    for a, b in zip(restored.encode(X), enc.encode(X), strict=True):
        np.testing.assert_array_equal(a, b)
    again = clone(enc).fit_encode(X, y)
    for a, b in zip(again, expected, strict=True):
        np.testing.assert_array_equal(a, b)


def test_fitted_state_is_plain_data(mixed_frame):
    X, y = mixed_frame
    X = X.assign(when=pd.date_range("2020-01-01", periods=len(X), freq="D"))
    enc = TabularEncoder(categorical="auto", onehot_max_cardinality=2, random_state=0)
    enc.fit(X, y)
    _assert_plain(_fitted_state(enc))
    assert set(enc.column_kinds_.values()) == {"numeric", "categorical", "datetime"}


def test_mixed_frame_kinds(mixed_frame):
    X, _ = mixed_frame
    enc = TabularEncoder().fit(X)
    assert enc.column_kinds_ == {
        "num": "numeric",
        "count": "numeric",
        "nullable": "numeric",
        "cat": "categorical",
        "city": "categorical",
        "flag": "numeric",
    }
    assert enc.cat_feature_names_ == ["cat", "city"]
    assert enc.categories_ == {"cat": ["a", "b", "c"], "city": ["x", "y", "z"]}
    assert enc.cardinalities_ == [5, 5]


def test_numpy_declared_categorical_dropped_at_fit_is_ignored_at_transform():
    X = np.array([[None, 1.0], [None, 2.0]], dtype=object)
    with pytest.warns(UserWarning, match="x0"):
        enc = TabularEncoder(categorical_features=[0]).fit(X)
    later = np.array([["text", 3.0]], dtype=object)
    assert enc.transform(later).shape == (1, 1)


def test_refit_replaces_vocabularies():
    enc = TabularEncoder()
    enc.fit(pd.DataFrame({"c": ["a", "b"]}))
    np.testing.assert_array_equal(enc.encode(pd.DataFrame({"c": ["b"]})).x_cat, [[3]])
    enc.fit(pd.DataFrame({"c": ["b", "z"]}))
    np.testing.assert_array_equal(
        enc.encode(pd.DataFrame({"c": ["b", "a"]})).x_cat, [[2], [1]]
    )


# ------------------------------------------------------------ sample weights


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"numeric": "quantile"},
        {"numeric": "none", "categorical": "onehot", "min_frequency": 3},
        {"categorical": "target", "target_smoothing": 2.0},
    ],
)
def test_sample_weight_equals_repetition(params):
    rng = np.random.default_rng(3)
    n = 40
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.integers(0, 4, n).astype(float),
            "c": rng.choice(["p", "q", "r"], n),
        }
    )
    weight = rng.integers(0, 4, n)
    weight[0] = 0
    X.loc[0, "a"], X.loc[0, "c"] = np.nan, "only-in-a-zero-weight-row"
    y = rng.integers(0, 2, n)
    keep = np.repeat(np.arange(n), weight)
    weighted = TabularEncoder(**params).fit(X, y, sample_weight=weight)
    repeated = TabularEncoder(**params).fit(X.iloc[keep], y[keep])
    assert weighted.get_feature_names_out().tolist() == (
        repeated.get_feature_names_out().tolist()
    )
    assert weighted.categories_ == repeated.categories_
    np.testing.assert_allclose(weighted.transform(X), repeated.transform(X), atol=1e-9)


def test_sample_weight_errors():
    X = np.arange(6.0).reshape(3, 2)
    with pytest.raises(ValueError, match="Negative"):
        TabularEncoder().fit(X, sample_weight=[1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="zero"):
        TabularEncoder().fit(X, sample_weight=np.zeros(3))
    with pytest.raises(ValueError, match=r"sample_weight\.shape"):
        TabularEncoder().fit(X, sample_weight=[1.0, 1.0])


def test_non_integer_sample_weight_scale_does_not_matter():
    rng = np.random.default_rng(4)
    X = pd.DataFrame({"a": rng.normal(size=50), "c": rng.choice(list("xyz"), 50)})
    weight = rng.uniform(0.1, 2.0, 50)
    params = {"numeric": "quantile", "categorical": "onehot", "min_frequency": 10}
    small = TabularEncoder(**params).fit(X, sample_weight=weight / weight.sum())
    large = TabularEncoder(**params).fit(X, sample_weight=weight * 7.3)
    np.testing.assert_allclose(small.transform(X), large.transform(X), atol=1e-9)
    assert small.categories_ == large.categories_
    uniform = TabularEncoder(**params).fit(X, sample_weight=np.full(50, 0.02))
    np.testing.assert_allclose(
        uniform.transform(X), TabularEncoder(**params).fit(X).transform(X), atol=1e-9
    )
