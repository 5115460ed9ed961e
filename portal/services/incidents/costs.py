"""What the driver owes for an incident, posted to the ledger once and corrected by
reversal (never an edit)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.models import (
    EntryKind,
    EventKind,
    IncidentStatus,
    LedgerEntry,
)
from portal.services import N_, DomainError, audit, ledger

from .timeline import add_event, require_incident

S = IncidentStatus
LIABILITY_KINDS = (EntryKind.DEDUCTIBLE, EntryKind.DAMAGE, EntryKind.FINE)


@dataclass(frozen=True, slots=True)
class Liability:
    entry: LedgerEntry
    reversal: LedgerEntry | None


def liability_key(incident_id: int, sequence: int) -> str:
    return f"incident:{incident_id}:liability:{sequence}"


def next_liability_sequence(session: Session, incident_id: int) -> int:
    """The number the next liability of this incident will carry (in its ledger key).

    The form carries it, so submitting the same form twice posts once.
    """
    count = session.scalar(
        select(func.count(LedgerEntry.id)).where(
            LedgerEntry.source_type == "incident", LedgerEntry.source_id == str(incident_id)
        )
    )
    return int(count or 0) + 1


def list_liabilities(session: Session, incident_id: int) -> list[Liability]:
    entries = list(
        session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.source_type == "incident", LedgerEntry.source_id == str(incident_id))
            .order_by(LedgerEntry.id)
        )
    )
    reversals = {
        r.reverses_id: r
        for r in session.scalars(
            select(LedgerEntry).where(LedgerEntry.reverses_id.in_([e.id for e in entries]))
        )
    }
    return [Liability(entry=e, reversal=reversals.get(e.id)) for e in entries]


def assign_liability(
    session: Session,
    incident_id: int,
    *,
    kind: EntryKind,
    amount_cents: int,
    reason: str,
    sequence: int,
    actor_id: int,
    ip: str | None = None,
) -> LedgerEntry:
    """Charge the driver an amount for the incident: posted to the ledger exactly once."""
    if kind not in LIABILITY_KINDS:
        raise DomainError(N_("Choose deductible, damage or fine."))
    incident = require_incident(session, incident_id)
    key = liability_key(incident.id, sequence)
    existing = ledger.get_by_key(session, key)
    if existing is not None:
        if existing.kind != kind or existing.amount_cents != amount_cents:
            raise DomainError(
                N_("Someone assigned an amount to this incident meanwhile. Reload the page.")
            )
        return existing  # the same form sent twice
    if incident.status in (S.REJECTED, S.CANCELLED):
        raise DomainError(N_("A rejected or cancelled incident cannot charge the driver."))
    if amount_cents <= 0:
        raise DomainError(N_("The amount must be greater than zero."))
    reason = reason.strip()
    if len(reason) < 5:
        raise DomainError(N_("Say why the driver pays this amount."))
    entry = ledger.post_entry(
        session,
        driver_id=incident.driver_id,
        contract_id=incident.contract_id,
        kind=kind,
        amount_cents=amount_cents,
        idempotency_key=key,
        description=f"{incident.number}: {reason}"[:200],
        reference=incident.claim_number or incident.police_folio,
        source_type="incident",
        source_id=incident.id,
        created_by_id=actor_id,
    )
    add_event(
        session,
        incident,
        EventKind.LIABILITY_ASSIGNED,
        actor_id,
        body=reason,
        details={"kind": kind.value, "amount_cents": amount_cents, "entry_id": entry.id},
    )
    audit.record(
        session,
        actor_id,
        "incident.liability_assigned",
        incident,
        ip=ip,
        entry_id=entry.id,
        kind=kind.value,
        amount_cents=amount_cents,
    )
    return entry


def reverse_liability(
    session: Session,
    incident_id: int,
    entry_id: int,
    *,
    reason: str,
    actor_id: int,
    ip: str | None = None,
) -> LedgerEntry:
    """Correct a liability with an equal and opposite ledger entry (never an edit)."""
    incident = require_incident(session, incident_id)
    entry = session.get(LedgerEntry, entry_id)
    if entry is None or entry.source_type != "incident" or entry.source_id != str(incident.id):
        raise DomainError(N_("That amount does not belong to this incident."))
    already = ledger.get_by_key(session, f"reversal:{entry.id}")
    if already is not None:
        return already
    reversal = ledger.reverse_entry(session, entry.id, reason=reason, actor_id=actor_id, ip=ip)
    add_event(
        session,
        incident,
        EventKind.LIABILITY_REVERSED,
        actor_id,
        body=reason.strip(),
        details={
            "kind": entry.kind.value,
            "amount_cents": entry.amount_cents,
            "entry_id": entry.id,
            "reversal_id": reversal.id,
        },
    )
    return reversal


# -- the insurer's PDF -------------------------------------------------------------
