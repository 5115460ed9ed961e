"""Energy prices per depot (effective-dated) and what a session's energy costs."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import (
    DepotEnergyPrice,
)
from portal.services import N_, DomainError, audit


def set_energy_price(
    session: Session,
    depot_id: int,
    valid_from: date,
    price_per_kwh_cents: int,
    *,
    actor_id: int | None = None,
) -> DepotEnergyPrice:
    """Set the depot's price per kWh from `valid_from` on (replacing one set for that day)."""
    if not 1 <= price_per_kwh_cents <= 10_000:
        raise DomainError(N_("The price per kWh must be between $0.01 and $100.00."))
    price = session.scalar(
        select(DepotEnergyPrice).where(
            DepotEnergyPrice.depot_id == depot_id, DepotEnergyPrice.valid_from == valid_from
        )
    )
    if price is None:
        price = DepotEnergyPrice(depot_id=depot_id, valid_from=valid_from)
        session.add(price)
    price.price_per_kwh_cents = price_per_kwh_cents
    price.created_by_id = actor_id
    session.flush()
    if actor_id is not None:
        audit.record(
            session, actor_id, "energy_price.set", price, price_per_kwh_cents=price_per_kwh_cents
        )
    return price


def energy_price_on(session: Session, depot_id: int, on: date) -> int | None:
    """The depot's price per kWh in centavos on `on` (a local date), or None if unset."""
    return session.scalar(
        select(DepotEnergyPrice.price_per_kwh_cents)
        .where(DepotEnergyPrice.depot_id == depot_id, DepotEnergyPrice.valid_from <= on)
        .order_by(DepotEnergyPrice.valid_from.desc())
        .limit(1)
    )


def energy_cost_cents(energy_wh: int, price_per_kwh_cents: int) -> int:
    """Wh x centavos/kWh, rounded half up to the centavo."""
    return (energy_wh * price_per_kwh_cents + 500) // 1000
