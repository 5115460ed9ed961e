import numpy as np
import pandas as pd
import pytest

from scoring import ModelConfig, evaluate
from scoring.evaluation import calibration_table, ks_statistic, metrics
from scoring.synthetic import DRIVER_RISK_DIRECTION, TARGET, generate_drivers

# Fewer, stronger trees keep the suite quick; the engine's defaults are tuned for quality.
QUICK = {"hgb_params": {"learning_rate": 0.2, "max_iter": 60}, "calibration_folds": 2}


def test_pure_noise_features_score_chance_out_of_fold():
    # Binning fitted on all rows would find "signal" in 12 high-cardinality noise columns;
    # fitted inside each fold it must not.
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame({f"noise_{i}": rng.normal(size=n) for i in range(12)})
    df["bad"] = rng.integers(0, 2, n)
    report = evaluate(df, "bad", folds=4, seed=1, config=ModelConfig(**QUICK))
    for kind, result in report["models"].items():
        assert abs(result["auc"] - 0.5) < 0.06, kind


def test_real_signal_is_found_and_models_are_compared():
    df = generate_drivers(800, seed=5)
    report = evaluate(
        df, TARGET, folds=3, config=ModelConfig(risk_direction=DRIVER_RISK_DIRECTION, **QUICK)
    )
    assert report["models"]["scorecard"]["auc"] > 0.7
    assert report["models"]["boosting"]["auc"] > 0.7
    assert report["comparison"]["best"] in {"scorecard", "boosting"}
    for result in report["models"].values():
        assert result["gini"] == pytest.approx(2 * result["auc"] - 1, abs=1e-3)
        assert 0 < result["brier"] < 0.25
        assert len(result["calibration"]) == 10
    assert report["protected_dropped"] == ["sexo", "edad"]


def test_evaluation_is_deterministic_given_a_seed():
    df = generate_drivers(300, seed=2)
    a = evaluate(df, TARGET, folds=2, seed=4, models=("scorecard",))
    b = evaluate(df, TARGET, folds=2, seed=4, models=("scorecard",))
    assert a["models"]["scorecard"]["folds"] == b["models"]["scorecard"]["folds"]


def test_time_ordered_holdout_tests_on_the_latest_rows():
    df = generate_drivers(800, seed=8)
    df["month"] = np.repeat(np.arange(8), 100)
    report = evaluate(df, TARGET, time_column="month", models=("scorecard",))
    assert report["validation"].startswith("time-ordered")
    assert "month" not in report["features"]
    assert len(report["models"]["scorecard"]["folds"]) == 1


def test_metrics_on_a_perfect_and_a_useless_ranking():
    y = np.array([0, 0, 1, 1])
    assert metrics(y, np.array([0.1, 0.2, 0.8, 0.9]), np.array([0.0, 0.0, 1.0, 1.0])) == {
        "auc": 1.0,
        "gini": 1.0,
        "ks": 1.0,
        "brier": 0.0,
    }
    assert ks_statistic(y, np.array([0.5, 0.5, 0.5, 0.5])) == 0.0


def test_calibration_table_has_deciles_of_predicted_pd():
    rng = np.random.default_rng(0)
    p = rng.random(1000)
    y = (rng.random(1000) < p).astype(int)
    table = calibration_table(y, p)
    assert [row["decile"] for row in table] == list(range(1, 11))
    assert sum(row["rows"] for row in table) == 1000
    assert table[0]["mean_pd"] < table[-1]["mean_pd"]
