"""The ``tabkit`` command line: fit, predict, db inspect, bench, demo."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import warnings
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tabkit
from tabkit._cli import _bench
from tabkit._cli._demo import plot_demo
from tabkit._cli._fit import infer_task
from tabkit.cli import main
from tabkit.relational import Database, Table

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--param", "n_estimators=5", "--no-progress"]


@pytest.fixture(scope="module")
def mixed() -> pd.DataFrame:
    """Numeric with NaN, integer, text category with missing, a text target."""
    rng = np.random.default_rng(0)
    n = 120
    num = rng.normal(size=n)
    num[::9] = np.nan
    city = rng.choice(["oslo", "lima", "kyiv"], size=n).astype(object)
    city[::7] = None
    signal = np.nan_to_num(num) + (city == "oslo")
    target = np.where(signal + rng.normal(scale=0.5, size=n) > 0.3, "yes", "no")
    frame = pd.DataFrame(
        {
            "num": num,
            "count": rng.integers(0, 5, size=n),
            "city": city,
            "target": target.astype(object),
        }
    )
    frame.loc[5, "target"] = None  # one row without a target: dropped with a warning
    return frame


@pytest.fixture
def mixed_csv(tmp_path, mixed) -> Path:
    path = tmp_path / "mixed.csv"
    mixed.to_csv(path, index=False)
    return path


def _no_traceback(err: str) -> None:
    assert "Traceback" not in err


# ============================================================ fit / predict
def test_fit_then_predict_matches_python(tmp_path, mixed_csv, capsys):
    model = tmp_path / "m.tabkit"
    status = main(["fit", str(mixed_csv), "--target", "target", "--out", str(model)])
    assert status == 0 or pytest.fail(capsys.readouterr().err)
    out, err = capsys.readouterr()
    assert "task: classification" in out
    assert "validation ROC AUC: " in out
    assert f"wrote {model}" in out
    assert "dropped 1 row of" in err and "'target'" in err
    _no_traceback(err)

    pred = tmp_path / "pred.csv"
    assert main(["predict", str(model), str(mixed_csv), "--out", str(pred)]) == 0
    written = pd.read_csv(pred)
    X = pd.read_csv(mixed_csv).drop(columns="target")
    loaded = tabkit.load(model)
    assert list(written.columns) == ["prediction"]
    np.testing.assert_array_equal(written["prediction"], loaded.predict(X))
    assert loaded.verbose == 0  # the file's model predicts quietly

    capsys.readouterr()
    assert main(["predict", str(model), str(mixed_csv)]) == 0  # to stdout
    out, _ = capsys.readouterr()
    assert out.splitlines()[0] == "prediction"
    assert len(out.splitlines()) == len(X) + 1


def test_predict_proba(tmp_path, mixed_csv, capsys):
    model = tmp_path / "m.tabkit"
    args = ["fit", str(mixed_csv), "--target", "target", *FAST, "--out", str(model)]
    assert main(args) == 0
    capsys.readouterr()
    assert main(["predict", str(model), str(mixed_csv), "--proba"]) == 0
    table = pd.read_csv(StringIO(capsys.readouterr().out))
    assert list(table.columns) == ["prediction", "proba_no", "proba_yes"]
    X = pd.read_csv(mixed_csv).drop(columns="target")
    proba = tabkit.load(model).predict_proba(X)
    np.testing.assert_allclose(table[["proba_no", "proba_yes"]], proba, rtol=1e-6)


def test_default_output_name_and_proba_refused_for_regression(
    tmp_path, mixed, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(1)
    frame = mixed.drop(columns="target").assign(
        price=np.nan_to_num(mixed["num"].to_numpy()) * 3 + rng.normal(size=len(mixed))
    )
    frame.to_csv(tmp_path / "houses.csv.gz", index=False)
    assert main(["fit", "houses.csv.gz", "--target", "price", *FAST]) == 0
    out, err = capsys.readouterr()
    assert "task: regression" in out
    assert "validation RMSE: " in out
    assert (tmp_path / "houses.tabkit").is_file()
    assert main(["predict", "houses.tabkit", "houses.csv.gz", "--proba"]) == 2
    _, err = capsys.readouterr()
    assert "tabkit: error: --proba needs a classifier" in err
    assert main(["predict", "houses.tabkit", "houses.csv.gz"]) == 0
    out, _ = capsys.readouterr()
    assert np.isfinite(pd.read_csv(StringIO(out))["prediction"]).all()


def test_val_fraction_zero_trains_on_every_row(tmp_path, mixed_csv, capsys):
    model = tmp_path / "all.tabkit"
    args = ["fit", str(mixed_csv), "--target", "target", "--val-fraction", "0"]
    assert main([*args, *FAST, "--out", str(model)]) == 0
    out, _ = capsys.readouterr()
    assert "no validation rows (--val-fraction 0)" in out
    assert "validation ROC AUC" not in out
    assert tabkit.load(model).early_stopping is False


def test_parquet_input(tmp_path, mixed, capsys):
    pytest.importorskip("pyarrow")
    data = tmp_path / "mixed.parquet"
    mixed.to_parquet(data)
    model = tmp_path / "ef.tabkit"
    args = ["fit", str(data), "--target", "target", "--model", "excelformer"]
    args += ["--param", "max_epochs=2", "--no-progress", "--out", str(model)]
    assert main(args) == 0
    out, _ = capsys.readouterr()
    assert "ExcelFormerClassifier(max_epochs=2)" in out
    assert type(tabkit.load(model)).__name__ == "ExcelFormerClassifier"


def test_lightgbm_baseline_scores_but_writes_no_file(tmp_path, mixed_csv, capsys):
    args = ["fit", str(mixed_csv), "--target", "target", "--model", "lightgbm"]
    assert main([*args, "--no-progress"]) == 0
    out, _ = capsys.readouterr()
    assert "validation ROC AUC: " in out
    assert "no model file written" in out
    assert not list(tmp_path.glob("*.tabkit"))
    assert main([*args, "--out", str(tmp_path / "x.tabkit")]) == 2
    _, err = capsys.readouterr()
    assert "--out is not available for --model lightgbm" in err


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["missing.csv", "--target", "y"], 1, "no such file: missing.csv"),
        (["data.xlsx", "--target", "y"], 1, "unsupported file type .xlsx"),
        (["{csv}", "--target", "nope"], 1, "target column 'nope' is not in"),
        (["{csv}", "--target", "target", "--param", "n_estimator=3"], 1, "valid "),
        (["{csv}", "--target", "target", "--param", "n_estimators"], 2, "KEY=VALUE"),
        (["{csv}", "--target", "target", "--param", "n_estimators=0"], 1, "range"),
        (["{csv}", "--target", "target", "--val-fraction", "1.5"], 2, "[0, 1)"),
        (["{csv}", "--target", "target", "--task", "regression"], 1, "not numeric"),
        (["{csv}", "--target", "target", "--out", "no/dir/m.tabkit"], 1, "no/dir"),
    ],
)
def test_fit_errors(mixed_csv, capsys, args, status, message):
    args = [a.replace("{csv}", str(mixed_csv)) for a in args]
    assert main(["fit", *args, "--no-progress"]) == status
    err = capsys.readouterr().err
    assert message in err
    _no_traceback(err)
    if status == 1:
        assert "tabkit: error: " in err
    if "nope" in args:
        assert "num, count, city, target" in err  # the columns there are
    if "n_estimator=3" in args:
        assert "n_estimators" in err and "unknown parameter 'n_estimator'" in err


def test_predict_errors(tmp_path, mixed_csv, capsys):
    junk = tmp_path / "junk.tabkit"
    junk.write_bytes(b"not a model")
    assert main(["predict", str(junk), str(mixed_csv)]) == 1
    assert "cannot load" in capsys.readouterr().err
    model = tmp_path / "m.tabkit"
    args = ["fit", str(mixed_csv), "--target", "target", *FAST, "--out", str(model)]
    assert main(args) == 0
    capsys.readouterr()
    fewer = tmp_path / "fewer.csv"
    pd.read_csv(mixed_csv).drop(columns="city").to_csv(fewer, index=False)
    assert main(["predict", str(model), str(fewer)]) == 1
    err = capsys.readouterr().err
    assert "lacks the column(s) ['city']" in err
    _no_traceback(err)


def test_infer_task_rule():
    assert infer_task(pd.Series([1, 2, 3] * 5, name="y"))[0] == "classification"
    assert infer_task(pd.Series(range(50), name="y"))[0] == "regression"
    assert infer_task(pd.Series([True, False], name="y"))[0] == "classification"
    assert infer_task(pd.Series([0.5, 1.0], name="y"))[0] == "regression"


# ============================================================ db inspect
def test_db_inspect_written_database(tmp_path, capsys):
    customers = pd.DataFrame({"customer_id": [1, 2, 3], "region": ["n", "s", "n"]})
    orders = pd.DataFrame(
        {
            "order_id": [10, 11, 12, 13],
            "customer_id": [1, 2, 9, None],  # 9: an orphan
            "ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", None]),
            "amount": [1.0, 2.0, 3.0, 4.0],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the orphan's warning
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
    path = tmp_path / "shop.db"
    db.to_sql(path)
    assert main(["db", "inspect", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "(2 tables)" in out
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line}
    assert lines["customers"][1:] == ["3", "2", "customer_id", "static"]
    assert lines["orders"][1:] == ["4", "4", "order_id", "ts"]
    expected = ["orders.customer_id", "customers", "3", "1", "(33.3%)"]
    assert lines["orders.customer_id"] == expected
    assert "OrphanKeysWarning" not in err  # shown in the table instead

    assert main(["db", "inspect", f"sqlite:///{path}", "--table", "customers"]) == 0
    out, _ = capsys.readouterr()
    assert "(1 table)" in out and "no foreign keys" in out


def test_db_inspect_plain_sqlite_file(tmp_path, capsys):
    path = tmp_path / "raw.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE loans (id INTEGER PRIMARY KEY, start DATE, end DATE)")
        con.execute("CREATE TABLE pays (id INTEGER PRIMARY KEY, ts TIMESTAMP)")
        con.execute("INSERT INTO loans VALUES (1, '2024-01-01', '2024-02-01')")
        con.execute("INSERT INTO pays VALUES (1, '2024-01-05')")
    con.close()
    assert main(["db", "inspect", str(path)]) == 0
    out, _ = capsys.readouterr()
    assert "UNDECLARED (date/time columns: start, end)" in out
    assert "ts (inferred)" in out
    assert "--time loans=start" in out and "--static loans" in out
    args = ["db", "inspect", str(path), "--time", "loans=start", "--static", "pays"]
    assert main(args) == 0
    out, _ = capsys.readouterr()
    assert "UNDECLARED" not in out and "inferred" not in out and "note" not in out


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("no/such/shop.db", "no SQLite database at no/such/shop.db"),
        ("://", "cannot parse the database URL"),
        ("nosuchdialect://host/db", "install the SQLAlchemy driver"),
        ("{dir}", "is a directory"),
        ("{text}", "file is not a database"),
    ],
)
def test_db_inspect_errors(tmp_path, capsys, url, message):
    text = tmp_path / "notes.db"
    text.write_text("not,a,database\n" * 100)
    url = url.replace("{dir}", str(tmp_path)).replace("{text}", str(text))
    assert main(["db", "inspect", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tabkit: error: ") and message in err
    _no_traceback(err)


# ============================================================ bench
def test_bench_list(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert main(["bench", "--list"]) == 0
    out, _ = capsys.readouterr()
    rows = {line.split()[0]: line for line in out.splitlines()}
    assert "benchmarks.tabular" in rows["quick"]
    assert "benchmarks.tuned" in rows["tuned"]


def test_bench_forwards_to_the_profile_runner(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    tabular = _bench.import_harness("benchmarks.tabular")
    calls = []
    monkeypatch.setattr(tabular, "main", lambda argv: calls.append(argv) or 0)
    args = ["bench", "quick", "--models", "lightgbm,mlp", "boosted_nn"]
    assert main([*args, "--seeds", "0", "--no-isolate"]) == 0
    forwarded = ["--profile", "quick", "--models", "lightgbm,mlp,boosted_nn"]
    assert calls == [[*forwarded, "--seeds", "0", "--no-isolate"]]
    assert main(["bench", "nope"]) == 2
    assert "unknown profile 'nope'" in capsys.readouterr().err


def test_bench_without_a_checkout(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name in [m for m in sys.modules if m.split(".")[0] == "benchmarks"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "benchmarks", None)  # not importable
    assert main(["bench", "quick"]) == 1
    err = capsys.readouterr().err
    assert "comes with tabkit's source checkout" in err
    assert "git clone" in err
    _no_traceback(err)


# ============================================================ demo
def test_demo_relational_part_tiny(tmp_path, capsys):
    args = ["demo", "--skip-tabular", "--customers", "60", "--epochs", "1"]
    assert main([*args, "--workdir", str(tmp_path), "--no-progress"]) == 0
    out, _ = capsys.readouterr()
    assert "customers 60" in out
    assert "RelationalGNNClassifier" in out
    assert "RelationalFeatures + LGBMClassifier" in out
    assert "oracle" in out
    assert (tmp_path / "tabkit_demo.db").is_file()
    assert Database.from_sql(tmp_path / "tabkit_demo.db")["customers"].df.shape[0] == 60
    pytest.importorskip("matplotlib")
    assert (tmp_path / "tabkit_demo.png").stat().st_size > 0


def test_demo_plot_without_matplotlib(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    table = pd.DataFrame(
        {
            "dataset": ["d"],
            "model": ["m"],
            "metric": ["RMSE"],
            "test score": [1.0],
            "fit seconds": [0.1],
        }
    )
    with pytest.warns(UserWarning, match=r"matplotlib is not installed.*\[plot\]"):
        assert plot_demo([table], tmp_path / "p.png") is None
    assert not (tmp_path / "p.png").exists()


# ============================================================ the parser
@pytest.mark.parametrize(
    "command", [[], ["fit"], ["predict"], ["db"], ["db", "inspect"], ["bench"]]
)
def test_help(command, capsys):
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: tabkit")
    assert "example" in out


def test_usage_errors(capsys):
    assert main(["fit", "data.csv"]) == 2  # no --target
    assert "the following arguments are required: --target" in capsys.readouterr().err
    assert main(["demo", "--bogus"]) == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err
    assert main([]) == 0
    assert "COMMAND" in capsys.readouterr().out


def test_module_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "tabkit.cli", "fit", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "tabkit fit" in result.stdout and "--val-fraction" in result.stdout
