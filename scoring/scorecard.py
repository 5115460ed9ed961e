"""A logistic scorecard on weight-of-evidence features, scaled to integer points.

Scaling follows "points to double the odds": ``score = offset + factor * ln(odds good:bad)``
with ``factor = pdo / ln 2`` and ``offset = base_score - factor * ln(base_odds)``; by default
600 points at odds 50:1 and 20 points to double the odds. Every bin of every characteristic
carries an integer number of points; an applicant's score is their sum.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from scoring.binning import Direction, FeatureBinning, fit_binning
from scoring.columns import ColumnPlan


@dataclass(frozen=True)
class Scaling:
    """Points scaling: ``base_score`` points at odds ``base_odds``:1, ``pdo`` points to double."""

    base_score: float = 600.0
    base_odds: float = 50.0
    pdo: float = 20.0

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2.0)

    @property
    def offset(self) -> float:
        return self.base_score - self.factor * math.log(self.base_odds)

    def points_from_pd(self, pd_: np.ndarray) -> np.ndarray:
        """Integer score equivalent to a probability of default."""
        p = np.clip(np.asarray(pd_, dtype="float64"), 1e-6, 1 - 1e-6)
        return np.rint(self.offset + self.factor * np.log((1 - p) / p)).astype("int64")

    def pd_from_points(self, points: np.ndarray) -> np.ndarray:
        z = (np.asarray(points, dtype="float64") - self.offset) / self.factor
        return 1.0 / (1.0 + np.exp(z))


def direction_for(risk_direction: Mapping[str, int], feature: str) -> Direction | str:
    """Binning direction from the business risk direction (+1 riskier as it grows)."""
    if feature not in risk_direction:
        return "auto"
    sign = risk_direction[feature]
    return "ascending" if sign > 0 else "descending" if sign < 0 else "none"


class Scorecard:
    """WoE binning of every characteristic, then a logistic regression, then points.

    Characteristics with information value below ``min_iv`` are left out, and so is any
    whose coefficient comes out with the wrong sign (collinearity), so that points always
    follow the direction of the binning.
    """

    def __init__(
        self,
        *,
        risk_direction: Mapping[str, int] | None = None,
        min_bin_share: float = 0.05,
        max_bins: int = 6,
        min_iv: float = 0.02,
        C: float = 1.0,
        scaling: Scaling | None = None,
    ) -> None:
        self.risk_direction = dict(risk_direction or {})
        self.min_bin_share = min_bin_share
        self.max_bins = max_bins
        self.min_iv = min_iv
        self.C = C
        self.scaling = scaling or Scaling()
        self.binnings: dict[str, FeatureBinning] = {}
        self.selected: list[str] = []
        self.coef: dict[str, float] = {}
        self.intercept = 0.0
        self.points: dict[str, np.ndarray] = {}
        self.base_points = 0

    def fit(self, X: pd.DataFrame, y: np.ndarray, plan: ColumnPlan) -> Scorecard:
        y = np.asarray(y, dtype="int64")
        self.binnings = {}
        for col in plan.features:
            kind: Literal["numeric", "categorical"] = (
                "numeric" if col in plan.numeric else "categorical"
            )
            direction = direction_for(self.risk_direction, col)
            self.binnings[col] = fit_binning(
                col,
                X[col].to_numpy(),
                y,
                kind=kind,
                direction=direction,  # type: ignore[arg-type]
                min_bin_share=self.min_bin_share,
                max_bins=self.max_bins,
            )
        candidates = [c for c, b in self.binnings.items() if b.iv >= self.min_iv]
        woe = {c: self.binnings[c].transform(X[c].to_numpy()) for c in candidates}
        while True:
            if not candidates:
                rate = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
                self.coef, self.intercept = {}, math.log(rate / (1 - rate))
                break
            W = np.column_stack([woe[c] for c in candidates])
            lr = LogisticRegression(C=self.C, max_iter=1000)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                lr.fit(W, y)
            coef = lr.coef_[0]
            wrong = [c for c, b in zip(candidates, coef, strict=True) if b >= 0]
            if not wrong:
                self.coef = {c: float(b) for c, b in zip(candidates, coef, strict=True)}
                self.intercept = float(lr.intercept_[0])
                break
            weakest = min(wrong, key=lambda c: self.binnings[c].iv)
            candidates = [c for c in candidates if c != weakest]
        self.selected = list(self.coef)
        self._scale()
        return self

    def _scale(self) -> None:
        s = self.scaling
        m = len(self.selected)
        self.points = {}
        if m == 0:
            self.base_points = round(s.offset - s.factor * self.intercept)
            return
        self.base_points = 0
        for c in self.selected:
            woe = self.binnings[c].woe
            raw = -(self.coef[c] * woe + self.intercept / m) * s.factor + s.offset / m
            self.points[c] = np.rint(raw).astype("int64")

    def bin_matrix(self, X: pd.DataFrame) -> np.ndarray:
        """Bin index of each applicant (row) for each selected characteristic (column)."""
        if not self.selected:
            return np.zeros((len(X), 0), dtype="int64")
        return np.column_stack([self.binnings[c].bin_index(X[c].to_numpy()) for c in self.selected])

    def points_matrix(self, bins: np.ndarray) -> np.ndarray:
        if not self.selected:
            return np.zeros((bins.shape[0], 0), dtype="int64")
        return np.column_stack([self.points[c][bins[:, j]] for j, c in enumerate(self.selected)])

    def score(self, X: pd.DataFrame) -> np.ndarray:
        """Total integer points of each applicant (higher is better)."""
        return self.points_matrix(self.bin_matrix(X)).sum(axis=1) + self.base_points

    def best_points(self) -> np.ndarray:
        """Points of the best bin seen in training, per selected characteristic."""
        best = []
        for c in self.selected:
            seen = self.binnings[c].counts > 0
            best.append(int(self.points[c][seen].max()) if seen.any() else 0)
        return np.asarray(best, dtype="int64")

    def table(self) -> pd.DataFrame:
        """The scorecard as a table: characteristic, bin, WoE, points."""
        frames = []
        for c in self.selected:
            t = self.binnings[c].table()
            t.insert(0, "feature", c)
            t["points"] = self.points[c]
            frames.append(t)
        if not frames:
            return pd.DataFrame(columns=["feature", "bin", "woe", "points"])
        return pd.concat(frames, ignore_index=True)

    def information_values(self) -> dict[str, float]:
        return {c: b.iv for c, b in sorted(self.binnings.items(), key=lambda kv: -kv[1].iv)}
