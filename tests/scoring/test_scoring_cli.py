import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from scoring.synthetic import TARGET, generate_drivers


def _run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "scoring", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "drivers.csv"
    generate_drivers(600, seed=9).to_csv(path, index=False)
    return path


def test_evaluate_prints_metrics_as_json(csv):
    result = _run(
        "evaluate",
        "--data",
        str(csv),
        "--target",
        TARGET,
        "--folds",
        "3",
        "--model",
        "scorecard",
        "--seed",
        "1",
        "--ignore",
        "km_per_day",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report["models"]) == {"scorecard"}
    assert {"auc", "gini", "ks", "brier", "calibration"} <= set(report["models"]["scorecard"])
    assert "km_per_day" not in report["features"]
    assert "constant" in result.stderr  # the 'synthetic' column, dropped with a warning


def test_train_then_psi(csv, tmp_path):
    out = tmp_path / "model"
    result = _run(
        "train",
        "--data",
        str(csv),
        "--target",
        TARGET,
        "--out",
        str(out),
        "--folds",
        "2",
        "--model",
        "scorecard",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["primary"] == "scorecard"
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "model.joblib"]
    psi = _run("psi", "--model", str(out), "--data", str(csv))
    assert psi.returncode == 0, psi.stderr
    report = json.loads(psi.stdout)
    assert report["score"]["status"] == "stable"
    assert "weekly_earnings_mxn" in report["characteristics"]


def _bad(tmp_path, name, frame):
    path = tmp_path / f"{name}.csv"
    frame.to_csv(path, index=False)
    return path


def _frame(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=n), "y": rng.integers(0, 2, n)})


@pytest.mark.parametrize(
    ("name", "make", "extra", "message"),
    [
        ("no_target", lambda: _frame().drop(columns=["y"]), [], "target column 'y' not found"),
        ("one_class", lambda: _frame().assign(y=0), [], "single class"),
        ("tiny", lambda: _frame(30), [], "at least 50"),
        ("rare", lambda: _frame().assign(y=[1, 1] + [0] * 198), [], "rarer class"),
        (
            "text",
            lambda: _frame().assign(z=["1.5"] * 199 + ["n/a?"]),
            ["--numeric", "x,z"],
            "'z' is declared numeric",
        ),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_code_2_and_no_model_dir(
    tmp_path, name, make, extra, message
):
    data = _bad(tmp_path, name, make())
    for command in ("evaluate", "train"):
        args = [command, "--data", str(data), "--target", "y", "--model", "scorecard", *extra]
        if command == "train":
            args += ["--out", str(tmp_path / "out")]
        result = _run(*args)
        assert result.returncode == 2
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1
        assert message in errors[0]
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == [f"{name}.csv"]


def test_a_missing_file_is_a_clear_error(tmp_path):
    result = _run("evaluate", "--data", str(tmp_path / "nope.csv"), "--target", "y")
    assert result.returncode == 2
    assert "not found" in result.stderr


def test_train_refuses_an_existing_output_directory(csv, tmp_path):
    (tmp_path / "v1").mkdir()
    result = _run("train", "--data", str(csv), "--target", TARGET, "--out", str(tmp_path / "v1"))
    assert result.returncode == 2
    assert "already exists" in result.stderr
    assert list((tmp_path / "v1").iterdir()) == []
