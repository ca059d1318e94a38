# SPDX-License-Identifier: BSD-3-Clause
"""Tests of the pytorch-frame ExcelFormer anchors (``benchmarks/frame_models.py``).

Tiny data and a few epochs keep the file fast; torch_frame is optional (skipped
when missing unless ``TABKIT_REQUIRE_DATA=1``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_classification

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks import frame_models, models, protocol  # noqa: E402

NAMES = ("frame_excelformer_example", "frame_excelformer_tabkit")
#: Epochs of the tiny fits.
EPOCHS = 3

pytestmark = pytest.mark.filterwarnings(
    "ignore:The given NumPy array is not writable:UserWarning"
)


@pytest.fixture(autouse=True)
def _torch_frame(optional_import):
    optional_import("torch_frame")


def _binary(n=160, seed=0):
    """Numeric with NaN, nullable int, category and string with NaN, bool."""
    rng = np.random.default_rng(seed)
    num = rng.normal(size=n)
    num[::11] = np.nan
    X = pd.DataFrame(
        {
            "num": num,
            "count": rng.integers(0, 10, size=n),
            "nullable": pd.array(
                [None if i % 7 == 0 else i % 5 for i in range(n)], dtype="Int64"
            ),
            "cat": pd.Categorical(rng.choice(["a", "b", "c", None], size=n)),
            "city": pd.Series(rng.choice(["x", "y", "z", None], size=n), dtype="str"),
            "flag": rng.integers(0, 2, size=n).astype(bool),
        }
    )
    logit = np.nan_to_num(num) + 1.5 * (X["cat"] == "a").to_numpy() - 0.5
    y = np.where(logit + rng.normal(scale=0.5, size=n) > 0, "yes", "no")
    return X, y, "binary"


def _multiclass(n=180):
    X, y = make_classification(
        n_samples=n, n_features=5, n_informative=3, n_classes=3, random_state=1
    )
    X = pd.DataFrame(X, columns=[f"f{j}" for j in range(5)])
    X["level"] = pd.Categorical(np.where(X["f0"] > 0, "hi", "lo"))
    return X, np.array([10, 20, 30])[y], "multiclass"


def _regression(n=160):
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"))
    X.loc[::9, "b"] = np.nan
    X["kind"] = pd.Series(rng.choice(["u", "v"], size=n), dtype=object)
    y = 100 + 10 * X["a"].to_numpy() + 5 * (X["kind"] == "u").to_numpy()
    return X, y + rng.normal(size=n), "regression"


CASES = {"binary": _binary, "multiclass": _multiclass, "regression": _regression}


def _fit(name, data, *, seed=0, epochs=EPOCHS, **attrs):
    X, y, task = data
    split = protocol.make_split(y, task, seed)
    adapter = models.make_model(name)
    adapter.max_epochs = epochs
    for key, value in attrs.items():
        setattr(adapter, key, value)
    adapter.fit(
        X.iloc[split.train],
        y[split.train],
        X.iloc[split.val],
        y[split.val],
        task=task,
        seed=seed,
        threads=1,
    )
    parts = {k: (X.iloc[i], y[i]) for k, i in split._asdict().items()}
    return adapter, parts


def test_registered_and_cheap():
    for name in NAMES:
        adapter = models.make_model(name)
        assert isinstance(adapter, models.ModelAdapter)
        assert adapter.name == name
        assert (adapter.family, adapter.uses_torch) == ("reference", True)
        assert adapter.modules == ("torch_frame",)
        assert adapter.budget_s is None
    example = models.make_model("frame_excelformer_example")
    assert (example.channels, example.batch_size, example.num_layers) == (256, 512, 5)
    assert (example.num_heads, example.lr, example.gamma) == (4, 1e-3, 0.95)
    assert (example.max_epochs, example.diam_dropout, example.mixup) == (100, 0.3, None)
    assert example.patience is None
    tabkit = models.make_model("frame_excelformer_tabkit")
    assert (tabkit.channels, tabkit.num_layers, tabkit.num_heads) == (64, 3, 4)
    assert (tabkit.batch_size, tabkit.max_epochs, tabkit.patience) == (256, 100, 16)
    assert tabkit.monitor == "loss"
    assert tabkit.config == "tabkit_c64_L3_H4_b256_e100_p16"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_fit_predict_shapes(name, case):
    data = CASES[case]()
    adapter, parts = _fit(name, data)
    X_test, y_test = parts["test"]
    pred = adapter.predict(X_test)
    assert pred.shape == y_test.shape
    info = adapter.fit_info()
    assert info["epochs_run"] == EPOCHS
    assert info["stop_reason"] == "max_epochs"
    assert not info["budget_cut"]
    assert 1 <= info["best_epoch"] <= info["epochs_run"]
    assert info["batch_size"] == min(adapter.batch_size, len(parts["train"][1]))
    if case == "regression":
        assert np.all(np.isfinite(pred))
        # De-standardised: on the scale of the target, not around 0.
        assert abs(np.mean(pred) - np.mean(y_test)) < 3 * np.std(y_test)
        with pytest.raises(AttributeError):
            adapter.predict_proba(X_test)
        return
    proba = adapter.predict_proba(X_test)
    labels = np.unique(data[1])
    assert proba.shape == (len(y_test), len(labels))
    assert np.allclose(proba.sum(axis=1), 1)
    assert np.array_equal(adapter.classes_, labels)
    assert set(pred) <= set(labels)
    assert np.array_equal(pred, adapter.classes_[proba.argmax(axis=1)])


def test_multiclass_categoricals_expand_and_subset_labels():
    """CatToNum gives C-1 columns per categorical; frames with labels 0/1 only
    or no labels at all (prediction) still transform (workaround of #446)."""
    adapter, parts = _fit("frame_excelformer_tabkit", _multiclass())
    assert adapter.fit_info()["n_model_columns"] == 5 + 2
    X_val, y_val = parts["val"]
    few = np.isin(y_val, [10, 20])
    tf = adapter._tensor_frame(X_val[few], adapter._encode_target(y_val[few]))
    assert tf.num_cols == 7
    assert adapter.predict_proba(X_val[few]).shape == (few.sum(), 3)


def test_unseen_levels_and_missing_values_predict():
    adapter, parts = _fit("frame_excelformer_tabkit", _binary())
    X_test = parts["test"][0].copy()
    X_test["cat"] = pd.Categorical(["zzz"] * len(X_test))
    X_test["num"] = np.nan
    proba = adapter.predict_proba(X_test)
    assert np.all(np.isfinite(proba))
    one = X_test.iloc[:1].assign(
        city=pd.Series([None], dtype="str", index=X_test.index[:1])
    )
    assert adapter.predict_proba(one).shape == (1, 2)


def test_budget_cuts_training():
    adapter, _ = _fit("frame_excelformer_tabkit", _binary(), epochs=50, budget_s=1e-6)
    info = adapter.fit_info()
    assert info["budget_cut"]
    assert info["stop_reason"] == "budget"
    assert info["epochs_run"] == 1
    assert info["budget_s"] == 1e-6


def test_best_validation_epoch_is_restored():
    """After fit, the model is the best-validation-loss epoch's model."""
    X, y, task = _multiclass()
    y = np.random.default_rng(5).permutation(y)  # noise: the val loss turns up
    adapter, parts = _fit("frame_excelformer_tabkit", (X, y, task), epochs=8, lr=1e-2)
    info = adapter.fit_info()
    assert 1 <= info["best_epoch"] < info["epochs_run"] == 8
    X_val, y_val = parts["val"]
    proba = adapter.predict_proba(X_val)
    index = np.searchsorted(adapter.classes_, y_val)
    val_loss = -np.mean(np.log(proba[np.arange(len(y_val)), index]))
    assert val_loss == pytest.approx(info["best_val_loss"], rel=1e-4)


def test_example_selects_on_the_validation_metric():
    adapter, parts = _fit("frame_excelformer_example", _regression(), epochs=2)
    info = adapter.fit_info()
    assert info["monitor"] == "metric"
    X_val, y_val = parts["val"]
    rmse = np.sqrt(np.mean((adapter.predict(X_val) - y_val) ** 2))
    assert rmse == pytest.approx(info["best_val_metric"], rel=1e-4)


def test_patience_stops_early():
    adapter, _ = _fit(
        "frame_excelformer_tabkit", _multiclass(), epochs=40, patience=1, lr=3e-2
    )
    info = adapter.fit_info()
    assert info["stop_reason"] == "early_stopping"
    assert info["epochs_run"] == info["best_epoch"] + 1 < 40


def test_seeded_and_leaves_global_rng_alone():
    data = _binary()
    state = torch.random.get_rng_state()
    a, parts = _fit("frame_excelformer_tabkit", data, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    b, _ = _fit("frame_excelformer_tabkit", data, seed=3)
    X_test = parts["test"][0]
    assert np.array_equal(a.predict_proba(X_test), b.predict_proba(X_test))


def test_sizes_are_module_constants():
    assert frame_models.TABKIT_CHANNELS == 64
    assert frame_models.TABKIT_PATIENCE == 16
    assert frame_models.EXAMPLE_CHANNELS == 256
