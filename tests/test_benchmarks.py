# SPDX-License-Identifier: BSD-3-Clause
"""Tests of the benchmark harness (``benchmarks/``): protocol, adapters, runner,
resume, report. Tiny datasets registered here keep the file fast."""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, make_classification
from sklearn.metrics import accuracy_score, log_loss, r2_score, roc_auc_score

# `benchmarks/` sits at the repository root, outside the package: make it
# importable when pytest is not started from the root with `python -m pytest`.
REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks import datasets, models, protocol, report, run, store  # noqa: E402

# ============================================================ tiny fixtures


def _tiny_binary():
    """160 rows: numeric with NaN, a pandas category with NaN, string labels."""
    X, y = make_classification(
        n_samples=160, n_features=5, n_informative=3, random_state=0
    )
    df = pd.DataFrame(X, columns=[f"x{j}" for j in range(5)])
    df.loc[::13, "x0"] = np.nan
    rng = np.random.default_rng(0)
    df["colour"] = pd.Categorical(rng.choice(["red", "blue", None], size=160))
    return df, np.where(y == 1, "yes", "no"), "binary"


def _tiny_regression():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return X.iloc[:120], y.to_numpy()[:120], "regression"


datasets.register_dataset("test_tiny_binary", _tiny_binary, overwrite=True)
datasets.register_dataset("test_tiny_regression", _tiny_regression, overwrite=True)


class _ProbeAdapter:
    """A cheap model: class priors / mean; reports its thread environment."""

    name = "test_probe"
    config = "prior"
    family = "test"
    uses_torch = False
    sleep_s = 0.0
    raise_on_seed: int | None = None
    error: type[BaseException] = KeyboardInterrupt

    def fit(self, X_train, y_train, X_val, y_val, *, task, seed, threads):
        from sklearn.dummy import DummyClassifier, DummyRegressor

        if seed == type(self).raise_on_seed:
            raise type(self).error(f"probe raises on seed {seed}")
        time.sleep(self.sleep_s)
        cls = DummyRegressor if task == "regression" else DummyClassifier
        self.est_ = cls().fit(X_train, y_train)
        self.classes_ = getattr(self.est_, "classes_", None)
        self.threads_ = threads

    def predict(self, X):
        return self.est_.predict(X)

    def predict_proba(self, X):
        return self.est_.predict_proba(X)

    def fit_info(self):
        return {"omp": os.environ.get("OMP_NUM_THREADS"), "threads": self.threads_}


class _SleepyAdapter(_ProbeAdapter):
    sleep_s = 60.0


class _InterruptingAdapter(_ProbeAdapter):
    """Raises KeyboardInterrupt on ``raise_on_seed`` (a simulated Ctrl-C)."""


class _FailingAdapter(_ProbeAdapter):
    error = ValueError


class _CrashingAdapter(_ProbeAdapter):
    """Kills its own process, as a segfault or the OOM killer would."""

    def fit(self, X_train, y_train, X_val, y_val, *, task, seed, threads):
        os._exit(3)


models.register_model("test_probe", _ProbeAdapter, overwrite=True)
models.register_model("test_sleepy", _SleepyAdapter, overwrite=True)
models.register_model("test_interrupting", _InterruptingAdapter, overwrite=True)
models.register_model("test_failing", _FailingAdapter, overwrite=True)
models.register_model("test_crashing", _CrashingAdapter, overwrite=True)


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X.iloc[:300], y.to_numpy()[:300], "binary"


@pytest.fixture(scope="module")
def three_classes():
    X, y = make_classification(
        n_samples=300, n_features=6, n_informative=4, n_classes=3, random_state=1
    )
    return pd.DataFrame(X, columns=[f"f{j}" for j in range(6)]), y, "multiclass"


@pytest.fixture(scope="module")
def diabetes300():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return X.iloc[:300], y.to_numpy()[:300], "regression"


def _fit(name, data, seed=0, **adapter_kwargs):
    X, y, task = data
    split = protocol.make_split(y, task, seed)
    adapter = models.make_model(name)
    adapter.fit(
        X.iloc[split.train],
        y[split.train],
        X.iloc[split.val],
        y[split.val],
        task=task,
        seed=seed,
        threads=1,
    )
    return adapter, X.iloc[split.test], y[split.test], X.iloc[split.val], y[split.val]


# ============================================================ protocol


@pytest.mark.parametrize(
    ("task", "y"),
    [
        ("binary", np.r_[np.zeros(140), np.ones(60)].astype(int)),
        ("multiclass", np.repeat(["a", "b", "c", "d"], [90, 50, 40, 20])),
        ("regression", np.linspace(0, 1, 200)),
    ],
)
def test_split_sizes_disjoint_covering(task, y):
    split = protocol.make_split(y, task, seed=3)
    n_test = math.ceil(0.2 * len(y))
    n_val = math.ceil(0.2 * (len(y) - n_test))
    assert (len(split.test), len(split.val)) == (n_test, n_val)
    assert len(split.train) == len(y) - n_test - n_val
    parts = [set(p) for p in split]
    assert not (parts[0] & parts[1])
    assert not (parts[0] & parts[2])
    assert not (parts[1] & parts[2])
    assert set().union(*parts) == set(range(len(y)))
    assert all(np.all(np.diff(p) > 0) for p in split)


def test_split_is_stratified():
    y = np.repeat(["a", "b", "c", "d"], [300, 150, 100, 50])
    split = protocol.make_split(y, "multiclass", seed=0)
    overall = pd.Series(y).value_counts(normalize=True)
    for part in split:
        share = pd.Series(y[part]).value_counts(normalize=True)
        assert np.allclose(share.reindex(overall.index), overall, atol=0.01)


def test_split_is_deterministic_per_seed():
    y = np.arange(500) % 2
    a, b = protocol.make_split(y, "binary", 7), protocol.make_split(y, "binary", 7)
    c = protocol.make_split(y, "binary", 8)
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    assert not np.array_equal(a.test, c.test)


def test_split_train_cap_subsamples_train_only():
    y = np.repeat([0, 1], [700, 300])
    full = protocol.make_split(y, "binary", 0)
    capped = protocol.make_split(y, "binary", 0, train_cap=100)
    assert len(capped.train) == 100
    assert set(capped.train) <= set(full.train)
    assert np.array_equal(capped.val, full.val)
    assert np.array_equal(capped.test, full.test)
    assert np.mean(y[capped.train]) == pytest.approx(0.3, abs=0.01)
    again = protocol.make_split(y, "binary", 0, train_cap=100)
    assert np.array_equal(capped.train, again.train)


def test_metrics_match_scikit_learn():
    rng = np.random.default_rng(0)
    y = rng.choice(["neg", "pos"], size=80)
    p1 = np.clip(0.3 + 0.4 * (y == "pos") + rng.normal(0, 0.2, 80), 0.01, 0.99)
    proba = np.c_[1 - p1, p1]
    pred = np.where(p1 > 0.5, "pos", "neg")
    got = protocol.evaluate("binary", y, pred, proba, labels=np.array(["neg", "pos"]))
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y == "pos", p1))
    assert got["log_loss"] == pytest.approx(log_loss(y, proba))
    assert got["accuracy"] == pytest.approx(accuracy_score(y, pred))

    y3 = rng.integers(0, 3, 90)
    proba3 = rng.dirichlet(np.ones(3), 90)
    got3 = protocol.evaluate("multiclass", y3, proba3.argmax(1), proba3)
    assert set(got3) == {"accuracy", "log_loss"}
    assert got3["log_loss"] == pytest.approx(log_loss(y3, proba3))

    yr, pr = rng.normal(size=50), rng.normal(size=50)
    gotr = protocol.evaluate("regression", yr, pr)
    assert gotr["rmse"] == pytest.approx(np.sqrt(np.mean((yr - pr) ** 2)))
    assert gotr["r2"] == pytest.approx(r2_score(yr, pr))


def test_metric_directions_and_primary():
    assert protocol.higher_is_better("roc_auc")
    assert protocol.higher_is_better("test_accuracy")
    assert not protocol.higher_is_better("rmse")
    assert not protocol.higher_is_better("val_log_loss")
    assert [protocol.primary_metric(t) for t in protocol.TASKS] == [
        "roc_auc",
        "accuracy",
        "rmse",
    ]
    with pytest.raises(ValueError, match="probabilities"):
        protocol.evaluate("binary", [0, 1], [0, 1])
    with pytest.raises(ValueError, match="unknown task"):
        protocol.make_split(np.zeros(10), "ranking", 0)


def test_csv_header_covers_every_metric():
    for metric in protocol.ALL_METRICS:
        assert f"test_{metric}" in store.COLUMNS
    assert len(set(store.COLUMNS)) == len(store.COLUMNS)


def test_foundation_registry():
    assert datasets.SUITES["foundation"] == [
        "breast_cancer",
        "digits",
        "diabetes",
        "make_classification_20k",
    ]
    X, y, task = datasets.load_dataset("diabetes")
    assert task == "regression"
    assert X.shape == (442, 10)
    assert len(y) == 442
    for name in ("lightgbm", "xgboost", "catboost", "hist_gbdt", "mlp", "boosted_nn"):
        adapter = models.make_model(name)
        assert isinstance(adapter, models.ModelAdapter)
        assert adapter.name == name
    assert models.make_model("gbnn_lr0.1").config.endswith("eta0.1")


# ============================================================ adapters

GBDTS = ("lightgbm", "xgboost", "catboost", "hist_gbdt")


def _iterations(adapter):
    info = adapter.fit_info()
    return info.get("best_iteration", info.get("n_iter"))


@pytest.mark.parametrize("name", GBDTS)
@pytest.mark.parametrize("case", ["cancer", "three_classes", "diabetes300"])
def test_gbdt_adapter_fits_and_early_stops(name, case, request):
    data = request.getfixturevalue(case)
    adapter, X_test, y_test, _, _ = _fit(name, data)
    pred = adapter.predict(X_test)
    assert pred.shape == y_test.shape
    if data[2] == "regression":
        assert np.sqrt(np.mean((pred - y_test) ** 2)) < 2 * np.std(y_test)
    else:
        proba = adapter.predict_proba(X_test)
        assert proba.shape == (len(y_test), len(np.unique(data[1])))
        assert np.allclose(proba.sum(axis=1), 1, atol=1e-5)
        assert np.array_equal(adapter.classes_, np.unique(data[1]))
        assert np.mean(pred == y_test) > 0.6
    # Stopped early: the best round is well before the round limit.
    assert _iterations(adapter) + models.GBDT_PATIENCE < models.GBDT_ROUNDS


def test_lightgbm_early_stops_on_the_validation_rows(cancer):
    adapter, _, _, X_val, y_val = _fit("lightgbm", cancer)
    best = adapter.estimator_.best_score_["valid_0"]["binary_logloss"]
    assert best == pytest.approx(log_loss(y_val, adapter.predict_proba(X_val)))


def _mixed_frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    num = rng.normal(size=n)
    num[::11] = np.nan
    df = pd.DataFrame(
        {
            "num": num,
            "cat": pd.Categorical(rng.choice(["a", "b", "c", None], size=n)),
            "city": pd.Series(rng.choice(["x", "y", None], size=n), dtype="string"),
            "count": pd.array(
                [None if i % 7 == 0 else i % 5 for i in range(n)], dtype="Int64"
            ),
        }
    )
    logit = np.nan_to_num(num) + 2.0 * (df["cat"] == "a").to_numpy() - 0.5
    y = np.where(logit + rng.normal(scale=0.5, size=n) > 0, "yes", "no")
    return df, y, "binary"


@pytest.mark.parametrize("name", [*GBDTS, "mlp", "linear"])
def test_adapters_take_categories_nan_and_unseen_levels(name):
    adapter, X_test, _y_test, _, _ = _fit(name, _mixed_frame())
    X_test = X_test.assign(
        city=pd.Series("unseen", index=X_test.index, dtype="string"),
        cat=pd.Categorical([None] * len(X_test), categories=["a", "b", "c"]),
    )
    proba = adapter.predict_proba(X_test)
    assert proba.shape == (len(X_test), 2)
    assert np.all(np.isfinite(proba))
    assert set(adapter.predict(X_test)) <= {"yes", "no"}


@pytest.mark.parametrize("name", ["mlp", "linear"])
def test_baseline_adapters_scale_regression_target(diabetes300, name):
    from sklearn.compose import TransformedTargetRegressor

    adapter, X_test, y_test, _, _ = _fit(name, diabetes300)
    assert isinstance(adapter.estimator_, TransformedTargetRegressor)
    rmse = np.sqrt(np.mean((adapter.predict(X_test) - y_test) ** 2))
    assert rmse < np.std(y_test)


def test_encoder_one_hot_encodes_categoricals():
    X, _, _ = _mixed_frame(60)
    Z = models.make_encoder(X).fit_transform(X)
    # 2 numeric columns + 3 "cat" levels + 2 "city" levels, no NaN left.
    assert Z.shape == (60, 7)
    assert np.all(np.isfinite(Z))


# ============================================================ GBNN reference


def _tiny_gbnn(eta=0.1):
    return models.GBNNAdapter(eta=eta, total_nn=3)


@pytest.mark.parametrize("case", ["cancer", "three_classes", "diabetes300"])
def test_gbnn_adapter_tiny(optional_import, case, request):
    gbnn = optional_import("gbnn")
    from sklearn.base import is_classifier

    X, y, task = request.getfixturevalue(case)
    split = protocol.make_split(y, task, 0)
    preds = []
    for _ in range(2):
        adapter = _tiny_gbnn()
        adapter.fit(
            X.iloc[split.train],
            y[split.train],
            X.iloc[split.val],
            y[split.val],
            task=task,
            seed=0,
            threads=1,
        )
        preds.append(adapter.predict(X.iloc[split.test]))
    assert adapter.fit_info()["n_steps"] == 3
    # B3 handled: the same seed gives the same model.
    assert np.array_equal(preds[0], preds[1])
    if task != "regression":
        # B1 fixed by the adapter: the package's own class is broken here.
        assert not is_classifier(gbnn.GNEGNEClassifier())
        assert is_classifier(adapter.estimator_)
        proba = adapter.predict_proba(X.iloc[split.test])
        assert np.allclose(proba.sum(axis=1), 1)
        assert np.mean(preds[0] == y[split.test]) > 0.5


def test_gbnn_missing_package_names_make_target(monkeypatch):
    models._import_gbnn.cache_clear()
    models._gbnn_classifier_class.cache_clear()
    monkeypatch.setitem(sys.modules, "gbnn", None)
    try:
        with pytest.raises(ImportError, match="make gbnn"):
            _fit("gbnn_lr0.1", _tiny_regression())
    finally:
        models._import_gbnn.cache_clear()
        models._gbnn_classifier_class.cache_clear()


# ============================================================ runner


def _read(path):
    return pd.read_csv(path)


def test_runner_end_to_end_in_process(tmp_path):
    out = tmp_path / "res.csv"
    res = run.run_benchmark(
        ["lightgbm", "hist_gbdt", "mlp"],
        ["test_tiny_binary", "test_tiny_regression"],
        [0, 1],
        out,
        isolate=False,
        progress=False,
    )
    assert list(res.columns) == list(store.COLUMNS)
    assert len(res) == 12
    assert set(res["status"]) == {"ok"}
    binary = res[res["dataset"] == "test_tiny_binary"]
    assert set(binary["primary_metric"]) == {"roc_auc"}
    assert binary["test_primary"].between(0.5, 1).all()
    assert np.allclose(binary["test_primary"], binary["test_roc_auc"])
    assert binary[["test_log_loss", "test_accuracy", "val_primary"]].notna().all().all()
    reg = res[res["dataset"] == "test_tiny_regression"]
    assert reg["test_rmse"].gt(0).all()
    assert reg["test_roc_auc"].isna().all()
    assert (
        res[["n_train", "n_val", "n_test"]].sum(axis=1) == [160] * 6 + [120] * 6
    ).all()
    assert (res[["fit_s", "predict_s", "predict_test_s"]] > 0).all().all()
    assert res["command"].str.startswith("benchmarks.run.run_benchmark(").all()
    assert res["sklearn_version"].notna().all()
    assert res["threads"].eq(1).all()
    # Resume: nothing left to do, nothing appended.
    again = run.run_benchmark(
        ["lightgbm", "hist_gbdt", "mlp"],
        ["test_tiny_binary", "test_tiny_regression"],
        [0, 1],
        out,
        isolate=False,
        progress=False,
    )
    assert len(again) == 12


def test_isolated_fits_record_their_own_process(tmp_path):
    out = tmp_path / "iso.csv"
    res = run.run_benchmark(
        ["test_probe", "test_crashing"],
        ["test_tiny_binary"],
        [0],
        out,
        threads=2,
        progress=False,
    )
    probe, crashed = res.iloc[0], res.iloc[1]
    assert probe["status"] == "ok", probe["error"]
    assert bool(probe["isolated"])
    assert probe["peak_rss_mb"] > 0
    # The worker got the thread count in its environment before any import.
    assert '"omp": "2"' in probe["fit_info"]
    assert '"threads": 2' in probe["fit_info"]
    # A worker that dies takes only its own fit with it.
    assert crashed["status"] == "error"
    assert crashed["error"].startswith("worker exited with 3")


def test_isolated_fit_over_budget_is_killed(tmp_path):
    out = tmp_path / "budget.csv"
    start = time.perf_counter()
    res = run.run_benchmark(
        ["test_sleepy"], ["test_tiny_regression"], [0], out, budget=3, progress=False
    )
    assert time.perf_counter() - start < 30
    assert res.iloc[0]["status"] == "timeout"
    assert "3 s time limit" in res.iloc[0]["error"]
    assert res.iloc[0]["timeout_s"] == 3


def test_errors_are_recorded_and_retried_on_request(tmp_path):
    out = tmp_path / "err.csv"
    _FailingAdapter.raise_on_seed = 0
    kwargs = {"isolate": False, "progress": False}
    try:
        res = run.run_benchmark(
            ["test_failing"], ["test_tiny_binary"], [0], out, **kwargs
        )
        assert res.iloc[0]["status"] == "error"
        assert "ValueError: probe raises on seed 0" in res.iloc[0]["error"]
        res = run.run_benchmark(
            ["test_failing"], ["test_tiny_binary"], [0], out, **kwargs
        )
        assert len(res) == 1  # not retried by default
    finally:
        _FailingAdapter.raise_on_seed = None
    res = run.run_benchmark(
        ["test_failing"], ["test_tiny_binary"], [0], out, retry_errors=True, **kwargs
    )
    assert list(res["status"]) == ["error", "ok"]


def test_resume_after_interruption_and_truncated_line(tmp_path):
    out = tmp_path / "resume.csv"
    args = (["test_probe", "test_interrupting"], ["test_tiny_binary"], [0, 1, 2], out)
    _InterruptingAdapter.raise_on_seed = 1
    try:
        with pytest.raises(KeyboardInterrupt):
            run.run_benchmark(*args, isolate=False, progress=False)
    finally:
        _InterruptingAdapter.raise_on_seed = None
    first = _read(out)
    # seed 0 of both models and seed 1 of the probe made it to disk.
    assert len(first) == 3
    # A run killed while writing leaves a partial last line.
    with open(out, "a", encoding="utf-8") as fh:
        fh.write("2026-01-01T00:00:00+00:00,test_tiny_binary,test_probe,pri")
    res = run.run_benchmark(*args, isolate=False, progress=False)
    assert len(res) == 6
    assert set(res["status"]) == {"ok"}
    keys = res[list(store.KEY)].astype(str).apply(tuple, axis=1)
    assert keys.is_unique
    assert out.read_text(encoding="utf-8").endswith("\n")
    assert store.repair_csv(out) == 0


def test_repair_csv(tmp_path):
    out = tmp_path / "r.csv"
    store.append_row(out, {"dataset": "d", "model": "m", "seed": 0, "status": "ok"})
    good = out.read_bytes()
    out.write_bytes(good + b"a,b,c\n")  # a complete line with too few fields
    assert store.repair_csv(out) == len(b"a,b,c\n")
    assert out.read_bytes() == good
    out.write_bytes(good[:-10])  # cut inside the only record
    store.repair_csv(out)
    assert len(store.read_records(out)) == 0
    assert out.read_text().count("\n") == 1
    out.write_text("other,header\n")
    with pytest.raises(ValueError, match="different header"):
        store.repair_csv(out)


def test_error_messages_stay_on_one_line(tmp_path):
    out = tmp_path / "e.csv"
    store.append_row(out, {"status": "error", "error": "line one\nline two"})
    assert store.read_records(out)[0]["error"] == "line one | line two"


def test_cli_runs_and_reports(tmp_path, capsys):
    out, md = tmp_path / "cli.csv", tmp_path / "cli.md"
    argv = ["--datasets", "test_tiny_regression", "--models", "lightgbm,test_probe"]
    argv += ["--seeds", "0", "--threads", "1", "--out", str(out), "--no-isolate"]
    assert run.main([*argv, "--no-progress"]) == 0
    assert "2 ok" in capsys.readouterr().out
    assert report.main([str(out), "--out", str(md)]) == 0
    text = md.read_text(encoding="utf-8")
    assert text.index("python -m benchmarks.run --datasets test_tiny_regression") < (
        text.index(f"python -m benchmarks.report {out} --out {md}")
    )
    # A mistyped CSV path is a usage error naming it; nothing is written.
    with pytest.raises(SystemExit):
        report.main([str(tmp_path / "typo.csv"), "--out", str(tmp_path / "typo.md")])
    assert "no results file" in capsys.readouterr().err
    assert not (tmp_path / "typo.md").exists()
    # A CSV with its header only (a run before its first row): an empty report.
    empty = tmp_path / "empty.csv"
    empty.write_text(out.read_text().splitlines()[0] + "\n")
    assert report.main([str(empty), "--out", str(tmp_path / "empty.md")]) == 0
    assert "No results yet." in (tmp_path / "empty.md").read_text()


# ============================================================ report


def _record(key, scores, metric="roc_auc", **extra):
    (dataset, model, seed), (test, val, fit_s) = key, scores
    row = {
        "dataset": dataset,
        "model": model,
        "config": "c",
        "seed": seed,
        "family": "gbdt" if model in report.GBDT_MODELS else "nn",
        "task": "binary" if metric == "roc_auc" else "regression",
        "n_train": 60,
        "n_val": 20,
        "n_test": 20,
        "n_features": 3,
        "primary_metric": metric,
        "test_primary": test,
        "val_primary": val,
        f"test_{metric}": test,
        "fit_s": fit_s,
        "predict_s": 0.01,
        "predict_test_s": 0.001,
        "status": "ok",
        "threads": 1,
        "command": "python -m benchmarks.run --out x.csv",
        **extra,
    }
    if metric == "roc_auc":
        row.update(test_log_loss=0.3, test_accuracy=0.9)
    else:
        row["test_r2"] = 0.5
    return row


@pytest.fixture
def small_results(tmp_path):
    rows = [
        # d1 (binary, 2 seeds): xgboost is better on test, lightgbm on validation.
        _record(("d1", "lightgbm", 0), (0.90, 0.95, 1.0)),
        _record(("d1", "lightgbm", 1), (0.92, 0.95, 3.0)),
        _record(("d1", "xgboost", 0), (0.99, 0.90, 2.0)),
        _record(("d1", "xgboost", 1), (0.99, 0.90, 2.0)),
        _record(("d1", "nn", 0), (0.95, 0.9, 4.0)),
        _record(("d1", "nn", 1), (0.97, 0.9, 8.0)),
        # d2 (regression, 1 seed): nn within 0.5 % of LightGBM's RMSE, nn2 not.
        _record(("d2", "lightgbm", 0), (10.0, 11.0, 0.5), metric="rmse"),
        _record(("d2", "nn", 0), (10.04, 11.0, 1.0), metric="rmse"),
        _record(("d2", "nn2", 0), (10.2, 11.0, 1.0), metric="rmse"),
        # a failed fit
        _record(("d2", "nn2", 1), (np.nan,) * 3, "rmse", status="error", error="boom"),
    ]
    out = tmp_path / "small.csv"
    for row in rows:
        store.append_row(out, row)
    return out


def test_report_numbers(small_results, tmp_path):
    md = report.write_report(small_results, tmp_path / "small.md")
    text = md.read_text(encoding="utf-8")
    assert text.startswith("# Benchmark report")
    assert text.index("python -m benchmarks.run --out x.csv") < text.index(
        "python -m benchmarks.report"
    )
    # nn on d1: mean 0.96, sample std 0.0141, fit 6.0 s = 3.00 x LightGBM's 2.0 s.
    nn_row = "| nn | 2 | 0.9600 ± 0.0141 | 0.3000 ± 0.0000 | 0.9000 ± 0.0000 |"
    assert f"{nn_row} 6.000 | 3.00 |" in text
    assert "| lightgbm | 2 | 0.9100 ± 0.0141 |" in text
    # Best GBDT on validation is lightgbm (0.91), not xgboost (0.99 on test):
    # nn wins by 0.05 > std 0.0141.
    assert "| nn | d1 | 2 | 0.9600 | 0.9100 | +0.0500 | 0.0141 | W |" in text
    # d2, one seed: |Δ| = 0.04 < 0.5 % of 10 -> tie; 0.2 -> loss.
    assert "| nn | d2 | 1 | 10.0400 | 10.0000 | -0.0400 | 0.0500 | T |" in text
    assert "| nn2 | d2 | 1 | 10.2000 | 10.0000 | -0.2000 | 0.0500 | L |" in text
    assert "| nn | 1 | 1 | 0 |" in text
    assert "| nn2 | 0 | 0 | 1 |" in text
    assert "| d2 | nn2 | 1 | error | boom |" in text


def test_report_normalized_score_and_rank(small_results):
    ok = report.ok_results(pd.read_csv(small_results))
    norm = report.normalized_scores(ok, ["lightgbm", "xgboost", "nn", "nn2"])
    assert norm.loc["d1", "xgboost"] == 1.0
    assert norm.loc["d1", "lightgbm"] == 0.0
    assert norm.loc["d1", "nn"] == pytest.approx((0.96 - 0.91) / (0.99 - 0.91))
    # RMSE: lower is better.
    assert norm.loc["d2", "lightgbm"] == 1.0
    assert norm.loc["d2", "nn2"] == 0.0
    assert norm.loc["d2", "nn"] == pytest.approx((10.2 - 10.04) / 0.2)
    rank = report.ranks(ok, ["lightgbm", "xgboost", "nn", "nn2"])
    assert rank.mean()["nn"] == pytest.approx((2 + 2) / 2)
    text = report.build_report(pd.read_csv(small_results), models=["nn", "nn2"])
    assert "over these models: nn, nn2." in text


def test_best_gbdt_breaks_validation_ties_by_fixed_order():
    rows = [
        _record(("d", "xgboost", 0), (0.80, 0.9, 1.0)),
        _record(("d", "lightgbm", 0), (0.70, 0.9, 1.0)),
        _record(("d", "nn", 0), (0.75, 0.9, 1.0)),
    ]
    ok = report.ok_results(pd.DataFrame(rows))
    assert list(report.best_gbdt(ok)["model"]) == ["lightgbm"]


def test_report_without_gbdts_or_lightgbm():
    rows = [_record(("d", "nn", s), (0.7 + s / 100, 0.9, 1.0)) for s in range(2)]
    text = report.build_report(pd.DataFrame(rows))
    assert "| nn | 2 | 0.7050 ± 0.0071 |" in text
    assert "Against the best GBDT" not in text


def test_references_come_from_the_registry():
    refs = report.references()
    assert refs["boosted_nn"] == ("gbnn_lr1.0", "gbnn_lr0.1")
    assert report.speedup_targets()["gbnn_lr0.1"] == 10.0
    # every tabkit family is registered from tabkit.estimators.FAMILIES
    from tabkit.estimators import FAMILIES

    assert set(FAMILIES) <= set(models.MODELS)
    assert all(models.make_model(f).family == "tabkit" for f in FAMILIES)


def test_versus_reference_counts_failures_against_the_failing_side():
    rows = [
        _record(("d1", "boosted_nn", 0), (0.90, 0.9, 1.0)),
        _record(("d1", "gbnn_lr0.1", 0), (0.95, 0.9, 10.0)),
        _record(("d2", "boosted_nn", 0), (0.80, 0.8, 1.0)),
        _record(("d3", "gbnn_lr0.1", 0), (0.70, 0.7, 1.0)),
    ]
    ok = report.ok_results(pd.DataFrame(rows))
    failed = pd.DataFrame(
        [
            {"model": "gbnn_lr0.1", "dataset": "d2"},
            {"model": "gbnn_lr1.0", "dataset": "d2"},
            {"model": "boosted_nn", "dataset": "d3"},
        ]
    )
    res = report.versus_reference(ok, failed).set_index("dataset")
    assert not res.loc["d1", "score_ok"]  # 0.90 < 0.95 (one seed, no std)
    assert res.loc["d2", "score_ok"]  # the reference failed: the model wins
    assert res.loc["d2", "reference"] == "failed"
    assert not res.loc["d3", "score_ok"]  # the model failed: it loses


def test_relational_sampler_benchmark_runs(tmp_path, capsys):
    from benchmarks import relational_sampler

    out = tmp_path / "sampler.csv"
    relational_sampler.main(
        [
            "--databases",
            "shop",
            "--shop-customers",
            "60",
            "--max-seeds",
            "300",
            "--batch-size",
            "64",
            "--out",
            str(out),
        ]
    )
    frame = pd.read_csv(out)
    sampler = frame[frame["measure"] == "sampler"]
    assert len(sampler) == 6 and (sampler["seeds_per_s"] > 0).all()
    assert (frame["measure"] == "epoch").sum() == 1
    text = out.with_suffix(".md").read_text()
    assert "| shop | 128,64 | last |" in text
    assert "--shop-customers 60" in text
    capsys.readouterr()


def _fake_timing():
    return {
        "task": "t",
        "seeds": 1,
        "database_rows": 2,
        "features": 3,
        "seconds": 0.5,
        "peak_rss_mb_before": 1.0,
        "peak_rss_mb": 2.0,
    }


def test_relational_benchmark_runs_the_three_models(tmp_path, monkeypatch):
    from benchmarks import relational

    out = tmp_path / "relational.csv"
    monkeypatch.setattr(relational, "_feature_timing", _fake_timing)
    relational.main(
        [
            "--tasks",
            "synthetic-chain-tiny",
            "--seeds",
            "0",
            "--out",
            str(out),
            "--report",
        ]
    )
    frame = pd.read_csv(out)
    assert sorted(frame["model"]) == ["entity_only", "gnn", "relational_features"]
    gnn = frame[frame["model"] == "gnn"].iloc[0]
    assert 0.5 < gnn["test_score"] <= 1 and gnn["fit_s"] > 0
    text = out.with_suffix(".md").read_text()
    assert "| synthetic-chain-tiny | roc_auc | 1 |" in text
    assert "GNN targets, over the 1 tasks with all three models" in text
    assert out.with_suffix(".png").exists()


def test_relational_gnn_settings_are_compared_on_validation(tmp_path):
    from benchmarks import relational

    out = tmp_path / "settings.csv"
    argv = ["--tasks", "synthetic-chain-tiny", "--seeds", "0", "--out", str(out)]
    relational.main([*argv, "--gnn-settings", "defaults,degree"])
    frame = pd.read_csv(out)
    assert sorted(frame["setting"]) == ["defaults", "degree"]
    assert (frame["model"] == "gnn").all() and frame["val_score"].between(0, 1).all()
    text = out.with_suffix(".md").read_text()
    assert "| synthetic-chain-tiny | roc_auc | degree | 1 |" in text
    best = frame.loc[frame["val_score"].idxmax(), "setting"]
    assert f"synthetic: best mean validation rank `{best}`" in text
    # resumed: nothing is refitted
    relational.main([*argv, "--gnn-settings", "degree"])
    assert len(pd.read_csv(out)) == 2
    for bad in ("nope", ","):
        with pytest.raises(SystemExit):
            relational.main([*argv, "--gnn-settings", bad])


def test_relational_verdict_follows_the_match_rule():
    from benchmarks.relational_report import verdict

    assert verdict("roc_auc", (0.80, 0.001), (0.796, 0.001)) == "matches"
    assert verdict("roc_auc", (0.80, 0.02), (0.77, 0.01)) == "beats"
    assert verdict("mae", (10.2, float("nan")), (10.0, float("nan"))) == "loses"
    assert verdict("mae", (10.05, float("nan")), (10.0, float("nan"))) == "matches"


def test_relational_cutoffs_scores_each_cutoff_of_both_models(tmp_path):
    from benchmarks import relational_cutoffs
    from benchmarks.relational import load_task

    out = tmp_path / "cutoffs.csv"
    argv = ["--tasks", "synthetic-chain-tiny", "--seeds", "0", "--out", str(out)]
    relational_cutoffs.main(argv)
    frame = pd.read_csv(out)
    task = load_task("synthetic-chain-tiny", 0).task
    for split, (X, _) in (("val", task.val), ("test", task.test)):
        rows = frame[frame["split"] == split]
        days = sorted(pd.to_datetime(X["cutoff"]).dt.strftime("%Y-%m-%d").unique())
        assert sorted(rows["cutoff"].unique()) == [*days, "all"]
        for model in ("entity_only", "gnn"):
            # every seed of the split is scored once at its cut-off, and once pooled
            mine = rows[rows["model"] == model]
            assert mine.loc[mine["cutoff"] != "all", "n"].sum() == len(X)
            assert mine.loc[mine["cutoff"] == "all", "n"].item() == len(X)
    assert frame["score"].between(0, 1).all()
    assert frame["target_level"].between(0, 1).all()
    text = out.with_suffix(".md").read_text()
    assert "## synthetic-chain-tiny (roc_auc)" in text
    assert text.count("\n| val |") + text.count("\n| test |") == len(frame) // 2
    # resumed: nothing is refitted
    relational_cutoffs.main(argv)
    assert len(pd.read_csv(out)) == len(frame)
    # --refit adds the refitted models on the test cut-offs only
    relational_cutoffs.main([*argv, "--refit"])
    refit = pd.read_csv(out).iloc[len(frame) :]
    assert set(refit["model"]) == {"entity_only_refit", "gnn_refit"}
    assert (refit["split"] == "test").all() and refit["score"].between(0, 1).all()
    assert "| GNN refit |" in out.with_suffix(".md").read_text()
    with pytest.raises(SystemExit):
        relational_cutoffs.main(["--seeds", ",", "--out", str(out)])


def test_relational_gnn_on_all_seeds_is_reported_apart(tmp_path, monkeypatch):
    from benchmarks import relational

    monkeypatch.setattr(relational, "GNN_MAX_SEEDS", 100)
    monkeypatch.setattr(relational, "_feature_timing", _fake_timing)
    out = tmp_path / "relational.csv"
    argv = ["--tasks", "synthetic-chain-tiny", "--seeds", "0", "--out", str(out)]
    relational.main([*argv, "--models", "entity_only,relational_features,gnn"])
    relational.main([*argv, "--models", "gnn_all_seeds", "--report"])
    frame = pd.read_csv(out).set_index("model")
    n_train = frame.loc["entity_only", "n_train"]
    assert frame.loc["gnn", "n_train"] == 100 < n_train
    assert frame.loc["gnn_all_seeds", "n_train"] == n_train
    text = out.with_suffix(".md").read_text()
    # the protocol's table and targets ignore the extra models
    assert "GNN targets, over the 1 tasks with all three models" in text
    assert "## The GNN on every training seed" in text
    row = f"| synthetic-chain-tiny | roc_auc | 1 | {n_train:,} |"
    assert row in text
    line = next(x for x in text.splitlines() if x.startswith(row))
    assert line.split(" | ")[5:7] == ["-", "-"]  # no capped LightGBM yet
    # LightGBM on the GNN's capped seeds: the same rows as the GNN's
    relational.main([*argv, "--models", "entity_only_capped", "--report"])
    capped = pd.read_csv(out).set_index("model").loc["entity_only_capped"]
    assert capped["n_train"] == 100 and 0 <= capped["test_score"] <= 1
    line = next(x for x in out.with_suffix(".md").read_text().splitlines()
                if x.startswith(row))  # fmt: skip
    assert line.split(" | ")[5].startswith(f"{capped['test_score']:.4f}")


def test_relational_task_names_are_checked():
    from benchmarks.relational import load_task

    with pytest.raises(ValueError, match=r"plane-delay.*synthetic-<template>"):
        load_task("nope", 0)
    with pytest.raises(ValueError, match="'synthetic-chain'"):
        load_task("synthetic-chain", 0)
