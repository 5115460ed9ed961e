"""What chargers say, written to the database. Plain synchronous functions taking a
SQLAlchemy session (the CSMS runs them in a thread pool, never on the event loop);
they flush, the caller commits.

Everything a charger waits for goes into a `Batch` that the CSMS applies in one
transaction (`apply_batch`, "group commit"), then answers every charger in it:

- the chatter (connects, boots, heartbeats, status notifications, meter values,
  notifications kept as `ChargerEvent`s): a few set-based statements per batch,
  whatever its size;
- answers that need the database (Authorize, StartTransaction, StopTransaction,
  TransactionEvent): one function each, run in its own savepoint inside the batch, so
  one that fails fails alone. Each is idempotent: a message resent after a reconnect
  finds what the first one wrote and changes nothing.

Sessions end when the charger says so (`stop_transaction`), or are closed as lost at
their last meter value (`close_lost`) when they fall silent, when the charger reboots,
or when a newer transaction starts on their connector; either way the energy is posted
once, unless it is more than the connector could deliver (held for staff).

"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, configure_mappers

from portal.models import (
    Charger,
    ChargerRegistration,
    ChargingSession,
    ConnectorStatus,
    IdTag,
    SessionReview,
    SessionStatus,
)
from portal.models.charging import ChargerConnector
from portal.passwords import hash_machine_secret
from portal.services import balances
from portal.services.charging.registry import TagOwner, resolve_id_tag, resolve_id_tags
from portal.services.charging.settle import billing_facts, plausible_energy_wh, settle_energy

log = logging.getLogger(__name__)

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
SOC = "SoC"

LOST_SILENT = "Lost: silent"
LOST_REBOOT = "Lost: charger rebooted"
LOST_REPLACED = "Lost: new transaction"
# In `session.info` until the commit: the chargers where a session started or ended.
SESSIONS_CHANGED = "charging.sessions_changed"


@dataclass(frozen=True)
class ChargerRecord:
    """What the handshake needs to know about a charger."""

    id: int
    identity: str
    registration: ChargerRegistration
    password_hash: str | None
    plain_allowed: bool = False


def load_chargers(session: Session, identities: list[str]) -> dict[str, ChargerRecord]:
    """What the handshakes of many chargers need, in one query (a reconnect storm)."""
    rows = session.execute(
        select(
            Charger.id,
            Charger.identity,
            Charger.registration,
            Charger.password_hash,
            Charger.plain_allowed,
        ).where(Charger.identity.in_(identities))
    )
    return {row.identity: ChargerRecord(*row) for row in rows}


def warm_up(session: Session) -> None:
    """Configure the mappers, open this thread's connection and compile the statements
    of the handshake, Authorize and a boot, before any charger arrives: after a restart
    every charger reconnects and boots at once, and the first batch otherwise spends a
    third of a second on this while a thousand boots wait behind it. Writes nothing
    (no charger has id 0); the caller rolls back."""
    configure_mappers()
    load_chargers(session, [])
    tag_statuses(session, [])
    at = datetime.now(ZoneInfo("UTC"))
    apply_batch(
        session,
        Batch(
            presence={0: (True, at, "ocpp1.6", 60)},
            boots={0: Boot("warm-up", "warm-up", None, None, at, rebooted=True)},
        ),
    )


def auto_register(session: Session, identity: str, password: str, secret_key: str) -> ChargerRecord:
    """Record an unknown charger as pending approval, keeping (the keyed hash of) the
    password it presented."""
    session.execute(
        insert(Charger)
        .values(
            identity=identity,
            registration=ChargerRegistration.PENDING,
            password_hash=hash_machine_secret(secret_key, identity, password) if password else None,
            status=ConnectorStatus.UNKNOWN,
            online=False,
            heartbeat_interval_s=60,
        )
        .on_conflict_do_nothing(index_elements=["identity"])
    )
    record = load_chargers(session, [identity]).get(identity)
    if record is None:  # pragma: no cover - the row was just written
        raise RuntimeError(identity)
    return record


# --- samples -------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One sampled value, normalised: energy in Wh, power in kW.

    `evse_id` 0 means the charger did not say (a 1.6 StopTransaction's
    `transactionData`, a 2.0.1 event without `evse`): the transaction's EVSE is used.
    """

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


def record_samples(session: Session, samples: list[Sample]) -> None:
    """Store each sample once by its natural key (charger, session, EVSE, time,
    measurand, phase, context) and refresh the running sessions' live values.

    A sample without an EVSE takes its transaction's, so the copies a charger sends in
    a StopTransaction or an event without `evse` are recognised as the same samples.
    """
    sessions = _sessions_for(session, samples)
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    live: dict[int, dict[str, Any]] = {}
    for s in samples:
        found = sessions.get((s.charger_id, s.transaction_id or f"@{s.evse_id}"))
        session_id, session_evse, running = found if found else (None, None, False)
        evse_id = s.evse_id or session_evse or 0
        key = (s.charger_id, session_id, evse_id, s.sampled_at, s.measurand, s.phase, s.context)
        rows[key] = {
            "charger_id": s.charger_id,
            "evse_id": evse_id,
            "session_id": session_id,
            "sampled_at": s.sampled_at,
            "measurand": s.measurand,
            "phase": s.phase,
            "unit": s.unit,
            "context": s.context,
            "location": s.location,
            "value": s.value,
        }
        if session_id is not None and running and not s.phase:
            current = live.setdefault(
                session_id,
                {"id": session_id, "at": s.sampled_at, "wh": None, "kw": None, "soc": None},
            )
            if s.sampled_at >= current["at"]:
                current["at"] = s.sampled_at
                slot = {ENERGY: "wh", POWER: "kw", SOC: "soc"}.get(s.measurand)
                if slot:
                    current[slot] = round(s.value) if slot == "wh" else s.value
    # One statement each, whatever the batch's size: the rows go as arrays (a statement
    # per row, even pipelined, cost PostgreSQL and the writer more; docs/benchmarks.md).
    connection = session.connection()
    if rows:
        values = list(rows.values())
        connection.exec_driver_sql(
            "INSERT INTO meter_values (charger_id, evse_id, session_id, sampled_at, measurand,"
            " phase, unit, context, location, value)"
            " SELECT * FROM unnest(%s::int[], %s::int[], %s::int[], %s::timestamptz[],"
            " %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::float8[])"
            " ON CONFLICT DO NOTHING",
            tuple([r[column] for r in values] for column in SAMPLE_COLUMNS),
        )
    if live:
        ordered = [live[sid] for sid in sorted(live)]
        connection.exec_driver_sql(
            "UPDATE charging_sessions AS s SET last_heard_at = now(),"
            " last_meter_at = GREATEST(s.last_meter_at, v.at),"
            " last_meter_wh = CASE WHEN s.last_meter_at IS NULL OR s.last_meter_at <= v.at"
            "  THEN COALESCE(v.wh, s.last_meter_wh) ELSE s.last_meter_wh END,"
            " last_power_kw = CASE WHEN s.last_meter_at IS NULL OR s.last_meter_at <= v.at"
            "  THEN COALESCE(v.kw, s.last_power_kw) ELSE s.last_power_kw END,"
            " last_soc = CASE WHEN s.last_meter_at IS NULL OR s.last_meter_at <= v.at"
            "  THEN COALESCE(v.soc, s.last_soc) ELSE s.last_soc END,"
            " meter_start_wh = COALESCE(s.meter_start_wh, v.wh)"
            " FROM unnest(%s::int[], %s::timestamptz[], %s::bigint[], %s::float8[],"
            "  %s::float8[]) AS v(id, at, wh, kw, soc)"
            " WHERE s.id = v.id AND s.status = 'active'",
            tuple([row[key] for row in ordered] for key in ("id", "at", "wh", "kw", "soc")),
        )


SAMPLE_COLUMNS = (
    "charger_id",
    "evse_id",
    "session_id",
    "sampled_at",
    "measurand",
    "phase",
    "unit",
    "context",
    "location",
    "value",
)


def _sessions_for(
    session: Session, samples: list[Sample]
) -> dict[tuple[int, str], tuple[int, int | None, bool]]:
    """(charger, transaction id) and (charger, "@evse") -> (session id, its EVSE, running)."""
    found: dict[tuple[int, str], tuple[int, int | None, bool]] = {}
    pairs = sorted({(s.charger_id, s.transaction_id) for s in samples if s.transaction_id})
    if pairs:
        for sid, cid, tx, evse, status in session.connection().exec_driver_sql(
            "SELECT s.id, s.charger_id, s.transaction_id, s.evse_id, s.status"
            " FROM charging_sessions AS s"
            " JOIN unnest(%s::int[], %s::text[]) AS v(charger_id, transaction_id)"
            " ON s.charger_id = v.charger_id AND s.transaction_id = v.transaction_id",
            ([c for c, _ in pairs], [t for _, t in pairs]),
        ):
            found[(cid, tx)] = (sid, evse, status == SessionStatus.ACTIVE)
    loose = {s.charger_id for s in samples if not s.transaction_id and s.evse_id}
    if loose:
        for sid, cid, evse in session.execute(
            select(ChargingSession.id, ChargingSession.charger_id, ChargingSession.evse_id).where(
                ChargingSession.charger_id.in_(loose),
                ChargingSession.status == SessionStatus.ACTIVE,
            )
        ):
            found[(cid, f"@{evse}")] = (sid, evse, True)
    return found


# --- the batch -----------------------------------------------------------------------


@dataclass
class Boot:
    vendor: str
    model: str
    serial: str | None
    firmware: str | None
    at: datetime
    rebooted: bool  # False for a boot the CSMS asked for (TriggerMessage)


@dataclass
class BatchResult:
    """What the chargers of a batch are answered with: per start, stop and call, its
    result or the exception it raised."""

    registrations: dict[int, ChargerRegistration] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # id tag -> authorization status
    starts: list[Any] = field(default_factory=list)
    stops: list[Any] = field(default_factory=list)
    calls: list[Any] = field(default_factory=list)


@dataclass
class Batch:
    """What chargers said between two writes; the last word per charger wins."""

    presence: dict[int, tuple[bool, datetime, str | None, int]] = field(default_factory=dict)
    boots: dict[int, Boot] = field(default_factory=dict)
    statuses: list[tuple[int, int, int, ConnectorStatus, str | None, datetime]] = field(
        default_factory=list
    )
    samples: list[Sample] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    # Answers that need the database: 1.6 starts and stops (set-based), and any other
    # fn(session) -> result.
    starts: list[Start16] = field(default_factory=list)
    stops: list[Stop] = field(default_factory=list)
    calls: list[Callable[[Session], Any]] = field(default_factory=list)
    # Id tags whose authorization status an answer carries (a StopTransaction's).
    tags: set[str] = field(default_factory=set)

    def answers(self) -> int:
        """How many starts, stops and calls it holds."""
        return len(self.starts) + len(self.stops) + len(self.calls)

    def __len__(self) -> int:
        return (
            len(self.presence)
            + len(self.boots)
            + len(self.statuses)
            + len(self.samples)
            + len(self.events)
            + len(self.starts)
            + len(self.stops)
            + len(self.calls)
        )


def apply_batch(session: Session, batch: Batch, savepoints: bool = False) -> BatchResult:
    """Write a batch: the chatter in a handful of statements, then each call.

    Without `savepoints` a failing call fails the whole transaction (raised): the CSMS
    then applies the batch again with one savepoint per call, so that the call fails
    alone. A savepoint costs two round trips per call; failures are rare.
    Rows are locked in one order (chargers by id, drivers' balances at the end) so that
    the writer and the sweeps do not deadlock.
    """
    result = BatchResult()
    if batch.presence:
        session.execute(
            text(
                "UPDATE chargers SET online = :online,"
                " connected_at = CASE WHEN :online THEN :at ELSE connected_at END,"
                " disconnected_at = CASE WHEN :online THEN disconnected_at ELSE :at END,"
                " last_seen_at = CASE WHEN :online THEN :at ELSE last_seen_at END,"
                " ocpp_version = COALESCE(:version, ocpp_version),"
                " heartbeat_interval_s = :interval"
                # Batches may commit out of order: the latest event wins.
                " WHERE id = :id AND :at >= COALESCE(GREATEST(connected_at, disconnected_at),"
                "  '-infinity')"
            ),
            [
                {"id": cid, "online": on, "at": at, "version": version, "interval": interval}
                for cid, (on, at, version, interval) in sorted(batch.presence.items())
            ],
        )
    if batch.boots:
        result.registrations = _apply_boots(session, batch.boots)
    if batch.statuses:
        _apply_statuses(session, batch.statuses)
    if batch.samples:
        record_samples(session, batch.samples)
    if batch.events:
        record_events(session, batch.events)
    if batch.tags:
        result.tags = tag_statuses(session, sorted(batch.tags))
    with balances.batched(session):
        if not savepoints:
            if batch.stops:
                result.stops = list(stop_transactions(session, batch.stops))
            if batch.starts:
                result.starts = list(start_transactions_16(session, batch.starts))
            result.calls = [call(session) for call in batch.calls]
            return result
        result.stops = [_alone(session, stop_transaction, stop) for stop in batch.stops]
        result.starts = [_alone(session, start_transaction_16, start) for start in batch.starts]
        result.calls = [_alone(session, call) for call in batch.calls]
    return result


def _alone(session: Session, fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(session, *args)` in a savepoint: its result, or the exception it raised."""
    try:
        with session.begin_nested():
            return fn(session, *args)
    except Exception as error:
        return error


def _apply_boots(session: Session, boots: dict[int, Boot]) -> dict[int, ChargerRegistration]:
    """Record the boots; close the sessions of chargers that rebooted; return each
    charger's registration as it is now (an admin may have approved it since the
    handshake)."""
    session.execute(
        text(
            "UPDATE chargers SET vendor = :vendor, model = :model,"
            " serial_number = :serial, firmware_version = :firmware, last_boot_at = :at"
            " WHERE id = :id"
        ),
        [
            {
                "id": cid,
                "vendor": b.vendor,
                "model": b.model,
                "serial": b.serial,
                "firmware": b.firmware,
                "at": b.at,
            }
            for cid, b in sorted(boots.items())
        ],
    )
    rebooted = sorted(cid for cid, b in boots.items() if b.rebooted)
    if rebooted:
        close_rebooted(session, rebooted)
    return {
        cid: ChargerRegistration(registration)
        for cid, registration in session.execute(
            select(Charger.id, Charger.registration).where(Charger.id.in_(boots))
        )
    }


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


def record_events(session: Session, events: list[dict[str, Any]]) -> None:
    """Keep notifications as `charger_events` rows (`charger_id`, `kind`, `name`,
    `occurred_at`, `payload`); one resent with the same timestamp is stored once."""
    from portal.models import ChargerEvent

    session.execute(
        insert(ChargerEvent)
        .values([{**event, "received_at": func.now()} for event in events])
        .on_conflict_do_nothing(constraint="uq_charger_events_once")
    )


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


def note_sessions_changed(session: Session, charger_ids: Iterable[int]) -> None:
    """Remember until the commit the chargers where a car arrived or left: the CSMS then
    asks for a re-plan of their depots (`charging.replan`)."""
    session.info.setdefault(SESSIONS_CHANGED, set()).update(charger_ids)


def tag_status(owner: TagOwner | None) -> str:
    """OCPP authorization status for a tag's owner: Accepted, Blocked or Invalid."""
    if owner is None:
        return "Invalid"
    return "Accepted" if owner.active else "Blocked"


def tag_statuses(session: Session, tags: list[str]) -> dict[str, str]:
    """The authorization status of many id tags at once (a burst's Authorizes), keyed
    by the tag as asked; OCPP compares tags without regard to case."""
    active: dict[str, bool] = dict(
        session.execute(
            select(func.upper(IdTag.tag), IdTag.active).where(
                func.upper(IdTag.tag).in_({t.strip().upper() for t in tags})
            )
        ).all()
    )
    statuses = {}
    for tag in tags:
        found = active.get(tag.strip().upper())
        statuses[tag] = "Invalid" if found is None else ("Accepted" if found else "Blocked")
    return statuses


def _connector_id(session: Session, charger_id: int, evse_id: int | None) -> int | None:
    if not evse_id:
        return None
    return session.scalar(
        select(ChargerConnector.id)
        .where(ChargerConnector.charger_id == charger_id, ChargerConnector.evse_id == evse_id)
        .order_by(ChargerConnector.connector_id)
        .limit(1)
    )


_NEW_SESSIONS_16 = text(
    "INSERT INTO charging_sessions (id, transaction_id, charger_id, connector_id, evse_id,"
    " id_tag, driver_id, vehicle_id, contract_id, reservation_id, status, started_at,"
    " meter_start_wh, last_meter_wh, last_meter_at, last_heard_at, created_at)"
    " SELECT v.id, v.id::text, v.charger,"
    "  (SELECT k.id FROM charger_connectors AS k WHERE k.charger_id = v.charger"
    "   AND k.evse_id = v.evse ORDER BY k.connector_id LIMIT 1),"
    "  v.evse, v.tag, v.driver, v.vehicle, v.contract, v.reservation, 'active', v.at,"
    "  v.meter, v.meter, v.at, now(), now()"
    " FROM (SELECT nextval(pg_get_serial_sequence('charging_sessions', 'id')) AS id, u.*"
    "  FROM unnest(CAST(:chargers AS int[]), CAST(:evses AS int[]), CAST(:tags AS text[]),"
    "   CAST(:drivers AS int[]), CAST(:vehicles AS int[]), CAST(:contracts AS int[]),"
    "   CAST(:reservations AS int[]), CAST(:ats AS timestamptz[]), CAST(:meters AS bigint[]))"
    "  AS u(charger, evse, tag, driver, vehicle, contract, reservation, at, meter)) AS v"
    " RETURNING id, charger_id, evse_id"
)


@dataclass(frozen=True)
class Start16:
    """A 1.6 StartTransaction."""

    charger_id: int
    evse_id: int
    id_tag: str
    meter_start: int
    timestamp: datetime
    reservation_id: int | None = None


@dataclass(frozen=True)
class Stop:
    """A stop: 1.6 StopTransaction, or a 2.0.1 TransactionEvent Ended."""

    charger_id: int
    transaction_id: str
    meter_stop: int | None
    timestamp: datetime
    reason: str | None
    samples: list[Sample] = field(default_factory=list)


@dataclass
class Closing:
    """A session being closed, read with its row locked (plain SQL: this is the busiest
    path of a burst). `close` fills in the rest and writes it."""

    id: int
    charger_id: int
    connector_id: int | None
    evse_id: int | None
    transaction_id: str
    driver_id: int | None
    contract_id: int | None
    status: SessionStatus
    started_at: datetime
    meter_start_wh: int | None
    last_meter_wh: int | None
    last_meter_at: datetime | None
    stopped_at: datetime | None = None
    meter_stop_wh: int | None = None
    energy_wh: int | None = None
    stop_reason: str | None = None
    review: SessionReview | None = None
    price_per_kwh_cents: int | None = None
    cost_cents: int | None = None
    ledger_entry_id: int | None = None

    @property
    def kwh(self) -> Decimal | None:
        return None if self.energy_wh is None else Decimal(self.energy_wh) / 1000


_CLOSING = (
    "SELECT id, charger_id, connector_id, evse_id, transaction_id, driver_id, contract_id,"
    " status,"
    " started_at, meter_start_wh, last_meter_wh, last_meter_at FROM charging_sessions"
)


def _lock(
    session: Session, where: str, params: dict[str, Any], skip_locked: bool = False
) -> list[Closing]:
    """The sessions matching `where` (a condition written here, never from input),
    locked in id order."""
    lock = "FOR UPDATE SKIP LOCKED" if skip_locked else "FOR UPDATE"
    rows = session.execute(text(f"{_CLOSING} WHERE {where} ORDER BY id {lock}"), params)
    return [Closing(**{**row._asdict(), "status": SessionStatus(row.status)}) for row in rows]


def start_transaction_16(session: Session, start: Start16) -> tuple[int, str]:
    """Record a 1.6 StartTransaction: (transaction id we assign, authorization status)."""
    return start_transactions_16(session, [start])[0]


def start_transactions_16(session: Session, starts: list[Start16]) -> list[tuple[int, str]]:
    """Record 1.6 StartTransactions, in a few statements whatever their number; for each,
    (transaction id we assign, authorization status).

    A resent StartTransaction (same connector, time and meter) gets the same id back.
    The session is recorded even for an unknown tag (the car may already be charging,
    e.g. a transaction queued offline); the charger is told the tag is Invalid. A
    session still running on the connector, started before, is lost. 1.6 transaction
    ids are integers: ours (the session's id).
    """
    owners = resolve_id_tags(session, [s.id_tag for s in starts])
    on_connectors = _lock(
        session,
        "(charger_id, evse_id) IN (SELECT * FROM unnest(CAST(:chargers AS int[]),"
        " CAST(:evses AS int[]))) AND (status = 'active' OR (charger_id, evse_id,"
        " started_at, meter_start_wh) IN (SELECT * FROM unnest(CAST(:chargers AS int[]),"
        " CAST(:evses AS int[]), CAST(:ats AS timestamptz[]), CAST(:meters AS bigint[]))))",
        {
            "chargers": [s.charger_id for s in starts],
            "evses": [s.evse_id for s in starts],
            "ats": [s.timestamp for s in starts],
            "meters": [s.meter_start for s in starts],
        },
    )
    answers: dict[Start16, int] = {}
    new: list[Start16] = []
    for start in starts:
        here = [
            c
            for c in on_connectors
            if c.charger_id == start.charger_id and c.evse_id == start.evse_id
        ]
        resent = next(
            (
                c
                for c in here
                if c.started_at == start.timestamp and c.meter_start_wh == start.meter_start
            ),
            None,
        )
        if resent is not None:
            answers[start] = resent.id
            continue
        for closing in here:
            if closing.status == SessionStatus.ACTIVE and closing.started_at < start.timestamp:
                close_lost(session, closing, LOST_REPLACED)
        new.append(start)
    if new:
        owner = [owners.get(s.id_tag.strip().upper()) for s in new]
        rows = session.execute(
            _NEW_SESSIONS_16,
            {
                "chargers": [s.charger_id for s in new],
                "evses": [s.evse_id for s in new],
                "tags": [s.id_tag[:36] for s in new],
                "drivers": [o.driver_id if o else None for o in owner],
                "vehicles": [o.vehicle_id if o else None for o in owner],
                "contracts": [o.contract_id if o else None for o in owner],
                "reservations": [s.reservation_id for s in new],
                "ats": [s.timestamp for s in new],
                "meters": [s.meter_start for s in new],
            },
        )
        created = {(charger, evse): sid for sid, charger, evse in rows}
        note_sessions_changed(session, (s.charger_id for s in new))
        for start in new:  # a charger has one start in flight at a time
            answers[start] = created[(start.charger_id, start.evse_id)]
    return [(answers[s], tag_status(owners.get(s.id_tag.strip().upper()))) for s in starts]


def stop_transaction(session: Session, stop: Stop) -> Closing | None:
    """Close a session and post its energy (once); see `stop_transactions`."""
    return stop_transactions(session, [stop])[0]


def stop_transactions(session: Session, stops: list[Stop]) -> list[Closing | None]:
    """Close sessions and post their energy (once each), in a few statements whatever
    their number. A second stop changes nothing, nor does a stop for a session already
    closed as lost (billed at its last meter value; the late stop is logged for the
    staff who review it). An unknown transaction: None."""
    where = (
        "(charger_id, transaction_id) IN (SELECT * FROM unnest(CAST(:chargers AS int[]),"
        " CAST(:txs AS text[])))"
    )
    params = {
        "chargers": [s.charger_id for s in stops],
        "txs": [s.transaction_id for s in stops],
    }
    found = {(c.charger_id, c.transaction_id): c for c in _lock(session, where, params)}
    samples = [sample for stop in stops for sample in stop.samples]
    if samples:
        record_samples(session, samples)
        # The readings the samples brought, for stops that lack them.
        found = {(c.charger_id, c.transaction_id): c for c in _lock(session, where, params)}
    closing_now: list[tuple[Closing, int | None, datetime, str, SessionStatus]] = []
    for stop in stops:
        closing = found.get((stop.charger_id, stop.transaction_id))
        if closing is None:
            log.warning(
                "charger %s stopped unknown transaction %s", stop.charger_id, stop.transaction_id
            )
        elif closing.status == SessionStatus.LOST:
            log.warning(
                "session %s: stop (meter %s at %s) after it was closed as lost; billed as closed",
                closing.id,
                stop.meter_stop,
                stop.timestamp.isoformat(),
            )
        elif closing.status != SessionStatus.ACTIVE:
            log.info("duplicate stop for session %s ignored", closing.id)
        elif all(c[0] is not closing for c in closing_now):
            meter_stop = stop.meter_stop if stop.meter_stop is not None else closing.last_meter_wh
            reason = stop.reason or "Local"
            closing_now.append(
                (closing, meter_stop, stop.timestamp, reason, SessionStatus.COMPLETED)
            )
    close(session, closing_now)
    return [found.get((s.charger_id, s.transaction_id)) for s in stops]


def close_lost(session: Session, closing: Closing, reason: str) -> None:
    """Close a running session whose stop never came, at its last meter value; its
    energy up to that value is billed once and the session waits for staff."""
    log.warning("session %s (charger %s): %s", closing.id, closing.charger_id, reason)
    stopped_at = closing.last_meter_at or closing.started_at
    close(session, [(closing, closing.last_meter_wh, stopped_at, reason, SessionStatus.LOST)])


def close_replaced(
    session: Session, charger_id: int, evse_id: int | None, started_at: datetime
) -> None:
    """A transaction starting on a connector ends any older one still running there."""
    if not evse_id:
        return
    for closing in _lock(
        session,
        "charger_id = :charger AND evse_id = :evse AND status = 'active' AND started_at < :at",
        {"charger": charger_id, "evse": evse_id, "at": started_at},
    ):
        close_lost(session, closing, LOST_REPLACED)


def close_rebooted(session: Session, charger_ids: list[int]) -> None:
    """A charger that rebooted lost the transactions it had running."""
    for closing in _lock(
        session,
        "charger_id = ANY(:chargers) AND status = 'active'",
        {"chargers": charger_ids},
        skip_locked=True,
    ):
        close_lost(session, closing, LOST_REBOOT)


def close_silent_sessions(session: Session, silent_since: datetime) -> list[int]:
    """Close as lost every running session not heard from since `silent_since`
    (our clock). Sessions another process is closing are skipped."""
    closings = _lock(
        session,
        "status = 'active' AND coalesce(last_heard_at, created_at) < :since",
        {"since": silent_since},
        skip_locked=True,
    )
    for closing in closings:
        close_lost(session, closing, LOST_SILENT)
    return [c.id for c in closings]


_CLOSE = text(
    "UPDATE charging_sessions AS s SET status = v.status, stopped_at = v.stopped_at,"
    " meter_start_wh = v.meter_start_wh, meter_stop_wh = v.meter_stop_wh,"
    " energy_wh = v.energy_wh, last_meter_wh = COALESCE(v.meter_stop_wh, s.last_meter_wh),"
    " stop_reason = v.stop_reason, review = v.review,"
    " price_per_kwh_cents = v.price_per_kwh_cents, cost_cents = v.cost_cents,"
    " ledger_entry_id = v.ledger_entry_id"
    " FROM unnest(CAST(:id AS int[]), CAST(:status AS text[]),"
    "  CAST(:stopped_at AS timestamptz[]), CAST(:meter_start_wh AS bigint[]),"
    "  CAST(:meter_stop_wh AS bigint[]), CAST(:energy_wh AS bigint[]),"
    "  CAST(:stop_reason AS text[]), CAST(:review AS text[]),"
    "  CAST(:price_per_kwh_cents AS bigint[]), CAST(:cost_cents AS bigint[]),"
    "  CAST(:ledger_entry_id AS bigint[]))"
    "  AS v(id, status, stopped_at, meter_start_wh, meter_stop_wh, energy_wh, stop_reason,"
    "  review, price_per_kwh_cents, cost_cents, ledger_entry_id)"
    " WHERE s.id = v.id"
)


def close(
    session: Session,
    closings: list[tuple[Closing, int | None, datetime, str, SessionStatus]],
) -> None:
    """End sessions, each `(session, meter stop, stopped at, reason, status)`: its energy
    from the meter readings, then billed once at the depot's price, or held for staff
    when it is more than its connector can deliver. A few statements whatever their
    number."""
    if not closings:
        return
    for closing, meter_stop, stopped_at, reason, status in closings:
        if closing.meter_start_wh is None and meter_stop is not None:
            closing.meter_start_wh = meter_stop  # never saw a start reading: no energy known
        if meter_stop is not None and closing.meter_start_wh is not None:
            if meter_stop < closing.meter_start_wh:
                log.warning(
                    "session %s: meter stop %s below start %s; energy 0",
                    closing.id,
                    meter_stop,
                    closing.meter_start_wh,
                )
                meter_stop = closing.meter_start_wh
            closing.meter_stop_wh = meter_stop
            closing.energy_wh = meter_stop - closing.meter_start_wh
        closing.stopped_at = max(stopped_at, closing.started_at)
        closing.stop_reason = reason[:40]
        closing.status = status
        if status == SessionStatus.LOST:
            closing.review = SessionReview.LOST
    ended = [c[0] for c in closings]
    note_sessions_changed(session, (c.charger_id for c in ended))
    facts = billing_facts(session, ended)
    billable = []
    for closing in ended:
        limit = plausible_energy_wh(closing, facts[closing.id].max_kw)
        if closing.energy_wh and closing.energy_wh > limit:
            log.warning(
                "session %s: %s Wh in %s is more than its connector can deliver (%s Wh);"
                " held for review, not billed",
                closing.id,
                closing.energy_wh,
                closing.stopped_at - closing.started_at,  # type: ignore[operator]
                limit,
            )
            closing.review = SessionReview.IMPLAUSIBLE
        else:
            billable.append(closing)
    settle_energy(session, billable, facts)
    # One statement for all of them (the rows as arrays, in id order).
    ended.sort(key=lambda c: c.id)
    session.execute(
        _CLOSE,
        {
            "id": [c.id for c in ended],
            "status": [c.status.value for c in ended],
            "stopped_at": [c.stopped_at for c in ended],
            "meter_start_wh": [c.meter_start_wh for c in ended],
            "meter_stop_wh": [c.meter_stop_wh for c in ended],
            "energy_wh": [c.energy_wh for c in ended],
            "stop_reason": [c.stop_reason for c in ended],
            "review": [c.review.value if c.review else None for c in ended],
            "price_per_kwh_cents": [c.price_per_kwh_cents for c in ended],
            "cost_cents": [c.cost_cents for c in ended],
            "ledger_entry_id": [c.ledger_entry_id for c in ended],
        },
    )


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
    A new transaction ends any older one still running on its EVSE (lost); events for
    a session already closed as lost keep their samples and change nothing else.
    """
    owner = resolve_id_tag(session, id_token) if id_token else None
    status = tag_status(owner) if id_token else None
    query = (
        select(ChargingSession)
        .where(
            ChargingSession.charger_id == charger_id,
            ChargingSession.transaction_id == transaction_id,
        )
        .with_for_update()
    )
    charging = session.scalar(query)
    energy = _energy_wh(samples)
    if charging is None:
        close_replaced(session, charger_id, evse_id, timestamp)
        session.execute(
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
                last_heard_at=func.now(),
                created_at=timestamp,
            )
            .on_conflict_do_nothing(constraint="uq_charging_sessions_transaction")
        )
        charging = session.scalar(query)
        if charging is None:  # pragma: no cover - the row was just written
            raise RuntimeError(transaction_id)
        note_sessions_changed(session, [charger_id])
    elif charging.status != SessionStatus.ACTIVE:
        if samples:
            record_samples(session, samples)
        if charging.status == SessionStatus.LOST:
            log.warning("session %s: %s event after it was closed as lost", charging.id, event_type)
        return status
    elif owner is not None and charging.driver_id is None:
        charging.id_tag = id_token[:36] if id_token else None
        charging.driver_id = owner.driver_id
        charging.vehicle_id = owner.vehicle_id
        charging.contract_id = owner.contract_id
    charging.last_heard_at = func.now()
    if event_type == "Started" and timestamp < charging.started_at:
        charging.started_at = timestamp  # a late Started is the true start
        if energy is not None:
            charging.meter_start_wh = energy
    if evse_id and charging.evse_id is None:
        charging.evse_id = evse_id
        charging.connector_id = _connector_id(session, charger_id, evse_id)
        note_sessions_changed(session, [charger_id])  # now on a connector: planned
    session.flush()
    if samples:
        record_samples(session, samples)
    if event_type == "Ended":
        session.expire(charging)  # the samples and the SQL below change it
        stop_transaction(
            session, Stop(charger_id, transaction_id, energy, timestamp, stopped_reason)
        )
    return status
