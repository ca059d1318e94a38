"""The relational GNN estimators: fit, leakage, persistence, scikit-learn checks."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.metrics import roc_auc_score
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_is_fitted, validate_data

import tabkit
from tabkit import RelationalGNNClassifier, RelationalGNNRegressor
from tabkit.datasets import make_relational
from tabkit.relational import Database, RelationalWarning, SchemaError, Table

FAST = {"channels": 16, "max_epochs": 3, "batch_size": 64, "random_state": 0}


@pytest.fixture(scope="module")
def churn():
    return make_relational(size="tiny", seed=0)


@pytest.fixture(scope="module")
def fitted(churn):
    X, y = churn.train
    return RelationalGNNClassifier(
        database=churn.database, entity_table="customers", **FAST
    ).fit(X, y)


def test_learns_the_synthetic_task():
    task = make_relational(size=800, seed=1)
    (X, y), (X_val, y_val), (X_test, y_test) = task.train, task.val, task.test
    clf = RelationalGNNClassifier(
        database=task.database,
        entity_table="customers",
        channels=32,
        max_epochs=8,
        random_state=0,
    ).fit(X, y, X_val=X_val, y_val=y_val)
    auc = roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1])
    assert auc > 0.65, auc
    assert clf.best_epoch_ is not None
    assert len(clf.history_) == clf.n_iter_


def test_no_future_row_changes_a_prediction(churn, fitted):
    X_test, _ = churn.test
    last = X_test["cutoff"].max()
    before = fitted.predict_proba(X_test)
    past = Database({name: churn.database[name] for name in churn.database}).upto(last)
    later = copy.copy(fitted).set_params(database=past)
    np.testing.assert_allclose(later.predict_proba(X_test), before, atol=1e-6)


def test_subset_and_order_do_not_change_predictions(churn, fitted):
    X_test, _ = churn.test
    full = fitted.predict_proba(X_test)
    rows = np.arange(len(X_test))[::-1][:7]
    part = fitted.predict_proba(X_test.iloc[rows])
    np.testing.assert_allclose(part, full[rows], atol=1e-6)


def test_validation_seeds_are_the_latest_cutoffs(churn):
    X, y = churn.train
    clf = RelationalGNNClassifier(
        database=churn.database, entity_table="customers", validation_fraction=0.2
    )
    rows = clf._validate_inputs(X, reset=True)
    train, val = clf._split_rows(rows, np.asarray(y), 0)
    assert rows.cutoff[train].max() < rows.cutoff[val].min()
    assert 0.1 < len(val) / len(X) < 0.5


def test_early_stopping_needs_two_cutoffs(churn):
    X, y = churn.train
    one = X["cutoff"] == X["cutoff"].min()
    clf = RelationalGNNClassifier(
        database=churn.database, entity_table="customers", early_stopping=True, **FAST
    )
    with pytest.raises(ValueError, match="same cut-off"):
        clf.fit(X[one], y[one])
    auto = clone(clf).set_params(early_stopping="auto").fit(X[one], y[one])
    assert auto.best_epoch_ is None


def test_bad_seed_tables_are_named(churn):
    X, y = churn.train
    clf = RelationalGNNClassifier(
        database=churn.database, entity_table="customers", **FAST
    )
    with pytest.raises(ValueError, match="exactly the columns"):
        clf.fit(X.rename(columns={"cutoff": "when"}), y)
    with pytest.raises(ValueError, match="none of the seed keys"):
        clf.fit(X.assign(customer_id=X["customer_id"] + 10**6), y)
    with pytest.raises(ValueError, match="entity_table 'nope'"):
        clf.set_params(entity_table="nope").fit(X, y)
    with pytest.raises(ValueError, match="needs database="):
        RelationalGNNClassifier(entity_table="customers").fit(X, y)


def test_unknown_keys_warn_and_are_predicted(churn):
    X, y = churn.train
    odd = X.copy()
    odd.loc[odd.index[:3], "customer_id"] = 10**6
    clf = RelationalGNNClassifier(
        database=churn.database, entity_table="customers", **FAST
    )
    with pytest.warns(RelationalWarning, match="3 of"):
        clf.fit(odd, y)
    proba = clf.predict_proba(odd.iloc[:5])
    assert np.isfinite(proba).all()


def test_pickle_and_model_file_round_trip(churn, fitted, tmp_path):
    X_test, _ = churn.test
    expected = fitted.predict_proba(X_test)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_allclose(again.predict_proba(X_test), expected, atol=1e-6)
    path = fitted.save(tmp_path / "gnn.tabkit")
    loaded = tabkit.load(path)
    assert loaded.database is None
    with pytest.raises(ValueError, match="set_params"):
        loaded.predict(X_test)
    loaded.set_params(database=churn.database)
    np.testing.assert_allclose(loaded.predict_proba(X_test), expected, atol=1e-6)


def test_schema_change_is_named(churn, fitted):
    X_test, _ = churn.test
    tables = {name: churn.database[name] for name in churn.database}
    products = tables["products"]
    tables["products"] = Table(
        products.df.drop(columns=["rating"]),
        primary_key=products.primary_key,
        foreign_keys=products.foreign_keys,
        time_column=products.time_column,
    )
    other = copy.copy(fitted).set_params(database=Database(tables))
    with pytest.raises(SchemaError, match="'rating'"):
        other.predict(X_test)


def test_regressor_clamps_and_uses_l1():
    task = make_relational(size="tiny", seed=0, task="orders")
    X, y = task.train
    reg = RelationalGNNRegressor(
        database=task.database, entity_table="customers", **FAST
    ).fit(X, y)
    low, high = np.percentile(y, [2, 98])
    pred = reg.predict(task.test[0])
    assert low <= pred.min() and pred.max() <= high
    losses = reg._sample_losses(torch.tensor([[1.0], [-2.0]]), torch.zeros(2))
    assert losses.tolist() == [1.0, 2.0]


def test_num_neighbors_and_layers(churn):
    X, y = churn.train
    clf = RelationalGNNClassifier(
        database=churn.database,
        entity_table="customers",
        n_layers=3,
        num_neighbors=[4, -1, 2],
        **FAST,
    ).fit(X, y)
    assert clf.module_.n_layers == 3
    assert clf._hops() == [4, -1, 2]
    assert clone(clf).set_params(num_neighbors=32)._hops() == [32, 16, 8]
    with pytest.raises(ValueError, match="lists 2 hops but n_layers=3"):
        clone(clf).set_params(num_neighbors=[4, 4]).fit(X, y)


def test_uniform_sampling_predicts_reproducibly(churn):
    X, y = churn.train
    clf = RelationalGNNClassifier(
        database=churn.database,
        entity_table="customers",
        temporal_strategy="uniform",
        num_neighbors=2,
        **FAST,
    ).fit(X, y)
    X_test, _ = churn.test
    np.testing.assert_array_equal(clf.predict_proba(X_test), clf.predict_proba(X_test))
    again = clone(clf).fit(X, y)
    np.testing.assert_array_equal(
        again.predict_proba(X_test), clf.predict_proba(X_test)
    )


def test_presets():
    params = RelationalGNNClassifier.preset_params("relbench")
    assert params["num_neighbors"] == 128 and params["batch_size"] == 512
    assert RelationalGNNRegressor(**params)._hops() == [128, 64]
    assert RelationalGNNClassifier.preset_params("default") == {}
    with pytest.raises(ValueError, match="unknown preset"):
        RelationalGNNClassifier.preset_params("gpu")


# ---------------------------------------------------------------- sklearn checks
def _array_database(X: np.ndarray) -> Database:
    """Every row of X becomes an entity; its first column also a child row."""
    n, d = X.shape
    rows = pd.DataFrame({f"x{j}": X[:, j] for j in range(d)})
    rows.insert(0, "row_id", np.arange(n))
    parts = pd.DataFrame(
        {"part_id": np.arange(n), "row_id": np.arange(n), "value": X[:, 0]}
    )
    return Database(
        {
            "rows": Table(rows, primary_key="row_id"),
            "parts": Table(
                parts, primary_key="part_id", foreign_keys={"row_id": "rows"}
            ),
        }
    )


def _seeds(n: int) -> pd.DataFrame:
    return pd.DataFrame({"row_id": np.arange(n), "cutoff": pd.Timestamp("2026-01-01")})


class _OnArrays(BaseEstimator):
    """Binds a database built from X's rows, so that scikit-learn's checks can run."""

    _gnn: type

    def __init__(self, max_epochs=20, learning_rate=0.02, random_state=0):
        self.max_epochs = max_epochs
        self.learning_rate = learning_rate
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None):
        X, y = validate_data(self, X, y, reset=True, y_numeric=self._numeric)
        self.model_ = self._gnn(
            database=_array_database(X),
            entity_table="rows",
            channels=16,
            n_layers=1,
            num_neighbors=[-1],
            batch_size=32,
            max_epochs=self.max_epochs,
            learning_rate=self.learning_rate,
            early_stopping=False,
            random_state=self.random_state,
        ).fit(_seeds(len(X)), y, sample_weight=sample_weight)
        if hasattr(self.model_, "classes_"):
            self.classes_ = self.model_.classes_
        return self

    def _bound(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return copy.copy(self.model_).set_params(database=_array_database(X)), X

    def predict(self, X):
        model, X = self._bound(X)
        return model.predict(_seeds(len(X)))


class GNNClassifierOnArrays(ClassifierMixin, _OnArrays):
    _gnn = RelationalGNNClassifier
    _numeric = False

    def predict_proba(self, X):
        model, X = self._bound(X)
        return model.predict_proba(_seeds(len(X)))


class GNNRegressorOnArrays(RegressorMixin, _OnArrays):
    _gnn = RelationalGNNRegressor
    _numeric = True


_BATCH = (
    "float32 matrix products over a different number of nodes differ in the "
    "last bits (about 1e-7), beyond the check's rtol of 1e-7; the sampled "
    "subgraphs themselves do not depend on the batch: covered to 1e-6 by "
    "test_subset_and_order_do_not_change_predictions"
)
_WEIGHTS = (
    "mini-batch training is not invariant to repeating rows (the batches "
    "differ); zero weights equal dropping rows is covered by "
    "test_zero_weight_equals_dropping_seeds"
)
_EXPECTED = {
    GNNClassifierOnArrays: {
        "check_sample_weight_equivalence_on_dense_data": _WEIGHTS,
    },
    GNNRegressorOnArrays: {
        "check_sample_weight_equivalence_on_dense_data": _WEIGHTS,
        "check_methods_subset_invariance": _BATCH,
    },
}


@parametrize_with_checks(
    [GNNClassifierOnArrays(), GNNRegressorOnArrays()],
    expected_failed_checks=lambda est: _EXPECTED.get(type(est), {}),
)
def test_sklearn_checks(estimator, check):
    check(estimator)


def test_zero_weight_equals_dropping_seeds(churn):
    X, y = churn.train
    X, y = X.reset_index(drop=True), np.asarray(y)
    weight = np.ones(len(X))
    weight[::3] = 0
    params = {**FAST, "batch_size": 10**6, "early_stopping": False}
    a = RelationalGNNClassifier(
        database=churn.database, entity_table="customers", **params
    ).fit(X, y, sample_weight=weight)
    keep = weight > 0
    b = RelationalGNNClassifier(
        database=churn.database, entity_table="customers", **params
    ).fit(X[keep], y[keep])
    X_test, _ = churn.test
    np.testing.assert_allclose(
        a.predict_proba(X_test), b.predict_proba(X_test), atol=1e-4
    )


def test_a_new_database_is_used_not_the_cached_graph(churn, fitted):
    X_test, _ = churn.test
    before = fitted.predict_proba(X_test)
    tables = {name: churn.database[name] for name in churn.database}
    orders = tables["orders"]
    tables["orders"] = Table(
        orders.df.iloc[:0],
        primary_key=orders.primary_key,
        foreign_keys=orders.foreign_keys,
        time_column=orders.time_column,
    )
    emptied = copy.copy(fitted).set_params(database=Database(tables))
    assert not np.allclose(emptied.predict_proba(X_test), before)
    np.testing.assert_allclose(fitted.predict_proba(X_test), before, atol=1e-6)


def test_import_tabkit_does_not_load_torch_geometric():
    import subprocess
    import sys

    code = (
        "import sys, warnings; warnings.simplefilter('error'); import tabkit; "
        "assert 'torch_geometric' not in sys.modules; "
        "warnings.resetwarnings(); "  # torch_geometric warns of torch.jit.script
        "from tabkit.nn import RelationalGNN; print(RelationalGNN.__name__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "RelationalGNN"


def test_degree_features_widen_the_encoders_of_referenced_tables(churn, fitted):
    X, y = churn.train
    counted = RelationalGNNClassifier(
        database=churn.database, entity_table="customers", degree_features=True, **FAST
    ).fit(X, y)
    tables = counted.module_.get_config()["tables"]
    assert tables["customers"]["d_degree"] == 1  # its orders
    assert all(
        s["d_degree"] == 0 for s in fitted.module_.get_config()["tables"].values()
    )
    X_test, _ = churn.test
    assert counted.predict_proba(X_test).shape == (len(X_test), 2)
