"""Out-of-sample evaluation: everything (binning, WoE, calibration) is fitted inside a fold.

Stratified k-fold by default, or a time-ordered hold-out (the latest ``holdout`` share of
rows by ``time_column`` is the test set). Metrics: ROC AUC, Gini = 2 AUC - 1, KS, Brier
score and a calibration table by decile of predicted PD.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold

from scoring.columns import ColumnPlan, check_trainable, feature_frame, plan_columns, target_vector
from scoring.errors import DataError
from scoring.model import CreditModel, ModelConfig, ModelKind


def ks_statistic(y: np.ndarray, risk: np.ndarray) -> float:
    """Kolmogorov-Smirnov: the largest gap between the score distributions of bads and goods."""
    fpr, tpr, _ = roc_curve(y, risk)
    return float(np.max(tpr - fpr))


def calibration_table(y: np.ndarray, pd_: np.ndarray, groups: int = 10) -> list[dict[str, float]]:
    """Rows, mean predicted PD and observed default rate by decile of predicted PD."""
    ranks = pd.Series(pd_).rank(method="first").to_numpy()
    decile = np.minimum(((ranks - 1) * groups / len(ranks)).astype(int), groups - 1)
    table = []
    for d in range(groups):
        m = decile == d
        if m.any():
            table.append(
                {
                    "decile": d + 1,
                    "rows": int(m.sum()),
                    "mean_pd": round(float(pd_[m].mean()), 4),
                    "default_rate": round(float(y[m].mean()), 4),
                }
            )
    return table


def metrics(y: np.ndarray, risk: np.ndarray, pd_: np.ndarray) -> dict[str, float]:
    """AUC, Gini and KS of the ranking ``risk``; Brier score of the probabilities ``pd_``."""
    auc = float(roc_auc_score(y, risk))
    return {
        "auc": round(auc, 4),
        "gini": round(2 * auc - 1, 4),
        "ks": round(ks_statistic(y, risk), 4),
        "brier": round(float(brier_score_loss(y, pd_)), 4),
    }


def _splits(
    X: pd.DataFrame, y: np.ndarray, folds: int, seed: int, order: np.ndarray | None, holdout: float
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    if order is not None:
        cut = round(len(y) * (1 - holdout))
        yield order[:cut], order[cut:]
        return
    yield from StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y)


def evaluate(
    df: pd.DataFrame,
    target: str,
    *,
    models: Sequence[ModelKind] = ("scorecard", "boosting"),
    folds: int = 5,
    seed: int = 0,
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    config: ModelConfig | None = None,
    time_column: str | None = None,
    holdout: float = 0.2,
    plan: ColumnPlan | None = None,
    jobs: int = 1,
) -> dict[str, Any]:
    """Cross-validated metrics of each model on ``df``, and their comparison, as a dict.

    ``plan`` (from :func:`scoring.columns.plan_columns`) replaces the column options.
    ``jobs`` > 1 fits that many folds at once in separate processes (same results: every
    fold is seeded); each process runs single-threaded.
    """
    started = time.perf_counter()
    y = target_vector(df, target)
    ignore_all = [*(ignore or []), *([time_column] if time_column else [])]
    if plan is None:
        plan = plan_columns(df, target, numeric=numeric, categorical=categorical, ignore=ignore_all)
    if folds < 2 and time_column is None:
        raise DataError("folds must be at least 2")
    check_trainable(y, folds if time_column is None else 2)
    X = feature_frame(df, plan)
    order = None
    if time_column is not None:
        if time_column not in df.columns:
            raise DataError(f"time column {time_column!r} not found")
        order = np.argsort(df[time_column].to_numpy(), kind="stable")
        test_y = y[order[round(len(y) * (1 - holdout)) :]]
        if len(np.unique(test_y)) < 2:
            raise DataError("the time-ordered hold-out holds a single class")
    report: dict[str, Any] = {
        "rows": len(y),
        "default_rate": round(float(y.mean()), 4),
        "validation": f"time-ordered hold-out {holdout:.0%}"
        if time_column
        else f"stratified {folds}-fold",
        "seed": seed,
        "features": plan.features,
        "protected_dropped": list(plan.protected),
        "ignored": plan.ignored,
        "models": {},
    }
    splits = list(_splits(X, y, folds, seed, order, holdout))
    tasks = [(kind, tr, te) for kind in models for tr, te in splits]
    if jobs > 1 and len(tasks) > 1:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=min(jobs, len(tasks)))(
            delayed(_fit_fold)(kind, X, y, tr, te, plan, config, seed) for kind, tr, te in tasks
        )
    else:
        results = [_fit_fold(kind, X, y, tr, te, plan, config, seed) for kind, tr, te in tasks]
    for kind in models:
        done = [(t, r) for t, r in zip(tasks, results, strict=True) if t[0] == kind]
        report["models"][kind] = _summarize(y, [(t[2], r) for t, r in done])
    aucs = {k: v["auc"] for k, v in report["models"].items()}
    if len(aucs) == 2:
        report["comparison"] = {
            "best": max(aucs, key=lambda k: aucs[k]),
            "auc_difference_boosting_minus_scorecard": round(
                aucs["boosting"] - aucs["scorecard"], 4
            ),
        }
    report["seconds"] = round(time.perf_counter() - started, 2)
    return report


@dataclass
class _FoldResult:
    risk: np.ndarray
    pd_: np.ndarray
    features: list[str]
    seconds: float


def _fit_fold(
    kind: ModelKind,
    X: pd.DataFrame,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    plan: ColumnPlan,
    config: ModelConfig | None,
    seed: int,
) -> _FoldResult:
    """Fit on one fold's training rows and predict its test rows (a process may run it)."""
    started = time.perf_counter()
    model = CreditModel(kind, plan, config, seed).fit(X.iloc[train], y[train], for_scoring=False)
    risk = model.risk(X.iloc[test])
    pd_ = model.predict_pd(X.iloc[test])
    return _FoldResult(risk, pd_, list(model.features), time.perf_counter() - started)


def _summarize(y: np.ndarray, folds: list[tuple[np.ndarray, _FoldResult]]) -> dict[str, Any]:
    pd_all = np.full(len(y), np.nan)
    per_fold = []
    used: dict[str, int] = {}
    for te, result in folds:
        pd_all[te] = result.pd_
        per_fold.append(metrics(y[te], result.risk, result.pd_))
        for f in result.features:
            used[f] = used.get(f, 0) + 1
    tested = ~np.isnan(pd_all)
    summary = {
        name: round(float(np.mean([m[name] for m in per_fold])), 4)
        for name in ("auc", "gini", "ks", "brier")
    }
    return {
        **summary,
        "auc_std": round(float(np.std([m["auc"] for m in per_fold])), 4),
        "folds": per_fold,
        "calibration": calibration_table(y[tested], pd_all[tested]),
        "features_used": sorted(used, key=lambda f: (-used[f], f)),
        # the folds' fitting time added up (they may have run side by side)
        "seconds": round(sum(r.seconds for _, r in folds), 2),
    }
