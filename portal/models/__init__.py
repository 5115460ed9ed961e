"""The one schema, a module per area. Importing this package builds no app."""

from portal.db import Base

from .audit import AuditEvent
from .fleet import ConnectorType, Contract, ContractStatus, Depot, Vehicle, VehicleStatus
from .ledger import EntryKind, LedgerEntry
from .people import Driver, DriverStatus, Role, User
from .telemetry import (
    AlertKind,
    ChargingEpisode,
    TelemetryReading,
    TelemetryReject,
    VehicleAlert,
    VehicleDailyKm,
    VehicleState,
    VehicleTrip,
)

__all__ = [
    "AlertKind",
    "AuditEvent",
    "Base",
    "ChargingEpisode",
    "ConnectorType",
    "Contract",
    "ContractStatus",
    "Depot",
    "Driver",
    "DriverStatus",
    "EntryKind",
    "LedgerEntry",
    "Role",
    "TelemetryReading",
    "TelemetryReject",
    "User",
    "Vehicle",
    "VehicleAlert",
    "VehicleDailyKm",
    "VehicleState",
    "VehicleStatus",
    "VehicleTrip",
]
