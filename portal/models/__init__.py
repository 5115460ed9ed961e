"""The one schema, a module per area. Importing this package builds no app."""

from portal.db import Base

from .audit import AuditEvent
from .credit import (
    ApplicationStatus,
    CreditApplication,
    CreditDecision,
    CreditScore,
    EarningsDay,
    ModelVersion,
    Outcome,
    Platform,
    PlatformAccount,
    PolicyCutoffs,
)
from .fleet import ConnectorType, Contract, ContractStatus, Depot, Vehicle, VehicleStatus
from .incidents import (
    DeductiblePayer,
    EventKind,
    Incident,
    IncidentAttachment,
    IncidentEvent,
    IncidentStatus,
    IncidentType,
    PositionSource,
)
from .ledger import EntryKind, LedgerEntry
from .payments import (
    PaymentAccount,
    PaymentIntent,
    PaymentMethod,
    PaymentProvider,
    PaymentStatus,
    WebhookEvent,
)
from .people import Driver, DriverStatus, Role, User
from .statements import PdfStatus, Statement
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
    "ApplicationStatus",
    "AuditEvent",
    "Base",
    "ChargingEpisode",
    "ConnectorType",
    "Contract",
    "ContractStatus",
    "CreditApplication",
    "CreditDecision",
    "CreditScore",
    "DeductiblePayer",
    "Depot",
    "Driver",
    "DriverStatus",
    "EarningsDay",
    "EntryKind",
    "EventKind",
    "Incident",
    "IncidentAttachment",
    "IncidentEvent",
    "IncidentStatus",
    "IncidentType",
    "LedgerEntry",
    "ModelVersion",
    "Outcome",
    "PaymentAccount",
    "PaymentIntent",
    "PaymentMethod",
    "PaymentProvider",
    "PaymentStatus",
    "PdfStatus",
    "Platform",
    "PlatformAccount",
    "PolicyCutoffs",
    "PositionSource",
    "Role",
    "Statement",
    "TelemetryReading",
    "TelemetryReject",
    "User",
    "Vehicle",
    "VehicleAlert",
    "VehicleDailyKm",
    "VehicleState",
    "VehicleStatus",
    "VehicleTrip",
    "WebhookEvent",
]
