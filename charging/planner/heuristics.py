"""The two baselines the optimal plan is measured against.

- **uncontrolled**: what a plain load balancer does. Every car draws its full power from
  its arrival until its need is met; where the cars together would pass the site limit,
  each gets the same share of what it asks.
- **greedy-cheapest**: cars in order of departure, each filling its cheapest slots first
  (the earlier slot among equal prices) up to its kW and the site's remaining headroom.
  It knows the energy prices but not the peak charges.
"""

from __future__ import annotations

import numpy as np

from charging.planner.scenario import Scenario
from charging.planner.schedule import Plan, build_plan


def plan_uncontrolled(scenario: Scenario) -> Plan:
    cars = scenario.arrays()
    hours = scenario.slot_hours
    remaining = cars.need_kwh.copy()
    kw = np.zeros((len(scenario.vehicles), scenario.slots))
    for t in range(scenario.slots):
        plugged = (cars.arrival <= t) & (t < cars.departure) & (remaining > 0)
        asked = np.where(plugged, np.minimum(cars.limit_kw, remaining / hours), 0.0)
        total = asked.sum()
        if total > scenario.site_limit_kw:
            asked *= scenario.site_limit_kw / total
        kw[:, t] = asked
        remaining = np.maximum(remaining - asked * hours, 0.0)
    return build_plan(scenario, "uncontrolled", kw, least_cost=False)


def plan_greedy_cheapest(scenario: Scenario) -> Plan:
    cars = scenario.arrays()
    hours = scenario.slot_hours
    prices = scenario.energy_price_mxn_per_kwh
    headroom = np.full(scenario.slots, scenario.site_limit_kw)
    kw = np.zeros((len(scenario.vehicles), scenario.slots))
    order = sorted(
        range(len(scenario.vehicles)), key=lambda i: (cars.departure[i], cars.arrival[i], i)
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
