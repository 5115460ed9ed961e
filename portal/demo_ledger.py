"""Demo ledger history: twelve weeks of rent, energy, tolls, fines, payments and late
fees for every active contract, and the closed statements of the past weeks.

Deterministic (every amount and moment comes from a generator seeded by the contract
and the week) and idempotent (every entry has an idempotency key; rent and late fees
go through the real `post_weekly_rent` and `assess_late_fees`; statements through
`close_statements`). About 15% of drivers pay late or skip weeks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.models import Contract, ContractStatus, Driver, EntryKind
from portal.services.billing import (
    assess_late_fees,
    first_rent_week,
    insert_entries,
    post_weekly_rent,
)
from portal.services.identifiers import clabe_check_digit
from portal.services.statements import close_statements
from portal.timeutil import local_midnight, local_today, monday_of

HISTORY_WEEKS = 12
PRICE_PER_KWH_CENTS = 450  # what the demo depots charge drivers per kWh
LATE_SHARE = 15  # percent of drivers who pay late
TOLLS = ["Autopista Urbana Sur", "Viaducto Bicentenario", "Circuito Exterior Mexiquense"]
FINE_REASONS = [
    "Exceso de velocidad (cámara)",
    "Estacionarse en lugar prohibido",
    "Vuelta prohibida",
    "Invadir carril confinado",
]


def demo_clabe(n: int) -> str:
    """A valid, unique STP (646) CLABE for the n-th demo driver."""
    first17 = f"646180{20_260_000_000 + n:011d}"
    return first17 + clabe_check_digit(first17)


@dataclass(frozen=True, slots=True)
class HistorySummary:
    weeks: int
    entries: int
    statements: int


def _pays_late(contract: Contract) -> bool:
    return random.Random(f"late:{contract.number}").randrange(100) < LATE_SHARE


def _moment(monday: date, rng: random.Random, first_day: int, last_day: int) -> datetime:
    day = rng.randint(first_day, last_day)
    return local_midnight(monday) + timedelta(
        days=day, hours=rng.randint(7, 21), minutes=rng.randrange(60)
    )


def seed_ledger_history(
    session: Session,
    today: date | None = None,
    weeks: int = HISTORY_WEEKS,
    now: datetime | None = None,
) -> HistorySummary:
    """Post what is missing of the history up to `today`. Flushes, never commits."""
    today = today or local_today()
    if now is None:
        now = (
            datetime.now(UTC)
            if today == local_today()
            else local_midnight(today) + timedelta(hours=12)
        )
    _assign_clabes(session)
    contracts = list(
        session.scalars(
            select(Contract)
            .options(selectinload(Contract.vehicle))
            .where(Contract.status == ContractStatus.ACTIVE)
            .order_by(Contract.id)
        )
    )
    this_monday = monday_of(today)
    extras: dict[int, int] = {}  # charges other than rent of the previous week, per contract
    owed_by_late: dict[int, int] = {}  # what late payers have left unpaid
    posted = 0
    closed = 0
    for w in range(weeks, -1, -1):
        monday = this_monday - timedelta(weeks=w)
        post_weekly_rent(session, monday, now=now)
        rows = []
        for c in contracts:
            if first_rent_week(c) > monday:
                continue
            rows += _week_of(c, monday, extras, owed_by_late)
        rows = [r for r in rows if r["posted_at"] <= now]  # type: ignore[operator]
        posted += insert_entries(session, rows)
        thursday = monday + timedelta(days=3)
        if thursday <= today:
            assess_late_fees(session, thursday, now=now)
        if w > 0:
            closed += len(close_statements(session, monday, now=now))
    assess_late_fees(session, today, now=now)
    session.flush()
    return HistorySummary(weeks=weeks, entries=posted, statements=closed)


def _week_of(
    c: Contract, monday: date, extras: dict[int, int], owed_by_late: dict[int, int]
) -> list[dict[str, object]]:
    rng = random.Random(f"{c.number}:{monday.isoformat()}")
    week = monday.isoformat()
    rows: list[dict[str, object]] = []

    def add(kind: EntryKind, cents: int, at: datetime, key: str, text: str, **kw: object) -> None:
        rows.append(
            {
                "driver_id": c.driver_id,
                "contract_id": c.id,
                "kind": kind,
                "amount_cents": cents,
                "posted_at": at,
                "description": text,
                "source_type": "demo",
                "source_id": f"{c.id}:{week}",
                "idempotency_key": f"demo:{key}:{c.id}:{week}",
                **kw,
            }
        )

    # Payment for this week's rent and last week's other charges.
    due = c.weekly_rent_cents + extras.get(c.id, 0)
    method = rng.choice(["SPEI", "SPEI", "OXXO", "Tarjeta"])
    reference = f"{rng.randrange(10**9, 10**10)}"
    if not _pays_late(c):
        at = _moment(monday, rng, 0, 1)
        add(EntryKind.PAYMENT, -due, at, "payment", f"Pago {method}", reference=reference)
    else:
        behind = owed_by_late.get(c.id, 0) + due
        roll = rng.random()
        if roll < 0.4:  # skips the week
            owed_by_late[c.id] = behind
        else:
            # pays late (Thursday to Saturday), part or all of what is behind
            share = 1.0 if roll > 0.75 else 0.6
            amount = int(behind * share) // 100 * 100
            if amount > 0:
                at = _moment(monday, rng, 3, 5)
                add(
                    EntryKind.PAYMENT, -amount, at, "payment", f"Pago {method}", reference=reference
                )
            owed_by_late[c.id] = behind - amount

    # Energy at the depot, tolls, now and then a fine.
    other = 0
    for n in range(rng.randint(2, 4)):
        kwh = rng.uniform(14, 32)
        cents = round(kwh * PRICE_PER_KWH_CENTS)
        at = _moment(monday, rng, 0, 6)
        add(
            EntryKind.ENERGY,
            cents,
            at,
            f"energy{n}",
            f"Carga en depósito: {kwh:.1f} kWh".replace(".", ","),
        )
        other += cents
    if rng.random() < 0.25:
        cents = rng.randrange(40, 130) * 100
        add(EntryKind.TOLL, cents, _moment(monday, rng, 0, 6), "toll", f"Peaje {rng.choice(TOLLS)}")
        other += cents
    if rng.random() < 0.04:
        cents = rng.randrange(11, 27) * 10_000
        folio = f"SSC-{monday:%y}-{rng.randrange(10**6, 10**7)}"
        add(
            EntryKind.FINE,
            cents,
            _moment(monday, rng, 0, 6),
            "fine",
            f"Multa: {rng.choice(FINE_REASONS)}, placa {c.vehicle.plate}",
            reference=folio,
        )
        other += cents
    extras[c.id] = other
    return rows


def _assign_clabes(session: Session) -> None:
    """Give every driver without one a reusable SPEI CLABE (in the demo, derived)."""
    for driver in session.scalars(select(Driver).where(Driver.spei_clabe.is_(None))):
        driver.spei_clabe = demo_clabe(driver.id)
    session.flush()
