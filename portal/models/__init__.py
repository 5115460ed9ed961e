"""The one schema, a module per area. Importing this package builds no app."""

from portal.db import Base

from .audit import AuditEvent
from .bookings import LIVE_BOOKING_STATUSES, Booking, BookingStatus
from .charging import (
    Charger,
    ChargerCommand,
    ChargerConnector,
    ChargerRegistration,
    ChargingSession,
    CommandAction,
    CommandStatus,
    ConnectorStatus,
    DepotEnergyPrice,
    IdTag,
    MeterValue,
    OcppVersion,
    SessionStatus,
)
from .fleet import ConnectorType, Contract, ContractStatus, Depot, Vehicle, VehicleStatus
from .ledger import EntryKind, LedgerEntry
from .people import Driver, DriverStatus, Role, User

__all__ = [
    "LIVE_BOOKING_STATUSES",
    "AuditEvent",
    "Base",
    "Booking",
    "BookingStatus",
    "Charger",
    "ChargerCommand",
    "ChargerConnector",
    "ChargerRegistration",
    "ChargingSession",
    "CommandAction",
    "CommandStatus",
    "ConnectorStatus",
    "ConnectorType",
    "Contract",
    "ContractStatus",
    "Depot",
    "DepotEnergyPrice",
    "Driver",
    "DriverStatus",
    "EntryKind",
    "IdTag",
    "LedgerEntry",
    "MeterValue",
    "OcppVersion",
    "Role",
    "SessionStatus",
    "User",
    "Vehicle",
    "VehicleStatus",
]
