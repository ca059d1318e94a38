"""Shared database copies: process workers load a database once, pickles refer to it."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from tabkit.relational import CutoffSplit, Database, RelationalFeatures, Table, _shared

ROOT = Path(__file__).resolve().parent.parent


def tiny_db(n: int = 40, seed: int = 0) -> tuple[Database, pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp("2024-01-01")
    orders = pd.DataFrame(
        {
            "order_id": np.arange(8 * n),
            "customer_id": rng.integers(0, n, 8 * n),
            "amount": rng.gamma(2.0, 10.0, 8 * n),
            "channel": rng.choice(["web", "app"], 8 * n),
            "ts": t0 + pd.to_timedelta(rng.uniform(0, 360, 8 * n), unit="D"),
        }
    )
    customers = pd.DataFrame(
        {"customer_id": np.arange(n), "region": rng.choice(["n", "s"], n)}
    )
    db = Database(
        {
            "customers": Table(customers, primary_key="customer_id"),
            "orders": Table(
                orders,
                primary_key="order_id",
                foreign_keys={"customer_id": "customers"},
                time_column="ts",
            ),
        }
    )
    cutoffs = pd.date_range("2024-03-01", periods=8, freq="MS")
    seeds = pd.DataFrame(
        {"customer_id": np.tile(np.arange(n), 8), "cutoff": np.repeat(cutoffs, n)}
    )
    later = seeds.merge(orders, on="customer_id")
    window = (later["ts"] > later["cutoff"]) & (
        later["ts"] <= later["cutoff"] + pd.DateOffset(months=1)
    )
    active = later[window].groupby(["customer_id", "cutoff"]).size()
    y = seeds.set_index(["customer_id", "cutoff"]).index.isin(active.index)
    return db, seeds, y.astype(int)


def _in_a_worker(rf: RelationalFeatures, seeds: pd.DataFrame) -> tuple:
    """What a worker process sees of a pickled transformer."""
    ref = _shared._refs.get(rf.database)
    return (
        os.getpid(),
        None if ref is None else _shared.load_counts.get(ref.token, 0),
        rf.transform(seeds),
    )


def test_process_workers_load_the_database_once():
    db, seeds, _ = tiny_db()
    rf = RelationalFeatures(database=db, entity_table="customers").fit(seeds)
    expected = rf.transform(seeds)
    tasks = (joblib.delayed(_in_a_worker)(rf, seeds) for _ in range(8))
    results = joblib.Parallel(n_jobs=2, backend="loky")(tasks)
    assert {pid for pid, _, _ in results} - {os.getpid()}  # other processes
    for _, loads, out in results:
        assert loads == 1  # however many tasks the worker ran
        pd.testing.assert_frame_equal(out, expected)


def test_grid_search_with_process_workers():
    lightgbm = pytest.importorskip("lightgbm")
    db, seeds, y = tiny_db(n=60)
    pipe = make_pipeline(
        RelationalFeatures(database=db, entity_table="customers", windows=("30D",)),
        lightgbm.LGBMClassifier(n_estimators=20, min_child_samples=5, verbose=-1),
    )
    grid = {"lgbmclassifier__num_leaves": [4, 8]}
    cv = CutoffSplit(n_splits=2, window="MS")
    parallel = GridSearchCV(pipe, grid, cv=cv, scoring="roc_auc", n_jobs=2)
    serial = GridSearchCV(pipe, grid, cv=cv, scoring="roc_auc", n_jobs=1)
    parallel.fit(seeds, y)
    serial.fit(seeds, y)
    np.testing.assert_allclose(
        parallel.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    assert parallel.best_estimator_[0].database is db  # refit here, on db itself


def test_stale_copies_are_removed_and_live_ones_kept(tmp_path, monkeypatch):
    monkeypatch.setenv(_shared.DIR_ENV, str(tmp_path))
    done = subprocess.run([sys.executable, "-c", "pass"], check=True)
    del done
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # its process id no longer runs
    stale = tmp_path / f"tabkit-db-{child.pid}-0123.joblib"
    live = tmp_path / f"tabkit-db-{os.getppid()}-4567.joblib"
    other = tmp_path / "notes.txt"
    for path in (stale, live, other):
        path.write_bytes(b"x")
    db, _, _ = tiny_db(n=5)
    ref = _shared.share(db)
    assert Path(ref.path).parent == tmp_path
    assert Path(ref.path).name.startswith(f"tabkit-db-{os.getpid()}-")
    assert not stale.exists()
    assert live.exists() and other.exists()
    assert not list(tmp_path.glob("*.part"))  # written whole, then renamed


def test_copies_are_removed_when_their_process_exits(tmp_path):
    code = textwrap.dedent(
        """
        import os, pickle, sys
        import pandas as pd
        from tabkit.relational import Database, Table, RelationalFeatures
        db = Database({"t": Table(pd.DataFrame({"id": [1, 2]}), primary_key="id")})
        rf = RelationalFeatures(database=db, entity_table="t")
        sys.stdout.buffer.write(pickle.dumps(rf))
        """
    )
    env = {**os.environ, _shared.DIR_ENV: str(tmp_path), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, check=True
    )
    assert not list(tmp_path.iterdir())  # removed at exit
    loaded = pickle.loads(out.stdout)  # a pickle from a process that is gone
    assert loaded.database is None
    assert "_database_ref" in vars(loaded)
    with pytest.raises(ValueError, match="set_params"):
        loaded.fit(pd.DataFrame({"id": [1], "cutoff": [pd.Timestamp(0)]}))
