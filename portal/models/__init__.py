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

__all__ = [
    "ApplicationStatus",
    "AuditEvent",
    "Base",
    "ConnectorType",
    "Contract",
    "ContractStatus",
    "CreditApplication",
    "CreditDecision",
    "CreditScore",
    "Depot",
    "Driver",
    "DriverStatus",
    "EarningsDay",
    "EntryKind",
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
    "Role",
    "Statement",
    "User",
    "Vehicle",
    "VehicleStatus",
    "WebhookEvent",
]
