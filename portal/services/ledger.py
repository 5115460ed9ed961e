"""Posting to the ledger, exactly once, and reading balances."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from portal.models import Contract, LedgerEntry
from portal.models.ledger import CHARGES, CREDITS, EntryKind
from portal.timeutil import MEXICO_CITY

from . import N_, DomainError, audit, balances

MAX_ENTRY_CENTS = 100_000_000  # $1,000,000.00: anything larger is a typo


def post_entry(
    session: Session,
    *,
    driver_id: int,
    kind: EntryKind,
    amount_cents: int,
    idempotency_key: str,
    description: str,
    contract_id: int | None = None,
    posted_at: datetime | None = None,
    reference: str | None = None,
    source_type: str | None = None,
    source_id: str | int | None = None,
    created_by_id: int | None = None,
    reverses_id: int | None = None,
) -> LedgerEntry:
    """Post one entry, or return the one already posted under `idempotency_key`.

    One statement (INSERT … ON CONFLICT DO NOTHING RETURNING): a second poster racing
    on the same key waits for the first and gets its entry back instead of a duplicate.
    """
    try:
        _check_amount(kind, amount_cents)
    except DomainError:
        existing = get_by_key(session, idempotency_key)
        if existing is not None:  # posted before: a retry returns it, as always
            return existing
        raise
    values: dict[str, object] = {
        "driver_id": driver_id,
        "contract_id": contract_id,
        "kind": kind,
        "amount_cents": amount_cents,
        "idempotency_key": idempotency_key,
        "description": description,
        "reference": reference,
        "source_type": source_type,
        "source_id": None if source_id is None else str(source_id),
        "created_by_id": created_by_id,
        "reverses_id": reverses_id,
    }
    if posted_at is not None:
        values["posted_at"] = posted_at
    entry = session.scalar(
        insert(LedgerEntry)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(LedgerEntry)
    )
    if entry is None:  # posted before (or by a concurrent poster, now committed)
        entry = get_by_key(session, idempotency_key)
        assert entry is not None  # noqa: S101 - the conflicting row is visible
        return entry
    balances.refresh(session, [driver_id])
    return entry


def _check_amount(kind: EntryKind, amount_cents: int) -> None:
    if amount_cents == 0:
        raise DomainError(N_("The amount cannot be zero."))
    if abs(amount_cents) > MAX_ENTRY_CENTS:
        raise DomainError(N_("The amount is too large."))
    if (kind in CHARGES and amount_cents < 0) or (kind in CREDITS and amount_cents > 0):
        raise DomainError(N_("The amount has the wrong sign for this kind of movement."))


def get_by_key(session: Session, idempotency_key: str) -> LedgerEntry | None:
    return session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == idempotency_key))


def reverse_entry(
    session: Session, entry_id: int, *, reason: str, actor_id: int, ip: str | None = None
) -> LedgerEntry:
    """Cancel an entry with an equal and opposite one (entries are never edited)."""
    original = session.get(LedgerEntry, entry_id)
    if original is None:
        raise DomainError(N_("That movement does not exist."))
    if original.kind == EntryKind.REVERSAL:
        raise DomainError(N_("A reversal cannot be reversed; post a new movement instead."))
    already = get_by_key(session, f"reversal:{original.id}")
    if already is not None:
        return already
    reason = reason.strip()
    if len(reason) < 5:
        raise DomainError(N_("Say why the movement is reversed."))
    reversal = post_entry(
        session,
        driver_id=original.driver_id,
        contract_id=original.contract_id,
        kind=EntryKind.REVERSAL,
        amount_cents=-original.amount_cents,
        idempotency_key=f"reversal:{original.id}",
        description=reason[:200],
        source_type="ledger_entry",
        source_id=original.id,
        created_by_id=actor_id,
        reverses_id=original.id,
    )
    audit.record(
        session,
        actor_id,
        "ledger.reversed",
        original,
        ip=ip,
        reason=reason,
        reversal_id=reversal.id,
    )
    return reversal


def driver_balance(session: Session, driver_id: int, as_of: datetime | None = None) -> int:
    """What the driver owes (positive) or has in favour (negative), in centavos."""
    query = select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
        LedgerEntry.driver_id == driver_id
    )
    if as_of is not None:
        query = query.where(LedgerEntry.posted_at < as_of)
    return int(session.scalar(query) or 0)


def contract_balance(session: Session, contract: Contract, as_of: datetime | None = None) -> int:
    query = select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
        LedgerEntry.contract_id == contract.id
    )
    if as_of is not None:
        query = query.where(LedgerEntry.posted_at < as_of)
    return int(session.scalar(query) or 0)


def oldest_unpaid_charge_at(session: Session, driver_id: int) -> datetime | None:
    """When the oldest charge not yet covered by credits was posted (credits pay FIFO)."""
    paid = -int(
        session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
                LedgerEntry.driver_id == driver_id, LedgerEntry.amount_cents < 0
            )
        )
        or 0
    )
    charges = (
        select(
            LedgerEntry.posted_at,
            func.sum(LedgerEntry.amount_cents)
            .over(order_by=(LedgerEntry.posted_at, LedgerEntry.id))
            .label("cumulative"),
        )
        .where(LedgerEntry.driver_id == driver_id, LedgerEntry.amount_cents > 0)
        .subquery()
    )
    return session.scalar(
        select(charges.c.posted_at)
        .where(charges.c.cumulative > paid)
        .order_by(charges.c.posted_at)
        .limit(1)
    )


def days_past_due(
    session: Session, driver_id: int, today: date, grace_days: int = 0, zone: ZoneInfo = MEXICO_CITY
) -> int:
    """Days since the oldest unpaid charge fell due (`charge_due_on`); 0 if none."""
    oldest = oldest_unpaid_charge_at(session, driver_id)
    if oldest is None:
        return 0
    due = charge_due_on(oldest, grace_days, zone)
    return max(0, (today - due).days)


def charge_due_on(posted_at: datetime, grace_days: int, zone: ZoneInfo = MEXICO_CITY) -> date:
    """When a charge falls due: the first Monday 00:00 (Mexico City) at or after it was
    posted, plus the contract's grace days. Rent, posted at the very start of its week,
    is due that Monday + grace; energy charged during a week is paid with the next
    week's payment, and is not counted late a few days after it was charged."""
    local = posted_at.astimezone(zone)
    day = local.date()
    at_week_start = day.weekday() == 0 and local.time() == time.min
    days_to_monday = 0 if at_week_start else 7 - day.weekday()
    return day + timedelta(days=days_to_monday + grace_days)
