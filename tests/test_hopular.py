"""HopularClassifier / HopularRegressor and the Hopular network."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_regression

from tabkit import HopularClassifier, HopularRegressor, load
from tabkit.estimators._hopular import FAITHFUL_PRESET, _duplicate_groups
from tabkit.nn import Hopular
from tabkit.nn.hopular import Slots, corrupt, feature_loss_weight

FAST = {
    "feature_size": 8,
    "n_blocks": 1,
    "n_heads": 2,
    "max_epochs": 15,
    "batch_size": 64,
    "memory_size": 128,
    "learning_rate": 3e-3,
    "random_state": 0,
}


@pytest.fixture(scope="module")
def signal():
    """Binary target from two numbers and a category; missing values in both."""
    rng = np.random.default_rng(0)
    n = 600
    X = pd.DataFrame(
        {
            "strong": rng.normal(size=n),
            "weak": rng.normal(size=n),
            "noise": rng.normal(size=n),
            "kind": pd.Categorical(rng.choice(["p", "q", "r"], n)),
        }
    )
    logit = 3 * X["strong"] + 0.7 * X["weak"] + (X["kind"] == "r") * 1.5
    y = (logit + rng.logistic(size=n) > 0).astype(int).to_numpy()
    X.loc[rng.random(n) < 0.1, "noise"] = np.nan
    X.loc[rng.random(n) < 0.1, "kind"] = np.nan
    return X, y


def _training_outputs(clf, X, memory, leave_self_out=True):
    """Outputs of the training rows as queries (target unknown) in eval mode."""
    encoded = clf._inputs(clf._validate_inputs(X, reset=False), torch.device("cpu"))
    queries = clf._target_slot(clf._feature_slots(encoded), None)
    groups = _duplicate_groups(memory)
    attend = groups[:, None] != groups[None, :] if leave_self_out else None
    module = clf.module_.eval()
    with torch.no_grad():
        return module(queries, module.memory_keys(module.embed(memory)), attend)


@pytest.mark.parametrize("duplicated", [False, True])
def test_leave_self_out_hides_a_rows_own_label(duplicated):
    """In training a query cannot read its own label, nor an exact duplicate's.

    So no training loss can be lowered by copying labels from the memory: the
    output of row 0 does not move when the stored label of row 0 (or of its
    duplicate) changes, while other rows do read it, and without the mask row 0
    reads it too.
    """
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    y = rng.integers(0, 2, 60)
    if duplicated:
        X, y = pd.concat([X, X], ignore_index=True), np.concatenate([y, y])
    clf = HopularClassifier(**dict(FAST, max_epochs=3, memory_size=None)).fit(X, y)
    memory = clf._memory_rows()
    flipped_cat = memory.cat.clone()
    changed = 60 if duplicated else 0  # the duplicate's label, or the row's own
    flipped_cat[changed, -1] = 3 - flipped_cat[changed, -1]
    flipped = Slots(memory.num, memory.flag, flipped_cat)
    before = _training_outputs(clf, X, memory)
    groups = _duplicate_groups(memory)
    after = clf.module_(
        clf._target_slot(
            clf._feature_slots(
                clf._inputs(clf._validate_inputs(X, reset=False), torch.device("cpu"))
            ),
            None,
        ),
        clf.module_.memory_keys(clf.module_.embed(flipped)),
        groups[:, None] != groups[None, :],
    ).detach()
    torch.testing.assert_close(after[0], before[0], rtol=0, atol=1e-6)
    assert (after[1:] - before[1:]).abs().max() > 1e-6  # others read it
    open_before = _training_outputs(clf, X, memory, leave_self_out=False)
    open_after = _training_outputs(clf, X, flipped, leave_self_out=False)
    assert (open_after[0] - open_before[0]).abs().max() > 1e-6
    if duplicated:
        assert groups[0] == groups[60] and len(groups.unique()) == 60


def test_corruption_rates_and_missing_entries():
    g = torch.Generator().manual_seed(0)
    n = 20_000
    num = torch.randn(n, 2)
    flag = torch.zeros(n, 2)
    flag[: n // 4, 1] = 1.0  # a quarter of column 1 is missing
    num[: n // 4, 1] = 0.0
    cat = torch.randint(1, 5, (n, 1))
    cat[: n // 2, 0] = 0  # half of the categories unknown
    rows = Slots(num, flag, cat)
    out, sel_num, sel_cat = corrupt(
        rows, [4], select=0.5, mask=0.1, replace=0.3, generator=g
    )
    known = flag[:, 0] < 0.5
    assert sel_num[:, 0].float().mean().item() == pytest.approx(0.5, abs=0.02)
    assert not sel_num[: n // 4, 1].any() and not sel_cat[: n // 2].any()
    masked = sel_num[:, 0] & (out.flag[:, 0] > 0.5)
    assert masked.sum() / sel_num[:, 0].sum() == pytest.approx(0.1, abs=0.015)
    assert (out.num[masked, 0] == 0).all()
    changed = sel_num[:, 0] & ~masked & (out.num[:, 0] != num[:, 0])
    assert changed.sum() / sel_num[:, 0].sum() == pytest.approx(0.3, abs=0.02)
    assert torch.equal(out.num[~sel_num[:, 0] & known, 0], num[~sel_num[:, 0], 0])
    # missing entries stay unknown and untouched
    assert (out.flag[: n // 4, 1] == 1).all() and (out.num[: n // 4, 1] == 0).all()
    cat_masked = sel_cat[:, 0] & (out.cat[:, 0] == 0)
    assert cat_masked.sum() / sel_cat.sum() == pytest.approx(0.1, abs=0.02)
    assert out.cat.min() >= 0 and out.cat.max() <= 4


def test_annealing_schedule():
    assert feature_loss_weight(0, 100) == 1.0
    assert feature_loss_weight(50, 100) == pytest.approx(0.5)
    assert feature_loss_weight(100, 100) == pytest.approx(0.0)
    assert feature_loss_weight(250, 100) == pytest.approx(0.0)  # stays at the end
    assert feature_loss_weight(50, 100, start=0.8, end=0.2) == pytest.approx(0.5)
    # the reference: 5,000 epochs against a 10,000-epoch horizon end at 0.5
    assert feature_loss_weight(5000, 10_000) == pytest.approx(0.5)
    assert FAITHFUL_PRESET["max_epochs"] == 5000
    assert FAITHFUL_PRESET["anneal_epochs"] == 10_000


def test_learns_with_missing_values_and_unseen_categories(signal):
    X, y = signal
    clf = HopularClassifier(**dict(FAST, max_epochs=40)).fit(X, y)
    assert clf.score(X, y) > 0.8
    # missing numbers are flagged unknown in the stored memory, not zero-valued
    noise = list(clf.memory_num_.shape)
    assert noise[0] == len(X)
    missing = X["noise"].isna().to_numpy()
    column = 2
    assert (clf.memory_flag_[missing, column] == 1).all()
    assert (clf.memory_flag_[~missing, column] == 0).all()
    # a missing category is code 0 (unknown) in memory
    assert (clf.memory_cat_[X["kind"].isna().to_numpy(), 0] == 0).all()
    new = X.iloc[:5].copy()
    new["kind"] = pd.Categorical(["zzz", "p", None, "q", "zzz"])
    proba = clf.predict_proba(new)
    assert np.isfinite(proba).all() and proba.shape == (5, 2)


def test_deterministic_and_batch_independent(signal):
    X, y = signal
    state = torch.random.get_rng_state()
    a = HopularClassifier(**FAST).fit(X, y)
    assert torch.equal(state, torch.random.get_rng_state())
    b = HopularClassifier(**FAST).fit(X, y)
    pa = a.predict_proba(X)
    np.testing.assert_array_equal(pa, b.predict_proba(X))
    rows = np.vstack([a.predict_proba(X.iloc[[i]]) for i in range(0, 600, 37)])
    np.testing.assert_array_equal(rows, pa[::37])
    shuffled = np.random.default_rng(0).permutation(len(X))
    np.testing.assert_array_equal(a.predict_proba(X.iloc[shuffled]), pa[shuffled])


def test_sample_weight_zero_equals_dropping_rows(signal):
    X, y = signal
    w = np.ones(len(X))
    w[::3] = 0
    weighted = HopularClassifier(**FAST).fit(X, y, sample_weight=w)
    dropped = HopularClassifier(**FAST).fit(X[w > 0], y[w > 0])
    assert len(weighted.memory_num_) == (w > 0).sum()
    np.testing.assert_allclose(
        weighted.predict_proba(X), dropped.predict_proba(X), rtol=0, atol=1e-6
    )


def test_regression_multiclass_and_memory_options():
    X, y = make_regression(n_samples=300, n_features=4, noise=1.0, random_state=0)
    y = y * 100 + 5000
    reg = HopularRegressor(**dict(FAST, max_epochs=40)).fit(X, y)
    assert reg.score(X, y) > 0.5
    assert abs(reg.predict(X).mean() - y.mean()) < y.std()
    rng = np.random.default_rng(0)
    Xc = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    yc = np.digitize(Xc["a"], [-0.5, 0.5])  # 3 classes
    clf = HopularClassifier(**dict(FAST, max_epochs=30)).fit(Xc, yc)
    assert clf.predict_proba(Xc).shape == (300, 3) and clf.score(Xc, yc) > 0.7
    sampled = HopularClassifier(
        **dict(FAST, max_epochs=30, memory_size=100, predict_memory="sampled")
    ).fit(Xc, yc)
    assert sampled.score(Xc, yc) > 0.7
    full = HopularClassifier(**dict(FAST, max_epochs=3, memory_size=None)).fit(Xc, yc)
    assert full.predict(Xc).shape == (300,)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_early_stopping_ema_and_eval_every(signal):
    X, y = signal
    clf = HopularClassifier(
        **dict(FAST, max_epochs=12, eval_every=3, n_iter_no_change=50)
    ).fit(X.iloc[:500], y[:500], X_val=X.iloc[500:], y_val=y[500:])
    evaluated = [r for r in clf.history_ if "val_loss" in r]
    assert [r["iteration"] for r in evaluated] == [3, 6, 9, 12]
    assert clf.best_epoch_ in {3, 6, 9, 12}


def test_no_early_stop_before_half_the_annealing_horizon(signal):
    X, y = signal
    clf = HopularClassifier(**dict(FAST, max_epochs=20, n_iter_no_change=1)).fit(
        X.iloc[:500], y[:500], X_val=X.iloc[500:], y_val=y[500:]
    )
    assert clf.n_iter_ >= 10
    assert clf.history_.stop_reason in {"early_stopping", "max_iter"}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_head_width_cap_and_faithful_preset(signal):
    X, y = signal
    wide = pd.DataFrame(np.random.default_rng(0).normal(size=(60, 40)))
    wide.columns = [f"c{i}" for i in range(40)]
    yw = (wide["c0"] > 0).astype(int)
    capped = HopularClassifier(**dict(FAST, max_epochs=1)).fit(wide, yw)
    assert capped.module_.blocks[0].sample.head_dim == 32
    full = HopularClassifier(**dict(FAST, max_epochs=1, sample_head_dim="full")).fit(
        wide, yw
    )
    assert full.module_.blocks[0].sample.head_dim == 41 * 8 // 2
    faithful = HopularClassifier(**HopularClassifier.preset_params("faithful"))
    faithful.set_params(max_epochs=2, feature_size=4, n_blocks=1, random_state=0)
    faithful.fit(X.iloc[:100], y[:100])
    assert faithful.n_iter_ == 2
    with pytest.raises(ValueError, match="unknown preset"):
        HopularClassifier.preset_params("paper")


def test_bad_parameters_are_named(signal):
    X, y = signal
    with pytest.raises(ValueError, match="feature_loss_weight"):
        HopularClassifier(**dict(FAST, feature_loss_weight=(2.0, 0.0))).fit(X, y)
    with pytest.raises(ValueError, match="mask_probability"):
        HopularClassifier(
            **dict(FAST, mask_probability=0.6, replace_probability=0.6)
        ).fit(X, y)
    with pytest.raises(ValueError, match="memory_size"):
        HopularClassifier(memory_size=0).fit(X, y)


def test_pickle_and_model_file_keep_the_memory(signal, tmp_path):
    X, y = signal
    clf = HopularClassifier(**FAST).fit(X, y)
    expected = clf.predict_proba(X)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), expected)
    path = clf.save(tmp_path / "hopular.tabkit")
    loaded = load(path)
    np.testing.assert_array_equal(loaded.memory_num_, clf.memory_num_)
    np.testing.assert_array_equal(loaded.memory_cat_, clf.memory_cat_)
    np.testing.assert_allclose(loaded.predict_proba(X), expected, rtol=0, atol=1e-6)


def test_module_config_and_reset():
    torch.manual_seed(0)
    net = Hopular(3, [2, 4], feature_size=4, n_blocks=2, n_heads=2)
    rebuilt = Hopular(**net.get_config())
    assert {k: v.shape for k, v in net.state_dict().items()} == {
        k: v.shape for k, v in rebuilt.state_dict().items()
    }
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.reset_parameters()
    for name in (
        "num_weight",
        "cat_table",
        "column_weight",
        "position_embedding.weight",
        "blocks.1.sample.key.weight",
        "blocks.0.feature.out.bias",
        "head.weight",
    ):
        assert not torch.equal(net.state_dict()[name], before[name]), name
    with pytest.raises(ValueError, match="3 numeric and 2 categorical"):
        net.embed(Slots(torch.zeros(1, 2), torch.zeros(1, 2), torch.ones(1, 2).long()))
    with pytest.raises(ValueError, match="at least one column"):
        Hopular(0, [])


def test_lookup_is_attention_in_both_kernel_layouts():
    """Eval mode lifts (H, n, h) to a batch of one; the result is unchanged."""
    from tabkit.nn.hopular import _Lookup

    torch.manual_seed(0)
    lookup = _Lookup(12, n_heads=3, head_dim=4, scale=0.7, dropout=0.0)
    query, memory = torch.randn(5, 12), torch.randn(9, 12)
    attend = torch.rand(5, 9) > 0.3
    attend[:, 0] = True
    keys, values = lookup.keys_values(memory)
    q = lookup.split(lookup.query(query))
    logits = (q @ keys.transpose(-1, -2) * 0.7).masked_fill(~attend, float("-inf"))
    expected = lookup.out(
        (torch.softmax(logits, -1) @ values).transpose(-3, -2).flatten(-2)
    )
    for mode in (lookup.eval(), lookup.train()):  # train: no dropout, same path
        assert mode is lookup
        torch.testing.assert_close(
            lookup(query, keys, values, attend), expected, atol=1e-5, rtol=1e-5
        )
    lookup.dropout = 0.5
    lookup.eval()
    torch.testing.assert_close(
        lookup(query, keys, values, None),
        lookup.out(
            (torch.softmax(q @ keys.transpose(-1, -2) * 0.7, -1) @ values)
            .transpose(-3, -2)
            .flatten(-2)
        ),
        atol=1e-5,
        rtol=1e-5,
    )
