"""Training a model on a data frame end to end: typing, checks, metrics, fit, save."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pandas as pd

from scoring.artifact import data_fingerprint, save_model
from scoring.columns import ColumnPlan, check_trainable, feature_frame, plan_columns, target_vector
from scoring.evaluation import evaluate
from scoring.model import CreditModel, ModelConfig, ModelKind


def train(
    df: pd.DataFrame,
    target: str,
    *,
    models: Sequence[ModelKind] = ("scorecard", "boosting"),
    seed: int = 0,
    folds: int = 5,
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    config: ModelConfig | None = None,
    plan: ColumnPlan | None = None,
    jobs: int = 1,
) -> tuple[dict[str, CreditModel], ModelKind, dict[str, Any]]:
    """Cross-validate, then fit each model on all rows.

    Returns the fitted models by kind, the primary kind (highest cross-validated AUC) and
    the evaluation report.
    """
    y = target_vector(df, target)
    if plan is None:
        plan = plan_columns(df, target, numeric=numeric, categorical=categorical, ignore=ignore)
    check_trainable(y, folds)
    report = evaluate(
        df,
        target,
        models=models,
        folds=folds,
        seed=seed,
        config=config,
        plan=plan,
        jobs=jobs,
    )
    X = feature_frame(df, plan)
    fitted: dict[str, CreditModel] = {
        kind: CreditModel(kind, plan, config, seed).fit(X, y) for kind in models
    }
    primary = max(models, key=lambda k: report["models"][k]["auc"])
    return fitted, primary, report


def train_and_save(
    df: pd.DataFrame,
    target: str,
    out: str | os.PathLike[str],
    *,
    synthetic: bool = False,
    **kwargs: Any,
) -> dict[str, Any]:
    """:func:`train` and write the versioned model directory ``out``; returns the manifest."""
    fitted, primary, report = train(df, target, **kwargs)
    return save_model(
        out,
        dict(fitted),
        primary=primary,
        training_fingerprint=data_fingerprint(df),
        training_rows=len(df),
        metrics=report,
        seed=int(kwargs.get("seed", 0)),
        synthetic=synthetic,
    )
