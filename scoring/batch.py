"""Batch scoring: score, band, PD and top reason codes for many applications at once."""

from __future__ import annotations

import pandas as pd

from scoring.artifact import SavedModel
from scoring.columns import feature_frame
from scoring.model import CreditModel


def score_applications(
    model: CreditModel | SavedModel, applications: pd.DataFrame, *, top_reasons: int = 3
) -> pd.DataFrame:
    """One row per application: ``score``, ``band``, ``pd`` and, for k = 1..top_reasons,
    ``reason_k`` (the characteristic that cost the k-th most points against its best
    value), ``reason_k_text`` (the same in Spanish) and ``reason_k_points``. Columns the
    model does not use (protected ones included) are ignored.
    """
    credit = model.model if isinstance(model, SavedModel) else model
    X = feature_frame(applications, credit.plan)
    return credit.score_frame(X, top_reasons=top_reasons)
