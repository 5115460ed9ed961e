"""What the pages call the business's states and kinds, in one place for every feature
(and the PDFs): a label per enum value, translated when shown (lazy gettext)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal.models import (
    EntryKind,
    IncidentStatus,
    IncidentType,
    PaymentMethod,
    PaymentStatus,
    Role,
    VehicleStatus,
)

ROLE_LABELS = {
    Role.DRIVER: _l("Drivers"),
    Role.STAFF: _l("Depot staff"),
    Role.MANAGER: _l("Managers"),
    Role.ADMIN: _l("Administrators"),
}

VEHICLE_STATUS_LABELS = {
    VehicleStatus.AVAILABLE: _l("Available"),
    VehicleStatus.LEASED: _l("Leased"),
    VehicleStatus.IN_REPAIR: _l("In repair"),
    VehicleStatus.OUT_OF_SERVICE: _l("Out of service"),
    VehicleStatus.RETIRED: _l("Retired"),
}

ENTRY_KIND_LABELS = {
    EntryKind.RENT: _l("Weekly rent"),
    EntryKind.ENERGY: _l("Energy"),
    EntryKind.TOLL: _l("Toll"),
    EntryKind.FINE: _l("Traffic fine"),
    EntryKind.DAMAGE: _l("Damage"),
    EntryKind.DEDUCTIBLE: _l("Insurance deductible"),
    EntryKind.LATE_FEE: _l("Late fee"),
    EntryKind.DEPOSIT: _l("Deposit"),
    EntryKind.PAYMENT: _l("Payment"),
    EntryKind.ADJUSTMENT: _l("Adjustment"),
    EntryKind.REVERSAL: _l("Reversal"),
}

PAYMENT_STATUS_LABELS = {
    PaymentStatus.PENDING: _l("Pending"),
    PaymentStatus.PAID: _l("Paid"),
    PaymentStatus.EXPIRED: _l("Expired"),
    PaymentStatus.CANCELED: _l("Canceled"),
    PaymentStatus.FAILED: _l("Failed"),
    PaymentStatus.REFUNDED: _l("Refunded"),
}
PAYMENT_METHOD_LABELS = {
    PaymentMethod.OXXO: _l("Cash at OXXO"),
    PaymentMethod.SPEI: _l("SPEI transfer"),
    PaymentMethod.CARD: _l("Card"),
    PaymentMethod.CASH: _l("Cash at the depot"),
}

INCIDENT_TYPE_LABELS = {
    IncidentType.ACCIDENT: _l("Accident"),
    IncidentType.THEFT: _l("Theft"),
    IncidentType.DAMAGE: _l("Damage"),
    IncidentType.BREAKDOWN: _l("Breakdown"),
    IncidentType.FINE: _l("Traffic fine"),
    IncidentType.OTHER: _l("Other"),
}
INCIDENT_STATUS_LABELS = {
    IncidentStatus.REPORTED: _l("Reported"),
    IncidentStatus.IN_REVIEW: _l("In review"),
    IncidentStatus.CLAIM_FILED: _l("Claim filed"),
    IncidentStatus.IN_REPAIR: _l("In repair"),
    IncidentStatus.CLOSED: _l("Closed"),
    IncidentStatus.REJECTED: _l("Rejected"),
    IncidentStatus.CANCELLED: _l("Cancelled"),
}
