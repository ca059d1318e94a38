# SPDX-License-Identifier: BSD-3-Clause
"""PNG figures of the benchmark reports (matplotlib, Agg backend).

Plotting only: the numbers come from ``benchmarks.report`` (tabular suite) and
``benchmarks.scaling``; each ``plot_*`` function draws one figure from a
small table and saves it, and ``figure_markdown`` embeds a figure in a report
with its caption under it. Figures are drawn on ``matplotlib.figure.Figure``
objects with the Agg canvas, never through ``pyplot``, so no global state or
display is involved.

Files are named ``<report name>_<plot>.png`` next to the report, e.g.
``benchmarks/results/standard_normalized.png``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

logger = logging.getLogger(__name__)

#: Resolution of the saved figures.
DPI = 120
#: Colour per task in the per-dataset dots.
TASK_COLOURS = {
    "binary": "tab:blue",
    "multiclass": "tab:orange",
    "regression": "tab:green",
}
#: The model fit times are relative to (left out of the caption's findings).
REFERENCE = "lightgbm"
#: Horizontal spread of the per-dataset dots around a model's bar.
JITTER = 0.25


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike) -> Path:
    """Save ``fig`` as a PNG (parent directory created).

    Parameters
    ----------
    fig : Figure
        The figure.
    path : path-like
        Target file.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png")
    logger.info("wrote %s", path)
    return path


def figure_markdown(path: str | os.PathLike, alt: str, caption: str) -> str:
    """Markdown embedding a figure (relative to the report) with a caption.

    Parameters
    ----------
    path : path-like
        The PNG, in the report's directory.
    alt : str
        Alternative text.
    caption : str
        Caption, printed in italics under the figure.

    Returns
    -------
    str
        The markdown block.
    """
    return f"![{alt}]({Path(path).name})\n\n*{caption}*\n"


def _model_colours(models: Sequence[str]) -> dict[str, tuple]:
    import matplotlib as mpl

    cmap = mpl.colormaps["tab10" if len(models) <= 10 else "tab20"]
    return {m: cmap(i % cmap.N) for i, m in enumerate(models)}


def _jitter(n: int) -> np.ndarray:
    """Deterministic offsets in [-JITTER, JITTER] for ``n`` dots."""
    if n <= 1:
        return np.zeros(n)
    return np.linspace(-JITTER, JITTER, n)


def plot_normalized(
    norm: pd.DataFrame, tasks: pd.Series, path: str | os.PathLike
) -> Path:
    """Bar (mean) and dot (per dataset) plot of the normalized score per model.

    Parameters
    ----------
    norm : DataFrame
        Normalized scores, datasets as rows and models as columns
        (``report.normalized_scores``); NaN where a model did not run.
    tasks : Series
        Task per dataset (colours the dots).
    path : path-like
        PNG to write.

    Returns
    -------
    Path
        ``path``.
    """
    order = norm.mean().sort_values(ascending=False).index.tolist()
    fig = _new_figure(max(4.5, 0.9 * len(order) + 2.0), 4.0)
    ax = fig.subplots()
    x = np.arange(len(order))
    ax.bar(x, norm[order].mean().to_numpy(), color="0.85", edgecolor="0.4", zorder=1)
    offsets = _jitter(len(norm.index))
    for i, dataset in enumerate(norm.index):
        colour = TASK_COLOURS.get(str(tasks.get(dataset)), "0.3")
        ax.scatter(
            x + offsets[i], norm.loc[dataset, order], s=18, color=colour, zorder=2
        )
    for task, colour in TASK_COLOURS.items():
        if task in set(tasks.reindex(norm.index).astype(str)):
            ax.scatter([], [], s=18, color=colour, label=task)
    rotate = len(order) > 4
    ax.set_xticks(
        x, order, rotation=30 if rotate else 0, ha="right" if rotate else "center"
    )
    ax.set_ylim(-0.05, 1.08)
    ax.set_ylabel("normalized test score (1 = best)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(
        title="dataset task", fontsize="small", loc="upper left", bbox_to_anchor=(1, 1)
    )
    return save_figure(fig, path)


def plot_score_vs_time(
    norm: pd.DataFrame,
    times: pd.DataFrame,
    path: str | os.PathLike,
    *,
    relative: bool,
) -> Path:
    """Plot the normalized score against fit time (log x) per dataset and model.

    Small dots: one per dataset and model; large markers: the model's mean
    normalized score at its geometric-mean time.

    Parameters
    ----------
    norm : DataFrame
        Normalized scores, datasets x models.
    times : DataFrame
        Fit time per dataset x model: ratio to LightGBM's (``relative``) or
        seconds.
    path : path-like
        PNG to write.
    relative : bool
        Whether ``times`` are ratios to LightGBM (draws a line at 1).

    Returns
    -------
    Path
        ``path``.
    """
    models = [m for m in norm.columns if m in times.columns]
    colours = _model_colours(models)
    fig = _new_figure(7.0, 4.5)
    ax = fig.subplots()
    centres: dict[str, tuple[float, float]] = {}
    for model in models:
        both = pd.concat([times[model], norm[model]], axis=1, keys=["t", "s"])
        both = both[(both["t"] > 0) & both["s"].notna()]
        if both.empty:
            continue
        colour = colours[model]
        ax.scatter(both["t"], both["s"], s=14, alpha=0.35, color=colour)
        centre = float(np.exp(np.log(both["t"]).mean())), float(both["s"].mean())
        ax.scatter(*centre, s=90, color=colour, edgecolor="black", label=model)
        centres[model] = centre
    ax.set_xscale("log")
    if relative:
        ax.axvline(1.0, color="0.4", linestyle="--", linewidth=1)
        ax.set_xlabel("fit time / LightGBM's on the same dataset (log scale)")
    else:
        ax.set_xlabel("fit seconds (log scale)")
    ax.set_ylabel("normalized test score (1 = best)")
    ax.set_ylim(-0.05, 1.08)
    ax.grid(alpha=0.3, which="both")
    _label_markers(ax, centres)
    ax.legend(fontsize="small", loc="best")
    return save_figure(fig, path)


def _label_markers(ax: Axes, centres: dict[str, tuple[float, float]]) -> None:
    """Name each marker without labels overlapping one another.

    Labels go to the upper right of their marker; working from the top, a label
    that would overlap one already placed moves down a line at a time, with a thin
    line back to its marker.
    """
    ax.autoscale_view()
    fig = ax.get_figure()
    scale = fig.dpi / 72.0 if fig is not None else 1.0  # points to pixels
    line, char = 11.0 * scale, 6.2 * scale
    placed: list[tuple[float, float, float, float]] = []
    order = sorted(centres, key=lambda m: -centres[m][1])
    for model in order:
        x, y = ax.transData.transform(centres[model])
        width = char * len(model)
        left, bottom = x + 6 * scale, y + 4 * scale
        while any(
            left < r and left + width > l_ and bottom < t and bottom + line > b
            for l_, b, r, t in placed
        ):
            bottom -= line
        placed.append((left, bottom, left + width, bottom + line))
        offset = ((left - x) / scale, (bottom - y) / scale)
        leader = {"arrowstyle": "-", "color": "0.5", "lw": 0.6}
        ax.annotate(
            model,
            centres[model],
            xytext=offset,
            textcoords="offset points",
            arrowprops=leader if offset[1] < 0 else None,
        )


def _finding(values: pd.Series, fmt: str, what: tuple[str, str], unit: str = "") -> str:
    """`` What-max: model (value); what-min: model (value).`` ("" if empty)."""
    values = values.dropna()
    if values.empty:
        return ""
    hi, lo = values.idxmax(), values.idxmin()
    return (
        f" {what[0]}: {hi} ({values[hi]:{fmt}}{unit}); "
        f"{what[1]}: {lo} ({values[lo]:{fmt}}{unit})."
    )


def figure_section(
    norm: pd.DataFrame,
    times: pd.DataFrame,
    tasks: pd.Series,
    out_dir: str | os.PathLike,
    name: str,
    *,
    relative: bool,
) -> str:
    """Draw the report's two figures and return their markdown.

    Parameters
    ----------
    norm : DataFrame
        Normalized scores, datasets x models.
    times : DataFrame
        Fit time per dataset x model (ratio to LightGBM's when ``relative``).
    tasks : Series
        Task per dataset.
    out_dir : path-like
        Directory of the report; figures are written there.
    name : str
        Report name: figures are ``<name>_normalized.png`` and
        ``<name>_score_vs_time.png``.
    relative : bool
        Whether ``times`` are ratios to LightGBM.

    Returns
    -------
    str
        A "## Figures" section with both figures and their captions.
    """
    out_dir = Path(out_dir)
    n_data, n_models = len(norm.index), len(norm.columns)
    first = plot_normalized(norm, tasks, out_dir / f"{name}_normalized.png")
    caption = (
        f"Figure 1. Normalized test score (1 = best, 0 = worst of the {n_models} "
        f"models listed above, on each dataset) per model over {n_data} datasets; "
        "dots are datasets (colour = task), bars are means."
        + _finding(norm.mean(), ".2f", ("Highest mean", "lowest"))
    )
    parts = ["## Figures\n\n", figure_markdown(first, "Normalized score", caption)]
    second = plot_score_vs_time(
        norm, times, out_dir / f"{name}_score_vs_time.png", relative=relative
    )
    log_times = np.log(times.where(times > 0))
    centre = np.exp(log_times.mean()).reindex(norm.columns)
    if relative:
        centre = centre.drop(REFERENCE, errors="ignore")
        caption = (
            "Figure 2. Normalized test score against fit time relative to "
            "LightGBM on the same dataset (log scale); small dots are datasets, "
            "large markers the mean score at the geometric-mean time ratio. Left "
            "of the dashed line is faster than LightGBM."
            + _finding(centre, ".2g", ("Slowest", "fastest"), "x")
        )
    else:
        caption = (
            "Figure 2. Normalized test score against fit seconds (log scale; no "
            "LightGBM fits to compare with); small dots are datasets, large "
            "markers the mean score at the geometric-mean time."
            + _finding(centre, ".3g", ("Slowest", "fastest"), " s")
        )
    parts += ["\n", figure_markdown(second, "Score against fit time", caption)]
    return "".join(parts)


def _plain(value: float, _pos: object = None) -> str:
    return f"{value:g}"


def _two_five(value: float, _pos: object = None) -> str:
    """Minor tick label of a log axis: only at 2 and 5 times a power of ten."""
    if value <= 0:
        return ""
    mantissa = value / 10 ** np.floor(np.log10(value))
    return f"{value:g}" if round(mantissa) in (2, 5) else ""


def _rows_label(n: int) -> str:
    """``1k``, ``300k``, ``1.5M`` or the plain count below 1,000."""
    if n >= 1_000_000:
        return f"{n / 1e6:g}M"
    return f"{n / 1e3:g}k" if n >= 1_000 else str(n)


def plot_scaling(results: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Fit seconds (log-log) and peak memory (linear, from 0) against training rows.

    One column of panels per dataset (fit seconds above, peak MiB below), one
    line per model, one legend for the figure to the right of the panels.

    Parameters
    ----------
    results : DataFrame
        Successful scaling fits: ``dataset``, ``model``, ``n_train``,
        ``fit_s``, ``peak_rss_mb``.
    path : path-like
        PNG to write.

    Returns
    -------
    Path
        ``path``.
    """
    datasets = list(dict.fromkeys(results["dataset"]))
    models = list(dict.fromkeys(results["model"]))
    colours = _model_colours(models)
    fig = _new_figure(4.2 * max(1, len(datasets)) + 1.3, 6.0)
    axes = np.asarray(fig.subplots(2, max(1, len(datasets)), squeeze=False))
    for j, dataset in enumerate(datasets):
        sub = results[results["dataset"] == dataset]
        for model in models:
            line = sub[sub["model"] == model].groupby("n_train")
            if not len(line):
                continue
            points = line[["fit_s", "peak_rss_mb"]].mean().sort_index()
            style = {"marker": "o", "color": colours[model], "label": model}
            axes[0, j].plot(points.index, points["fit_s"], **style)
            axes[1, j].plot(points.index, points["peak_rss_mb"], **style)
        axes[0, j].set_title(dataset)
        axes[1, j].set_xlabel("training rows (log scale)")
        ticks = sorted(set(sub["n_train"].astype(int)))
        for ax in axes[:, j]:
            ax.set_xscale("log")
            ax.set_xticks(ticks, [_rows_label(n) for n in ticks])
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.grid(alpha=0.3, which="both")
        top = axes[0, j]
        top.set_yscale("log")
        top.yaxis.set_major_formatter(FuncFormatter(_plain))
        low, high = top.get_ylim()
        wide = high / low > 10  # a decade or more: label 2 and 5 only
        top.yaxis.set_minor_formatter(FuncFormatter(_two_five if wide else _plain))
        axes[1, j].set_ylim(bottom=0)
    axes[0, 0].set_ylabel("fit seconds (log scale)")
    axes[1, 0].set_ylabel("peak memory (MiB)")
    entries: dict[str, Any] = {}  # label -> handle, over every panel
    for ax in axes[0]:
        handles, labels = ax.get_legend_handles_labels()
        for handle, label in zip(handles, labels, strict=True):
            entries.setdefault(label, handle)
    fig.legend(
        list(entries.values()),
        list(entries),
        loc="outside right upper",
        fontsize="small",
    )
    return save_figure(fig, path)
