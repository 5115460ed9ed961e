"""Population stability index (PSI) of the score and of each characteristic.

``PSI = sum((actual% - expected%) * ln(actual% / expected%))`` over fixed bins taken from
the training data. Thresholds: below 0.1 stable, 0.1 to 0.25 watch, above 0.25 the
population has shifted and the model needs attention.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

Status = Literal["stable", "watch", "shift"]
STABLE_BELOW = 0.1
SHIFT_ABOVE = 0.25
_FLOOR = 1e-4


def psi_status(value: float) -> Status:
    """``stable`` below 0.1, ``watch`` from 0.1 to 0.25, ``shift`` above 0.25."""
    if value < STABLE_BELOW:
        return "stable"
    if value <= SHIFT_ABOVE:
        return "watch"
    return "shift"


def psi_from_shares(expected: np.ndarray, actual: np.ndarray) -> float:
    e = np.maximum(np.asarray(expected, dtype="float64"), _FLOOR)
    a = np.maximum(np.asarray(actual, dtype="float64"), _FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


@dataclass
class Reference:
    """Training distribution of one variable over fixed bins (last bin = missing/other)."""

    kind: Literal["numeric", "categorical"]
    edges: np.ndarray
    categories: list[str]
    shares: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray, *, categorical: bool = False, bins: int = 10) -> Reference:
        arr = np.asarray(values)
        if categorical:
            s = pd.Series(arr, dtype="object").dropna()
            top = [str(c) for c in s.value_counts().index[: bins * 2]]
            ref = cls("categorical", np.zeros(0), top, np.zeros(0))
        else:
            x = arr.astype("float64")
            x = x[~np.isnan(x)]
            qs = np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1]) if len(x) else []
            ref = cls("numeric", np.unique(np.asarray(qs, dtype="float64")), [], np.zeros(0))
        ref.shares = ref.distribution(arr)
        return ref

    def bin_index(self, values: np.ndarray) -> np.ndarray:
        arr = np.asarray(values)
        if self.kind == "numeric":
            x = arr.astype("float64")
            idx = np.searchsorted(self.edges, x, side="right")
            return np.where(np.isnan(x), len(self.edges) + 1, idx)
        lookup = {c: i for i, c in enumerate(self.categories)}
        other = len(self.categories)
        return np.fromiter(
            (lookup.get(str(v), other) if v is not None and v == v else other for v in arr),
            dtype=np.int64,
            count=len(arr),
        )

    @property
    def n_bins(self) -> int:
        return len(self.edges) + 2 if self.kind == "numeric" else len(self.categories) + 1

    def distribution(self, values: np.ndarray) -> np.ndarray:
        idx = self.bin_index(values)
        counts = np.bincount(idx, minlength=self.n_bins).astype("float64")
        return counts / max(counts.sum(), 1.0)

    def psi(self, values: np.ndarray) -> float:
        return psi_from_shares(self.shares, self.distribution(values))


def population_stability_index(
    expected: np.ndarray, actual: np.ndarray, *, bins: int = 10, categorical: bool = False
) -> float:
    """PSI of ``actual`` against ``expected`` on bins fitted to ``expected`` (deciles)."""
    return Reference.fit(expected, categorical=categorical, bins=bins).psi(actual)


def approval_rates_by_group(
    approved: np.ndarray, group: np.ndarray, *, threshold: float = 0.8
) -> dict[str, object]:
    """Approval rate per protected group and the four-fifths rule.

    Each group's approval rate divided by the highest group's rate; a ratio below
    ``threshold`` (0.8) flags possible adverse impact. Protected attributes are never model
    inputs, but they are monitored here.
    """
    frame = pd.DataFrame({"approved": np.asarray(approved, dtype=bool), "group": group})
    rates = frame.groupby("group", dropna=False)["approved"].mean()
    top = float(rates.max()) if len(rates) else 0.0
    groups = {
        str(g): {
            "approved_rate": round(float(r), 4),
            "ratio_to_highest": round(float(r) / top, 4) if top else 0.0,
        }
        for g, r in rates.items()
    }
    flagged = [g for g, v in groups.items() if top and v["ratio_to_highest"] < threshold]
    return {"groups": groups, "four_fifths_ok": not flagged, "flagged": flagged}
