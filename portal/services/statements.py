"""Weekly account statements: closing a week, reading it, storing its PDF.

A statement covers one contract's week (Monday 00:00 to Monday 00:00, Mexico City)
and shows every entry of the contract's driver posted in that week, so the closing
balance of one week is the opening balance of the next and the driver's balance on
the home page is the last closing balance plus what was posted since.

Definitions (the same on the page, the PDF and in the tests):

- opening balance: the driver's balance when the week began; closing balance: when
  it ended. Positive means the driver owes, negative that they have money in favour.
- due date: the Monday of the week plus the contract's grace days, when the week's
  rent falls due.
- days late: on the last day of the week (Sunday), days since the oldest charge not
  covered by credits fell due (`ledger.charge_due_on`: the first Monday 00:00 at or
  after it was posted, plus grace days), credits paying the oldest charges first (FIFO), as
  `ledger.days_past_due`.
- weeks paid toward ownership: the contract's rent charges posted before the week
  ended, not reversed, and fully covered by the driver's credits (FIFO).

Closing is idempotent and a closed statement's figures never change; only its PDF
fields are filled in afterwards.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, aliased, joinedload

from portal import clock
from portal.models import (
    Contract,
    ContractStatus,
    EntryKind,
    LedgerEntry,
    PdfStatus,
    Statement,
)
from portal.timeutil import local_midnight, monday_of

from . import N_, DomainError
from .billing import BATCH, first_rent_week, unpaid_charges
from .ledger import charge_due_on, days_past_due, driver_balance, oldest_unpaid_charge_at


def week_bounds(week_start: date) -> tuple[datetime, datetime]:
    """The UTC moments a Mexico City week begins and ends (end excluded)."""
    return local_midnight(week_start), local_midnight(week_start + timedelta(days=7))


def close_statement(
    session: Session, contract_id: int, week_start: date, *, now: datetime | None = None
) -> Statement:
    """Close one contract's week, or return its statement if it is already closed."""
    contract = session.get(Contract, contract_id)
    if contract is None:
        raise DomainError(N_("That contract does not exist."))
    _close(session, week_start, [contract], now=now)
    statement = session.scalar(
        select(Statement).where(
            Statement.contract_id == contract_id, Statement.week_start == week_start
        )
    )
    if statement is None:  # the contract had not started that week
        raise DomainError(
            N_("The contract has no statement for the week of %(day)s."), day=week_start
        )
    return statement


def contracts_for_week(session: Session, week_start: date) -> list[Contract]:
    """Contracts running during the week: active ones already started, and ones that
    ended during or after it."""
    week_end = week_start + timedelta(days=7)
    rows = session.scalars(
        select(Contract).where(
            Contract.starts_on < week_end,
            or_(
                Contract.status.in_([ContractStatus.ACTIVE, ContractStatus.SUSPENDED]),
                and_(
                    Contract.status.in_([ContractStatus.COMPLETED, ContractStatus.TERMINATED]),
                    Contract.ended_on >= week_start,
                ),
            ),
        )
    )
    return [c for c in rows if first_rent_week(c) <= week_start]


def close_statements(
    session: Session, week_start: date, *, now: datetime | None = None
) -> list[int]:
    """Close the week for every contract running in it. Returns the ids of the
    statements this call closed (none when the week was closed already)."""
    return _close(session, week_start, contracts_for_week(session, week_start), now=now)


def _close(
    session: Session,
    week_start: date,
    contracts: Sequence[Contract],
    *,
    now: datetime | None = None,
) -> list[int]:
    if week_start.weekday() != 0:
        raise DomainError(
            N_("A statement week starts on a Monday, not on %(day)s."), day=week_start
        )
    start, end = week_bounds(week_start)
    if end > (now or clock.now()):
        raise DomainError(N_("The week of %(day)s has not ended yet."), day=week_start)
    closed = set(
        session.scalars(
            select(Statement.contract_id).where(
                Statement.week_start == week_start,
                Statement.contract_id.in_([c.id for c in contracts]),
            )
        )
    )
    todo = [c for c in contracts if c.id not in closed]
    new_ids: list[int] = []
    for i in range(0, len(todo), BATCH):
        new_ids += _close_batch(session, week_start, start, end, todo[i : i + BATCH])
    return new_ids


def _close_batch(
    session: Session,
    week_start: date,
    start: datetime,
    end: datetime,
    contracts: Sequence[Contract],
) -> list[int]:
    LE = LedgerEntry
    driver_ids = sorted({c.driver_id for c in contracts})
    contract_ids = [c.id for c in contracts]

    opening: dict[int, int] = dict(
        session.execute(  # type: ignore[arg-type]
            select(LE.driver_id, func.sum(LE.amount_cents))
            .where(LE.driver_id.in_(driver_ids), LE.posted_at < start)
            .group_by(LE.driver_id)
        ).all()
    )
    week: dict[int, dict[str, Any]] = defaultdict(
        lambda: {"charges": 0, "credits": 0, "payments": 0, "count": 0, "kinds": {}}
    )
    for driver_id, kind, total, positive, negative, count in session.execute(
        select(
            LE.driver_id,
            LE.kind,
            func.sum(LE.amount_cents),
            func.sum(case((LE.amount_cents > 0, LE.amount_cents), else_=0)),
            func.sum(case((LE.amount_cents < 0, LE.amount_cents), else_=0)),
            func.count(LE.id),
        )
        .where(LE.driver_id.in_(driver_ids), LE.posted_at >= start, LE.posted_at < end)
        .group_by(LE.driver_id, LE.kind)
    ):
        w = week[driver_id]
        kind = EntryKind(kind)
        w["charges"] += int(positive)
        w["credits"] += int(negative)
        w["count"] += int(count)
        w["kinds"][kind.value] = int(total)
        if kind == EntryKind.PAYMENT:
            w["payments"] += int(total)

    unpaid = unpaid_charges(session, driver_ids, end)
    oldest: dict[int, datetime] = {}
    for charge in unpaid:
        oldest.setdefault(charge.driver_id, charge.posted_at)

    reversal = aliased(LE)
    not_reversed = (
        ~select(reversal.id).where(reversal.reverses_id == LE.id, reversal.posted_at < end).exists()
    )
    rents: dict[int, int] = dict(
        session.execute(  # type: ignore[arg-type]
            select(LE.contract_id, func.count(LE.id))
            .where(
                LE.contract_id.in_(contract_ids),
                LE.kind == EntryKind.RENT,
                LE.posted_at < end,
                not_reversed,
            )
            .group_by(LE.contract_id)
        ).all()
    )
    reversed_ids = set(
        session.scalars(
            select(LE.reverses_id).where(
                LE.driver_id.in_(driver_ids), LE.reverses_id.is_not(None), LE.posted_at < end
            )
        )
    )
    unpaid_rents: dict[int, int] = defaultdict(int)
    for charge in unpaid:
        if charge.kind == EntryKind.RENT and charge.entry_id not in reversed_ids:
            unpaid_rents[charge.contract_id or 0] += 1

    last_day = week_start + timedelta(days=6)
    rows = []
    for c in contracts:
        w = week[c.driver_id]
        opening_cents = int(opening.get(c.driver_id) or 0)
        days_late = 0
        if c.driver_id in oldest:
            due = charge_due_on(oldest[c.driver_id], c.grace_days)
            days_late = max(0, (last_day - due).days)
        rows.append(
            {
                "driver_id": c.driver_id,
                "contract_id": c.id,
                "week_start": week_start,
                "week_end": last_day,
                "opening_balance_cents": opening_cents,
                "charges_cents": w["charges"],
                "credits_cents": w["credits"],
                "payments_cents": w["payments"],
                "closing_balance_cents": opening_cents + w["charges"] + w["credits"],
                "totals_by_kind": w["kinds"],
                "entry_count": w["count"],
                "due_on": week_start + timedelta(days=c.grace_days),
                "days_late": days_late,
                "weeks_paid": c.opening_weeks_paid
                + max(0, rents.get(c.id, 0) - unpaid_rents.get(c.id, 0)),
                "term_weeks": c.term_weeks,
                "pdf_status": PdfStatus.NONE,
            }
        )
    result = session.execute(
        insert(Statement)
        .on_conflict_do_nothing(index_elements=["contract_id", "week_start"])
        .returning(Statement.id),
        rows,
    )
    return [row[0] for row in result]


# Reads -------------------------------------------------------------------------------


def list_statements(session: Session, driver_id: int, limit: int = 60) -> list[Statement]:
    return list(
        session.scalars(
            select(Statement)
            .where(Statement.driver_id == driver_id)
            .order_by(Statement.week_start.desc(), Statement.id.desc())
            .limit(limit)
        )
    )


def get_statement(
    session: Session, statement_id: int, driver_id: int | None = None
) -> Statement | None:
    """The statement with its contract, car and driver; only the driver's own when
    `driver_id` is given."""
    query = (
        select(Statement)
        .options(
            joinedload(Statement.contract).joinedload(Contract.vehicle),
            joinedload(Statement.driver),
        )
        .where(Statement.id == statement_id)
    )
    if driver_id is not None:
        query = query.where(Statement.driver_id == driver_id)
    return session.scalar(query)


def statement_entries(session: Session, statement: Statement) -> list[LedgerEntry]:
    start, end = week_bounds(statement.week_start)
    return list(
        session.scalars(
            select(LedgerEntry)
            .where(
                LedgerEntry.driver_id == statement.driver_id,
                LedgerEntry.posted_at >= start,
                LedgerEntry.posted_at < end,
            )
            .order_by(LedgerEntry.posted_at, LedgerEntry.id)
        )
    )


def list_entries(session: Session, driver_id: int, limit: int = 100) -> list[LedgerEntry]:
    """The driver's latest movements, newest first."""
    return list(
        session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.driver_id == driver_id)
            .order_by(LedgerEntry.posted_at.desc(), LedgerEntry.id.desc())
            .limit(limit)
        )
    )


def reversed_entry_ids(session: Session, entry_ids: Sequence[int]) -> set[int]:
    if not entry_ids:
        return set()
    return {
        i
        for i in session.scalars(
            select(LedgerEntry.reverses_id).where(LedgerEntry.reverses_id.in_(list(entry_ids)))
        )
        if i is not None
    }


@dataclass(frozen=True, slots=True)
class AccountSummary:
    balance_cents: int  # > 0 owed, < 0 in favour
    next_due_on: date | None
    days_late: int

    @property
    def state(self) -> str:
        """`late`, `due` (owed, not yet late), `clear` (nothing owed) or `credit`."""
        if self.days_late > 0:
            return "late"
        if self.balance_cents > 0:
            return "due"
        return "credit" if self.balance_cents < 0 else "clear"


def account_summary(
    session: Session, driver_id: int, contract: Contract | None, today: date
) -> AccountSummary:
    """What the home page shows: balance, the next due date and days late.

    With something owed, the next due date is when the oldest unpaid charge fell (or
    falls) due; with nothing owed, when next week's rent will.
    """
    grace = contract.grace_days if contract else 0
    balance = driver_balance(session, driver_id)
    oldest = oldest_unpaid_charge_at(session, driver_id) if balance > 0 else None
    if oldest is not None:
        due: date | None = charge_due_on(oldest, grace)
        late = days_past_due(session, driver_id, today, grace)
    else:
        due = monday_of(today) + timedelta(days=7 + grace) if contract else None
        late = 0
    return AccountSummary(balance_cents=balance, next_due_on=due, days_late=late)


# The PDF -----------------------------------------------------------------------------


def request_pdf(session: Session, statement: Statement, *, force: bool = False) -> bool:
    """Mark the PDF as wanted; True when a rendering job should be queued."""
    if statement.pdf_status == PdfStatus.READY and not force:
        return False
    if statement.pdf_status == PdfStatus.QUEUED and not force:
        return True  # queue again: the job is unique, a lost one comes back
    statement.pdf_status = PdfStatus.QUEUED
    session.flush()
    return True


def pdf_relative_path(statement: Statement) -> str:
    number = "".join(ch for ch in statement.contract.number if ch.isalnum() or ch in "-_")
    week = statement.week_start
    return f"{week:%Y}/{week.isoformat()}/{number}-{statement.id}.pdf"


def store_pdf(session: Session, statement: Statement, pdf: bytes, directory: str | Path) -> Path:
    """Write the PDF atomically under `directory` and record its path and SHA-256."""
    relative = pdf_relative_path(statement)
    target = Path(directory) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pdf)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    statement.pdf_path = relative
    statement.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
    statement.pdf_generated_at = clock.now()
    statement.pdf_status = PdfStatus.READY
    session.flush()
    return target


def pdf_file(statement: Statement, directory: str | Path) -> Path | None:
    """The stored PDF file, if it has been made and is on disk."""
    if not statement.pdf_ready or statement.pdf_path is None:
        return None
    path = Path(directory) / statement.pdf_path
    return path if path.is_file() else None
