"""CFE's medium-voltage tariffs as data, and the energy price of any local time.

A depot pays CFE under GDMTH (time of use, 100 kW contracted or more) or GDMTO (one
energy price all day). A tariff is a plain, effective-dated record of prices
(:class:`Tariff`), stored per depot; what CFE fixes for everyone — the seasons, the day
types and the hours of each period — is the data in this module (``GDMTH_HOURS``).

- **Season**: summer runs from the first Sunday of April to the Saturday before the last
  Sunday of October (CFE's wording); the rest of the year is winter.
- **Day type**: Monday to Friday, Saturday, or Sunday. A Mexican official holiday counts
  as a Sunday: the days of rest of the Ley Federal del Trabajo, art. 74, with its Monday
  rules (first Monday of February, third Monday of March and of November) and the
  change of federal government every six years, as the ``holidays`` package computes
  them. CFE excludes art. 74's election days, which fall on Sundays anyway.
- **Hours**: the central system's table, as public bill calculators apply it; the
  regional tables (Baja California, Baja California Sur, Noroeste...) are not known.

:func:`rate_at` answers the period and the price of any instant;
:func:`slot_rates` builds the per-slot arrays the planner takes. Times are aware
datetimes, read in America/Mexico_City. Prices are MXN per unit as CFE publishes
them (0.8912 MXN/kWh); amounts billed become integer centavos where they are posted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import numpy.typing as npt

MEXICO_CITY = ZoneInfo("America/Mexico_City")


class TariffKind(StrEnum):
    GDMTH = "GDMTH"  # gran demanda en media tensión horaria
    GDMTO = "GDMTO"  # gran demanda en media tensión ordinaria


class Period(StrEnum):
    """An energy period. GDMTH has three; GDMTO's one price holds all day (``UNICA``)."""

    BASE = "base"
    INTERMEDIA = "intermedia"
    PUNTA = "punta"
    UNICA = "unica"


class Season(StrEnum):
    SUMMER = "summer"
    WINTER = "winter"


class DayType(StrEnum):
    WEEKDAY = "weekday"  # Monday to Friday
    SATURDAY = "saturday"
    SUNDAY = "sunday"  # and every official holiday


PERIODS: Mapping[TariffKind, frozenset[Period]] = MappingProxyType(
    {
        TariffKind.GDMTH: frozenset({Period.BASE, Period.INTERMEDIA, Period.PUNTA}),
        TariffKind.GDMTO: frozenset({Period.UNICA}),
    }
)


def _hours(*spans: tuple[int, int, Period]) -> tuple[Period, ...]:
    """The period of each hour 0..23, from (first hour, end hour, period) spans."""
    day: list[Period | None] = [None] * 24
    for start, end, period in spans:
        day[start:end] = [period] * (end - start)
    if None in day:
        raise ValueError("the spans must cover the 24 hours")
    return tuple(p for p in day if p is not None)


_B, _I, _P = Period.BASE, Period.INTERMEDIA, Period.PUNTA
# GDMTH, central system: the period of each hour of the day.
GDMTH_HOURS: Mapping[tuple[Season, DayType], tuple[Period, ...]] = MappingProxyType(
    {
        (Season.SUMMER, DayType.WEEKDAY): _hours(
            (0, 6, _B), (6, 20, _I), (20, 22, _P), (22, 24, _I)
        ),
        (Season.SUMMER, DayType.SATURDAY): _hours((0, 7, _B), (7, 24, _I)),
        (Season.SUMMER, DayType.SUNDAY): _hours((0, 19, _B), (19, 24, _I)),
        (Season.WINTER, DayType.WEEKDAY): _hours(
            (0, 6, _B), (6, 18, _I), (18, 22, _P), (22, 24, _I)
        ),
        (Season.WINTER, DayType.SATURDAY): _hours(
            (0, 8, _B), (8, 19, _I), (19, 21, _P), (21, 24, _I)
        ),
        (Season.WINTER, DayType.SUNDAY): _hours((0, 18, _B), (18, 24, _I)),
    }
)


class TariffError(ValueError):
    """A tariff record that cannot be used, or no tariff in effect on a day."""


@dataclass(frozen=True)
class Tariff:
    """A depot's CFE tariff from ``effective_from`` (a local date) until the next one.

    ``energy_mxn_per_kwh`` has one price per period of the kind (GDMTH: base,
    intermedia, punta; GDMTO: unica). ``transmission_mxn_per_kwh`` is CFE's transmission
    charge on every kWh (0 where the energy prices already include it). Capacity is
    billed per kW of the month's punta demand (GDMTO: of the month's highest demand;
    CFE's load-factor cap on GDMTO's billed demand is not modelled), distribution per kW
    of the month's highest demand, and the fixed charge once a month.
    """

    kind: TariffKind
    effective_from: date
    energy_mxn_per_kwh: Mapping[Period, float]
    capacity_mxn_per_kw: float
    distribution_mxn_per_kw: float
    fixed_mxn_per_month: float
    transmission_mxn_per_kwh: float = 0.0

    def __post_init__(self) -> None:
        kind = TariffKind(self.kind)
        prices = {Period(p): float(v) for p, v in self.energy_mxn_per_kwh.items()}
        if set(prices) != PERIODS[kind]:
            expected = ", ".join(sorted(PERIODS[kind]))
            raise TariffError(f"a {kind} tariff has one energy price per period: {expected}")
        charges = [
            *prices.values(),
            self.capacity_mxn_per_kw,
            self.distribution_mxn_per_kw,
            self.fixed_mxn_per_month,
            self.transmission_mxn_per_kwh,
        ]
        if not all(math.isfinite(c) and c >= 0 for c in charges):
            raise TariffError("tariff prices are finite and not negative")
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "energy_mxn_per_kwh", MappingProxyType(prices))


@dataclass(frozen=True)
class Rate:
    """What one instant costs: its period and the price of a kWh drawn then."""

    period: Period
    energy_mxn_per_kwh: float  # the period's energy price plus transmission
    tariff: Tariff

    @property
    def punta(self) -> bool:
        return self.period is Period.PUNTA


@dataclass(frozen=True)
class SlotRates:
    """The rates of consecutive slots from ``start``: the planner's price inputs.

    A slot takes the rate of its first instant (CFE's periods change on the hour, so a
    15-minute slot never straddles two). ``capacity_slots`` are the slots whose kW sets
    the capacity charge: punta under GDMTH, every slot under GDMTO — the planner's
    ``punta`` input. Capacity and distribution prices are those of the tariff in effect
    at ``start``.
    """

    start: datetime
    slot_minutes: int
    periods: tuple[Period, ...]
    energy_mxn_per_kwh: npt.NDArray[np.float64]
    punta: npt.NDArray[np.bool_]
    capacity_slots: npt.NDArray[np.bool_]
    capacity_mxn_per_kw: float
    distribution_mxn_per_kw: float


@lru_cache(maxsize=64)
def _holidays_of(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("MX", years=year))


def is_holiday(day: date) -> bool:
    """Whether ``day`` is a Mexican official holiday (LFT art. 74)."""
    return day in _holidays_of(day.year)


def _nth_sunday(year: int, month: int, nth: int) -> date:
    """The ``nth`` Sunday of a month; ``nth=-1`` is the last one."""
    if nth > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (nth - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() + 1) % 7)


def season_of(day: date) -> Season:
    """Summer from the first Sunday of April to the Saturday before October's last Sunday."""
    if _nth_sunday(day.year, 4, 1) <= day < _nth_sunday(day.year, 10, -1):
        return Season.SUMMER
    return Season.WINTER


def day_type_of(day: date) -> DayType:
    if day.weekday() == 6 or is_holiday(day):
        return DayType.SUNDAY
    if day.weekday() == 5:
        return DayType.SATURDAY
    return DayType.WEEKDAY


def _local(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("give an aware datetime (UTC or local with its offset)")
    return when.astimezone(MEXICO_CITY)


def period_at(kind: TariffKind, when: datetime) -> Period:
    """The energy period of ``kind`` at the instant ``when``."""
    if kind is TariffKind.GDMTO:
        return Period.UNICA
    local = _local(when)
    day = local.date()
    return GDMTH_HOURS[season_of(day), day_type_of(day)][local.hour]


def tariff_in_effect(tariffs: Sequence[Tariff], day: date) -> Tariff:
    """The tariff with the latest ``effective_from`` on or before the local ``day``."""
    candidates = [t for t in tariffs if t.effective_from <= day]
    if not candidates:
        raise TariffError(f"no tariff in effect on {day.isoformat()}")
    return max(candidates, key=lambda t: t.effective_from)


def rate_at(tariffs: Sequence[Tariff], when: datetime) -> Rate:
    """The period and the energy price at ``when`` under a depot's tariffs.

    ``tariffs`` is the depot's history (any order); the one in effect on the local date
    of ``when`` applies.
    """
    local = _local(when)
    tariff = tariff_in_effect(tariffs, local.date())
    period = period_at(tariff.kind, local)
    price = tariff.energy_mxn_per_kwh[period] + tariff.transmission_mxn_per_kwh
    return Rate(period=period, energy_mxn_per_kwh=price, tariff=tariff)


def slot_rates(
    tariffs: Sequence[Tariff], start: datetime, slots: int, slot_minutes: int = 15
) -> SlotRates:
    """The energy price and the punta flag of each of ``slots`` slots from ``start``."""
    if slots < 0 or slot_minutes <= 0:
        raise ValueError("slots is not negative and slot_minutes is positive")
    first = _local(start)
    step = timedelta(minutes=slot_minutes)
    # Step in UTC so that a slot is slot_minutes long whatever the local clock does.
    utc = first.astimezone(ZoneInfo("UTC"))
    rates = [rate_at(tariffs, utc + k * step) for k in range(slots)]
    opening = tariff_in_effect(tariffs, first.date())
    punta = np.array([r.punta for r in rates], dtype=np.bool_)
    gdmto = np.array([r.tariff.kind is TariffKind.GDMTO for r in rates], dtype=np.bool_)
    return SlotRates(
        start=first,
        slot_minutes=slot_minutes,
        periods=tuple(r.period for r in rates),
        energy_mxn_per_kwh=np.array([r.energy_mxn_per_kwh for r in rates], dtype=np.float64),
        punta=punta,
        capacity_slots=punta | gdmto,
        capacity_mxn_per_kw=opening.capacity_mxn_per_kw,
        distribution_mxn_per_kw=opening.distribution_mxn_per_kw,
    )
