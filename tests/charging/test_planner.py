"""The smart-charging planner: every car gets its energy by its departure at the least
CFE cost, within the connectors' and the site's limits; when that is impossible, the
most energy in total, shared fairly, with the short cars named."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from charging.planner import (
    Connector,
    Plan,
    Scenario,
    ScenarioError,
    Status,
    Vehicle,
    make_plan,
    plan_greedy_cheapest,
    plan_optimal,
    plan_uncontrolled,
    scenario_from_dict,
    scenario_from_rates,
)
from charging.tariffs import MEXICO_CITY, Period, Tariff, TariffKind, slot_rates

BASE, INTER, PUNTA = 0.9, 1.45, 1.6


def scenario(
    slots: int = 8, vehicles: list[dict[str, Any]] | None = None, **fields: Any
) -> Scenario:
    """A scenario in its JSON form; one 60 kW connector per car unless given."""
    vehicles = vehicles or []
    data: dict[str, Any] = {
        "slot_minutes": 15,
        "slots": slots,
        "site_limit_kw": 1000.0,
        "energy_price_mxn_per_kwh": [BASE] * slots,
        "punta": [False] * slots,
        "capacity_mxn_per_kw": 0.0,
        "distribution_mxn_per_kw": 0.0,
        "punta_peak_so_far_kw": 0.0,
        "peak_so_far_kw": 0.0,
        "connectors": [{"id": f"C{i}", "max_kw": 60.0} for i in range(len(vehicles))],
        "vehicles": [
            {"id": f"V{i}", "connector": f"C{i}", "arrival_slot": 0, "departure_slot": slots}
            | {"energy_kwh": 10.0, "max_kw": 50.0}
            | v
            for i, v in enumerate(vehicles)
        ],
    }
    data.update(fields)
    return scenario_from_dict(data)


def energy_kwh(plan: Plan, vehicle: str) -> float:
    row = plan.kw[plan.vehicle_ids.index(vehicle)]
    return float(row.sum()) * 0.25


# -- the least cost ---------------------------------------------------------------


def test_the_plan_charges_in_the_cheapest_slots_and_costs_what_a_hand_computes() -> None:
    prices = [1.6, 1.6, 1.45, 1.45, 0.9, 0.9, 0.9, 0.9]
    s = scenario(
        vehicles=[{"energy_kwh": 15.0, "max_kw": 40.0}],
        energy_price_mxn_per_kwh=prices,
    )
    plan = plan_optimal(s)
    assert plan.status is Status.OPTIMAL
    assert plan.short_kwh == {"V0": 0.0}
    # 15 kWh at 40 kW is 1.5 slots' worth; the four base slots (0.9) hold 40 kWh. With no
    # peak charges the cheapest slots are enough, filled earliest first.
    assert plan.kw[0].tolist() == pytest.approx([0, 0, 0, 0, 40, 20, 0, 0], abs=1e-6)
    assert plan.cost.energy_mxn == pytest.approx(15 * 0.9)
    assert plan.cost.total_mxn == pytest.approx(13.5)


def test_the_peak_charges_flatten_the_plan() -> None:
    # Two cars, 20 kWh each over 2 hours (8 slots), one price: 40 kWh / 2 h = 20 kW flat
    # is the lowest peak; distribution is 59 MXN per kW of it.
    s = scenario(
        vehicles=[{"energy_kwh": 20.0}, {"energy_kwh": 20.0}],
        distribution_mxn_per_kw=59.0,
    )
    plan = plan_optimal(s)
    assert plan.site_kw == pytest.approx(np.full(8, 20.0), abs=1e-6)
    assert plan.cost.energy_mxn == pytest.approx(40 * BASE)
    assert plan.cost.distribution_mxn == pytest.approx(20 * 59.0)
    assert plan.cost.capacity_mxn == 0.0


def test_the_plan_keeps_out_of_punta_when_the_car_has_time() -> None:
    # A driver plugs in at 20:00, in punta until 22:00 (slots 0-7), and leaves at 06:00.
    punta = [True] * 8 + [False] * 32
    prices = [PUNTA] * 8 + [INTER] * 8 + [BASE] * 24
    s = scenario(
        slots=40,
        vehicles=[{"energy_kwh": 40.0, "max_kw": 50.0, "arrival_slot": 0}],
        energy_price_mxn_per_kwh=prices,
        punta=punta,
        capacity_mxn_per_kw=420.0,
        distribution_mxn_per_kw=59.0,
    )
    optimal, uncontrolled = plan_optimal(s), plan_uncontrolled(s)
    assert optimal.kw[0, :8].max() == 0.0
    assert optimal.cost.capacity_mxn == 0.0
    # Spreading 40 kWh over the 8 hours after punta (5 kW) rather than the 6 base hours
    # (6.67 kW) saves 1.67 kW × 59 MXN of distribution for 10 kWh × 0.55 MXN more energy.
    assert optimal.kw[0, 8:] == pytest.approx(np.full(32, 5.0), abs=1e-6)
    assert optimal.cost.energy_mxn == pytest.approx(10 * INTER + 30 * BASE)
    assert optimal.cost.distribution_mxn == pytest.approx(5 * 59.0)
    # Uncontrolled: 50 kW from 20:00 until the 40 kWh are in (3.2 slots), all in punta.
    assert uncontrolled.kw[0, :5] == pytest.approx([50, 50, 50, 10, 0])
    assert uncontrolled.cost.capacity_mxn == pytest.approx(50 * 420.0)
    assert uncontrolled.cost.distribution_mxn == pytest.approx(50 * 59.0)
    assert uncontrolled.cost.energy_mxn == pytest.approx(40 * PUNTA)
    assert optimal.cost.total_mxn < uncontrolled.cost.total_mxn / 50


def test_when_punta_cannot_be_avoided_its_peak_is_as_low_as_the_need_allows() -> None:
    # 4 slots of punta then 4 base slots at most 40 kW: 40 kWh needs 40 - 4*40*0.25 =
    # 0 kWh... with a 30 kW car, the base slots give 30 kWh, the other 10 kWh must be in
    # punta: spread over its 4 slots that is 10 kW.
    s = scenario(
        vehicles=[{"energy_kwh": 40.0, "max_kw": 30.0}],
        energy_price_mxn_per_kwh=[PUNTA] * 4 + [BASE] * 4,
        punta=[True] * 4 + [False] * 4,
        capacity_mxn_per_kw=420.0,
    )
    plan = plan_optimal(s)
    assert plan.kw[0].tolist() == pytest.approx([10, 10, 10, 10, 30, 30, 30, 30], abs=1e-6)
    assert plan.cost.capacity_mxn == pytest.approx(10 * 420.0)
    assert plan.cost.energy_mxn == pytest.approx(10 * PUNTA + 30 * BASE)


def test_the_months_peaks_so_far_are_free_headroom() -> None:
    # The month already drew 80 kW in punta: using up to 80 kW in punta costs no more
    # capacity, so a car that must leave at the end of punta charges then, cheaply enough.
    s = scenario(
        slots=4,
        vehicles=[{"energy_kwh": 12.5, "max_kw": 50.0}],
        energy_price_mxn_per_kwh=[PUNTA] * 4,
        punta=[True] * 4,
        capacity_mxn_per_kw=420.0,
        distribution_mxn_per_kw=59.0,
        punta_peak_so_far_kw=80.0,
        peak_so_far_kw=90.0,
    )
    plan = plan_optimal(s)
    assert plan.status is Status.OPTIMAL
    assert plan.cost.capacity_mxn == pytest.approx(80 * 420.0)
    assert plan.cost.distribution_mxn == pytest.approx(90 * 59.0)
    assert plan.cost.energy_mxn == pytest.approx(12.5 * PUNTA)


def test_a_night_planned_on_a_depots_gdmth_tariff_stays_out_of_punta() -> None:
    tariff = Tariff(
        kind=TariffKind.GDMTH,
        effective_from=date(2025, 5, 1),
        energy_mxn_per_kwh={Period.BASE: 0.87, Period.INTERMEDIA: 1.46, Period.PUNTA: 1.60},
        capacity_mxn_per_kw=422.0,
        distribution_mxn_per_kw=59.0,
        fixed_mxn_per_month=527.0,
    )
    # From 18:00 on Tuesday 18 November 2025 (winter): punta 18:00-22:00, slots 0-15.
    rates = slot_rates([tariff], datetime(2025, 11, 18, 18, tzinfo=MEXICO_CITY), 96)
    s = scenario_from_rates(
        rates,
        site_limit_kw=100.0,
        connectors=[Connector("C1", 60.0), Connector("C2", 60.0)],
        vehicles=[
            Vehicle("V1", "C1", arrival_slot=0, departure_slot=44, energy_kwh=40.0, max_kw=50.0),
            Vehicle("V2", "C2", arrival_slot=6, departure_slot=50, energy_kwh=50.0, max_kw=50.0),
        ],
        peak_so_far_kw=20.0,
    )
    assert (s.slots, s.capacity_mxn_per_kw, s.distribution_mxn_per_kw) == (96, 422.0, 59.0)
    assert np.flatnonzero(s.punta).tolist() == list(range(16))
    plan = plan_optimal(s)
    assert plan.status is Status.OPTIMAL
    assert plan.site_kw[:16].max() == 0.0
    assert plan.cost.capacity_mxn == 0.0
    # The 90 kWh fit in the base hours 00:00-06:00 (slots 24-47) under the 20 kW the
    # month has already drawn: base price only, and no new peak.
    assert plan.cost.energy_mxn == pytest.approx(90 * 0.87)
    assert plan.cost.distribution_mxn == pytest.approx(20 * 59.0)
    assert plan.cost.total_mxn < plan_uncontrolled(s).cost.total_mxn


# -- the limits ---------------------------------------------------------------------


def test_the_site_limit_binds_the_sum_of_the_cars() -> None:
    s = scenario(
        vehicles=[{"energy_kwh": 10.0}, {"energy_kwh": 10.0}, {"energy_kwh": 10.0}],
        energy_price_mxn_per_kwh=[BASE] * 2 + [PUNTA] * 6,
        site_limit_kw=60.0,
    )
    plan = plan_optimal(s)
    assert plan.status is Status.OPTIMAL
    assert plan.site_kw.max() <= 60.0 + 1e-6
    # The two cheap slots hold 60 kW × 0.5 h = 30 kWh: exactly the three needs.
    assert plan.site_kw[:2] == pytest.approx([60.0, 60.0])
    assert plan.cost.energy_mxn == pytest.approx(30 * BASE)


def test_a_car_draws_at_most_its_own_and_its_connectors_kw() -> None:
    s = scenario(
        vehicles=[{"energy_kwh": 150.0, "max_kw": 150.0}, {"energy_kwh": 100.0, "max_kw": 7.4}],
    )
    plan = plan_optimal(s)
    assert plan.kw[0].max() == pytest.approx(60.0)  # the connector's 60 kW
    assert plan.kw[1].max() == pytest.approx(7.4)  # the car's on-board charger
    assert plan.short_kwh == pytest.approx({"V0": 150 - 60 * 2, "V1": 100 - 7.4 * 2})


def test_a_car_draws_only_while_plugged_in() -> None:
    s = scenario(
        slots=12,
        vehicles=[{"arrival_slot": 3, "departure_slot": 9, "energy_kwh": 20.0}],
        energy_price_mxn_per_kwh=[0.5] * 3 + [2.0] * 6 + [0.5] * 3,
    )
    plan = plan_optimal(s)
    assert plan.kw[0, :3].sum() == 0.0
    assert plan.kw[0, 9:].sum() == 0.0
    assert energy_kwh(plan, "V0") == pytest.approx(20.0)


def test_cars_one_after_the_other_share_a_connector() -> None:
    s = scenario_from_dict(
        {
            "slots": 8,
            "site_limit_kw": 100.0,
            "energy_price_mxn_per_kwh": [1.0] * 8,
            "punta": [False] * 8,
            "capacity_mxn_per_kw": 0.0,
            "distribution_mxn_per_kw": 0.0,
            "connectors": [{"id": "C1", "max_kw": 22.0}],
            "vehicles": [
                {"id": "A", "connector": "C1", "arrival_slot": 0, "departure_slot": 4}
                | {"energy_kwh": 20.0, "max_kw": 50.0},
                {"id": "B", "connector": "C1", "arrival_slot": 4, "departure_slot": 8}
                | {"energy_kwh": 10.0, "max_kw": 50.0},
            ],
        }
    )
    plan = plan_optimal(s)
    assert plan.status is Status.OPTIMAL
    assert plan.kw[0, 4:].sum() == 0.0
    assert plan.kw[1, :4].sum() == 0.0
    assert plan.kw.max() <= 22.0 + 1e-9


# -- when someone must be short ------------------------------------------------------


def test_cars_that_cannot_all_be_served_share_the_shortfall_by_their_need() -> None:
    # 30 kW for 1 hour is 30 kWh for needs of 20 and 40: each gets half of its need.
    s = scenario(
        slots=4,
        vehicles=[{"energy_kwh": 20.0}, {"energy_kwh": 40.0}],
        site_limit_kw=30.0,
    )
    plan = plan_optimal(s)
    assert plan.status is Status.SHORT
    assert plan.short_kwh == pytest.approx({"V0": 10.0, "V1": 20.0}, abs=1e-4)
    assert plan.kw.sum() * 0.25 == pytest.approx(30.0)


def test_a_car_that_cannot_get_its_need_alone_does_not_take_from_the_others() -> None:
    # V0 can take at most 10 kW × 1 h; the site's 50 kW hold everyone else's need.
    s = scenario(
        slots=4,
        vehicles=[
            {"energy_kwh": 30.0, "max_kw": 10.0},
            {"energy_kwh": 20.0},
            {"energy_kwh": 20.0},
        ],
        site_limit_kw=50.0,
    )
    plan = plan_optimal(s)
    assert plan.status is Status.SHORT
    assert plan.short_kwh == pytest.approx({"V0": 20.0, "V1": 0.0, "V2": 0.0}, abs=1e-4)


def test_the_shortfall_is_shared_by_share_of_need_with_all_the_energy_used() -> None:
    # V0 is plugged in only in slot 0; V1 from slot 0 to 4; the site gives 40 kW, so
    # 40 kWh in all of the 50 asked.
    s = scenario(
        slots=4,
        vehicles=[
            {"energy_kwh": 10.0, "departure_slot": 1},
            {"energy_kwh": 40.0},
        ],
        site_limit_kw=40.0,
    )
    plan = plan_optimal(s)
    # Total possible: 40 kW × 1 h = 40 kWh of the 50 asked.
    assert plan.kw.sum() * 0.25 == pytest.approx(40.0)
    # Both at the same share z of their need: 10z + 40z = 40 → z = 0.8: V0 gets 8 kWh
    # (32 kW in slot 0, V1 the other 8 kW), V1 gets 32.
    assert plan.short_kwh == pytest.approx({"V0": 2.0, "V1": 8.0}, abs=1e-4)


def test_a_car_with_no_window_or_no_need() -> None:
    s = scenario(
        vehicles=[
            {"arrival_slot": 5, "departure_slot": 5, "energy_kwh": 10.0},
            {"energy_kwh": 0.0},
            {"energy_kwh": 10.0},
        ],
    )
    plan = plan_optimal(s)
    assert plan.status is Status.SHORT
    assert plan.short_kwh == pytest.approx({"V0": 10.0, "V1": 0.0, "V2": 0.0})
    assert plan.kw[:2].sum() == 0.0


# -- the baselines -----------------------------------------------------------------


def test_uncontrolled_shares_the_site_limit_in_proportion() -> None:
    s = scenario(
        slots=4,
        vehicles=[{"energy_kwh": 50.0, "max_kw": 50.0}, {"energy_kwh": 50.0, "max_kw": 30.0}],
        site_limit_kw=40.0,
    )
    plan = plan_uncontrolled(s)
    assert plan.kw[:, 0].tolist() == pytest.approx([25.0, 15.0])
    assert plan.status is Status.SHORT  # 40 kWh for 100 asked


def test_uncontrolled_stops_when_the_need_is_met() -> None:
    s = scenario(vehicles=[{"energy_kwh": 15.0, "max_kw": 40.0}])
    plan = plan_uncontrolled(s)
    assert plan.kw[0].tolist() == pytest.approx([40, 20, 0, 0, 0, 0, 0, 0])
    assert plan.status is Status.FEASIBLE


def test_greedy_fills_the_cheapest_slots_first_by_departure() -> None:
    s = scenario(
        slots=4,
        vehicles=[
            {"energy_kwh": 10.0, "departure_slot": 4},
            {"energy_kwh": 10.0, "departure_slot": 2},
        ],
        energy_price_mxn_per_kwh=[1.0, 0.5, 0.8, 0.6],
        site_limit_kw=40.0,
    )
    plan = plan_greedy_cheapest(s)
    # V1 leaves first and takes its cheapest slot (1) at 40 kW: 10 kWh. V0 then finds
    # slot 1 full and takes slot 3 (0.6), 40 kW.
    assert plan.kw[1].tolist() == pytest.approx([0, 40, 0, 0])
    assert plan.kw[0].tolist() == pytest.approx([0, 0, 0, 40])
    assert plan.cost.energy_mxn == pytest.approx(10 * 0.5 + 10 * 0.6)


def test_make_plan_names_its_strategies() -> None:
    s = scenario(vehicles=[{}])
    assert make_plan(s, "greedy-cheapest").strategy == "greedy-cheapest"
    with pytest.raises(ValueError, match="unknown strategy"):
        make_plan(s, "fastest")


# -- properties ---------------------------------------------------------------------


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    slots = draw(st.integers(1, 16))
    n_cars = draw(st.integers(0, 5))
    prices = draw(st.lists(st.sampled_from([0.8, 0.9, 1.4, 1.6]), min_size=slots, max_size=slots))
    punta = [p >= 1.6 for p in prices]
    connectors = [
        {"id": f"C{i}", "max_kw": draw(st.sampled_from([7.4, 22.0, 60.0]))} for i in range(n_cars)
    ]
    vehicles = []
    for i in range(n_cars):
        arrival = draw(st.integers(0, slots))
        departure = draw(st.integers(arrival, slots))
        vehicles.append(
            {
                "id": f"V{i}",
                "connector": f"C{i}",
                "arrival_slot": arrival,
                "departure_slot": departure,
                "energy_kwh": draw(st.sampled_from([0.0, 5.0, 12.5, 30.0, 60.0])),
                "max_kw": draw(st.sampled_from([11.0, 50.0, 150.0])),
            }
        )
    return scenario_from_dict(
        {
            "slots": slots,
            "site_limit_kw": draw(st.sampled_from([20.0, 50.0, 150.0])),
            "energy_price_mxn_per_kwh": prices,
            "punta": punta,
            "capacity_mxn_per_kw": draw(st.sampled_from([0.0, 420.0])),
            "distribution_mxn_per_kw": draw(st.sampled_from([0.0, 59.0])),
            "punta_peak_so_far_kw": draw(st.sampled_from([0.0, 30.0])),
            "peak_so_far_kw": draw(st.sampled_from([0.0, 40.0])),
            "connectors": connectors,
            "vehicles": vehicles,
        }
    )


def assert_within_limits(s: Scenario, plan: Plan) -> None:
    cars = s.arrays()
    tolerance = 1e-6
    assert (plan.kw >= 0).all()
    assert (plan.kw <= cars.limit_kw[:, None] + tolerance).all()
    assert (plan.site_kw <= s.site_limit_kw + tolerance).all()
    slots = np.arange(s.slots)
    outside = (slots < cars.arrival[:, None]) | (slots >= cars.departure[:, None])
    assert (plan.kw[outside] == 0).all()
    delivered = plan.kw.sum(axis=1) * s.slot_hours
    assert (delivered <= cars.need_kwh + 1e-4).all()
    short = np.array([plan.short_kwh[v] for v in plan.vehicle_ids])
    assert delivered + short == pytest.approx(cars.need_kwh, abs=2e-3)
    assert (plan.status is Status.SHORT) == bool(short.any())


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
@given(scenarios())
def test_every_plan_keeps_the_limits_and_optimal_costs_least(s: Scenario) -> None:
    optimal = plan_optimal(s)
    baselines = [plan_uncontrolled(s), plan_greedy_cheapest(s)]
    for plan in (optimal, *baselines):
        assert_within_limits(s, plan)
    delivered = optimal.kw.sum() * s.slot_hours
    for baseline in baselines:
        # The optimal plan delivers the most energy, and when a baseline gets every car
        # its energy, so does the optimal plan, at no higher cost.
        assert delivered >= baseline.kw.sum() * s.slot_hours - 1e-4
        if baseline.status is not Status.SHORT:
            assert optimal.status is Status.OPTIMAL
            slack = 1e-6 * (1 + baseline.cost.total_mxn) + 1e-4 * delivered
            assert optimal.cost.total_mxn <= baseline.cost.total_mxn + slack


@settings(max_examples=40, deadline=None, database=None)
@given(scenarios())
def test_a_short_plan_gives_every_short_car_the_same_share_or_all_it_can_take(
    s: Scenario,
) -> None:
    plan = plan_optimal(s)
    cars = s.arrays()
    short = np.array([plan.short_kwh[v] for v in plan.vehicle_ids])
    needy = short > 0
    if not needy.any():
        return
    # A car short of more than the share the least-served car got is short because of
    # its own window or kW limit: it takes all it can alone.
    share = 1 - short / np.where(cars.need_kwh > 0, cars.need_kwh, 1)
    alone = cars.limit_kw * (cars.departure - cars.arrival) * s.slot_hours
    delivered = cars.need_kwh - short
    lowest = share[needy].min()
    worse = needy & (share < lowest + 1e-4)
    assert worse.any()
    for i in np.flatnonzero(needy & ~worse):
        assert share[i] >= lowest - 1e-4 or delivered[i] >= alone[i] - 1e-4


# -- the scenario's checks ------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"vehicles": [{"departure_slot": 2, "arrival_slot": 5}]}, "before arrival_slot 5"),
        ({"vehicles": [{"energy_kwh": -1.0}]}, "energy_kwh must be a number, not negative"),
        ({"vehicles": [{"connector": "C9"}]}, "unknown connector 'C9'"),
        ({"energy_price_mxn_per_kwh": [0.9] * 7}, "7 entries, not one per slot (8)"),
        ({"punta": [False] * 9}, "punta has 9 entries"),
        ({"vehicles": [{"departure_slot": 9}]}, "after the horizon"),
        ({"site_limit_kw": -5}, "site_limit_kw must be a number"),
        ({"punta": [0] * 8}, "true or false"),
    ],
)
def test_a_bad_scenario_is_refused_with_the_field_named(
    change: dict[str, Any], message: str
) -> None:
    vehicles = change.pop("vehicles", [{}])
    with pytest.raises(ScenarioError) as refused:
        scenario(vehicles=vehicles, **change)
    assert message in str(refused.value)


def test_cars_overlapping_on_a_connector_are_refused() -> None:
    with pytest.raises(ScenarioError, match="A and B overlap on connector C1"):
        Scenario(
            slots=8,
            site_limit_kw=100.0,
            energy_price_mxn_per_kwh=np.full(8, 1.0),
            punta=np.zeros(8, dtype=bool),
            capacity_mxn_per_kw=0.0,
            distribution_mxn_per_kw=0.0,
            connectors=(Connector("C1", 22.0),),
            vehicles=(Vehicle("A", "C1", 0, 5, 10.0, 50.0), Vehicle("B", "C1", 4, 8, 10.0, 50.0)),
        )


@pytest.mark.parametrize("strategy", ["optimal", "greedy-cheapest"])
def test_a_car_whose_charger_refuses_profiles_is_a_fixed_load_at_full_power(strategy):
    """V0's charger takes no profile: it draws 40 kW from its arrival until its 20 kWh are
    in; V1, controlled, is planned in what the 60 kW site limit leaves, in the cheap slots."""
    s = scenario(
        8,
        [
            {"energy_kwh": 20.0, "max_kw": 40.0, "controlled": False},
            {"energy_kwh": 10.0, "max_kw": 50.0},
        ],
        site_limit_kw=60.0,
        energy_price_mxn_per_kwh=[PUNTA] * 4 + [BASE] * 4,
    )
    plan = make_plan(s, strategy)
    assert plan.kw[0].tolist() == pytest.approx([40.0, 40.0, 0, 0, 0, 0, 0, 0])
    assert (plan.kw.sum(axis=0) <= 60.0 + 1e-6).all()
    assert plan.kw[1, :4].sum() == pytest.approx(0.0, abs=1e-6)  # after the dear slots
    assert plan.kw[1].sum() * 0.25 == pytest.approx(10.0)
    assert plan.short_kwh == {"V0": 0.0, "V1": 0.0}


def test_an_uncontrolled_car_takes_its_share_first_and_the_others_adapt():
    """Two refusing cars of 50 kW on a 60 kW site share it; the controlled car, which the
    uncontrolled pair leaves no room until they are done, gets the rest later."""
    s = scenario(
        8,
        [
            {"energy_kwh": 15.0, "controlled": False},
            {"energy_kwh": 15.0, "controlled": False},
            {"energy_kwh": 10.0},
        ],
        site_limit_kw=60.0,
    )
    plan = make_plan(s, "optimal")
    assert plan.kw[0, 0] == pytest.approx(30.0)
    assert plan.kw[1, 0] == pytest.approx(30.0)
    assert plan.kw[2, :2].sum() == pytest.approx(0.0, abs=1e-6)
    assert plan.status == Status.OPTIMAL
    with pytest.raises(ScenarioError, match="controlled"):
        scenario(2, [{"controlled": "no"}])
