"""The driver (or staff, for a car that comes back damaged) reports an incident."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.models import (
    Contract,
    ContractStatus,
    EventKind,
    Incident,
    IncidentStatus,
    IncidentType,
    PositionSource,
    VehicleState,
    VehicleStatus,
)
from portal.services import N_, DomainError
from portal.services.uploads import CleanFile

from .attachments import store_files
from .claims import set_vehicle_status
from .timeline import add_event

CLOCK_SKEW = timedelta(minutes=10)
OLDEST_REPORT = timedelta(days=365)


@dataclass(frozen=True, slots=True)
class Position:
    latitude: Decimal
    longitude: Decimal
    at: datetime


def last_known_position(session: Session, vehicle_id: int) -> Position | None:
    """Where the car's tracker last put it (its latest state), or None.

    The driver's report form offers this position (source `telemetry`) before the
    phone's. A tracker that has never had a fix reports 0, 0: that is no position.
    """
    state = session.get(VehicleState, vehicle_id)
    if state is None or (state.latitude == 0 and state.longitude == 0):
        return None
    return Position(
        latitude=Decimal(str(round(state.latitude, 6))),
        longitude=Decimal(str(round(state.longitude, 6))),
        at=state.device_time,
    )


def report_incident(
    session: Session,
    *,
    driver_id: int,
    reporter_id: int,
    type: IncidentType,
    occurred_at: datetime,
    place: str,
    description: str,
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    position_source: PositionSource | None = None,
    files: Sequence[CleanFile] = (),
    storage_root: str | Path,
    max_files: int = 8,
    now: datetime | None = None,
    contract_id: int | None = None,
) -> Incident:
    """A driver reports what happened to the car they lease (staff too, for a car that
    comes back damaged: `contract_id` names the contract). Files are already checked."""
    now = now or utcnow()
    contract = session.scalar(
        select(Contract).where(
            Contract.driver_id == driver_id,
            Contract.id == contract_id
            if contract_id is not None
            else Contract.status == ContractStatus.ACTIVE,
        )
    )
    if contract is None:
        raise DomainError(
            N_("You need a car under an active contract to report an incident. Call your depot.")
        )
    if occurred_at > now + CLOCK_SKEW:
        raise DomainError(N_("The date and time cannot be in the future."))
    if occurred_at < now - OLDEST_REPORT:
        raise DomainError(N_("That date is more than a year ago; tell your depot in person."))
    place = place.strip()
    if (latitude is None) != (longitude is None):
        raise DomainError(N_("The location is incomplete; share it again."))
    if not place and latitude is None:
        raise DomainError(N_("Say where it happened, or share your location."))
    if len(files) > max_files:
        raise DomainError(N_("An incident can have at most %(max)d files."), max=max_files)

    incident = Incident(
        type=type,
        status=IncidentStatus.REPORTED,
        occurred_at=occurred_at,
        place=place[:300],
        latitude=latitude,
        longitude=longitude,
        position_source=position_source if latitude is not None else None,
        description=description.strip(),
        vehicle_id=contract.vehicle_id,
        driver_id=driver_id,
        contract_id=contract.id,
        reported_by_id=reporter_id,
        status_changed_at=now,
        created_at=now,
    )
    session.add(incident)
    session.flush()
    details: dict[str, Any] = {}
    if type == IncidentType.THEFT:
        vehicle = contract.vehicle
        change = set_vehicle_status(vehicle, VehicleStatus.OUT_OF_SERVICE)
        if change:
            details["vehicle_status"] = change
    add_event(session, incident, EventKind.REPORTED, reporter_id, details=details, at=now)
    if files:
        store_files(session, incident, files, reporter_id, storage_root, at=now)
    return incident
