"""Collections: who owes, how much, and for how many days; a driver's ledger with
its running balance.

The list is one SQL statement whatever the fleet size: per-driver balances and the
oldest unpaid charge (credits pay charges oldest first, as
`ledger.oldest_unpaid_charge_at` does) come from the account summary every posting
keeps current (`driver_balances`, see `services.balances`), joined to each driver's
active contract for the grace days and the depot. `live=True` computes the same
accounts from `ledger_entries` instead (the check and the benchmark's baseline).
Requires PostgreSQL (time-zone conversion and date arithmetic in SQL).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    Time,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from portal.models import Contract, ContractStatus, Depot, Driver, LedgerEntry, Vehicle

from . import balances
from .fleet import Page

ZONE = "America/Mexico_City"


class Sort(enum.StrEnum):
    DAYS = "days"
    AMOUNT = "amount"
    NAME = "name"


@dataclass(frozen=True, slots=True)
class CollectionRow:
    driver_id: int
    name: str
    phone: str
    depot_name: str | None
    contract_number: str | None
    balance_cents: int
    days_late: int
    oldest_unpaid_at: datetime | None
    last_payment_at: datetime | None


@dataclass(frozen=True, slots=True)
class LedgerLine:
    entry: LedgerEntry
    running_cents: int


def collections_query(
    today: date,
    *,
    depot_id: int | None,
    min_days: int,
    search: str,
    owing_only: bool,
    sort: Sort,
    live: bool = False,
) -> Select:
    accounts = (balances.live_accounts() if live else balances.stored_accounts()).subquery(
        "accounts"
    )
    # As `ledger.charge_due_on`: the first Monday 00:00 (local) at or after posting,
    # plus the contract's grace days.
    local = func.timezone(ZONE, accounts.c.oldest)
    isodow = cast(func.extract("isodow", local), Integer)
    at_week_start = and_(isodow == 1, cast(local, Time) == time.min)
    days_to_monday = case((at_week_start, 0), else_=8 - isodow)
    due_on = cast(local, Date) + days_to_monday + func.coalesce(Contract.grace_days, 0)
    days_late = type_coerce(
        func.greatest(0, func.coalesce(literal(today, Date) - due_on, 0)), Integer
    ).label("days_late")
    balance = func.coalesce(accounts.c.balance, 0).label("balance")
    name = (Driver.first_name + " " + Driver.last_name).label("name")
    query = (
        select(
            Driver.id,
            name,
            Driver.phone,
            Depot.name.label("depot_name"),
            Contract.number,
            balance,
            days_late,
            accounts.c.oldest,
            accounts.c.last_payment,
            func.count().over().label("total"),
        )
        .select_from(Driver)
        .outerjoin(accounts, accounts.c.driver_id == Driver.id)
        .outerjoin(
            Contract,
            and_(Contract.driver_id == Driver.id, Contract.status == ContractStatus.ACTIVE),
        )
        .outerjoin(Vehicle, Vehicle.id == Contract.vehicle_id)
        .outerjoin(Depot, Depot.id == Vehicle.depot_id)
    )
    if owing_only:
        query = query.where(accounts.c.balance > 0)
    if depot_id:
        query = query.where(Vehicle.depot_id == depot_id)
    if min_days > 0:
        query = query.where(days_late >= min_days)
    words = search.strip()
    if words:
        digits = "".join(ch for ch in words if ch.isdigit())
        pattern = f"%{words}%"
        conditions: list[ColumnElement[bool]] = [
            func.concat_ws(" ", Driver.first_name, Driver.last_name, Driver.second_last_name).ilike(
                pattern
            )
        ]
        if len(digits) >= 3:
            conditions.append(Driver.phone.contains(digits, autoescape=True))
        query = query.where(or_(*conditions))
    order = {
        Sort.DAYS: (days_late.desc(), balance.desc(), Driver.id),
        Sort.AMOUNT: (balance.desc(), days_late.desc(), Driver.id),
        Sort.NAME: (Driver.first_name, Driver.last_name, Driver.id),
    }[sort]
    return query.order_by(*order)


def _row(r: object) -> CollectionRow:
    return CollectionRow(
        driver_id=r[0],  # type: ignore[index]
        name=r[1],  # type: ignore[index]
        phone=r[2],  # type: ignore[index]
        depot_name=r[3],  # type: ignore[index]
        contract_number=r[4],  # type: ignore[index]
        balance_cents=int(r[5]),  # type: ignore[index]
        days_late=int(r[6]),  # type: ignore[index]
        oldest_unpaid_at=r[7],  # type: ignore[index]
        last_payment_at=r[8],  # type: ignore[index]
    )


def list_collections(
    session: Session,
    today: date,
    *,
    depot_id: int | None = None,
    min_days: int = 0,
    search: str = "",
    owing_only: bool = True,
    sort: Sort = Sort.DAYS,
    page: int = 1,
    per_page: int = 25,
    live: bool = False,
) -> Page[CollectionRow]:
    query = collections_query(
        today,
        depot_id=depot_id,
        min_days=min_days,
        search=search,
        owing_only=owing_only,
        sort=sort,
        live=live,
    )
    page = max(1, page)
    rows = session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    if not rows and page > 1:  # past the end: show the last page
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        page = max(1, -(-total // per_page))
        rows = session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    total = int(rows[0][9]) if rows else 0
    return Page(items=[_row(r) for r in rows], page=page, per_page=per_page, total=total)


def iter_collections(
    session: Session,
    today: date,
    *,
    depot_id: int | None = None,
    min_days: int = 0,
    search: str = "",
    owing_only: bool = True,
    sort: Sort = Sort.DAYS,
) -> Iterator[CollectionRow]:
    """Every row of the list (for the CSV export), streamed."""
    query = collections_query(
        today,
        depot_id=depot_id,
        min_days=min_days,
        search=search,
        owing_only=owing_only,
        sort=sort,
    )
    for r in session.execute(query.execution_options(yield_per=500)):
        yield _row(r)


def driver_ledger(
    session: Session, driver_id: int, *, page: int = 1, per_page: int = 50
) -> Page[LedgerLine]:
    """The driver's entries, newest first, each with the balance after it."""
    le = LedgerEntry
    total = session.scalar(select(func.count(le.id)).where(le.driver_id == driver_id)) or 0
    page = max(1, min(page, max(1, -(-total // per_page))))
    running = func.sum(le.amount_cents).over(order_by=(le.posted_at, le.id))
    rows = session.execute(
        select(le, running)
        .where(le.driver_id == driver_id)
        .order_by(le.posted_at.desc(), le.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(
        items=[LedgerLine(entry=e, running_cents=int(r)) for e, r in rows],
        page=page,
        per_page=per_page,
        total=total,
    )
