# SPDX-License-Identifier: BSD-3-Clause
"""Report of the ``tuned`` profile: default vs tuned per family, the ensembles.

.. code-block:: bash

    python -m benchmarks.tuned --report --out benchmarks/results/tuned.csv

Writes ``tuned.md`` and ``tuned_normalized.png`` next to the CSV. Only
(dataset, seed) pairs where every listed model has its tuned row count in the
normalized scores and the target checks, so a partial run reports what it
finished without mixing in incomplete comparisons.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.plots import figure_markdown, plot_normalized
from benchmarks.protocol import higher_is_better
from benchmarks.report import (
    fmt,
    md_table,
    mean_std,
    normalized_scores,
    ok_results,
    tie_outcome,
    tie_tolerance,
)
from benchmarks.store import read_frame

#: What a table shows where a model has no result.
MISSING = "-"
#: The ensemble's label in the tables.
ENSEMBLE = "ensemble [tuned]"
#: The tuned baseline every model is compared with.
BASELINE = "lightgbm [tuned]"


def _label(frame: pd.DataFrame) -> pd.Series:
    return frame["model"] + " [" + frame["config"].astype(str) + "]"


def _scores_by_label(sub: pd.DataFrame) -> pd.Series:
    """Test scores indexed by (label, seed): one dataset's tuned rows."""
    return sub.set_index(["label", "seed"])["test_primary"].sort_index()


def complete_pairs(ok: pd.DataFrame) -> pd.DataFrame:
    """Rows of the (dataset, seed) pairs where every model has a tuned row.

    Parameters
    ----------
    ok : DataFrame
        ``report.ok_results`` of the tuned CSV, labels ``model [config]``.

    Returns
    -------
    DataFrame
        The rows of complete pairs (the ensemble rows included).
    """
    models = sorted(set(ok.loc[ok["family"] != "ensemble", "model"]))
    tuned = ok[ok["config"] == "tuned"]
    counts = tuned[tuned["model"].isin(models)].groupby(["dataset", "seed"])["model"]
    full = counts.nunique() == len(models)
    pairs = {k for k, v in full.items() if v}
    keep = [(d, s) in pairs for d, s in zip(ok["dataset"], ok["seed"], strict=True)]
    return ok[keep]


def _dataset_section(ok: pd.DataFrame, dataset: str) -> str:
    sub = ok[ok["dataset"] == dataset]
    metric = str(sub["primary_metric"].iloc[0])
    rows = []
    for model in sorted(set(sub["model"]), key=lambda m: (m == "ensemble", m)):
        cells: list[object] = [model]
        for config in ("default", "tuned"):
            s = sub[(sub["model"] == model) & (sub["config"] == config)]["test_primary"]
            if len(s) > 1:
                cells.append(mean_std(s.mean(), s.std()))
            else:  # one seed: no spread to show
                cells.append(fmt(s.mean()) if len(s) else MISSING)
        tuned = sub[(sub["model"] == model) & (sub["config"] == "tuned")]
        if model == "ensemble" or tuned.empty:
            cells += [MISSING, MISSING]
        else:
            infos = [json.loads(v) for v in tuned["fit_info"]]
            pruned = sum(i["n_pruned"] for i in infos)
            failed = sum(i["n_failed"] for i in infos)
            trials = sum(i["n_trials"] for i in infos)
            seconds = tuned["fit_s"].mean()
            cells += [f"{seconds:,.0f}", f"{trials} / {pruned} / {failed}"]
        cells.append(sub[sub["model"] == model]["seed"].nunique())
        rows.append(cells)
    table = md_table(
        [
            "model",
            f"default {metric}",
            f"tuned {metric}",
            "search fit s (mean)",
            "trials / pruned / failed",
            "seeds",
        ],
        rows,
    )
    direction = "higher" if higher_is_better(metric) else "lower"
    return f"### {dataset} ({metric}, {direction} is better)\n\n{table}\n"


def target_checks(ok: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """Check the issue's targets on complete (dataset, seed) pairs.

    Returns
    -------
    text : str
        Markdown lines stating each target and whether it is met.
    norm : DataFrame
        Normalized scores (datasets x tuned models and the ensemble).
    """
    tuned = ok[ok["config"] == "tuned"].copy()
    tuned["label"] = _label(tuned)
    labels = sorted(set(tuned["label"]))
    norm = normalized_scores(tuned, labels)
    means = norm.mean().sort_values(ascending=False)
    lines = []
    if ENSEMBLE in means.index:
        singles = means.drop(ENSEMBLE)
        beats_all = bool((means[ENSEMBLE] > singles).all())
        beats_lgbm = BASELINE in means.index and means[ENSEMBLE] > means[BASELINE]
        lines.append(
            f"- Ensemble's mean normalized score {fmt(means[ENSEMBLE], 3)} above tuned "
            f"LightGBM's ({fmt(means.get(BASELINE, np.nan), 3)}): "
            f"**{'met' if beats_lgbm else 'not met'}**; above every single tuned "
            f"model's (best {singles.idxmax()}, {fmt(singles.max(), 3)}): "
            f"**{'met' if beats_all else 'not met'}**."
        )
        worst = []
        for dataset, sub in tuned.groupby("dataset"):
            metric = str(sub["primary_metric"].iloc[0])
            sign = 1.0 if higher_is_better(metric) else -1.0
            scores = _scores_by_label(sub)
            means = scores.groupby("label").mean()
            members = means.drop(ENSEMBLE, errors="ignore")
            best = (sign * members).idxmax()
            gap = sign * (means[ENSEMBLE] - members[best])
            tol = tie_tolerance(metric, scores[ENSEMBLE], scores[best])
            worst.append((dataset, best, gap, tol, tie_outcome(gap, tol) != "L"))
        fails = [w for w in worst if not w[4]]
        closest = ", ".join(
            f"{d} ({fmt(g)} vs {b}, tolerance {fmt(t)})" for d, b, g, t, _ in worst
        )
        lines.append(
            "- Ensemble never below the best single member by more than a tie "
            "(BENCHMARKS.md: the larger of the two standard deviations over "
            "seeds; with one seed 0.002 AUC / accuracy or 0.5 % RMSE) on any "
            f"dataset: **{'met' if not fails else 'not met'}**. Ensemble minus the "
            f"best member (positive = ensemble better): {closest}."
        )
    lines.append("")
    rows = []
    for dataset, sub in tuned.groupby("dataset"):
        metric = str(sub["primary_metric"].iloc[0])
        sign = 1.0 if higher_is_better(metric) else -1.0
        scores = _scores_by_label(sub)
        means = scores.groupby("label").mean()
        if BASELINE not in means.index:
            continue
        for label in means.index:
            if label.split(" ")[0] in (
                "lightgbm",
                "xgboost",
                "catboost",
                "hist_gbdt",
                "ensemble",
            ):
                continue
            diff = sign * (means[label] - means[BASELINE])
            tol = tie_tolerance(metric, scores[label], scores[BASELINE])
            verdict = {"W": "better", "T": "tie", "L": "worse"}[tie_outcome(diff, tol)]
            rows.append(
                [
                    dataset,
                    label,
                    fmt(means[label]),
                    fmt(means[BASELINE]),
                    verdict,
                ]
            )
    if rows:
        lines.append(
            "Each tuned tabkit model against tuned LightGBM (test, mean over seeds):\n"
        )
        lines.append(
            md_table(["dataset", "model", "score", "tuned LightGBM", "standing"], rows)
        )
    return "\n".join(lines) + "\n", norm


def _on_seeds(rows: pd.DataFrame, seeds: list[int]) -> pd.DataFrame:
    """Return the latest row of each of ``seeds``."""
    last = rows.drop_duplicates("seed", keep="last")
    return last[last["seed"].isin(seeds)]


def _score_on(rows: pd.DataFrame, seeds: list[int]) -> str:
    """Format the test score over ``seeds``: mean ± std, one value, or missing."""
    s = _on_seeds(rows, seeds)["test_primary"]
    if len(s) > 1:
        return mean_std(s.mean(), s.std())
    return fmt(s.mean()) if len(s) else MISSING


def full_space_section(ok: pd.DataFrame) -> str:
    """Compare the profile's searches with searches of the library's whole space.

    ``python -m benchmarks.tuned --full-space`` writes ``tuned_full`` rows:
    the same search with the parameters of ``benchmarks.tuned.PROFILE_EXCLUDED``
    added to the space. Per dataset and model with both: test score over the
    seeds both ran (mean ± std), tuned LightGBM's on those seeds, and the
    mean search fit seconds.

    Parameters
    ----------
    ok : DataFrame
        ``report.ok_results`` of the tuned CSV.

    Returns
    -------
    str
        A markdown section, or an empty string without ``tuned_full`` rows.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({
    ...     "dataset": ["d"] * 6, "model": ["m", "m", "lightgbm"] * 2,
    ...     "seed": [0, 0, 0, 1, 1, 1],
    ...     "config": ["tuned", "tuned_full", "tuned"] * 2,
    ...     "fit_s": [10.0, 30.0, 5.0] * 2,
    ...     "test_primary": [0.5, 0.4, 0.3, 0.7, 0.4, 0.3],
    ...     "primary_metric": ["rmse"] * 6})
    >>> print(full_space_section(rows).splitlines()[-1])
    | d (rmse) | m | 2 | 0.6000 ± 0.1414 | 0.4000 ± 0.0000 | 0.3000 ± 0.0000 | 10 | 30 |
    """
    if "tuned_full" not in set(ok["config"]):
        return ""
    tuned = ok[ok["config"] == "tuned"]
    rows = []
    full_rows = ok[ok["config"] == "tuned_full"]
    for (dataset, model), full in full_rows.groupby(["dataset", "model"]):
        profile = tuned[(tuned["dataset"] == dataset) & (tuned["model"] == model)]
        seeds = sorted(set(full["seed"]) & set(profile["seed"]))
        if not seeds:
            continue
        lgbm = tuned[(tuned["dataset"] == dataset) & (tuned["model"] == "lightgbm")]
        rows.append(
            [
                f"{dataset} ({full['primary_metric'].iloc[0]})",
                model,
                len(seeds),
                _score_on(profile, seeds),
                _score_on(full, seeds),
                _score_on(lgbm, seeds),
                f"{_on_seeds(profile, seeds)['fit_s'].mean():,.0f}",
                f"{_on_seeds(full, seeds)['fit_s'].mean():,.0f}",
            ]
        )
    if not rows:
        return ""
    return (
        "## Whole search space\n\n"
        "The profile's search against one of the library's whole space "
        "(`python -m benchmarks.tuned --full-space`, rows `tuned_full`; the "
        "parameters the profile leaves out are `PROFILE_EXCLUDED` in "
        "`benchmarks/tuned.py`): test score (primary metric) over the seeds both "
        "ran, tuned LightGBM's on the same seeds, and mean search fit seconds.\n\n"
        + md_table(
            [
                "dataset (metric)",
                "model",
                "seeds",
                "profile space",
                "whole space",
                "tuned LightGBM",
                "profile s",
                "whole s",
            ],
            rows,
        )
    )


def pruning_section(ok: pd.DataFrame) -> str:
    """Pruned against unpruned searches, where both ran on a dataset and seed.

    ``python -m benchmarks.tuned --no-prune`` writes ``tuned_noprune`` rows:
    the same search (sampler seed, trials, per-trial budget) with every trial
    run to the end. Per (dataset, model, seed) with both rows: the search's
    fit time, the best trial's tuning-half score, and the test score.

    Parameters
    ----------
    ok : DataFrame
        ``report.ok_results`` of the tuned CSV.

    Returns
    -------
    str
        A markdown section, or an empty string without ``tuned_noprune`` rows.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({
    ...     "dataset": ["d", "d"], "model": ["m", "m"], "seed": [0, 0],
    ...     "config": ["tuned", "tuned_noprune"], "fit_s": [50.0, 100.0],
    ...     "val_primary": [0.81, 0.82], "test_primary": [0.80, 0.79],
    ...     "primary_metric": ["roc_auc", "roc_auc"]})
    >>> print(pruning_section(rows).splitlines()[-1])
    | d | m | 0 | 50 | 100 | 50 % | 0.8100 | 0.8200 | 0.8000 | 0.7900 |
    """
    both = ok[ok["config"].isin(["tuned", "tuned_noprune"])]
    if "tuned_noprune" not in set(both["config"]):
        return ""
    key = ["dataset", "model", "seed"]
    wide = both.pivot_table(
        index=key,
        columns="config",
        values=["fit_s", "val_primary", "test_primary"],
        aggfunc="last",
    ).dropna()
    if wide.empty:
        return ""
    rows = []
    for (dataset, model, seed), r in wide.iterrows():
        pruned, full = r[("fit_s", "tuned")], r[("fit_s", "tuned_noprune")]
        rows.append(
            [
                dataset,
                model,
                seed,
                f"{pruned:,.0f}",
                f"{full:,.0f}",
                f"{100 * (1 - pruned / full):.0f} %",
                fmt(r[("val_primary", "tuned")], 4),
                fmt(r[("val_primary", "tuned_noprune")], 4),
                fmt(r[("test_primary", "tuned")], 4),
                fmt(r[("test_primary", "tuned_noprune")], 4),
            ]
        )
    return (
        "## Pruning\n\n"
        + (
            "The same search with every trial run to the end "
            "(`python -m benchmarks.tuned --no-prune`, rows `tuned_noprune`): "
            "search fit seconds, the time pruning "
            "saved, and the best trial's score on the tuning half and on the test rows "
            "(primary metric).\n\n"
        )
        + md_table(
            [
                "dataset",
                "model",
                "seed",
                "pruned s",
                "unpruned s",
                "saved",
                "best tuning score, pruned",
                "unpruned",
                "test, pruned",
                "unpruned",
            ],
            rows,
        )
    )


def write_tuned_report(csv: str | os.PathLike) -> Path:
    """Write ``<csv stem>.md`` and its figure next to the tuned CSV.

    Parameters
    ----------
    csv : path-like
        The tuned profile's results CSV.

    Returns
    -------
    Path
        The markdown file.
    """
    csv = Path(csv)
    out = csv.with_suffix(".md")
    ok = ok_results(read_frame(csv))
    complete = complete_pairs(ok)
    parts = [
        "# Tuned profile\n",
        "Command: `python -m benchmarks.tuned --threads 1` (resumable); report: "
        "`python -m benchmarks.tuned --report --out benchmarks/results/tuned.csv`.\n",
        "Protocol (module docstring of `benchmarks/tuned.py`): 10,000-row training "
        "cap; "
        "validation rows halved into a tuning half (early stopping and the search's "
        "score) and a selection half (ensemble selection only); 20 optuna TPE trials "
        "per model family, the tabkit families pruned by the median rule and given "
        "120 s per trial; test rows score the best trial. Scores are test means ± "
        "sample standard deviations over seeds.\n",
    ]
    if ok.empty:
        parts.append("No results yet.\n")
        out.write_text("\n".join(parts))
        return out
    machines = ok["cpu_model"].dropna().unique()
    threads = ", ".join(map(str, sorted(ok["threads"].dropna().unique())))
    parts.append(f"Machine: {', '.join(map(str, machines))}; threads: {threads}.\n")
    pairs = complete.groupby(["dataset", "seed"]).ngroups
    parts.append(
        f"Complete (dataset, seed) pairs: {pairs} of "
        f"{ok.groupby(['dataset', 'seed']).ngroups} started.\n"
    )
    parts.append("## Per dataset\n")
    for dataset in sorted(set(ok["dataset"])):
        parts.append(_dataset_section(ok, dataset))
    if not complete.empty and (complete["model"] == "ensemble").any():
        text, norm = target_checks(complete)
        parts.append("## Targets (complete pairs only)\n")
        parts.append(text)
        mean = norm.mean().sort_values(ascending=False)
        parts.append(
            md_table(
                ["model", "mean normalized score", "datasets"],
                [[m, fmt(v, 3), int(norm[m].notna().sum())] for m, v in mean.items()],
            )
        )
        tasks = complete.groupby("dataset")["task"].first()
        figure = plot_normalized(
            norm, tasks, out.with_name(f"{out.stem}_normalized.png")
        )
        parts.append(
            figure_markdown(
                figure,
                "normalized scores of the tuned models and the ensemble",
                "Normalized test score per dataset (1 = best of the tuned models and "
                "the ensemble, 0 = worst); bars are means over datasets.",
            )
        )
    for section in (full_space_section(ok), pruning_section(ok)):
        if section:
            parts.append(section)
    out.write_text("\n".join(parts))
    return out
