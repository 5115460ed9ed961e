"""The two baselines the optimal plan is measured against.

- **uncontrolled**: what a plain load balancer does. Every car draws its full power from
  its arrival until its need is met; where the cars together would pass the site limit,
  each gets the same share of what it asks.
- **greedy-cheapest**: cars in order of departure, each filling its cheapest slots first
  (the earlier slot among equal prices) up to its kW and the site's remaining headroom.
  It knows the energy prices but not the peak charges.

A car that is not ``controlled`` takes its uncontrolled power in every strategy; the
others are planned in what the site limit leaves.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from charging.planner.scenario import Scenario
from charging.planner.schedule import Plan, build_plan

Kw = npt.NDArray[np.float64]


def uncontrolled_kw(scenario: Scenario, cars_taken: npt.NDArray[np.bool_] | None = None) -> Kw:
    """Every car (or those of ``cars_taken``) at full power from its arrival until its need
    is met, sharing the site limit in proportion where it binds; kW per car per slot."""
    cars = scenario.arrays()
    hours = scenario.slot_hours
    taken = np.ones(len(scenario.vehicles), dtype=np.bool_) if cars_taken is None else cars_taken
    remaining = np.where(taken, cars.need_kwh, 0.0)
    kw = np.zeros((len(scenario.vehicles), scenario.slots))
    for t in range(scenario.slots):
        plugged = (cars.arrival <= t) & (t < cars.departure) & (remaining > 0)
        asked = np.where(plugged, np.minimum(cars.limit_kw, remaining / hours), 0.0)
        total = asked.sum()
        if total > scenario.site_limit_kw:
            asked *= scenario.site_limit_kw / total
        kw[:, t] = asked
        remaining = np.maximum(remaining - asked * hours, 0.0)
    return kw


def plan_uncontrolled(scenario: Scenario) -> Plan:
    return build_plan(scenario, "uncontrolled", uncontrolled_kw(scenario), least_cost=False)


def plan_greedy_cheapest(scenario: Scenario) -> Plan:
    cars = scenario.arrays()
    hours = scenario.slot_hours
    prices = scenario.energy_price_mxn_per_kwh
    kw = uncontrolled_kw(scenario, ~cars.controlled)  # the cars that take full power
    headroom = scenario.site_limit_kw - kw.sum(axis=0)
    order = sorted(
        np.flatnonzero(cars.controlled), key=lambda i: (cars.departure[i], cars.arrival[i], i)
    )
    for i in order:
        window = np.arange(cars.arrival[i], cars.departure[i])
        slots = window[np.argsort(prices[window], kind="stable")]
        energy = np.minimum(cars.limit_kw[i], headroom[slots]).clip(min=0.0) * hours
        before = np.cumsum(energy) - energy  # what the cheaper slots already give
        taken = np.clip(cars.need_kwh[i] - before, 0.0, energy)
        kw[i, slots] = taken / hours
        headroom[slots] -= taken / hours
    return build_plan(scenario, "greedy-cheapest", kw, least_cost=False)
