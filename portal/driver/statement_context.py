"""What a statement shows, shared by its HTML page and its PDF (so both say the same)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from portal.models import EntryKind, LedgerEntry, Statement
from portal.services import payments, statements
from portal.services.identifiers import BANK_CODES

KIND_LABELS = {
    EntryKind.RENT: _l("Weekly rent"),
    EntryKind.ENERGY: _l("Energy"),
    EntryKind.TOLL: _l("Toll"),
    EntryKind.FINE: _l("Traffic fine"),
    EntryKind.DAMAGE: _l("Damage"),
    EntryKind.DEDUCTIBLE: _l("Insurance deductible"),
    EntryKind.LATE_FEE: _l("Late fee"),
    EntryKind.SECURITY_DEPOSIT: _l("Security deposit"),
    EntryKind.DEPOSIT: _l("Deposit applied"),
    EntryKind.PAYMENT: _l("Payment"),
    EntryKind.ADJUSTMENT: _l("Adjustment"),
    EntryKind.REVERSAL: _l("Reversal"),
}


@dataclass(frozen=True, slots=True)
class Line:
    entry: LedgerEntry
    balance_cents: int  # the running balance after this entry


def statement_context(session: Session, statement: Statement) -> dict[str, Any]:
    entries = statements.statement_entries(session, statement)
    balance = statement.opening_balance_cents
    lines = []
    for entry in entries:
        balance += entry.amount_cents
        lines.append(Line(entry=entry, balance_cents=balance))
    totals = [
        (KIND_LABELS[kind], statement.totals_by_kind[kind.value])
        for kind in EntryKind
        if kind.value in statement.totals_by_kind
    ]
    config = current_app.config
    # The driver's reusable CLABE, as the provider issued it (None: not issued yet).
    clabe = payments.get_driver_clabe(session, statement.driver_id)
    return {
        "statement": statement,
        "contract": statement.contract,
        "vehicle": statement.contract.vehicle,
        "driver": statement.driver,
        "lines": lines,
        "totals": totals,
        "kind_labels": KIND_LABELS,
        "clabe": clabe,
        "bank_name": BANK_CODES.get(clabe[:3], "SPEI") if clabe else None,
        "company": {
            "name": config["COMPANY_NAME"],
            "rfc": config["COMPANY_RFC"],
            "address": config["COMPANY_ADDRESS"],
            "demo": config.get("DEMO_MODE", False),
        },
    }
