"""The child process of ``test_serialization_fuzz.py``: mutated and hostile files.

Run as ``python _model_file_fuzz.py FOLDER SEED N_CASES hostile|-``: fits one
model of each exportable kind, loads the hostile files (if asked) and then
``N_CASES`` mutations of the models' files, and prints a JSON report. Each
mutated file must be refused with a clean ``ModelFileError`` or load into an
object of exactly the registered class its manifest names (and, when only
bytes changed without recomputing the checksums, predict exactly as the
original). Peak resident memory is measured; an address-space limit turns a
runaway allocation into a failing case instead of an exhausted machine.
"""

from __future__ import annotations

import json
import random
import sys
import traceback
import warnings
import zipfile
from pathlib import Path
from typing import Any

from _model_file_mutations import (
    KINDS,
    MIB,
    edit_json,
    members_of,
    mutate,
    patch,
    resign,
    set_central_size,
    zip_members,
    zip_with_zeros,
)

#: Growth of the child's peak resident memory allowed over all cases.
MEMORY_BOUND_MIB = 192
#: Address space the child may add after its warm-up (a safety net).
ADDRESS_SPACE_MARGIN = 2 * 2**30

__all__ = ["HOSTILE_MESSAGES", "KINDS", "MEMORY_BOUND_MIB", "MIB"]

HOSTILE_MESSAGES = {
    "1 GiB member, manifest unchanged": "zip directory gives arrays/0.npy 1073741824",
    "1 GiB member, manifest agrees": "more than tabkit.serialization.MAX_TOTAL_BYTES",
    "1 GiB member, format 1": "more than tabkit.serialization.MAX_TOTAL_BYTES",
    "64 MiB member under a small header": "arrays/0.npy",
    "npy header of 2**40 floats": "declares shape (1099511627776,)",
    "60000 x 60000 module": "the arguments make it (60000, 60000)",
    "state nested 100000 deep": "nested 100000 levels deep",
    "zip directory of 3 MiB": "asks for a read of 31",
}


def _models(tmp: Path) -> dict[str, Any]:
    """Fit one of each exportable kind and save it; return (path, use, original)."""
    import numpy as np
    import pandas as pd
    from _format1 import format1_classifier, write_format1

    from tabkit import (
        BoostedNNClassifier,
        BoostedNNRegressor,
        Database,
        RelationalFeatures,
        Table,
        TabularEncoder,
        save,
    )

    rng = np.random.default_rng(0)
    n = 150
    frame = pd.DataFrame(
        {
            "x": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
            "kind": pd.Categorical(rng.choice(["a", "b", "c"], n)),
            "name": pd.Series(rng.choice(["p", "q", None], n), dtype="string"),
            "many": pd.Series(rng.choice([f"v{i}" for i in range(30)], n)),
            "flag": rng.random(n) < 0.5,
            "when": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 400, n), unit="D"),
        }
    )
    y_class = rng.choice(["low", "mid", "high"], n)
    y_value = frame["x"].fillna(0).to_numpy() + (frame["kind"] == "b").to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = BoostedNNClassifier(
            n_estimators=4,
            units_per_step=3,
            class_weight={"low": 1.0, "mid": 2.0, "high": 1.0},
            random_state=np.random.RandomState(0),
        ).fit(frame, y_class)
        reg = BoostedNNRegressor(
            loss="huber", n_estimators=4, early_stopping=True, random_state=0
        ).fit(frame, y_value)
        enc = TabularEncoder(
            numeric="quantile", categorical="target", random_state=0
        ).fit(frame, y_class == "low")
    customers = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4],
            "signup": pd.to_datetime(
                ["2024-01-01", "2024-01-05", "2024-02-01"] * 1 + ["2024-02-03"]
            ),
            "region": ["north", "south", "north", "east"],
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": range(10),
            "customer_id": [1, 1, 2, 3, 3, 3, 4, 1, 2, 4],
            "ts": pd.Timestamp("2024-01-02")
            + pd.to_timedelta(np.arange(10) * 7, unit="D"),
            "amount": np.arange(10.0),
            "channel": ["web", "shop"] * 5,
        }
    )
    db = Database(
        {
            "customers": Table(
                customers, primary_key="customer_id", time_column="signup"
            ),
            "orders": Table(
                orders,
                primary_key="order_id",
                foreign_keys={"customer_id": "customers"},
                time_column="ts",
            ),
        }
    )
    seeds = pd.DataFrame(
        {"customer_id": [1, 2, 3, 4], "cutoff": pd.to_datetime(["2024-03-01"] * 4)}
    )
    rf = RelationalFeatures(
        database=db, entity_table="customers", windows=("30D", None)
    )
    rf.fit(seeds)

    def uses(model: Any) -> Any:
        if isinstance(model, BoostedNNClassifier):
            return model.predict_proba(frame)
        if isinstance(model, BoostedNNRegressor):
            return model.predict(frame)
        if isinstance(model, TabularEncoder):
            return model.transform(frame)
        return model.set_params(database=db).transform(seeds)

    models = {}
    for name, model in {"classifier": clf, "regressor": reg, "encoder": enc}.items():
        models[name] = (save(model, tmp / f"{name}.tabkit"), uses)
    models["relational"] = (rf.save(tmp / "relational.tabkit"), uses)
    # a file in the layout of format 1 (written before model-file checks)
    old_model, old_inputs = format1_classifier()
    old_path = write_format1(old_model, tmp / "format1.tabkit")
    models["format1"] = (old_path, lambda m: m.predict_proba(old_inputs))
    return models


def _same(a: Any, b: Any) -> bool:
    import numpy as np

    if hasattr(a, "equals"):
        return bool(a.equals(b))
    return bool(np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True))


def _judge(
    path: Path, judge: str, original: Any, baseline: Any, uses: Any
) -> tuple[str | None, bool]:
    """(what went wrong or None, whether the file loaded)."""
    from tabkit import load
    from tabkit.exceptions import ModelFileError

    try:
        loaded = load(path)
    except ModelFileError as error:
        if "tabkit bug" in str(error):
            return f"internal error: {error}", False
        return None, False
    except Exception as error:
        return (
            f"{type(error).__name__}: {error}\n{traceback.format_exc()[-2000:]}",
            False,
        )
    return _check_loaded(
        path, judge, loaded, original=original, baseline=baseline, uses=uses
    ), True


def _check_loaded(
    path: Path, judge: str, loaded: Any, *, original: Any, baseline: Any, uses: Any
) -> str | None:
    from tabkit.serialization import _registry

    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    entry = _registry.entry(
        manifest["class"], "estimator", manifest["format_version"] == 1
    )
    if type(loaded) is not entry.resolve():
        return (
            f"loaded a {type(loaded).__name__}, the manifest says {manifest['class']}"
        )
    params = set(loaded.get_params(deep=False))
    undeclared = set(vars(loaded)) - params - set(entry.state)
    if undeclared:
        return f"loaded undeclared attributes {sorted(undeclared)}"
    if judge == "bytes":
        if type(loaded) is not type(original):
            return "a byte-level change loaded another class"
        if not _same(uses(loaded), baseline):
            return "a byte-level change loaded and predicts differently"
    return None


def _maxrss_mib() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (MIB if sys.platform == "darwin" else 1024)


def _limit_address_space() -> None:
    """Allow ADDRESS_SPACE_MARGIN more virtual memory (where /proc tells the size)."""
    import resource

    try:
        with open("/proc/self/status") as status:
            lines = [line for line in status if line.startswith("VmSize")]
    except OSError:
        return
    size = int(lines[0].split()[1]) * 1024
    limit = (size + ADDRESS_SPACE_MARGIN, resource.RLIM_INFINITY)
    resource.setrlimit(resource.RLIMIT_AS, limit)


def fuzz(tmp: Path, models: dict[str, Any], seed: int, n_cases: int) -> dict[str, Any]:
    from tabkit import load

    originals = {}
    for name, (path, uses) in models.items():
        model = load(path)
        originals[name] = (path.read_bytes(), model, uses(model), uses)
    _limit_address_space()
    start = _maxrss_mib()
    rng = random.Random(seed)
    by_kind: dict[str, dict[str, int]] = {k: {"refused": 0, "loaded": 0} for k in KINDS}
    failures, refused, loaded_count = [], 0, 0
    names = sorted(originals)
    case_path = tmp / "case.tabkit"
    for i in range(n_cases):
        kind = KINDS[i % len(KINDS)]
        model_name = names[(i // len(KINDS)) % len(names)]
        raw, original, baseline, uses = originals[model_name]
        case_seed = rng.randrange(2**32)
        try:
            data, judge = mutate(random.Random(case_seed), kind, raw)
        except (zipfile.BadZipFile, KeyError, ValueError, IndexError):
            data, judge = raw[: len(raw) // 2], "bytes"  # an unmutable draw
        case_path.write_bytes(data)
        before = _maxrss_mib()
        problem, loaded = _judge(case_path, judge, original, baseline, uses)
        if _maxrss_mib() - start > MEMORY_BOUND_MIB and problem is None:
            grown = _maxrss_mib() - start
            problem = f"peak memory grew to {grown:.0f} MiB (from {before - start:.0f})"
        outcome = "loaded" if loaded else "refused"
        if problem is not None:
            failures.append(
                {
                    "case": i,
                    "seed": case_seed,
                    "kind": kind,
                    "model": model_name,
                    "problem": problem,
                }
            )
            (tmp / f"failing_{i}.tabkit").write_bytes(data)
        else:
            by_kind[kind][outcome] += 1
            refused += outcome == "refused"
            loaded_count += outcome == "loaded"
    return {
        "cases": n_cases,
        "refused": refused,
        "loaded": loaded_count,
        "by_kind": by_kind,
        "failures": failures,
        "peak_growth_mib": _maxrss_mib() - start,
    }


def hostile(tmp: Path, models: dict[str, Any]) -> dict[str, Any]:
    import tracemalloc

    from tabkit import load

    raw = models["regressor"][0].read_bytes()
    members = members_of(raw)
    gib = 2**30
    files = {}
    small = zip_with_zeros(members, "arrays/0.npy", 4 * MIB)
    files["1 GiB member, manifest unchanged"] = set_central_size(
        small, "arrays/0.npy", gib
    )
    agreeing = edit_json(
        random.Random(0),
        members,
        "manifest.json",
        lambda r, m: m["sizes"].update({"arrays/0.npy": gib}),
    )
    files["1 GiB member, manifest agrees"] = set_central_size(
        zip_with_zeros(agreeing, "arrays/0.npy", 4 * MIB), "arrays/0.npy", gib
    )
    format1 = models["format1"][0].read_bytes()
    files["1 GiB member, format 1"] = set_central_size(
        zip_with_zeros(members_of(format1), "arrays/0.npy", 4 * MIB),
        "arrays/0.npy",
        gib,
    )
    original_size = len(dict(members)["arrays/0.npy"])
    files["64 MiB member under a small header"] = set_central_size(
        zip_with_zeros(members, "arrays/0.npy", 64 * MIB),
        "arrays/0.npy",
        original_size,
    )
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }"
    encoded = header.encode() + b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    npy = (
        b"\x93NUMPY\x01\x00" + len(encoded).to_bytes(2, "little") + encoded + bytes(64)
    )
    files["npy header of 2**40 floats"] = zip_members(
        resign([(n, npy if n == "arrays/0.npy" else d) for n, d in members])
    )

    def wide(rng: random.Random, state: Any) -> None:
        config = state["state"]["__dict__"]["module_"]["config"]["__dict__"]
        config.update(d_in=60_000, units_per_step=60_000, max_steps=1)

    files["60000 x 60000 module"] = zip_members(
        resign(edit_json(random.Random(0), members, "state.json", wide))
    )
    deep = b"[" * 100_000 + b"]" * 100_000
    files["state nested 100000 deep"] = zip_members(
        resign([(n, deep if n == "state.json" else d) for n, d in members])
    )
    # 3 MiB of data before the archive, all of it claimed by its directory
    eocd = raw.rfind(b"PK\x05\x06")
    directory = int.from_bytes(raw[eocd + 12 : eocd + 16], "little")
    offset = int.from_bytes(raw[eocd + 16 : eocd + 20], "little")
    padded = patch(
        bytes(3 * MIB) + raw, 3 * MIB + eocd + 12, directory + offset + 3 * MIB, 4
    )
    files["zip directory of 3 MiB"] = patch(padded, 3 * MIB + eocd + 16, 0, 4)
    _limit_address_space()
    start = _maxrss_mib()
    scenarios = {}
    for i, (name, data) in enumerate(files.items()):
        path = tmp / f"hostile_{i}.tabkit"
        path.write_bytes(data)
        tracemalloc.start()
        try:
            load(path)
            error, message = "none", "loaded"
        except Exception as exc:
            error, message = type(exc).__name__, str(exc)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        scenarios[name] = (error, message, peak)
    return {"scenarios": scenarios, "peak_growth_mib": _maxrss_mib() - start}


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)
    folder, seed, n_cases, mode = (
        Path(sys.argv[1]),
        *map(int, sys.argv[2:4]),
        sys.argv[4],
    )
    models = _models(folder)
    result = {"hostile": hostile(folder, models) if mode == "hostile" else None}
    result["fuzz"] = fuzz(folder, models, seed, n_cases)
    sys.stdout.write(json.dumps(result) + "\n")
