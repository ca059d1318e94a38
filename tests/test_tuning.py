"""Search spaces and OptunaSearch: spaces valid, pruning, shared storages, records."""

from __future__ import annotations

import inspect
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import optuna
import pytest
from optuna.distributions import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from tabkit import (
    BoostedNNClassifier,
    ExcelFormerClassifier,
    ExcelFormerRegressor,
    HopularClassifier,
    RelationalGNNClassifier,
    RelationalGNNRegressor,
)
from tabkit.estimators import FAMILIES
from tabkit.tuning import OptunaSearch, search_space

optuna.logging.set_verbosity(optuna.logging.WARNING)

# Every table family's classifier and regressor, the GNN's, and scikit-learn's HGB.
TABKIT = [
    *(cls for pair in FAMILIES.values() for cls in pair),
    RelationalGNNClassifier,
    RelationalGNNRegressor,
    HistGradientBoostingClassifier,
]


def _gbdt_classes(optional_import):
    lightgbm = optional_import("lightgbm")
    xgboost = optional_import("xgboost")
    catboost = optional_import("catboost")
    return [
        lightgbm.LGBMClassifier,
        lightgbm.LGBMRegressor,
        xgboost.XGBClassifier,
        xgboost.XGBRegressor,
        catboost.CatBoostClassifier,
        catboost.CatBoostRegressor,
    ]


def _draws(space, n, seed=0):
    """``n`` configurations sampled from ``space`` by a seeded random sampler."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = []
    for _ in range(n):
        trial = study.ask(space)
        out.append(trial.params)
        study.tell(trial, 0.0)
    return out


@pytest.mark.parametrize("cls", TABKIT, ids=lambda c: c.__name__)
def test_every_drawn_configuration_is_valid(cls):
    for name in (
        ("default", "mix-tuned") if "ExcelFormer" in cls.__name__ else ("default",)
    ):
        space = search_space(cls(), name)
        assert set(space) <= set(cls().get_params())
        for params in _draws(space, 25):
            est = cls().set_params(**params)
            est._validate_params()  # the estimator's own constraints accept it


def test_gbdt_spaces_are_valid_parameters(optional_import):
    for cls in _gbdt_classes(optional_import):
        space = search_space(cls)
        # CatBoost's get_params lists only the parameters that were set,
        # XGBoost's signature only **kwargs: either must name each parameter.
        accepted = set(inspect.signature(cls.__init__).parameters)
        accepted |= set(cls().get_params())
        assert set(space) <= accepted, cls.__name__
        for params in _draws(space, 5):
            cls(**params)


def test_excelformer_spaces_are_the_papers():
    full = search_space(ExcelFormerClassifier, "fully-tuned")
    assert full["d_token"].choices == (64, 128, 256)
    assert full["n_heads"].choices == (4, 8, 16, 32)
    assert (full["n_blocks"].low, full["n_blocks"].high) == (2, 5)
    lr = full["learning_rate"]
    assert (lr.low, lr.high, lr.log) == (3e-5, 1e-3, True)
    assert search_space(ExcelFormerClassifier) == full
    mix = search_space(ExcelFormerRegressor, "mix-tuned")
    assert (mix["beta"].low, mix["beta"].high) == (0.1, 3.0)


def test_pipeline_space_carries_the_step_prefix():
    pipe = make_pipeline(StandardScaler(), BoostedNNClassifier())
    space = search_space(pipe)
    assert set(space) == {f"boostednnclassifier__{k}" for k in search_space(pipe[-1])}
    assert set(space) <= set(pipe.get_params())


def test_unknown_estimator_and_space_are_named():
    with pytest.raises(ValueError, match="no search space for LogisticRegression"):
        search_space(LogisticRegression())
    with pytest.raises(ValueError, match=r"HopularClassifier has no search space 'x'"):
        search_space(HopularClassifier, "x")


TREE_SPACE = {
    "max_depth": IntDistribution(1, 8),
    "min_samples_leaf": IntDistribution(1, 20, log=True),
    "criterion": CategoricalDistribution(("gini", "entropy")),
}


def test_search_repeats_exactly_and_records_every_trial():
    X, y = make_classification(n_samples=300, n_features=8, random_state=0)
    runs = [
        OptunaSearch(
            DecisionTreeClassifier(random_state=0),
            TREE_SPACE,
            n_trials=8,
            cv=3,
            scoring="roc_auc",
            random_state=1,
        ).fit(X, y)
        for _ in range(2)
    ]
    a, b = runs
    assert a.cv_results_["params"] == b.cv_results_["params"]
    np.testing.assert_array_equal(
        a.cv_results_["mean_test_score"], b.cv_results_["mean_test_score"]
    )
    res = a.cv_results_
    assert a.n_trials_ == 8 and len(res["mean_test_score"]) == 8
    splits = np.column_stack([res[f"split{k}_test_score"] for k in range(3)])
    np.testing.assert_allclose(splits.mean(axis=1), res["mean_test_score"])
    assert a.best_score_ == res["mean_test_score"].max()
    assert res["params"][int(np.argmin(res["rank_test_score"]))] == a.best_params_
    # The refit model has the best configuration and saw every row.
    assert a.best_estimator_.get_params()["max_depth"] == a.best_params_["max_depth"]
    assert a.predict_proba(X).shape == (300, 2)
    assert set(a.classes_) == {0, 1}
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.predict(X), a.predict(X))


def test_holdout_split_and_fixed_values():
    X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    space = {"max_depth": IntDistribution(1, 6), "random_state": 0}
    search = OptunaSearch(
        DecisionTreeRegressor(), space, n_trials=4, random_state=0
    ).fit(X, y)
    assert search.best_params_["random_state"] == 0
    assert "split1_test_score" not in search.cv_results_
    assert search.score(X, y) == pytest.approx(search.best_estimator_.score(X, y))


@pytest.mark.filterwarnings("ignore:the n_estimators limit")
def test_pruning_stops_bad_tabkit_fits_early():
    X, y = make_classification(n_samples=400, n_features=8, random_state=0)
    space = {
        "learning_rate": FloatDistribution(1e-5, 0.5, log=True),
        "n_estimators": 30,
        "n_iter_no_change": 30,
        "early_stopping": True,
        "random_state": 0,
    }
    search = OptunaSearch(
        BoostedNNClassifier(units_per_step=2),
        space,
        n_trials=12,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2),
        scoring="neg_log_loss",
        random_state=0,
    ).fit(X, y)
    trials = search.study_.trials
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert pruned and complete
    assert max(len(t.intermediate_values) for t in pruned) < 30
    assert all(len(t.intermediate_values) == 30 for t in complete)
    # Pruned trials had the smaller learning rates (their loss fell slowly).
    assert np.median([t.params["learning_rate"] for t in pruned]) < np.median(
        [t.params["learning_rate"] for t in complete]
    )
    assert list(search.cv_results_["state"]).count("PRUNED") == len(pruned)


def test_pruning_off_and_non_tabkit_estimators_run_every_fit_to_the_end():
    X, y = make_classification(n_samples=200, random_state=0)
    search = OptunaSearch(
        DecisionTreeClassifier(random_state=0), TREE_SPACE, n_trials=6, random_state=0
    ).fit(X, y)
    assert all(t.state.name == "COMPLETE" for t in search.study_.trials)


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
def test_gbdts_with_their_own_callbacks_parameter_are_not_given_the_pruner(library):
    # LightGBM's and XGBoost's fit take callbacks= of their own protocols: the
    # search must not pass them tabkit's training-loop callback (it did once,
    # and every trial failed with "object is not callable").
    module = pytest.importorskip(library)
    X, y = make_classification(n_samples=150, random_state=0)
    if library == "lightgbm":
        model = module.LGBMClassifier(n_estimators=5, verbose=-1, n_jobs=1)
    else:
        model = module.XGBClassifier(n_estimators=5, n_jobs=1)
    search = OptunaSearch(model, n_trials=3, random_state=0).fit(X, y)
    assert list(search.cv_results_["state"]) == ["COMPLETE"] * 3


def test_failed_trials_are_recorded_and_all_failing_is_an_error():
    X, y = make_classification(n_samples=120, random_state=0)
    space = {"max_depth": CategoricalDistribution((2, -1))}
    search = OptunaSearch(
        DecisionTreeClassifier(), space, n_trials=6, random_state=0
    ).fit(X, y)
    states = set(search.cv_results_["state"])
    assert states == {"COMPLETE", "FAIL"}
    errors = search.cv_results_["error"][search.cv_results_["state"] == "FAIL"]
    assert all("max_depth" in e for e in errors)
    # Every trial failing raises the first failure itself.
    with pytest.raises(ValueError, match="'max_depth' parameter"):
        OptunaSearch(
            DecisionTreeClassifier(),
            {"max_depth": CategoricalDistribution((-1,))},
            n_trials=3,
        ).fit(X, y)
    # error_score="raise" stops at the first failure.
    with pytest.raises(ValueError, match="'max_depth' parameter"):
        OptunaSearch(
            DecisionTreeClassifier(), space, n_trials=6, error_score="raise"
        ).fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_space_names_and_lists_are_checked_before_any_trial():
    X, y = make_classification(n_samples=60, random_state=0)
    tree = DecisionTreeClassifier()
    for space, error, match in [
        ({"max_dept": IntDistribution(1, 3)}, ValueError, "did you mean 'max_depth'"),
        ({"max_depth": [2, 3]}, TypeError, r"CategoricalDistribution\(\[2, 3\]\)"),
    ]:
        search = OptunaSearch(tree, space, n_trials=2)
        with pytest.raises(error, match=match):
            search.fit(X, y)
        assert not hasattr(search, "study_")  # refused before any trial ran
    # Pipeline names, and a parameter of a value the space itself sets.
    pipe = make_pipeline(StandardScaler(), tree)
    with pytest.raises(ValueError, match="'decisiontreeclassifier__max_dept'"):
        OptunaSearch(
            pipe, {"decisiontreeclassifier__max_dept": IntDistribution(1, 3)}
        ).fit(X, y)
    space = {  # a step the space replaces, and that step's own parameter
        "decisiontreeclassifier": LogisticRegression(),
        "decisiontreeclassifier__C": FloatDistribution(0.1, 1.0),
    }
    search = OptunaSearch(pipe, space, n_trials=2, random_state=0).fit(X, y)
    assert isinstance(search.best_estimator_[-1], LogisticRegression)
    assert (
        search.best_params_["decisiontreeclassifier__C"] == search.best_estimator_[-1].C
    )
    # Names the estimator's set_params takes beyond get_params() pass:
    # LightGBM's native keyword parameters, CatBoost's (its get_params() is {}).
    lightgbm = pytest.importorskip("lightgbm")
    search = OptunaSearch(
        lightgbm.LGBMClassifier(n_estimators=5, verbose=-1, n_jobs=1),
        {"min_data_in_leaf": IntDistribution(2, 5)},
        n_trials=2,
        random_state=0,
    ).fit(X, y)
    assert search.best_estimator_.get_params()["min_data_in_leaf"] in range(2, 6)
    catboost = pytest.importorskip("catboost")
    search = OptunaSearch(
        catboost.CatBoostClassifier(
            iterations=5, verbose=0, thread_count=1, allow_writing_files=False
        ),
        {"depth": IntDistribution(2, 3)},
        n_trials=1,
        random_state=0,
    ).fit(X, y)
    assert search.best_params_["depth"] in (2, 3)
    # A tuple is one fixed value.
    search = OptunaSearch(
        MLPClassifier(max_iter=5, random_state=0),
        {"hidden_layer_sizes": (4, 3), "alpha": FloatDistribution(1e-4, 1e-2)},
        n_trials=2,
        random_state=0,
    ).fit(X, y)
    assert search.best_estimator_.hidden_layer_sizes == (4, 3)


def test_refit_false_has_no_predict():
    X, y = make_classification(n_samples=100, random_state=0)
    search = OptunaSearch(
        DecisionTreeClassifier(), TREE_SPACE, n_trials=2, refit=False
    ).fit(X, y)
    assert search.best_params_
    with pytest.raises(AttributeError, match="refit=False"):
        search.predict(X)


# Fits slow enough (~0.2 s) that a second worker process starts before the
# first one has run the whole budget.
SLOW = HistGradientBoostingClassifier(max_iter=60, early_stopping=False, random_state=0)
SLOW_SPACE = {
    "learning_rate": FloatDistribution(0.01, 0.5, log=True),
    "max_leaf_nodes": IntDistribution(4, 64, log=True),
}


def _slow_data():
    return make_classification(n_samples=2000, n_features=20, random_state=0)


def test_two_local_workers_share_one_journal(tmp_path):
    X, y = _slow_data()
    journal = str(tmp_path / "study.log")
    search = OptunaSearch(
        SLOW,
        SLOW_SPACE,
        n_trials=12,
        n_jobs=2,
        storage=journal,
        study_name="shared",
        random_state=0,
    ).fit(X, y)
    trials = search.study_.trials
    assert 12 <= len(trials) <= 13  # a race may start one extra trial
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    pids = {t.user_attrs["pid"] for t in trials}
    assert len(pids) == 2 and os.getpid() not in pids
    params = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(params)) == len(params)  # no configuration ran twice
    # The study is saved: a second run finds the budget spent and adds nothing.
    again = OptunaSearch(
        SLOW,
        SLOW_SPACE,
        n_trials=12,
        storage=journal,
        study_name="shared",
        random_state=5,
        refit=False,
    ).fit(X, y)
    assert again.n_trials_ == len(trials)
    assert again.best_params_ == search.best_params_


def test_temporary_journal_for_local_workers_is_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    X, y = make_classification(n_samples=150, random_state=0)
    search = OptunaSearch(
        DecisionTreeClassifier(random_state=0), TREE_SPACE, n_trials=4, n_jobs=2
    ).fit(X, y)
    assert search.n_trials_ >= 4
    assert list(tmp_path.iterdir()) == []


WORKER = textwrap.dedent(
    """
    import sys
    import optuna
    from optuna.distributions import FloatDistribution, IntDistribution
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier
    from tabkit.tuning import OptunaSearch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X, y = make_classification(n_samples=2000, n_features=20, random_state=0)
    OptunaSearch(
        HistGradientBoostingClassifier(max_iter=60, early_stopping=False),
        {
            "learning_rate": FloatDistribution(0.01, 0.5, log=True),
            "max_leaf_nodes": IntDistribution(4, 64, log=True),
        },
        n_trials=12, storage=sys.argv[1], study_name="machines",
        random_state=int(sys.argv[2]), refit=False,
    ).fit(X, y)
    """
)


def test_separate_worker_processes_share_trials_without_duplicates(tmp_path):
    """Two independent processes (as on two machines) join one journal study."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    journal = str(tmp_path / "machines.log")
    procs = [
        subprocess.Popen([sys.executable, str(script), journal, str(seed)])
        for seed in (0, 1)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    study = optuna.load_study(
        study_name="machines",
        storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(journal)
        ),
    )
    trials = study.trials
    assert 12 <= len(trials) <= 13
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    assert len({t.user_attrs["pid"] for t in trials}) == 2
    # Differently seeded workers do not draw the same configurations.
    configs = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(configs)) == len(configs)


def test_n_jobs_needs_a_shareable_storage():
    X, y = make_classification(n_samples=60, random_state=0)
    with pytest.raises(ValueError, match="storage must be None, a journal file"):
        OptunaSearch(
            DecisionTreeClassifier(),
            TREE_SPACE,
            n_trials=2,
            n_jobs=2,
            storage=optuna.storages.InMemoryStorage(),
        ).fit(X, y)


@pytest.mark.filterwarnings("ignore:the n_estimators limit")
def test_pipeline_with_tabkit_step_is_pruned_through_the_step_prefix():
    X, y = make_classification(n_samples=300, random_state=0)
    pipe = make_pipeline(StandardScaler(), BoostedNNClassifier(n_estimators=8))
    search = OptunaSearch(
        pipe,
        {
            "boostednnclassifier__learning_rate": FloatDistribution(
                0.01, 0.5, log=True
            ),
            "boostednnclassifier__early_stopping": True,
        },
        n_trials=3,
        random_state=0,
    ).fit(X, y)
    assert all(t.intermediate_values for t in search.study_.trials)


def test_per_row_fit_params_follow_the_split():
    X, y = make_classification(n_samples=200, random_state=0)
    weights = np.where(y == 1, 3.0, 1.0)
    search = OptunaSearch(
        DecisionTreeClassifier(random_state=0),
        TREE_SPACE,
        n_trials=3,
        cv=2,
        random_state=0,
    ).fit(X, y, sample_weight=weights)
    best = search.best_estimator_
    reference = DecisionTreeClassifier(random_state=0, **search.best_params_).fit(
        X, y, sample_weight=weights
    )
    np.testing.assert_array_equal(best.predict_proba(X), reference.predict_proba(X))


def test_extra_keyword_close_to_a_parameter_is_warned_about():
    # LightGBM takes any name as a booster parameter: a misspelt one would be
    # silently ignored (verbose=-1 hides LightGBM's own message).
    lightgbm = pytest.importorskip("lightgbm")
    X, y = make_classification(n_samples=60, random_state=0)
    model = lightgbm.LGBMClassifier(n_estimators=5, verbose=-1, n_jobs=1)
    with pytest.warns(UserWarning, match="did you mean 'learning_rate'") as record:
        OptunaSearch(model, {"learning_rat": 0.1}, n_trials=1).fit(X, y)
    assert record[0].filename == __file__  # points at the caller's line
    pipe = make_pipeline(StandardScaler(), model)
    with pytest.warns(UserWarning, match="'lgbmclassifier__learning_rate'"):
        OptunaSearch(pipe, {"lgbmclassifier__learning_rat": 0.1}, n_trials=1).fit(X, y)
    # A step the space replaces is the one compared: LightGBM in place of a tree.
    tree_pipe = make_pipeline(StandardScaler(), DecisionTreeClassifier())
    replaced = {"decisiontreeclassifier": model}
    with pytest.warns(UserWarning, match="'decisiontreeclassifier__learning_rate'"):
        OptunaSearch(
            tree_pipe, {**replaced, "decisiontreeclassifier__learning_rat": 0.1}
        ).fit(X, y)
    # LightGBM's own names, and the estimator's, pass without a warning.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        for space in (
            {"max_bin": 63},
            {"lgbmclassifier__max_bin": 63},
            {"lgbmclassifier__learning_rate": 0.1},
        ):
            target = pipe if "__" in next(iter(space)) else model
            OptunaSearch(target, space, n_trials=1).fit(X, y)
        OptunaSearch(
            tree_pipe, {**replaced, "decisiontreeclassifier__max_bin": 63}, n_trials=1
        ).fit(X, y)
