# SPDX-License-Identifier: BSD-3-Clause
r"""The attention map of a fitted ExcelFormer, as the figure of its docs.

Fits ``ExcelFormerClassifier`` (default parameters) on the training rows of a
public dataset's protocol split (seed 0), then draws two panels: the mean
attention between the encoded features over the test rows
(``attention_map``; lower triangular, since a feature attends only to the
features before it in the mutual-information order) and the normalised mutual
information of each feature (``mi_scores_``), in the same order.

Usage::

    python -m benchmarks.excelformer_attention --dataset telco_churn \
        --out benchmarks/results/excelformer_attention.png
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.datasets import load_dataset
from benchmarks.measure import limit_threads
from benchmarks.plots import _new_figure, save_figure
from benchmarks.protocol import make_split

logger = logging.getLogger("benchmarks.excelformer_attention")


def plot_attention(
    dataset: str, out: str | Path, *, seed: int = 0, threads: int = 1
) -> Path:
    """Fit ExcelFormer on ``dataset`` and save its attention figure.

    Parameters
    ----------
    dataset : str
        A registered classification dataset.
    out : path-like
        The PNG to write.
    seed : int, default=0
        Seed of the split and of the model.
    threads : int, default=1
        Torch threads.

    Returns
    -------
    Path
        ``out``.
    """
    from tabkit import ExcelFormerClassifier, ExcelFormerRegressor

    X, y, task = load_dataset(dataset)
    split = make_split(y, task, seed, train_cap=20_000)
    cls = ExcelFormerRegressor if task == "regression" else ExcelFormerClassifier
    model = cls(random_state=seed, n_threads=threads)
    start = time.perf_counter()
    model.fit(
        X.iloc[split.train],
        y[split.train],
        X_val=X.iloc[split.val],
        y_val=y[split.val],
    )
    logger.info("%s: fitted in %.1f s", dataset, time.perf_counter() - start)
    att = model.attention_map(X.iloc[split.test])
    names = [str(n) for n in att.index]
    mi = np.asarray(model.mi_scores_[model.feature_order_], dtype=float)
    mi = mi / mi.sum() if mi.sum() > 0 else mi

    n = len(names)
    fig = _new_figure(max(6.0, 0.28 * n + 3.5), max(4.5, 0.24 * n + 1.5))
    grid = fig.add_gridspec(1, 2, width_ratios=(5, 1))
    ax = fig.add_subplot(grid[0, 0])
    shown = np.ma.masked_where(np.triu(np.ones((n, n)), k=1) > 0, att.to_numpy())
    image = ax.imshow(shown, cmap="viridis", aspect="auto")
    ax.set_xticks(range(n), names, rotation=90, fontsize=7)
    ax.set_yticks(range(n), names, fontsize=7)
    ax.set_xlabel("attends to (key)")
    ax.set_ylabel("feature (query), in mutual-information order")
    fig.colorbar(image, ax=ax, shrink=0.7, label="mean attention")
    bar = fig.add_subplot(grid[0, 1], sharey=ax)
    bar.barh(range(n), mi, color="tab:blue")
    bar.set_xlabel("normalised MI")
    bar.tick_params(axis="y", labelleft=False)
    fig.suptitle(
        f"ExcelFormer (default parameters) on {dataset}: attention over "
        f"{len(split.test):,} test rows",
        fontsize=10,
    )
    return save_figure(fig, out)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m benchmarks.excelformer_attention``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="telco_churn")
    parser.add_argument("--out", default="benchmarks/results/excelformer_attention.png")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    with limit_threads(args.threads, set_torch=True):
        plot_attention(args.dataset, args.out, seed=args.seed, threads=args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
