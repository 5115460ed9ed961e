"""Charging: chargers and their connectors, id tags, sessions, meter values, commands.

What the OCPP server (`charging/csms.py`) writes and the portal reads:

- `Charger`: one charge point, known by its OCPP `identity` (the last path segment
  of `ws://host:9000/ocpp/<identity>`). `registration` says whether it may talk to
  us (`pending` ones were auto-registered and wait for an admin). `online`,
  `last_seen_at` and `heartbeat_interval_s` say whether it is connected:
  `Charger.is_online(now)` is the one test the screens should use (a charger whose
  CSMS process died is not online even if the flag was never cleared).
- `ChargerConnector`: one outlet. `evse_id` is the number staff see and the number
  remote commands address (1.6 `connectorId`, 2.0.1 `evseId`); `connector_id` is the
  2.0.1 connector inside the EVSE (always 1 for 1.6). `connector_type` (CCS2, GB/T)
  is ours: OCPP 1.6 has no connector types and 2.0.1's schema lacks GB/T.
- `IdTag`: an RFID card or app token that resolves to a driver (Authorize,
  StartTransaction, TransactionEvent). The vehicle is the driver's active contract's.
- `ChargingSession`: one transaction, from start to stop, with the meter readings in
  Wh, the energy, the price applied and the ledger entry it posted (once).
- `MeterValue`: one sampled value (measurand, phase, unit) of a charger's EVSE, stored
  once by its natural key (charger, session, EVSE, time, measurand, phase, context), so
  that resent values (a 1.6 StopTransaction's `transactionData`, a 2.0.1 event without
  `evse`) are ignored.
- `ChargerEvent`: what a charger reports that is neither a session nor a status:
  security events, firmware and diagnostics (log) status, device-model reports, vendor
  data transfers; shown on the charger's page.
- `ChargerCommand`: the command log — every remote command the portal asked for, its
  parameters, what the charger answered, or why it failed (`error` is an English
  message id the view translates with `_()`).
- `DepotEnergyPrice`: what a driver pays per kWh charged at a depot, from a date on.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Numeric,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, utcnow

from ._types import Cents, Created, Timestamp, enum_column
from .fleet import ConnectorType, Contract, Depot, Vehicle
from .people import Driver, User

OFFLINE_AFTER_MISSED_HEARTBEATS = 3
"""A charger is offline once it has been silent for this many heartbeat intervals."""


class OcppVersion(enum.StrEnum):
    """The WebSocket subprotocol a charger speaks."""

    V16 = "ocpp1.6"
    V201 = "ocpp2.0.1"


class ChargerRegistration(enum.StrEnum):
    ACCEPTED = "accepted"  # may charge; BootNotification answered Accepted
    PENDING = "pending"  # auto-registered, waiting for an admin; answered Pending
    REJECTED = "rejected"  # refused at the handshake


class ConnectorStatus(enum.StrEnum):
    """OCPP 1.6 ChargePointStatus and 2.0.1 ConnectorStatusEnumType, merged."""

    AVAILABLE = "available"
    PREPARING = "preparing"
    CHARGING = "charging"
    SUSPENDED_EV = "suspended_ev"
    SUSPENDED_EVSE = "suspended_evse"
    FINISHING = "finishing"
    OCCUPIED = "occupied"  # 2.0.1: something is plugged in
    RESERVED = "reserved"
    UNAVAILABLE = "unavailable"
    FAULTED = "faulted"
    UNKNOWN = "unknown"


LOST_AFTER_MISSED_METER_VALUES = 3
"""An active session silent for this many meter intervals is closed as lost."""

DEFAULT_MAX_KW = Decimal("350")
"""The power assumed for a connector whose maximum is not recorded (the fastest DC
chargers sold), when bounding a session's energy."""


class SessionStatus(enum.StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"  # the charger said it stopped
    LOST = "lost"  # its stop never came: closed by us at its last meter value


class SessionReview(enum.StrEnum):
    """Why a session waits for staff."""

    LOST = "lost"  # closed as lost (silence, the charger's reboot, a newer transaction)
    IMPLAUSIBLE = "implausible"  # more energy than the connector can deliver: not billed


class ChargerEventKind(enum.StrEnum):
    """What a `ChargerEvent` records (the OCPP message it came from)."""

    SECURITY = "security"  # SecurityEventNotification (1.6 security extension, 2.0.1)
    FIRMWARE = "firmware"  # FirmwareStatusNotification
    DIAGNOSTICS = "diagnostics"  # 1.6 DiagnosticsStatusNotification, 2.0.1 LogStatusNotification
    REPORT = "report"  # 2.0.1 NotifyReport (one row per message of a report)
    DATA_TRANSFER = "data_transfer"  # DataTransfer from a registered vendor


class CommandStatus(enum.StrEnum):
    QUEUED = "queued"  # logged, the RQ job not yet run
    SENT = "sent"  # handed to the CSMS process that holds the charger
    ACCEPTED = "accepted"  # the charger answered, and its status says yes
    REJECTED = "rejected"  # the charger answered no (Rejected, NotSupported, ...)
    FAILED = "failed"  # no answer: offline, timeout, CALLERROR; see `error`

    @property
    def finished(self) -> bool:
        return self not in (CommandStatus.QUEUED, CommandStatus.SENT)


class CommandAction(enum.StrEnum):
    """Remote commands the portal can send, in 1.6 vocabulary (2.0.1 is mapped)."""

    REMOTE_START = "remote_start"  # 1.6 RemoteStartTransaction, 2.0.1 RequestStartTransaction
    REMOTE_STOP = "remote_stop"  # RemoteStopTransaction / RequestStopTransaction
    UNLOCK_CONNECTOR = "unlock_connector"
    RESET = "reset"
    CHANGE_AVAILABILITY = "change_availability"
    RESERVE_NOW = "reserve_now"
    CANCEL_RESERVATION = "cancel_reservation"
    TRIGGER_MESSAGE = "trigger_message"
    GET_CONFIGURATION = "get_configuration"  # 2.0.1 GetVariables
    CHANGE_CONFIGURATION = "change_configuration"  # 2.0.1 SetVariables
    SET_CHARGING_PROFILE = "set_charging_profile"
    CLEAR_CHARGING_PROFILE = "clear_charging_profile"
    GET_COMPOSITE_SCHEDULE = "get_composite_schedule"


class Charger(Base):
    __tablename__ = "chargers"
    __table_args__ = (
        CheckConstraint("heartbeat_interval_s > 0", name="heartbeat_interval_positive"),
        CheckConstraint("max_kw IS NULL OR max_kw > 0", name="max_kw_positive"),
        # OCPP identities are URL path segments: keep them to a safe alphabet.
        CheckConstraint(
            "length(identity) BETWEEN 1 AND 48 AND identity NOT LIKE '%/%'",
            name="identity_safe",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    identity: Mapped[str] = mapped_column(String(48), unique=True)
    name: Mapped[str | None] = mapped_column(String(100))
    depot_id: Mapped[int | None] = mapped_column(ForeignKey("depots.id"), index=True)
    registration: Mapped[ChargerRegistration] = enum_column(
        ChargerRegistration, default=ChargerRegistration.ACCEPTED
    )
    # The HTTP Basic password's hash (security profiles 1 and 2): HMAC-SHA-256 with the
    # server's key for the generated secrets, Argon2 for older ones (portal.passwords).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    ocpp_version: Mapped[OcppVersion | None] = enum_column(OcppVersion)
    vendor: Mapped[str | None] = mapped_column(String(50))
    model: Mapped[str | None] = mapped_column(String(50))
    serial_number: Mapped[str | None] = mapped_column(String(50))
    firmware_version: Mapped[str | None] = mapped_column(String(50))
    max_kw: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))
    # In production, HTTP Basic without TLS (security profile 1) only for these.
    plain_allowed: Mapped[bool] = mapped_column(default=False, server_default=false())
    # When it last refused a charging profile (Rejected, NotSupported, NotImplemented):
    # the depot's plan takes its cars at full power and sends it no profiles.
    profiles_refused_at: Mapped[Timestamp | None]
    # The charge point as a whole (1.6 connector 0, 2.0.1 station-level events).
    status: Mapped[ConnectorStatus] = enum_column(ConnectorStatus, default=ConnectorStatus.UNKNOWN)
    error_code: Mapped[str | None] = mapped_column(String(50))
    online: Mapped[bool] = mapped_column(default=False)
    heartbeat_interval_s: Mapped[int] = mapped_column(default=60)
    connected_at: Mapped[Timestamp | None]
    disconnected_at: Mapped[Timestamp | None]
    last_boot_at: Mapped[Timestamp | None]
    last_heartbeat_at: Mapped[Timestamp | None]
    last_seen_at: Mapped[Timestamp | None]  # any message at all
    created_at: Mapped[Created]

    depot: Mapped[Depot | None] = relationship()
    connectors: Mapped[list[ChargerConnector]] = relationship(
        back_populates="charger", order_by="ChargerConnector.evse_id, ChargerConnector.connector_id"
    )

    def is_online(self, now: datetime | None = None) -> bool:
        """Connected and heard from within `OFFLINE_AFTER_MISSED_HEARTBEATS` intervals."""
        if not self.online or self.last_seen_at is None:
            return False
        now = now or utcnow()
        silence = timedelta(seconds=self.heartbeat_interval_s * OFFLINE_AFTER_MISSED_HEARTBEATS)
        return now - self.last_seen_at <= silence

    def __repr__(self) -> str:
        return f"<Charger {self.identity}>"


class ChargerConnector(Base):
    __tablename__ = "charger_connectors"
    __table_args__ = (
        UniqueConstraint("charger_id", "evse_id", "connector_id", name="uq_charger_connectors_ids"),
        CheckConstraint("evse_id > 0 AND connector_id > 0", name="ids_positive"),
        CheckConstraint("max_kw IS NULL OR max_kw > 0", name="max_kw_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    charger_id: Mapped[int] = mapped_column(ForeignKey("chargers.id", ondelete="CASCADE"))
    evse_id: Mapped[int]  # the number staff see; 1.6 connectorId, 2.0.1 evseId
    connector_id: Mapped[int] = mapped_column(default=1)  # 2.0.1 connector within the EVSE
    connector_type: Mapped[ConnectorType | None] = enum_column(ConnectorType)
    max_kw: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))
    status: Mapped[ConnectorStatus] = enum_column(ConnectorStatus, default=ConnectorStatus.UNKNOWN)
    error_code: Mapped[str | None] = mapped_column(String(50))
    status_at: Mapped[Timestamp | None]

    charger: Mapped[Charger] = relationship(back_populates="connectors")

    def __repr__(self) -> str:
        return f"<ChargerConnector {self.charger_id}/{self.evse_id}.{self.connector_id}>"


class IdTag(Base):
    """An RFID card or app token that identifies a driver at a charger.

    Kept as the card sends it (any printable characters: dashes are common); OCPP
    compares id tags without regard to case (1.6 CiString20, 2.0.1 idToken), and so
    do we: unique on `upper(tag)`.
    """

    __tablename__ = "id_tags"
    __table_args__ = (
        CheckConstraint("length(tag) BETWEEN 1 AND 36", name="tag_length"),
        Index("uq_id_tags_tag_upper", text("upper(tag)"), unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tag: Mapped[str] = mapped_column(String(36))  # 1.6 idTag <= 20, 2.0.1 <= 36
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[Created]

    driver: Mapped[Driver] = relationship()

    def __repr__(self) -> str:
        return f"<IdTag {self.tag}>"


class DepotEnergyPrice(Base):
    """The price per kWh a driver pays at a depot, valid from a date until the next one.

    A retail price set by LAFA, not the CFE tariff itself: a GDMTH depot pays roughly
    0.8-1.7 MXN/kWh of energy plus demand charges (see docs/architecture.md), and the
    driver's price covers that, the chargers and their upkeep.
    """

    __tablename__ = "depot_energy_prices"
    __table_args__ = (
        UniqueConstraint("depot_id", "valid_from", name="uq_depot_energy_prices_depot_from"),
        CheckConstraint("price_per_kwh_cents > 0", name="price_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    depot_id: Mapped[int] = mapped_column(ForeignKey("depots.id"))
    valid_from: Mapped[date] = mapped_column(Date)  # in the depot's time zone
    price_per_kwh_cents: Mapped[Cents]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[Created]

    depot: Mapped[Depot] = relationship()

    def __repr__(self) -> str:
        return f"<DepotEnergyPrice {self.depot_id} {self.valid_from} {self.price_per_kwh_cents}>"


class ChargingSession(Base):
    """One transaction. 1.6: we assign `transaction_id` (our id); 2.0.1: the charger does."""

    __tablename__ = "charging_sessions"
    __table_args__ = (
        UniqueConstraint("charger_id", "transaction_id", name="uq_charging_sessions_transaction"),
        CheckConstraint("meter_start_wh >= 0", name="meter_start_not_negative"),
        CheckConstraint(
            "meter_stop_wh IS NULL OR meter_start_wh IS NULL OR meter_stop_wh >= meter_start_wh",
            name="meter_monotonic",
        ),
        CheckConstraint("energy_wh IS NULL OR energy_wh >= 0", name="energy_not_negative"),
        CheckConstraint("(status = 'active') = (stopped_at IS NULL)", name="stop_recorded"),
        Index("ix_charging_sessions_driver_started", "driver_id", "started_at"),
        Index("ix_charging_sessions_charger_status", "charger_id", "status"),
        # The dashboard's open day: sessions started, or still holding a connector, today.
        Index("ix_charging_sessions_started", "started_at"),
        Index("ix_charging_sessions_stopped", "stopped_at"),
        # Staff's queue: sessions waiting for review.
        Index(
            "ix_charging_sessions_review",
            "charger_id",
            postgresql_where=text("review IS NOT NULL AND reviewed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    charger_id: Mapped[int] = mapped_column(ForeignKey("chargers.id"))
    connector_id: Mapped[int | None] = mapped_column(ForeignKey("charger_connectors.id"))
    evse_id: Mapped[int | None]
    transaction_id: Mapped[str] = mapped_column(String(64))
    id_tag: Mapped[str | None] = mapped_column(String(36))
    driver_id: Mapped[int | None] = mapped_column(ForeignKey("drivers.id"))
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"), index=True)
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"))
    reservation_id: Mapped[int | None]
    status: Mapped[SessionStatus] = enum_column(SessionStatus, default=SessionStatus.ACTIVE)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # charger's clock
    stopped_at: Mapped[Timestamp | None]
    # None until the charger reports a register reading (2.0.1 may start without one).
    meter_start_wh: Mapped[int | None] = mapped_column(BigInteger)
    meter_stop_wh: Mapped[int | None] = mapped_column(BigInteger)
    energy_wh: Mapped[int | None] = mapped_column(BigInteger)
    stop_reason: Mapped[str | None] = mapped_column(String(40))
    # Live values from the latest MeterValues, for the staff board.
    last_meter_wh: Mapped[int | None] = mapped_column(BigInteger)
    last_power_kw: Mapped[float | None] = mapped_column(Float)
    last_soc: Mapped[float | None] = mapped_column(Float)
    last_meter_at: Mapped[Timestamp | None]  # the charger's clock
    # Our clock: the last message about this session (start, meter values, events), so
    # that a charger's wrong clock does not make a live session look silent.
    last_heard_at: Mapped[Timestamp | None]
    price_per_kwh_cents: Mapped[Cents | None]
    cost_cents: Mapped[Cents | None]
    ledger_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    review: Mapped[SessionReview | None] = enum_column(SessionReview)
    reviewed_at: Mapped[Timestamp | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[Created]

    charger: Mapped[Charger] = relationship()
    connector: Mapped[ChargerConnector | None] = relationship()
    driver: Mapped[Driver | None] = relationship()
    vehicle: Mapped[Vehicle | None] = relationship()
    contract: Mapped[Contract | None] = relationship()

    @property
    def kwh(self) -> Decimal | None:
        """Energy delivered in kWh (exact), or the energy so far for an active session."""
        wh = self.energy_wh
        if wh is None and self.last_meter_wh is not None and self.meter_start_wh is not None:
            wh = max(0, self.last_meter_wh - self.meter_start_wh)
        return None if wh is None else Decimal(wh) / 1000

    def __repr__(self) -> str:
        return f"<ChargingSession {self.id} {self.transaction_id} {self.status}>"


class MeterValue(Base):
    __tablename__ = "meter_values"
    __table_args__ = (
        # The natural key: a sample resent in another message is the same sample.
        Index(
            "uq_meter_values_sample",
            "charger_id",
            "session_id",
            "evse_id",
            "sampled_at",
            "measurand",
            "phase",
            "context",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
        Index("ix_meter_values_session_sampled", "session_id", "sampled_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    charger_id: Mapped[int] = mapped_column(ForeignKey("chargers.id"))
    evse_id: Mapped[int] = mapped_column(default=0)  # 0: the whole charger, or not said
    session_id: Mapped[int | None] = mapped_column(ForeignKey("charging_sessions.id"))
    sampled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    measurand: Mapped[str] = mapped_column(String(60))  # as sent: Energy.Active.Import.Register
    phase: Mapped[str] = mapped_column(String(10), default="")  # "" when not per phase
    unit: Mapped[str | None] = mapped_column(String(20))
    context: Mapped[str | None] = mapped_column(String(30))
    location: Mapped[str | None] = mapped_column(String(20))
    value: Mapped[float] = mapped_column(Float)

    def __repr__(self) -> str:
        return f"<MeterValue {self.charger_id}/{self.evse_id} {self.measurand}={self.value}>"


class ChargerEvent(Base):
    """A notification a charger sent that is kept as sent (see `ChargerEventKind`).

    `name` is the event type (security), the status (firmware, diagnostics), the
    request id and part (report) or the vendor and message id (data transfer).
    Resent notifications with the charger's timestamp are stored once.
    """

    __tablename__ = "charger_events"
    __table_args__ = (
        UniqueConstraint(
            "charger_id", "kind", "name", "occurred_at", name="uq_charger_events_once"
        ),
        Index("ix_charger_events_charger_received", "charger_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    charger_id: Mapped[int] = mapped_column(ForeignKey("chargers.id"))
    kind: Mapped[ChargerEventKind] = enum_column(ChargerEventKind)
    name: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[Timestamp | None]  # the charger's time, when it gives one
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    charger: Mapped[Charger] = relationship()

    def __repr__(self) -> str:
        return f"<ChargerEvent {self.charger_id} {self.kind} {self.name}>"


class ChargerCommand(Base):
    """The command log: one row per remote command, from the request to the answer."""

    __tablename__ = "charger_commands"
    __table_args__ = (Index("ix_charger_commands_charger_requested", "charger_id", "requested_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    charger_id: Mapped[int] = mapped_column(ForeignKey("chargers.id"))
    action: Mapped[CommandAction] = enum_column(CommandAction)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[CommandStatus] = enum_column(CommandStatus, default=CommandStatus.QUEUED)
    ocpp_action: Mapped[str | None] = mapped_column(String(50))  # what was sent on the wire
    request_payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the charger's answer
    error: Mapped[str | None] = mapped_column(String(200))  # English message id, for _()
    error_detail: Mapped[str | None] = mapped_column(String(500))  # e.g. a CALLERROR text
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[Timestamp | None]
    answered_at: Mapped[Timestamp | None]
    job_id: Mapped[str | None] = mapped_column(String(64))

    charger: Mapped[Charger] = relationship()
    requested_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<ChargerCommand {self.id} {self.action} {self.status}>"
