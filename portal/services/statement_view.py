"""What a closed statement shows, read once for its page and its PDF (so both say the
same): the week's movements with their running balance, the totals by kind, and the
driver's CLABE to pay to."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from portal.models import Contract, Driver, EntryKind, LedgerEntry, Statement, Vehicle

from . import payments, statements
from .identifiers import BANK_CODES


@dataclass(frozen=True, slots=True)
class Line:
    entry: LedgerEntry
    balance_cents: int  # the running balance after this entry


@dataclass(frozen=True, slots=True)
class StatementView:
    statement: Statement
    lines: list[Line]
    totals: list[tuple[EntryKind, int]]  # centavos per kind, in the kinds' order
    clabe: str | None  # the driver's reusable CLABE, as the provider issued it
    bank_name: str | None

    @property
    def contract(self) -> Contract:
        return self.statement.contract

    @property
    def vehicle(self) -> Vehicle:
        return self.statement.contract.vehicle

    @property
    def driver(self) -> Driver:
        return self.statement.driver


def get_statement_view(session: Session, statement: Statement) -> StatementView:
    balance = statement.opening_balance_cents
    lines = []
    for entry in statements.statement_entries(session, statement):
        balance += entry.amount_cents
        lines.append(Line(entry=entry, balance_cents=balance))
    totals = [
        (kind, statement.totals_by_kind[kind.value])
        for kind in EntryKind
        if kind.value in statement.totals_by_kind
    ]
    clabe = payments.get_driver_clabe(session, statement.driver_id)
    return StatementView(
        statement=statement,
        lines=lines,
        totals=totals,
        clabe=clabe,
        bank_name=BANK_CODES.get(clabe[:3], "SPEI") if clabe else None,
    )
