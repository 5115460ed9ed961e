"""Labelled outcomes: whether a contract went 30+ days past due within its first
26 weeks, for every contract, and their export for training.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import (
    ApplicationStatus,
    Contract,
    CreditApplication,
    LedgerEntry,
)
from portal.services.credit.features import FEATURES, TARGET
from portal.services.credit.scoring import latest_score
from portal.services.ledger import charge_due_on
from portal.timeutil import local_date

OBSERVATION_WEEKS = 26


BAD_DAYS_PAST_DUE = 30


def _covered_at(
    charges: list[tuple[datetime, int]], credits: list[tuple[datetime, int]]
) -> list[datetime | None]:
    """When each charge (oldest first) was fully covered by credits (FIFO), or None."""
    covered: list[datetime | None] = []
    paid, c = 0, 0
    owed = 0
    for _, amount in charges:
        owed += amount
        while paid < owed and c < len(credits):
            paid += credits[c][1]
            c += 1
        covered.append(credits[c - 1][0] if paid >= owed and c > 0 else None)
    return covered


def contract_went_bad(session: Session, contract: Contract, today: date) -> bool | None:
    """True if, within the contract's first 26 weeks, a charge stayed unpaid 30 or more
    days after it fell due (`ledger.charge_due_on` with the contract's grace days,
    credits paying the oldest charges first); False if the 26 weeks passed without it;
    None while the contract is still under observation."""
    entries = session.execute(
        select(LedgerEntry.posted_at, LedgerEntry.amount_cents)
        .where(LedgerEntry.driver_id == contract.driver_id)
        .order_by(LedgerEntry.posted_at, LedgerEntry.id)
    )
    return _went_bad(contract.starts_on, contract.grace_days, [(p, a) for p, a in entries], today)


def _went_bad(
    starts_on: date, grace_days: int, entries: Sequence[tuple[datetime, int]], today: date
) -> bool | None:
    """`contract_went_bad` on the driver's ledger entries (oldest first)."""
    window_end = starts_on + timedelta(weeks=OBSERVATION_WEEKS)
    charges = [(p, a) for p, a in entries if a > 0]
    credits = [(p, -a) for p, a in entries if a < 0]
    covered = _covered_at(charges, credits)
    horizon = min(window_end, today)
    for (posted, _), paid_at in zip(charges, covered, strict=True):
        due = charge_due_on(posted, grace_days)
        bad_on = due + timedelta(days=BAD_DAYS_PAST_DUE)
        if due < starts_on or bad_on > horizon:
            continue
        if paid_at is None or local_date(paid_at) > bad_on:
            return True
    return False if today >= window_end else None


def contract_outcomes(session: Session, today: date) -> dict[int, bool | None]:
    """`contract_went_bad` of every contract, by contract id, reading the ledger once
    (for the dashboard's early delinquency by cohort)."""
    contracts: dict[int, list[tuple[int, date, int]]] = {}
    for contract_id, driver_id, starts_on, grace_days in session.execute(
        select(Contract.id, Contract.driver_id, Contract.starts_on, Contract.grace_days)
    ):
        contracts.setdefault(driver_id, []).append((contract_id, starts_on, grace_days))
    outcomes: dict[int, bool | None] = {}
    rows = session.execute(
        select(LedgerEntry.driver_id, LedgerEntry.posted_at, LedgerEntry.amount_cents)
        .where(LedgerEntry.driver_id.in_(select(Contract.driver_id)))
        .order_by(LedgerEntry.driver_id, LedgerEntry.posted_at, LedgerEntry.id)
        .execution_options(yield_per=10_000)
    )
    by_driver = {d: [(p, a) for _, p, a in group] for d, group in groupby(rows, key=itemgetter(0))}
    for driver_id, driver_contracts in contracts.items():
        entries = by_driver.get(driver_id, [])
        for contract_id, starts_on, grace_days in driver_contracts:
            outcomes[contract_id] = _went_bad(starts_on, grace_days, entries, today)
    return outcomes


def export_outcomes(session: Session, today: date) -> list[dict[str, Any]]:
    """One row per contract whose outcome is known and whose driver has a scored
    application: the features at application time and ``incumplimiento`` (1 = a contract
    30+ days past due within its first 26 weeks). Contracts still under observation and
    contracts without a scored application are left out."""
    out = []
    contracts = session.scalars(select(Contract).order_by(Contract.id))
    for contract in contracts:
        application_id = session.scalar(
            select(CreditApplication.id)
            .where(
                (CreditApplication.driver_id == contract.driver_id)
                | (CreditApplication.curp == contract.driver.curp),
                CreditApplication.status == ApplicationStatus.APPROVED,
            )
            .order_by(CreditApplication.id.desc())
            .limit(1)
        )
        if application_id is None:
            continue
        score = latest_score(session, application_id)
        if score is None:
            continue
        label = contract_went_bad(session, contract, today)
        if label is None:
            continue
        row: dict[str, Any] = {"contrato_id": contract.number}
        row.update({k: score.features.get(k) for k in FEATURES})
        row[TARGET] = int(label)
        out.append(row)
    return out
