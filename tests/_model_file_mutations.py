"""Mutations of model files for ``_model_file_fuzz.py``, and zip-crafting helpers."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import random
import warnings
import zipfile
from typing import Any

MIB = 2**20

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


# ------------------------------------------------------------ zip helpers
def members_of(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def map_member(
    members: list[tuple[str, bytes]], target: str, change: Any
) -> list[tuple[str, bytes]]:
    return [(n, change(d) if n == target else d) for n, d in members]


def resign(members: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
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

    return map_member(members, "manifest.json", sign)


def zip_members(
    members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED
) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names
        with zipfile.ZipFile(buffer, "w", compression=method) as archive:
            for member in members:
                archive.writestr(*member)
    return buffer.getvalue()


def central_entries(raw: bytes) -> list[tuple[int, str]]:
    """(offset, name) of each central-directory entry."""
    entries, start = [], 0
    while (at := raw.find(b"PK\x01\x02", start)) >= 0:
        name_length = int.from_bytes(raw[at + 28 : at + 30], "little")
        entries.append((at, raw[at + 46 : at + 46 + name_length].decode("latin-1")))
        start = at + 4
    return entries


def patch(raw: bytes, offset: int, value: int, width: int) -> bytes:
    value %= 256**width
    return raw[:offset] + value.to_bytes(width, "little") + raw[offset + width :]


def set_central_size(raw: bytes, name: str, size: int) -> bytes:
    for at, entry_name in central_entries(raw):
        if entry_name == name:
            return patch(raw, at + 24, size, 4)
    raise AssertionError(name)


def zip_with_zeros(
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


def edit_json(
    rng: random.Random, members: list[tuple[str, bytes]], target: str, edit: Any
) -> list[tuple[str, bytes]]:
    def change(data: bytes) -> bytes:
        tree = json.loads(data)
        return json.dumps(edit(rng, tree) or tree).encode()

    return map_member(members, target, change)


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
def mutate(rng: random.Random, kind: str, raw: bytes) -> tuple[bytes, str]:  # noqa: PLR0911
    """A mutated file and its judge: "bytes" (content intact) or "semantic"."""
    members = members_of(raw)
    arrays = [n for n, _ in members if n.startswith("arrays/")]
    if kind == "flip":
        data = bytearray(raw)
        for _ in range(rng.choice([1, 1, 2, 8])):
            data[rng.randrange(len(data))] ^= rng.randrange(1, 256)
        return bytes(data), "bytes"
    if kind == "truncate":
        return raw[: rng.randrange(len(raw))], "bytes"
    if kind == "zip_field":
        entries = central_entries(raw)
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
        return patch(raw, start + offset, value, width), "bytes"
    if kind == "state_json":
        return zip_members(
            resign(edit_json(rng, members, "state.json", _mutate_tree))
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

        return zip_members(
            edit_json(rng, resign(members), "manifest.json", edit)
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
        return zip_members(
            resign(members) if rng.random() < 0.7 else members
        ), "semantic"
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

        return zip_members(resign(map_member(members, target, change))), "semantic"
    if kind == "compression":
        method = rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
        return zip_members(members, method), "bytes"
    if kind == "deep_json":
        target = rng.choice(["state.json", "state.json", "manifest.json"])
        mutated = edit_json(rng, members, target, _deep)
        text = dict(mutated)[target]
        if b'"__deep__"' in text:
            depth = json.loads(text)["__deep__"]
            text = (b"[" * depth) + b"1" + (b"]" * depth)
            mutated = [(n, text if n == target else d) for n, d in mutated]
        return zip_members(
            resign(mutated) if target == "state.json" else mutated
        ), "semantic"
    # inflate: a member of many zeros, its size told truthfully or not
    target = rng.choice(arrays)
    size = rng.choice([1, 4]) * MIB
    grown = zip_with_zeros(
        resign(members) if rng.random() < 0.5 else members, target, size
    )
    if rng.random() < 0.5:
        grown = set_central_size(grown, target, dict(members)[target].__len__())
    return grown, "semantic"
