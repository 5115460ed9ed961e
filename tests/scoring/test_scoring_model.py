import numpy as np
import pandas as pd
import pytest

from scoring import CreditModel, ModelConfig, Scaling, feature_frame, plan_columns
from scoring.batch import score_applications
from scoring.synthetic import (
    DRIVER_LABELS,
    DRIVER_REASON_TEMPLATES,
    DRIVER_RISK_DIRECTION,
    TARGET,
    generate_drivers,
)

SPANISH_WORDS = (
    "Ingresos",
    "Tasa",
    "Antigüedad",
    "Calificación",
    "Viajes",
    "Deuda",
    "Atrasos",
    "Pocos",
    "Poca",
    "Kilómetros",
    "sin dato",
    "mayor riesgo",
)


@pytest.fixture(scope="module")
def drivers():
    return generate_drivers(2000, seed=3)


@pytest.fixture(scope="module")
def config():
    return ModelConfig(
        hgb_params={"learning_rate": 0.15, "max_iter": 100},
        risk_direction=DRIVER_RISK_DIRECTION,
        labels=DRIVER_LABELS,
        reason_templates=DRIVER_REASON_TEMPLATES,
    )


def _fit(kind, df, config, seed=0):
    plan = plan_columns(df, TARGET)
    X = feature_frame(df, plan)
    return CreditModel(kind, plan, config, seed).fit(X, df[TARGET].to_numpy()), X


@pytest.fixture(scope="module")
def scorecard(drivers, config):
    return _fit("scorecard", drivers, config)


@pytest.fixture(scope="module")
def boosting(drivers, config):
    return _fit("boosting", drivers, config)


def test_scaling_gives_600_points_at_50_to_1_and_20_points_to_double():
    s = Scaling(base_score=600, base_odds=50, pdo=20)
    assert s.points_from_pd(np.array([1 / 51]))[0] == 600
    assert s.points_from_pd(np.array([1 / 101]))[0] == 620
    assert s.points_from_pd(np.array([1 / 26]))[0] == 580
    assert s.pd_from_points(np.array([600.0]))[0] == pytest.approx(1 / 51)


def test_scorecard_points_follow_the_business_direction(scorecard):
    model, _ = scorecard
    sc = model.estimator.scorecard
    assert "weekly_earnings_mxn" in sc.selected
    for feature in sc.selected:
        points = sc.points[feature][:-1]  # regular bins, in increasing value
        direction = DRIVER_RISK_DIRECTION[feature]
        if direction < 0:  # risk falls as the value grows: points rise
            assert np.all(np.diff(points) >= 0), feature
        else:
            assert np.all(np.diff(points) <= 0), feature
        assert points.dtype.kind == "i"


def test_total_score_is_the_sum_of_integer_points(scorecard):
    model, X = scorecard
    sc = model.estimator.scorecard
    pts = sc.points_matrix(sc.bin_matrix(X.iloc[:5]))
    assert list(model.score(X.iloc[:5])) == list(pts.sum(axis=1) + sc.base_points)


def test_higher_scores_mean_lower_calibrated_pd(scorecard):
    model, X = scorecard
    out = model.score_frame(X)
    by_score = out.sort_values("score")
    assert by_score["pd"].is_monotonic_decreasing
    assert set(out["band"]) <= set("ABCDE")


@pytest.mark.parametrize("kind", ["scorecard", "boosting"])
def test_reason_codes_are_spanish_and_name_characteristics_the_model_uses(kind, request):
    model, X = request.getfixturevalue(kind)
    out = model.score_frame(X.iloc[:200], top_reasons=3)
    texts = out["reason_1_text"].dropna()
    assert len(texts) > 150
    assert all(any(w in t for w in SPANISH_WORDS) for t in texts)
    used = set(model.features)
    for r in (1, 2, 3):
        assert set(out[f"reason_{r}"].dropna()) <= used


def test_reason_codes_point_at_what_costs_the_applicant(scorecard):
    model, X = scorecard
    applicant = X.iloc[[0]].copy()
    applicant["weekly_earnings_mxn"] = 900.0  # far below anyone's earnings
    out = model.score_frame(applicant, top_reasons=3)
    reasons = list(out.iloc[0][["reason_1", "reason_2", "reason_3"]])
    assert "weekly_earnings_mxn" in reasons
    text = out.iloc[0]["reason_1_text"] if reasons[0] == "weekly_earnings_mxn" else ""
    assert not text or text.startswith("Ingresos semanales bajos")


def test_reason_codes_list_the_points_lost(scorecard):
    model, X = scorecard
    reasons = model.reason_codes(X.iloc[:20], top=2)
    assert len(reasons) == 20
    for applicant in reasons:
        assert len(applicant) <= 2
        assert all(r.points_lost > 0 and r.text for r in applicant)
        assert [r.points_lost for r in applicant] == sorted(
            (r.points_lost for r in applicant), reverse=True
        )


def test_default_reason_text_uses_the_spanish_label_or_the_column_name(drivers):
    plan = plan_columns(drivers, TARGET)
    X = feature_frame(drivers, plan)
    cfg = ModelConfig(labels={"weekly_earnings_mxn": "Ingresos semanales"})
    model = CreditModel("scorecard", plan, cfg).fit(X, drivers[TARGET].to_numpy())
    texts = " ".join(model.score_frame(X.iloc[:300])["reason_1_text"].dropna())
    assert "mayor riesgo" in texts


@pytest.mark.parametrize("kind", ["scorecard", "boosting"])
def test_training_is_deterministic_given_a_seed(kind, drivers, config):
    a, X = _fit(kind, drivers, config, seed=7)
    b, _ = _fit(kind, drivers, config, seed=7)
    np.testing.assert_array_equal(a.predict_pd(X), b.predict_pd(X))


def test_batch_scoring_returns_one_row_per_application_ignoring_extra_columns(scorecard, drivers):
    model, _ = scorecard
    apps = drivers.drop(columns=[TARGET]).iloc[:50].assign(extra="x")
    out = score_applications(model, apps)
    assert list(out.columns[:3]) == ["score", "band", "pd"]
    assert len(out) == 50
    assert out["pd"].between(0, 1).all()


def test_synthetic_population_is_seeded_labelled_and_near_the_requested_rate():
    a = generate_drivers(3000, seed=11, default_rate=0.2)
    b = generate_drivers(3000, seed=11, default_rate=0.2)
    pd.testing.assert_frame_equal(a, b)
    assert a["synthetic"].all()
    assert a["driver_id"].str.startswith("SINTETICO-").all()
    assert abs(a[TARGET].mean() - 0.2) < 0.03
