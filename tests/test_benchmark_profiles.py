# SPDX-License-Identifier: BSD-3-Clause
"""Tests of the benchmark profiles, the tabular and scaling runners, the
report's figures and the results-CSV migration (``benchmarks/``).

The ``quick`` profile runs end to end here (isolated fits, about a minute on
two cores); everything else uses tiny data.
"""

from __future__ import annotations

import csv
import importlib.util
import re
import shutil
import struct
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import require_optional
from sklearn.datasets import make_classification

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks import (  # noqa: E402
    datasets,
    measure,
    models,
    plots,
    profiles,
    protocol,
    report,
    run,
    scaling,
    store,
    tabular,
)

FOUNDATION_CSV = REPO_ROOT / "benchmarks" / "results" / "foundation.csv"
#: Where the normative protocol may live (the shared design folder, a copy).
BENCHMARKS_MD = (
    REPO_ROOT / "BENCHMARKS.md",
    REPO_ROOT / "docs" / "BENCHMARKS.md",
    REPO_ROOT.parent / "shared" / "design" / "BENCHMARKS.md",
)

# ============================================================ fixtures


def _tiny_binary():
    X, y = make_classification(
        n_samples=300, n_features=4, n_informative=3, n_redundant=0, random_state=0
    )
    return pd.DataFrame(X, columns=[f"x{j}" for j in range(4)]), y, "binary"


datasets.register_dataset("test_prof_binary", _tiny_binary, overwrite=True)


class _BudgetProbe:
    """A prior model of family "tabkit" that reports the budget it was given."""

    name = "test_budget_probe"
    config = "prior"
    family = "tabkit"
    uses_torch = False
    budget_s: float | None = None
    sleep_s = 0.0

    def fit(self, X_train, y_train, X_val, y_val, *, task, seed, threads):
        from sklearn.dummy import DummyClassifier

        time.sleep(self.sleep_s)
        self.est_ = DummyClassifier().fit(X_train, y_train)
        self.classes_ = self.est_.classes_

    def predict(self, X):
        return self.est_.predict(X)

    def predict_proba(self, X):
        return self.est_.predict_proba(X)

    def fit_info(self):
        return {"budget_s": self.budget_s}


class _SleepyNeural(_BudgetProbe):
    """Ignores its budget and sleeps: only the hard timeout stops it."""

    sleep_s = 120.0


class _GbdtProbe(_BudgetProbe):
    family = "gbdt"


models.register_model("test_budget_probe", _BudgetProbe, overwrite=True)
models.register_model("test_sleepy_neural", _SleepyNeural, overwrite=True)
models.register_model("test_gbdt_probe", _GbdtProbe, overwrite=True)


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (asserting the signature)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _assert_png(path: Path, min_bytes: int = 10_000) -> None:
    assert path.is_file(), path
    width, height = _png_size(path)
    assert width >= 300
    assert height >= 200
    assert path.stat().st_size >= min_bytes


# ============================================================ profiles


def _budget_seconds(text: str) -> float | None:
    match = re.search(r"(\d+)\s*(s|min)\b", text)
    if match is None:
        return None
    value = float(match.group(1))
    return value * 60 if match.group(2) == "min" else value


def _protocol_profiles() -> dict[str, dict[str, str]]:
    """The profile table of BENCHMARKS.md, as cells by column title."""
    path = next((p for p in BENCHMARKS_MD if p.is_file()), None)
    if path is None:
        pytest.skip("BENCHMARKS.md not found")
    text = path.read_text(encoding="utf-8")
    section = text.split("## Profiles", 1)[1].split("\n## ", 1)[0]
    lines = [ln for ln in section.splitlines() if ln.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]
    return {r[0]: dict(zip(header, r, strict=True)) for r in rows}


def test_profiles_match_benchmarks_md():
    table = _protocol_profiles()
    assert set(table) == set(profiles.PROFILES)
    for name, row in table.items():
        profile = profiles.PROFILES[name]
        cap = row["train cap"].replace(",", "")
        assert profile.train_cap == (int(cap) if cap.isdigit() else None), name
        budget = row["per-fit budget (neural models)"]
        assert profile.budget_s == _budget_seconds(budget), name
        seeds = row["seeds"]
        assert profile.seeds == int(seeds.split()[0]), name
        small = re.search(r"(\d+) for small", seeds)
        assert profile.n_seeds("small") == int(small.group(1) if small else seeds[0])
        assert profile.purpose == row["purpose"], name
    assert profiles.PROFILES["tuned"].n_trials == 20


def test_profile_definitions():
    quick = profiles.PROFILES["quick"]
    assert 3 <= len(quick.datasets) <= 4
    assert all(datasets.dataset_size(d) == "small" for d in quick.datasets)
    assert quick.models == ("lightgbm", "hist_gbdt", "boosted_nn", "mlp")
    assert (quick.seeds, quick.train_cap, quick.budget_s) == (1, 2_000, 30.0)
    assert profiles.PROFILES["small"].datasets == tuple(datasets.SUITES["small_public"])
    for name in ("standard", "full"):
        assert profiles.PROFILES[name].datasets == tuple(datasets.SUITES["public"])
    tuned = profiles.PROFILES["tuned"]
    assert len(tuned.datasets) == 6
    assert (tuned.seeds, tuned.train_cap, tuned.budget_s) == (3, 10_000, 120.0)
    scaling_profile = profiles.PROFILES["scaling"]
    assert scaling_profile.rows == (1_000, 10_000, 50_000, 300_000)
    assert scaling_profile.datasets == ("synthetic", "nyc_flight_disruption")
    standard = profiles.PROFILES["standard"]
    plan = profiles.dataset_seeds(standard, ["hawks", "adult", "insteval"])
    assert plan == {"hawks": [0, 1, 2], "adult": [0], "insteval": [0]}
    override = profiles.dataset_seeds(standard, ["hawks", "adult"], [4])
    assert override == {"hawks": [4], "adult": [4]}
    with pytest.raises(KeyError, match="unknown profile"):
        profiles.get_profile("huge")


def test_public_suites_and_sizes():
    assert len(datasets.SUITES["public"]) == 13
    assert datasets.SUITES["small_public"] == [
        "breast_cancer",
        "german_credit",
        "digits",
        "hawks",
        "diabetes",
    ]
    assert datasets.SUITES["foundation"][-1] == "make_classification_20k"
    assert [datasets.size_class(n) for n in (1_999, 2_000, 60_000, 60_001)] == [
        "small",
        "medium",
        "medium",
        "large",
    ]


def test_public_registry_matches_tabkit_datasets(optional_import):
    tabkit_datasets = optional_import("tabkit.datasets")
    assert sorted(tabkit_datasets.list_datasets()) == sorted(datasets.SUITES["public"])
    for name in datasets.SUITES["small_public"]:
        X, y, info = tabkit_datasets.load_dataset(name)
        assert info.size == datasets.PUBLIC_SIZES[name] == "small"
        X2, y2, task = datasets.load_dataset(name)
        assert task == info.task
        # scikit-learn-shipped sets keep their loaders: same data either way.
        assert X2.shape == X.shape
        assert np.array_equal(np.asarray(y2), np.asarray(y))


def test_fit_limits_by_family():
    assert profiles.hard_timeout(30) == 105.0
    assert profiles.fit_limits("tabkit", 30) == (30.0, 105.0)
    assert profiles.fit_limits("reference", 600) == (600.0, 960.0)
    assert profiles.fit_limits("gbdt", 30) == (None, None)
    assert profiles.fit_limits("gbdt", 30, timeout_s=5) == (None, 5)
    assert profiles.fit_limits("tabkit", 30, grace_s=1, timeout_s=500) == (30.0, 46.0)
    assert profiles.fit_limits("tabkit", None) == (None, None)


def test_resolve_models(monkeypatch, caplog):
    monkeypatch.delenv("TABKIT_REQUIRE_DATA", raising=False)
    assert profiles.resolve_models(
        ["lightgbm", "nope", "lightgbm"], explicit=False
    ) == ["lightgbm"]
    assert "not registered" in caplog.text
    with pytest.raises(KeyError, match="nope"):
        profiles.resolve_models(["nope"], explicit=True)
    monkeypatch.setenv("TABKIT_REQUIRE_DATA", "1")
    with pytest.raises(KeyError, match="nope"):
        profiles.resolve_models(["lightgbm", "nope"], explicit=False)


def test_tuned_and_scaling_profiles_are_refused(tmp_path, capsys):
    with pytest.raises(tabular.ProfileNotRunnable, match=r"benchmarks\.tuned"):
        tabular.run_profile("tuned", out=tmp_path / "t.csv")
    with pytest.raises(SystemExit) as exc:
        tabular.main(["--profile", "scaling", "--out", str(tmp_path / "s.csv")])
    assert exc.value.code == 2
    assert "benchmarks.scaling" in capsys.readouterr().err
    assert not (tmp_path / "t.csv").exists()


def test_boosted_nn_gets_the_budget_as_time_budget():
    assert models.make_model("boosted_nn").family_name == "boosted_nn"
    X, y, task = _tiny_binary()
    split = protocol.make_split(y, task, 0)
    adapter = models.make_model("boosted_nn")
    adapter.budget_s = 7.0
    adapter.fit(
        X.iloc[split.train],
        y[split.train],
        X.iloc[split.val],
        y[split.val],
        task=task,
        seed=0,
        threads=1,
    )
    assert adapter.estimator_.time_budget == 7.0
    info = adapter.fit_info()
    assert info["time_budget"] == 7.0
    assert info["stop_reason"] in {"max_iter", "early_stopping", "time_budget"}


# ============================================================ budgets


def test_budget_reaches_neural_adapters_only(tmp_path):
    out = tmp_path / "b.csv"
    res = run.run_benchmark(
        ["test_budget_probe", "test_gbdt_probe"],
        ["test_prof_binary"],
        {"test_prof_binary": [0]},
        out,
        isolate=False,
        progress=False,
        model_budget=12.0,
        profile="quick",
    )
    neural, gbdt = res.iloc[0], res.iloc[1]
    assert '"budget_s": 12.0' in neural["fit_info"]
    assert neural["budget_s"] == 12.0
    assert '"budget_s": null' in gbdt["fit_info"]
    assert pd.isna(gbdt["budget_s"])
    assert set(res["profile"]) == {"quick"}


def test_hard_timeout_kills_and_records_timeout(tmp_path):
    out = tmp_path / "timeout.csv"
    start = time.perf_counter()
    res = run.run_benchmark(
        ["test_sleepy_neural", "test_gbdt_probe"],
        ["test_prof_binary"],
        [0],
        out,
        progress=False,
        model_budget=0.5,
        timeout_grace_s=2.0,
        threads=1,
    )
    assert time.perf_counter() - start < 60
    sleepy, gbdt = res.iloc[0], res.iloc[1]
    assert sleepy["status"] == "timeout"
    assert sleepy["timeout_s"] == pytest.approx(2.75)
    assert sleepy["budget_s"] == 0.5
    assert "2.75 s time limit (model budget 0.5 s)" in sleepy["error"]
    # The GBDT probe has no budget, so no limit, and runs normally.
    assert gbdt["status"] == "ok"
    assert pd.isna(gbdt["timeout_s"])


# ============================================================ CSV schema


def test_old_header_is_read_and_migrated(tmp_path):
    old = tmp_path / "foundation.csv"
    shutil.copy(FOUNDATION_CSV, old)
    with open(old, encoding="utf-8", newline="") as fh:
        before = list(csv.DictReader(fh))
    assert "profile" not in before[0]
    frame = store.read_frame(old)
    assert list(frame.columns) == list(store.COLUMNS)
    assert frame["profile"].isna().all()
    assert len(frame) == len(before)
    # The report reads it as it is, with figures.
    md = report.write_report(old, tmp_path / "foundation.md")
    assert "## Fit time relative to LightGBM" in md.read_text(encoding="utf-8")
    assert (
        old.read_text(encoding="utf-8").splitlines()[0].count(",") == len(before[0]) - 1
    )  # reading did not rewrite it
    # Appending migrates: new header, every old value kept, new columns empty.
    run.run_benchmark(
        ["test_budget_probe"], ["test_prof_binary"], [0], old, isolate=False
    )
    with open(old, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == list(store.COLUMNS)
        after = list(reader)
    assert len(after) == len(before) + 1
    for was, now in zip(before, after, strict=False):
        assert {k: now[k] for k in was} == was
        assert now["profile"] == now["timeout_s"] == ""
    assert store.repair_csv(old) == 0


# ============================================================ figures


def _norm_table():
    norm = pd.DataFrame(
        {"lightgbm": [1.0, 0.2, 0.5], "nn": [0.0, 1.0, 1.0], "mlp": [0.5, 0.0, 0.0]},
        index=["a", "b", "c"],
    )
    tasks = pd.Series({"a": "binary", "b": "multiclass", "c": "regression"})
    return norm, tasks


@pytest.mark.parametrize("relative", [True, False])
def test_figure_section(tmp_path, relative):
    norm, tasks = _norm_table()
    times = pd.DataFrame(
        {"lightgbm": [1.0, 1.0, 1.0], "nn": [0.5, 2.0, 8.0], "mlp": [3.0, 3.0, 3.0]},
        index=norm.index,
    )
    text = plots.figure_section(norm, times, tasks, tmp_path, "demo", relative=relative)
    for name in ("demo_normalized.png", "demo_score_vs_time.png"):
        _assert_png(tmp_path / name, min_bytes=5_000)
        assert f"]({name})" in text
    assert "*Figure 1. Normalized test score" in text
    assert "over 3 datasets; dots are datasets" in text
    assert "Highest mean: nn (0.67); lowest: mlp (0.17)." in text
    if relative:
        assert "Slowest: mlp (3x); fastest: nn (2x)." in text
    else:
        assert "fit seconds (log scale" in text


# ============================================================ scaling


def test_scaling_data_subsets():
    X, y, task, split = scaling.scaling_data("synthetic", 200)
    assert task == "binary"
    assert len(X) == 300
    assert [len(p) for p in split] == [200, 50, 50]
    assert len(set(np.concatenate(split))) == 300
    assert scaling.holdout_rows(300_000) == 10_000
    X, y, task, split = scaling.scaling_data("test_prof_binary", 100, seed=1)
    assert len(X) == 200  # 100 training rows, at least 50 validation and test
    assert [len(p) for p in split] == [100, 50, 50]
    assert abs(y[split.train].mean() - _tiny_binary()[1].mean()) < 0.05
    with pytest.raises(ValueError, match="has 300 rows"):
        scaling.scaling_data("test_prof_binary", 400)


def test_scaling_tiny_lightgbm(tmp_path):
    out = tmp_path / "scaling.csv"
    res = scaling.run_scaling(
        ["lightgbm"], [200, 400], out, sources=["synthetic"], threads=1, progress=False
    )
    assert list(res["status"]) == ["ok", "ok"], res["error"].tolist()
    assert list(res["n_train"]) == [200, 400]
    assert list(res["n_val"]) == [50, 100]
    assert set(res["profile"]) == {"scaling"}
    assert (res["peak_rss_mb"] > 0).all()
    assert res["budget_s"].isna().all()  # a GBDT: no budget
    again = scaling.run_scaling(
        ["lightgbm"], [200, 400], out, sources=["synthetic"], threads=1, progress=False
    )
    assert len(again) == 2  # resumed: nothing to do
    md = scaling.write_scaling_report(out, tmp_path / "scaling.md")
    text = md.read_text(encoding="utf-8")
    _assert_png(tmp_path / "scaling_fit_memory.png", min_bytes=5_000)
    assert "![Scaling](scaling_fit_memory.png)" in text
    assert "*Fit seconds (top, log-log) and peak memory in MiB (bottom, linear" in text
    assert "| synthetic | lightgbm | 400 |" in text


def test_scaling_caption_names_failed_fits():
    base = {"dataset": "synthetic", "config": "c", "seed": 0}
    records = pd.DataFrame(
        [
            {**base, "model": "slow", "n_train": 50_000, "status": "timeout"},
            {**base, "model": "flaky", "n_train": 1_000, "status": "error"},
            {**base, "model": "flaky", "n_train": 1_000, "status": "ok"},  # retried
            {**base, "model": "fast", "n_train": 50_000, "status": "ok"},
        ]
    )
    assert scaling._failures(records) == (
        " Not plotted, the fit failed: slow on synthetic at 50,000 rows (timeout)."
    )
    assert scaling._failures(records[records["model"] != "slow"]) == ""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux only")
def test_peak_rss_can_be_reset():
    block = np.ones(80 * 2**20 // 8)  # 80 MiB, touched
    high = measure.peak_rss_mb()
    del block
    assert measure.reset_peak_rss()
    assert measure.peak_rss_mb() < high - 40


# ============================================================ quick profile


def _quick_datasets() -> list[str]:
    names = list(profiles.PROFILES["quick"].datasets)
    if importlib.util.find_spec("tabkit.datasets") is None and not require_optional():
        names = [n for n in names if n in datasets.SKLEARN_LOADERS]
    return names


def test_quick_profile_end_to_end(tmp_path, capsys):
    """The quick profile through its command line, isolated fits (~1 min)."""
    out = tmp_path / "quick.csv"
    names = _quick_datasets()
    argv = ["--profile", "quick", "--out", str(out), "--threads", "1"]
    argv += ["--datasets", ",".join(names), "--report", "--no-progress"]
    assert tabular.main(argv) == 0
    n_fits = 4 * len(names)
    assert f"this command: {n_fits} ok" in capsys.readouterr().out
    res = store.read_frame(out)
    assert len(res) == n_fits
    assert set(res["profile"]) == {"quick"}
    assert set(res["train_cap"]) == {2_000}
    neural = res["family"].isin(profiles.BUDGETED_FAMILIES)
    assert set(res.loc[neural, "model"]) == {"boosted_nn", "mlp"}
    assert (res.loc[neural, "budget_s"] == 30).all()
    assert (res.loc[neural, "timeout_s"] == 105).all()
    assert res.loc[~neural, ["budget_s", "timeout_s"]].isna().all().all()
    assert res["command"].str.startswith("python -m benchmarks.tabular --profile").all()
    boosted = res[res["model"] == "boosted_nn"]
    assert boosted["fit_info"].str.contains('"time_budget": 30.0').all()

    text = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "Profile: `quick` (smoke test run by the test suite" in text
    assert "over these models: lightgbm, hist_gbdt, boosted_nn, mlp." in text
    assert "## Fit time relative to LightGBM" in text
    for plot, figure in (("normalized", 1), ("score_vs_time", 2)):
        png = tmp_path / f"quick_{plot}.png"
        _assert_png(png)
        # Embedded, with its caption right under it.
        assert re.search(
            rf"!\[[^]]+\]\(quick_{plot}\.png\)\n\n\*Figure {figure}\. ", text
        )
    assert f"per model over {len(names)} datasets" in text
    # Rerunning resumes: nothing left to do.
    assert tabular.main(argv) == 0
    assert len(store.read_frame(out)) == n_fits
