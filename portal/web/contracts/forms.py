from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    MultipleFileField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.models import ContractStatus
from portal.services.contracts.signing import Terms
from portal.web.fields import MoneyField

STATUS_LABELS = {
    ContractStatus.DRAFT: _l("Proposed"),
    ContractStatus.SIGNED: _l("Signed, waiting for the handover"),
    ContractStatus.ACTIVE: _l("Active"),
    ContractStatus.SUSPENDED: _l("Suspended"),
    ContractStatus.COMPLETED: _l("Completed"),
    ContractStatus.TERMINATED: _l("Terminated"),
    ContractStatus.CANCELLED: _l("Cancelled"),
}
STATUS_CHOICES = [SelectChoice("", _l("All"))] + [
    SelectChoice(s.value, label) for s, label in STATUS_LABELS.items()
]


class ContractForm(FlaskForm):
    vehicle_id = SelectField(
        _l("Car"), coerce=int, validators=[DataRequired(message=_l("Choose an available car."))]
    )
    weekly_rent = MoneyField(
        _l("Weekly rent"),
        validators=[InputRequired(message=_l("The weekly rent is an amount above zero."))],
        render_kw={"inputmode": "decimal"},
    )
    deposit = MoneyField(
        _l("Security deposit"),
        validators=[InputRequired(message=_l("The deposit is an amount of zero or more."))],
        render_kw={"inputmode": "decimal"},
    )
    term_weeks = IntegerField(
        _l("Term (weeks)"),
        validators=[InputRequired(message=_l("Write the term in weeks."))],
        render_kw={"inputmode": "numeric"},
    )
    starts_on = DateField(
        _l("Start date"), validators=[InputRequired(message=_l("Choose the date."))]
    )
    late_fee = MoneyField(
        _l("Late fee per week"), validators=[Optional()], render_kw={"inputmode": "decimal"}
    )
    grace_days = IntegerField(
        _l("Grace days"), validators=[Optional()], render_kw={"inputmode": "numeric"}
    )

    @classmethod
    def for_proposal(cls, proposal: Terms | None, today: date) -> ContractForm:
        """The form as posted, or (first visit) filled with the terms the credit decision
        proposed and the usual late fee and grace days."""
        form = cls()
        if form.is_submitted():
            return form
        return cls(
            starts_on=today,
            weekly_rent=proposal.weekly_rent_cents if proposal else None,
            deposit=proposal.deposit_cents if proposal else None,
            term_weeks=proposal.term_weeks if proposal else None,
            late_fee=25_000,
            grace_days=2,
        )

    def terms(self) -> Terms:
        """The terms the form states (an empty late fee or grace days: the usual ones)."""
        return Terms(
            weekly_rent_cents=self.weekly_rent.data or 0,
            deposit_cents=self.deposit.data or 0,
            term_weeks=self.term_weeks.data or 0,
            starts_on=self.starts_on.data,
            late_fee_cents=self.late_fee.data if self.late_fee.data is not None else 25_000,
            grace_days=self.grace_days.data if self.grace_days.data is not None else 2,
        )


class ChecklistForm(FlaskForm):
    odometer_km = IntegerField(
        _l("Odometer (km)"),
        validators=[
            InputRequired(message=_l("Write the odometer in km.")),
            NumberRange(min=0, message=_l("Write the odometer in km.")),
        ],
        render_kw={"inputmode": "numeric"},
    )
    soc_pct = IntegerField(
        _l("Charge (%)"),
        validators=[
            InputRequired(message=_l("The charge is a percentage, 0 to 100.")),
            NumberRange(min=0, max=100, message=_l("The charge is a percentage, 0 to 100.")),
        ],
        render_kw={"inputmode": "numeric"},
    )
    damage_notes = TextAreaField(_l("Damage seen"), validators=[Optional(), Length(max=2000)])
    photos = MultipleFileField(
        _l("Photos"),
        render_kw={"accept": "image/jpeg,image/png,image/webp", "capture": "environment"},
    )


class HandoverForm(ChecklistForm):
    charging_card = StringField(
        _l("Charging card given (id tag)"),
        validators=[Optional(), Length(max=20)],
        render_kw={"autocapitalize": "characters", "autocomplete": "off"},
    )


class ReturnForm(ChecklistForm):
    damage = MoneyField(
        _l("Damage the driver pays"), validators=[Optional()], render_kw={"inputmode": "decimal"}
    )
    reason = StringField(
        _l("Why the contract ends"),
        validators=[DataRequired(message=_l("Say why, in a few words.")), Length(max=300)],
    )


class SwapForm(FlaskForm):
    vehicle_id = SelectField(
        _l("Replacement car"),
        coerce=int,
        validators=[DataRequired(message=_l("Choose an available car."))],
    )
    reason = StringField(
        _l("Why"),
        validators=[DataRequired(message=_l("Say why, in a few words.")), Length(max=300)],
    )


class ReasonForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=300)])


class ConfirmForm(FlaskForm):
    pass


class FilterForm(FlaskForm):
    class Meta:
        csrf = False

    status = SelectField(_l("Status"), choices=STATUS_CHOICES, validators=[Optional()])
