"""A plan: kW per car per slot, what each car is short, and what the plan costs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from charging.planner.scenario import Scenario

# A car is short when it misses more than a watt-hour of its need (solver tolerances
# leave far less than that).
SHORT_TOLERANCE_KWH = 1e-3


class Status(StrEnum):
    OPTIMAL = "optimal"  # every car gets its energy at the least cost
    FEASIBLE = "feasible"  # every car gets its energy; a heuristic, not the least cost
    SHORT = "short"  # some car leaves without its energy


@dataclass(frozen=True)
class Cost:
    """MXN: energy = Σ price × kWh; capacity and distribution on the peaks (Scenario)."""

    energy_mxn: float
    capacity_mxn: float
    distribution_mxn: float

    @property
    def total_mxn(self) -> float:
        return self.energy_mxn + self.capacity_mxn + self.distribution_mxn


@dataclass(frozen=True, eq=False)
class Plan:
    """``kw[i, t]`` is what car ``vehicle_ids[i]`` draws in slot ``t``."""

    strategy: str
    status: Status
    vehicle_ids: tuple[str, ...]
    kw: npt.NDArray[np.float64]
    short_kwh: Mapping[str, float]
    cost: Cost

    @property
    def site_kw(self) -> npt.NDArray[np.float64]:
        """The depot's total kW in each slot."""
        return np.asarray(self.kw.sum(axis=0), dtype=np.float64)

    def schedule(self) -> dict[str, list[float]]:
        return {vid: row.tolist() for vid, row in zip(self.vehicle_ids, self.kw, strict=True)}


def cost_of(scenario: Scenario, kw: npt.NDArray[np.float64]) -> Cost:
    """What a schedule (cars × slots, kW) costs under the scenario's prices."""
    site = kw.sum(axis=0) if kw.size else np.zeros(scenario.slots)
    punta_kw = float(site[scenario.punta].max()) if scenario.punta.any() else 0.0
    return Cost(
        energy_mxn=float(scenario.energy_price_mxn_per_kwh @ site) * scenario.slot_hours,
        capacity_mxn=scenario.capacity_mxn_per_kw * max(scenario.punta_peak_so_far_kw, punta_kw),
        distribution_mxn=scenario.distribution_mxn_per_kw
        * max(scenario.peak_so_far_kw, float(site.max(initial=0.0))),
    )


def build_plan(
    scenario: Scenario, strategy: str, kw: npt.NDArray[np.float64], *, least_cost: bool
) -> Plan:
    """The plan of a schedule: solver noise cleared, shortfalls named, cost computed."""
    cars = scenario.arrays()
    kw = np.clip(kw, 0.0, cars.limit_kw[:, None])
    kw[kw < 1e-9] = 0.0
    delivered = kw.sum(axis=1) * scenario.slot_hours
    short = np.maximum(cars.need_kwh - delivered, 0.0)
    short[short <= SHORT_TOLERANCE_KWH] = 0.0
    status = Status.OPTIMAL if least_cost else Status.FEASIBLE
    if short.any():
        status = Status.SHORT
    return Plan(
        strategy=strategy,
        status=status,
        vehicle_ids=scenario.vehicle_ids,
        kw=kw,
        short_kwh=dict(zip(scenario.vehicle_ids, short.tolist(), strict=True)),
        cost=cost_of(scenario, kw),
    )
