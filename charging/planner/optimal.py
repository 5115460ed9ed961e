"""The least-cost plan: a linear program solved with HiGHS.

One variable per car per slot of its window (kW, between 0 and the car's limit) and
two peaks, the punta peak and the overall peak, each at least what the month has
already drawn and at least the site's total kW in every (punta) slot. The rows:

- per car, its energy: Σ_t kW × slot hours, between a floor and its need;
- per car, a fairness row used only when someone must be short: energy ≥ z × need;
- one row for the total energy (also only when someone is short);
- per slot, the site limit; per slot, the peak; per punta slot, the punta peak.

The objective is lexicographic and solved in stages on the same model, changing only
bounds and costs between them (HiGHS warm-starts from the previous basis):

1. Every car's need as its energy floor, minimising energy cost + capacity price × punta
   peak + distribution price × peak. Feasible: that is the plan.
2. Otherwise some car must be short: first the most energy in total; then, keeping that
   total, the fairest split — the largest z such that every car gets the share z of its
   need, repeated for the cars that can still get more once the ones that cannot
   (a non-zero dual on their fairness row) are fixed at their share (max-min fairness);
   then stage 1's cost with those amounts as the floors. (Cars, slots and limits form
   a flow network, where a max-min fair split also carries the most energy in total —
   Megiddo, 1974 — so the first step guards the order rather than changing the answer.)

A car that is not ``controlled`` has its columns fixed at its uncontrolled kW
(``heuristics.uncontrolled_kw``), so the others are planned around it.

Among plans of equal cost the solver prefers earlier charging (a cost of 1e-6 MXN per
kWh per slot of delay), so a car that leaves early is not left for last.
"""

from __future__ import annotations

import highspy
import numpy as np
import numpy.typing as npt
from scipy import sparse

from charging.planner.heuristics import uncontrolled_kw
from charging.planner.scenario import Scenario
from charging.planner.schedule import Plan, build_plan

_INF = highspy.kHighsInf
_EARLIER_MXN_PER_KWH_SLOT = 1e-6
_DUAL_TOLERANCE = 1e-9
_PRIMAL_SIMPLEX = 4  # HiGHS's simplex_strategy value
_Floats = npt.NDArray[np.float64]
_Ints = npt.NDArray[np.int32]


class PlanningError(RuntimeError):
    """HiGHS ended without an optimal solution (not a property of the scenario)."""


class _Model:
    """The scenario's LP, loaded once into a HiGHS instance and re-solved by stage."""

    def __init__(self, scenario: Scenario) -> None:
        cars = scenario.arrays()
        hours = scenario.slot_hours
        n_cars, n_slots = len(scenario.vehicles), scenario.slots
        self.need = cars.need_kwh
        self.limit = cars.limit_kw

        lengths = np.where(cars.limit_kw > 0, cars.departure - cars.arrival, 0)
        n = int(lengths.sum())
        self.car = np.repeat(np.arange(n_cars), lengths)
        first_column = np.cumsum(lengths) - lengths
        self.slot = (
            np.arange(n) - np.repeat(first_column, lengths) + np.repeat(cars.arrival, lengths)
        )
        self.n_cars, self.n_slots, self.n = n_cars, n_slots, n
        self.z, self.punta_peak, self.peak = n, n + 1, n + 2
        self.can_draw = np.bincount(self.car, minlength=n_cars) > 0

        # Rows: energy (cars), fairness (cars), total (1), site (slots), peak (slots),
        # punta peak (punta slots).
        self.energy_rows = np.arange(n_cars, dtype=np.int32)
        self.fair_rows = n_cars + self.energy_rows
        self.total_row = 2 * n_cars
        site_row = self.total_row + 1
        peak_row = site_row + n_slots
        punta_slots = np.flatnonzero(scenario.punta)
        punta_row = np.full(n_slots, -1)
        punta_row[punta_slots] = peak_row + n_slots + np.arange(punta_slots.size)
        n_rows = peak_row + n_slots + punta_slots.size

        columns = np.arange(n)
        in_punta = punta_row[self.slot] >= 0
        rows = np.concatenate(
            [
                self.car,
                n_cars + self.car,
                np.full(n, self.total_row),
                site_row + self.slot,
                peak_row + self.slot,
                punta_row[self.slot[in_punta]],
                self.fair_rows,
                peak_row + np.arange(n_slots),
                punta_row[punta_slots],
            ]
        )
        cols = np.concatenate(
            [
                columns,
                columns,
                columns,
                columns,
                columns,
                columns[in_punta],
                np.full(n_cars, self.z),
                np.full(n_slots, self.peak),
                np.full(punta_slots.size, self.punta_peak),
            ]
        )
        values = np.concatenate(
            [
                np.full(3 * n, hours),
                np.ones(2 * n + int(in_punta.sum())),
                -self.need,
                -np.ones(n_slots + punta_slots.size),
            ]
        )
        matrix = sparse.csc_array((values, (rows, cols)), shape=(n_rows, n + 3))

        row_lower = np.full(n_rows, -_INF)
        row_upper = np.zeros(n_rows)
        row_upper[:site_row] = _INF
        row_lower[self.energy_rows] = self.need
        row_upper[self.energy_rows] = self.need
        row_upper[site_row : site_row + n_slots] = scenario.site_limit_kw

        col_lower = np.zeros(n + 3)
        col_upper = np.concatenate([self.limit[self.car], [0.0, _INF, _INF]])
        self.controlled = cars.controlled
        if not cars.controlled.all():
            # Cars whose chargers refuse profiles: their uncontrolled kW, fixed; their need
            # is what that gives them.
            fixed_kw = uncontrolled_kw(scenario, ~cars.controlled)
            fixed = ~cars.controlled[self.car]
            col_lower[:n][fixed] = col_upper[:n][fixed] = fixed_kw[self.car, self.slot][fixed]
            self.need = np.where(cars.controlled, self.need, fixed_kw.sum(axis=1) * hours)
            row_lower[self.energy_rows] = row_upper[self.energy_rows] = self.need
        col_lower[self.punta_peak] = scenario.punta_peak_so_far_kw
        col_lower[self.peak] = scenario.peak_so_far_kw

        earlier = _EARLIER_MXN_PER_KWH_SLOT * self.slot
        self.cost = np.concatenate(
            [
                (scenario.energy_price_mxn_per_kwh[self.slot] + earlier) * hours,
                [0.0, scenario.capacity_mxn_per_kw, scenario.distribution_mxn_per_kw],
            ]
        )

        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n + 3, n_rows
        lp.col_cost_, lp.col_lower_, lp.col_upper_ = self.cost, col_lower, col_upper
        lp.row_lower_, lp.row_upper_ = row_lower, row_upper
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n + 3, n_rows
        lp.a_matrix_.start_ = matrix.indptr
        lp.a_matrix_.index_ = matrix.indices
        lp.a_matrix_.value_ = matrix.data
        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        self._call("passModel", self.highs.passModel(lp))
        self.all_columns = np.arange(n + 3, dtype=np.int32)

    def _call(self, what: str, status: highspy.HighsStatus) -> None:
        if status == highspy.HighsStatus.kError:
            raise PlanningError(f"HiGHS {what} failed")

    def solve(self) -> bool:
        """True when optimal, False when infeasible; PlanningError otherwise."""
        self._call("run", self.highs.run())
        status = self.highs.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            return True
        if status in (
            highspy.HighsModelStatus.kInfeasible,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        ):
            return False
        raise PlanningError(f"HiGHS ended with {self.highs.modelStatusToString(status)}")

    def set_rows(self, rows: _Ints | list[int], lower: _Floats, upper: _Floats) -> None:
        index = np.asarray(rows, dtype=np.int32)
        # changeRowsBounds is in HiGHS's API but missing from highspy's type stubs.
        changed = self.highs.changeRowsBounds(  # type: ignore[attr-defined]
            index.size, index, np.asarray(lower), np.asarray(upper)
        )
        self._call("changeRowsBounds", changed)

    def set_costs(self, cost: _Floats) -> None:
        columns = self.all_columns
        self._call("changeColsCost", self.highs.changeColsCost(columns.size, columns, cost))

    def set_z(self, upper: float) -> None:
        self._call("changeColBounds", self.highs.changeColBounds(self.z, 0.0, upper))

    def values(self) -> _Floats:
        return np.asarray(self.highs.getSolution().col_value)

    def row_duals(self) -> _Floats:
        return np.asarray(self.highs.getSolution().row_dual)

    def delivered_kwh(self, hours: float) -> _Floats:
        """Each car's energy in the current solution."""
        energy = np.bincount(self.car, weights=self.values()[: self.n], minlength=self.n_cars)
        return np.asarray(energy * hours, dtype=np.float64)

    def schedule(self) -> _Floats:
        kw = np.zeros((self.n_cars, self.n_slots))
        kw[self.car, self.slot] = self.values()[: self.n]
        return kw

    def set_fair_floors(self, hours: float) -> None:
        """Set each car's energy floor to its part of the most energy in total, split
        max-min fairly by share of need; back to the cost objective."""
        need = self.need
        drawing = np.zeros(self.n + 3)
        drawing[: self.n] = -hours
        self.set_costs(drawing)
        self.set_rows(self.energy_rows, np.zeros(self.n_cars), need)
        if not self.solve():
            raise PlanningError("the energy-only program is infeasible")
        # Floors come from the solution just found, which meets them: no false infeasibility.
        total = float(self.delivered_kwh(hours).sum())
        self.set_rows([self.total_row], np.array([total]), np.array([_INF]))
        # From here on every change keeps the last solution feasible (floors it meets,
        # rows relaxed, a new objective): primal simplex goes on from its basis.
        self.highs.setOptionValue("simplex_strategy", _PRIMAL_SIMPLEX)

        floors = np.zeros(self.n_cars)
        open_ = (need > 0) & self.can_draw & self.controlled
        z_only = np.zeros(self.n + 3)
        z_only[self.z] = -1.0
        self.set_costs(z_only)
        self.set_z(1.0)
        while open_.any():
            self.set_rows(self.fair_rows, np.where(open_, 0.0, -_INF), np.full(self.n_cars, _INF))
            if not self.solve():
                raise PlanningError("the fairness program is infeasible")
            share = min(float(self.values()[self.z]), 1.0)
            blocked = open_ & (np.abs(self.row_duals()[self.fair_rows]) > _DUAL_TOLERANCE)
            if share >= 1.0 - 1e-9 or not blocked.any():
                blocked = open_.copy()
            floors[blocked] = np.minimum(share * need, self.delivered_kwh(hours))[blocked]
            open_ &= ~blocked
            self.set_rows(self.energy_rows[blocked], floors[blocked], need[blocked])
        self.set_z(0.0)
        self.set_rows(self.fair_rows, np.full(self.n_cars, -_INF), np.full(self.n_cars, _INF))
        self.set_rows([self.total_row], np.array([-_INF]), np.array([_INF]))
        self.set_costs(self.cost)


def plan_optimal(scenario: Scenario) -> Plan:
    """Every car's need by its departure at the least cost; if impossible, the most
    energy in total shared max-min fairly (by share of need), at the least cost."""
    model = _Model(scenario)
    if not model.solve():
        model.set_fair_floors(scenario.slot_hours)
        if not model.solve():
            raise PlanningError("the cost program is infeasible at the fair floors")
    return build_plan(scenario, "optimal", model.schedule(), least_cost=True)
