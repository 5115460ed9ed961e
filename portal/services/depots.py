"""Depots: where the cars sleep and charge. Their address and time zone, the site's
power limit, their CFE tariff as effective-dated data, and retirement.

The energy price a driver pays per kWh (dated) is `charging.set_energy_price`.
`tariff_history` returns a depot's tariffs in the shape of the smart-charging engine's
`Tariff` (kind, effective_from, one energy price per period, capacity, distribution,
fixed, transmission).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from portal.db import utcnow
from portal.models import (
    TARIFF_PERIODS,
    Depot,
    DepotTariff,
    DepotTariffPrice,
    TariffKind,
    TariffPeriod,
    Vehicle,
)
from portal.models.fleet import RETIRED_STATUSES

from . import N_, DomainError, FieldError, audit

MAX_SITE_KW = Decimal("100000")
MAX_ENERGY_MXN = Decimal("100")  # per kWh: anything above is a typo
MAX_DEMAND_MXN = Decimal("10000")  # per kW-month
MAX_FIXED_MXN = Decimal("1000000")  # per month


@dataclass(frozen=True, slots=True)
class DepotData:
    code: str
    name: str
    address: str
    timezone: str
    site_power_kw: Decimal


@dataclass(frozen=True, slots=True)
class TariffData:
    kind: TariffKind
    effective_from: date
    energy_mxn_per_kwh: Mapping[TariffPeriod, Decimal]
    capacity_mxn_per_kw: Decimal
    distribution_mxn_per_kw: Decimal
    fixed_mxn_per_month: Decimal
    transmission_mxn_per_kwh: Decimal = Decimal(0)


def _clean(session: Session, data: DepotData, depot: Depot | None) -> dict[str, object]:
    code = data.code.strip().upper()
    if not (1 <= len(code) <= 10 and code.replace("-", "").isalnum() and code.isascii()):
        raise FieldError("code", N_("A depot code has 1 to 10 letters, digits or dashes."))
    taken = session.scalar(select(Depot.id).where(func.upper(Depot.code) == code))
    if taken is not None and (depot is None or taken != depot.id):
        raise FieldError("code", N_("Another depot has that code."))
    name = data.name.strip()
    if not 2 <= len(name) <= 100:
        raise FieldError("name", N_("Write the depot's name."))
    address = data.address.strip()
    if not 5 <= len(address) <= 300:
        raise FieldError("address", N_("Write the depot's address."))
    if data.timezone not in available_timezones():
        raise FieldError("timezone", N_("Choose a time zone from the list."))
    if not Decimal(0) < data.site_power_kw <= MAX_SITE_KW:
        raise FieldError(
            "site_power_kw", N_("The site's power limit is a number of kW above zero.")
        )
    return {
        "code": code,
        "name": name,
        "address": address,
        "timezone": data.timezone,
        "site_power_kw": data.site_power_kw.quantize(Decimal("0.1")),
    }


def create_depot(
    session: Session,
    data: DepotData,
    tariff: TariffData,
    *,
    actor_id: int | None,
    ip: str | None = None,
) -> Depot:
    """A depot with its first CFE tariff."""
    depot = Depot(**_clean(session, data, None), cfe_tariff=tariff.kind.value)
    session.add(depot)
    session.flush()
    audit.record(session, actor_id, "depot.created", depot, ip=ip, code=depot.code)
    set_tariff(session, depot, tariff, actor_id=actor_id, ip=ip)
    return depot


def update_depot(
    session: Session, depot: Depot, data: DepotData, *, actor_id: int, ip: str | None = None
) -> list[str]:
    """Change what is written; returns the names of the fields that changed (audited)."""
    values = _clean(session, data, depot)
    changed = sorted(k for k, v in values.items() if getattr(depot, k) != v)
    for key in changed:
        setattr(depot, key, values[key])
    if changed:
        session.flush()
        audit.record(session, actor_id, "depot.updated", depot, ip=ip, fields=changed)
    return changed


def _money(value: Decimal, field: str, ceiling: Decimal) -> Decimal:
    try:
        ok = value.is_finite() and Decimal(0) <= value <= ceiling
    except InvalidOperation:
        ok = False
    if not ok:
        raise FieldError(field, N_("Write an amount in pesos, zero or more."))
    return value.quantize(Decimal("0.0001"))


def set_tariff(
    session: Session,
    depot: Depot,
    data: TariffData,
    *,
    actor_id: int | None,
    ip: str | None = None,
) -> DepotTariff:
    """The depot's tariff from `effective_from` on (replacing one set for that very day).

    A tariff never changes the past: a date before today's tariff is refused once it
    has a tariff in effect (the bills already computed stay true)."""
    periods = TARIFF_PERIODS[data.kind]
    if set(data.energy_mxn_per_kwh) != set(periods):
        raise FieldError("kind", N_("Give one energy price per period of the tariff."))
    prices = {
        p: _money(data.energy_mxn_per_kwh[p], f"energy_{p.value}", MAX_ENERGY_MXN) for p in periods
    }
    capacity = _money(data.capacity_mxn_per_kw, "capacity_mxn_per_kw", MAX_DEMAND_MXN)
    distribution = _money(data.distribution_mxn_per_kw, "distribution_mxn_per_kw", MAX_DEMAND_MXN)
    fixed = _money(data.fixed_mxn_per_month, "fixed_mxn_per_month", MAX_FIXED_MXN)
    transmission = _money(data.transmission_mxn_per_kwh, "transmission_mxn_per_kwh", MAX_ENERGY_MXN)
    today = depot_today(depot)
    in_effect = current_tariff(session, depot.id, today)
    if in_effect is not None and data.effective_from < in_effect.effective_from:
        raise FieldError(
            "effective_from",
            N_("A tariff cannot start before the one in effect (%(day)s)."),
            day=in_effect.effective_from.isoformat(),
        )
    tariff = session.scalar(
        select(DepotTariff)
        .options(selectinload(DepotTariff.prices))
        .where(DepotTariff.depot_id == depot.id, DepotTariff.effective_from == data.effective_from)
    )
    if tariff is None:
        tariff = DepotTariff(depot_id=depot.id, effective_from=data.effective_from, prices=[])
        session.add(tariff)
    tariff.kind = data.kind
    tariff.capacity_mxn_per_kw = capacity
    tariff.distribution_mxn_per_kw = distribution
    tariff.fixed_mxn_per_month = fixed
    tariff.transmission_mxn_per_kwh = transmission
    tariff.created_by_id = actor_id
    tariff.prices = [DepotTariffPrice(period=p, mxn_per_kwh=v) for p, v in prices.items()]
    session.flush()
    if data.effective_from <= today:
        depot.cfe_tariff = data.kind.value  # the kind in effect, as the lists show it
    audit.record(
        session,
        actor_id,
        "depot.tariff_set",
        depot,
        ip=ip,
        tariff_id=tariff.id,
        kind=data.kind.value,
        effective_from=data.effective_from.isoformat(),
        energy={p.value: str(v) for p, v in prices.items()},
        capacity=str(capacity),
        distribution=str(distribution),
        fixed=str(fixed),
        transmission=str(transmission),
    )
    return tariff


def depot_today(depot: Depot) -> date:
    return utcnow().astimezone(ZoneInfo(depot.timezone)).date()


def current_tariff(session: Session, depot_id: int, on: date) -> DepotTariff | None:
    return session.scalar(
        select(DepotTariff)
        .options(selectinload(DepotTariff.prices))
        .where(DepotTariff.depot_id == depot_id, DepotTariff.effective_from <= on)
        .order_by(DepotTariff.effective_from.desc())
        .limit(1)
    )


def tariff_history(session: Session, depot_id: int) -> list[DepotTariff]:
    """Every tariff of the depot, newest first (the engine picks the one in effect)."""
    return list(
        session.scalars(
            select(DepotTariff)
            .options(selectinload(DepotTariff.prices))
            .where(DepotTariff.depot_id == depot_id)
            .order_by(DepotTariff.effective_from.desc())
        )
    )


def engine_fields(tariff: DepotTariff) -> dict[str, Any]:
    """The keyword arguments of the smart-charging engine's `charging.tariffs.Tariff`."""
    return {
        "kind": tariff.kind.value,
        "effective_from": tariff.effective_from,
        "energy_mxn_per_kwh": {p.period.value: float(p.mxn_per_kwh) for p in tariff.prices},
        "capacity_mxn_per_kw": float(tariff.capacity_mxn_per_kw),
        "distribution_mxn_per_kw": float(tariff.distribution_mxn_per_kw),
        "fixed_mxn_per_month": float(tariff.fixed_mxn_per_month),
        "transmission_mxn_per_kwh": float(tariff.transmission_mxn_per_kwh),
    }


def retire_depot(session: Session, depot: Depot, *, actor_id: int, ip: str | None = None) -> None:
    """A depot that closes keeps its history; it must hold no car of the fleet first."""
    if depot.retired_at is not None:
        return
    cars = session.scalar(
        select(func.count(Vehicle.id)).where(
            Vehicle.depot_id == depot.id, Vehicle.status.not_in(list(RETIRED_STATUSES))
        )
    )
    if cars:
        raise DomainError(
            N_("%(count)d cars still belong to this depot; move them first."), count=cars
        )
    depot.retired_at = utcnow()
    session.flush()
    audit.record(session, actor_id, "depot.retired", depot, ip=ip)


def list_depots(session: Session, *, include_retired: bool = False) -> list[Depot]:
    query = select(Depot).order_by(Depot.name)
    if not include_retired:
        query = query.where(Depot.retired_at.is_(None))
    return list(session.scalars(query))


def get_depot(session: Session, depot_id: int) -> Depot:
    depot = session.get(Depot, depot_id)
    if depot is None:
        raise DomainError(N_("That depot does not exist."))
    return depot
