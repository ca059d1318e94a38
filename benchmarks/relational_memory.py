# SPDX-License-Identifier: BSD-3-Clause
r"""The README's relational pipeline, measured: peak memory, time, AUC; grid search.

.. code-block:: bash

    python -m benchmarks.relational_memory pipeline --label after
    python -m benchmarks.relational_memory features --label after
    python -m benchmarks.relational_memory grid --n-jobs 1 --label after
    python -m benchmarks.relational_memory grid --n-jobs 2 --label after
    python -m benchmarks.relational_memory report

``pipeline`` fits ``make_pipeline(RelationalFeatures(database=task.database,
entity_table="People"), LGBMClassifier())`` (every setting at its default;
LightGBM quiet) on the training seeds of ``lahman-player-allstar`` and scores
the test seeds (ROC AUC), in a fresh process: the peak resident memory is that
process's high-water mark (``VmHWM``), and a sampling thread records it after
loading the database too.

``features`` times the pipeline's ``RelationalFeatures`` alone
(``fit_transform`` on the training seeds, ``transform`` on the test seeds),
in a fresh process too.

``grid`` runs ``GridSearchCV`` over the same pipeline (two LightGBM settings x
the folds of :class:`tabkit.relational.CutoffSplit` over the training seeds) with
``n_jobs`` workers (joblib's default, process-based ``loky`` backend), in a
fresh process, and records its wall time and the peak of the summed
proportional memory (PSS, shared pages split between the processes that map
them) of the process and its workers, sampled every 0.2 s.

Each measurement appends a row (with the ``--label``, the git commit and the
load of the machine) to ``benchmarks/results/relational_memory.csv``; ``report``
writes ``relational_memory.md`` next to it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks._env import collect_environment
from benchmarks.measure import peak_rss_mb

RESULTS = Path(__file__).resolve().parent / "results"
TASK = "lahman-player-allstar"
#: LightGBM settings of the grid search.
GRID = {"lgbmclassifier__num_leaves": [15, 31]}
#: Folds of the grid search (CutoffSplit over the training seeds).
FOLDS = 2


class _Sampler(threading.Thread):
    """Peak summed PSS (MiB) of this process and its children, every ``every`` s."""

    def __init__(self, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.every, self.peak, self.peak_workers = every, 0.0, 0
        self._done = threading.Event()

    def run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._done.is_set():
            total, workers = 0.0, 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    total += proc.memory_full_info().pss / 2**20
                    workers += proc is not me
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            self.peak = max(self.peak, total)
            self.peak_workers = max(self.peak_workers, workers)
            self._done.wait(self.every)

    def stop(self) -> float:
        self._done.set()
        self.join()
        return self.peak


def _pipeline(task: Any, threads: int | None) -> Any:
    from lightgbm import LGBMClassifier
    from sklearn.pipeline import make_pipeline

    from tabkit.relational import RelationalFeatures

    extra = {} if threads is None else {"n_jobs": threads}
    return make_pipeline(
        RelationalFeatures(database=task.database, entity_table="People"),
        LGBMClassifier(verbose=-1, **extra),
    )


def measure_pipeline(threads: int | None) -> dict[str, Any]:
    """Fit and score the README pipeline in this process; return the figures.

    Parameters
    ----------
    threads : int or None
        LightGBM threads (None: LightGBM's default, all cores).

    Returns
    -------
    dict
    """
    from sklearn.metrics import roc_auc_score

    from tabkit.datasets import load_relational_task

    start = time.perf_counter()
    task = load_relational_task(TASK)
    load_s = time.perf_counter() - start
    loaded_mb = peak_rss_mb()
    (X_train, y_train), (X_test, y_test) = task.train, task.test
    model = _pipeline(task, threads)
    start = time.perf_counter()
    model.fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    fit_mb = peak_rss_mb()
    start = time.perf_counter()
    auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
    predict_s = time.perf_counter() - start
    return {
        "mode": "pipeline",
        "n_jobs": 1,
        "n_features": len(model[0].get_feature_names_out()),
        "test_auc": float(auc),
        "load_s": load_s,
        "fit_s": fit_s,
        "predict_s": predict_s,
        "peak_mb_loaded": loaded_mb,
        "peak_mb_fit": fit_mb,
        "peak_mb": peak_rss_mb(),
    }


def measure_features() -> dict[str, Any]:
    """Time the README pipeline's RelationalFeatures alone, in this process.

    Returns
    -------
    dict
        Seconds of ``fit_transform`` on the training seeds and of
        ``transform`` on the test seeds, features, peak memory.
    """
    from tabkit.datasets import load_relational_task

    task = load_relational_task(TASK)
    loaded_mb = peak_rss_mb()
    (X_train, _), (X_test, _) = task.train, task.test
    features = _pipeline(task, None)[0]
    start = time.perf_counter()
    frame = features.fit_transform(X_train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    features.transform(X_test)
    return {
        "mode": "features",
        "n_jobs": 1,
        "n_features": frame.shape[1],
        "fit_s": fit_s,
        "predict_s": time.perf_counter() - start,
        "peak_mb_loaded": loaded_mb,
        "peak_mb": peak_rss_mb(),
    }


def measure_grid(n_jobs: int, threads: int | None) -> dict[str, Any]:
    """Run the grid search with ``n_jobs`` loky workers; return the figures.

    Parameters
    ----------
    n_jobs : int
        GridSearchCV workers.
    threads : int or None
        LightGBM threads per fit.

    Returns
    -------
    dict
    """
    from sklearn.model_selection import GridSearchCV

    from tabkit.datasets import load_relational_task
    from tabkit.relational import CutoffSplit

    task = load_relational_task(TASK)
    (X_train, y_train), (X_test, y_test) = task.train, task.test
    cv = CutoffSplit(n_splits=FOLDS, window=task.task.window)
    search = GridSearchCV(
        _pipeline(task, threads), GRID, cv=cv, scoring="roc_auc", n_jobs=n_jobs
    )
    sampler = _Sampler()
    sampler.start()
    start = time.perf_counter()
    search.fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    peak = sampler.stop()
    return {
        "mode": "grid",
        "n_jobs": n_jobs,
        "n_features": len(search.best_estimator_[0].get_feature_names_out()),
        "test_auc": float(search.score(X_test, y_test)),
        "cv_auc": float(search.best_score_),
        "fits": len(search.cv_results_["params"]) * FOLDS + 1,
        "fit_s": fit_s,
        "peak_mb": peak,
        "workers": sampler.peak_workers,
    }


def _load_note() -> str:
    """Describe the load: 1-minute average and the busiest other processes."""
    import psutil

    procs = [p for p in psutil.process_iter() if p.pid != os.getpid()]
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.cpu_percent(None)  # primes the counter
    time.sleep(1.0)
    busy = []
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            share = proc.cpu_percent(None)
            if share > 20:
                busy.append(f"{proc.name()} {share:.0f}%")
    return f"load {os.getloadavg()[0]:.2f}; busy: {', '.join(busy) or 'nothing'}"


def _child(argv: list[str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.relational_memory", *argv, "--child"],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        sys.stderr.write(out.stderr)
        raise SystemExit(out.returncode)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def write_report(results: pd.DataFrame, out: Path, command: str) -> None:
    """Write the markdown report of every recorded measurement.

    Parameters
    ----------
    results : DataFrame
        Rows of the CSV.
    out : Path
        Markdown file.
    command : str
        The command that wrote the report.
    """
    results = results.assign(_late=results["label"] != "before")
    results = results.sort_values(["_late"], kind="stable")
    lines = ["# RelationalFeatures at scale: the README's Lahman pipeline", ""]
    lines += ["Produced by:", "", "```bash", *dict.fromkeys(results["command"])]
    lines += [command, "```", ""]
    lines += [
        "`make_pipeline(RelationalFeatures(database=task.database, "
        'entity_table="People"), LGBMClassifier())` on `lahman-player-allstar` '
        "(default settings; LightGBM quiet), fitted on the training seeds, "
        "test ROC AUC; each row a fresh process. Peak memory: the process's "
        "high-water mark (`VmHWM`), in MiB (after loading the database, after "
        "the pipeline's fit, at the end). Times depend on what else runs: the "
        "machine column gives the load average and the other processes above "
        "20% of a core when the measurement started (on a 2-core machine "
        "shared with other jobs).",
        "",
        "| label | commit | features | test AUC | fit s | peak MiB (loaded / fit / "
        "end) | machine |",
        "|---|---|---|---|---|---|---|",
    ]
    pipe = results[results["mode"] == "pipeline"]
    for row in pipe.itertuples():
        lines.append(
            f"| {row.label} | {str(row.git_commit)[:10]} | {row.n_features:,} | "
            f"{row.test_auc:.4f} | {row.fit_s:.1f} | {row.peak_mb_loaded:.0f} / "
            f"{row.peak_mb_fit:.0f} / {row.peak_mb:.0f} | {row.machine} |"
        )
    feats = results[results["mode"] == "features"]
    if len(feats):
        lines += [
            "",
            "## RelationalFeatures alone",
            "",
            "The same `RelationalFeatures` (default settings): `fit_transform` "
            "of the training seeds, `transform` of the test seeds, in a fresh "
            "process.",
            "",
            "| label | commit | features | fit_transform s | transform (test) s | "
            "peak MiB (loaded / end) | machine |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in feats.itertuples():
            lines.append(
                f"| {row.label} | {str(row.git_commit)[:10]} | {row.n_features:,} "
                f"| {row.fit_s:.1f} | {row.predict_s:.1f} | "
                f"{row.peak_mb_loaded:.0f} / {row.peak_mb:.0f} | {row.machine} |"
            )
    grid = results[results["mode"] == "grid"]
    if len(grid):
        lines += [
            "",
            "## Grid search with process workers",
            "",
            f"`GridSearchCV(pipeline, {GRID}, cv=CutoffSplit(n_splits={FOLDS}, "
            "window=task.task.window), scoring='roc_auc', n_jobs=...)` on the "
            "training seeds (joblib's default `loky` backend), refit on all of "
            "them, scored on the test seeds. Peak memory: the largest sum of "
            "the proportional set sizes (PSS) of the process and its workers, "
            "sampled every 0.2 s.",
            "",
            "| label | commit | n_jobs | fits | wall s | best CV AUC | test AUC | "
            "peak MiB (all processes) | machine |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for row in grid.itertuples():
            lines.append(
                f"| {row.label} | {str(row.git_commit)[:10]} | {row.n_jobs} | "
                f"{int(row.fits)} | {row.fit_s:.1f} | {row.cv_auc:.4f} | "
                f"{row.test_auc:.4f} | {row.peak_mb:.0f} | {row.machine} |"
            )
    first = results.iloc[-1]
    lines += ["", "## Environment", ""]
    for key in ("cpu_model", "n_cpus", "lightgbm_version", "pandas_version"):
        if key in results:
            lines.append(f"- {key}: {first[key]}")
    out.write_text("\n".join(lines) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one measurement (in a fresh process) or write the report.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status.
    """
    parser = argparse.ArgumentParser(prog="python -m benchmarks.relational_memory")
    parser.add_argument("mode", choices=("pipeline", "features", "grid", "report"))
    parser.add_argument("--label", default="")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS / "relational_memory.csv")
    parser.add_argument(
        "--commit",
        default=None,
        help="the commit of the tabkit measured, when it is not this checkout's "
        "(PYTHONPATH pointing at an exported older tree)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.child:
        if args.mode == "pipeline":
            row = measure_pipeline(args.threads)
        elif args.mode == "features":
            row = measure_features()
        else:
            row = measure_grid(args.n_jobs, args.threads)
        sys.stdout.write(json.dumps(row) + "\n")
        return 0
    command = shlex.join(["python", "-m", "benchmarks.relational_memory", *argv])
    if args.mode == "report":
        write_report(
            pd.read_csv(args.out), args.out.with_suffix(".md"), command=command
        )
        return 0
    before = _load_note()
    row = _child([a for a in argv if a != "--child"])
    row.update(label=args.label, machine=f"at start: {before}", command=command)
    row.update(collect_environment())
    if args.commit:
        row.update(git_commit=args.commit, git_dirty=False)
    sys.stdout.write(json.dumps(row) + "\n")
    frame = pd.DataFrame([row])
    if args.out.exists():
        frame = pd.concat([pd.read_csv(args.out), frame], ignore_index=True)
    frame.to_csv(args.out, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
