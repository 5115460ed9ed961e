"""Reads over the fleet: the list staff filter, a driver's current contract."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from portal.models import Contract, ContractStatus, Depot, Driver, Vehicle, VehicleStatus

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


@dataclass(frozen=True, slots=True)
class FleetRow:
    vehicle: Vehicle
    driver_name: str | None


def list_depots(session: Session) -> list[Depot]:
    return list(session.scalars(select(Depot).order_by(Depot.name)))


def list_fleet(
    session: Session,
    *,
    depot_id: int | None = None,
    status: VehicleStatus | None = None,
    plate: str = "",
    page: int = 1,
    per_page: int = 25,
) -> Page[FleetRow]:
    conditions = []
    if depot_id:
        conditions.append(Vehicle.depot_id == depot_id)
    if status:
        conditions.append(Vehicle.status == status)
    plate = "".join(ch for ch in plate.upper() if ch.isalnum())
    if plate:
        conditions.append(func.replace(Vehicle.plate, "-", "").contains(plate, autoescape=True))

    total = session.scalar(select(func.count(Vehicle.id)).where(*conditions)) or 0
    page = max(1, min(page, max(1, -(-total // per_page))))
    driver_name = (
        select(Driver.first_name + " " + Driver.last_name)
        .join(Contract, Contract.driver_id == Driver.id)
        .where(Contract.vehicle_id == Vehicle.id, Contract.status == ContractStatus.ACTIVE)
        .correlate(Vehicle)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Vehicle, driver_name)
        .options(joinedload(Vehicle.depot))
        .where(*conditions)
        .order_by(Vehicle.plate)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    items = [FleetRow(vehicle=v, driver_name=name) for v, name in rows]
    return Page(items=items, page=page, per_page=per_page, total=total)


def get_active_contract(session: Session, driver_id: int) -> Contract | None:
    return session.scalar(
        select(Contract)
        .options(joinedload(Contract.vehicle).joinedload(Vehicle.depot))
        .where(Contract.driver_id == driver_id, Contract.status == ContractStatus.ACTIVE)
    )


def fleet_counts(session: Session) -> dict[VehicleStatus, int]:
    rows = session.execute(select(Vehicle.status, func.count()).group_by(Vehicle.status)).all()
    counts = dict.fromkeys(VehicleStatus, 0)
    counts.update({status: n for status, n in rows})
    return counts
