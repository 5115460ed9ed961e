"""Staff move an incident along the workflow (`TRANSITIONS`), the car's status
following; the insurer's and the authorities' data; comments; the insurer's PDF."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.models import (
    Contract,
    ContractStatus,
    EventKind,
    Incident,
    IncidentEvent,
    IncidentStatus,
    IncidentType,
    Vehicle,
    VehicleStatus,
)
from portal.models.incidents import OPEN_STATUSES, DeductiblePayer
from portal.services import N_, DomainError, audit, ledger

from .timeline import add_event, require_incident

S = IncidentStatus
TRANSITIONS: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    S.REPORTED: frozenset({S.IN_REVIEW, S.REJECTED, S.CANCELLED}),
    # in review → in repair / closed: a breakdown or damage handled without a claim.
    S.IN_REVIEW: frozenset({S.CLAIM_FILED, S.IN_REPAIR, S.CLOSED, S.REJECTED, S.CANCELLED}),
    # claim filed → closed: a theft paid out, or a claim settled without a repair.
    S.CLAIM_FILED: frozenset({S.IN_REPAIR, S.CLOSED, S.REJECTED, S.CANCELLED}),
    S.IN_REPAIR: frozenset({S.CLOSED, S.REJECTED, S.CANCELLED}),
    S.CLOSED: frozenset(),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
}
NEEDS_REASON = frozenset({S.REJECTED, S.CANCELLED})
INSURANCE_FIELDS = (
    "insurer",
    "insurer_report_number",
    "claim_number",
    "adjuster",
    "police_folio",
    "workshop",
    "deductible_cents",
    "deductible_payer",
    "repair_cost_cents",
    "vehicle_recovered",
)


def allowed_transitions(incident: Incident) -> list[IncidentStatus]:
    """The statuses the incident may move to, in workflow order."""
    return [s for s in IncidentStatus if s in TRANSITIONS[incident.status]]


def change_status(
    session: Session,
    incident_id: int,
    to_status: IncidentStatus,
    *,
    actor_id: int,
    note: str = "",
    ip: str | None = None,
    now: datetime | None = None,
) -> Incident:
    """Move the incident one step along the workflow; the car's status follows."""
    incident = require_incident(session, incident_id)
    from_status = incident.status
    if to_status not in TRANSITIONS[from_status]:
        raise DomainError(
            N_("The incident cannot go from its current status to that one; follow the workflow.")
        )
    note = note.strip()
    if to_status in NEEDS_REASON and len(note) < 5:
        raise DomainError(N_("Say why the incident is rejected or cancelled."))
    if to_status == S.CLAIM_FILED and not (incident.insurer and incident.claim_number):
        raise DomainError(
            N_("Write the insurer and the claim number before marking the claim as filed.")
        )

    details: dict[str, Any] = {}
    vehicle = incident.vehicle
    if to_status == S.IN_REPAIR:
        if incident.type == IncidentType.THEFT:
            incident.vehicle_recovered = True  # a car in the workshop has been found
        change = set_vehicle_status(vehicle, VehicleStatus.IN_REPAIR)
        if change:
            details["vehicle_status"] = change
    elif to_status not in OPEN_STATUSES:
        took_it_off_road = from_status == S.IN_REPAIR or incident.type == IncidentType.THEFT
        stolen_for_good = (
            incident.type == IncidentType.THEFT
            and to_status == S.CLOSED
            and not incident.vehicle_recovered
        )
        if stolen_for_good:
            # Paid out, never found: the car stays out of service (an admin retires it).
            change = set_vehicle_status(vehicle, VehicleStatus.OUT_OF_SERVICE)
        elif took_it_off_road and not _held_by_another_incident(session, incident):
            change = _put_back_on_road(session, vehicle)
        else:
            change = None
        if change:
            details["vehicle_status"] = change

    incident.status = to_status
    incident.status_changed_at = now or utcnow()
    add_event(
        session,
        incident,
        EventKind.STATUS_CHANGED,
        actor_id,
        body=note or None,
        from_status=from_status,
        to_status=to_status,
        details=details,
        at=now,
    )
    audit.record(
        session,
        actor_id,
        "incident.status_changed",
        incident,
        ip=ip,
        from_status=from_status.value,
        to_status=to_status.value,
        **details,
    )
    return incident


def update_insurance(
    session: Session,
    incident_id: int,
    *,
    actor_id: int,
    ip: str | None = None,
    **values: Any,
) -> dict[str, list[Any]]:
    """Save the insurer's and the authorities' data; returns what changed (old, new)."""
    unknown = set(values) - set(INSURANCE_FIELDS)
    if unknown:
        raise ValueError(f"not insurance fields: {sorted(unknown)}")
    incident = require_incident(session, incident_id)
    for money in ("deductible_cents", "repair_cost_cents"):
        amount = values.get(money)
        if amount is not None and not 0 <= amount <= ledger.MAX_ENTRY_CENTS:
            raise DomainError(N_("The amount is too large."))
    if values.get("deductible_payer") is not None:
        values["deductible_payer"] = DeductiblePayer(values["deductible_payer"])
    changed: dict[str, list[Any]] = {}
    for name, new in values.items():
        if isinstance(new, str):
            new = new.strip() or None
        old = getattr(incident, name)
        if old != new:
            changed[name] = [_plain(old), _plain(new)]
            setattr(incident, name, new)
    if changed:
        add_event(session, incident, EventKind.FIELDS_UPDATED, actor_id, details=changed)
        audit.record(session, actor_id, "incident.updated", incident, ip=ip, changed=changed)
    return changed


def add_comment(
    session: Session,
    incident_id: int,
    body: str,
    *,
    author_id: int,
    staff: bool = True,
    ip: str | None = None,
) -> IncidentEvent:
    incident = require_incident(session, incident_id)
    body = body.strip()
    if not body:
        raise DomainError(N_("Write a comment."))
    event = add_event(session, incident, EventKind.COMMENT, author_id, body=body[:4000])
    if staff:
        audit.record(session, author_id, "incident.commented", incident, ip=ip, event_id=event.id)
    return event


# -- what the driver owes ----------------------------------------------------------


def request_report(
    session: Session, incident_id: int, *, actor_id: int, ip: str | None = None
) -> Incident:
    incident = require_incident(session, incident_id)
    incident.report_requested_at = utcnow()
    audit.record(session, actor_id, "incident.report_requested", incident, ip=ip)
    return incident


def record_report(session: Session, incident_id: int, *, sha256: str, size: int) -> Incident:
    """The job rendered the PDF and stored it: remember its checksum (idempotent)."""
    incident = require_incident(session, incident_id)
    if incident.report_sha256 != sha256:
        add_event(
            session,
            incident,
            EventKind.REPORT_RENDERED,
            None,
            details={"sha256": sha256, "bytes": size},
        )
    incident.report_sha256 = sha256
    incident.report_bytes = size
    incident.report_rendered_at = utcnow()
    if incident.report_requested_at is None:
        incident.report_requested_at = incident.report_rendered_at
    return incident


# -- helpers -----------------------------------------------------------------------


def set_vehicle_status(vehicle: Vehicle, status: VehicleStatus) -> list[str] | None:
    if vehicle.status == status or vehicle.is_retired:
        return None
    change = [vehicle.status.value, status.value]
    vehicle.status = status
    return change


def _put_back_on_road(session: Session, vehicle: Vehicle) -> list[str] | None:
    if vehicle.status not in (VehicleStatus.IN_REPAIR, VehicleStatus.OUT_OF_SERVICE):
        return None
    leased = session.scalar(
        select(Contract.id).where(
            Contract.vehicle_id == vehicle.id, Contract.status == ContractStatus.ACTIVE
        )
    )
    return set_vehicle_status(
        vehicle, VehicleStatus.LEASED if leased is not None else VehicleStatus.AVAILABLE
    )


def _held_by_another_incident(session: Session, incident: Incident) -> bool:
    """Another open incident keeps the same car off the road (in repair, or stolen)."""
    other = session.scalar(
        select(Incident.id).where(
            Incident.vehicle_id == incident.vehicle_id,
            Incident.id != incident.id,
            Incident.status.in_(OPEN_STATUSES),
            (Incident.status == S.IN_REPAIR) | (Incident.type == IncidentType.THEFT),
        )
    )
    return other is not None


def _plain(value: Any) -> Any:
    """A value the timeline's JSON can hold."""
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "value"):
        return value.value
    return value
