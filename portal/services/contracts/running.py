"""A running contract: a replacement car while the driver's is in repair (and giving
it back), suspending and resuming.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from portal.models import Contract, Vehicle, VehicleStatus
from portal.services import N_, DomainError, audit
from portal.services.contracts.rules import (
    CS,
    check_vehicle_free,
    clean_reason,
    expect_status,
    locked_vehicle,
)
from portal.services.vehicles import set_status


def swap_vehicle(
    session: Session,
    contract: Contract,
    replacement: Vehicle,
    *,
    actor_id: int,
    reason: str,
    ip: str | None = None,
) -> None:
    """Lend a replacement while the contract's own car is in repair or out of service."""
    expect_status(contract, CS.ACTIVE, CS.SUSPENDED)
    reason = clean_reason(reason)
    own = session.get(Vehicle, contract.leased_vehicle_id)
    assert own is not None  # noqa: S101 - a foreign key
    if own.status not in (VehicleStatus.IN_REPAIR, VehicleStatus.OUT_OF_SERVICE):
        raise DomainError(N_("A replacement is lent while the contract's car is in repair."))
    replacement = locked_vehicle(session, replacement.id)
    check_vehicle_free(replacement)
    lent = contract.vehicle_id if contract.own_vehicle_id is not None else None
    contract.own_vehicle_id = own.id
    contract.vehicle_id = replacement.id
    session.flush()
    set_status(session, replacement, VehicleStatus.LEASED, actor_id=actor_id, contract=contract)
    if lent is not None:  # a second replacement: the first one comes back
        first = session.get(Vehicle, lent)
        assert first is not None  # noqa: S101
        set_status(session, first, VehicleStatus.AVAILABLE, actor_id=actor_id, contract=contract)
    audit.record(
        session,
        actor_id,
        "contract.vehicle_swapped",
        contract,
        ip=ip,
        own=own.plate,
        replacement=replacement.plate,
        reason=reason,
    )


def return_own_vehicle(
    session: Session, contract: Contract, *, actor_id: int, ip: str | None = None
) -> None:
    """The contract's car is back from repair: the driver gives the replacement back."""
    expect_status(contract, CS.ACTIVE, CS.SUSPENDED)
    if contract.own_vehicle_id is None:
        raise DomainError(N_("The driver has the contract's own car."))
    own = locked_vehicle(session, contract.own_vehicle_id)
    if own.status not in (VehicleStatus.AVAILABLE, VehicleStatus.LEASED):
        raise DomainError(N_("The contract's car is not back from repair yet."))
    replacement = session.get(Vehicle, contract.vehicle_id)
    assert replacement is not None  # noqa: S101
    contract.vehicle_id = own.id
    contract.own_vehicle_id = None
    session.flush()
    set_status(session, replacement, VehicleStatus.AVAILABLE, actor_id=actor_id, contract=contract)
    set_status(session, own, VehicleStatus.LEASED, actor_id=actor_id, contract=contract)
    audit.record(
        session,
        actor_id,
        "contract.vehicle_returned",
        contract,
        ip=ip,
        own=own.plate,
        replacement=replacement.plate,
    )


def release_replacement(session: Session, contract: Contract, actor_id: int) -> None:
    if contract.own_vehicle_id is None:
        return
    replacement = session.get(Vehicle, contract.vehicle_id)
    assert replacement is not None  # noqa: S101
    set_status(session, replacement, VehicleStatus.AVAILABLE, actor_id=actor_id, contract=contract)
    contract.vehicle_id = contract.own_vehicle_id
    contract.own_vehicle_id = None
    session.flush()


def suspend(
    session: Session, contract: Contract, *, actor_id: int, reason: str, ip: str | None = None
) -> None:
    """Rent stops being charged and the driver's charging cards are refused."""
    expect_status(contract, CS.ACTIVE)
    reason = clean_reason(reason)
    contract.status = CS.SUSPENDED
    session.flush()
    audit.record(session, actor_id, "contract.suspended", contract, ip=ip, reason=reason)


def resume(session: Session, contract: Contract, *, actor_id: int, ip: str | None = None) -> None:
    expect_status(contract, CS.SUSPENDED)
    contract.status = CS.ACTIVE
    session.flush()
    audit.record(session, actor_id, "contract.resumed", contract, ip=ip)
