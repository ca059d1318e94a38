"""Model files: round trips, and rejection of corrupted or foreign files."""

from __future__ import annotations

import hashlib
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

import tabkit
from tabkit import BoostedNNClassifier, BoostedNNRegressor, TabularEncoder
from tabkit.exceptions import IncompatibleModelFileError, ModelFileError


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


def _rewrite(src, dst, edit):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            zout.writestr(name, edit(name, zin.read(name)))
    return dst


def test_roundtrip_keeps_predictions_params_and_vocabularies(fitted):
    model, frame, path = fitted
    loaded = tabkit.load(path)
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    assert loaded.get_params() == model.get_params()
    assert loaded._encoder.categories_ == model._encoder.categories_
    assert loaded.n_steps_ == model.n_steps_


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
    back = tabkit.load(tabkit.save(enc, tmp_path / "enc"))
    np.testing.assert_array_equal(back.transform([[3.0]]), enc.transform([[3.0]]))


def test_truncated_file_is_rejected(fitted, tmp_path):
    _, _, path = fitted
    data = path.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 5):
        bad = tmp_path / f"cut{cut}.tabkit"
        bad.write_bytes(data[:cut])
        with pytest.raises(ModelFileError, match="truncated or corrupted"):
            tabkit.load(bad)


def test_altered_array_is_rejected_by_checksum(fitted, tmp_path):
    _, _, path = fitted

    def flip(name, data):
        if name == "arrays/0.npy":
            return data[:-1] + bytes([data[-1] ^ 0xFF])
        return data

    bad = _rewrite(path, tmp_path / "flipped.tabkit", flip)
    with pytest.raises(ModelFileError, match=r"checksum mismatch in arrays/0\.npy"):
        tabkit.load(bad)


def test_newer_format_gives_a_clear_error(fitted, tmp_path):
    _, _, path = fitted

    def bump(name, data):
        if name == "manifest.json":
            manifest = json.loads(data)
            manifest["format_version"] = 99
            manifest["tabkit_version"] = "9.0.0"
            return json.dumps(manifest).encode()
        return data

    bad = _rewrite(path, tmp_path / "future.tabkit", bump)
    with pytest.raises(IncompatibleModelFileError, match=r"format 99.*tabkit 9\.0\.0"):
        tabkit.load(bad)


def test_non_tabkit_class_is_never_loaded(fitted, tmp_path):
    _, _, path = fitted

    def forge(name, data):
        if name == "state.json":
            state = json.loads(data)
            state["__estimator__"] = "os:system"
            data = json.dumps(state).encode()
        return data

    forged = _rewrite(path, tmp_path / "forged.tabkit", forge)
    # re-sign the checksums, as an attacker could
    with zipfile.ZipFile(forged) as z:
        members = {n: z.read(n) for n in z.namelist()}
    manifest = json.loads(members["manifest.json"])
    manifest["checksums"]["state.json"] = hashlib.sha256(
        members["state.json"]
    ).hexdigest()
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(forged, "w") as z:
        for n, d in members.items():
            z.writestr(n, d)
    with pytest.raises(ModelFileError, match="non-tabkit class 'os:system'"):
        tabkit.load(forged)


def test_not_a_model_file(tmp_path):
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(ModelFileError, match="no manifest"):
        tabkit.load(other)
    with pytest.raises(FileNotFoundError):
        tabkit.load(tmp_path / "missing.tabkit")


def test_only_tabkit_objects_can_be_exported(tmp_path):
    with pytest.raises(TypeError, match="only tabkit estimators"):
        tabkit.save(LinearRegression(), tmp_path / "lr.tabkit")
