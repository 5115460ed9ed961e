"""Energy per depot per day as a stacked bar chart (kWh, a segment per depot); a depot's
smart-charging plan as stacked kW per car against the site limit, punta shaded; a
depot's month as a CFE receipt with its kWh by period."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.i18n import local_date, local_datetime, number, unit_price
from portal.models import ChargingPlan
from portal.services.charging import profiles
from portal.services.charging.bill import BillLine, Charge, MonthBill
from portal.services.charging.board import DepotEnergy
from portal.web.charts import Chart, StackedChart, build, stacked
from portal.web.labels import BILL_CHARGE_LABELS, ENERGY_CHARGE_LABELS, TARIFF_PERIOD_LABELS


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


@dataclass(frozen=True)
class BillRow:
    label: str
    quantity: str
    price: str
    amount_cents: int


@dataclass(frozen=True)
class BillGroup:
    """The lines billed under one tariff; `heading` names the tariff and its days when
    it did not hold the whole month."""

    heading: str | None
    rows: list[BillRow]


@dataclass(frozen=True)
class BillView:
    groups: list[BillGroup]
    chart: Chart
    period: str  # the days billed


def _bill_row(line: BillLine) -> BillRow:
    if line.charge is Charge.ENERGY and line.period is not None:
        label = str(ENERGY_CHARGE_LABELS[line.period])
    else:
        label = str(BILL_CHARGE_LABELS[line.charge])
    if line.charge in (Charge.ENERGY, Charge.TRANSMISSION):
        quantity = f"{number(line.quantity, 1)} kWh"
    elif line.charge is Charge.FIXED:
        quantity = _("1 month")
    else:
        quantity = f"{number(line.quantity, 1)} kW"
    return BillRow(label, quantity, unit_price(line.unit_price_mxn), line.amount_cents)


def _bill_groups(bill: MonthBill, month_days: int) -> list[BillGroup]:
    tariffs = sorted({line.tariff_from for line in bill.lines})
    groups = []
    for tariff_from in tariffs:
        lines = [line for line in bill.lines if line.tariff_from == tariff_from]
        share = next(line.share for line in lines if line.charge is Charge.FIXED)
        heading = None
        if len(tariffs) > 1 or share < 1:
            heading = _(
                "Tariff from %(date)s: %(days)d of %(month_days)d days",
                date=local_date(tariff_from, "d MMM y"),
                days=round(share * month_days),
                month_days=month_days,
            )
        groups.append(BillGroup(heading, [_bill_row(line) for line in lines]))
    return groups


def bill_view(bill: MonthBill) -> BillView:
    """A month's bill as the lines of a CFE receipt, and its kWh by period as bars."""
    month_days = calendar.monthrange(bill.month.year, bill.month.month)[1]
    periods = list(bill.kwh_by_period)
    chart = build(
        "bill-kwh",
        _("kWh by period"),
        "bar",
        [str(TARIFF_PERIOD_LABELS[p]) for p in periods],
        [bill.kwh_by_period[p] for p in periods],
        [f"{number(bill.kwh_by_period[p], 1)} kWh" for p in periods],
        unit="kWh",
        label_header=_("Period"),
        size=(420, 240),
    )
    if bill.in_progress:
        period = _(
            "Month in progress: from %(first)s to %(now)s",
            first=local_date(bill.month, "d MMM y"),
            now=local_datetime(bill.until, "d MMM y, HH:mm"),
        )
    else:
        period = _(
            "From %(first)s to %(last)s",
            first=local_date(bill.month, "d MMM y"),
            last=local_date(bill.month.replace(day=month_days), "d MMM y"),
        )
    return BillView(_bill_groups(bill, month_days), chart, period)
