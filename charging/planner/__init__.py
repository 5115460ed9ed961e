"""The depot's smart-charging planner: kW per car per slot, at the least CFE cost.

Build a :class:`Scenario` (from a tariff's slot rates with :func:`scenario_from_rates`,
or from its JSON form with :func:`scenario_from_dict`), then
``make_plan(scenario, "optimal")``. The strategies are ``optimal`` (a linear program,
``optimal.py``), and the baselines ``uncontrolled`` and ``greedy-cheapest``
(``heuristics.py``). No Flask and no database here: the caller brings the depot's
connectors, cars and prices (``charging.tariffs.slot_rates``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from charging.planner.heuristics import plan_greedy_cheapest, plan_uncontrolled
from charging.planner.optimal import PlanningError, plan_optimal
from charging.planner.scenario import (
    Connector,
    Scenario,
    ScenarioError,
    Vehicle,
    scenario_from_dict,
    scenario_from_rates,
)
from charging.planner.schedule import SHORT_TOLERANCE_KWH, Cost, Plan, Status, cost_of

STRATEGIES: Mapping[str, Callable[[Scenario], Plan]] = MappingProxyType(
    {
        "optimal": plan_optimal,
        "uncontrolled": plan_uncontrolled,
        "greedy-cheapest": plan_greedy_cheapest,
    }
)


def make_plan(scenario: Scenario, strategy: str = "optimal") -> Plan:
    """The plan of ``scenario`` under one of ``STRATEGIES``."""
    try:
        planner = STRATEGIES[strategy]
    except KeyError:
        raise ValueError(f"unknown strategy {strategy!r}") from None
    return planner(scenario)


__all__ = [
    "SHORT_TOLERANCE_KWH",
    "STRATEGIES",
    "Connector",
    "Cost",
    "Plan",
    "PlanningError",
    "Scenario",
    "ScenarioError",
    "Status",
    "Vehicle",
    "cost_of",
    "make_plan",
    "plan_greedy_cheapest",
    "plan_optimal",
    "plan_uncontrolled",
    "scenario_from_dict",
    "scenario_from_rates",
]
