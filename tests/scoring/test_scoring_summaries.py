"""Column families (``PAY_1 .. PAY_6``) and the boosters' summaries of them."""

import numpy as np
import pandas as pd
import pytest

from scoring import CreditModel, ModelConfig, feature_frame, plan_columns
from scoring.model import SequenceSummaries


def test_families_are_found_from_names_alone():
    names = ["LIMIT", "PAY_0", "PAY_2", "PAY_3", "BILL1", "BILL2", "x10", "y2", "y3"]
    summaries = SequenceSummaries(names)
    # BILL and y: fewer than three members
    assert list(summaries.families) == ["PAY_"]
    assert summaries.families["PAY_"][0] == [1, 2, 3]
    assert "PAY_max" in summaries.names
    assert SequenceSummaries(["income", "tenure", "rating"]).names == []


def test_summaries_of_a_row_ignore_missing_members():
    summaries = SequenceSummaries(["m1", "m2", "m3", "other"])
    M = np.array([[2.0, 0.0, 4.0, 9.0], [np.nan, 1.0, -1.0, 9.0]])
    out = summaries.append(M)
    mean, mx, mn, npos, std, first_minus_mean = out[:, 4:].T
    assert mean.tolist() == [2.0, 0.0]
    assert mx.tolist() == [4.0, 1.0]
    assert mn.tolist() == [0.0, -1.0]
    assert npos.tolist() == [2.0, 1.0]
    assert std[0] == pytest.approx(np.std([2.0, 0.0, 4.0]))
    assert first_minus_mean[0] == 0.0
    assert np.isnan(first_minus_mean[1])  # the first member is missing


def test_constrained_families_keep_only_summaries_that_move_with_every_member():
    names = ["a1", "a2", "a3", "b1", "b2", "b3", "c1", "c2", "c3"]
    summaries = SequenceSummaries(names, [1, 1, 1, 1, -1, 0, 0, 0, 0])
    assert summaries.names == [
        "a_mean",
        "a_max",
        "a_min",
        "a_npos",
        *[f"c_{k}" for k in ("mean", "max", "min", "npos", "std", "first_minus_mean")],
    ]  # b: mixed directions, no summaries
    assert summaries.monotone == [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]


@pytest.fixture(scope="module")
def months():
    rng = np.random.default_rng(3)
    n = 3000
    late = rng.integers(0, 3, size=(n, 4))
    p = 1 / (1 + np.exp(-(late.max(axis=1) * 1.2 - 2.5)))
    df = pd.DataFrame(late, columns=["late_1", "late_2", "late_3", "late_4"])
    df["income"] = rng.normal(10_000, 2000, n)
    df["bad"] = (rng.random(n) < p).astype(int)
    return df


def test_reason_codes_name_input_columns_not_summaries(months):
    plan = plan_columns(months, "bad")
    X = feature_frame(months, plan)
    config = ModelConfig(risk_direction={f"late_{i}": 1 for i in range(1, 5)})
    model = CreditModel("boosting", plan, config).fit(X, months["bad"].to_numpy())
    assert model.features == ["late_1", "late_2", "late_3", "late_4", "income"]
    frame = model.score_frame(X.head(200))
    named = set(frame[["reason_1", "reason_2", "reason_3"]].stack().dropna())
    assert named
    assert named <= set(model.features)
    # Worse months never lower the PD (the summaries keep the members' direction).
    worse = X.head(200).copy()
    worse["late_2"] = 2.0
    assert (model.predict_pd(worse) >= model.predict_pd(X.head(200)) - 1e-12).all()


def test_summaries_can_be_turned_off(months):
    plan = plan_columns(months, "bad")
    X = feature_frame(months, plan)
    model = CreditModel("boosting", plan, ModelConfig(sequence_summaries=False))
    model.fit(X, months["bad"].to_numpy())
    assert model.estimator.summaries.names == []
    assert len(model.estimator.boosters) == 3
