"""A contract's life, from the proposal to the car passing to the driver.

    draft ─(manager's sign-off when the terms differ from the credit decision's)─►
    signed (the security deposit is charged; the car is leased to the driver) ─(the
    handover checklist, confirmed by the driver on their phone)─► active ⇄ suspended
    ─► completed (the car is transferred) | terminated early (the return checklist;
    damage becomes an incident and its liability; the deposit is credited back)

A draft can be cancelled. While the contract's car is in repair a replacement can be
lent (`swap_vehicle`) and given back (`return_own_vehicle`), same contract. Every step
is audited on the contract; the audit log is its timeline (`timeline`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.models import (
    LIVE_CONTRACT_STATUSES,
    ApplicationStatus,
    AuditEvent,
    ChecklistKind,
    Contract,
    ContractChecklist,
    ContractStatus,
    CreditApplication,
    CreditDecision,
    Driver,
    DriverStatus,
    EntryKind,
    IdTag,
    IncidentType,
    Outcome,
    Role,
    Statement,
    User,
    Vehicle,
    VehicleState,
    VehicleStatus,
)
from portal.services import N_, DomainError, FieldError, NotAllowed, audit, billing, ledger, storage
from portal.services.charging.registry import add_id_tag
from portal.services.incidents import costs as incident_costs
from portal.services.incidents import report as incident_report
from portal.services.uploads import CleanFile
from portal.services.vehicles import set_status
from portal.timeutil import monday_of

CS = ContractStatus
MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})
MAX_TERM_WEEKS = 520
MAX_RENT_CENTS = 5_000_000  # $50,000.00 a week: anything above is a typo
MAX_PHOTOS = 8


@dataclass(frozen=True, slots=True)
class Terms:
    weekly_rent_cents: int
    deposit_cents: int
    term_weeks: int
    starts_on: date
    late_fee_cents: int = 25_000
    grace_days: int = 2


@dataclass(frozen=True, slots=True)
class ChecklistData:
    odometer_km: int
    soc_pct: int
    damage_notes: str = ""
    charging_card: str = ""
    damage_cents: int = 0
    photos: Sequence[CleanFile] = ()


@dataclass(frozen=True, slots=True)
class HandoverDefaults:
    """What the car's tracker last said: the checklist starts from it."""

    odometer_km: int | None
    soc_pct: int | None
    reported_at: datetime | None


# --------------------------------------------------------------------------- reads


def get_contract(session: Session, contract_id: int) -> Contract:
    contract = session.get(Contract, contract_id)
    if contract is None:
        raise DomainError(N_("That contract does not exist."))
    return contract


def list_contracts(
    session: Session, *, status: ContractStatus | None = None, limit: int = 200
) -> list[Contract]:
    query = select(Contract).order_by(Contract.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Contract.status == status)
    return list(session.scalars(query))


def driver_contracts(session: Session, driver_id: int) -> list[Contract]:
    return list(
        session.scalars(
            select(Contract).where(Contract.driver_id == driver_id).order_by(Contract.id.desc())
        )
    )


def approved_decision(session: Session, driver: Driver) -> CreditDecision | None:
    """The approval of the application the driver came from (its proposal: rent,
    deposit and term)."""
    if driver.application_id is None:
        return None
    return session.scalar(
        select(CreditDecision)
        .where(
            CreditDecision.application_id == driver.application_id,
            CreditDecision.outcome == Outcome.APPROVE,
        )
        .order_by(CreditDecision.created_at.desc(), CreditDecision.id.desc())
        .limit(1)
    )


def proposed_terms(session: Session, driver: Driver, starts_on: date) -> Terms | None:
    """The credit decision's proposal as terms (the contract form starts from it)."""
    decision = approved_decision(session, driver)
    if decision is None or decision.proposed_weekly_rent_cents is None:
        return None
    return Terms(
        weekly_rent_cents=decision.proposed_weekly_rent_cents,
        deposit_cents=decision.proposed_deposit_cents or 0,
        term_weeks=decision.proposed_term_weeks or 156,
        starts_on=starts_on,
    )


def timeline(session: Session, contract_id: int) -> list[AuditEvent]:
    """Every step of the contract, oldest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "contracts", AuditEvent.entity_id == str(contract_id))
            .order_by(AuditEvent.at, AuditEvent.id)
        )
    )


def handover_defaults(session: Session, vehicle_id: int) -> HandoverDefaults:
    state = session.get(VehicleState, vehicle_id)
    if state is None:
        return HandoverDefaults(None, None, None)
    odometer = state.odometer_m // 1000 if state.odometer_m is not None else None
    soc = round(state.soc_pct) if state.soc_pct is not None else None
    return HandoverDefaults(odometer, soc, state.device_time)


def weeks_to_ownership(contract: Contract, weeks_paid: int) -> int:
    return max(0, contract.term_weeks - weeks_paid)


def total_cost_cents(contract: Contract) -> int:
    """What the car costs the driver over the term: the rent of every week."""
    return contract.weekly_rent_cents * contract.term_weeks


def open_handover(contract: Contract) -> ContractChecklist | None:
    """The handover checklist waiting for the driver's confirmation."""
    return next(
        (
            c
            for c in reversed(contract.checklists)
            if c.kind == ChecklistKind.HANDOVER and c.confirmed_at is None
        ),
        None,
    )


# --------------------------------------------------------------------------- proposal


def _check_terms(terms: Terms, today: date, *, imported: bool = False) -> None:
    if not 0 < terms.weekly_rent_cents <= MAX_RENT_CENTS:
        raise FieldError("weekly_rent", N_("The weekly rent is an amount above zero."))
    if not 0 <= terms.deposit_cents <= MAX_RENT_CENTS * 10:
        raise FieldError("deposit", N_("The deposit is an amount of zero or more."))
    if not 1 <= terms.term_weeks <= MAX_TERM_WEEKS:
        raise FieldError("term_weeks", N_("The term is 1 to %(max)d weeks."), max=MAX_TERM_WEEKS)
    if not 0 <= terms.late_fee_cents <= terms.weekly_rent_cents:
        raise FieldError("late_fee", N_("The late fee is between zero and the weekly rent."))
    if not 0 <= terms.grace_days <= 6:
        raise FieldError("grace_days", N_("The grace days are 0 to 6."))
    if not imported and terms.starts_on < today:
        raise FieldError("starts_on", N_("The contract cannot start in the past."))
    if terms.starts_on > today + timedelta(days=90):
        raise FieldError("starts_on", N_("The contract starts within the next 90 days."))


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


def _check_driver(session: Session, driver: Driver) -> None:
    if driver.status in (DriverStatus.SUSPENDED, DriverStatus.FORMER):
        raise DomainError(N_("The driver is suspended or former; reactivate them first."))
    live = _live_contract_of(session, driver.id)
    if live is not None:
        raise DomainError(
            N_("The driver already has contract %(number)s running."), number=live.number
        )


def next_number(session: Session, year: int, taken: int | None = None) -> str:
    """LAFA-<year>-<n>, one above the highest of the year."""
    prefix = f"LAFA-{year}-"
    highest = taken
    if highest is None:
        numbers = session.scalars(select(Contract.number).where(Contract.number.like(prefix + "%")))
        highest = max(
            (int(n[len(prefix) :]) for n in numbers if n[len(prefix) :].isdigit()), default=0
        )
    return f"{prefix}{highest + 1:05d}"


def _differs(terms: Terms, decision: CreditDecision | None) -> bool:
    if decision is None:
        return True
    return (
        terms.weekly_rent_cents != decision.proposed_weekly_rent_cents
        or terms.deposit_cents != decision.proposed_deposit_cents
        or terms.term_weeks != decision.proposed_term_weeks
    )


def propose(
    session: Session,
    driver: Driver,
    vehicle: Vehicle,
    terms: Terms,
    *,
    actor_id: int,
    today: date,
    ip: str | None = None,
) -> Contract:
    """Staff propose a contract on an available car. A manager signs off first when the
    terms differ from the credit decision's proposal (or there is no decision)."""
    _check_driver(session, driver)
    _check_terms(terms, today)
    check_vehicle_free(vehicle)
    decision = approved_decision(session, driver)
    contract = Contract(
        number=next_number(session, today.year),
        driver_id=driver.id,
        vehicle_id=vehicle.id,
        weekly_rent_cents=terms.weekly_rent_cents,
        deposit_cents=terms.deposit_cents,
        late_fee_cents=terms.late_fee_cents,
        grace_days=terms.grace_days,
        term_weeks=terms.term_weeks,
        starts_on=terms.starts_on,
        status=CS.DRAFT,
        decision_id=decision.id if decision else None,
        needs_signoff=_differs(terms, decision),
        proposed_by_id=actor_id,
    )
    session.add(contract)
    session.flush()
    audit.record(
        session,
        actor_id,
        "contract.proposed",
        contract,
        ip=ip,
        vehicle=vehicle.plate,
        weekly_rent_cents=terms.weekly_rent_cents,
        deposit_cents=terms.deposit_cents,
        term_weeks=terms.term_weeks,
        starts_on=terms.starts_on.isoformat(),
        needs_signoff=contract.needs_signoff,
    )
    return contract


def _expect(contract: Contract, *statuses: ContractStatus) -> None:
    if contract.status not in statuses:
        raise DomainError(
            N_("The contract is %(status)s; that step does not apply."),
            status=contract.status.value,
        )


def sign_off(session: Session, contract: Contract, *, actor: User, ip: str | None = None) -> None:
    """A manager approves terms that differ from the credit decision's."""
    if actor.role not in MANAGERS:
        raise NotAllowed(N_("Only a manager signs off a contract's terms."))
    _expect(contract, CS.DRAFT)
    if not contract.needs_signoff or contract.signed_off_at is not None:
        return
    contract.signed_off_by_id = actor.id
    contract.signed_off_at = utcnow()
    session.flush()
    audit.record(session, actor.id, "contract.signed_off", contract, ip=ip)


def cancel(
    session: Session, contract: Contract, *, actor_id: int, reason: str, ip: str | None = None
) -> None:
    _expect(contract, CS.DRAFT)
    reason = _reason(reason)
    contract.status = CS.CANCELLED
    contract.end_reason = reason
    session.flush()
    audit.record(session, actor_id, "contract.cancelled", contract, ip=ip, reason=reason)


def _reason(reason: str) -> str:
    reason = reason.strip()
    if len(reason) < 5:
        raise FieldError("reason", N_("Say why, in a few words."))
    return reason[:300]


def _locked_vehicle(session: Session, vehicle_id: int) -> Vehicle:
    vehicle = session.get(Vehicle, vehicle_id, with_for_update=True, populate_existing=True)
    if vehicle is None:
        raise DomainError(N_("That car does not exist."))
    return vehicle


def sign(
    session: Session,
    contract: Contract,
    *,
    actor_id: int,
    now: datetime | None = None,
    ip: str | None = None,
) -> None:
    """The driver signed: the deposit is charged, the car is theirs (leased)."""
    _expect(contract, CS.DRAFT)
    if contract.needs_signoff and contract.signed_off_at is None:
        raise DomainError(
            N_("The terms differ from the credit decision: a manager signs off first.")
        )
    now = now or utcnow()
    driver = session.get(Driver, contract.driver_id, with_for_update=True)
    assert driver is not None  # noqa: S101 - a foreign key
    _check_driver(session, driver)
    vehicle = _locked_vehicle(session, contract.vehicle_id)
    check_vehicle_free(vehicle)
    contract.status = CS.SIGNED
    contract.signed_at = now
    session.flush()
    set_status(session, vehicle, VehicleStatus.LEASED, actor_id=actor_id, contract=contract)
    driver.status = DriverStatus.ACTIVE
    if contract.deposit_cents > 0:
        ledger.post_entry(
            session,
            driver_id=driver.id,
            contract_id=contract.id,
            kind=EntryKind.SECURITY_DEPOSIT,
            amount_cents=contract.deposit_cents,
            idempotency_key=f"deposit:{contract.id}",
            description=f"Depósito en garantía, contrato {contract.number}",
            posted_at=now,
            source_type="contract",
            source_id=contract.id,
            created_by_id=actor_id,
        )
    audit.record(session, actor_id, "contract.signed", contract, ip=ip, vehicle=vehicle.plate)


# --------------------------------------------------------------------------- handover


def _store_photos(files: Sequence[CleanFile], root: str | Path) -> list[dict[str, object]]:
    if len(files) > MAX_PHOTOS:
        raise FieldError("photos", N_("At most %(max)d photos."), max=MAX_PHOTOS)
    photos: list[dict[str, object]] = []
    for f in files:
        if not f.content_type.startswith("image/"):
            raise FieldError("photos", N_("The checklist takes photos (JPEG, PNG or WebP)."))
        sha256 = storage.put_blob(root, f.data)
        if any(p["sha256"] == sha256 for p in photos):
            continue
        photos.append(
            {
                "sha256": sha256,
                "content_type": f.content_type,
                "size": len(f.data),
                "width": f.width,
                "height": f.height,
                "name": f.original_name,
            }
        )
    return photos


def _check_reading(data: ChecklistData) -> None:
    if not 0 <= data.odometer_km <= 2_000_000:
        raise FieldError("odometer_km", N_("Write the odometer in km."))
    if not 0 <= data.soc_pct <= 100:
        raise FieldError("soc_pct", N_("The charge is a percentage, 0 to 100."))


def record_handover(
    session: Session,
    contract: Contract,
    data: ChecklistData,
    *,
    actor_id: int,
    storage_root: str | Path,
    ip: str | None = None,
) -> ContractChecklist:
    """Staff's checklist as the car leaves: odometer, charge, photos, damage notes and
    the charging card given to the driver. The driver confirms it on their phone."""
    _expect(contract, CS.SIGNED)
    _check_reading(data)
    card = data.charging_card.strip().upper()
    if card:
        owner = session.scalar(select(IdTag).where(IdTag.tag == card))
        if owner is None:
            add_id_tag(session, contract.driver_id, card, actor_id=actor_id)
        elif owner.driver_id != contract.driver_id:
            raise FieldError("charging_card", N_("That charging card belongs to another driver."))
    previous = open_handover(contract)
    if previous is not None:  # staff corrected the checklist before the driver confirmed
        session.delete(previous)
        session.flush()
    checklist = ContractChecklist(
        contract=contract,
        vehicle_id=contract.vehicle_id,
        kind=ChecklistKind.HANDOVER,
        odometer_km=data.odometer_km,
        soc_pct=data.soc_pct,
        damage_notes=data.damage_notes.strip() or None,
        charging_card=card or None,
        photos=_store_photos(data.photos, storage_root),
        recorded_by_id=actor_id,
    )
    session.add(checklist)
    session.flush()
    audit.record(
        session,
        actor_id,
        "contract.handover_recorded",
        contract,
        ip=ip,
        checklist_id=checklist.id,
        odometer_km=data.odometer_km,
        soc_pct=data.soc_pct,
        photos=len(checklist.photos),
        charging_card=card or None,
    )
    return checklist


def confirm_handover(
    session: Session,
    contract: Contract,
    *,
    driver_user: User,
    today: date,
    now: datetime | None = None,
    ip: str | None = None,
) -> None:
    """The driver confirms on their phone that they received the car as recorded: the
    contract becomes active and rent is charged from its start."""
    if driver_user.driver is None or driver_user.driver.id != contract.driver_id:
        raise NotAllowed(N_("Only the contract's driver confirms the handover."))
    _expect(contract, CS.SIGNED)
    checklist = open_handover(contract)
    if checklist is None:
        raise DomainError(N_("Staff have not recorded the handover yet."))
    now = now or utcnow()
    checklist.confirmed_at = now
    contract.status = CS.ACTIVE
    contract.activated_at = now
    session.flush()
    billing.post_rent_to_date(session, contract, today, now=now)
    audit.record(
        session,
        driver_user.id,
        "contract.handover_confirmed",
        contract,
        ip=ip,
        checklist_id=checklist.id,
    )


# --------------------------------------------------------------------------- later in life


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
    _expect(contract, CS.ACTIVE, CS.SUSPENDED)
    reason = _reason(reason)
    own = session.get(Vehicle, contract.leased_vehicle_id)
    assert own is not None  # noqa: S101 - a foreign key
    if own.status not in (VehicleStatus.IN_REPAIR, VehicleStatus.OUT_OF_SERVICE):
        raise DomainError(N_("A replacement is lent while the contract's car is in repair."))
    replacement = _locked_vehicle(session, replacement.id)
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
    _expect(contract, CS.ACTIVE, CS.SUSPENDED)
    if contract.own_vehicle_id is None:
        raise DomainError(N_("The driver has the contract's own car."))
    own = _locked_vehicle(session, contract.own_vehicle_id)
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


def suspend(
    session: Session, contract: Contract, *, actor_id: int, reason: str, ip: str | None = None
) -> None:
    """Rent stops being charged and the driver's charging cards are refused."""
    _expect(contract, CS.ACTIVE)
    reason = _reason(reason)
    contract.status = CS.SUSPENDED
    session.flush()
    audit.record(session, actor_id, "contract.suspended", contract, ip=ip, reason=reason)


def resume(session: Session, contract: Contract, *, actor_id: int, ip: str | None = None) -> None:
    _expect(contract, CS.SUSPENDED)
    contract.status = CS.ACTIVE
    session.flush()
    audit.record(session, actor_id, "contract.resumed", contract, ip=ip)


def _settle_deposit(session: Session, contract: Contract, *, actor_id: int, now: datetime) -> int:
    """Credit the deposit back to the driver's account; any balance then in the driver's
    favour is refunded to them. Returns the refund in centavos (0 if none)."""
    if contract.deposit_cents > 0:
        ledger.post_entry(
            session,
            driver_id=contract.driver_id,
            contract_id=contract.id,
            kind=EntryKind.DEPOSIT,
            amount_cents=-contract.deposit_cents,
            idempotency_key=f"deposit:{contract.id}:applied",
            description=f"Depósito en garantía aplicado, contrato {contract.number}",
            posted_at=now,
            source_type="contract",
            source_id=contract.id,
            created_by_id=actor_id,
        )
    balance = ledger.driver_balance(session, contract.driver_id)
    if balance >= 0:
        return 0
    ledger.post_entry(
        session,
        driver_id=contract.driver_id,
        contract_id=contract.id,
        kind=EntryKind.ADJUSTMENT,
        amount_cents=-balance,
        idempotency_key=f"deposit:{contract.id}:refund",
        description=f"Devolución del saldo a favor, contrato {contract.number}",
        posted_at=now,
        source_type="contract",
        source_id=contract.id,
        created_by_id=actor_id,
    )
    return -balance


def _release_replacement(session: Session, contract: Contract, actor_id: int) -> None:
    if contract.own_vehicle_id is None:
        return
    replacement = session.get(Vehicle, contract.vehicle_id)
    assert replacement is not None  # noqa: S101
    set_status(session, replacement, VehicleStatus.AVAILABLE, actor_id=actor_id, contract=contract)
    contract.vehicle_id = contract.own_vehicle_id
    contract.own_vehicle_id = None
    session.flush()


def terminate(
    session: Session,
    contract: Contract,
    returned: ChecklistData,
    *,
    actor: User,
    reason: str,
    today: date,
    storage_root: str | Path,
    now: datetime | None = None,
    ip: str | None = None,
) -> ContractChecklist:
    """End a contract early (a manager): the return checklist; damage found becomes an
    incident whose liability is charged to the driver; the deposit is credited back
    (and a balance in the driver's favour refunded); the car goes back to the fleet."""
    if actor.role not in MANAGERS:
        raise NotAllowed(N_("Only a manager ends a contract early."))
    _expect(contract, CS.SIGNED, CS.ACTIVE, CS.SUSPENDED)
    reason = _reason(reason)
    _check_reading(returned)
    if returned.damage_cents < 0:
        raise FieldError("damage", N_("The damage is an amount of zero or more."))
    if returned.damage_cents > 0 and len(returned.damage_notes.strip()) < 5:
        raise FieldError("damage_notes", N_("Describe the damage the driver pays for."))
    now = now or utcnow()
    _release_replacement(session, contract, actor.id)
    own = session.get(Vehicle, contract.vehicle_id)
    assert own is not None  # noqa: S101
    checklist = ContractChecklist(
        contract=contract,
        vehicle_id=own.id,
        kind=ChecklistKind.RETURN,
        odometer_km=returned.odometer_km,
        soc_pct=returned.soc_pct,
        damage_notes=returned.damage_notes.strip() or None,
        damage_cents=returned.damage_cents,
        photos=_store_photos(returned.photos, storage_root),
        recorded_by_id=actor.id,
        confirmed_at=now,
    )
    session.add(checklist)
    session.flush()
    if returned.damage_cents > 0:
        incident = incident_report.report_incident(
            session,
            driver_id=contract.driver_id,
            reporter_id=actor.id,
            type=IncidentType.DAMAGE,
            occurred_at=now,
            place=own.depot.name,
            description=returned.damage_notes.strip(),
            files=returned.photos,
            storage_root=storage_root,
            now=now,
            contract_id=contract.id,
        )
        incident_costs.assign_liability(
            session,
            incident.id,
            kind=EntryKind.DAMAGE,
            amount_cents=returned.damage_cents,
            reason=f"Daños al devolver el auto, contrato {contract.number}",
            sequence=1,
            actor_id=actor.id,
            ip=ip,
        )
        checklist.incident_id = incident.id
    contract.status = CS.TERMINATED
    contract.ended_on = today
    contract.end_reason = reason
    session.flush()
    set_status(
        session,
        own,
        VehicleStatus.IN_REPAIR if returned.damage_cents > 0 else VehicleStatus.AVAILABLE,
        actor_id=actor.id,
        contract=contract,
    )
    refund = _settle_deposit(session, contract, actor_id=actor.id, now=now)
    _driver_leaves(session, contract)
    audit.record(
        session,
        actor.id,
        "contract.terminated",
        contract,
        ip=ip,
        reason=reason,
        checklist_id=checklist.id,
        damage_cents=returned.damage_cents,
        refund_cents=refund,
    )
    return checklist


def _driver_leaves(session: Session, contract: Contract) -> None:
    driver = session.get(Driver, contract.driver_id)
    if driver is not None and driver.status == DriverStatus.ACTIVE:
        driver.status = DriverStatus.FORMER
        session.flush()


def last_rent_week(contract: Contract) -> date:
    return billing.first_rent_week(contract) + timedelta(weeks=contract.term_weeks - 1)


def complete(
    session: Session,
    contract: Contract,
    *,
    actor_id: int,
    today: date,
    now: datetime | None = None,
    ip: str | None = None,
) -> None:
    """The term is over and the account is paid: the car passes to the driver. The
    deposit is credited back (a balance in favour refunded). The last weekly statement
    is the final one; the letter is a PDF (`workers/contract_pdf.py`)."""
    _expect(contract, CS.ACTIVE)
    if monday_of(today) < last_rent_week(contract):
        raise DomainError(
            N_("The term ends in the week of %(day)s."), day=last_rent_week(contract).isoformat()
        )
    owed = ledger.driver_balance(session, contract.driver_id) - contract.deposit_cents
    if owed > 0:
        raise DomainError(
            N_("The driver still owes %(amount)s; the car passes once the account is paid."),
            amount=f"${owed / 100:,.2f}",
        )
    now = now or utcnow()
    _release_replacement(session, contract, actor_id)
    own = session.get(Vehicle, contract.vehicle_id)
    assert own is not None  # noqa: S101
    contract.status = CS.COMPLETED
    contract.ended_on = today
    contract.end_reason = "Plazo cumplido"
    session.flush()
    set_status(session, own, VehicleStatus.TRANSFERRED, actor_id=actor_id, contract=contract)
    refund = _settle_deposit(session, contract, actor_id=actor_id, now=now)
    _driver_leaves(session, contract)
    audit.record(
        session,
        actor_id,
        "contract.completed",
        contract,
        ip=ip,
        vehicle=own.plate,
        refund_cents=refund,
    )


def approved_without_driver(session: Session, limit: int = 50) -> list[CreditApplication]:
    """Approved applications that are not yet a driver (the next contracts to sign)."""
    return list(
        session.scalars(
            select(CreditApplication)
            .where(
                CreditApplication.status == ApplicationStatus.APPROVED,
                ~select(Driver.id).where(Driver.application_id == CreditApplication.id).exists(),
                CreditApplication.driver_id.is_(None),
            )
            .order_by(CreditApplication.updated_at.desc())
            .limit(limit)
        )
    )


def count_by_status(session: Session) -> dict[ContractStatus, int]:
    rows = session.execute(select(Contract.status, func.count()).group_by(Contract.status)).all()
    counts = dict.fromkeys(ContractStatus, 0)
    counts.update({status: n for status, n in rows})
    return counts


# --------------------------------------------------------------------------- documents


def weeks_paid(session: Session, contract: Contract) -> int:
    """Rent weeks paid toward ownership: the last closed statement's count (it includes
    the weeks paid before the portal), else those weeks alone."""
    latest = session.scalar(
        select(Statement.weeks_paid)
        .where(Statement.contract_id == contract.id)
        .order_by(Statement.week_start.desc())
        .limit(1)
    )
    return contract.opening_weeks_paid if latest is None else int(latest)


DOCUMENTS = ("summary", "letter")


def record_document(session: Session, contract_id: int, kind: str, sha256: str) -> Contract:
    """Remember a rendered PDF (the contract summary, or the letter at completion)."""
    if kind not in DOCUMENTS:
        raise ValueError(f"unknown contract document {kind!r}")
    contract = get_contract(session, contract_id)
    setattr(contract, f"{kind}_pdf_sha256", sha256)
    session.flush()
    return contract


def has_photo(contract: Contract, sha256: str) -> dict[str, object] | None:
    """The photo of one of the contract's checklists with that checksum, if any."""
    for checklist in contract.checklists:
        for photo in checklist.photos:
            if photo.get("sha256") == sha256:
                return photo
    return None


def driver_contract(session: Session, driver_id: int) -> Contract | None:
    """The contract a driver's page shows: the live one, else the latest."""
    return session.scalar(
        select(Contract)
        .where(Contract.driver_id == driver_id, Contract.status != CS.CANCELLED)
        .order_by(Contract.status.in_(list(LIVE_CONTRACT_STATUSES)).desc(), Contract.id.desc())
        .limit(1)
    )
