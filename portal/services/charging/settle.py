"""Settling a charging session's energy: what the depot's price makes of it, posted
once to the driver's ledger; sessions held for staff (lost, or implausible energy)
and what the charger reported (its events)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import select, text
from sqlalchemy.orm import Session, joinedload

from portal.db import utcnow
from portal.models import ChargerEvent, ChargingSession, EntryKind, LedgerEntry, SessionReview
from portal.models.charging import DEFAULT_MAX_KW
from portal.services import N_, DomainError, audit
from portal.services.billing import insert_entries
from portal.services.charging.prices import energy_cost_cents

log = logging.getLogger(__name__)

# --- settling a session's energy ------------------------------------------------------

# A session's energy is plausible up to the connector's power x its duration, with this
# margin for meter and clock rounding (and a floor for very short sessions). More is
# held for staff, never posted: a charger impersonated with a sniffed password must
# not be able to post any kWh to any driver's ledger.
PLAUSIBLE_MARGIN = Decimal("1.10")
PLAUSIBLE_FLOOR_WH = 500


class Billable(Protocol):
    """A session as billing sees it: the ORM row, or the CSMS's lighter `Closing`."""

    id: int
    charger_id: int
    connector_id: int | None
    driver_id: int | None
    contract_id: int | None
    started_at: datetime
    stopped_at: datetime | None
    energy_wh: int | None
    price_per_kwh_cents: int | None
    cost_cents: int | None
    ledger_entry_id: int | None

    @property
    def kwh(self) -> Decimal | None: ...


@dataclass(frozen=True)
class BillingFacts:
    """What closing a session needs to know, read in one query."""

    charger_identity: str
    depot_id: int | None
    max_kw: Decimal  # the connector's, else the charger's, else DEFAULT_MAX_KW
    price_per_kwh_cents: int | None  # the depot's price on the stop's local date


_FACTS = text(
    "SELECT v.session, c.identity, c.depot_id, coalesce(k.max_kw, c.max_kw),"
    " (SELECT p.price_per_kwh_cents FROM depot_energy_prices AS p"
    "   WHERE p.depot_id = c.depot_id AND p.valid_from <="
    "    (v.stopped AT TIME ZONE coalesce(d.timezone, 'America/Mexico_City'))::date"
    "   ORDER BY p.valid_from DESC LIMIT 1)"
    " FROM unnest(CAST(:sessions AS int[]), CAST(:chargers AS int[]),"
    "  CAST(:connectors AS int[]), CAST(:stopped AS timestamptz[]))"
    "  AS v(session, charger, connector, stopped)"
    " JOIN chargers AS c ON c.id = v.charger LEFT JOIN depots AS d ON d.id = c.depot_id"
    " LEFT JOIN charger_connectors AS k ON k.id = v.connector AND k.charger_id = c.id"
)


def billing_facts(session: Session, sessions: Sequence[Billable]) -> dict[int, BillingFacts]:
    """What closing these sessions needs to know, in one query, by session id."""
    rows = session.execute(
        _FACTS,
        {
            "sessions": [c.id for c in sessions],
            "chargers": [c.charger_id for c in sessions],
            "connectors": [c.connector_id for c in sessions],
            "stopped": [c.stopped_at or c.started_at for c in sessions],
        },
    )
    return {
        sid: BillingFacts(identity, depot_id, Decimal(max_kw or DEFAULT_MAX_KW), price)
        for sid, identity, depot_id, max_kw, price in rows
    }


def plausible_energy_wh(charging: Billable, max_kw: Decimal) -> int:
    """The most energy a connector of `max_kw` could have delivered in the session's
    duration, with a margin."""
    stopped = charging.stopped_at or charging.started_at
    seconds = Decimal(max(0.0, (stopped - charging.started_at).total_seconds()))
    return int(max_kw * 1000 * seconds / 3600 * PLAUSIBLE_MARGIN) + PLAUSIBLE_FLOOR_WH


def energy_entry(charging: Billable, facts: BillingFacts) -> dict[str, Any] | None:
    """Price the session (its price and cost are set on it) and return the ledger row
    that bills it, or None when there is nothing to bill (no driver, no energy, no
    depot or no price)."""
    if not charging.energy_wh or charging.driver_id is None or charging.stopped_at is None:
        return None
    if facts.depot_id is None:
        return None
    if facts.price_per_kwh_cents is None:
        log.warning(
            "depot %s has no energy price; session %s not charged", facts.depot_id, charging.id
        )
        return None
    charging.price_per_kwh_cents = facts.price_per_kwh_cents
    charging.cost_cents = energy_cost_cents(charging.energy_wh, facts.price_per_kwh_cents)
    if charging.cost_cents <= 0:
        return None
    return {
        "driver_id": charging.driver_id,
        "contract_id": charging.contract_id,
        "kind": EntryKind.ENERGY,
        "amount_cents": charging.cost_cents,
        "idempotency_key": f"energy:{charging.id}",
        "description": f"Carga {charging.kwh:.3f} kWh, {facts.charger_identity}"[:200],
        "posted_at": charging.stopped_at,
        "source_type": "charging_session",
        "source_id": str(charging.id),
    }


def settle_energy(
    session: Session,
    sessions: Sequence[Billable],
    facts: dict[int, BillingFacts] | None = None,
) -> None:
    """Post each session's energy to its driver's ledger at the depot's price (exactly
    once: keyed `energy:<session id>`), in a few statements whatever their number; sets
    each one's price, cost and entry (the caller writes the sessions). `facts`: the
    sessions' `billing_facts`, when the caller has them already."""
    if not sessions:
        return
    if facts is None:
        facts = billing_facts(session, sessions)
    entries = {c.id: energy_entry(c, facts[c.id]) for c in sessions}
    rows = [row for row in entries.values() if row is not None]
    if not rows:
        return
    insert_entries(session, rows)
    posted = dict(
        session.execute(
            select(LedgerEntry.idempotency_key, LedgerEntry.id).where(
                LedgerEntry.idempotency_key.in_([r["idempotency_key"] for r in rows])
            )
        ).all()
    )
    for charging in sessions:
        row = entries[charging.id]
        if row is not None:
            charging.ledger_entry_id = posted[row["idempotency_key"]]


def review_session(
    session: Session, session_id: int, *, bill: bool, actor_id: int
) -> ChargingSession:
    """Staff's decision on a session waiting for review: a lost one is acknowledged (it
    was billed at its last meter value); a held one (implausible energy) is billed at
    the depot's price (`bill`) or left unbilled. Audited."""
    charging = session.get(ChargingSession, session_id, with_for_update=True)
    if charging is None or charging.review is None or charging.reviewed_at is not None:
        raise DomainError(N_("That session is not waiting for review."))
    if bill and charging.review == SessionReview.IMPLAUSIBLE:
        settle_energy(session, [charging])
    charging.reviewed_at = utcnow()
    charging.reviewed_by_id = actor_id
    session.flush()
    audit.record(
        session,
        actor_id,
        "charging_session.reviewed",
        charging,
        review=charging.review.value,
        billed=charging.ledger_entry_id is not None,
    )
    return charging


def sessions_to_review(session: Session, charger_id: int) -> list[ChargingSession]:
    """The charger's sessions waiting for staff, oldest first."""
    return list(
        session.scalars(
            select(ChargingSession)
            .options(joinedload(ChargingSession.driver))
            .where(
                ChargingSession.charger_id == charger_id,
                ChargingSession.review.is_not(None),
                ChargingSession.reviewed_at.is_(None),
            )
            .order_by(ChargingSession.started_at)
        )
    )


def list_charger_events(session: Session, charger_id: int, limit: int = 30) -> list[ChargerEvent]:
    """What the charger reported (security, firmware, diagnostics, reports, data), newest first."""
    return list(
        session.scalars(
            select(ChargerEvent)
            .where(ChargerEvent.charger_id == charger_id)
            .order_by(ChargerEvent.received_at.desc(), ChargerEvent.id.desc())
            .limit(limit)
        )
    )
