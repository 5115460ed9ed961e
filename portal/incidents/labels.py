"""What the incident templates (pages and the PDF) call things, in one place."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.i18n import money
from portal.models import DeductiblePayer, IncidentStatus
from portal.services.incidents import NEEDS_REASON
from portal.web.labels import VEHICLE_STATUS_LABELS

from .forms import LIABILITY_LABELS, PAYER_LABELS, STATUS_ACTIONS, STATUS_LABELS, TYPE_LABELS

FIELD_LABELS = {
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


def show_value(name: str, value: Any) -> str:
    """A value of the timeline's "fields updated" line, as a person reads it."""
    if value is None or value == "":
        return "—"
    if name.endswith("_cents"):
        return money(int(value))
    if name == "deductible_payer":
        return str(PAYER_LABELS[DeductiblePayer(value)])
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return str(value)


LABELS: dict[str, Any] = {
    "type_labels": TYPE_LABELS,
    "status_labels": STATUS_LABELS,
    "status_actions": STATUS_ACTIONS,
    "payer_labels": PAYER_LABELS,
    "liability_labels": LIABILITY_LABELS,
    "vehicle_status_labels": VEHICLE_STATUS_LABELS,
    "field_labels": FIELD_LABELS,
    "show_value": show_value,
    "workflow": [s for s in IncidentStatus if s not in NEEDS_REASON],
}
LABELS["labels"] = LABELS
