import logging

import numpy as np
import pandas as pd
import pytest

from scoring import DataError, evaluate, is_protected, plan_columns
from scoring.columns import check_trainable, feature_frame


@pytest.mark.parametrize(
    "name",
    [
        "SEX",
        "sex",
        "Sexo",
        "AGE",
        "Edad",
        "EDAD",
        "genero",
        "Género",
        "GENDER",
        "driver_age",
        "fecha_nacimiento",
        "date_of_birth",
    ],
)
def test_protected_names_are_recognised(name):
    assert is_protected(name)


@pytest.mark.parametrize("name", ["PAGE_VIEWS", "usage", "percentage", "LIMIT_BAL", "stage"])
def test_ordinary_names_are_not_protected(name):
    assert not is_protected(name)


def _frame(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return pd.DataFrame(
        {
            "ID": np.arange(n),
            "income": rng.normal(size=n) + y,
            "city": rng.choice(["cdmx", "gdl", "mty"], n),
            "SEXO": y,  # perfectly predictive on purpose
            "Edad": rng.integers(20, 60, n),
            "const": 1,
            "bad": y,
        }
    )


def test_plan_types_columns_and_drops_protected_ids_and_constants(caplog):
    with caplog.at_level(logging.WARNING, logger="scoring"):
        plan = plan_columns(_frame(), "bad")
    assert plan.numeric == ("income",)
    assert plan.categorical == ("city",)
    assert set(plan.protected) == {"SEXO", "Edad"}
    assert plan.ignored["ID"].startswith("identifier")
    assert plan.ignored["const"] == "constant"
    assert "SEXO" in caplog.text
    assert "constant" in caplog.text


def test_protected_columns_are_dropped_even_when_named_as_inputs():
    plan = plan_columns(_frame(), "bad", numeric=["SEXO", "Edad", "income"])
    assert "SEXO" not in plan.features
    assert "Edad" not in plan.features


def test_a_perfectly_predictive_protected_column_is_never_used():
    df = _frame(300).drop(columns=["income"])
    report = evaluate(df, "bad", folds=3, seed=0)
    for result in report["models"].values():
        assert "SEXO" not in result["features_used"]
        assert result["auc"] < 0.65  # would be 1.0 if SEXO leaked in


def test_text_in_a_column_declared_numeric_is_a_clear_error():
    df = _frame()
    df["amount"] = ["12.5"] * (len(df) - 1) + ["doce"]
    plan = plan_columns(df, "bad")
    assert "amount" in plan.categorical  # automatic typing: it is text
    with pytest.raises(DataError, match=r"'amount' is declared numeric.*'doce'"):
        plan_columns(df, "bad", numeric=["amount"])


def test_categorical_override_keeps_numbers_as_categories():
    df = _frame()
    plan = plan_columns(df, "bad", categorical=["income"])
    assert "income" in plan.categorical
    assert feature_frame(df, plan)["income"].map(type).eq(str).all()


@pytest.mark.parametrize(
    ("y", "folds", "message"),
    [
        (np.zeros(100, dtype=int), 5, "single class"),
        (np.r_[np.ones(3), np.zeros(97)].astype(int), 5, "rarer class"),
        (np.r_[np.ones(10), np.zeros(20)].astype(int), 2, "at least 50"),
    ],
)
def test_untrainable_targets_are_refused(y, folds, message):
    with pytest.raises(DataError, match=message):
        check_trainable(y, folds)


def test_missing_target_column_is_a_clear_error():
    with pytest.raises(DataError, match="target column 'nope' not found"):
        plan_columns(_frame(), "nope")
