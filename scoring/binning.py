"""Supervised optimal binning with weight of evidence (WoE) and information value (IV).

Each characteristic is first cut into at most ``max_prebins`` fine bins (quantiles, or one
bin per distinct value). A dynamic programme then chooses the partition of adjacent fine
bins that maximises IV subject to: every bin holds at least ``min_bin_share`` of the rows,
at most ``max_bins`` bins, and the default rate strictly monotone in the value (ascending,
descending, or whichever of the two gives more IV when the direction is not known), with
the default rates of adjacent bins differing significantly (two-proportion z-test at
``min_z``, 1.96 by default) so that noise is not cut into bins.
Missing values are a bin of their own. Categories are ordered by their default rate and
then treated the same way, so similar categories are grouped.

WoE convention: ``ln(share of goods / share of bads)``; positive WoE is better than average.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

Direction = Literal["ascending", "descending", "none"]
SMOOTH = 0.5  # added to goods and bads of every bin so WoE is finite


def _woe_iv(goods: np.ndarray, bads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    total_g, total_b = goods.sum(), bads.sum()
    pg = (goods + SMOOTH) / (total_g + SMOOTH)
    pb = (bads + SMOOTH) / (total_b + SMOOTH)
    woe = np.log(pg / pb)
    return woe, (pg - pb) * woe


def _merge_to_quantiles(counts: np.ndarray, max_prebins: int) -> np.ndarray:
    """Group adjacent fine cells into at most ``max_prebins`` groups of similar size."""
    cum = np.cumsum(counts) / counts.sum()
    group = np.minimum((cum * max_prebins - 1e-9).astype(int), max_prebins - 1)
    group = np.maximum(group, 0)
    _, group = np.unique(group, return_inverse=True)
    return np.asarray(group)


def _optimal_partition(
    goods: np.ndarray,
    bads: np.ndarray,
    *,
    min_count: float,
    max_bins: int,
    direction: Direction,
    min_z: float = 1.96,
) -> tuple[list[int], float]:
    """Split points (indices of fine bins starting a new bin) maximising IV, and the IV."""
    n = len(goods)
    cg = np.concatenate([[0.0], np.cumsum(goods)])
    cb = np.concatenate([[0.0], np.cumsum(bads)])
    total_g, total_b = cg[-1], cb[-1]
    i_idx, j_idx = np.triu_indices(n + 1, k=1)
    g = cg[j_idx] - cg[i_idx]
    b = cb[j_idx] - cb[i_idx]
    pg = (g + SMOOTH) / (total_g + SMOOTH)
    pb = (b + SMOOTH) / (total_b + SMOOTH)
    iv = np.full((n + 1, n + 1), -np.inf)
    rate = np.full((n + 1, n + 1), np.nan)
    valid = (g + b) >= min_count
    iv[i_idx[valid], j_idx[valid]] = ((pg - pb) * np.log(pg / pb))[valid]
    rate[i_idx, j_idx] = (b + SMOOTH) / (g + b + 2 * SMOOTH)
    count = np.zeros((n + 1, n + 1))
    count[i_idx, j_idx] = g + b
    overall = (total_b + SMOOTH) / (total_g + total_b + 2 * SMOOTH)
    spread = overall * (1 - overall)
    # best[k, i, j]: best IV of a partition of fine bins [0, j) into k+1 bins, last one [i, j)
    best = np.full((max_bins, n + 1, n + 1), -np.inf)
    back = np.full((max_bins, n + 1, n + 1), -1, dtype=int)
    best[0, 0, 1:] = iv[0, 1:]
    for j in range(2, n + 1):
        for i in range(1, j):
            if not np.isfinite(iv[i, j]):
                continue
            prev = best[: max_bins - 1, :i, i]  # (k, h)
            # adjacent bins must differ significantly (two-proportion z-test) ...
            diff = rate[i, j] - rate[:i, i]
            se = np.sqrt(spread * (1 / np.maximum(count[:i, i], 1) + 1 / count[i, j]))
            z = diff / se
            # ... and in the required direction
            if direction == "ascending":
                ok = z >= min_z
            elif direction == "descending":
                ok = z <= -min_z
            else:
                ok = np.abs(z) >= min_z
            cand = np.where(ok[None, :], prev, -np.inf)
            arg = np.argmax(cand, axis=1)
            val = cand[np.arange(cand.shape[0]), arg]
            best[1:, i, j] = val + iv[i, j]
            back[1:, i, j] = np.where(np.isfinite(val), arg, -1)
    final = best[:, :, n]
    k_, i_ = np.unravel_index(int(np.argmax(final)), final.shape)
    k, i = int(k_), int(i_)
    score = float(final[k, i])
    if not np.isfinite(score):
        return [], 0.0
    starts: list[int] = []
    j = n
    while k > 0:
        starts.append(int(i))
        h = int(back[k, i, j])
        j, i, k = int(i), h, k - 1
    return sorted(starts), score


@dataclass
class FeatureBinning:
    """The fitted bins of one characteristic. Bin ``len(labels) - 1`` is 'missing/unseen'."""

    feature: str
    kind: Literal["numeric", "categorical"]
    edges: np.ndarray  # numeric: inner cut points; bin i holds edges[i-1] <= x < edges[i]
    categories: dict[str, int]  # categorical: category -> bin
    labels: list[str]
    counts: np.ndarray
    bads: np.ndarray
    woe: np.ndarray
    iv: float
    direction: Direction

    @property
    def n_bins(self) -> int:
        return len(self.labels)

    @property
    def missing_bin(self) -> int:
        return len(self.labels) - 1

    def bin_index(self, values: np.ndarray | pd.Series) -> np.ndarray:
        """The bin of each value; missing values and unseen categories go to the last bin."""
        arr = np.asarray(values)
        if self.kind == "numeric":
            x = arr.astype("float64")
            idx = np.searchsorted(self.edges, x, side="right")
            return np.where(np.isnan(x), self.missing_bin, idx)
        lookup = self.categories
        miss = self.missing_bin
        return np.fromiter((lookup.get(v, miss) for v in arr), dtype=np.int64, count=len(arr))

    def transform(self, values: np.ndarray | pd.Series) -> np.ndarray:
        return np.asarray(self.woe[self.bin_index(values)])

    def table(self) -> pd.DataFrame:
        total = max(int(self.counts.sum()), 1)
        return pd.DataFrame(
            {
                "bin": self.labels,
                "count": self.counts,
                "share": self.counts / total,
                "bads": self.bads,
                "bad_rate": np.where(self.counts > 0, self.bads / np.maximum(self.counts, 1), 0),
                "woe": self.woe,
            }
        )


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def fit_binning(
    feature: str,
    values: np.ndarray | pd.Series,
    y: np.ndarray,
    *,
    kind: Literal["numeric", "categorical"] = "numeric",
    direction: Direction | Literal["auto"] = "auto",
    min_bin_share: float = 0.05,
    max_bins: int = 6,
    max_prebins: int = 20,
    min_z: float = 1.96,
) -> FeatureBinning:
    """Fit the optimal binning of one characteristic against the 0/1 target ``y``."""
    arr = np.asarray(values)
    y = np.asarray(y, dtype="int64")
    if kind == "numeric":
        x = arr.astype("float64")
        present = ~np.isnan(x)
    else:
        present = np.array([v is not None and v == v for v in arr], dtype=bool)
    xp, yp = arr[present], y[present]
    miss_count, miss_bads = int((~present).sum()), int(y[~present].sum())
    min_count = max(min_bin_share * len(y), 1.0)

    if kind == "numeric":
        xf = xp.astype("float64")
        uniq, inv = np.unique(xf, return_inverse=True)
        cell_counts = np.bincount(inv, minlength=len(uniq)).astype(float)
        cell_bads = np.bincount(inv, weights=yp, minlength=len(uniq))
        order = np.arange(len(uniq))
    else:
        uniq, inv = np.unique(xp.astype(str), return_inverse=True)
        cell_counts = np.bincount(inv, minlength=len(uniq)).astype(float)
        cell_bads = np.bincount(inv, weights=yp, minlength=len(uniq))
        order = np.argsort((cell_bads + SMOOTH) / (cell_counts + 2 * SMOOTH), kind="stable")
    if len(uniq) == 0:
        pre = np.zeros(0, dtype=int)
    elif len(uniq) <= max_prebins:
        pre = np.arange(len(uniq))
    else:
        pre = _merge_to_quantiles(cell_counts[order], max_prebins)
    n_pre = int(pre.max()) + 1 if len(pre) else 0
    pre_counts = np.bincount(pre, weights=cell_counts[order], minlength=n_pre)
    pre_bads = np.bincount(pre, weights=cell_bads[order], minlength=n_pre)
    pre_goods = pre_counts - pre_bads

    options: list[Direction]
    if kind == "categorical":
        options = ["ascending"]  # categories are already sorted by default rate
    elif direction == "auto":
        options = ["ascending", "descending"]
    else:
        options = [direction]
    starts: list[int] = []
    chosen_dir: Direction = options[0]
    if n_pre:
        found = [
            (
                _optimal_partition(
                    pre_goods,
                    pre_bads,
                    min_count=min_count,
                    max_bins=max_bins,
                    direction=d,
                    min_z=min_z,
                ),
                d,
            )
            for d in options
        ]
        (starts, _), chosen_dir = max(found, key=lambda f: f[0][1])

    bin_of_pre = np.zeros(n_pre, dtype=int)
    for s in starts:
        bin_of_pre[s:] += 1
    n_regular = len(starts) + 1 if n_pre else 0
    bin_of_cell = np.empty(len(uniq), dtype=int)
    bin_of_cell[order] = bin_of_pre[pre] if n_pre else 0

    counts = np.zeros(n_regular + 1)
    bads = np.zeros(n_regular + 1)
    if n_regular:
        counts[:n_regular] = np.bincount(bin_of_cell, weights=cell_counts, minlength=n_regular)
        bads[:n_regular] = np.bincount(bin_of_cell, weights=cell_bads, minlength=n_regular)
    counts[-1], bads[-1] = miss_count, miss_bads
    woe, iv_parts = _woe_iv(counts - bads, bads)
    if miss_count == 0:
        woe[-1], iv_parts[-1] = 0.0, 0.0  # never seen missing: neutral

    edges = np.zeros(0)
    categories: dict[str, int] = {}
    labels: list[str] = []
    if kind == "numeric":
        firsts = [int(np.flatnonzero(bin_of_cell == b)[0]) for b in range(1, n_regular)]
        edges = np.array([uniq[f] for f in firsts], dtype="float64")
        bounds = [-np.inf, *edges.tolist(), np.inf]
        for b in range(n_regular):
            lo, hi = bounds[b], bounds[b + 1]
            if np.isinf(lo):
                labels.append(f"< {_fmt(hi)}" if np.isfinite(hi) else "todos")
            elif np.isinf(hi):
                labels.append(f">= {_fmt(lo)}")
            else:
                labels.append(f"[{_fmt(lo)}, {_fmt(hi)})")
    else:
        categories = {str(c): int(bin_of_cell[i]) for i, c in enumerate(uniq)}
        for b in range(n_regular):
            members = [str(c) for i, c in enumerate(uniq) if bin_of_cell[i] == b]
            shown = ", ".join(members[:5]) + (", …" if len(members) > 5 else "")
            labels.append("{" + shown + "}")
    labels.append("sin dato")
    return FeatureBinning(
        feature=feature,
        kind=kind,
        edges=edges,
        categories=categories,
        labels=labels,
        counts=counts.astype("int64"),
        bads=bads.astype("int64"),
        woe=woe,
        iv=float(iv_parts.sum()),
        direction=chosen_dir,
    )


def information_value(binning: FeatureBinning) -> float:
    """IV of a fitted binning (< 0.02 useless, 0.02-0.1 weak, 0.1-0.3 medium, > 0.3 strong)."""
    return binning.iv
