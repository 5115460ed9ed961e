"""Plan a depot's charging from a scenario file and print the plan as JSON.

    python -m charging.plan --scenario FILE.json [--strategy optimal|uncontrolled|greedy-cheapest]

The formats are in docs/smart-charging.md. A scenario that cannot be planned is one
line on standard error and exit status 2, with nothing on standard output.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from charging.planner import STRATEGIES, Cost, Plan, ScenarioError, make_plan, scenario_from_dict


def _money(cost: Cost) -> dict[str, float]:
    return {
        "energy": round(cost.energy_mxn, 2),
        "capacity": round(cost.capacity_mxn, 2),
        "distribution": round(cost.distribution_mxn, 2),
        "total": round(cost.total_mxn, 2),
    }


def plan_document(plan: Plan, uncontrolled: Plan) -> dict[str, Any]:
    """The JSON answer: kW to the watt, kWh to the watt-hour, MXN to the centavo."""
    return {
        "status": str(plan.status),
        "schedule": {
            vid: [round(kw, 3) + 0.0 for kw in row] for vid, row in plan.schedule().items()
        },
        "short_kwh": {vid: round(kwh, 3) for vid, kwh in plan.short_kwh.items()},
        "cost_mxn": _money(plan.cost),
        "uncontrolled_cost_mxn": _money(uncontrolled.cost),
    }


@contextlib.contextmanager
def _solver_banner_to_stderr() -> Iterator[None]:
    """HiGHS prints its banner on file descriptor 1 when a process makes its first
    solver, before any option can silence it; standard output is the plan's JSON."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m charging.plan", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--scenario", required=True, type=Path, help="the scenario, JSON")
    parser.add_argument("--strategy", choices=list(STRATEGIES), default="optimal")
    args = parser.parse_args(argv)
    try:
        data = json.loads(args.scenario.read_text(encoding="utf-8"))
        scenario = scenario_from_dict(data)
    except OSError as exc:
        print(f"error: cannot read {args.scenario}: {exc.strerror}", file=sys.stderr)
        return 2
    except json.JSONDecodeError as exc:
        print(f"error: {args.scenario} is not JSON: {exc}", file=sys.stderr)
        return 2
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with _solver_banner_to_stderr():
        plan = make_plan(scenario, args.strategy)
        uncontrolled = (
            plan if args.strategy == "uncontrolled" else make_plan(scenario, "uncontrolled")
        )
    json.dump(plan_document(plan, uncontrolled), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
