import numpy as np
import pytest

from scoring import CreditModel, feature_frame, plan_columns, population_stability_index
from scoring.monitoring import psi_status
from scoring.synthetic import TARGET, generate_drivers


@pytest.mark.parametrize(
    ("value", "status"),
    [(0.0, "stable"), (0.099, "stable"), (0.1, "watch"), (0.25, "watch"), (0.2501, "shift")],
)
def test_psi_thresholds(value, status):
    assert psi_status(value) == status


def test_psi_of_the_same_population_is_near_zero_and_of_a_shifted_one_is_large():
    rng = np.random.default_rng(0)
    train = rng.normal(size=20_000)
    assert population_stability_index(train, rng.normal(size=20_000)) < 0.01
    assert 0.1 <= population_stability_index(train, rng.normal(0.4, 1, 20_000)) <= 0.25
    assert population_stability_index(train, rng.normal(1.0, 1, 20_000)) > 0.25


def test_psi_of_categories_counts_new_ones_as_other():
    train = np.array(["a"] * 500 + ["b"] * 500, dtype=object)
    recent = np.array(["a"] * 500 + ["c"] * 500, dtype=object)
    assert population_stability_index(train, recent, categorical=True) > 0.25


def test_model_stability_flags_the_characteristic_that_moved():
    df = generate_drivers(2000, seed=1)
    plan = plan_columns(df, TARGET)
    X = feature_frame(df, plan)
    model = CreditModel("scorecard", plan, seed=0).fit(X, df[TARGET].to_numpy())
    recent = feature_frame(generate_drivers(2000, seed=2), plan)
    same = model.stability(recent)
    assert same["score"]["status"] == "stable"
    recent["weekly_earnings_mxn"] *= 0.5
    moved = model.stability(recent)
    assert moved["characteristics"]["weekly_earnings_mxn"]["status"] == "shift"
    assert moved["characteristics"]["rating"]["status"] == "stable"
    assert moved["score"]["psi"] > same["score"]["psi"]


def test_four_fifths_rule_flags_a_group_approved_much_less_often():
    from scoring.monitoring import approval_rates_by_group

    group = np.array(["M"] * 100 + ["F"] * 100)
    approved = np.r_[np.ones(80), np.zeros(20), np.ones(60), np.zeros(40)]
    report = approval_rates_by_group(approved, group)
    assert report["groups"]["F"]["ratio_to_highest"] == 0.75
    assert report["flagged"] == ["F"]
    assert not report["four_fifths_ok"]
    fairer = np.r_[np.ones(80), np.zeros(20), np.ones(70), np.zeros(30)]
    assert approval_rates_by_group(fairer, group)["four_fifths_ok"]
