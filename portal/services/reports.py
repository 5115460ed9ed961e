"""Read-only summaries for the manager's and the administrator's home pages."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from portal.models import (
    AuditEvent,
    Contract,
    ContractStatus,
    Depot,
    Role,
    User,
    Vehicle,
    VehicleStatus,
)


@dataclass(frozen=True, slots=True)
class DepotFleet:
    depot: Depot
    vehicles: int
    leased: int
    in_repair: int

    @property
    def utilization(self) -> float:
        return self.leased / self.vehicles if self.vehicles else 0.0


@dataclass(frozen=True, slots=True)
class ContractSummary:
    active: int
    weekly_rent_cents: int


def fleet_by_depot(session: Session) -> list[DepotFleet]:
    rows = session.execute(
        select(
            Depot,
            func.count(Vehicle.id),
            func.count(case((Vehicle.status == VehicleStatus.LEASED, 1))),
            func.count(case((Vehicle.status == VehicleStatus.IN_REPAIR, 1))),
        )
        .outerjoin(Vehicle, Vehicle.depot_id == Depot.id)
        .group_by(Depot.id)
        .order_by(Depot.name)
    ).all()
    return [DepotFleet(depot, total, leased, repair) for depot, total, leased, repair in rows]


def contract_summary(session: Session) -> ContractSummary:
    active, rent = session.execute(
        select(
            func.count(Contract.id), func.coalesce(func.sum(Contract.weekly_rent_cents), 0)
        ).where(Contract.status == ContractStatus.ACTIVE)
    ).one()
    return ContractSummary(active=active, weekly_rent_cents=int(rent))


def users_by_role(session: Session) -> dict[Role, int]:
    rows = session.execute(select(User.role, func.count()).group_by(User.role)).all()
    counts = dict.fromkeys(Role, 0)
    counts.update({role: n for role, n in rows})
    return counts


def recent_audit_events(session: Session, limit: int = 20) -> list[tuple[AuditEvent, str | None]]:
    rows = session.execute(
        select(AuditEvent, User.full_name)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    ).all()
    return [(event, name) for event, name in rows]
