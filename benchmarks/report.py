# SPDX-License-Identifier: BSD-3-Clause
"""Markdown report of a results CSV.

.. code-block:: bash

    python -m benchmarks.report benchmarks/results/foundation.csv \
        --out benchmarks/results/foundation.md

The report starts with the exact commands that produced the CSV and the one
that produced the report, then: per dataset and model the primary metric mean
± std over seeds, secondary metrics, fit time and its ratio to LightGBM's,
prediction time; the normalized score over a stated model list; the mean
rank; the fit-time ratio to LightGBM per model (geometric mean over
datasets); two PNG figures (``benchmarks.plots``: normalized score per model,
score against fit time) written next to the report as ``<name>_*.png``;
wins / ties / losses against the best GBDT chosen on validation; failed fits;
the environment.

Each part is a function ``section_*(ctx) -> str`` listed in ``SECTIONS``; a
later addition (plots, more tables) is one more such function.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import plots
from benchmarks.models import MODELS, make_model
from benchmarks.profiles import PROFILES
from benchmarks.protocol import SECONDARY_METRICS, higher_is_better
from benchmarks.store import COLUMNS, KEY, read_frame

logger = logging.getLogger("benchmarks.report")

#: The gradient-boosted trees every other model is measured against.
GBDT_MODELS = ("lightgbm", "xgboost", "catboost", "hist_gbdt")
#: Fit times are reported as a ratio to this model's, on the same dataset.
TIME_REFERENCE = "lightgbm"


def references() -> dict[str, tuple[str, ...]]:
    """Map each tabkit model to the registered configurations of its reference.

    Read from the registry: every adapter of family "reference" names the
    tabkit model it anchors (``reference_for``). The reference is taken at
    its configuration with the best mean validation score.

    Returns
    -------
    dict of str to tuple of str
    """
    out: dict[str, tuple[str, ...]] = {}
    for name in MODELS:
        adapter = make_model(name)
        target = getattr(adapter, "reference_for", None)
        if adapter.family == "reference" and target:
            out[target] = (*out.get(target, ()), name)
    return out


def speedup_targets() -> dict[str, float]:
    """Map each reference model to the speed-up target the report checks."""
    out = {}
    for name in MODELS:
        target = getattr(make_model(name), "speedup_target", None)
        if target is not None:
            out[name] = float(target)
    return out


#: Tie tolerance with one seed: absolute for these metrics ...
TIE_ABSOLUTE = {"roc_auc": 0.002, "accuracy": 0.002}
#: ... and relative to the best GBDT's score for the others (RMSE: 0.5 %).
TIE_RELATIVE = 0.005


@dataclass
class ReportContext:
    """What every section sees.

    Attributes
    ----------
    records : DataFrame
        Every record of the CSV.
    ok : DataFrame
        The last "ok" record per (dataset, model, config, seed), with a
        ``label`` column naming the model (``model [config]`` when a model
        appears with several configurations).
    models : list of str
        Labels over which normalized scores and ranks are computed.
    commands : list of str
        Commands that produced the CSV, in order of first appearance.
    report_command : str
        The command that produced this report.
    out_dir : Path or None
        Directory of the report, for sections that write files (figures);
        None when nothing is to be written.
    name : str
        Report name (the markdown file's stem), prefix of its figures.
    """

    records: pd.DataFrame
    ok: pd.DataFrame
    models: list[str]
    commands: list[str]
    report_command: str
    out_dir: Path | None
    name: str = "report"


# ============================================================ data


def _labels(ok: pd.DataFrame) -> pd.Series:
    n_configs = ok.groupby("model")["config"].transform("nunique")
    both = ok["model"] + " [" + ok["config"].astype(str) + "]"
    return ok["model"].where(n_configs <= 1, both)


def ok_results(records: pd.DataFrame) -> pd.DataFrame:
    """Keep the last "ok" record of every fit and add a ``label`` column.

    Parameters
    ----------
    records : DataFrame
        Records of a results CSV.

    Returns
    -------
    DataFrame
        One row per (dataset, model, config, seed).
    """
    ok = records[records["status"] == "ok"]
    ok = ok.drop_duplicates(subset=list(KEY), keep="last").copy()
    ok["label"] = _labels(ok)
    return ok.reset_index(drop=True)


def _sign(metric: str) -> float:
    return 1.0 if higher_is_better(metric) else -1.0


def summarize(ok: pd.DataFrame) -> pd.DataFrame:
    """Mean, std and count over seeds per dataset and model.

    Parameters
    ----------
    ok : DataFrame
        Output of ``ok_results``.

    Returns
    -------
    DataFrame
        Indexed by (dataset, label); columns ``n``, ``<col>_mean`` and
        ``<col>_std`` for the primary and test metrics and the timings, and
        ``fit_ratio`` (mean fit seconds over LightGBM's on that dataset).
    """
    cols = [c for c in ok.columns if c.startswith("test_") or c.endswith("_s")]
    cols.append("peak_rss_mb")
    cols = [c for c in cols if c in ok and c != "budget_s" and ok[c].notna().any()]
    grouped = ok.groupby(["dataset", "label"], sort=False)
    stats = grouped[cols].agg(["mean", "std"])
    stats.columns = [f"{c}_{s}" for c, s in stats.columns]
    stats.insert(0, "n", grouped.size())
    labels = stats.index.get_level_values("label")
    ref = stats.loc[labels == TIME_REFERENCE, "fit_s_mean"].droplevel("label")
    datasets = stats.index.get_level_values("dataset")
    stats["fit_ratio"] = stats["fit_s_mean"].to_numpy() / datasets.map(ref)
    return stats


def fit_time_ratios(ok: pd.DataFrame) -> pd.DataFrame:
    """Fit time relative to LightGBM's per model, over datasets.

    Parameters
    ----------
    ok : DataFrame
        Output of ``ok_results``.

    Returns
    -------
    DataFrame
        Indexed by label: ``geomean``, ``min`` and ``max`` of the per-dataset
        ratio of mean fit seconds to LightGBM's (``summarize``'s
        ``fit_ratio``) and ``datasets``, the number of datasets where both
        ran; sorted by ``geomean``. Empty without LightGBM fits.
    """
    ratio = summarize(ok)["fit_ratio"]
    ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
    if ratio.empty:
        return pd.DataFrame(columns=["geomean", "min", "max", "datasets"])
    by_model = ratio.groupby(level="label", sort=False)
    table = pd.DataFrame(
        {
            "geomean": np.exp(np.log(ratio).groupby(level="label", sort=False).mean()),
            "min": by_model.min(),
            "max": by_model.max(),
            "datasets": by_model.size(),
        }
    )
    return table.sort_values("geomean")


def fit_times(ok: pd.DataFrame, *, relative: bool) -> pd.DataFrame:
    """Mean fit time per dataset (rows) and model (columns).

    Parameters
    ----------
    ok : DataFrame
        Output of ``ok_results``.
    relative : bool
        Ratios to LightGBM's mean fit time on the dataset instead of seconds.

    Returns
    -------
    DataFrame
        Datasets x labels.
    """
    column = "fit_ratio" if relative else "fit_s_mean"
    return summarize(ok)[column].unstack("label")


def _dataset_scores(ok: pd.DataFrame, models: Sequence[str]) -> pd.DataFrame:
    """Mean test primary metric per dataset (rows) and model (columns)."""
    sub = ok[ok["label"].isin(models)]
    return sub.pivot_table(
        index="dataset", columns="label", values="test_primary", aggfunc="mean"
    )


def _primary_of(ok: pd.DataFrame) -> pd.Series:
    return ok.groupby("dataset")["primary_metric"].first()


def normalized_scores(ok: pd.DataFrame, models: Sequence[str]) -> pd.DataFrame:
    """(score - worst) / (best - worst) per dataset over ``models``.

    Direction-aware: the best model gets 1 and the worst 0 whether higher or
    lower is better; a dataset where all listed models score the same gives 1.

    Parameters
    ----------
    ok : DataFrame
        Output of ``ok_results``.
    models : sequence of str
        Labels to normalize over.

    Returns
    -------
    DataFrame
        Datasets as rows, models as columns (NaN where a model is missing).
    """
    scores = _dataset_scores(ok, models)
    signs = _primary_of(ok).map(_sign).reindex(scores.index)
    signed = scores.mul(signs, axis=0)
    best, worst = signed.max(axis=1), signed.min(axis=1)
    span = (best - worst).replace(0.0, np.nan)
    norm = signed.sub(worst, axis=0).div(span, axis=0)
    flat = span.isna()  # one model, or all equal: everyone is the best
    norm.loc[flat] = np.where(scores.loc[flat].notna(), 1.0, np.nan)
    return norm


def ranks(ok: pd.DataFrame, models: Sequence[str]) -> pd.DataFrame:
    """Rank of each model per dataset (1 = best, ties averaged)."""
    scores = _dataset_scores(ok, models)
    signs = _primary_of(ok).map(_sign).reindex(scores.index)
    return scores.mul(signs, axis=0).rank(axis=1, ascending=False, method="average")


def best_gbdt(ok: pd.DataFrame) -> pd.DataFrame:
    """Pick the GBDT with the best validation score per dataset and seed.

    Parameters
    ----------
    ok : DataFrame
        Output of ``ok_results``.

    Returns
    -------
    DataFrame
        One row per (dataset, seed): the chosen GBDT's record. Validation
        ties go to the first model in ``GBDT_MODELS`` order.
    """
    gbdt = ok[ok["model"].isin(GBDT_MODELS) & ok["val_primary"].notna()]
    if gbdt.empty:
        return gbdt
    # Ties on validation go to the first in GBDT_MODELS order.
    order = gbdt["model"].map({m: i for i, m in enumerate(GBDT_MODELS)})
    gbdt = gbdt.loc[order.sort_values(kind="stable").index]
    signed = gbdt["val_primary"] * gbdt["primary_metric"].map(_sign)
    best = signed.groupby([gbdt["dataset"], gbdt["seed"]]).idxmax()
    return gbdt.loc[best.to_numpy()].reset_index(drop=True)


def tie_tolerance(metric: str, model: pd.Series, ref: pd.Series) -> float:
    """BENCHMARKS.md's tie: how far apart two models' mean scores may be.

    Parameters
    ----------
    metric : str
        The primary metric (``roc_auc``, ``accuracy`` or ``rmse``).
    model, ref : Series
        The two models' test scores on the same seeds.

    Returns
    -------
    float
        With two or more seeds, the larger of the two standard deviations over
        seeds; with one seed, 0.002 (AUC, accuracy) or 0.5 % of ``ref``'s
        score (RMSE).

    Examples
    --------
    >>> round(tie_tolerance("roc_auc", pd.Series([0.80, 0.82]),
    ...                     pd.Series([0.81, 0.81])), 4)
    0.0141
    >>> tie_tolerance("accuracy", pd.Series([0.9]), pd.Series([0.8]))
    0.002
    >>> round(tie_tolerance("rmse", pd.Series([0.5]), pd.Series([0.4])), 4)
    0.002
    """
    if len(model) >= 2:
        return float(max(model.std(), ref.std()))
    if metric in TIE_ABSOLUTE:
        return TIE_ABSOLUTE[metric]
    return TIE_RELATIVE * abs(float(ref.mean()))


def tie_outcome(delta: float, tolerance: float) -> str:
    """Outcome "W", "T" or "L" of a signed difference (positive = better).

    A difference no larger than the tolerance is a tie, so two models with the
    same scores on every seed tie even when their standard deviations are 0.

    Parameters
    ----------
    delta : float
        Mean score difference, oriented so that positive is better.
    tolerance : float
        ``tie_tolerance`` of the two models.

    Returns
    -------
    str

    Examples
    --------
    >>> tie_outcome(0.0, 0.0), tie_outcome(0.01, 0.005), tie_outcome(-0.003, 0.005)
    ('T', 'W', 'T')
    """
    if abs(delta) <= tolerance + 1e-12:
        return "T"
    return "W" if delta > 0 else "L"


def versus_best_gbdt(ok: pd.DataFrame) -> pd.DataFrame:
    """Wins / ties / losses of each non-GBDT model against the best GBDT.

    Per dataset, the model's mean test score over the seeds it shares with
    the best-on-validation GBDT of each seed is compared with that GBDT's mean.
    A tie is ``|delta|`` below the larger of the two standard deviations over
    seeds, or, with one seed, below 0.002 (AUC, accuracy) or 0.5 % of the
    GBDT's score (RMSE).

    Parameters
    ----------
    ok : DataFrame
        Output of ``ok_results``.

    Returns
    -------
    DataFrame
        Columns ``label``, ``dataset``, ``n``, ``model_mean``, ``gbdt_mean``,
        ``delta`` (positive = better than the GBDT), ``tolerance``,
        ``outcome`` ("W", "T" or "L").
    """
    ref = best_gbdt(ok)
    rows = []
    others = ok[~ok["model"].isin(GBDT_MODELS)]
    for (label, dataset), fits in others.groupby(["label", "dataset"], sort=False):
        chosen = ref[ref["dataset"] == dataset].set_index("seed")["test_primary"]
        mine = fits.set_index("seed")["test_primary"]
        seeds = mine.index.intersection(chosen.index)
        if seeds.empty:
            continue
        metric = fits["primary_metric"].iloc[0]
        model, gbdt = mine.loc[seeds], chosen.loc[seeds]
        delta = _sign(metric) * (model.mean() - gbdt.mean())
        tol = tie_tolerance(metric, model, gbdt)
        outcome = tie_outcome(delta, tol)
        rows.append(
            {
                "label": label,
                "dataset": dataset,
                "n": len(seeds),
                "model_mean": model.mean(),
                "gbdt_mean": gbdt.mean(),
                "delta": delta,
                "tolerance": tol,
                "outcome": outcome,
            }
        )
    return pd.DataFrame(rows)


# ============================================================ formatting


def fmt(value: float, digits: int = 4) -> str:
    """Format a number for the tables ("-" for missing values).

    Parameters
    ----------
    value : float
        The number.
    digits : int, default=4
        Decimals below 100; two decimals from 100 on.

    Returns
    -------
    str
        The formatted number.
    """
    if value is None or not np.isfinite(value):
        return "-"
    return f"{value:.2f}" if abs(value) >= 100 else f"{value:.{digits}f}"


def mean_std(mean: float, std: float, digits: int = 4) -> str:
    """``mean ± std``, or ``mean`` alone when the std is undefined (one seed)."""
    if std is None or not np.isfinite(std):
        return fmt(mean, digits)
    return f"{fmt(mean, digits)} ± {fmt(std, digits)}"


def md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Format a GitHub-flavoured markdown table.

    Parameters
    ----------
    header : sequence of str
        Column titles.
    rows : sequence of sequences
        Cells (converted with ``str``).

    Returns
    -------
    str
        The table, ending with a newline.
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# ============================================================ sections


def _profile_line(records: pd.DataFrame) -> str:
    """Profile(s) of the records with their settings, "" when none recorded."""
    names = list(dict.fromkeys(records["profile"].dropna().astype(str)))
    if not names:
        return ""
    parts = [PROFILES[n].describe() if n in PROFILES else f"`{n}`" for n in names]
    return f"Profile: {'; '.join(parts)}.\n\n"


def section_header(ctx: ReportContext) -> str:
    """Title, the exact commands behind the CSV and the report, the profile."""
    commands = "\n".join([*ctx.commands, ctx.report_command])
    return (
        "# Benchmark report\n\n"
        "Produced by (results, then this report):\n\n"
        f"```bash\n{commands}\n```\n\n"
        + _profile_line(ctx.records)
        + f"Successful fits: {len(ctx.ok)}; datasets: {ctx.ok['dataset'].nunique()}; "
        f"models: {ctx.ok['label'].nunique()}.\n"
    )


def _dataset_title(fits: pd.DataFrame, dataset: str) -> str:
    first = fits.iloc[0]
    return (
        f"### {dataset}\n\n{first['task']}; train / val / test = "
        f"{int(first['n_train'])} / {int(first['n_val'])} / {int(first['n_test'])}"
        f" rows, {int(first['n_features'])} features; primary metric "
        f"{first['primary_metric']} (test).\n\n"
    )


def _dataset_table(stats: pd.DataFrame, task: str, primary: str) -> str:
    secondary = SECONDARY_METRICS[task]
    header = ["model", "seeds", f"{primary} (mean ± std)", *secondary]
    header += ["fit s", "fit / LightGBM", "predict s (5k rows)", "predict s (test)"]
    header += ["peak RSS MB"]
    rows = []
    for label, s in stats.iterrows():
        row = [
            label,
            int(s["n"]),
            mean_std(s["test_primary_mean"], s["test_primary_std"]),
        ]
        row += [mean_std(s[f"test_{m}_mean"], s[f"test_{m}_std"]) for m in secondary]
        row += [fmt(s["fit_s_mean"], 3), fmt(s["fit_ratio"], 2)]
        row += [fmt(s["predict_s_mean"]), fmt(s["predict_test_s_mean"])]
        rss = s.get("peak_rss_mb_mean", np.nan)
        row += [f"{rss:.0f}" if np.isfinite(rss) else "-"]
        rows.append(row)
    return md_table(header, rows)


def section_per_dataset(ctx: ReportContext) -> str:
    """Per dataset and model: metrics over seeds, fit and predict times."""
    stats = summarize(ctx.ok)
    parts = ["## Results per dataset\n\n"]
    parts.append(
        "Mean ± std over seeds (sample std; none with one seed). Fit seconds "
        "include encoding; *fit / LightGBM* is the ratio of mean fit times on "
        "the same dataset; prediction seconds are the median of 3 runs on 5,000 "
        "test rows drawn with replacement (probabilities for classifiers); peak "
        "RSS is the fit's process (isolated fits).\n\n"
    )
    for dataset, fits in ctx.ok.groupby("dataset", sort=False):
        first = fits.iloc[0]
        parts.append(_dataset_title(fits, dataset))
        table = stats.loc[dataset]
        parts.append(_dataset_table(table, first["task"], first["primary_metric"]))
        parts.append("\n")
    return "".join(parts)


def section_normalized(ctx: ReportContext) -> str:
    """Tabulate the normalized score per dataset over the stated models."""
    norm = normalized_scores(ctx.ok, ctx.models)
    if norm.empty:
        return ""
    models = [m for m in ctx.models if m in norm.columns]
    header = ["dataset", *models]
    rows = [[d, *(fmt(norm.loc[d, m], 3) for m in models)] for d in norm.index]
    rows.append(["**mean**", *(fmt(norm[m].mean(), 3) for m in models)])
    return (
        "## Normalized score\n\n"
        "Per dataset, (score - worst) / (best - worst) of the mean test primary "
        "metric, direction-aware (1 = best, 0 = worst), over these models: "
        f"{', '.join(models)}.\n\n" + md_table(header, rows) + "\n"
    )


def section_mean_rank(ctx: ReportContext) -> str:
    """Mean rank over datasets (1 = best) of the stated models."""
    rank = ranks(ctx.ok, ctx.models)
    if rank.empty:
        return ""
    order = rank.mean().sort_values().index
    rows = [[m, fmt(rank[m].mean(), 2), int(rank[m].notna().sum())] for m in order]
    return (
        "## Mean rank\n\n"
        "Rank of the mean test primary metric per dataset (1 = best, ties "
        "averaged), averaged over the datasets where the model ran.\n\n"
        + md_table(["model", "mean rank", "datasets"], rows)
        + "\n"
    )


def section_fit_time(ctx: ReportContext) -> str:
    """Fit-time ratio to LightGBM per model (geometric mean over datasets)."""
    table = fit_time_ratios(ctx.ok)
    if table.empty:
        return ""
    rows = [
        [label, *(fmt(r[c], 2) for c in ("geomean", "min", "max")), int(r["datasets"])]
        for label, r in table.iterrows()
    ]
    return (
        "## Fit time relative to LightGBM\n\n"
        "Per dataset, the model's mean fit seconds over LightGBM's; geometric "
        "mean, minimum and maximum over the datasets where both ran (below 1 = "
        "faster than LightGBM).\n\n"
        + md_table(["model", "geometric mean", "min", "max", "datasets"], rows)
        + "\n"
    )


def section_figures(ctx: ReportContext) -> str:
    """PNG figures next to the report (``benchmarks.plots``), with captions."""
    if ctx.out_dir is None:
        return ""
    norm = normalized_scores(ctx.ok, ctx.models)
    if norm.empty:
        return ""
    relative = TIME_REFERENCE in set(ctx.ok["label"])
    times = fit_times(ctx.ok, relative=relative).reindex(
        index=norm.index, columns=norm.columns
    )
    tasks = ctx.ok.groupby("dataset")["task"].first()
    return plots.figure_section(
        norm, times, tasks, ctx.out_dir, ctx.name, relative=relative
    )


def _chosen_gbdt_line(ok: pd.DataFrame) -> str:
    ref = best_gbdt(ok)
    if ref.empty:
        return ""
    counts = ref.groupby("dataset", sort=False)["model"].value_counts(sort=False)
    text = "; ".join(
        f"{dataset}: " + ", ".join(f"{m} x{n}" for (_, m), n in picks.items())
        for dataset, picks in counts.groupby(level="dataset", sort=False)
    )
    return f"Best GBDT on validation (times chosen over seeds): {text}.\n\n"


VERSUS_HEADER = (
    "model",
    "dataset",
    "seeds",
    "model score",
    "best GBDT score",
    "Δ",
    "tie below",
    "result",
)


def section_versus_gbdt(ctx: ReportContext) -> str:
    """Wins / ties / losses of each non-GBDT model against the best GBDT."""
    res = versus_best_gbdt(ctx.ok)
    if res.empty:
        return ""
    present = [m for m in GBDT_MODELS if m in set(ctx.ok["model"])]
    detail = [
        [
            *(r.label, r.dataset, r.n, fmt(r.model_mean), fmt(r.gbdt_mean)),
            *(f"{r.delta:+.4f}", fmt(r.tolerance), r.outcome),
        ]
        for r in res.itertuples()
    ]
    totals = res.groupby("label", sort=False)["outcome"].value_counts().unstack()
    totals = totals.reindex(columns=["W", "T", "L"]).fillna(0).astype(int)
    summary = [[m, *totals.loc[m]] for m in totals.index]
    intro = (
        "## Against the best GBDT\n\n"
        f"Best GBDT = the one of {', '.join(present)} with the best validation "
        "score on that dataset and seed. Δ = model - GBDT mean test score "
        "(sign flipped where lower is better, so Δ > 0 is a win). Tie: |Δ| below "
        "the larger std over seeds; with one seed, below 0.002 (AUC, accuracy) "
        "or 0.5 % of the GBDT's score (RMSE).\n\n"
    )
    return (
        intro
        + _chosen_gbdt_line(ctx.ok)
        + md_table(["model", "W", "T", "L"], summary)
        + "\n"
        + md_table(VERSUS_HEADER, detail)
        + "\n"
    )


def versus_reference(
    ok: pd.DataFrame, failed: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Compare each tabkit model with its reference implementation.

    Per dataset, the reference is the configuration (of ``references()``)
    with the best mean validation score. The score check passes when the
    model's mean test score is at least the reference's mean minus one
    standard deviation (direction-aware); the speed-ups compare mean fit
    seconds and mean prediction seconds (``predict_s``: median of 3
    predictions on 5,000 rows, validation and encoding included). A side
    whose every fit failed (error, timeout, out of memory) on a dataset loses
    it: the other side's score check passes when it has results.

    Parameters
    ----------
    ok : DataFrame
        Output of ``ok_results``.
    failed : DataFrame, optional
        Records of fits that never succeeded (columns ``model``, ``dataset``).

    Returns
    -------
    DataFrame
        One row per (model, dataset).
    """
    failed_pairs = set()
    if failed is not None and not failed.empty:
        failed_pairs = set(zip(failed["model"], failed["dataset"], strict=True))
    rows = []
    datasets = list(dict.fromkeys([*ok["dataset"], *(p[1] for p in failed_pairs)]))
    for model, configs in references().items():
        for dataset in datasets:
            fits = ok[ok["dataset"] == dataset]
            mine = fits[fits["model"] == model]
            refs = fits[fits["model"].isin(configs)]
            ref_failed = refs.empty and any(
                (c, dataset) in failed_pairs for c in configs
            )
            mine_failed = mine.empty and (model, dataset) in failed_pairs
            if (mine.empty and not mine_failed) or (refs.empty and not ref_failed):
                continue
            if mine_failed and refs.empty:
                continue
            metric = str((mine if not mine.empty else refs)["primary_metric"].iloc[0])
            sign = _sign(metric)
            row: dict[str, Any] = {
                "model": model,
                "dataset": dataset,
                "metric": metric,
                "n": len(mine),
                "model_mean": mine["test_primary"].mean() if len(mine) else np.nan,
                "model_std": mine["test_primary"].std() if len(mine) else np.nan,
            }
            if ref_failed:
                row.update(reference="failed", ref_mean=np.nan, ref_std=np.nan)
                row.update(score_ok=True, fit_speedup=np.nan, predict_speedup=np.nan)
                rows.append(row)
                continue
            val = refs.groupby("model")["val_primary"].mean() * sign
            chosen = str(val.idxmax())
            ref = refs[refs["model"] == chosen]
            ref_mean, ref_std = ref["test_primary"].mean(), ref["test_primary"].std()
            bound = ref_mean - sign * (ref_std if np.isfinite(ref_std) else 0.0)
            row.update(reference=chosen, ref_mean=ref_mean, ref_std=ref_std)
            if mine_failed:
                row.update(score_ok=False, fit_speedup=np.nan, predict_speedup=np.nan)
            else:
                row.update(
                    score_ok=bool(sign * (row["model_mean"] - bound) >= 0),
                    fit_speedup=ref["fit_s"].mean() / mine["fit_s"].mean(),
                    predict_speedup=ref["predict_s"].mean() / mine["predict_s"].mean(),
                )
            rows.append(row)
    return pd.DataFrame(rows)


def section_versus_reference(ctx: ReportContext) -> str:
    """Each tabkit model against its reference implementation (targets)."""
    rec = ctx.records
    ok_keys = set(zip(ctx.ok["model"], ctx.ok["dataset"], strict=True))
    failed = rec[rec["status"] != "ok"]
    failed = failed[
        [
            (m, d) not in ok_keys
            for m, d in zip(failed["model"], failed["dataset"], strict=True)
        ]
    ]
    res = versus_reference(ctx.ok, failed)
    if res.empty:
        return ""
    targets = speedup_targets()

    def fmt(value: float) -> str:
        return f"{value:.1f}x" if np.isfinite(value) else "-"

    rows = [
        [
            r.model,
            r.dataset,
            r.metric,
            r.reference,
            mean_std(r.model_mean, r.model_std) if r.n else "failed",
            mean_std(r.ref_mean, r.ref_std) if r.reference != "failed" else "failed",
            "yes" if r.score_ok else "**no**",
            fmt(r.fit_speedup),
            fmt(r.predict_speedup),
        ]
        for r in res.itertuples()
    ]
    speed_ok = [
        r.reference not in targets
        or (
            r.fit_speedup >= targets[r.reference]
            and r.predict_speedup >= targets[r.reference]
        )
        for r in res.itertuples()
    ]
    passed = res["score_ok"] & pd.Series(speed_ok, index=res.index)
    target_text = "; ".join(
        f"{ref}: {t:g}x or more" for ref, t in sorted(targets.items())
    )
    summary = "".join(
        f"\n{model}: all targets met on {int(passed[res['model'] == model].sum())} "
        f"of {int((res['model'] == model).sum())} datasets.\n"
        for model in dict.fromkeys(res["model"])
    )
    return (
        "## Against the reference implementation\n\n"
        "The reference runs at its configuration with the best mean validation "
        "score on each dataset. Score check: the model's mean test score is at "
        "least the reference's mean minus one standard deviation; a side whose "
        "fits all failed on a dataset loses it. Speed-ups: "
        "reference mean seconds / model mean seconds, for fitting and for "
        "predicting 5,000 rows (median of 3, validation and encoding included); "
        f"speed-up targets: {target_text or 'none'}.\n\n"
        + md_table(
            [
                "model",
                "dataset",
                "metric",
                "reference",
                "model",
                "reference",
                "score ok",
                "fit speed-up",
                "predict speed-up",
            ],
            rows,
        )
        + summary
    )


def section_failures(ctx: ReportContext) -> str:
    """Fits without any successful record (errors, timeouts)."""
    rec = ctx.records
    ok_keys = set(map(tuple, ctx.ok[list(KEY)].astype(str).to_numpy()))
    failed = rec[rec["status"] != "ok"].drop_duplicates(list(KEY), keep="last")
    keys = map(tuple, failed[list(KEY)].astype(str).to_numpy())
    failed = failed[[k not in ok_keys for k in keys]]
    if failed.empty:
        return ""
    rows = [
        [r.dataset, r.model, r.seed, r.status, str(r.error)[:160]]
        for r in failed.itertuples()
    ]
    return (
        "## Failed fits\n\n"
        + md_table(["dataset", "model", "seed", "status", "error"], rows)
        + "\n"
    )


ENVIRONMENT_COLUMNS = (
    ("CPU", "cpu_model"),
    ("CPUs", "n_cpus"),
    ("threads per fit", "threads"),
    ("isolated fits", "isolated"),
    ("Python", "python_version"),
    ("tabkit", "tabkit_version"),
    ("commit", "git_commit"),
    ("uncommitted changes", "git_dirty"),
    ("torch", "torch_version"),
    ("scikit-learn", "sklearn_version"),
    ("numpy", "numpy_version"),
    ("pandas", "pandas_version"),
    ("LightGBM", "lightgbm_version"),
    ("XGBoost", "xgboost_version"),
    ("CatBoost", "catboost_version"),
    ("GBNN", "gbnn_version"),
)


def section_environment(ctx: ReportContext) -> str:
    """CPU, threads, versions and commit recorded in the CSV."""
    rows = []
    for title, col in ENVIRONMENT_COLUMNS:
        if col in ctx.records:
            values = ctx.records[col].dropna().astype(str).unique()
            rows.append([title, ", ".join(values) or "-"])
    return "## Environment\n\n" + md_table(["", "value"], rows)


#: The report, in order. Add a section by appending a function.
SECTIONS: list[Callable[[ReportContext], str]] = [
    section_header,
    section_per_dataset,
    section_normalized,
    section_mean_rank,
    section_fit_time,
    section_figures,
    section_versus_gbdt,
    section_versus_reference,
    section_failures,
    section_environment,
]


def build_report(
    records: pd.DataFrame,
    *,
    models: Sequence[str] | None = None,
    report_command: str = "",
    out_dir: str | os.PathLike | None = None,
    name: str = "report",
) -> str:
    """Build the markdown report of a results table.

    Parameters
    ----------
    records : DataFrame
        Records of a results CSV (``store.read_frame`` or ``pandas.read_csv``
        of it; columns of ``store.COLUMNS`` it lacks are taken as empty).
    models : sequence of str or None, default=None
        Models over which normalized scores and ranks are computed; all
        models with a successful fit when None.
    report_command : str, default=""
        The command producing the report, shown under the CSV's commands.
    out_dir : path-like or None, default=None
        Directory of the report, where the figures are written; None writes
        no figure (and leaves the figure section out).
    name : str, default="report"
        Report name, the prefix of its figures' file names.

    Returns
    -------
    str
        Markdown.
    """
    missing = [c for c in COLUMNS if c not in records.columns]
    records = records.assign(**dict.fromkeys(missing, np.nan))
    if records.empty:  # a run that has not written its first row yet
        return "# Benchmark report\n\nNo results yet.\n"
    ok = ok_results(records)
    labels = list(dict.fromkeys(ok["label"]))
    chosen = labels if models is None else [m for m in labels if m in set(models)]
    commands = list(dict.fromkeys(records["command"].dropna().astype(str)))
    where = None if out_dir is None else Path(out_dir)
    ctx = ReportContext(records, ok, chosen, commands, report_command, where, name)
    return "\n".join(part for section in SECTIONS if (part := section(ctx)))


def write_report(
    csv: str | os.PathLike,
    out: str | os.PathLike,
    *,
    models: Sequence[str] | None = None,
    command: str | None = None,
) -> Path:
    """Read a results CSV and write its markdown report and figures.

    The figures are written next to ``out`` as ``<out stem>_<plot>.png``.

    Parameters
    ----------
    csv : path-like
        Results CSV written by ``benchmarks.run``.
    out : path-like
        Markdown file to write.
    models : sequence of str or None, default=None
        See ``build_report``.
    command : str or None, default=None
        The report command to show; rebuilt from the arguments when None.

    Returns
    -------
    Path
        ``out``.
    """
    out = Path(out)
    if command is None:
        extra = ["--models", ",".join(models)] if models else []
        command = shlex.join(
            ["python", "-m", "benchmarks.report", str(csv), "--out", str(out), *extra]
        )
    records = read_frame(csv)
    text = build_report(
        records,
        models=models,
        report_command=command,
        out_dir=out.parent,
        name=out.stem,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks.report CSV --out MD``.

    Parameters
    ----------
    argv : sequence of str or None, default=None
        Arguments; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
        0.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.report", description="Markdown report of a CSV."
    )
    parser.add_argument("csv", type=Path, help="results CSV")
    parser.add_argument("--out", type=Path, required=True, help="markdown file")
    parser.add_argument(
        "--models", help="comma-separated models to normalize over (default: all)"
    )
    args = parser.parse_args(argv)
    if not args.csv.is_file():
        parser.error(f"no results file {str(args.csv)!r}")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    models = args.models.split(",") if args.models else None
    command = shlex.join(["python", "-m", "benchmarks.report", *argv])
    out = write_report(args.csv, args.out, models=models, command=command)
    logger.info("wrote %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
