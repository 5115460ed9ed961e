"""`python -m charging.plan`: the plan of a scenario file as JSON, or one line of error
and exit status 2."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from charging.plan import main
from portal.config import ROOT

# The example: a 96-slot day, one car plugged in from slot 8 to 40.
NIGHT = [True] * 8 + [False] * 88  # punta until 22:00 when the day starts at 20:00
EXAMPLE: dict[str, Any] = {
    "slot_minutes": 15,
    "slots": 96,
    "site_limit_kw": 150.0,
    "energy_price_mxn_per_kwh": [1.6] * 8 + [1.45] * 8 + [0.9] * 32 + [1.45] * 48,
    "punta": NIGHT,
    "capacity_mxn_per_kw": 420.0,
    "distribution_mxn_per_kw": 59.0,
    "punta_peak_so_far_kw": 0.0,
    "peak_so_far_kw": 0.0,
    "connectors": [{"id": "C1", "max_kw": 60.0}, {"id": "C2", "max_kw": 60.0}],
    "vehicles": [
        {"id": "V1", "connector": "C1", "arrival_slot": 0, "departure_slot": 40}
        | {"energy_kwh": 30.0, "max_kw": 50.0},
        {"id": "V2", "connector": "C2", "arrival_slot": 4, "departure_slot": 44}
        | {"energy_kwh": 45.0, "max_kw": 50.0},
    ],
}


def write(tmp_path: Path, scenario: dict[str, Any]) -> Path:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "charging.plan", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_command_prints_the_plan_as_json(tmp_path: Path) -> None:
    done = run("--scenario", str(write(tmp_path, EXAMPLE)))
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)  # nothing but the JSON on standard output
    assert set(plan) == {"status", "schedule", "short_kwh", "cost_mxn", "uncontrolled_cost_mxn"}
    assert plan["status"] == "optimal"
    assert set(plan["schedule"]) == {"V1", "V2"}
    assert all(len(kw) == 96 for kw in plan["schedule"].values())
    assert plan["short_kwh"] == {"V1": 0.0, "V2": 0.0}
    for key in ("cost_mxn", "uncontrolled_cost_mxn"):
        assert set(plan[key]) == {"energy", "capacity", "distribution", "total"}
    # Both cars out of punta, and the 75 kWh spread flat over the 9 hours from 22:00
    # (slot 8) to V2's departure (slot 44): 8.333 kW.
    site = [sum(kw) for kw in zip(*plan["schedule"].values(), strict=True)]
    assert max(site[:8]) == 0.0
    assert max(site) == pytest.approx(75 / 9, abs=2e-3)
    assert plan["cost_mxn"]["capacity"] == 0.0
    assert plan["cost_mxn"]["distribution"] == pytest.approx(75 / 9 * 59, abs=0.01)
    # Uncontrolled: each car at 50 kW from its arrival, in punta (V1 is full before V2
    # arrives at slot 4).
    assert plan["uncontrolled_cost_mxn"]["capacity"] == pytest.approx(50 * 420.0)
    total = plan["cost_mxn"]
    assert total["total"] == pytest.approx(
        total["energy"] + total["capacity"] + total["distribution"], abs=0.011
    )


def test_a_strategy_can_be_chosen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--scenario", str(write(tmp_path, EXAMPLE)), "--strategy", "uncontrolled"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["status"] == "feasible"
    assert plan["cost_mxn"] == plan["uncontrolled_cost_mxn"]
    assert plan["schedule"]["V1"][:4] == [50.0, 50.0, 20.0, 0.0]  # 30 kWh at 50 kW


def test_a_short_plan_names_the_cars_and_the_kwh(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = copy.deepcopy(EXAMPLE)
    scenario["vehicles"][1]["departure_slot"] = 6  # two slots at 50 kW: 25 of 45 kWh
    assert main(["--scenario", str(write(tmp_path, scenario))]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["status"] == "short"
    assert plan["short_kwh"] == {"V1": 0.0, "V2": 20.0}


def test_the_costs_are_the_sums_a_hand_makes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = {
        "slots": 4,
        "site_limit_kw": 100.0,
        "energy_price_mxn_per_kwh": [1.6, 1.6, 0.9, 0.9],
        "punta": [True, True, False, False],
        "capacity_mxn_per_kw": 420.0,
        "distribution_mxn_per_kw": 59.0,
        "punta_peak_so_far_kw": 12.0,
        "peak_so_far_kw": 0.0,
        "connectors": [{"id": "C1", "max_kw": 40.0}],
        "vehicles": [
            {"id": "V1", "connector": "C1", "arrival_slot": 0, "departure_slot": 4}
            | {"energy_kwh": 23.0, "max_kw": 50.0}
        ],
    }
    assert main(["--scenario", str(write(tmp_path, scenario))]) == 0
    plan = json.loads(capsys.readouterr().out)
    # Up to 12 kW in punta costs no capacity (the month's punta peak already): the plan
    # takes 6 kWh there, and the other 17 kWh flat over the base slots at 34 kW — each
    # kW off the peak saves 59 MXN of distribution for 0.35 MXN of punta energy.
    assert plan["schedule"]["V1"] == [12.0, 12.0, 34.0, 34.0]
    assert plan["cost_mxn"] == {
        "energy": round(6 * 1.6 + 17 * 0.9, 2),  # 24.90
        "capacity": 12 * 420.0,
        "distribution": 34 * 59.0,
        "total": round(6 * 1.6 + 17 * 0.9 + 12 * 420 + 34 * 59, 2),
    }
    # Uncontrolled: 40 kW in both punta slots (20 kWh), then 12 kW (3 kWh).
    assert plan["uncontrolled_cost_mxn"] == {
        "energy": round(20 * 1.6 + 3 * 0.9, 2),
        "capacity": 40 * 420.0,
        "distribution": 40 * 59.0,
        "total": round(20 * 1.6 + 3 * 0.9 + 40 * 420 + 40 * 59, 2),
    }


def vehicle(**fields: Any) -> dict[str, Any]:
    return EXAMPLE["vehicles"][0] | fields


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"vehicles": [vehicle(arrival_slot=30, departure_slot=10)]},
            "vehicle V1: departure_slot 10 is before arrival_slot 30",
        ),
        ({"vehicles": [vehicle(energy_kwh=-4.0)]}, "vehicle V1: energy_kwh must be a number"),
        ({"vehicles": [vehicle(connector="C7")]}, "vehicle V1: unknown connector 'C7'"),
        (
            {"vehicles": [vehicle(), vehicle(id="V9", arrival_slot=39, departure_slot=50)]},
            "vehicles V1 and V9 overlap on connector C1",
        ),
        ({"energy_price_mxn_per_kwh": [0.9] * 95}, "95 entries, not one per slot (96)"),
        ({"punta": [False] * 97}, "punta has 97 entries, not one per slot (96)"),
        ({"vehicles": [{"id": "V1", "connector": "C1"}]}, "vehicle V1: missing field"),
    ],
)
def test_a_bad_scenario_is_one_line_of_error_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, Any], message: str
) -> None:
    scenario = EXAMPLE | change
    assert main(["--scenario", str(write(tmp_path, scenario))]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("error: ")
    assert message in err


def test_a_file_that_is_not_json_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "scenario.json"
    path.write_text("{not json", encoding="utf-8")
    assert main(["--scenario", str(path)]) == 2
    out, err = capsys.readouterr()
    assert (out, err.count("\n")) == ("", 1)
    assert "is not JSON" in err
    assert main(["--scenario", str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_the_process_exits_with_status_2_and_prints_no_plan(tmp_path: Path) -> None:
    bad = EXAMPLE | {"vehicles": [vehicle(energy_kwh=-1.0)]}
    done = run("--scenario", str(write(tmp_path, bad)))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "error: vehicle V1: energy_kwh must be a number, not negative (got -1.0)"
    ]
