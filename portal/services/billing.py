"""What the contracts charge on their own: weekly rent and late fees.

Both are safe to run twice, late, or concurrently: every entry has an idempotency key
(`rent:<contract>:<week>`, `late_fee:<contract>:<week>`) and is inserted with
`ON CONFLICT DO NOTHING` on it, so a contract-week is charged exactly once.

Weeks are Mexico City weeks, Monday 00:00 to Monday 00:00. An entry is posted at the
moment it belongs to (rent: the Monday that starts its week) unless that week's
statement for the contract is already closed: then it is posted now, so a closed
statement never changes and the correction lands in the open week.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from portal import clock
from portal.models import Contract, ContractStatus, EntryKind, LedgerEntry, Statement
from portal.timeutil import local_date, local_midnight, monday_of

from . import N_, DomainError, balances

BATCH = 1000


def first_rent_week(contract: Contract) -> date:
    """The Monday of the week the contract starts in: its first rent week."""
    return monday_of(contract.starts_on)


def rent_week_number(contract: Contract, week_start: date) -> int:
    """1 for the first rent week; above `term_weeks` once the term is over."""
    return (week_start - first_rent_week(contract)).days // 7 + 1


def insert_entries(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert ledger rows in batches, skipping any whose idempotency key exists.

    Returns how many keys were new when looked up (a concurrent poster may take a few
    of them; the unique key still makes each one exactly-once).
    """
    if not rows:
        return 0
    keys = [r["idempotency_key"] for r in rows]
    existing: set[str] = set()
    for i in range(0, len(keys), BATCH):
        existing.update(
            session.scalars(
                select(LedgerEntry.idempotency_key).where(
                    LedgerEntry.idempotency_key.in_(keys[i : i + BATCH])
                )
            )
        )
    fresh = [r for r in rows if r["idempotency_key"] not in existing]
    if not fresh:
        return 0
    statement = insert(LedgerEntry).on_conflict_do_nothing(index_elements=["idempotency_key"])
    for i in range(0, len(fresh), BATCH):
        session.execute(statement, fresh[i : i + BATCH])
    balances.refresh(session, (r["driver_id"] for r in fresh))
    return len(fresh)


def closed_weeks(session: Session, pairs: Iterable[tuple[int, date]]) -> set[tuple[int, date]]:
    """Which (contract id, week start) pairs already have a closed statement."""
    wanted = list(set(pairs))
    found: set[tuple[int, date]] = set()
    for i in range(0, len(wanted), BATCH):
        chunk = wanted[i : i + BATCH]
        found.update(
            (c, w)
            for c, w in session.execute(
                select(Statement.contract_id, Statement.week_start).where(
                    tuple_(Statement.contract_id, Statement.week_start).in_(chunk)
                )
            )
        )
    return found


def _now(now: datetime | None) -> datetime:
    return now or clock.now()


def post_weekly_rent(session: Session, week_start: date, *, now: datetime | None = None) -> int:
    """Charge one week's rent to every active contract whose term covers `week_start`.

    Returns how many entries were posted (0 when the week was already posted).
    """
    if week_start.weekday() != 0:
        raise DomainError(N_("A rent week starts on a Monday, not on %(day)s."), day=week_start)
    week_end = week_start + timedelta(days=7)
    contracts = session.scalars(
        select(Contract).where(
            Contract.status == ContractStatus.ACTIVE, Contract.starts_on < week_end
        )
    )
    return _post_rent(session, [(c, week_start) for c in contracts], _now(now))


def post_rent_to_date(
    session: Session, contract: Contract, today: date, *, now: datetime | None = None
) -> int:
    """Charge an active contract every rent week from its start up to `today`'s week
    that the weekly job has not charged (a contract handed over mid-week, after that
    Monday's run). The same keys as the weekly job: each week is charged once."""
    if contract.status != ContractStatus.ACTIVE:
        return 0
    weeks = []
    week = first_rent_week(contract)
    while week <= monday_of(today):
        weeks.append((contract, week))
        week += timedelta(days=7)
    return _post_rent(session, weeks, _now(now))


def _post_rent(session: Session, weeks: Sequence[tuple[Contract, date]], now: datetime) -> int:
    due = [(c, w) for c, w in weeks if 1 <= rent_week_number(c, w) <= c.term_weeks]
    closed = closed_weeks(session, ((c.id, w) for c, w in due))
    rows = []
    for c, week_start in due:
        n = rent_week_number(c, week_start)
        rows.append(
            {
                "driver_id": c.driver_id,
                "contract_id": c.id,
                "kind": EntryKind.RENT,
                "amount_cents": c.weekly_rent_cents,
                "posted_at": now if (c.id, week_start) in closed else local_midnight(week_start),
                "description": f"Renta semanal, semana {n} de {c.term_weeks}",
                "source_type": "contract_week",
                "source_id": f"{c.id}:{week_start.isoformat()}",
                "idempotency_key": f"rent:{c.id}:{week_start.isoformat()}",
            }
        )
    return insert_entries(session, rows)


@dataclass(frozen=True, slots=True)
class UnpaidCharge:
    entry_id: int
    driver_id: int
    contract_id: int | None
    kind: EntryKind
    posted_at: datetime


def unpaid_charges(
    session: Session, driver_ids: Any, cut: datetime, kinds: Iterable[EntryKind] | None = None
) -> list[UnpaidCharge]:
    """Charges posted before `cut` that the driver's credits before `cut` do not cover.

    Credits (every negative entry) pay charges oldest first (FIFO), per driver, as in
    `ledger.oldest_unpaid_charge_at`. `driver_ids` is a list or a subquery of ids.
    """
    LE = LedgerEntry
    credits = (
        select(LE.driver_id, (-func.sum(LE.amount_cents)).label("paid"))
        .where(LE.driver_id.in_(driver_ids), LE.amount_cents < 0, LE.posted_at < cut)
        .group_by(LE.driver_id)
        .subquery()
    )
    charges = (
        select(
            LE.id,
            LE.driver_id,
            LE.contract_id,
            LE.kind,
            LE.posted_at,
            func.sum(LE.amount_cents)
            .over(partition_by=LE.driver_id, order_by=(LE.posted_at, LE.id))
            .label("cumulative"),
        )
        .where(LE.driver_id.in_(driver_ids), LE.amount_cents > 0, LE.posted_at < cut)
        .subquery()
    )
    query = (
        select(
            charges.c.id,
            charges.c.driver_id,
            charges.c.contract_id,
            charges.c.kind,
            charges.c.posted_at,
        )
        .outerjoin(credits, credits.c.driver_id == charges.c.driver_id)
        .where(charges.c.cumulative > func.coalesce(credits.c.paid, 0))
        .order_by(charges.c.driver_id, charges.c.posted_at, charges.c.id)
    )
    if kinds is not None:
        query = query.where(charges.c.kind.in_([k.value for k in kinds]))
    return [
        UnpaidCharge(
            entry_id=row.id,
            driver_id=row.driver_id,
            contract_id=row.contract_id,
            kind=EntryKind(row.kind),
            posted_at=row.posted_at,
        )
        for row in session.execute(query)
    ]


def assess_late_fees(session: Session, today: date, *, now: datetime | None = None) -> int:
    """Charge each contract's late fee once for every rent week still unpaid after its
    due date (the Monday of the week plus the contract's grace days).

    Looks at the ledger as it stood when `today` began (00:00 Mexico City), so a run
    later in the day, or a day late, decides on the same facts. Returns how many fees
    were posted.
    """
    now = _now(now)
    cut = local_midnight(today)
    contracts = {
        c.id: c
        for c in session.scalars(
            select(Contract).where(
                Contract.status == ContractStatus.ACTIVE, Contract.late_fee_cents > 0
            )
        )
    }
    if not contracts:
        return 0
    driver_ids = select(Contract.driver_id).where(
        Contract.status == ContractStatus.ACTIVE, Contract.late_fee_cents > 0
    )
    late: list[tuple[Contract, date]] = []
    for charge in unpaid_charges(session, driver_ids, cut, kinds=[EntryKind.RENT]):
        contract = contracts.get(charge.contract_id or 0)
        if contract is None:
            continue
        week = monday_of(local_date(charge.posted_at))
        due = week + timedelta(days=contract.grace_days)
        if today > due:
            late.append((contract, week))
    closed = closed_weeks(session, ((c.id, monday_of(today)) for c, _ in late))
    rows = []
    for contract, week in late:
        rows.append(
            {
                "driver_id": contract.driver_id,
                "contract_id": contract.id,
                "kind": EntryKind.LATE_FEE,
                "amount_cents": contract.late_fee_cents,
                "posted_at": now if (contract.id, monday_of(today)) in closed else cut,
                "description": f"Recargo por atraso, renta de la semana del "
                f"{week.strftime('%d/%m/%Y')}",
                "source_type": "contract_week",
                "source_id": f"{contract.id}:{week.isoformat()}",
                "idempotency_key": f"late_fee:{contract.id}:{week.isoformat()}",
            }
        )
    return insert_entries(session, rows)
