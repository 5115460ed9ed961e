"""Demo ledger history: twelve weeks of rent, energy, tolls, fines, payments and late
fees for every active contract, and the closed statements of the past weeks. The energy
is what the demo world's charges cost (`portal.demo.history.past_charges`), billed at
the depot's price as the CSMS bills a session.

Deterministic (every amount and moment comes from a generator seeded by the contract
and the week) and idempotent (every entry has an idempotency key; rent and late fees
go through the real `post_weekly_rent` and `assess_late_fees`; statements through
`close_statements`). About 15% of drivers pay late or skip weeks.

Payments are payment intents, paid the way live ones are: an OXXO reference, an SPEI
transfer to the driver's CLABE or a card at the demonstration provider, paid by the
provider's webhook event (`payments.receive_event`), or cash at the depot recorded by
the depot's cashier (`payments.record_cash_payment`). Each posts its one ledger credit
`payment:<intent id>`, so "Mis pagos" lists exactly the payments the statements show.
Every driver with a contract gets the reusable SPEI CLABE the provider issues
(`payments.ensure_spei_account`), the one the statements print.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.demo.payments import DEMO_CONTACT, open_demo_intent, pay_by_webhook
from portal.models import (
    Contract,
    ContractStatus,
    EntryKind,
    LedgerEntry,
    PaymentAccount,
    PaymentIntent,
    PaymentMethod,
    Role,
    User,
    Vehicle,
)
from portal.payments.demo import DemoClient
from portal.services.billing import (
    assess_late_fees,
    first_rent_week,
    insert_entries,
    post_weekly_rent,
)
from portal.services.payments import (
    MAX_PAYMENT_CENTS,
    OXXO_MAX_CENTS,
    ensure_spei_account,
    record_cash_payment,
)
from portal.services.statements import close_statements
from portal.timeutil import local_date, local_midnight, local_today, monday_of

HISTORY_WEEKS = 12
LATE_SHARE = 15  # percent of drivers who pay late
TOLLS = ["Autopista Urbana Sur", "Viaducto Bicentenario", "Circuito Exterior Mexiquense"]
FINE_REASONS = [
    "Exceso de velocidad (cámara)",
    "Estacionarse en lugar prohibido",
    "Vuelta prohibida",
    "Invadir carril confinado",
]

# How the demo's drivers pay (percent): most by transfer or at an OXXO, some in cash
# at the depot, a few by card.
METHOD_MIX = {
    PaymentMethod.SPEI: 35,
    PaymentMethod.OXXO: 30,
    PaymentMethod.CASH: 20,
    PaymentMethod.CARD: 15,
}
# How long before it was paid the driver started the payment.
OPENED_BEFORE = {
    PaymentMethod.OXXO: timedelta(hours=5),
    PaymentMethod.SPEI: timedelta(minutes=20),
    PaymentMethod.CARD: timedelta(minutes=2),
}


class EnergyCharge(Protocol):
    """A charge to bill (portal.demo.history.PastCharge)."""

    @property
    def contract_id(self) -> int: ...

    @property
    def week(self) -> date: ...

    def ledger_row(self) -> dict[str, object]: ...


@dataclass(frozen=True, slots=True)
class HistorySummary:
    weeks: int
    entries: int
    statements: int
    payments: int = 0


@dataclass(frozen=True, slots=True)
class DemoPayment:
    """One week's payment of a contract, before it is made."""

    contract: Contract
    method: PaymentMethod
    amount_cents: int
    paid_at: datetime
    week: str

    @property
    def receipt(self) -> str:
        """Cash: the number on the depot's printed receipt."""
        depot = self.contract.vehicle.depot.code
        return f"{depot}-{local_date(self.paid_at):%y%m%d}-{self.contract.id:05d}"

    @property
    def key(self) -> str:
        """The intent's idempotency key (the cash desk keys an intent by its receipt)."""
        if self.method == PaymentMethod.CASH:
            return f"cash:{self.receipt}"
        return f"demo:history:{self.contract.id}:{self.week}"

    @property
    def legacy_key(self) -> str:
        """The raw ledger entry older demo seeds posted instead of an intent."""
        return f"demo:payment:{self.contract.id}:{self.week}"


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
    energy: Sequence[EnergyCharge] = (),
) -> HistorySummary:
    """Post what is missing of the history up to `today`, with the `energy` charges the
    drivers' charging cost. Flushes, never commits."""
    today = today or local_today()
    if now is None:
        now = (
            datetime.now(UTC)
            if today == local_today()
            else local_midnight(today) + timedelta(hours=12)
        )
    contracts = list(
        session.scalars(
            select(Contract)
            .options(
                selectinload(Contract.vehicle).selectinload(Vehicle.depot),
                selectinload(Contract.driver),
            )
            .where(Contract.status == ContractStatus.ACTIVE)
            .order_by(Contract.id)
        )
    )
    client = DemoClient()
    accounts = _open_spei_accounts(session, client, contracts)
    cashiers = list(
        session.scalars(select(User.id).where(User.role == Role.STAFF).order_by(User.id))
    )
    this_monday = monday_of(today)
    charged: dict[tuple[int, date], list[dict[str, object]]] = {}
    for charge in energy:
        charged.setdefault((charge.contract_id, charge.week), []).append(charge.ledger_row())
    extras: dict[int, int] = {}  # charges other than rent of the previous week, per contract
    owed_by_late: dict[int, int] = {}  # what late payers have left unpaid
    posted = 0
    closed = 0
    paid = 0
    for w in range(weeks, -1, -1):
        monday = this_monday - timedelta(weeks=w)
        post_weekly_rent(session, monday, now=now)
        rows = []
        week_payments = []
        for c in contracts:
            if first_rent_week(c) > monday:
                continue
            week_energy = charged.get((c.id, monday), [])
            charges, payment = _week_of(
                c, monday, week_energy, extras, owed_by_late, bool(cashiers)
            )
            rows += charges
            if payment is not None and payment.paid_at <= now:
                week_payments.append(payment)
        rows = [r for r in rows if r["posted_at"] <= now]  # type: ignore[operator]
        posted += insert_entries(session, rows)
        paid += _pay(session, client, accounts, cashiers, week_payments)
        thursday = monday + timedelta(days=3)
        if thursday <= today:
            assess_late_fees(session, thursday, now=now)
        if w > 0:
            closed += len(close_statements(session, monday, now=now))
    assess_late_fees(session, today, now=now)
    session.flush()
    return HistorySummary(weeks=weeks, entries=posted, statements=closed, payments=paid)


def _open_spei_accounts(
    session: Session, client: DemoClient, contracts: list[Contract]
) -> dict[int, PaymentAccount]:
    """Every driver with a contract gets the reusable CLABE the provider issues."""
    accounts = {
        a.driver_id: a
        for a in session.scalars(
            select(PaymentAccount).where(PaymentAccount.provider == client.provider)
        )
    }
    for c in contracts:
        if c.driver_id not in accounts:
            accounts[c.driver_id] = ensure_spei_account(session, c.driver, client, DEMO_CONTACT)
    return accounts


def _pay(
    session: Session,
    client: DemoClient,
    accounts: dict[int, PaymentAccount],
    cashiers: list[int],
    payments: list[DemoPayment],
) -> int:
    """Make the week's payments not made yet; returns how many it made."""
    if not payments:
        return 0
    done = set(
        session.scalars(
            select(PaymentIntent.idempotency_key).where(
                PaymentIntent.idempotency_key.in_([p.key for p in payments])
            )
        )
    )
    done |= set(
        session.scalars(
            select(LedgerEntry.idempotency_key).where(
                LedgerEntry.idempotency_key.in_([p.legacy_key for p in payments])
            )
        )
    )
    todo = [p for p in payments if p.key not in done and p.legacy_key not in done]
    # The drivers start their OXXO, SPEI and card payments (one INSERT for the week)...
    intents = {
        p.key: open_demo_intent(
            session,
            client,
            p.contract.driver,
            p.method,
            p.amount_cents,
            p.key,
            p.paid_at - OPENED_BEFORE[p.method],
            accounts.get(p.contract.driver_id),
        )
        for p in todo
        if p.method != PaymentMethod.CASH
    }
    session.flush()
    # ...and each is paid: the provider's webhook event, or cash at the depot's desk.
    for p in todo:
        if p.method == PaymentMethod.CASH:
            record_cash_payment(
                session,
                driver_id=p.contract.driver_id,
                amount_cents=p.amount_cents,
                receipt_number=p.receipt,
                actor_id=cashiers[p.contract.vehicle.depot_id % len(cashiers)],
                now=p.paid_at,
            )
        else:
            pay_by_webhook(session, intents[p.key], p.paid_at)
    return len(todo)


def _method(rng: random.Random, amount_cents: int, cashiers: bool) -> PaymentMethod:
    method = rng.choices(list(METHOD_MIX), weights=list(METHOD_MIX.values()))[0]
    if method == PaymentMethod.OXXO and amount_cents > OXXO_MAX_CENTS:
        return PaymentMethod.SPEI  # more than one OXXO reference takes: a transfer
    if method == PaymentMethod.CASH and not cashiers:
        return PaymentMethod.SPEI
    return method


def _week_of(
    c: Contract,
    monday: date,
    energy: list[dict[str, object]],
    extras: dict[int, int],
    owed_by_late: dict[int, int],
    cashiers: bool,
) -> tuple[list[dict[str, object]], DemoPayment | None]:
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
    payment: DemoPayment | None = None
    if not _pays_late(c):
        at = _moment(monday, rng, 0, 1)
        payment = DemoPayment(c, _method(rng, due, cashiers), due, at, week)
    else:
        behind = owed_by_late.get(c.id, 0) + due
        roll = rng.random()
        if roll < 0.4:  # skips the week
            owed_by_late[c.id] = behind
        else:
            # pays late (Thursday to Saturday), part or all of what is behind
            share = 1.0 if roll > 0.75 else 0.6
            amount = min(int(behind * share) // 100 * 100, MAX_PAYMENT_CENTS)
            if amount > 0:
                at = _moment(monday, rng, 3, 5)
                payment = DemoPayment(c, _method(rng, amount, cashiers), amount, at, week)
            owed_by_late[c.id] = behind - amount

    # Energy at the depot (what the car's charges cost), tolls, now and then a fine.
    other = 0
    for row in energy:
        rows.append(row | {"kind": EntryKind.ENERGY})
        other += int(row["amount_cents"])  # type: ignore[call-overload]
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
    return rows, payment
