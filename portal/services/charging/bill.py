"""A depot's CFE bill for a month, from its chargers' energy meter values.

`month_bill(session, depot, month)` bills a local calendar month as CFE would
(`../shared/domain/charging-cfe-tariffs.md`, the "GDMTH prices" table), to date when the
month is still running:

- **Energy**: the chargers' `Energy.Active.Import.Register` readings (phase total, in Wh
  or kWh) give the kWh of every 15-minute interval of the month: each charger outlet's
  register is read linearly between its readings (a reading before the month and one
  after it close the edges), and a register that goes down (a meter reset, or a charger
  that counts per transaction) starts over without counting the drop. A charger that
  reports its outlets' registers (EVSE 1, 2...) is not counted again on EVSE 0. Each
  interval's kWh take the period of its local start (`charging.tariffs.period_at`:
  season, day type with holidays as Sundays, hour) under the tariff in effect on its
  local date, and that tariff's price; transmission is billed on every kWh.
- **Demand**: an interval's kW are its kWh × 60 / 15 (the 15-minute demand CFE's meter
  records). Capacity is billed, per the domain doc, "on max(kW in punta, 0.7 x 12-month
  max kW)": the month's highest punta demand, floored at 70 % of the highest demand of
  the twelve months ending with this one (GDMTO has no punta: its capacity falls on the
  month's highest demand, as `charging.tariffs.Tariff` says). Distribution is billed
  "on the highest kW in any period" of the month.
- **Fixed** charge once a month; then 16 % IVA on the subtotal. The power-factor
  surcharge is not billed (the chargers do not report reactive energy).

A tariff that changes inside the month prices each interval's energy with its own
prices; the monthly charges (capacity, distribution, fixed) are shared between the
tariffs by the days each is in effect. Days without any tariff bill no monthly charge
and their kWh are `unpriced_kwh`. Every line is rounded to the centavo (half up);
subtotal, IVA and total are integer centavos. No Flask, no commit.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from sqlalchemy import case, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by, array_agg, distinct_on
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from charging.store import ENERGY
from charging.tariffs import (
    Period,
    Tariff,
    TariffError,
    TariffKind,
    period_at,
    tariff_in_effect,
)
from portal.clock import now as clock_now
from portal.models import Charger, Depot, MeterValue
from portal.services.charging.smart import SLOT_MINUTES, NoTariff, depot_tariffs

IVA_RATE = Decimal("0.16")
CAPACITY_FLOOR_SHARE = 0.7  # of the 12-month highest demand (domain doc)
FLOOR_MONTHS = 12
SLOT_SECONDS = SLOT_MINUTES * 60
HOURS_PER_SLOT = SLOT_MINUTES / 60
ENERGY_PERIODS = (Period.BASE, Period.INTERMEDIA, Period.PUNTA, Period.UNICA)


class Charge(StrEnum):
    FIXED = "fixed"
    ENERGY = "energy"
    TRANSMISSION = "transmission"
    CAPACITY = "capacity"
    DISTRIBUTION = "distribution"


@dataclass(frozen=True)
class BillLine:
    """One line of the receipt: `quantity` (kWh, kW, or 1 month) × `unit_price_mxn` ×
    `share` (the part of the month its tariff was in effect; 1 for energy)."""

    charge: Charge
    period: Period | None  # the energy lines' period
    quantity: float
    unit_price_mxn: float
    share: float
    amount_cents: int
    tariff_from: date  # the effective date of the tariff it is billed under


@dataclass(frozen=True)
class MonthBill:
    depot_id: int
    month: date  # the first day of the local month
    start: datetime  # the month's first instant (aware)
    until: datetime  # its end, or now while it runs
    in_progress: bool
    kwh_by_period: dict[Period, float]
    punta_demand_kw: float
    max_demand_kw: float
    year_max_demand_kw: float  # the 12 months ending with this one
    capacity_demand_kw: float  # billed (GDMTH: punta, floored at 70 % of the year's)
    lines: list[BillLine]
    unpriced_kwh: float
    subtotal_cents: int
    iva_cents: int
    total_cents: int

    @property
    def kwh(self) -> float:
        return sum(self.kwh_by_period.values()) + self.unpriced_kwh


def _cents(mxn: Decimal) -> int:
    return int((mxn * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _line(
    charge: Charge,
    period: Period | None,
    quantity: float,
    price: float,
    share: float,
    tariff: Tariff,
) -> BillLine:
    amount = Decimal(repr(quantity)) * Decimal(repr(price)) * Decimal(repr(share))
    return BillLine(charge, period, quantity, price, share, _cents(amount), tariff.effective_from)


def month_start(month: date, zone: ZoneInfo) -> datetime:
    """The first instant of the local month, in UTC (so that arithmetic is in real time)."""
    return datetime(month.year, month.month, 1, tzinfo=zone).astimezone(UTC)


def _add_months(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def recent_months(today: date, count: int = 12) -> list[date]:
    """The first days of the last `count` months, this one first."""
    first = today.replace(day=1)
    return [_add_months(first, -k) for k in range(count)]


def _readings(
    session: Session, depot_id: int, start: datetime, end: datetime
) -> dict[tuple[int, int], tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
    """Each outlet's energy register (epoch seconds, Wh) from its last reading before
    `start` to its first at or after `end`, one value per instant: of the readings in
    between, each 15-minute interval's first and last (a reset inside one interval loses
    that interval's energy)."""
    wh = case(
        (func.lower(MeterValue.unit) == "kwh", MeterValue.value * 1000), else_=MeterValue.value
    )
    scope = (
        Charger.depot_id == depot_id,
        MeterValue.measurand == ENERGY,
        MeterValue.phase == "",
    )
    columns = (MeterValue.charger_id, MeterValue.evse_id, MeterValue.sampled_at, wh)

    def edge(before: bool) -> Sequence[Row[tuple[int, int, datetime, float]]]:
        when = MeterValue.sampled_at < start if before else MeterValue.sampled_at >= end
        order = MeterValue.sampled_at.desc() if before else MeterValue.sampled_at.asc()
        query = (
            select(*columns)
            .join(Charger, Charger.id == MeterValue.charger_id)
            .where(*scope, when)
            .ext(distinct_on(MeterValue.charger_id, MeterValue.evse_id))
            .order_by(MeterValue.charger_id, MeterValue.evse_id, order, wh.desc())
        )
        return session.execute(query).all()

    # Only an interval's first and last readings set the register at its edges: a year of
    # one-minute samples comes back as two readings per outlet and interval.
    interval = func.floor(func.extract("epoch", MeterValue.sampled_at) / SLOT_SECONDS)
    inside = session.execute(
        select(
            MeterValue.charger_id,
            MeterValue.evse_id,
            func.min(MeterValue.sampled_at),
            array_agg(aggregate_order_by(wh, MeterValue.sampled_at.asc()))[1],
            func.max(MeterValue.sampled_at),
            array_agg(aggregate_order_by(wh, MeterValue.sampled_at.desc()))[1],
        )
        .join(Charger, Charger.id == MeterValue.charger_id)
        .where(*scope, MeterValue.sampled_at >= start, MeterValue.sampled_at < end)
        .group_by(MeterValue.charger_id, MeterValue.evse_id, interval)
    ).all()
    readings = [
        *edge(True),
        *((c, e, t, v) for c, e, t, v, _t, _v in inside),
        *((c, e, t, v) for c, e, _t, _v, t, v in inside),
        *edge(False),
    ]
    series: dict[tuple[int, int], dict[float, float]] = defaultdict(dict)
    for charger_id, evse_id, sampled_at, value in readings:
        points = series[charger_id, evse_id]
        at = sampled_at.timestamp()
        points[at] = max(points.get(at, 0.0), float(value))
    outlets = {charger for charger, evse in series if evse > 0}
    result = {}
    for (charger_id, evse_id), points in series.items():
        if evse_id == 0 and charger_id in outlets:
            continue  # the charger's total, already counted per outlet
        times = np.array(sorted(points), dtype=np.float64)
        result[charger_id, evse_id] = (times, np.array([points[t] for t in sorted(points)]))
    return result


def interval_kwh(
    session: Session, depot_id: int, start: datetime, end: datetime
) -> npt.NDArray[np.float64]:
    """The depot's kWh in each 15-minute interval from `start` (on a quarter hour) to
    `end` (the last interval ends there, whole or not), from its energy registers."""
    first, last = start.timestamp(), end.timestamp()
    bounds = np.append(np.arange(first, last, SLOT_SECONDS, dtype=np.float64), last)
    total = np.zeros(len(bounds) - 1)
    for times, wh in _readings(session, depot_id, start, end).values():
        steps = np.diff(wh)
        steps[steps < 0] = 0.0  # a reset starts over
        register = np.concatenate(([0.0], np.cumsum(steps)))
        total += np.diff(np.interp(bounds, times, register))
    return total / 1000.0


def _tariff_of_day(tariffs: list[Tariff], day: date) -> Tariff | None:
    try:
        return tariff_in_effect(tariffs, day)
    except TariffError:  # none yet
        return None


def month_bill(
    session: Session, depot: Depot, month: date, now: datetime | None = None
) -> MonthBill:
    """The depot's bill for the local month holding `month` (to `now` while it runs).

    Raises `NoTariff` when no tariff of the depot is in effect on any day of the month.
    """
    zone = ZoneInfo(depot.timezone)
    now = now or clock_now()
    month = month.replace(day=1)
    start = month_start(month, zone)
    end = month_start(_add_months(month, 1), zone)
    until = min(end, max(start, now))
    tariffs = depot_tariffs(session, depot.id)
    days = calendar.monthrange(month.year, month.month)[1]
    daily = [_tariff_of_day(tariffs, month + timedelta(days=d)) for d in range(days)]
    if not any(daily):
        raise NoTariff(depot.id)

    # A year of intervals for the capacity floor; this month's are the last ones.
    year_start = month_start(_add_months(month, 1 - FLOOR_MONTHS), zone)
    year = interval_kwh(session, depot.id, year_start, until)
    offset = round((start - year_start).total_seconds() / SLOT_SECONDS)
    kwh = year[offset:]
    kw = kwh / HOURS_PER_SLOT

    energy: dict[tuple[date, Period], float] = defaultdict(float)
    by_from = {t.effective_from: t for t in daily if t is not None}
    unpriced = 0.0
    punta_kw = 0.0
    for i, value in enumerate(kwh):
        at = start + timedelta(seconds=SLOT_SECONDS * i)
        tariff = daily[at.astimezone(zone).day - 1]
        if tariff is None:
            unpriced += float(value)
            continue
        period = period_at(tariff.kind, at)
        energy[tariff.effective_from, period] += float(value)
        if period is Period.PUNTA:
            punta_kw = max(punta_kw, float(kw[i]))
    max_kw = float(kw.max(initial=0.0))
    year_max_kw = float(year.max(initial=0.0)) / HOURS_PER_SLOT

    lines: list[BillLine] = []
    shares = {
        f: sum(t is not None and t.effective_from == f for t in daily) / days for f in by_from
    }
    for effective_from, tariff in sorted(by_from.items()):
        lines.append(
            _line(Charge.FIXED, None, 1, tariff.fixed_mxn_per_month, shares[effective_from], tariff)
        )
    capacity_kw = punta_kw
    for effective_from, tariff in sorted(by_from.items()):
        share = shares[effective_from]
        periods = [p for p in ENERGY_PERIODS if p in tariff.energy_mxn_per_kwh]
        for period in periods:
            price = tariff.energy_mxn_per_kwh[period]
            lines.append(
                _line(Charge.ENERGY, period, energy[effective_from, period], price, 1, tariff)
            )
        if tariff.transmission_mxn_per_kwh:
            kwh_total = sum(energy[effective_from, p] for p in periods)
            lines.append(
                _line(
                    Charge.TRANSMISSION, None, kwh_total, tariff.transmission_mxn_per_kwh, 1, tariff
                )
            )
        if tariff.kind is TariffKind.GDMTH:
            capacity_kw = max(punta_kw, CAPACITY_FLOOR_SHARE * year_max_kw)
        else:
            capacity_kw = max_kw
        lines.append(
            _line(Charge.CAPACITY, None, capacity_kw, tariff.capacity_mxn_per_kw, share, tariff)
        )
        lines.append(
            _line(Charge.DISTRIBUTION, None, max_kw, tariff.distribution_mxn_per_kw, share, tariff)
        )
    subtotal = sum(line.amount_cents for line in lines)
    iva = _cents(Decimal(subtotal) * IVA_RATE / 100)
    by_period: dict[Period, float] = defaultdict(float)
    for tariff in by_from.values():
        for period in tariff.energy_mxn_per_kwh:
            by_period[period] += energy[tariff.effective_from, period]
    return MonthBill(
        depot_id=depot.id,
        month=month,
        start=start,
        until=until,
        in_progress=until < end,
        kwh_by_period={p: by_period[p] for p in ENERGY_PERIODS if p in by_period},
        punta_demand_kw=punta_kw,
        max_demand_kw=max_kw,
        year_max_demand_kw=year_max_kw,
        capacity_demand_kw=capacity_kw,
        lines=lines,
        unpriced_kwh=unpriced,
        subtotal_cents=subtotal,
        iva_cents=iva,
        total_cents=subtotal + iva,
    )
