# SPDX-License-Identifier: BSD-3-Clause
"""Training throughput of tabkit's ExcelFormer against pytorch-frame's.

Both implementations train at the same configuration (token width, blocks,
heads, batch size, optimiser steps per batch, the same mixing or none) on the
same training rows of the protocol's split (seed 0, the standard profile's cap
of 20,000 rows), in the same process, one after the other, with the same
thread count. Throughput is training rows per second over full epochs
including data loading (batching, shuffling), the median of ``--epochs - 1``
epochs after one warm-up epoch; no validation pass runs in these epochs.

Also reported: the forward FLOPs per row of each model at its own number of
model features (``tabkit.nn.excelformer_flops``; tabkit encodes a multiclass
categorical into one target statistic per class, pytorch-frame into
``n_classes - 1`` columns), the training FLOPs per row (3x forward: forward,
input gradients, weight gradients), and the fraction of this machine's float32
matrix-multiply peak that the training reaches (peak measured here with
``torch.mm`` on 2,048 x 2,048 matrices at the same thread count).

Usage::

    python -m benchmarks.throughput --datasets adult,nyc_flight_disruption,digits,\
bikeshare --threads 1 --out benchmarks/results/throughput.csv
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._env import collect_environment, csv_list
from benchmarks.datasets import load_dataset
from benchmarks.excelformer_throughput import matmul_peak_gflops
from benchmarks.measure import limit_threads
from benchmarks.protocol import is_classification, make_split
from benchmarks.report import md_table

logger = logging.getLogger("benchmarks.throughput")

#: The configuration both implementations train at (tabkit's CPU defaults).
CONFIG = {"d_token": 64, "n_blocks": 3, "n_heads": 4, "batch_size": 256}
#: Training cap of the standard profile.
TRAIN_CAP = 20_000
#: Mixing of tabkit -> pytorch-frame's name for the same augmentation.
MIXES = {"none": None, "feat_mix": "feature", "hidden_mix": "hidden"}


def _median_after_warmup(seconds: Sequence[float]) -> float:
    rest = list(seconds)[1:]
    return float(np.median(rest)) if rest else float("nan")


def tabkit_throughput(
    X: pd.DataFrame, y: np.ndarray, task: str, *, mix: str, epochs: int, threads: int
) -> dict[str, Any]:
    """Train tabkit's ExcelFormer for ``epochs`` epochs and time them.

    Returns
    -------
    dict
        ``rows_per_s``, ``n_model_features``, ``d_out``, ``epoch_rows``.
    """
    from tabkit import ExcelFormerClassifier, ExcelFormerRegressor

    cls = ExcelFormerClassifier if is_classification(task) else ExcelFormerRegressor
    est = cls(
        **CONFIG,
        mix_type=mix,
        max_epochs=epochs,
        early_stopping=False,
        random_state=0,
        n_threads=threads,
        device="cpu",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    median = _median_after_warmup(est.history_[:, "seconds"])
    return {
        "rows_per_s": len(X) / median,
        "n_model_features": len(est.feature_names_),
        "d_out": est.module_.d_out,
        "epoch_rows": len(X),
        "epoch_s": median,
    }


def frame_throughput(
    X: pd.DataFrame, y: np.ndarray, task: str, *, mix: str, epochs: int, threads: int
) -> dict[str, Any]:
    """Train pytorch-frame's ExcelFormer (the anchor's code) and time its epochs.

    Returns
    -------
    dict
        ``rows_per_s``, ``n_model_features``, ``d_out``, ``epoch_rows``.
    """
    from benchmarks.frame_models import FrameExcelFormerAdapter

    adapter = FrameExcelFormerAdapter(
        preset="throughput",
        channels=CONFIG["d_token"],
        num_layers=CONFIG["n_blocks"],
        num_heads=CONFIG["n_heads"],
        batch_size=CONFIG["batch_size"],
        lr=1e-3,
        gamma=0.95,
        max_epochs=epochs,
        patience=None,
        monitor="loss",
        mixup=MIXES[mix],
    )
    with limit_threads(threads, set_torch=True), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adapter.fit(X, y, X.iloc[:256], y[:256], task=task, seed=0, threads=threads)
    median = _median_after_warmup(adapter.epoch_seconds_)
    return {
        "rows_per_s": adapter.epoch_rows_ / median,
        "n_model_features": int(adapter.n_model_columns_),
        "d_out": int(adapter.out_channels_),
        "epoch_rows": int(adapter.epoch_rows_),
        "epoch_s": median,
    }


def measure(
    datasets: Sequence[str], mixes: Sequence[str], *, epochs: int, threads: int
) -> pd.DataFrame:
    """Measure both implementations on every dataset and mixing.

    Returns
    -------
    DataFrame
        One row per (dataset, mix, implementation).
    """
    from tabkit.nn import excelformer_flops

    with limit_threads(threads, set_torch=True):
        peak = matmul_peak_gflops()
    rows = []
    for name in datasets:
        X, y, task = load_dataset(name)
        split = make_split(y, task, seed=0, train_cap=TRAIN_CAP)
        X_train, y_train = X.iloc[split.train], y[split.train]
        for mix in mixes:
            for impl, func in (
                ("tabkit", tabkit_throughput),
                ("pytorch-frame", frame_throughput),
            ):
                res = func(
                    X_train, y_train, task, mix=mix, epochs=epochs, threads=threads
                )
                flops = excelformer_flops(
                    res["n_model_features"],
                    res["d_out"],
                    d_token=CONFIG["d_token"],
                    n_blocks=CONFIG["n_blocks"],
                    n_heads=CONFIG["n_heads"],
                )
                train_flops = 3 * flops
                achieved = res["rows_per_s"] * train_flops / 1e9
                rows.append(
                    {
                        "dataset": name,
                        "task": task,
                        "n_train": len(X_train),
                        "n_columns": X.shape[1],
                        "mix": mix,
                        "implementation": impl,
                        **res,
                        "forward_flops_per_row": flops,
                        "train_flops_per_row": train_flops,
                        "achieved_gflops": achieved,
                        "peak_gflops": peak,
                        "fraction_of_peak": achieved / peak,
                        "threads": threads,
                    }
                )
                logger.info(
                    "%s / %s / %s: %.0f rows/s", name, mix, impl, res["rows_per_s"]
                )
    return pd.DataFrame(rows)


def render(results: pd.DataFrame, command: str) -> str:
    """Markdown report: speed-up per dataset and mixing, FLOPs, peak fraction.

    Parameters
    ----------
    results : DataFrame
        Output of ``measure``.
    command : str
        The command that produced it.

    Returns
    -------
    str
    """
    lines = [
        "# ExcelFormer training throughput: tabkit vs pytorch-frame\n",
        f"Produced by:\n\n```bash\n{command}\n```\n",
        "Same configuration on both sides: "
        + ", ".join(f"{k} {v}" for k, v in CONFIG.items())
        + "; AdamW (tabkit) / Adam (pytorch-frame), one optimiser step per batch. "
        "Rows per second over full training epochs including batching "
        "(median after one warm-up epoch); training FLOPs per row = 3 x forward "
        "(tabkit.nn.excelformer_flops at each model's own feature count); "
        f"matrix-multiply peak of this machine: {results['peak_gflops'].iloc[0]:.1f} "
        f"GFLOP/s float32 at {int(results['threads'].iloc[0])} thread(s).\n",
    ]
    table = []
    wins = 0
    keys = results[["dataset", "mix"]].drop_duplicates().itertuples(index=False)
    for dataset, mix in keys:
        part = results[(results["dataset"] == dataset) & (results["mix"] == mix)]
        mine = part[part["implementation"] == "tabkit"].iloc[0]
        ref = part[part["implementation"] == "pytorch-frame"].iloc[0]
        speedup = mine["rows_per_s"] / ref["rows_per_s"]
        wins += speedup >= 1.5
        table.append(
            [
                dataset,
                f"{int(mine['n_train']):,} x {int(mine['n_columns'])}",
                mix,
                f"{mine['rows_per_s']:,.0f}",
                f"{ref['rows_per_s']:,.0f}",
                f"**{speedup:.2f}x**",
                f"{int(mine['n_model_features'])} / {int(ref['n_model_features'])}",
                f"{mine['train_flops_per_row'] / 1e6:.2f} / "
                f"{ref['train_flops_per_row'] / 1e6:.2f}",
                f"{100 * mine['fraction_of_peak']:.1f} % / "
                f"{100 * ref['fraction_of_peak']:.1f} %",
            ]
        )
    lines.append(
        md_table(
            [
                "dataset",
                "train rows x columns",
                "mixing",
                "tabkit rows/s",
                "pytorch-frame rows/s",
                "speed-up",
                "model features (tabkit / frame)",
                "train MFLOPs per row",
                "fraction of matmul peak",
            ],
            table,
        )
    )
    lines.append(
        f"\ntabkit trains at least 1.5x as many rows per second on {wins} of "
        f"{len(table)} (dataset, mixing) pairs.\n"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: measure, write the CSV and the markdown report."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.throughput")
    parser.add_argument(
        "--datasets", default="adult,nyc_flight_disruption,digits,bikeshare"
    )
    parser.add_argument("--mixes", default="none,feat_mix")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="benchmarks/results/throughput.csv")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    command = shlex.join(["python", "-m", "benchmarks.throughput", *sys.argv[1:]])
    results = measure(
        csv_list(args.datasets),
        csv_list(args.mixes),
        epochs=args.epochs,
        threads=args.threads,
    )
    env = collect_environment()
    for key in ("cpu_model", "torch_version", "tabkit_version", "git_commit"):
        if key in env:
            results[key] = env[key]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results.to_csv(out, index=False)
    out.with_suffix(".md").write_text(render(results, command), encoding="utf-8")
    print(out.with_suffix(".md").read_text(encoding="utf-8"))  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
