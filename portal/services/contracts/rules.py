"""What every step of a contract checks: the contract's status, the reason given,
the car (free, and locked while it changes hands) and the driver (no other contract running).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import (
    LIVE_CONTRACT_STATUSES,
    Contract,
    ContractStatus,
    Driver,
    DriverStatus,
    Role,
    Vehicle,
    VehicleStatus,
)
from portal.services import N_, DomainError, FieldError

CS = ContractStatus
MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})


def expect_status(contract: Contract, *statuses: ContractStatus) -> None:
    if contract.status not in statuses:
        raise DomainError(
            N_("The contract is %(status)s; that step does not apply."),
            status=contract.status.value,
        )


def clean_reason(reason: str) -> str:
    reason = reason.strip()
    if len(reason) < 5:
        raise FieldError("reason", N_("Say why, in a few words."))
    return reason[:300]


def locked_vehicle(session: Session, vehicle_id: int) -> Vehicle:
    vehicle = session.get(Vehicle, vehicle_id, with_for_update=True, populate_existing=True)
    if vehicle is None:
        raise DomainError(N_("That car does not exist."))
    return vehicle


def check_vehicle_free(vehicle: Vehicle) -> None:
    """A contract takes an available car: not leased, in repair, out of service or retired."""
    if vehicle.status == VehicleStatus.AVAILABLE:
        return
    if vehicle.status == VehicleStatus.LEASED:
        message = N_("The car %(plate)s is leased to another driver.")
    elif vehicle.status in (VehicleStatus.IN_REPAIR, VehicleStatus.OUT_OF_SERVICE):
        message = N_("The car %(plate)s is in repair or out of service.")
    elif vehicle.status == VehicleStatus.IN_PREPARATION:
        message = N_("The car %(plate)s is still in preparation.")
    else:
        message = N_("The car %(plate)s is retired from the fleet.")
    raise FieldError("vehicle_id", message, plate=vehicle.plate)


def _live_contract_of(session: Session, driver_id: int) -> Contract | None:
    return session.scalar(
        select(Contract).where(
            Contract.driver_id == driver_id, Contract.status.in_(list(LIVE_CONTRACT_STATUSES))
        )
    )


def check_driver(session: Session, driver: Driver) -> None:
    if driver.status in (DriverStatus.SUSPENDED, DriverStatus.FORMER):
        raise DomainError(N_("The driver is suspended or former; reactivate them first."))
    live = _live_contract_of(session, driver.id)
    if live is not None:
        raise DomainError(
            N_("The driver already has contract %(number)s running."), number=live.number
        )
