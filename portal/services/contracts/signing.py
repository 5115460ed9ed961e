"""From the proposal to the signature: the terms (checked, or proposed by the credit
decision), a manager's sign-off when they differ, cancelling a draft, and signing (the
deposit is charged, the car leased).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.models import (
    Contract,
    CreditDecision,
    Driver,
    DriverStatus,
    EntryKind,
    Outcome,
    User,
    Vehicle,
    VehicleStatus,
)
from portal.services import N_, DomainError, FieldError, NotAllowed, audit, ledger
from portal.services.contracts.rules import (
    CS,
    MANAGERS,
    check_driver,
    check_vehicle_free,
    clean_reason,
    expect_status,
    locked_vehicle,
)
from portal.services.vehicles import set_status

MAX_TERM_WEEKS = 520
MAX_RENT_CENTS = 5_000_000  # $50,000.00 a week: anything above is a typo


@dataclass(frozen=True, slots=True)
class Terms:
    weekly_rent_cents: int
    deposit_cents: int
    term_weeks: int
    starts_on: date
    late_fee_cents: int = 25_000
    grace_days: int = 2


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
    check_driver(session, driver)
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


def sign_off(session: Session, contract: Contract, *, actor: User, ip: str | None = None) -> None:
    """A manager approves terms that differ from the credit decision's."""
    if actor.role not in MANAGERS:
        raise NotAllowed(N_("Only a manager signs off a contract's terms."))
    expect_status(contract, CS.DRAFT)
    if not contract.needs_signoff or contract.signed_off_at is not None:
        return
    contract.signed_off_by_id = actor.id
    contract.signed_off_at = utcnow()
    session.flush()
    audit.record(session, actor.id, "contract.signed_off", contract, ip=ip)


def cancel(
    session: Session, contract: Contract, *, actor_id: int, reason: str, ip: str | None = None
) -> None:
    expect_status(contract, CS.DRAFT)
    reason = clean_reason(reason)
    contract.status = CS.CANCELLED
    contract.end_reason = reason
    session.flush()
    audit.record(session, actor_id, "contract.cancelled", contract, ip=ip, reason=reason)


def sign(
    session: Session,
    contract: Contract,
    *,
    actor_id: int,
    now: datetime | None = None,
    ip: str | None = None,
) -> None:
    """The driver signed: the deposit is charged, the car is theirs (leased)."""
    expect_status(contract, CS.DRAFT)
    if contract.needs_signoff and contract.signed_off_at is None:
        raise DomainError(
            N_("The terms differ from the credit decision: a manager signs off first.")
        )
    now = now or utcnow()
    driver = session.get(Driver, contract.driver_id, with_for_update=True)
    assert driver is not None  # noqa: S101 - a foreign key
    check_driver(session, driver)
    vehicle = locked_vehicle(session, contract.vehicle_id)
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
