"""The incident forms: the driver's one-minute report, and the staff's tools."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    DecimalField,
    Field,
    HiddenField,
    IntegerField,
    MultipleFileField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.i18n import pesos
from portal.models import PositionSource
from portal.web.labels import (
    DEDUCTIBLE_PAYER_LABELS,
    INCIDENT_STATUS_LABELS,
    INCIDENT_TYPE_LABELS,
    LIABILITY_LABELS,
)

AGE_CHOICES = [
    SelectChoice("", _l("Any age")),
    SelectChoice("1d", _l("Reported in the last 24 hours")),
    SelectChoice("7d", _l("Reported in the last 7 days")),
    SelectChoice("30d", _l("Reported over 30 days ago")),
]


class MoneyField(StringField):
    """An amount in pesos as people write it ("5,000", "$1 234.50"), kept in centavos."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        raw = valuelist[0].strip() if valuelist else ""
        if not raw:
            return
        text = re.sub(r"[\s$,]", "", raw)
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise ValueError(_("Write an amount in pesos, like 5,000.00.")) from None
        if amount < 0 or amount != amount.quantize(Decimal("0.01")) or amount >= 10_000_000:
            raise ValueError(_("Write an amount in pesos, like 5,000.00."))
        self.data = int(amount * 100)

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return "" if self.data is None else f"{pesos(self.data):,.2f}"


class ReportForm(FlaskForm):
    type = RadioField(
        _l("What happened?"),
        choices=[SelectChoice(t.value, label) for t, label in INCIDENT_TYPE_LABELS.items()],
        validators=[InputRequired(message=_l("Choose what happened."))],
    )
    occurred_at = DateTimeLocalField(
        _l("When?"),
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        validators=[InputRequired(message=_l("Write the date and time."))],
    )
    place = StringField(
        _l("Where?"),
        validators=[Length(max=300, message=_l("At most 300 characters."))],
        render_kw={"autocomplete": "off"},
    )
    latitude = DecimalField(places=6, validators=[Optional(), NumberRange(min=-90, max=90)])
    longitude = DecimalField(places=6, validators=[Optional(), NumberRange(min=-180, max=180)])
    position_source = HiddenField()
    description = TextAreaField(
        _l("What happened, in a few words"),
        validators=[
            DataRequired(message=_l("Tell us briefly what happened.")),
            Length(max=4000, message=_l("At most 4,000 characters.")),
        ],
        render_kw={"rows": 3},
    )
    photos = MultipleFileField(_l("Photos"))

    def position(self) -> PositionSource | None:
        if self.latitude.data is None or self.longitude.data is None:
            return None
        try:
            return PositionSource(self.position_source.data or "phone")
        except ValueError:
            return PositionSource.PHONE


class AttachmentForm(FlaskForm):
    files = MultipleFileField(_l("Photos or documents"))


class FilterForm(FlaskForm):
    """The queue's filters; a GET form, so no CSRF token."""

    class Meta:
        csrf = False

    status = SelectField(
        _l("Status"),
        choices=[SelectChoice("open", _l("Open")), SelectChoice("all", _l("All"))]
        + [SelectChoice(s.value, label) for s, label in INCIDENT_STATUS_LABELS.items()],
        default="open",
    )
    type = SelectField(
        _l("Type"),
        choices=[SelectChoice("", _l("All types"))]
        + [SelectChoice(t.value, label) for t, label in INCIDENT_TYPE_LABELS.items()],
        validators=[Optional()],
    )
    depot = SelectField(_l("Depot"), coerce=int, validators=[Optional()])
    age = SelectField(_l("Age"), choices=AGE_CHOICES, validators=[Optional()])
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=100000)], default=1)


class StatusForm(FlaskForm):
    to_status = HiddenField(validators=[DataRequired()])
    note = TextAreaField(
        _l("Note (required to reject or cancel)"),
        validators=[Length(max=2000, message=_l("At most 2,000 characters."))],
        render_kw={"rows": 2},
    )


class InsuranceForm(FlaskForm):
    insurer = StringField(_l("Insurer"), validators=[Length(max=100)])
    insurer_report_number = StringField(_l("Insurer's report number"), validators=[Length(max=40)])
    claim_number = StringField(_l("Claim number"), validators=[Length(max=40)])
    adjuster = StringField(_l("Adjuster (name and phone)"), validators=[Length(max=200)])
    police_folio = StringField(_l("Police report or fine folio"), validators=[Length(max=60)])
    workshop = StringField(_l("Workshop"), validators=[Length(max=200)])
    deductible = MoneyField(_l("Deductible"), render_kw={"inputmode": "decimal"})
    deductible_payer = SelectField(
        _l("Who pays the deductible"),
        choices=[SelectChoice("", _l("Not decided"))]
        + [SelectChoice(p.value, label) for p, label in DEDUCTIBLE_PAYER_LABELS.items()],
        validators=[Optional()],
    )
    repair_cost = MoneyField(_l("Repair cost"), render_kw={"inputmode": "decimal"})
    vehicle_recovered = BooleanField(_l("The car was recovered"))

    def values(self) -> dict[str, Any]:
        return {
            "insurer": self.insurer.data or "",
            "insurer_report_number": self.insurer_report_number.data or "",
            "claim_number": self.claim_number.data or "",
            "adjuster": self.adjuster.data or "",
            "police_folio": self.police_folio.data or "",
            "workshop": self.workshop.data or "",
            "deductible_cents": self.deductible.data,
            "deductible_payer": self.deductible_payer.data or None,
            "repair_cost_cents": self.repair_cost.data,
            "vehicle_recovered": bool(self.vehicle_recovered.data),
        }


class CommentForm(FlaskForm):
    body = TextAreaField(
        _l("Comment"),
        validators=[
            DataRequired(message=_l("Write a comment.")),
            Length(max=4000, message=_l("At most 4,000 characters.")),
        ],
        render_kw={"rows": 2},
    )


class LiabilityForm(FlaskForm):
    kind = SelectField(
        _l("Concept"),
        choices=[SelectChoice(k.value, label) for k, label in LIABILITY_LABELS.items()],
    )
    amount = MoneyField(
        _l("Amount the driver pays"),
        validators=[InputRequired(message=_l("Write the amount."))],
        render_kw={"inputmode": "decimal"},
    )
    reason = StringField(
        _l("Reason"),
        validators=[
            DataRequired(message=_l("Say why the driver pays this amount.")),
            Length(min=5, max=150, message=_l("Between 5 and 150 characters.")),
        ],
    )
    sequence = HiddenField(validators=[DataRequired()])


class ReversalForm(FlaskForm):
    reason = StringField(
        _l("Reason for the correction"),
        validators=[
            DataRequired(message=_l("Say why the amount is corrected.")),
            Length(min=5, max=150, message=_l("Between 5 and 150 characters.")),
        ],
    )


def first_error(form: FlaskForm) -> str | None:
    for field in form:
        if isinstance(field, Field) and field.errors:
            return str(field.errors[0])
    return None
