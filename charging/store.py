"""What chargers say, written to the database. Plain synchronous functions taking a
SQLAlchemy session (the CSMS runs them in a thread pool, never on the event loop);
they flush, the caller commits.

Two kinds of writes:

- answers that need the database (Authorize, StartTransaction, StopTransaction,
  TransactionEvent): one call, one transaction, idempotent — a message resent after a
  reconnect finds what the first one wrote and changes nothing;
- the chatter (connects, boots, heartbeats, status notifications, meter values):
  gathered by the CSMS into a `Batch` and applied together (`apply_batch`), a few
  statements per batch whatever its size ("group commit").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from portal.models import (
    Charger,
    ChargerRegistration,
    ChargingSession,
    ConnectorStatus,
    EntryKind,
    SessionStatus,
)
from portal.models.charging import ChargerConnector
from portal.passwords import hash_password
from portal.services.charging.prices import energy_cost_cents, energy_price_on
from portal.services.charging.registry import resolve_id_tag
from portal.services.ledger import post_entry

log = logging.getLogger(__name__)

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
SOC = "SoC"


@dataclass(frozen=True)
class ChargerRecord:
    """What the handshake needs to know about a charger."""

    id: int
    identity: str
    registration: ChargerRegistration
    password_hash: str | None


def load_charger(session: Session, identity: str) -> ChargerRecord | None:
    row = session.execute(
        select(Charger.id, Charger.identity, Charger.registration, Charger.password_hash).where(
            Charger.identity == identity
        )
    ).first()
    return None if row is None else ChargerRecord(*row)


def auto_register(session: Session, identity: str, password: str) -> ChargerRecord:
    """Record an unknown charger as pending approval, keeping the password it presented."""
    session.execute(
        insert(Charger)
        .values(
            identity=identity,
            registration=ChargerRegistration.PENDING,
            password_hash=hash_password(password) if password else None,
            status=ConnectorStatus.UNKNOWN,
            online=False,
            heartbeat_interval_s=60,
        )
        .on_conflict_do_nothing(index_elements=["identity"])
    )
    record = load_charger(session, identity)
    if record is None:  # pragma: no cover - the row was just written
        raise RuntimeError(identity)
    return record


# --- samples -------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One sampled value, normalised: energy in Wh, power in kW."""

    charger_id: int
    evse_id: int
    transaction_id: str | None
    sampled_at: datetime
    measurand: str
    phase: str
    unit: str | None
    context: str | None
    location: str | None
    value: float


_MULTIPLIERS = {"kWh": ("Wh", 1000.0), "W": ("kW", 0.001), "kvarh": ("varh", 1000.0)}


def parse_meter_values(
    charger_id: int,
    evse_id: int,
    transaction_id: str | None,
    meter_value: Any,
    problems: list[str],
) -> list[Sample]:
    """Samples from a 1.6 or 2.0.1 `meterValue` list (snake_case), skipping what is unusable.

    Lenient: an unknown measurand is kept as sent, a value that is not a number is
    dropped, and each violation is appended to `problems` for the caller to log.
    """
    samples: list[Sample] = []
    if not isinstance(meter_value, list):
        problems.append("meterValue is not a list")
        return samples
    for entry in meter_value:
        if not isinstance(entry, dict):
            problems.append("meterValue entry is not an object")
            continue
        try:
            at = parse_time(entry.get("timestamp"))
        except ValueError:
            problems.append(f"bad timestamp {entry.get('timestamp')!r}")
            continue
        for sv in entry.get("sampled_value") or []:
            if not isinstance(sv, dict):
                problems.append("sampledValue is not an object")
                continue
            try:
                value = float(sv.get("value"))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                problems.append(f"sampled value {sv.get('value')!r} is not a number")
                continue
            measurand = str(sv.get("measurand") or ENERGY)[:60]
            unit_of_measure = sv.get("unit_of_measure") or {}
            unit = sv.get("unit") or (
                unit_of_measure.get("unit") if isinstance(unit_of_measure, dict) else None
            )
            if isinstance(unit_of_measure, dict) and unit_of_measure.get("multiplier"):
                value *= 10 ** int(unit_of_measure["multiplier"])
            if unit is None:
                unit = {ENERGY: "Wh", POWER: "W", SOC: "Percent"}.get(measurand)
            if unit in _MULTIPLIERS and measurand.startswith(("Energy", "Power")):
                unit, factor = _MULTIPLIERS[unit]
                value *= factor
            elif unit == "W" and measurand.startswith("Power"):
                unit, value = "kW", value / 1000
            samples.append(
                Sample(
                    charger_id=charger_id,
                    evse_id=evse_id,
                    transaction_id=transaction_id,
                    sampled_at=at,
                    measurand=measurand,
                    phase=str(sv.get("phase") or "")[:10],
                    unit=str(unit)[:20] if unit else None,
                    context=str(sv.get("context"))[:30] if sv.get("context") else None,
                    location=str(sv.get("location"))[:20] if sv.get("location") else None,
                    value=value,
                )
            )
    return samples


def parse_time(value: Any) -> datetime:
    """An OCPP timestamp (ISO 8601, `Z` or offset); naive ones are taken as UTC."""
    if not isinstance(value, str):
        raise ValueError(value)
    at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo("UTC"))
    return at


def _energy_wh(samples: list[Sample]) -> int | None:
    """The latest energy register reading (Wh) of the whole EVSE (no phase), if any."""
    readings = [s for s in samples if s.measurand == ENERGY and not s.phase]
    if not readings:
        return None
    return round(max(readings, key=lambda s: s.sampled_at).value)


# --- the batch -----------------------------------------------------------------------


@dataclass
class Batch:
    """Chatter gathered by the CSMS between two writes; the last word per charger wins."""

    presence: dict[int, tuple[bool, datetime, str | None, int]] = field(default_factory=dict)
    boots: dict[int, dict[str, Any]] = field(default_factory=dict)
    # charger id -> (last message, last heartbeat or None)
    seen: dict[int, tuple[datetime, datetime | None]] = field(default_factory=dict)
    statuses: list[tuple[int, int, int, ConnectorStatus, str | None, datetime]] = field(
        default_factory=list
    )
    samples: list[Sample] = field(default_factory=list)

    def __len__(self) -> int:
        return (
            len(self.presence)
            + len(self.boots)
            + len(self.seen)
            + len(self.statuses)
            + len(self.samples)
        )


def apply_batch(session: Session, batch: Batch) -> None:
    """Write a batch in a handful of statements (executemany), in a sensible order."""
    if batch.presence:
        session.execute(
            text(
                "UPDATE chargers SET online = :online,"
                " connected_at = CASE WHEN :online THEN :at ELSE connected_at END,"
                " disconnected_at = CASE WHEN :online THEN disconnected_at ELSE :at END,"
                " last_seen_at = CASE WHEN :online THEN :at ELSE last_seen_at END,"
                " ocpp_version = COALESCE(:version, ocpp_version),"
                " heartbeat_interval_s = :interval"
                " WHERE id = :id"
            ),
            [
                {"id": cid, "online": on, "at": at, "version": version, "interval": interval}
                for cid, (on, at, version, interval) in batch.presence.items()
            ],
        )
    if batch.boots:
        session.execute(
            text(
                "UPDATE chargers SET vendor = :vendor, model = :model,"
                " serial_number = :serial, firmware_version = :firmware, last_boot_at = :at"
                " WHERE id = :id"
            ),
            [{"id": cid, **boot} for cid, boot in batch.boots.items()],
        )
    if batch.statuses:
        _apply_statuses(session, batch.statuses)
    if batch.seen:
        record_seen(session, batch.seen)
    if batch.samples:
        record_samples(session, batch.samples)


def record_seen(session: Session, seen: dict[int, tuple[datetime, datetime | None]]) -> None:
    """One UPDATE for every charger that spoke: last message and last heartbeat."""
    ids = sorted(seen)
    session.connection().exec_driver_sql(
        "UPDATE chargers AS c SET last_seen_at = GREATEST(c.last_seen_at, v.at),"
        " last_heartbeat_at = GREATEST(c.last_heartbeat_at, v.beat)"
        " FROM unnest(%s::int[], %s::timestamptz[], %s::timestamptz[]) AS v(id, at, beat)"
        " WHERE c.id = v.id AND c.online",
        ([*ids], [seen[i][0] for i in ids], [seen[i][1] for i in ids]),
    )


def _apply_statuses(
    session: Session, statuses: list[tuple[int, int, int, ConnectorStatus, str | None, datetime]]
) -> None:
    whole = [s for s in statuses if s[1] == 0]
    if whole:
        session.execute(
            text("UPDATE chargers SET status = :status, error_code = :error WHERE id = :id"),
            [{"id": cid, "status": st.value, "error": err} for cid, _, _, st, err, _ in whole],
        )
    per_connector = [s for s in statuses if s[1] > 0]
    if not per_connector:
        return
    # The newest status per connector; a late one never overwrites a newer one.
    latest: dict[tuple[int, int, int], tuple[ConnectorStatus, str | None, datetime]] = {}
    for cid, evse, conn, st, err, at in per_connector:
        key = (cid, evse, conn)
        if key not in latest or latest[key][2] <= at:
            latest[key] = (st, err, at)
    session.connection().exec_driver_sql(
        "INSERT INTO charger_connectors"
        " (charger_id, evse_id, connector_id, status, error_code, status_at)"
        " VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT ON CONSTRAINT uq_charger_connectors_ids DO UPDATE SET"
        " status = excluded.status, error_code = excluded.error_code,"
        " status_at = excluded.status_at"
        " WHERE charger_connectors.status_at IS NULL"
        " OR charger_connectors.status_at <= excluded.status_at",
        [
            (cid, evse, conn, st.value, err, at)
            for (cid, evse, conn), (st, err, at) in latest.items()
        ],
    )


def record_samples(session: Session, samples: list[Sample]) -> None:
    """Store samples once (resent ones are ignored) and refresh the sessions' live values."""
    sessions = _sessions_for(session, samples)
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    live: dict[int, dict[str, Any]] = {}
    for s in samples:
        session_id = sessions.get((s.charger_id, s.transaction_id or f"@{s.evse_id}"))
        key = (s.charger_id, s.evse_id, s.sampled_at, s.measurand, s.phase)
        rows[key] = {
            "charger_id": s.charger_id,
            "evse_id": s.evse_id,
            "session_id": session_id,
            "sampled_at": s.sampled_at,
            "measurand": s.measurand,
            "phase": s.phase,
            "unit": s.unit,
            "context": s.context,
            "location": s.location,
            "value": s.value,
        }
        if session_id is not None and not s.phase:
            current = live.setdefault(
                session_id,
                {"id": session_id, "at": s.sampled_at, "wh": None, "kw": None, "soc": None},
            )
            if s.sampled_at >= current["at"]:
                current["at"] = s.sampled_at
                slot = {ENERGY: "wh", POWER: "kw", SOC: "soc"}.get(s.measurand)
                if slot:
                    current[slot] = round(s.value) if slot == "wh" else s.value
    # Plain executemany (psycopg pipelines it): compiling a many-row INSERT through the
    # ORM cost ~200 ms per batch of 400 samples (docs/benchmarks.md).
    connection = session.connection()
    if rows:
        connection.exec_driver_sql(
            "INSERT INTO meter_values (charger_id, evse_id, session_id, sampled_at, measurand,"
            " phase, unit, context, location, value)"
            " VALUES (%(charger_id)s, %(evse_id)s, %(session_id)s, %(sampled_at)s,"
            " %(measurand)s, %(phase)s, %(unit)s, %(context)s, %(location)s, %(value)s)"
            " ON CONFLICT DO NOTHING",
            list(rows.values()),
        )
    if live:
        connection.exec_driver_sql(
            "UPDATE charging_sessions SET last_meter_at = %(at)s,"
            " last_meter_wh = COALESCE(%(wh)s::bigint, last_meter_wh),"
            " last_power_kw = COALESCE(%(kw)s::float8, last_power_kw),"
            " last_soc = COALESCE(%(soc)s::float8, last_soc),"
            " meter_start_wh = COALESCE(meter_start_wh, %(wh)s::bigint)"
            " WHERE id = %(id)s AND (last_meter_at IS NULL OR last_meter_at <= %(at)s)",
            list(live.values()),
        )


def _sessions_for(session: Session, samples: list[Sample]) -> dict[tuple[int, str], int]:
    """Map (charger, transaction id) and (charger, "@evse") to session ids."""
    found: dict[tuple[int, str], int] = {}
    pairs = {(s.charger_id, s.transaction_id) for s in samples if s.transaction_id}
    if pairs:
        for sid, cid, tx in session.execute(
            select(
                ChargingSession.id, ChargingSession.charger_id, ChargingSession.transaction_id
            ).where(tuple_(ChargingSession.charger_id, ChargingSession.transaction_id).in_(pairs))
        ):
            found[(cid, tx)] = sid
    loose = {s.charger_id for s in samples if not s.transaction_id and s.evse_id}
    if loose:
        for sid, cid, evse in session.execute(
            select(ChargingSession.id, ChargingSession.charger_id, ChargingSession.evse_id).where(
                ChargingSession.charger_id.in_(loose),
                ChargingSession.status == SessionStatus.ACTIVE,
            )
        ):
            found[(cid, f"@{evse}")] = sid
    return found


def mark_silent_chargers_offline(session: Session, now: datetime, factor: int) -> list[str]:
    """Chargers nobody has heard from for `factor` heartbeat intervals are offline.

    Catches the chargers of a CSMS process that died (the live ones are closed by their
    own process). Returns the identities marked offline.
    """
    rows = session.execute(
        text(
            "UPDATE chargers SET online = false, disconnected_at = :now"
            " WHERE online AND (last_seen_at IS NULL"
            "   OR last_seen_at < :now - make_interval(secs => heartbeat_interval_s * :factor))"
            " RETURNING identity"
        ),
        {"now": now, "factor": factor},
    )
    return [r[0] for r in rows]


# --- authorization and transactions ---------------------------------------------------


def authorize(session: Session, tag: str) -> str:
    """OCPP authorization status for an id tag: Accepted, Blocked or Invalid."""
    owner = resolve_id_tag(session, tag)
    if owner is None:
        return "Invalid"
    return "Accepted" if owner.active else "Blocked"


def _connector_id(session: Session, charger_id: int, evse_id: int | None) -> int | None:
    if not evse_id:
        return None
    return session.scalar(
        select(ChargerConnector.id)
        .where(ChargerConnector.charger_id == charger_id, ChargerConnector.evse_id == evse_id)
        .order_by(ChargerConnector.connector_id)
        .limit(1)
    )


def start_transaction_16(
    session: Session,
    charger_id: int,
    evse_id: int,
    id_tag: str,
    meter_start: int,
    timestamp: datetime,
    reservation_id: int | None = None,
) -> tuple[int, str]:
    """Record a 1.6 StartTransaction; (transaction id we assign, authorization status).

    A resent StartTransaction (same connector, time and meter) gets the same id back.
    The session is recorded even for an unknown tag (the car may already be charging,
    e.g. a transaction queued offline); the charger is told the tag is Invalid.
    """
    status = authorize(session, id_tag)
    existing = session.scalar(
        select(ChargingSession).where(
            ChargingSession.charger_id == charger_id,
            ChargingSession.evse_id == evse_id,
            ChargingSession.started_at == timestamp,
            ChargingSession.meter_start_wh == meter_start,
        )
    )
    if existing is not None:
        return int(existing.transaction_id), status
    owner = resolve_id_tag(session, id_tag)
    charging = ChargingSession(
        charger_id=charger_id,
        connector_id=_connector_id(session, charger_id, evse_id),
        evse_id=evse_id,
        transaction_id=f"new-{charger_id}-{timestamp.timestamp()}",
        id_tag=id_tag[:36],
        driver_id=owner.driver_id if owner else None,
        vehicle_id=owner.vehicle_id if owner else None,
        contract_id=owner.contract_id if owner else None,
        reservation_id=reservation_id,
        status=SessionStatus.ACTIVE,
        started_at=timestamp,
        meter_start_wh=meter_start,
        last_meter_wh=meter_start,
        last_meter_at=timestamp,
    )
    session.add(charging)
    session.flush()
    charging.transaction_id = str(charging.id)  # 1.6 transaction ids are integers: ours
    session.flush()
    return charging.id, status


def stop_transaction(
    session: Session,
    charger_id: int,
    transaction_id: str,
    meter_stop: int | None,
    timestamp: datetime,
    reason: str | None,
    samples: list[Sample] | None = None,
) -> ChargingSession | None:
    """Close a session and post its energy (once). A second stop changes nothing."""
    charging = session.scalar(
        select(ChargingSession)
        .where(
            ChargingSession.charger_id == charger_id,
            ChargingSession.transaction_id == transaction_id,
        )
        .with_for_update()
    )
    if samples:
        record_samples(session, samples)
    if charging is None:
        log.warning("charger %s stopped unknown transaction %s", charger_id, transaction_id)
        return None
    if charging.status == SessionStatus.COMPLETED:
        log.info("duplicate stop for session %s ignored", charging.id)
        return charging
    session.refresh(charging)
    if meter_stop is None:
        meter_stop = charging.last_meter_wh
    if charging.meter_start_wh is None and meter_stop is not None:
        charging.meter_start_wh = meter_stop  # never saw a start reading: no energy known
    if meter_stop is not None and charging.meter_start_wh is not None:
        if meter_stop < charging.meter_start_wh:
            log.warning(
                "session %s: meter stop %s below start %s; energy 0",
                charging.id,
                meter_stop,
                charging.meter_start_wh,
            )
            meter_stop = charging.meter_start_wh
        charging.meter_stop_wh = meter_stop
        charging.energy_wh = meter_stop - charging.meter_start_wh
        charging.last_meter_wh = meter_stop
    charging.stopped_at = max(timestamp, charging.started_at)
    charging.stop_reason = (reason or "Local")[:40]
    charging.status = SessionStatus.COMPLETED
    session.flush()
    settle_energy(session, charging)
    return charging


def settle_energy(session: Session, charging: ChargingSession) -> None:
    """Post the session's energy to its driver's ledger at the depot's price (exactly once)."""
    if not charging.energy_wh or charging.driver_id is None or charging.stopped_at is None:
        return
    charger = session.get(Charger, charging.charger_id)
    if charger is None or charger.depot_id is None:
        return
    zone = ZoneInfo(charger.depot.timezone if charger.depot else "America/Mexico_City")
    price = energy_price_on(session, charger.depot_id, charging.stopped_at.astimezone(zone).date())
    if price is None:
        log.warning(
            "depot %s has no energy price; session %s not charged", charger.depot_id, charging.id
        )
        return
    charging.price_per_kwh_cents = price
    charging.cost_cents = energy_cost_cents(charging.energy_wh, price)
    if charging.cost_cents <= 0:
        return
    kwh = charging.kwh
    entry = post_entry(
        session,
        driver_id=charging.driver_id,
        contract_id=charging.contract_id,
        kind=EntryKind.ENERGY,
        amount_cents=charging.cost_cents,
        idempotency_key=f"energy:{charging.id}",
        description=f"Carga {kwh:.3f} kWh, {charger.identity}"[:200],
        posted_at=charging.stopped_at,
        source_type="charging_session",
        source_id=charging.id,
    )
    charging.ledger_entry_id = entry.id
    session.flush()


def transaction_event_201(
    session: Session,
    charger_id: int,
    *,
    event_type: str,
    transaction_id: str,
    timestamp: datetime,
    evse_id: int | None,
    id_token: str | None,
    stopped_reason: str | None,
    samples: list[Sample],
) -> str | None:
    """Apply a 2.0.1 TransactionEvent (Started, Updated, Ended); idempotent and order-proof.

    Returns the id token's authorization status when a token was sent, else None.
    An Updated or Ended for a transaction never seen (its Started was lost) opens it.
    """
    status = authorize(session, id_token) if id_token else None
    charging = session.scalar(
        select(ChargingSession)
        .where(
            ChargingSession.charger_id == charger_id,
            ChargingSession.transaction_id == transaction_id,
        )
        .with_for_update()
    )
    energy = _energy_wh(samples)
    if charging is None:
        owner = resolve_id_tag(session, id_token) if id_token else None
        stmt = (
            insert(ChargingSession)
            .values(
                charger_id=charger_id,
                connector_id=_connector_id(session, charger_id, evse_id),
                evse_id=evse_id,
                transaction_id=transaction_id,
                id_tag=id_token[:36] if id_token else None,
                driver_id=owner.driver_id if owner else None,
                vehicle_id=owner.vehicle_id if owner else None,
                contract_id=owner.contract_id if owner else None,
                status=SessionStatus.ACTIVE,
                started_at=timestamp,
                meter_start_wh=energy if event_type == "Started" else None,
                created_at=timestamp,
            )
            .on_conflict_do_nothing(constraint="uq_charging_sessions_transaction")
        )
        session.execute(stmt)
        charging = session.scalar(
            select(ChargingSession)
            .where(
                ChargingSession.charger_id == charger_id,
                ChargingSession.transaction_id == transaction_id,
            )
            .with_for_update()
        )
        if charging is None:  # pragma: no cover - the row was just written
            raise RuntimeError(transaction_id)
    elif id_token and charging.driver_id is None:
        owner = resolve_id_tag(session, id_token)
        if owner is not None:
            charging.id_tag = id_token[:36]
            charging.driver_id = owner.driver_id
            charging.vehicle_id = owner.vehicle_id
            charging.contract_id = owner.contract_id
    if event_type == "Started" and timestamp < charging.started_at:
        charging.started_at = timestamp  # a late Started is the true start
        if energy is not None:
            charging.meter_start_wh = energy
    if evse_id and charging.evse_id is None:
        charging.evse_id = evse_id
        charging.connector_id = _connector_id(session, charger_id, evse_id)
    session.flush()
    if samples:
        record_samples(session, samples)
    if event_type == "Ended" and charging.status == SessionStatus.ACTIVE:
        session.refresh(charging)
        stop_transaction(
            session,
            charger_id,
            transaction_id,
            energy if energy is not None else charging.last_meter_wh,
            timestamp,
            stopped_reason,
        )
    return status
