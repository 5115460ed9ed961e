"""Energy per depot per day as a stacked bar chart (kWh, a segment per depot); a depot's
smart-charging plan as stacked kW per car against the site limit, punta shaded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import lazy_gettext as _l

from portal.i18n import local_date, local_datetime, number
from portal.models import ChargingPlan
from portal.services.charging import profiles
from portal.services.charging.board import DepotEnergy
from portal.web.charts import StackedChart, stacked


def energy_chart(report: list[DepotEnergy]) -> StackedChart:
    days = [d.day for d in report[0].days] if report else []
    series = [
        (
            r.depot.name,
            [d.kwh for d in r.days],
            [f"{r.depot.name}: {number(d.kwh, 1)} kWh" for d in r.days],
        )
        for r in report
    ]
    return stacked(
        [local_date(day, "d/M") for day in days],
        series,
        axis_text=lambda kwh: number(kwh),
        floor=40,
    )


@dataclass(frozen=True)
class CostRow:
    label: str
    plan_cents: int
    uncontrolled_cents: int

    @property
    def saving_cents(self) -> int:
        return self.uncontrolled_cents - self.plan_cents

    @property
    def saving_pct(self) -> float:
        return 100 * self.saving_cents / self.uncontrolled_cents if self.uncontrolled_cents else 0.0


@dataclass(frozen=True)
class PlanView:
    chart: StackedChart
    costs: list[CostRow]
    short: list[tuple[str, float]]  # (plate, kWh short)
    profiles: list[tuple[str, str]]  # (plate, where its charging profile stands)


PROFILE_LABELS = {
    profiles.SENT: _l("Profile sent"),
    profiles.CONFIRMED: _l("Profile confirmed by the charger"),
    profiles.DIFFERS: _l("The charger's schedule differs from the plan"),
    profiles.UNCONFIRMED: _l("Profile accepted; the charger did not confirm its schedule"),
    profiles.FAILED: _l("Profile not applied"),
    profiles.REFUSES: _l("Its charger refuses charging profiles: planned at full power"),
}


_COST_LABELS = (
    ("energy", _l("Energy")),
    ("capacity", _l("Capacity")),
    ("distribution", _l("Distribution")),
    ("total", _l("Total")),
)


def plan_view(
    plan: ChargingPlan, states: Mapping[str, profiles.ProfileState] | None = None
) -> PlanView:
    """A depot's plan: kW per car stacked per slot against the site limit, punta shaded;
    its cost against uncontrolled charging; the cars that would leave short; where each
    car's charging profile stands (``states``, `profiles.plan_profiles`)."""
    starts = [
        plan.start_at + timedelta(minutes=plan.slot_minutes * i) for i in range(len(plan.punta))
    ]
    labels = [local_datetime(s, "HH:mm") if i % 8 == 0 else "" for i, s in enumerate(starts)]
    names = {key: car.get("plate") or key for key, car in plan.cars.items()}
    series = [
        (
            names[key],
            kw,
            [
                f"{names[key]} {local_datetime(s, 'HH:mm')}: {number(v, 1)} kW"
                for s, v in zip(starts, kw, strict=True)
            ],
        )
        for key, kw in plan.schedule.items()
    ]
    chart = stacked(
        labels,
        series,
        axis_text=lambda kw: f"{number(kw)} kW",
        shade=plan.punta,
        limit=plan.site_limit_kw,
    )
    costs = [
        CostRow(str(label), plan.costs["plan"][key], plan.costs["uncontrolled"][key])
        for key, label in _COST_LABELS
    ]
    short = [(names.get(key, key), kwh) for key, kwh in plan.short_kwh.items()]
    sent = [
        (names.get(key, key), str(PROFILE_LABELS[state.state]))
        for key, state in (states or {}).items()
    ]
    return PlanView(chart, costs, short, sent)
