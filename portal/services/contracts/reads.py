"""Contracts as the pages and documents read them: one, a list, a driver's, the
timeline, counts and the weeks toward ownership.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.models import (
    LIVE_CONTRACT_STATUSES,
    ApplicationStatus,
    AuditEvent,
    Contract,
    ContractStatus,
    CreditApplication,
    Driver,
    Statement,
)
from portal.services import N_, DomainError
from portal.services.contracts.rules import CS


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


def driver_contract(session: Session, driver_id: int) -> Contract | None:
    """The contract a driver's page shows: the live one, else the latest."""
    return session.scalar(
        select(Contract)
        .where(Contract.driver_id == driver_id, Contract.status != CS.CANCELLED)
        .order_by(Contract.status.in_(list(LIVE_CONTRACT_STATUSES)).desc(), Contract.id.desc())
        .limit(1)
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


def weeks_to_ownership(contract: Contract, weeks_paid: int) -> int:
    return max(0, contract.term_weeks - weeks_paid)


def total_cost_cents(contract: Contract) -> int:
    """What the car costs the driver over the term: the rent of every week."""
    return contract.weekly_rent_cents * contract.term_weeks


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
