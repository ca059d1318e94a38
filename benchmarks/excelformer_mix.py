# SPDX-License-Identifier: BSD-3-Clause
r"""Choose ExcelFormer's default mixing on VALIDATION scores.

ExcelFormer trains with Feat-Mix, Hid-Mix or no mixing (``mix_type``); its paper
picks one per dataset. tabkit's default is the one with the best mean
normalized validation score over the 13 public datasets with the protocol's
splits (the test rows are never looked at to choose it; test scores are
reported beside, for information). To keep the selection affordable on a CPU
it runs one seed, at most 5,000 training rows and 180 s per fit by default
(``--train-cap``, ``--budget``, ``--seeds``).

Usage::

    python -m benchmarks.excelformer_mix --threads 1 \
        --out benchmarks/results/excelformer_mix.csv

The variants are registered here as ``excelformer[mix_type=...]`` models (the
worker processes import this module to find them), so the results CSV has the
runner's usual columns and resumes like every other run.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.models import MODELS, TabkitAdapter, register_model
from benchmarks.profiles import dataset_seeds, fit_limits, get_profile
from benchmarks.protocol import higher_is_better
from benchmarks.report import md_table, ok_results
from benchmarks.run import run_benchmark

MIX_TYPES = ("feat_mix", "hidden_mix", "none")


class _Variant:
    """Factory of one variant of ExcelFormer.

    Instances live in this module, so that the isolated workers import it and
    find the registrations.
    """

    def __init__(self, params: dict[str, str]) -> None:
        self.params = params

    def __call__(self) -> TabkitAdapter:
        return TabkitAdapter("excelformer", self.params)


#: Variant model name -> factory.
VARIANTS = {
    "excelformer_feat_mix": _Variant({"mix_type": "feat_mix"}),
    "excelformer_hidden_mix": _Variant({"mix_type": "hidden_mix"}),
    "excelformer_no_mix": _Variant({"mix_type": "none"}),
}
if __name__ != "__main__":  # registered under the import name only
    for _name, _factory in VARIANTS.items():
        if _name not in MODELS:
            register_model(_name, _factory)


def normalized(scores: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per dataset, (score - worst) / (best - worst) of the mean over seeds.

    Parameters
    ----------
    scores : DataFrame
        ``ok_results`` rows of the variants.
    column : str
        ``val_primary`` or ``test_primary``.

    Returns
    -------
    DataFrame
        Datasets x variants.
    """
    means = scores.groupby(["dataset", "model"])[column].mean().unstack("model")
    metric = scores.groupby("dataset")["primary_metric"].first()
    sign = np.where([higher_is_better(metric[d]) for d in means.index], 1.0, -1.0)
    signed = means.mul(sign, axis=0)
    span = (signed.max(axis=1) - signed.min(axis=1)).replace(0, np.nan)
    return signed.sub(signed.min(axis=1), axis=0).div(span, axis=0).fillna(1.0)


def render(csv: Path, command: str) -> str:
    """Markdown summary: normalized validation (and test) score per variant."""
    ok = ok_results(pd.read_csv(csv))
    ok = ok[ok["model"].isin(VARIANTS)]
    val = normalized(ok, "val_primary")
    test = normalized(ok, "test_primary")
    chosen = str(val.mean().idxmax())
    rows = [
        [
            name,
            f"{val[name].mean():.3f}",
            f"{test[name].mean():.3f}",
            int((val[name] == 1.0).sum()),
        ]
        for name in val.columns
    ]
    per_dataset = [
        [
            d,
            *(
                f"{ok[(ok.dataset == d) & (ok.model == m)]['val_primary'].mean():.4f}"
                for m in val.columns
            ),
        ]
        for d in val.index
    ]
    return (
        "# ExcelFormer: default mixing chosen on validation scores\n\n"
        f"Produced by:\n\n```bash\n{command}\n```\n\n"
        f"{len(val)} public datasets with the protocol's splits (training cap, "
        "seeds and per-fit budget as in the command); normalized score per "
        "dataset over the three variants, then the mean. The default is chosen "
        "on the validation rows only.\n\n"
        + md_table(
            [
                "variant",
                "mean normalized validation score",
                "mean normalized test score",
                "datasets best on validation",
            ],
            rows,
        )
        + f"\nChosen: **{chosen}**.\n\n## Mean validation score per dataset\n\n"
        + md_table(["dataset", *val.columns], per_dataset)
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the three variants over the standard profile, then summarise."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.excelformer_mix")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--datasets", default=None, help="default: the profile's")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--train-cap", type=int, default=5_000)
    parser.add_argument("--budget", type=float, default=180.0, help="seconds per fit")
    parser.add_argument("--out", default="benchmarks/results/excelformer_mix.csv")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    profile = get_profile("standard")
    datasets = args.datasets.split(",") if args.datasets else list(profile.datasets)
    command = shlex.join(["python", "-m", "benchmarks.excelformer_mix", *sys.argv[1:]])
    budget, _ = fit_limits("tabkit", args.budget)
    run_benchmark(
        list(VARIANTS),
        datasets,
        dataset_seeds(profile, datasets, [int(s) for s in args.seeds.split(",")]),
        args.out,
        threads=args.threads,
        train_cap=args.train_cap,
        model_budget=budget,
        progress=not args.no_progress,
        command=command,
        profile=None,
    )
    out = Path(args.out)
    out.with_suffix(".md").write_text(render(out, command), encoding="utf-8")
    return 0


if __name__ == "__main__":
    # Run the registrations under the module's import name, which the workers
    # import (functions of ``__main__`` cannot be found there).
    import importlib

    raise SystemExit(importlib.import_module("benchmarks.excelformer_mix").main())
