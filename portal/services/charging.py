"""Charging, as the portal sees it: chargers, id tags, energy prices, remote commands.

What chargers *say* is written by the OCPP server through `charging.store`; this module
is what staff and admins *do*. The screens call, for example:

    command = request_command(session, charger.id, CommandAction.REMOTE_STOP,
                              {"session_id": 12}, requested_by_id=user.id)
    Session.commit()
    enqueue_command(command)            # workers.ocpp: after the commit
    ...
    command = get_command(session, command.id, charger_id=charger.id)  # poll
    command.status.finished, command.status, _(command.error) if command.error

`request_command` validates and normalises the parameters (raising `DomainError` with
a message for the form), logs the command, and fails it at once (status `failed`,
error "The charger is offline.") when the charger is not connected, so no job is
needed. Parameters per action (`CommandAction`):

| action | params |
|---|---|
| remote_start | `id_tag` (str), `evse_id` (int, optional) |
| remote_stop | `session_id` (int) or `transaction_id` (str) |
| unlock_connector | `evse_id` |
| reset | `type`: `soft` or `hard` |
| change_availability | `evse_id` (0 = the whole charger), `operative` (bool) |
| reserve_now | `evse_id`, `id_tag`, `expires_at` (ISO 8601, future), `reservation_id` (int) |
| cancel_reservation | `reservation_id` |
| trigger_message | `message` (one of `TRIGGER_MESSAGES`), `evse_id` (optional) |
| get_configuration | `keys` (list of str; 2.0.1: `Component/Variable`, at least one) |
| change_configuration | `key`, `value` (str; 2.0.1 key: `Component/Variable`) |
| set_charging_profile | `evse_id` (0: site), `limit_kw` or `periods` [{`start_s`, `limit_kw`}], |
|  | `profile_id`, `purpose` (`tx_default`/`tx`/`max`), `stack_level`, `valid_to` |
| clear_charging_profile | `profile_id` (optional), `evse_id` (optional) |
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, joinedload

from portal.db import utcnow
from portal.models import (
    Charger,
    ChargerCommand,
    ChargerConnector,
    ChargerEvent,
    ChargerRegistration,
    ChargingSession,
    CommandAction,
    CommandStatus,
    ConnectorType,
    Contract,
    ContractStatus,
    Depot,
    DepotEnergyPrice,
    Driver,
    EntryKind,
    IdTag,
    LedgerEntry,
    SessionReview,
    SessionStatus,
)
from portal.models.charging import DEFAULT_MAX_KW
from portal.passwords import hash_machine_secret, new_machine_secret

from . import N_, DomainError, audit
from .billing import insert_entries

log = logging.getLogger(__name__)

IDENTITY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,47}$")
"""Charger identities: a URL path segment without escapes, at most 48 characters."""

MIN_CHARGER_PASSWORD = 16  # OCPP 1.6 security whitepaper: AuthorizationKey 16-40 bytes
MAX_CHARGER_PASSWORD = 40
TRIGGER_MESSAGES = (
    "BootNotification",
    "Heartbeat",
    "MeterValues",
    "StatusNotification",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
)

# Why a command failed, as English message ids (translated by the view with `_()`).
OFFLINE = N_("The charger is offline.")
NO_ANSWER = N_("The charger did not answer in time.")
CALL_ERROR = N_("The charger answered with an error.")
REJECTED = N_("The charger rejected the command.")
BUS_DOWN = N_("The command service is not running; try again in a minute.")


def valid_identity(identity: str) -> bool:
    return bool(IDENTITY_RE.match(identity))


# --- chargers ------------------------------------------------------------------------


def register_charger(
    session: Session,
    *,
    identity: str,
    depot_id: int | None,
    connectors: list[tuple[int, ConnectorType, Decimal | None]],
    secret_key: str,
    name: str | None = None,
    max_kw: Decimal | None = None,
    password: str | None = None,
    actor_id: int | None = None,
) -> tuple[Charger, str]:
    """Register a charger (accepted) with its connectors `(evse_id, type, max kW)`.

    Returns the charger and its HTTP Basic password: a new random secret, shown once
    (only its keyed hash is stored), unless `password` gives the one a charger in the
    field already has (a CSV import of an installed depot).
    """
    identity = identity.strip()
    if not valid_identity(identity):
        raise DomainError(
            N_("The identity may only have letters, digits, dots, dashes and colons.")
        )
    if session.scalar(select(Charger.id).where(Charger.identity == identity)) is not None:
        raise DomainError(
            N_("A charger with identity %(identity)s already exists."), identity=identity
        )
    if password is None:
        password = new_machine_secret()
    _check_password(password)
    charger = Charger(
        identity=identity,
        name=name,
        depot_id=depot_id,
        registration=ChargerRegistration.ACCEPTED,
        password_hash=hash_machine_secret(secret_key, identity, password),
        max_kw=max_kw,
    )
    session.add(charger)
    session.flush()
    for evse_id, connector_type, kw in connectors:
        session.add(
            ChargerConnector(
                charger_id=charger.id, evse_id=evse_id, connector_type=connector_type, max_kw=kw
            )
        )
    session.flush()
    if actor_id is not None:
        audit.record(session, actor_id, "charger.registered", charger, identity=identity)
    return charger, password


def _check_password(password: str) -> None:
    if not MIN_CHARGER_PASSWORD <= len(password) <= MAX_CHARGER_PASSWORD:
        raise DomainError(
            N_("The charger password must have between %(min)s and %(max)s characters."),
            min=MIN_CHARGER_PASSWORD,
            max=MAX_CHARGER_PASSWORD,
        )


def approve_charger(
    session: Session, charger_id: int, *, depot_id: int | None, actor_id: int | None
) -> Charger:
    """Accept a charger waiting for approval (or refused before); it is answered
    Accepted at its next BootNotification, on the connection it already has.

    `depot_id` places it (needed when it has no depot yet: chargers that registered
    themselves). `actor_id` None: an operator at the console (`flask chargers approve`).
    """
    charger = _charger(session, charger_id)
    if depot_id is None and charger.depot_id is None:
        raise DomainError(N_("Choose the charger's depot."))
    if depot_id is not None and session.get(Depot, depot_id) is None:
        raise DomainError(N_("Choose the charger's depot."))
    charger.registration = ChargerRegistration.ACCEPTED
    charger.depot_id = depot_id or charger.depot_id
    session.flush()
    audit.record(session, actor_id, "charger.approved", charger, depot_id=charger.depot_id)
    return charger


def reject_charger(session: Session, charger_id: int, *, actor_id: int | None) -> Charger:
    """Refuse a charger: its handshakes are refused from now on (403)."""
    charger = _charger(session, charger_id)
    charger.registration = ChargerRegistration.REJECTED
    session.flush()
    audit.record(session, actor_id, "charger.rejected", charger)
    return charger


def rotate_charger_password(
    session: Session, charger_id: int, *, secret_key: str, actor_id: int | None
) -> str:
    """Give the charger a new random password (returned once); the old one stops working."""
    charger = _charger(session, charger_id)
    password = new_machine_secret()
    charger.password_hash = hash_machine_secret(secret_key, charger.identity, password)
    session.flush()
    audit.record(session, actor_id, "charger.password_changed", charger)
    return password


def allow_plain_connection(
    session: Session, charger_id: int, allowed: bool, *, actor_id: int | None
) -> Charger:
    """In production, let this charger use HTTP Basic without TLS (security profile 1)."""
    charger = _charger(session, charger_id)
    if charger.plain_allowed != allowed:
        charger.plain_allowed = allowed
        session.flush()
        audit.record(session, actor_id, "charger.plain_allowed", charger, allowed=allowed)
    return charger


def find_charger(session: Session, key: str) -> Charger | None:
    """A charger by its number or its OCPP identity (what an operator types)."""
    key = key.strip()
    charger = session.scalar(select(Charger).where(Charger.identity == key))
    if charger is None and key.isdigit():
        charger = session.get(Charger, int(key))
    return charger


def _charger(session: Session, charger_id: int) -> Charger:
    charger = session.get(Charger, charger_id)
    if charger is None:
        raise DomainError(N_("That charger does not exist."))
    return charger


def list_chargers(session: Session, depot_id: int | None = None) -> list[Charger]:
    query = select(Charger).order_by(Charger.identity)
    if depot_id is not None:
        query = query.where(Charger.depot_id == depot_id)
    return list(session.scalars(query))


def active_sessions(session: Session, charger_id: int) -> list[ChargingSession]:
    return list(
        session.scalars(
            select(ChargingSession)
            .where(
                ChargingSession.charger_id == charger_id,
                ChargingSession.status == SessionStatus.ACTIVE,
            )
            .order_by(ChargingSession.started_at)
        )
    )


# --- id tags -------------------------------------------------------------------------


@dataclass(frozen=True)
class TagOwner:
    """Who an id tag belongs to, and the vehicle of their active contract (if any)."""

    id_tag_id: int
    active: bool
    driver_id: int
    vehicle_id: int | None
    contract_id: int | None


ID_TAG_MAX = 20  # OCPP 1.6 idTag (CiString20); 2.0.1 allows 36, our cards work on both


def clean_id_tag(tag: str) -> str:
    """An id tag as the card sends it: 1 to 20 printable characters (OCPP's only rule),
    without the spaces a form or a file may add around it."""
    tag = tag.strip()
    if not 1 <= len(tag) <= ID_TAG_MAX or not tag.isprintable():
        raise DomainError(
            N_("An id tag has 1 to %(max)s characters, as the card sends it."), max=ID_TAG_MAX
        )
    return tag


def add_id_tag(session: Session, driver_id: int, tag: str, *, actor_id: int | None = None) -> IdTag:
    tag = clean_id_tag(tag)
    if session.scalar(select(IdTag.id).where(func.upper(IdTag.tag) == tag.upper())) is not None:
        raise DomainError(N_("That id tag is already in use."))
    if session.get(Driver, driver_id) is None:
        raise DomainError(N_("That driver does not exist."))
    id_tag = IdTag(tag=tag, driver_id=driver_id, active=True)
    session.add(id_tag)
    session.flush()
    if actor_id is not None:
        audit.record(session, actor_id, "id_tag.added", id_tag, driver_id=driver_id)
    return id_tag


def resolve_id_tag(session: Session, tag: str) -> TagOwner | None:
    """The owner of `tag` (compared without regard to case, as OCPP does) and their
    active contract's vehicle; None for an unknown tag."""
    return resolve_id_tags(session, [tag]).get(tag.strip().upper())


def resolve_id_tags(session: Session, tags: list[str]) -> dict[str, TagOwner]:
    """`resolve_id_tag` for many tags in one query, keyed by the upper-cased tag."""
    rows = session.execute(
        select(
            func.upper(IdTag.tag),
            IdTag.id,
            IdTag.active,
            IdTag.driver_id,
            Contract.vehicle_id,
            Contract.id,
        )
        .outerjoin(
            Contract,
            (Contract.driver_id == IdTag.driver_id) & (Contract.status == ContractStatus.ACTIVE),
        )
        .where(func.upper(IdTag.tag).in_({t.strip().upper() for t in tags}))
    )
    return {
        key: TagOwner(
            id_tag_id=tag_id,
            active=active,
            driver_id=driver_id,
            vehicle_id=vehicle_id,
            contract_id=contract_id,
        )
        for key, tag_id, active, driver_id, vehicle_id, contract_id in rows
    }


# --- energy prices -------------------------------------------------------------------


def set_energy_price(
    session: Session,
    depot_id: int,
    valid_from: date,
    price_per_kwh_cents: int,
    *,
    actor_id: int | None = None,
) -> DepotEnergyPrice:
    """Set the depot's price per kWh from `valid_from` on (replacing one set for that day)."""
    if not 1 <= price_per_kwh_cents <= 10_000:
        raise DomainError(N_("The price per kWh must be between $0.01 and $100.00."))
    price = session.scalar(
        select(DepotEnergyPrice).where(
            DepotEnergyPrice.depot_id == depot_id, DepotEnergyPrice.valid_from == valid_from
        )
    )
    if price is None:
        price = DepotEnergyPrice(depot_id=depot_id, valid_from=valid_from)
        session.add(price)
    price.price_per_kwh_cents = price_per_kwh_cents
    price.created_by_id = actor_id
    session.flush()
    if actor_id is not None:
        audit.record(
            session, actor_id, "energy_price.set", price, price_per_kwh_cents=price_per_kwh_cents
        )
    return price


def energy_price_on(session: Session, depot_id: int, on: date) -> int | None:
    """The depot's price per kWh in centavos on `on` (a local date), or None if unset."""
    return session.scalar(
        select(DepotEnergyPrice.price_per_kwh_cents)
        .where(DepotEnergyPrice.depot_id == depot_id, DepotEnergyPrice.valid_from <= on)
        .order_by(DepotEnergyPrice.valid_from.desc())
        .limit(1)
    )


def energy_cost_cents(energy_wh: int, price_per_kwh_cents: int) -> int:
    """Wh x centavos/kWh, rounded half up to the centavo."""
    return (energy_wh * price_per_kwh_cents + 500) // 1000


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


def settle_energy(session: Session, sessions: Sequence[Billable]) -> None:
    """Post each session's energy to its driver's ledger at the depot's price (exactly
    once: keyed `energy:<session id>`), in a few statements whatever their number; sets
    each one's price, cost and entry (the caller writes the sessions)."""
    if not sessions:
        return
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


# --- remote commands -----------------------------------------------------------------


def request_command(
    session: Session,
    charger_id: int,
    action: CommandAction | str,
    params: dict[str, Any] | None,
    requested_by_id: int | None,
) -> ChargerCommand:
    """Log a remote command for `charger_id`; enqueue it after the commit if still queued.

    Raises `DomainError` for an unknown action or invalid parameters. Returns the log
    row: `queued` (enqueue `workers.ocpp.send_charger_command_job(command.id)`), or
    already `failed` with `error` = OFFLINE when the charger is not connected.
    """
    try:
        action = CommandAction(action)
    except ValueError:
        raise DomainError(N_("Unknown command.")) from None
    charger = _charger(session, charger_id)
    if charger.registration != ChargerRegistration.ACCEPTED:
        raise DomainError(N_("The charger is not approved yet."))
    clean = _clean_params(session, charger, action, dict(params or {}))
    command = ChargerCommand(
        charger_id=charger.id,
        action=action,
        params=clean,
        status=CommandStatus.QUEUED,
        requested_by_id=requested_by_id,
        requested_at=utcnow(),
    )
    if not charger.is_online():
        command.status = CommandStatus.FAILED
        command.error = OFFLINE
        command.answered_at = command.requested_at
    session.add(command)
    session.flush()
    if requested_by_id is not None:
        audit.record(
            session,
            requested_by_id,
            f"charger.command.{action.value}",
            charger,
            command_id=command.id,
        )
    return command


def get_command(
    session: Session, command_id: int, charger_id: int | None = None
) -> ChargerCommand | None:
    """The command log row (for polling); with `charger_id`, only if it is that charger's."""
    command = session.get(ChargerCommand, command_id, populate_existing=True)
    if command is None or (charger_id is not None and command.charger_id != charger_id):
        return None
    return command


def list_commands(session: Session, charger_id: int, limit: int = 20) -> list[ChargerCommand]:
    return list(
        session.scalars(
            select(ChargerCommand)
            .where(ChargerCommand.charger_id == charger_id)
            .order_by(ChargerCommand.requested_at.desc(), ChargerCommand.id.desc())
            .limit(limit)
        )
    )


def _int(value: Any, message: str, minimum: int = 0) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise DomainError(message) from None
    if number < minimum:
        raise DomainError(message)
    return number


def _evse(charger: Charger, value: Any, *, allow_zero: bool = False) -> int:
    evse_id = _int(value, N_("Choose a connector."))
    if evse_id == 0 and allow_zero:
        return 0
    if evse_id not in {c.evse_id for c in charger.connectors}:
        raise DomainError(N_("This charger has no connector %(number)s."), number=evse_id)
    return evse_id


def _tag(value: Any) -> str:
    if not str(value or "").strip():
        raise DomainError(N_("Enter an id tag."))
    return clean_id_tag(str(value))


def _future(value: Any) -> str:
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        raise DomainError(N_("Choose when the reservation expires.")) from None
    if when.tzinfo is None:
        raise DomainError(N_("Choose when the reservation expires."))
    if when <= utcnow():
        raise DomainError(N_("The reservation must expire in the future."))
    return when.isoformat()


def _kw(value: Any, limit: Decimal | None) -> str:
    try:
        kw = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise DomainError(N_("Enter a power limit in kW.")) from None
    top = limit or Decimal("1000")
    if not Decimal(0) <= kw <= top:
        raise DomainError(N_("The power limit must be between 0 and %(max)s kW."), max=top)
    return str(kw)


def _clean_params(
    session: Session, charger: Charger, action: CommandAction, params: dict[str, Any]
) -> dict[str, Any]:
    A = CommandAction
    if action == A.REMOTE_START:
        clean: dict[str, Any] = {"id_tag": _tag(params.get("id_tag"))}
        if params.get("evse_id") not in (None, ""):
            clean["evse_id"] = _evse(charger, params["evse_id"])
        return clean
    if action == A.REMOTE_STOP:
        query = select(ChargingSession).where(
            ChargingSession.charger_id == charger.id,
            ChargingSession.status == SessionStatus.ACTIVE,
        )
        if params.get("session_id") not in (None, ""):
            query = query.where(
                ChargingSession.id == _int(params["session_id"], N_("Choose a session."))
            )
        elif params.get("transaction_id") not in (None, ""):
            query = query.where(ChargingSession.transaction_id == str(params["transaction_id"]))
        else:
            raise DomainError(N_("Choose a session."))
        running = session.scalar(query)
        if running is None:
            raise DomainError(N_("That charging session is not running on this charger."))
        return {"session_id": running.id, "transaction_id": running.transaction_id}
    if action == A.UNLOCK_CONNECTOR:
        return {"evse_id": _evse(charger, params.get("evse_id"))}
    if action == A.RESET:
        kind = str(params.get("type", "")).lower()
        if kind not in ("soft", "hard"):
            raise DomainError(N_("Choose a soft or a hard reset."))
        return {"type": kind}
    if action == A.CHANGE_AVAILABILITY:
        return {
            "evse_id": _evse(charger, params.get("evse_id", 0), allow_zero=True),
            "operative": bool(params.get("operative")),
        }
    if action == A.RESERVE_NOW:
        return {
            "evse_id": _evse(charger, params.get("evse_id")),
            "id_tag": _tag(params.get("id_tag")),
            "expires_at": _future(params.get("expires_at")),
            "reservation_id": _int(params.get("reservation_id"), N_("Choose a reservation."), 1),
        }
    if action == A.CANCEL_RESERVATION:
        return {
            "reservation_id": _int(params.get("reservation_id"), N_("Choose a reservation."), 1)
        }
    if action == A.TRIGGER_MESSAGE:
        message = str(params.get("message", ""))
        if message not in TRIGGER_MESSAGES:
            raise DomainError(N_("Choose which message to ask for."))
        clean = {"message": message}
        if params.get("evse_id") not in (None, "", 0):
            clean["evse_id"] = _evse(charger, params["evse_id"])
        return clean
    if action == A.GET_CONFIGURATION:
        keys = [str(k).strip() for k in params.get("keys") or [] if str(k).strip()]
        if not keys and charger.ocpp_version == "ocpp2.0.1":
            raise DomainError(N_("Enter a configuration key."))
        return {"keys": keys[:50]}
    if action == A.CHANGE_CONFIGURATION:
        key = str(params.get("key", "")).strip()
        if not key or len(key) > 100:
            raise DomainError(N_("Enter a configuration key."))
        return {"key": key, "value": str(params.get("value", ""))[:500]}
    if action == A.SET_CHARGING_PROFILE:
        evse_id = _evse(charger, params.get("evse_id", 0), allow_zero=True)
        limit = charger.max_kw
        if params.get("periods"):
            periods = [
                {
                    "start_s": _int(p.get("start_s"), N_("Enter when each period starts.")),
                    "limit_kw": _kw(p.get("limit_kw"), limit),
                }
                for p in params["periods"]
            ]
        else:
            periods = [{"start_s": 0, "limit_kw": _kw(params.get("limit_kw"), limit)}]
        purpose = str(params.get("purpose", "tx_default"))
        if purpose not in ("tx_default", "tx", "max"):
            purpose = "tx_default"
        clean = {
            "evse_id": evse_id,
            "profile_id": _int(params.get("profile_id", 1), N_("Choose a profile."), 1),
            "stack_level": _int(params.get("stack_level", 0), N_("Choose a profile.")),
            "purpose": purpose,
            "periods": periods,
        }
        if params.get("valid_to"):
            clean["valid_to"] = _future(params["valid_to"])
        return clean
    if action == A.CLEAR_CHARGING_PROFILE:
        clean = {}
        if params.get("profile_id") not in (None, ""):
            clean["profile_id"] = _int(params["profile_id"], N_("Choose a profile."), 1)
        if params.get("evse_id") not in (None, ""):
            clean["evse_id"] = _evse(charger, params["evse_id"], allow_zero=True)
        return clean
    raise DomainError(N_("Unknown command."))  # pragma: no cover - every action is above
