"""The end of a contract: early (the return checklist, damage becomes an incident and
its liability) or at the end of the term (the car passes to the driver); either way the
deposit is credited back and a balance in the driver's favour refunded.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.models import (
    ChecklistKind,
    Contract,
    ContractChecklist,
    Driver,
    DriverStatus,
    EntryKind,
    IncidentType,
    User,
    Vehicle,
    VehicleStatus,
)
from portal.services import N_, DomainError, FieldError, NotAllowed, audit, billing, ledger
from portal.services.contracts.checklists import ChecklistData, check_reading, store_photos
from portal.services.contracts.rules import CS, MANAGERS, clean_reason, expect_status
from portal.services.contracts.running import release_replacement
from portal.services.incidents import costs as incident_costs
from portal.services.incidents import report as incident_report
from portal.services.vehicles import set_status
from portal.timeutil import monday_of


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
    expect_status(contract, CS.SIGNED, CS.ACTIVE, CS.SUSPENDED)
    reason = clean_reason(reason)
    check_reading(returned)
    if returned.damage_cents < 0:
        raise FieldError("damage", N_("The damage is an amount of zero or more."))
    if returned.damage_cents > 0 and len(returned.damage_notes.strip()) < 5:
        raise FieldError("damage_notes", N_("Describe the damage the driver pays for."))
    now = now or utcnow()
    release_replacement(session, contract, actor.id)
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
        photos=store_photos(returned.photos, storage_root),
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
    expect_status(contract, CS.ACTIVE)
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
    release_replacement(session, contract, actor_id)
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


def last_rent_week(contract: Contract) -> date:
    return billing.first_rent_week(contract) + timedelta(weeks=contract.term_weeks - 1)


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


def _driver_leaves(session: Session, contract: Contract) -> None:
    driver = session.get(Driver, contract.driver_id)
    if driver is not None and driver.status == DriverStatus.ACTIVE:
        driver.status = DriverStatus.FORMER
        session.flush()
