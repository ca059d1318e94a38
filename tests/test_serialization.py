"""Model files: round trips, the class registry, and refusal of foreign files."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from _format1 import format1_classifier, write_format1
from sklearn.linear_model import LinearRegression

import tabkit
import tabkit.serialization
from tabkit import BoostedNNClassifier, BoostedNNRegressor, TabularEncoder
from tabkit.exceptions import IncompatibleModelFileError, ModelFileError
from tabkit.nn import BoostedNetwork
from tabkit.serialization import _archive, _registry


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=200),
            "kind": pd.Categorical(rng.choice(["a", "b", "c"], 200)),
            "name": pd.Series(rng.choice(["p", "q", None], 200), dtype="string"),
        }
    )
    y = frame["x"].to_numpy() * 2 + (frame["kind"] == "b").to_numpy()
    model = BoostedNNRegressor(n_estimators=6, units_per_step=3, random_state=0)
    model.fit(frame, y)
    path = model.save(tmp_path_factory.mktemp("models") / "model.tabkit")
    return model, frame, path


def members_of(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_members(path, members, *, resign=True):
    """Write ``members`` as a model file, with the manifest's sizes and checksums
    recomputed (as anyone crafting a file can)."""
    members = dict(members)
    if resign:
        manifest = json.loads(members["manifest.json"])
        others = {n: d for n, d in members.items() if n != "manifest.json"}
        manifest["checksums"] = {
            n: hashlib.sha256(d).hexdigest() for n, d in others.items()
        }
        if manifest.get("format_version", 0) >= 2:
            manifest["sizes"] = {n: len(d) for n, d in others.items()}
        members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def edit_state(src, dst, edit):
    members = members_of(src)
    state = json.loads(members["state.json"])
    edit(state)
    members["state.json"] = json.dumps(state).encode()
    return write_members(dst, members)


# ---------------------------------------------------------------- round trips
def test_roundtrip_keeps_predictions_params_and_vocabularies(fitted):
    model, frame, path = fitted
    loaded = tabkit.load(path)
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    assert loaded.get_params() == model.get_params()
    assert loaded._encoder.categories_ == model._encoder.categories_
    assert loaded.n_steps_ == model.n_steps_
    assert loaded.module_.n_steps_done.shape == model.module_.n_steps_done.shape
    manifest = json.loads(members_of(path)["manifest.json"])
    assert manifest["format_version"] == tabkit.serialization.FORMAT_VERSION
    assert manifest["class"] == "tabkit.estimators.BoostedNNRegressor"
    assert manifest["sizes"]["state.json"] == len(members_of(path)["state.json"])


def test_random_state_instance_and_dict_params_roundtrip(tmp_path):
    X = np.random.default_rng(0).normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    clf = BoostedNNClassifier(
        n_estimators=3,
        units_per_step=2,
        class_weight={0: 1.0, 1: 2.0},
        random_state=np.random.RandomState(3),
    ).fit(X, y)
    loaded = tabkit.load(clf.save(tmp_path / "m.tabkit"))
    assert loaded.class_weight == {0: 1.0, 1: 2.0}
    np.testing.assert_array_equal(
        loaded.random_state.get_state()[1], clf.random_state.get_state()[1]
    )
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_unfitted_estimator_and_encoder_roundtrip(tmp_path):
    est = tabkit.load(BoostedNNClassifier(units_per_step=3).save(tmp_path / "u"))
    assert est.units_per_step == 3
    assert not hasattr(est, "module_")
    enc = TabularEncoder(numeric="quantile").fit(np.arange(30.0).reshape(-1, 1))
    enc.set_output(transform="pandas")
    back = tabkit.load(tabkit.save(enc, tmp_path / "enc"))
    pd.testing.assert_frame_equal(back.transform([[3.0]]), enc.transform([[3.0]]))


@pytest.fixture(scope="module")
def format1(tmp_path_factory):
    """A classifier, its inputs, and the classifier written in format 1."""
    model, X = format1_classifier()
    path = write_format1(model, tmp_path_factory.mktemp("format1") / "m.tabkit")
    return model, X, path


def test_format_1_files_still_load(format1):
    """A file in the layout of the format-1 writer (before model-file checks)."""
    model, X, path = format1
    loaded = tabkit.load(path)
    assert type(loaded) is BoostedNNClassifier
    assert loaded.classes_.tolist() == ["no", "yes"]
    assert loaded.module_.n_steps_done.shape == model.module_.n_steps_done.shape
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_format_1_helper_writes_the_old_layout(format1):
    """The file the format-1 tests read has what only format 1 has."""
    members = members_of(format1[2])
    assert list(members)[:2] == ["manifest.json", "state.json"]
    manifest = json.loads(members["manifest.json"])
    assert list(manifest) == [
        "format",
        "format_version",
        "tabkit_version",
        "class",
        "created",
        "versions",
        "checksums",
    ]
    assert manifest["format_version"] == 1
    assert manifest["class"] == "tabkit.estimators._boosted:BoostedNNClassifier"
    state = members["state.json"].decode()
    assert set(re.findall(r'"__(?:estimator|module)__": "([^"]+)"', state)) == {
        "tabkit.estimators._boosted:BoostedNNClassifier",
        "tabkit.preprocessing._encoder:TabularEncoder",
        "tabkit.nn.boosted:BoostedNetwork",
    }
    shapes = [
        np.load(io.BytesIO(data)).shape
        for name, data in members.items()
        if name.startswith("arrays/")
    ]
    assert () not in shapes
    assert (1,) in shapes  # the module's 0-d step counter, as format 1 wrote it
    assert all(
        hashlib.sha256(members[name]).hexdigest() == checksum
        for name, checksum in manifest["checksums"].items()
    )


def test_format_1_names_are_only_the_frozen_ones(format1, tmp_path):
    members = members_of(format1[2])
    state = json.loads(members["state.json"])
    state["__estimator__"] = "tabkit.estimators._boosted:_BoostedNN"
    members["state.json"] = json.dumps(state).encode()
    manifest = json.loads(members["manifest.json"])
    manifest["class"] = state["__estimator__"]
    members["manifest.json"] = json.dumps(manifest).encode()
    with pytest.raises(IncompatibleModelFileError, match=r"_BoostedNN'.*not a class"):
        tabkit.load(write_members(tmp_path / "m.zip", members))


# ---------------------------------------------------------------- registry
def test_registry_entries_resolve_and_declare_no_shadowing_names():
    names = {entry.name for entry in _registry.entries()}
    assert {
        "tabkit.estimators.BoostedNNClassifier",
        "tabkit.estimators.BoostedNNRegressor",
        "tabkit.preprocessing.TabularEncoder",
        "tabkit.relational.RelationalFeatures",
        "tabkit.nn.BoostedNetwork",
    } <= names
    for entry in _registry.entries():
        cls = entry.resolve()
        if entry.kind == "module":
            assert issubclass(cls, torch.nn.Module)
            assert _registry.config_schema(cls)  # every annotation is checkable
        else:
            assert [name for name in entry.state if hasattr(cls, name)] == []
            for spec in entry.state.values():
                if isinstance(spec, str):
                    assert spec in names


def test_a_registered_class_becomes_exportable(tmp_path, monkeypatch):
    class MyRegressor(BoostedNNRegressor):
        pass

    X = np.arange(20.0).reshape(-1, 1)
    model = MyRegressor(n_estimators=2, units_per_step=2).fit(X, X[:, 0])
    with pytest.raises(TypeError, match=r"only tabkit estimators.*MyRegressor"):
        model.save(tmp_path / "m.tabkit")
    monkeypatch.setitem(globals(), "MyRegressor", MyRegressor)
    monkeypatch.setitem(
        _registry._REGISTRY,
        "tests.MyRegressor",
        _registry.Entry(
            "tests.MyRegressor",
            f"{__name__}:MyRegressor",
            "estimator",
            _registry.BOOSTED_NN_STATE,
        ),
    )
    loaded = tabkit.load(model.save(tmp_path / "m.tabkit"))
    assert type(loaded) is MyRegressor
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_save_refuses_undeclared_or_mistyped_fitted_attributes(fitted, tmp_path):
    model = fitted[0]
    extra = BoostedNNRegressor(n_estimators=2).fit(np.eye(3), [0.0, 1.0, 2.0])
    extra.new_attribute_ = 1
    with pytest.raises(TypeError, match=r"\['new_attribute_'\].*'tabkit\.estimators"):
        extra.save(tmp_path / "a.tabkit")
    extra = tabkit.load(model.save(tmp_path / "b.tabkit"))
    extra.n_steps_ = "many"
    with pytest.raises(TypeError, match=r"n_steps_ is a str.*declares int"):
        extra.save(tmp_path / "c.tabkit")
    extra.n_steps_ = 3
    extra._encoder.surprise_ = {}
    with pytest.raises(TypeError, match=r"_encoder: TabularEncoder has.*surprise_"):
        extra.save(tmp_path / "d.tabkit")


def test_only_tabkit_objects_can_be_exported(tmp_path):
    with pytest.raises(TypeError, match="only tabkit estimators"):
        tabkit.save(LinearRegression(), tmp_path / "lr.tabkit")
    with pytest.raises(TypeError, match="only tabkit estimators"):
        tabkit.save(BoostedNetwork(2, 1), tmp_path / "net.tabkit")
    model = BoostedNNRegressor(n_estimators=2).fit(np.eye(3), [0.0, 1.0, 2.0])
    model.module_ = torch.nn.Linear(2, 2)
    with pytest.raises(TypeError, match="module_ is a Linear"):
        model.save(tmp_path / "linear.tabkit")


# ---------------------------------------------------------------- refusals
def test_truncated_file_is_rejected(fitted, tmp_path):
    _, _, path = fitted
    data = path.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 5):
        bad = tmp_path / f"cut{cut}.tabkit"
        bad.write_bytes(data[:cut])
        with pytest.raises(ModelFileError, match="truncated or corrupted"):
            tabkit.load(bad)


def test_altered_array_is_rejected_by_checksum(fitted, tmp_path):
    members = members_of(fitted[2])
    data = members["arrays/0.npy"]
    members["arrays/0.npy"] = data[:-1] + bytes([data[-1] ^ 0xFF])
    bad = write_members(tmp_path / "flipped.tabkit", members, resign=False)
    with pytest.raises(ModelFileError, match=r"checksum mismatch in arrays/0\.npy"):
        tabkit.load(bad)


def test_newer_format_gives_a_clear_error(fitted, tmp_path):
    members = members_of(fitted[2])
    manifest = json.loads(members["manifest.json"])
    manifest.update(format_version=99, tabkit_version="9.0.0", layout="new")
    members["manifest.json"] = json.dumps(manifest).encode()
    bad = write_members(tmp_path / "future.tabkit", members, resign=False)
    with pytest.raises(IncompatibleModelFileError, match=r"format 99.*tabkit 9\.0\.0"):
        tabkit.load(bad)


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("os:system", ModelFileError, "non-tabkit class 'os:system'"),
        ("builtins.eval", ModelFileError, "non-tabkit class"),
        ("tabkit.base:BaseEstimator", IncompatibleModelFileError, "not a class"),
        ("tabkit.serialization:nn.Linear", IncompatibleModelFileError, "not a class"),
        ("tabkit.nn.BoostedNetwork", ModelFileError, "is a module, not an estimator"),
    ],
)
def test_only_registered_classes_are_loaded(fitted, tmp_path, name, error, message):
    members = members_of(fitted[2])
    for member in ("state.json", "manifest.json"):
        data = json.loads(members[member])
        data["__estimator__" if member == "state.json" else "class"] = name
        members[member] = json.dumps(data).encode()
    with pytest.raises(error, match=message):
        tabkit.load(write_members(tmp_path / "forged.tabkit", members))


def test_module_names_and_configs_are_checked_before_building(fitted, tmp_path):
    def linear(state):
        state["state"]["__dict__"]["module_"]["__module__"] = "torch.nn:Linear"

    with pytest.raises(ModelFileError, match=r"non-tabkit class 'torch.nn:Linear'"):
        tabkit.load(edit_state(fitted[2], tmp_path / "a.tabkit", linear))

    def wide(state):
        config = state["state"]["__dict__"]["module_"]["config"]["__dict__"]
        config.update(d_in=60_000, max_steps=60_000, units_per_step=1)

    with pytest.raises(
        ModelFileError, match=r"'hidden_weight' is \(18, \d+\).*60000, 60000"
    ):
        tabkit.load(edit_state(fitted[2], tmp_path / "b.tabkit", wide))

    def bad_type(state):
        config = state["state"]["__dict__"]["module_"]["config"]["__dict__"]
        config.update(activation="gelu", d_in=2**40, extra=1)

    with pytest.raises(ModelFileError, match=r"unknown argument 'extra'.*d_in"):
        tabkit.load(edit_state(fitted[2], tmp_path / "c.tabkit", bad_type))


@pytest.mark.parametrize(
    "attribute", ["predict", "fit", "__class__", "__dict__", "n_estimators", "x_"]
)
def test_only_declared_fitted_attributes_are_set(fitted, tmp_path, attribute):
    def add(state):
        state["state"]["__dict__"][attribute] = 1

    with pytest.raises(ModelFileError, match=f"undeclared fitted.*'{attribute}'"):
        tabkit.load(edit_state(fitted[2], tmp_path / "m.tabkit", add))


def test_fitted_attributes_and_parameters_are_type_checked(fitted, tmp_path):
    def swap(state):
        fitted_state = state["state"]["__dict__"]
        fitted_state["n_steps_"] = "six"

    with pytest.raises(ModelFileError, match="n_steps_: is a str, not int"):
        tabkit.load(edit_state(fitted[2], tmp_path / "a.tabkit", swap))

    def encoder_as_model(state):
        fitted_state = state["state"]["__dict__"]
        fitted_state["_encoder"] = {
            "__estimator__": "tabkit.estimators.BoostedNNRegressor",
            "params": {"__dict__": {}},
            "state": {"__dict__": {}},
        }

    with pytest.raises(ModelFileError, match="_encoder: is a BoostedNNRegressor"):
        tabkit.load(edit_state(fitted[2], tmp_path / "b.tabkit", encoder_as_model))

    def bad_param(state):
        state["params"]["__dict__"]["n_estimators"] = -3

    with pytest.raises(ModelFileError, match=r"invalid parameter.*n_estimators"):
        tabkit.load(edit_state(fitted[2], tmp_path / "c.tabkit", bad_param))

    def new_param(state):
        state["params"]["__dict__"]["depth"] = 3

    with pytest.raises(
        IncompatibleModelFileError, match=r"no parameter\(s\) \['depth'"
    ):
        tabkit.load(edit_state(fitted[2], tmp_path / "d.tabkit", new_param))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 5000 + "]" * 5000, "nested 5000 levels deep"),
        ('"' + '\\"' * 10**6, "not valid JSON"),  # quadratic for a regex scan
        ('{"a": 1, "a": 2}', r"key\(s\) \['a'\] twice"),
        ('{"x": NaN}', "non-standard constant NaN"),
        ("[1, 2", "not valid JSON"),
        ("\xff", "not valid JSON"),
        ('{"__array__": 0, "kind": "object"}', "unknown entry|not the estimator"),
    ],
)
def test_malformed_state_json_is_refused(fitted, tmp_path, text, message):
    members = members_of(fitted[2])
    members["state.json"] = text.encode("latin-1")
    with pytest.raises(ModelFileError, match=message):
        tabkit.load(write_members(tmp_path / "m.tabkit", members))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"__array__": 99, "kind": "ndarray"}, "missing array 99"),
        ({"__array__": 0, "kind": "pickle"}, "kind 'pickle'"),
        ({"__float__": "1e5"}, "has the float"),
        ({"__dtype__": "O"}, "has the dtype 'O'"),
        ({"__tuple__": 5}, "does not hold a list"),
        ({"__items__": [[[1], 2]]}, "unhashable key"),
        ({"__items__": [[1, 2], [1, 3]]}, "key 1 twice"),
        ({"__history__": "[" * 300 + "]" * 300}, "nested 300"),
        ({"__history__": '{"records": 1}'}, "records are not a list"),
        ({"__random_state__": ["MT19937", 1, 2, 3, 4]}, "key is not an array"),
        ({"__dict__": {"a": 1}, "__tuple__": []}, "unknown entry"),
        ({"plain": "dict"}, "unknown entry"),
    ],
)
def test_malformed_entries_are_refused(fitted, tmp_path, entry, message):
    def put(state):
        state["params"]["__dict__"]["verbose"] = entry

    with pytest.raises(ModelFileError, match=message):
        tabkit.load(edit_state(fitted[2], tmp_path / "m.tabkit", put))


def _reference_nesting(text):
    depth = deepest = opened = 0
    inside = escaped = False
    for char in text:
        if inside:
            escaped, inside = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            inside = True
        elif char in "[{":
            depth, opened = depth + 1, opened + 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest, opened


def test_json_nesting_is_measured_outside_strings_across_chunks():
    rng = np.random.default_rng(0)
    strings = ['a"[{', "\\", "]]", 'x\\"}', "{["]

    def tree(level):
        draw = rng.random()
        if level > 4 or draw < 0.3:
            return str(rng.choice(strings))
        if draw < 0.65:
            return [tree(level + 1) for _ in range(rng.integers(3))]
        return {str(rng.choice(strings)) + str(i): tree(level + 1) for i in range(3)}

    for _ in range(100):
        text = json.dumps(tree(0))
        for chunk in (1, 3, 64) if len(text) < 200 else (7, 64):
            assert _archive._nesting(text.encode(), chunk) == _reference_nesting(text)
    text = json.dumps({"a[": ['\\"[{', [[{"}": "\\\\"}]]], "b": "]]]"})
    for chunk in (1, 2, 5, 4096):
        assert _archive._nesting(text.encode(), chunk) == (5, 5)


def test_arrays_are_used_once_and_all_used(fitted, tmp_path):
    def reuse(state):
        state["state"]["__dict__"]["train_score_"] = {"__array__": 0, "kind": "ndarray"}

    with pytest.raises(ModelFileError, match="a second time"):
        tabkit.load(edit_state(fitted[2], tmp_path / "a.tabkit", reuse))

    def drop(state):
        del state["state"]["__dict__"]["train_score_"]

    with pytest.raises(ModelFileError, match="never used"):
        tabkit.load(edit_state(fitted[2], tmp_path / "b.tabkit", drop))


def npy_with_header(header: str, data: bytes) -> bytes:
    text = header.encode("latin-1")
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + data


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (2**40,), }", "valid"),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }",
            "declares",
        ),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", "shape"),
        (
            "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }",
            "'|O', not allowed",
        ),
        ("{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", "not allowed"),
        ("{'descr': '<U0', 'fortran_order': False, 'shape': (9,), }", "not allowed"),
        (
            "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }",
            "allowed",
        ),
        ("{'descr': '<f8', 'shape': (1,), }", "valid"),
        ("(" * 3000, "valid"),
    ],
)
def test_array_headers_are_checked_before_reading(fitted, tmp_path, header, message):
    members = members_of(fitted[2])
    members["arrays/3.npy"] = npy_with_header(header, bytes(16))
    with pytest.raises(ModelFileError, match=message):
        tabkit.load(write_members(tmp_path / "m.tabkit", members))


@pytest.mark.parametrize(
    "array",
    [
        np.array([True, False]),
        np.arange(6, dtype=np.int8).reshape(2, 3),
        np.arange(3, dtype=np.uint64),
        np.linspace(0, 1, 4, dtype=np.float16),
        np.array(["a", "é", "\U0001f600"]),
        np.array(["2024-01-01"], dtype="datetime64[ns]"),
        np.array([3], dtype="timedelta64[s]"),
        np.arange(6.0).reshape(2, 3).astype(">f8"),
        np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        np.array(7),
        np.zeros((0, 5)),
    ],
)
def test_allowed_arrays_read_back_exactly(array):
    back = _archive.parse_npy(bytearray(_archive.npy_bytes(array)), "a.npy")
    np.testing.assert_array_equal(back, array)
    assert back.shape == array.shape
    assert back.dtype == array.dtype.newbyteorder("=")
    assert back.flags.writeable


def test_strings_beyond_unicode_are_refused():
    header = "{'descr': '<U1', 'fortran_order': False, 'shape': (4,), }"
    data = bytearray(npy_with_header(header, b"\xff" * 16))
    with pytest.raises(ModelFileError, match="strings with invalid characters"):
        _archive.parse_npy(data, "a.npy")


def test_pickled_arrays_are_refused(fitted, tmp_path):
    members = members_of(fitted[2])
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    members["arrays/3.npy"] = buffer.getvalue()
    with pytest.raises(ModelFileError, match=re.escape("'|O', not allowed")):
        tabkit.load(write_members(tmp_path / "m.tabkit", members))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(format="pickle"), "not a tabkit model file"),
        (lambda m: m.update(format_version="2"), "format version '2'"),
        (lambda m: m.update(format_version=True), "format version True"),
        (lambda m: m.pop("sizes"), "no 'sizes'"),
        (lambda m: m.update(extra=1), "unknown key 'extra'"),
        (lambda m: m.update(versions={"torch": 2}), "non-string"),
        (lambda m: m["sizes"].update({"state.json": -1}), "size -1"),
        (lambda m: m["sizes"].update({"state.json": 1}), "gives state.json"),
        (lambda m: m["checksums"].update({"state.json": "0" * 63}), "malformed"),
        (lambda m: m["checksums"].pop("arrays/0.npy"), "different members"),
        (lambda m: m.update(sizes=[]), "'sizes' is not a dict"),
    ],
)
def test_bad_manifests_are_refused(fitted, tmp_path, edit, message):
    members = members_of(fitted[2])
    manifest = json.loads(members["manifest.json"])
    edit(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()
    with pytest.raises(ModelFileError, match=message):
        tabkit.load(write_members(tmp_path / "m.tabkit", members, resign=False))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../evil.npy", "unexpected members"),
        ("/abs/state.json", "unexpected members"),
        ("arrays/007.npy", "unexpected members"),
        ("arrays/", "unexpected members"),
        ("arrays/99.npy", "not numbered"),
        ("state.json", "several members named"),
    ],
)
def test_odd_member_names_are_refused(fitted, tmp_path, name, message):
    members = list(members_of(fitted[2]).items())
    path = tmp_path / "m.tabkit"
    manifest = json.loads(members[0][1])
    manifest["checksums"][name] = hashlib.sha256(b"").hexdigest()
    manifest["sizes"][name] = 0
    members[0] = ("manifest.json", json.dumps(manifest).encode())
    with (
        pytest.warns(UserWarning, match="Duplicate")
        if name == "state.json"
        else _nothing(),
        zipfile.ZipFile(path, "w") as archive,
    ):
        for member, data in [*members, (name, b"")]:
            archive.writestr(member, data)
    with pytest.raises(ModelFileError, match=message):
        tabkit.load(path)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_other_compression_methods_are_refused(fitted, tmp_path):
    members = members_of(fitted[2])
    path = tmp_path / "m.tabkit"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_BZIP2)
    with pytest.raises(ModelFileError, match="compression method 12"):
        tabkit.load(path)


def test_limits_are_applied_on_save_and_load(fitted, tmp_path, monkeypatch):
    model, _, path = fitted
    monkeypatch.setattr(tabkit.serialization, "MAX_TOTAL_BYTES", 1000)
    with pytest.raises(ModelFileError, match=r"more than tabkit\.serialization\.MAX_"):
        tabkit.load(path)
    with pytest.raises(ValueError, match="MAX_TOTAL_BYTES"):
        model.save(tmp_path / "big.tabkit")
    monkeypatch.setattr(tabkit.serialization, "MAX_TOTAL_BYTES", 2**30)
    monkeypatch.setattr(tabkit.serialization, "MAX_MEMBERS", 3)
    with pytest.raises(ModelFileError, match="MAX_MEMBERS"):
        tabkit.load(path)
    monkeypatch.setattr(tabkit.serialization, "MAX_MEMBERS", 10_000)
    monkeypatch.setattr(tabkit.serialization, "MAX_OBJECTS", 2)
    with pytest.raises(ModelFileError, match="more estimators and modules than"):
        tabkit.load(path)  # the model, its encoder and its module
    monkeypatch.setattr(tabkit.serialization, "MAX_OBJECTS", 3)
    assert type(tabkit.load(path)) is BoostedNNRegressor
    monkeypatch.setattr(tabkit.serialization, "MAX_JSON_DEPTH", 3)
    with pytest.raises(ModelFileError, match=r"nested \d+ levels deep \(at most 3\)"):
        tabkit.load(path)
    with pytest.raises(ValueError, match=r"nest \d+ levels"):
        model.save(tmp_path / "deep.tabkit")


def test_not_a_model_file(tmp_path):
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(ModelFileError, match="no manifest"):
        tabkit.load(other)
    with pytest.raises(FileNotFoundError):
        tabkit.load(tmp_path / "missing.tabkit")
