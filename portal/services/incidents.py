"""Incidents and insurance claims: reporting, the workflow, the timeline, the car's
status, attachments and what the driver owes for it (through the ledger).

The workflow is `TRANSITIONS`: reported → in review → claim filed → in repair →
closed, with shortcuts where the business has them (a breakdown without a claim goes
from review straight to repair or to closed) and rejected/cancelled from any open
state. Every change and comment becomes an `IncidentEvent` with its author; every
staff write is audited as well.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from portal.db import utcnow
from portal.models import (
    Contract,
    ContractStatus,
    EntryKind,
    EventKind,
    Incident,
    IncidentAttachment,
    IncidentEvent,
    IncidentStatus,
    IncidentType,
    LedgerEntry,
    PositionSource,
    Vehicle,
    VehicleState,
    VehicleStatus,
)
from portal.models.incidents import OPEN_STATUSES, DeductiblePayer

from . import N_, DomainError, audit, ledger, storage
from .fleet import Page
from .uploads import CleanFile

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
LIABILITY_KINDS = (EntryKind.DEDUCTIBLE, EntryKind.DAMAGE, EntryKind.FINE)
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
AGES = {"1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}
CLOCK_SKEW = timedelta(minutes=10)
OLDEST_REPORT = timedelta(days=365)


@dataclass(frozen=True, slots=True)
class Position:
    latitude: Decimal
    longitude: Decimal
    at: datetime


@dataclass(frozen=True, slots=True)
class Liability:
    entry: LedgerEntry
    reversal: LedgerEntry | None


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


# -- reads -------------------------------------------------------------------------


def get_incident(session: Session, incident_id: int) -> Incident | None:
    return session.scalar(
        select(Incident)
        .options(
            joinedload(Incident.vehicle).joinedload(Vehicle.depot),
            joinedload(Incident.driver),
            selectinload(Incident.events).joinedload(IncidentEvent.author),
            selectinload(Incident.attachments),
        )
        .where(Incident.id == incident_id)
    )


def get_driver_incident(session: Session, incident_id: int, driver_id: int) -> Incident | None:
    """The incident only if it is this driver's (else None: the view answers 404)."""
    incident = get_incident(session, incident_id)
    return incident if incident is not None and incident.driver_id == driver_id else None


def get_attachment(
    session: Session, incident_id: int, attachment_id: int
) -> IncidentAttachment | None:
    return session.scalar(
        select(IncidentAttachment).where(
            IncidentAttachment.id == attachment_id, IncidentAttachment.incident_id == incident_id
        )
    )


def list_driver_incidents(session: Session, driver_id: int) -> list[Incident]:
    return list(
        session.scalars(
            select(Incident)
            .options(joinedload(Incident.vehicle))
            .where(Incident.driver_id == driver_id)
            .order_by(Incident.created_at.desc(), Incident.id.desc())
        )
    )


def list_incidents(
    session: Session,
    *,
    status: str = "open",
    type: IncidentType | None = None,
    depot_id: int | None = None,
    age: str = "",
    now: datetime | None = None,
    page: int = 1,
    per_page: int = 25,
) -> Page[Incident]:
    """The staff queue. `status`: "open", "all" or one status; `age`: "", "1d", "7d"
    (reported within a day or a week) or "30d" (reported more than 30 days ago)."""
    now = now or utcnow()
    conditions: list[Any] = []
    if status == "open":
        conditions.append(Incident.status.in_(OPEN_STATUSES))
    elif status != "all":
        conditions.append(Incident.status == IncidentStatus(status))
    if type is not None:
        conditions.append(Incident.type == type)
    if depot_id:
        conditions.append(Incident.vehicle.has(Vehicle.depot_id == depot_id))
    if age in ("1d", "7d"):
        conditions.append(Incident.created_at >= now - AGES[age])
    elif age == "30d":
        conditions.append(Incident.created_at < now - AGES[age])
    total = session.scalar(select(func.count(Incident.id)).where(*conditions)) or 0
    page = max(1, min(page, max(1, -(-total // per_page))))
    items = list(
        session.scalars(
            select(Incident)
            .options(joinedload(Incident.vehicle).joinedload(Vehicle.depot))
            .options(joinedload(Incident.driver))
            .where(*conditions)
            .order_by(Incident.created_at.desc(), Incident.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return Page(items=items, page=page, per_page=per_page, total=total)


def allowed_transitions(incident: Incident) -> list[IncidentStatus]:
    """The statuses the incident may move to, in workflow order."""
    return [s for s in IncidentStatus if s in TRANSITIONS[incident.status]]


# -- the driver reports ------------------------------------------------------------


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
        change = _set_vehicle_status(vehicle, VehicleStatus.OUT_OF_SERVICE)
        if change:
            details["vehicle_status"] = change
    _event(session, incident, EventKind.REPORTED, reporter_id, details=details, at=now)
    if files:
        _store_files(session, incident, files, reporter_id, storage_root, at=now)
    return incident


def add_attachments(
    session: Session,
    incident_id: int,
    files: Sequence[CleanFile],
    *,
    uploader_id: int,
    storage_root: str | Path,
    max_files: int = 8,
    staff: bool = False,
    ip: str | None = None,
) -> list[IncidentAttachment]:
    incident = _get(session, incident_id)
    if not files:
        raise DomainError(N_("Choose at least one photo or document."))
    if len(incident.attachments) + len(files) > max_files:
        raise DomainError(N_("An incident can have at most %(max)d files."), max=max_files)
    added = _store_files(session, incident, files, uploader_id, storage_root)
    if staff and added:
        audit.record(
            session,
            uploader_id,
            "incident.attachments_added",
            incident,
            ip=ip,
            attachments=[a.id for a in added],
        )
    return added


def _store_files(
    session: Session,
    incident: Incident,
    files: Iterable[CleanFile],
    uploader_id: int,
    storage_root: str | Path,
    at: datetime | None = None,
) -> list[IncidentAttachment]:
    known = {a.sha256 for a in incident.attachments}
    added = []
    for f in files:
        sha256 = storage.put_blob(storage_root, f.data)
        if sha256 in known:
            continue  # the same photo twice is one attachment
        known.add(sha256)
        attachment = IncidentAttachment(
            incident=incident,
            sha256=sha256,
            content_type=f.content_type,
            size_bytes=len(f.data),
            original_name=f.original_name,
            width=f.width,
            height=f.height,
            uploaded_by_id=uploader_id,
        )
        if at is not None:
            attachment.created_at = at
        session.add(attachment)
        added.append(attachment)
    session.flush()
    if added:
        _event(
            session,
            incident,
            EventKind.ATTACHMENT_ADDED,
            uploader_id,
            details={"files": [a.original_name for a in added]},
            at=at,
        )
    return added


# -- staff move it along -----------------------------------------------------------


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
    incident = _get(session, incident_id)
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
        change = _set_vehicle_status(vehicle, VehicleStatus.IN_REPAIR)
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
            change = _set_vehicle_status(vehicle, VehicleStatus.OUT_OF_SERVICE)
        elif took_it_off_road and not _held_by_another_incident(session, incident):
            change = _put_back_on_road(session, vehicle)
        else:
            change = None
        if change:
            details["vehicle_status"] = change

    incident.status = to_status
    incident.status_changed_at = now or utcnow()
    _event(
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
    incident = _get(session, incident_id)
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
        _event(session, incident, EventKind.FIELDS_UPDATED, actor_id, details=changed)
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
    incident = _get(session, incident_id)
    body = body.strip()
    if not body:
        raise DomainError(N_("Write a comment."))
    event = _event(session, incident, EventKind.COMMENT, author_id, body=body[:4000])
    if staff:
        audit.record(session, author_id, "incident.commented", incident, ip=ip, event_id=event.id)
    return event


# -- what the driver owes ----------------------------------------------------------


def liability_key(incident_id: int, sequence: int) -> str:
    return f"incident:{incident_id}:liability:{sequence}"


def next_liability_sequence(session: Session, incident_id: int) -> int:
    """The number the next liability of this incident will carry (in its ledger key).

    The form carries it, so submitting the same form twice posts once.
    """
    count = session.scalar(
        select(func.count(LedgerEntry.id)).where(
            LedgerEntry.source_type == "incident", LedgerEntry.source_id == str(incident_id)
        )
    )
    return int(count or 0) + 1


def list_liabilities(session: Session, incident_id: int) -> list[Liability]:
    entries = list(
        session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.source_type == "incident", LedgerEntry.source_id == str(incident_id))
            .order_by(LedgerEntry.id)
        )
    )
    reversals = {
        r.reverses_id: r
        for r in session.scalars(
            select(LedgerEntry).where(LedgerEntry.reverses_id.in_([e.id for e in entries]))
        )
    }
    return [Liability(entry=e, reversal=reversals.get(e.id)) for e in entries]


def assign_liability(
    session: Session,
    incident_id: int,
    *,
    kind: EntryKind,
    amount_cents: int,
    reason: str,
    sequence: int,
    actor_id: int,
    ip: str | None = None,
) -> LedgerEntry:
    """Charge the driver an amount for the incident: posted to the ledger exactly once."""
    if kind not in LIABILITY_KINDS:
        raise DomainError(N_("Choose deductible, damage or fine."))
    incident = _get(session, incident_id)
    key = liability_key(incident.id, sequence)
    existing = ledger.get_by_key(session, key)
    if existing is not None:
        if existing.kind != kind or existing.amount_cents != amount_cents:
            raise DomainError(
                N_("Someone assigned an amount to this incident meanwhile. Reload the page.")
            )
        return existing  # the same form sent twice
    if incident.status in (S.REJECTED, S.CANCELLED):
        raise DomainError(N_("A rejected or cancelled incident cannot charge the driver."))
    if amount_cents <= 0:
        raise DomainError(N_("The amount must be greater than zero."))
    reason = reason.strip()
    if len(reason) < 5:
        raise DomainError(N_("Say why the driver pays this amount."))
    entry = ledger.post_entry(
        session,
        driver_id=incident.driver_id,
        contract_id=incident.contract_id,
        kind=kind,
        amount_cents=amount_cents,
        idempotency_key=key,
        description=f"{incident.number}: {reason}"[:200],
        reference=incident.claim_number or incident.police_folio,
        source_type="incident",
        source_id=incident.id,
        created_by_id=actor_id,
    )
    _event(
        session,
        incident,
        EventKind.LIABILITY_ASSIGNED,
        actor_id,
        body=reason,
        details={"kind": kind.value, "amount_cents": amount_cents, "entry_id": entry.id},
    )
    audit.record(
        session,
        actor_id,
        "incident.liability_assigned",
        incident,
        ip=ip,
        entry_id=entry.id,
        kind=kind.value,
        amount_cents=amount_cents,
    )
    return entry


def reverse_liability(
    session: Session,
    incident_id: int,
    entry_id: int,
    *,
    reason: str,
    actor_id: int,
    ip: str | None = None,
) -> LedgerEntry:
    """Correct a liability with an equal and opposite ledger entry (never an edit)."""
    incident = _get(session, incident_id)
    entry = session.get(LedgerEntry, entry_id)
    if entry is None or entry.source_type != "incident" or entry.source_id != str(incident.id):
        raise DomainError(N_("That amount does not belong to this incident."))
    already = ledger.get_by_key(session, f"reversal:{entry.id}")
    if already is not None:
        return already
    reversal = ledger.reverse_entry(session, entry.id, reason=reason, actor_id=actor_id, ip=ip)
    _event(
        session,
        incident,
        EventKind.LIABILITY_REVERSED,
        actor_id,
        body=reason.strip(),
        details={
            "kind": entry.kind.value,
            "amount_cents": entry.amount_cents,
            "entry_id": entry.id,
            "reversal_id": reversal.id,
        },
    )
    return reversal


# -- the insurer's PDF -------------------------------------------------------------


def request_report(
    session: Session, incident_id: int, *, actor_id: int, ip: str | None = None
) -> Incident:
    incident = _get(session, incident_id)
    incident.report_requested_at = utcnow()
    audit.record(session, actor_id, "incident.report_requested", incident, ip=ip)
    return incident


def record_report(session: Session, incident_id: int, *, sha256: str, size: int) -> Incident:
    """The job rendered the PDF and stored it: remember its checksum (idempotent)."""
    incident = _get(session, incident_id)
    if incident.report_sha256 != sha256:
        _event(
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


def _get(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise DomainError(N_("That incident does not exist."))
    return incident


def _event(
    session: Session,
    incident: Incident,
    kind: EventKind,
    author_id: int | None,
    *,
    body: str | None = None,
    from_status: IncidentStatus | None = None,
    to_status: IncidentStatus | None = None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> IncidentEvent:
    event = IncidentEvent(
        incident=incident,
        author_id=author_id,
        kind=kind,
        body=body,
        from_status=from_status,
        to_status=to_status,
        details=details or {},
    )
    if at is not None:
        event.at = at
    session.add(event)
    session.flush()
    return event


def _set_vehicle_status(vehicle: Vehicle, status: VehicleStatus) -> list[str] | None:
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
    return _set_vehicle_status(
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
