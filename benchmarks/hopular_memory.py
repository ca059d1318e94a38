# SPDX-License-Identifier: BSD-3-Clause
r"""Hopular: the sampled training memory against the full one, and the faithful preset.

Two questions, one run of the harness each (isolated fits, the protocol's
splits, results appended to a CSV that resumes like every other run):

* ``memory``: on a 10,000-row training subsample of a classification and a
  regression dataset, the default ``memory_size`` (2,048 rows sampled per
  step) against the whole training set as memory (``memory_size=None``), same
  seed and budget. Target: within 0.01 AUC or 2 % RMSE.
* ``faithful``: the reference's configuration (``preset_params("faithful")``:
  full-batch steps against the whole memory, 8 blocks of width ``D / 8``)
  against the defaults on 1,000 training rows: seconds per epoch and training
  rows per second.

Usage::

    python -m benchmarks.hopular_memory memory --threads 1
    python -m benchmarks.hopular_memory faithful --threads 1

Each writes ``benchmarks/results/hopular_<part>.csv`` and a markdown summary
next to it.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from benchmarks.models import MODELS, TabkitAdapter, register_model
from benchmarks.profiles import fit_limits
from benchmarks.report import md_table, ok_results
from benchmarks.run import run_benchmark

#: Part -> (datasets, training cap, default budget in seconds).
PARTS = {
    "memory": (("adult", "diamonds"), 10_000, 900.0),
    "faithful": (("adult", "diamonds"), 1_000, 900.0),
}


class _Variant:
    """Factory of one Hopular variant (found by the isolated workers here)."""

    def __init__(self, params: dict[str, object]) -> None:
        self.params = params

    def __call__(self) -> TabkitAdapter:
        return TabkitAdapter("hopular", self.params)


def _faithful() -> dict[str, object]:
    from tabkit import HopularClassifier

    return HopularClassifier.preset_params("faithful")


#: Variant model name -> factory.
VARIANTS = {
    "hopular_memory_2048": _Variant({}),
    "hopular_memory_full": _Variant({"memory_size": None}),
    "hopular_faithful": _Variant(_faithful()),
}
if __name__ != "__main__":  # registered under the import name only
    for _name, _factory in VARIANTS.items():
        if _name not in MODELS:
            register_model(_name, _factory)

_MODELS = {
    "memory": ["hopular_memory_2048", "hopular_memory_full"],
    "faithful": ["hopular_memory_2048", "hopular_faithful"],
}


def _epochs(info: object) -> float:
    try:
        return float(json.loads(str(info)).get("n_iter", "nan"))
    except (ValueError, AttributeError):
        return float("nan")


def render(csv: Path, part: str, command: str) -> str:
    """Markdown summary of one part."""
    ok = ok_results(pd.read_csv(csv))
    ok = ok[ok["model"].isin(_MODELS[part])].copy()
    ok["epochs"] = ok["fit_info"].map(_epochs)
    ok["s_per_epoch"] = ok["fit_s"] / ok["epochs"]
    ok["rows_per_s"] = ok["n_train"] * ok["epochs"] / ok["fit_s"]
    rows = [
        [
            r.dataset,
            r.model,
            f"{r.n_train:,}",
            r.primary_metric,
            f"{r.test_primary:.4f}",
            f"{r.fit_s:.1f}",
            f"{r.epochs:.0f}",
            f"{r.s_per_epoch:.2f}",
            f"{r.rows_per_s:,.0f}",
            f"{r.peak_rss_mb:.0f}",
        ]
        for r in ok.sort_values(["dataset", "model"]).itertuples()
    ]
    text = (
        f"# Hopular: {part}\n\nProduced by:\n\n```bash\n{command}\n```\n\n"
        + md_table(
            [
                "dataset",
                "variant",
                "training rows",
                "metric",
                "test score",
                "fit s",
                "epochs",
                "s per epoch",
                "training rows per s",
                "peak MiB",
            ],
            rows,
        )
    )
    if part == "memory":
        checks = []
        for dataset, group in ok.groupby("dataset"):
            scores = group.set_index("model")["test_primary"]
            if not {"hopular_memory_2048", "hopular_memory_full"} <= set(scores.index):
                continue
            sampled, full = (
                scores["hopular_memory_2048"],
                scores["hopular_memory_full"],
            )
            metric = group["primary_metric"].iloc[0]
            if metric == "rmse":
                gap = (sampled - full) / full
                ok_gap = gap <= 0.02
                shown = f"{gap:+.1%} RMSE"
            else:
                gap = full - sampled
                ok_gap = gap <= 0.01
                shown = f"{-gap:+.4f} {metric}"
            checks.append([dataset, shown, "yes" if ok_gap else "**no**"])
        text += "\n## Sampled memory against the full memory\n\n" + md_table(
            ["dataset", "memory_size=2048 minus full", "within 0.01 AUC / 2 % RMSE"],
            checks,
        )
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Run one part, then summarise it."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hopular_memory")
    parser.add_argument("part", choices=sorted(PARTS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--budget", type=float, default=None, help="seconds per fit")
    parser.add_argument("--out", default=None, help="results CSV")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    datasets, cap, default_budget = PARTS[args.part]
    out = Path(args.out or f"benchmarks/results/hopular_{args.part}.csv")
    command = shlex.join(["python", "-m", "benchmarks.hopular_memory", *sys.argv[1:]])
    budget, _ = fit_limits("tabkit", args.budget or default_budget)
    run_benchmark(
        _MODELS[args.part],
        list(datasets),
        {d: [0] for d in datasets},
        out,
        threads=args.threads,
        train_cap=cap,
        model_budget=budget,
        progress=not args.no_progress,
        command=command,
        profile=None,
    )
    out.with_suffix(".md").write_text(render(out, args.part, command), encoding="utf-8")
    return 0


if __name__ == "__main__":
    import importlib

    raise SystemExit(importlib.import_module("benchmarks.hopular_memory").main())
