"""What the pages call the business's states and kinds, in one place for every feature
(and the PDF jobs): a label per enum value, translated when shown (lazy gettext), and
the label bundle the incident templates are given."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from charging.tariffs import Period
from portal.i18n import money
from portal.models import (
    ApplicationStatus,
    ChargerEventKind,
    CommandStatus,
    DeductiblePayer,
    EntryKind,
    IncidentStatus,
    IncidentType,
    Outcome,
    PaymentMethod,
    PaymentStatus,
    Role,
    SessionStatus,
    VehicleStatus,
)
from portal.services.charging.bill import Charge
from portal.services.incidents.claims import NEEDS_REASON

ROLE_LABELS = {
    Role.DRIVER: _l("Drivers"),
    Role.STAFF: _l("Depot staff"),
    Role.MANAGER: _l("Managers"),
    Role.ADMIN: _l("Administrators"),
}

VEHICLE_STATUS_LABELS = {
    VehicleStatus.IN_PREPARATION: _l("In preparation"),
    VehicleStatus.AVAILABLE: _l("Available"),
    VehicleStatus.LEASED: _l("Leased"),
    VehicleStatus.IN_REPAIR: _l("In repair"),
    VehicleStatus.OUT_OF_SERVICE: _l("Out of service"),
    VehicleStatus.TRANSFERRED: _l("Transferred to the driver"),
    VehicleStatus.SOLD: _l("Sold"),
    VehicleStatus.WRITTEN_OFF: _l("Written off"),
}

ENTRY_KIND_LABELS = {
    EntryKind.RENT: _l("Weekly rent"),
    EntryKind.ENERGY: _l("Energy"),
    EntryKind.TOLL: _l("Toll"),
    EntryKind.FINE: _l("Traffic fine"),
    EntryKind.DAMAGE: _l("Damage"),
    EntryKind.DEDUCTIBLE: _l("Insurance deductible"),
    EntryKind.LATE_FEE: _l("Late fee"),
    EntryKind.SECURITY_DEPOSIT: _l("Security deposit"),
    EntryKind.DEPOSIT: _l("Deposit applied"),
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

# Credit applications: where one is, what was decided, the platforms drivers work on.
CREDIT_STATUS_LABELS = {
    ApplicationStatus.DRAFT: _l("Draft"),
    ApplicationStatus.SUBMITTED: _l("Submitted"),
    ApplicationStatus.SCORING: _l("Scoring"),
    ApplicationStatus.SCORED: _l("Scored"),
    ApplicationStatus.APPROVED: _l("Approved"),
    ApplicationStatus.DECLINED: _l("Declined"),
    ApplicationStatus.REFERRED: _l("Referred for review"),
    ApplicationStatus.WITHDRAWN: _l("Withdrawn"),
}
OUTCOME_LABELS = {
    Outcome.APPROVE: _l("Approve"),
    Outcome.DECLINE: _l("Decline"),
    Outcome.REFER: _l("Refer for review"),
}
PLATFORM_LABELS = {"uber": "Uber", "didi": "DiDi", "indrive": "inDrive", "cabify": "Cabify"}

# What became of a remote command sent to a charger.
COMMAND_STATUS_LABELS = {
    CommandStatus.QUEUED: _l("Queued"),
    CommandStatus.SENT: _l("Sent"),
    CommandStatus.ACCEPTED: _l("Accepted"),
    CommandStatus.REJECTED: _l("Rejected"),
    CommandStatus.FAILED: _l("Failed"),
}

SESSION_STATUS_LABELS = {
    SessionStatus.ACTIVE: _l("Charging"),
    SessionStatus.COMPLETED: _l("Finished"),
    SessionStatus.LOST: _l("Lost"),
}

CHARGER_EVENT_LABELS = {
    ChargerEventKind.SECURITY: _l("Security event"),
    ChargerEventKind.FIRMWARE: _l("Firmware"),
    ChargerEventKind.DIAGNOSTICS: _l("Diagnostics"),
    ChargerEventKind.REPORT: _l("Report"),
    ChargerEventKind.DATA_TRANSFER: _l("Vendor data"),
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
# What the button that moves an incident to a status says.
INCIDENT_STATUS_ACTIONS = {
    IncidentStatus.IN_REVIEW: _l("Start review"),
    IncidentStatus.CLAIM_FILED: _l("Claim filed"),
    IncidentStatus.IN_REPAIR: _l("Send to repair"),
    IncidentStatus.CLOSED: _l("Close"),
    IncidentStatus.REJECTED: _l("Reject"),
    IncidentStatus.CANCELLED: _l("Cancel"),
}
DEDUCTIBLE_PAYER_LABELS = {
    DeductiblePayer.DRIVER: _l("The driver"),
    DeductiblePayer.COMPANY: _l("LAFA"),
    DeductiblePayer.THIRD_PARTY: _l("The other party"),
}
LIABILITY_LABELS = {
    EntryKind.DEDUCTIBLE: _l("Deductible"),
    EntryKind.DAMAGE: _l("Damage"),
    EntryKind.FINE: _l("Fine"),
}

INCIDENT_FIELD_LABELS = {
    "insurer": _l("Insurer"),
    "insurer_report_number": _l("Insurer's report number"),
    "claim_number": _l("Claim number"),
    "adjuster": _l("Adjuster"),
    "police_folio": _l("Police report or fine folio"),
    "workshop": _l("Workshop"),
    "deductible_cents": _l("Deductible"),
    "deductible_payer": _l("Who pays the deductible"),
    "repair_cost_cents": _l("Repair cost"),
    "vehicle_recovered": _l("The car was recovered"),
}


def show_incident_value(name: str, value: Any) -> str:
    """A value of the timeline's "fields updated" line, as a person reads it."""
    if value is None or value == "":
        return "—"
    if name.endswith("_cents"):
        return money(int(value))
    if name == "deductible_payer":
        return str(DEDUCTIBLE_PAYER_LABELS[DeductiblePayer(value)])
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return str(value)


# What every incident template (the pages and the PDF) is given.
INCIDENT_LABELS: dict[str, Any] = {
    "type_labels": INCIDENT_TYPE_LABELS,
    "status_labels": INCIDENT_STATUS_LABELS,
    "status_actions": INCIDENT_STATUS_ACTIONS,
    "payer_labels": DEDUCTIBLE_PAYER_LABELS,
    "liability_labels": LIABILITY_LABELS,
    "vehicle_status_labels": VEHICLE_STATUS_LABELS,
    "field_labels": INCIDENT_FIELD_LABELS,
    "show_value": show_incident_value,
    "workflow": [s for s in IncidentStatus if s not in NEEDS_REASON],
}
INCIDENT_LABELS["labels"] = INCIDENT_LABELS


# The lines of a depot's CFE bill (the energy lines by period).
BILL_CHARGE_LABELS = {
    Charge.FIXED: _l("Fixed charge"),
    Charge.TRANSMISSION: _l("Transmission"),
    Charge.CAPACITY: _l("Capacity"),
    Charge.DISTRIBUTION: _l("Distribution"),
}
TARIFF_PERIOD_LABELS = {
    Period.BASE: _l("Base"),
    Period.INTERMEDIA: _l("Intermedia"),
    Period.PUNTA: _l("Punta"),
    Period.UNICA: _l("Single period"),
}
ENERGY_CHARGE_LABELS = {
    Period.BASE: _l("Energy, base"),
    Period.INTERMEDIA: _l("Energy, intermedia"),
    Period.PUNTA: _l("Energy, punta"),
    Period.UNICA: _l("Energy"),
}
