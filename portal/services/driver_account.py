"""A driver's money on one page (staff, tablet), read in one place: balance and days
late, how they pay, the movements with their running balance, the statements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from portal.models import Contract, Driver, PaymentAccount, PaymentIntent, Statement

from . import fleet, payments, statements
from .collections import LedgerLine, driver_ledger
from .fleet import Page


@dataclass(frozen=True, slots=True)
class DriverAccount:
    driver: Driver
    contract: Contract | None
    summary: statements.AccountSummary
    payment_account: PaymentAccount | None  # the reusable CLABE, once issued
    oxxo: PaymentIntent | None  # an OXXO reference still open
    ledger: Page[LedgerLine]  # newest first, a page of it
    reversed_ids: set[int]  # the entries on this page that were reversed
    statements: list[Statement]  # the latest twelve


def get_driver_account(
    session: Session, driver: Driver, today: date, page: int = 1
) -> DriverAccount:
    contract = fleet.get_active_contract(session, driver.id)
    ledger = driver_ledger(session, driver.id, page=page)
    return DriverAccount(
        driver=driver,
        contract=contract,
        summary=statements.account_summary(session, driver.id, contract, today),
        payment_account=payments.get_payment_account(session, driver.id),
        oxxo=payments.get_open_oxxo_reference(session, driver.id),
        ledger=ledger,
        reversed_ids=statements.reversed_entry_ids(
            session, [line.entry.id for line in ledger.items]
        ),
        statements=statements.list_statements(session, driver.id, limit=12),
    )
