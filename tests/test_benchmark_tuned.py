"""The tuned profile's runner: spaces, the split of the validation rows, resume."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from benchmarks import tuned
from benchmarks.protocol import make_split
from benchmarks.store import read_frame


def test_gbdt_spaces_leave_the_rounds_to_early_stopping():
    assert "n_estimators" not in tuned.model_space("lightgbm")
    assert "max_iter" not in tuned.model_space("hist_gbdt")
    assert "learning_rate" in tuned.model_space("lightgbm")
    # tabkit's boosted NN early-stops on its own steps; its space keeps them.
    assert "n_estimators" in tuned.model_space("boosted_nn")


def test_full_space_is_searched_apart_from_the_profile(tmp_path):
    out, cache = tmp_path / "tuned.csv", tmp_path / "cache"
    argv = ["--models", "boosted_nn", "--datasets", "breast_cancer", "--seeds", "0"]
    argv += ["--trials", "3", "--out", str(out), "--cache", str(cache)]
    assert tuned.main([*argv, "--full-space"]) == 0
    assert tuned.main(argv) == 0
    rows = read_frame(out)
    rows = rows[rows["model"] == "boosted_nn"].set_index("config")
    assert sorted(rows.index) == ["default", "tuned", "tuned_full"]
    left_out = set(tuned.PROFILE_EXCLUDED["boosted_nn"])
    full = json.loads(rows.loc["tuned_full", "fit_info"])["best_params"]
    profile = json.loads(rows.loc["tuned", "fit_info"])["best_params"]
    assert left_out <= set(full) and left_out.isdisjoint(profile)
    # Each search has its own journal: the profile's was not resumed from it.
    journals = sorted(p.relative_to(cache) for p in cache.rglob("study.journal"))
    assert [str(p.parts[0]) for p in journals] == ["breast_cancer", "tuned_full"]
    assert tuned.main(["--report", "--out", str(out)]) == 0
    text = out.with_suffix(".md").read_text()
    assert "## Whole search space" in text
    assert "| breast_cancer (roc_auc) | boosted_nn | 1 |" in text
    # Both switches: a config of its own, not mixed into either search above.
    assert tuned.main([*argv, "--full-space", "--no-prune"]) == 0
    configs = read_frame(out).query("model == 'boosted_nn'")["config"]
    assert sorted(configs) == ["default", "tuned", "tuned_full", "tuned_full_noprune"]


def test_validation_rows_are_halved_disjointly():
    y = np.repeat([0, 1, 2], 100)
    split = make_split(y, "multiclass", seed=3)
    tune, select = tuned.tuning_split(split, y, "multiclass", seed=3)
    assert set(tune).isdisjoint(select)
    assert sorted({*tune, *select}) == sorted(split.val)
    assert abs(len(tune) - len(select)) <= 1
    assert set(np.unique(y[select])) == {0, 1, 2}  # stratified


@pytest.mark.filterwarnings("ignore:the n_estimators limit")
def test_run_resumes_and_reports(tmp_path):
    out, cache = tmp_path / "tuned.csv", tmp_path / "cache"
    argv = [
        "--models",
        "lightgbm,boosted_nn",
        "--datasets",
        "breast_cancer",
        "--seeds",
        "0",
        "--trials",
        "3",
        "--budget",
        "10",
        "--out",
        str(out),
        "--cache",
        str(cache),
    ]
    assert tuned.main(argv) == 0
    rows = read_frame(out)
    assert sorted(zip(rows["model"], rows["config"], strict=True)) == [
        ("boosted_nn", "default"),
        ("boosted_nn", "tuned"),
        ("ensemble", "default"),
        ("ensemble", "tuned"),
        ("lightgbm", "default"),
        ("lightgbm", "tuned"),
    ]
    assert (rows["status"] == "ok").all()
    tuned_rows = rows[rows["config"] == "tuned"].set_index("model")
    info = json.loads(tuned_rows.loc["lightgbm", "fit_info"])
    assert info["n_trials"] == 3 and set(info["best_params"]) == set(
        tuned.model_space("lightgbm")
    )
    ens = json.loads(tuned_rows.loc["ensemble", "fit_info"])
    assert sum(ens["weights"].values()) == pytest.approx(1.0)
    assert ens["selection_loss"] <= min(ens["member_selection_loss"].values()) + 1e-12
    # The whole command again: nothing new is fitted or written.
    assert tuned.main(argv) == 0
    assert len(read_frame(out)) == len(rows)
    # A search resumes from its journal: dropping its row rebuilds the same row.
    kept = out.read_text().splitlines()
    out.write_text(
        "\n".join(
            line
            for line in kept
            if not (",lightgbm,tuned," in line or ",ensemble," in line)
        )
        + "\n"
    )
    assert tuned.main(argv) == 0
    again = read_frame(out)
    lgbm = again[(again["model"] == "lightgbm") & (again["config"] == "tuned")]
    assert lgbm["test_primary"].iloc[0] == tuned_rows.loc["lightgbm", "test_primary"]
    assert json.loads(lgbm["fit_info"].iloc[0])["n_trials"] == 3
    # The cache lost (a new machine) while an ensemble is still to do: the
    # searches run again and their new rows supersede the old ones.
    shutil.rmtree(cache)
    kept = out.read_text().splitlines()
    out.write_text("\n".join(line for line in kept if ",ensemble," not in line) + "\n")
    assert tuned.main(argv) == 0
    latest = read_frame(out).drop_duplicates(["model", "config"], keep="last")
    assert len(latest) == 6 and (latest["status"] == "ok").all()
    report = tuned.main(["--report", "--out", str(out)])
    assert report == 0
    text = out.with_suffix(".md").read_text()
    assert "### breast_cancer (roc_auc, higher is better)" in text
    assert "Ensemble's mean normalized score" in text
    assert out.with_name("tuned_normalized.png").exists()


def test_search_seconds_are_whole_numbers():
    from benchmarks.tuned_report import _dataset_section

    info = json.dumps({"n_trials": 20, "n_pruned": 5, "n_failed": 0})
    rows = pd.DataFrame(
        {
            "dataset": ["d"] * 4,
            "model": ["m", "m", "fast", "fast"],
            "config": ["default", "tuned"] * 2,
            "seed": [0] * 4,
            "test_primary": [0.8, 0.81, 0.7, 0.72],
            "primary_metric": ["roc_auc"] * 4,
            "fit_s": [5.0, 1963.76, 0.1, 22.4],
            "fit_info": [None, info, None, info],
        }
    )
    lines = _dataset_section(rows, "d").splitlines()
    # A 1,964-second search was shown as "1963.76", a 22-second one as "22".
    assert "| m | 0.8000 | 0.8100 | 1,964 | 20 / 5 / 0 | 1 |" in lines
    assert "| fast | 0.7000 | 0.7200 | 22 | 20 / 5 / 0 | 1 |" in lines


def test_pruning_section_pairs_pruned_and_unpruned_searches():
    from benchmarks.tuned_report import pruning_section

    rows = pd.DataFrame(
        {
            "dataset": ["a", "a", "a", "b"],
            "model": ["m", "m", "m", "m"],
            "seed": [0, 0, 1, 0],
            "config": ["tuned", "tuned_noprune", "tuned", "tuned"],
            "fit_s": [30.0, 120.0, 40.0, 10.0],
            "val_primary": [0.8, 0.81, 0.7, 0.6],
            "test_primary": [0.79, 0.78, 0.69, 0.59],
            "primary_metric": ["roc_auc"] * 4,
        }
    )
    text = pruning_section(rows)
    table = [line for line in text.splitlines() if line.startswith("| a")]
    # Only seed 0 of dataset a has both searches.
    assert table == [
        "| a | m | 0 | 30 | 120 | 75 % | 0.8000 | 0.8100 | 0.7900 | 0.7800 |"
    ]
    assert pruning_section(rows[rows["config"] == "tuned"]) == ""


def test_target_checks_use_the_protocols_tie():
    from benchmarks.tuned_report import target_checks

    def rows(dataset, metric, scores):
        return [
            {
                "dataset": dataset,
                "model": model,
                "config": "tuned",
                "seed": seed,
                "test_primary": score,
                "primary_metric": metric,
            }
            for model, per_seed in scores.items()
            for seed, score in enumerate(per_seed)
        ]

    frame = pd.DataFrame(
        # Identical scores on every seed (std 0): a tie, not a loss.
        rows("a", "accuracy", {"ensemble": [0.9, 0.9], "lightgbm": [0.9, 0.9]})
        # 0.01 below, within the ensemble's std (0.0707): a tie.
        + rows("b", "roc_auc", {"ensemble": [0.7, 0.8], "lightgbm": [0.76, 0.76]})
    )
    text, _ = target_checks(frame)
    assert "on any dataset: **met**" in text
    assert "a (0.0000 vs lightgbm [tuned], tolerance 0.0000)" in text
    assert "b (-0.0100 vs lightgbm [tuned], tolerance 0.0707)" in text
    # One seed: 0.002 of accuracy is the tie, so 0.003 below is a loss.
    one = pd.DataFrame(rows("c", "accuracy", {"ensemble": [0.897], "lightgbm": [0.9]}))
    assert "on any dataset: **not met**" in target_checks(one)[0]


def test_report_of_a_missing_csv_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        tuned.main(["--report", "--out", str(tmp_path / "typo.csv")])
    assert "no results file" in capsys.readouterr().err
    assert not (tmp_path / "typo.md").exists()
