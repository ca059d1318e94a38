"""Fuzzing ``tabkit.load`` with mutated real model files, and hostile files.

Every mutated file must either be refused with a clean ``ModelFileError`` (or
``IncompatibleModelFileError``) or load into an object of exactly the
registered class its manifest names; when only the file's bytes were changed
(the checksums were not recomputed), a successful load must also predict
exactly as the original. The cases run in a child process (this file run as a
script) so that its peak resident memory can be measured; an address-space
limit there turns a runaway allocation into a failing case instead of an
exhausted machine.

Mutations: byte flips, truncations, lies in the zip directory's fields, JSON
value / key / type mutations and deep nesting in ``state.json`` and
``manifest.json`` (checksums recomputed, so that they reach the decoder),
added / removed / renamed / duplicated members, ``.npy`` header and data
mutations, other compression methods, and members that inflate far beyond
their declared size.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import random
import resource
import subprocess
import sys
import traceback
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest

MIB = 2**20
#: Growth of the child's peak resident memory allowed over all cases.
MEMORY_BOUND_MIB = 192
#: Address space the child may add after its warm-up (a safety net).
ADDRESS_SPACE_MARGIN = 2 * 2**30


def run_child(mode: str, tmp_path: Path, *args: Any) -> dict[str, Any]:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
    }
    command = [sys.executable, __file__, mode, str(tmp_path), *map(str, args)]
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=900, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def check_fuzz_report(report: dict[str, Any], n_cases: int) -> None:
    failures = report["failures"]
    assert not failures, f"{len(failures)} failing cases, first ones:\n" + "\n\n".join(
        json.dumps(f, indent=1) for f in failures[:5]
    )
    assert report["cases"] == n_cases
    assert report["peak_growth_mib"] < MEMORY_BOUND_MIB
    assert set(report["by_kind"]) == set(KINDS)
    # the mutations reach the checks: most are refused, some load
    assert report["refused"] > n_cases // 2
    assert report["loaded"] > 0


def test_fuzzed_model_files_fail_cleanly(tmp_path):
    check_fuzz_report(run_child("fuzz", tmp_path, 0, 300), 300)


@pytest.mark.slow
def test_fuzzed_model_files_fail_cleanly_many(tmp_path):
    check_fuzz_report(run_child("fuzz", tmp_path, 1, 6000), 6000)


def test_hostile_files_are_refused_in_bounded_memory(tmp_path):
    report = run_child("hostile", tmp_path)
    assert report["peak_growth_mib"] < 64
    for name, (error, message, peak) in report["scenarios"].items():
        assert error in {"ModelFileError", "IncompatibleModelFileError"}, (
            name,
            message,
        )
        assert HOSTILE_MESSAGES[name] in message, (name, message)
        assert peak < 16 * MIB, (name, peak)


# ======================================================================
# The child process: everything below runs there.
# ======================================================================
KINDS = (
    "flip",
    "truncate",
    "zip_field",
    "state_json",
    "manifest_json",
    "members",
    "npy_header",
    "npy_data",
    "compression",
    "deep_json",
    "inflate",
)

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
    # a file of format 1 (written before model-file checks), and its inputs
    data = Path(__file__).parent / "data"
    old_inputs = pd.read_csv(
        data / "classifier_format1_X.csv", dtype={"kind": "string"}
    )
    (tmp / "format1.tabkit").write_bytes((data / "classifier_format1.zip").read_bytes())
    models["format1"] = (tmp / "format1.tabkit", lambda m: m.predict_proba(old_inputs))
    return models


# ------------------------------------------------------------ zip helpers
def _members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def _map_member(
    members: list[tuple[str, bytes]], target: str, change: Any
) -> list[tuple[str, bytes]]:
    return [(n, change(d) if n == target else d) for n, d in members]


def _resign(members: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Recompute the manifest's sizes and checksums, as a forger can."""
    others = {n: d for n, d in members if n != "manifest.json"}

    def sign(data: bytes) -> bytes:
        manifest = json.loads(data)
        manifest["checksums"] = {
            n: hashlib.sha256(d).hexdigest() for n, d in others.items()
        }
        if manifest.get("format_version") != 1:
            manifest["sizes"] = {n: len(d) for n, d in others.items()}
        return json.dumps(manifest).encode()

    return _map_member(members, "manifest.json", sign)


def _zip(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names
        with zipfile.ZipFile(buffer, "w", compression=method) as archive:
            for member in members:
                archive.writestr(*member)
    return buffer.getvalue()


def _central_entries(raw: bytes) -> list[tuple[int, str]]:
    """(offset, name) of each central-directory entry."""
    entries, start = [], 0
    while (at := raw.find(b"PK\x01\x02", start)) >= 0:
        name_length = int.from_bytes(raw[at + 28 : at + 30], "little")
        entries.append((at, raw[at + 46 : at + 46 + name_length].decode("latin-1")))
        start = at + 4
    return entries


def _patch(raw: bytes, offset: int, value: int, width: int) -> bytes:
    value %= 256**width
    return raw[:offset] + value.to_bytes(width, "little") + raw[offset + width :]


def _set_central_size(raw: bytes, name: str, size: int) -> bytes:
    for at, entry_name in _central_entries(raw):
        if entry_name == name:
            return _patch(raw, at + 24, size, 4)
    raise AssertionError(name)


def _zip_with_raw_member(
    members: list[tuple[str, bytes]], name: str, plain_size: int
) -> bytes:
    """A zip whose member ``name`` is ``plain_size`` zero bytes, deflated."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member, data in members:
            if member != name:
                archive.writestr(member, data)
                continue
            with archive.open(member, "w") as stream:
                chunk = bytes(min(MIB, plain_size))
                for start in range(0, plain_size, MIB):
                    stream.write(chunk[: plain_size - start])
    return buffer.getvalue()


# ------------------------------------------------------------ JSON mutations
EVIL = [
    None,
    True,
    0,
    -1,
    1,
    2**31,
    2**63,
    10**30,
    1.5,
    -1e308,
    "",
    "x",
    "a" * 5000,
    "os:system",
    "tabkit.nn.BoostedNetwork",
    "tabkit.estimators.BoostedNNRegressor",
    "tabkit.preprocessing.TabularEncoder",
    [],
    {},
    [1, "a", None],
    {"__array__": 0, "kind": "tensor"},
    {"__array__": 0, "kind": "object_str"},
    {"__array__": 10**9, "kind": "ndarray"},
    {"__array__": -1, "kind": "ndarray"},
    {"__array__": "0", "kind": "ndarray"},
    {"__float__": "1e999"},
    {"__float__": "nan"},
    {"__float__": 1},
    {"__tuple__": 5},
    {"__tuple__": [{"__float__": "inf"}]},
    {"__dict__": []},
    {"__dict__": {"a": {"__tuple__": [1]}}},
    {"__items__": [[1]]},
    {"__items__": [[{"__tuple__": [1, 2]}, 3]]},
    {"__items__": [[[], 3]]},
    {"__history__": "{}"},
    {"__history__": "[]"},
    {"__history__": "{bad"},
    {"__history__": '{"records": [{"a": 1}], "best_iteration": "x"}'},
    {"__dtype__": "<f8"},
    {"__dtype__": "O"},
    {"__dtype__": "V999999999"},
    {"__random_state__": ["MT19937", {"__array__": 0, "kind": "ndarray"}, 0, 0, 0.0]},
    {"__random_state__": "MT19937"},
    {
        "__estimator__": "os:system",
        "params": {"__dict__": {}},
        "state": {"__dict__": {}},
    },
    {
        "__estimator__": "tabkit.preprocessing.TabularEncoder",
        "params": {"__dict__": {}},
        "state": {"__dict__": {}},
    },
    {
        "__estimator__": "tabkit.estimators.BoostedNNRegressor",
        "params": {"__dict__": {"n_estimators": 2**40}},
        "state": {"__dict__": {"predict": 1}},
    },
    {
        "__module__": "tabkit.nn.BoostedNetwork",
        "config": {
            "__dict__": {
                "d_in": 60000,
                "d_out": 1,
                "max_steps": 1,
                "units_per_step": 60000,
            }
        },
        "state": {},
    },
    {
        "__module__": "tabkit.serialization:nn.Linear",
        "config": {"__dict__": {"in_features": 60000, "out_features": 60000}},
        "state": {},
    },
]
KEYS = [
    "predict",
    "fit",
    "__class__",
    "__dict__",
    "__array__",
    "kind",
    "state",
    "params",
    "config",
    "n_estimators",
    "module_",
    "_encoder",
    "classes_",
    "x_",
    "",
]


def _slots(tree: Any) -> list[tuple[Any, Any]]:
    """Every (container, key or index) of a JSON tree."""
    slots, stack = [], [tree]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            slots.append((node, key))
            if isinstance(value, dict | list):
                stack.append(value)
    return slots


def _scalar_variant(rng: random.Random, value: Any) -> Any:
    if isinstance(value, bool):
        return rng.choice([not value, int(value), str(value)])
    if isinstance(value, int):
        return rng.choice(
            [
                value + 1,
                value - 1,
                value * 1000,
                -value,
                2**31,
                str(value),
                float(value),
            ]
        )
    if isinstance(value, float):
        return rng.choice([value * 1e300, -value, int(value), str(value)])
    if isinstance(value, str):
        return rng.choice(
            [value + "x", value[:-1], "", value.upper(), rng.choice(EVIL)]
        )
    return rng.choice(EVIL)


def _mutate_tree(rng: random.Random, tree: Any) -> None:
    for _ in range(rng.choice([1, 1, 2, 3])):
        slots = _slots(tree)
        if not slots:
            return
        node, key = rng.choice(slots)
        op = rng.randrange(6)
        if op == 0:
            node[key] = copy.deepcopy(rng.choice(EVIL))
        elif op == 1:
            node[key] = _scalar_variant(rng, node[key])
        elif op == 2:
            del node[key]
        elif op == 3 and isinstance(node, dict):
            node[rng.choice([*KEYS, *node])] = node.pop(key)
        elif op == 4 and isinstance(node, dict):
            node[rng.choice(KEYS)] = copy.deepcopy(rng.choice(EVIL))
        else:  # swap with another subtree
            other, other_key = rng.choice(slots)
            node[key], other[other_key] = copy.deepcopy(other[other_key]), node[key]


def _edit_json(
    rng: random.Random, members: list[tuple[str, bytes]], target: str, edit: Any
) -> list[tuple[str, bytes]]:
    def change(data: bytes) -> bytes:
        tree = json.loads(data)
        return json.dumps(edit(rng, tree) or tree).encode()

    return _map_member(members, target, change)


def _deep(rng: random.Random, tree: Any) -> Any:
    depth = rng.choice([60, 101, 500, 5000, 50_000])
    opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
    nested = json.loads(opener * depth + "1" + closer * depth) if depth < 900 else None
    slots = _slots(tree)
    if nested is not None and slots:
        node, key = rng.choice(slots)
        node[key] = nested
        return None
    return {"__deep__": depth}  # marker: written as text below


# ------------------------------------------------------------ npy mutations
def _npy_header(rng: random.Random, data: bytes) -> bytes:
    header_length = int.from_bytes(data[8:10], "little")
    body = data[10 + header_length :]
    choice = rng.randrange(9)
    descr = rng.choice(
        ["<f8", "<f4", "<i8", "|O", "<V8", "<c16", ">f8", "<U0", "|b1", "<M8[ns]"]
    )
    shape = rng.choice(
        [
            "(2**40,)",
            "(1099511627776,)",
            "(-1,)",
            "()",
            "(0,)",
            "(1000000, 1000000)",
            "(3, 0, 99999999999)",
            f"({len(body) // 8},)",
        ]
    )
    fortran = rng.choice(["True", "False"])
    if choice == 0:
        text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': (1,), }}"
    elif choice == 1:
        text = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}"
    elif choice == 2:
        old = data[10 : 10 + header_length].decode("latin-1")
        text = old.replace("False", fortran).replace("True", fortran)
    elif choice == 3:
        text = rng.choice(
            [
                "(" * 3000,
                "{}",
                "[]",
                "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }",
                "__import__('os')",
            ]
        )
    elif choice == 4:  # header length lies
        return data[:8] + rng.randrange(65536).to_bytes(2, "little") + data[10:]
    elif choice == 5:  # version
        return data[:6] + bytes([rng.choice([0, 2, 3, 9]), 0]) + data[8:]
    elif choice == 6:
        return data[: rng.randrange(len(data))]
    elif choice == 7:
        return data + bytes(rng.randrange(1, 64))
    else:
        return b"\x93NUMPX" + data[6:]
    encoded = text.encode("latin-1")
    encoded += b" " * (-(10 + len(encoded) + 1) % 64) + b"\n"
    return data[:8] + len(encoded).to_bytes(2, "little") + encoded + body


# ------------------------------------------------------------ one case
def _case(rng: random.Random, kind: str, raw: bytes) -> tuple[bytes, str]:  # noqa: PLR0911
    """A mutated file and its judge: "bytes" (content intact) or "semantic"."""
    members = _members(raw)
    arrays = [n for n, _ in members if n.startswith("arrays/")]
    if kind == "flip":
        data = bytearray(raw)
        for _ in range(rng.choice([1, 1, 2, 8])):
            data[rng.randrange(len(data))] ^= rng.randrange(1, 256)
        return bytes(data), "bytes"
    if kind == "truncate":
        return raw[: rng.randrange(len(raw))], "bytes"
    if kind == "zip_field":
        entries = _central_entries(raw)
        at, _ = rng.choice(entries)
        local = [i for i in range(len(raw)) if raw.startswith(b"PK\x03\x04", i)]
        eocd = raw.rfind(b"PK\x05\x06")
        target = rng.choice(["central", "central", "local", "eocd"])
        values = [0, 1, 2**30, 2**31, 2**32 - 1, 65535, rng.randrange(2**32)]
        if target == "central":
            offset, width = rng.choice(
                [(8, 2), (10, 2), (20, 4), (24, 4), (28, 2), (30, 2), (32, 2), (42, 4)]
            )
            start = at
        elif target == "local":
            offset, width = rng.choice(
                [(6, 2), (8, 2), (14, 4), (18, 4), (22, 4), (26, 2), (28, 2)]
            )
            start = rng.choice(local)
        else:
            offset, width = rng.choice([(8, 2), (10, 2), (12, 4), (16, 4), (20, 2)])
            start = eocd
        old = int.from_bytes(raw[start + offset : start + offset + width], "little")
        value = rng.choice([*values, old + 1, old - 1, old * 2])
        return _patch(raw, start + offset, value, width), "bytes"
    if kind == "state_json":
        return _zip(
            _resign(_edit_json(rng, members, "state.json", _mutate_tree))
        ), "semantic"
    if kind == "manifest_json":

        def edit(rng: random.Random, tree: Any) -> Any:
            if rng.random() < 0.4 and isinstance(tree.get("sizes"), dict):
                name = rng.choice(sorted(tree["sizes"]))
                size = tree["sizes"][name]
                tree["sizes"][name] = rng.choice(
                    [0, -1, 2**40, size + 1, size - 1, str(size), None, 1.5, 2**30]
                )
                return None
            _mutate_tree(rng, tree)
            return None

        return _zip(
            _edit_json(rng, _resign(members), "manifest.json", edit)
        ), "semantic"
    if kind == "members":
        op = rng.randrange(5)
        name = rng.choice(
            [
                "evil.py",
                "../x.npy",
                "/abs",
                "arrays/",
                "arrays/99.npy",
                "arrays/007.npy",
                "state.json",
                f"arrays/{len(arrays)}.npy",
                "manifest.json",
                arrays[0],
            ]
        )
        if op == 0:
            members = [*members, (name, rng.choice([b"", b"print(1)", members[-1][1]]))]
        elif op == 1:
            del members[rng.randrange(len(members))]
        elif op == 2:
            i = rng.randrange(len(members))
            members[i] = (name, members[i][1])
        elif op == 3:
            i = rng.randrange(len(members))
            members.insert(rng.randrange(len(members)), members[i])
        else:
            rng.shuffle(members)
        return _zip(_resign(members) if rng.random() < 0.7 else members), "semantic"
    if kind in {"npy_header", "npy_data"}:
        target = rng.choice(arrays)

        def change(data: bytes) -> bytes:
            if kind == "npy_header":
                return _npy_header(rng, data)
            mutable = bytearray(data)
            start = int.from_bytes(data[8:10], "little") + 10
            for _ in range(rng.choice([1, 4])):
                if len(mutable) > start:
                    mutable[rng.randrange(start, len(mutable))] = rng.randrange(256)
            return bytes(mutable)

        return _zip(_resign(_map_member(members, target, change))), "semantic"
    if kind == "compression":
        method = rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
        return _zip(members, method), "bytes"
    if kind == "deep_json":
        target = rng.choice(["state.json", "state.json", "manifest.json"])
        mutated = _edit_json(rng, members, target, _deep)
        text = dict(mutated)[target]
        if b'"__deep__"' in text:
            depth = json.loads(text)["__deep__"]
            text = (b"[" * depth) + b"1" + (b"]" * depth)
            mutated = [(n, text if n == target else d) for n, d in mutated]
        return _zip(_resign(mutated) if target == "state.json" else mutated), "semantic"
    # inflate: a member of many zeros, its size told truthfully or not
    target = rng.choice(arrays)
    size = rng.choice([1, 4]) * MIB
    grown = _zip_with_raw_member(
        _resign(members) if rng.random() < 0.5 else members, target, size
    )
    if rng.random() < 0.5:
        grown = _set_central_size(grown, target, dict(members)[target].__len__())
    return grown, "semantic"


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
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _limit_address_space() -> None:
    with open("/proc/self/status") as status:
        size = next(
            int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize")
        )
    resource.setrlimit(
        resource.RLIMIT_AS, (size + ADDRESS_SPACE_MARGIN, resource.RLIM_INFINITY)
    )


def fuzz(tmp: Path, seed: int, n_cases: int) -> dict[str, Any]:
    import torch

    from tabkit import load

    torch.set_num_threads(1)
    models = _models(tmp)
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
            data, judge = _case(random.Random(case_seed), kind, raw)
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


def hostile(tmp: Path) -> dict[str, Any]:
    import tracemalloc

    import torch

    from tabkit import load

    torch.set_num_threads(1)
    models = _models(tmp)
    raw = models["regressor"][0].read_bytes()
    members = _members(raw)
    gib = 2**30
    files = {}
    small = _zip_with_raw_member(members, "arrays/0.npy", 4 * MIB)
    files["1 GiB member, manifest unchanged"] = _set_central_size(
        small, "arrays/0.npy", gib
    )
    agreeing = _edit_json(
        random.Random(0),
        members,
        "manifest.json",
        lambda r, m: m["sizes"].update({"arrays/0.npy": gib}),
    )
    files["1 GiB member, manifest agrees"] = _set_central_size(
        _zip_with_raw_member(agreeing, "arrays/0.npy", 4 * MIB), "arrays/0.npy", gib
    )
    format1 = (Path(__file__).parent / "data" / "classifier_format1.zip").read_bytes()
    files["1 GiB member, format 1"] = _set_central_size(
        _zip_with_raw_member(_members(format1), "arrays/0.npy", 4 * MIB),
        "arrays/0.npy",
        gib,
    )
    original_size = len(dict(members)["arrays/0.npy"])
    files["64 MiB member under a small header"] = _set_central_size(
        _zip_with_raw_member(members, "arrays/0.npy", 64 * MIB),
        "arrays/0.npy",
        original_size,
    )
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }"
    encoded = header.encode() + b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    npy = (
        b"\x93NUMPY\x01\x00" + len(encoded).to_bytes(2, "little") + encoded + bytes(64)
    )
    files["npy header of 2**40 floats"] = _zip(
        _resign([(n, npy if n == "arrays/0.npy" else d) for n, d in members])
    )

    def wide(rng: random.Random, state: Any) -> None:
        config = state["state"]["__dict__"]["module_"]["config"]["__dict__"]
        config.update(d_in=60_000, units_per_step=60_000, max_steps=1)

    files["60000 x 60000 module"] = _zip(
        _resign(_edit_json(random.Random(0), members, "state.json", wide))
    )
    deep = b"[" * 100_000 + b"]" * 100_000
    files["state nested 100000 deep"] = _zip(
        _resign([(n, deep if n == "state.json" else d) for n, d in members])
    )
    # 3 MiB of data before the archive, all of it claimed by its directory
    eocd = raw.rfind(b"PK\x05\x06")
    directory = int.from_bytes(raw[eocd + 12 : eocd + 16], "little")
    offset = int.from_bytes(raw[eocd + 16 : eocd + 20], "little")
    padded = _patch(
        bytes(3 * MIB) + raw, 3 * MIB + eocd + 12, directory + offset + 3 * MIB, 4
    )
    files["zip directory of 3 MiB"] = _patch(padded, 3 * MIB + eocd + 16, 0, 4)
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
    mode, folder = sys.argv[1], Path(sys.argv[2])
    if mode == "fuzz":
        result = fuzz(folder, int(sys.argv[3]), int(sys.argv[4]))
    else:
        result = hostile(folder)
    sys.stdout.write(json.dumps(result) + "\n")
