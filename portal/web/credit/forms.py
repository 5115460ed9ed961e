"""Forms of the credit desk."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional

from portal.models import Platform
from portal.services.credit.applications import VEHICLES, ApplicantData
from portal.services.credit.earnings import ProfileData
from portal.web.labels import CREDIT_STATUS_LABELS, OUTCOME_LABELS, PLATFORM_LABELS


class QueueFilterForm(FlaskForm):
    class Meta:
        csrf = False

    status = SelectField(
        _l("Status"),
        choices=[SelectChoice("", _l("All"))]
        + [SelectChoice(s.value, label) for s, label in CREDIT_STATUS_LABELS.items()],
        validators=[Optional()],
    )
    q = StringField(
        _l("Name, CURP or phone"),
        validators=[Optional(), Length(max=60, message=_l("Write at most 60 characters."))],
        render_kw={"inputmode": "search"},
    )


class NumberField(StringField):
    """A number typed by a person: ``4.9``, ``91 %``, ``$1,200``; Spanish parse errors."""

    integer = False

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = None
        text = (valuelist[0] if valuelist else "").strip()
        self.raw_text = text
        if not text:
            return
        cleaned = text.replace(",", "").replace("$", "").replace("%", "").strip()
        try:
            number = Decimal(cleaned)
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite() or (self.integer and number != number.to_integral_value()):
            raise ValueError(_l("Write a whole number.") if self.integer else _l("Write a number."))
        self.data = int(number) if self.integer else number

    def _value(self) -> str:
        return getattr(self, "raw_text", None) or ("" if self.data is None else str(self.data))


class WholeNumberField(NumberField):
    integer = True


class DayField(DateField):
    """A date input whose parse error is in the catalogue."""

    def process_formdata(self, valuelist: list[str]) -> None:
        text = (valuelist[0] if valuelist else "").strip()
        self.data = None
        if not text:
            return
        try:
            self.data = date.fromisoformat(text)
        except ValueError:
            raise ValueError(_l("Write a date as YYYY-MM-DD.")) from None


REQUIRED = _l("This field is required.")


class ApplicationForm(FlaskForm):
    first_name = StringField(
        _l("First name(s)"), validators=[DataRequired(REQUIRED), Length(max=100)]
    )
    last_name = StringField(_l("Last name"), validators=[DataRequired(REQUIRED), Length(max=100)])
    second_last_name = StringField(_l("Second last name"), validators=[Optional(), Length(max=100)])
    curp = StringField(
        _l("CURP"),
        validators=[
            DataRequired(REQUIRED),
            Length(min=18, max=18, message=_l("A CURP has 18 characters.")),
        ],
        render_kw={"autocapitalize": "characters", "autocomplete": "off"},
    )
    rfc = StringField(
        _l("RFC"),
        validators=[
            Optional(),
            Length(min=12, max=13, message=_l("An RFC has 12 or 13 characters.")),
        ],
        render_kw={"autocapitalize": "characters", "autocomplete": "off"},
    )
    phone = StringField(
        _l("Mobile phone"), validators=[DataRequired(REQUIRED)], render_kw={"inputmode": "tel"}
    )
    email = StringField(
        _l("E-mail"),
        validators=[Optional(), Email(_l("Write a valid e-mail address.")), Length(max=254)],
        render_kw={"inputmode": "email"},
    )
    licence_number = StringField(
        _l("Driving licence number"), validators=[Optional(), Length(max=30)]
    )
    licence_expires_on = DayField(_l("Licence expires on"), validators=[Optional()])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=300)])
    requested_vehicle = SelectField(
        _l("Requested vehicle"), choices=[SelectChoice(v, v) for v in VEHICLES]
    )
    consent = BooleanField(
        _l("The applicant read the privacy notice and authorizes the checks described in it.")
    )


class _ProfileFields:
    """The fields of a platform profile typed by hand (mixed into a form class)."""

    platform = SelectField(
        _l("Platform"),
        choices=[SelectChoice(p.value, PLATFORM_LABELS[p.value]) for p in Platform],
    )
    rating = NumberField(
        _l("Rating (1 to 5)"), render_kw={"inputmode": "decimal", "placeholder": "4.9"}
    )
    acceptance_pct = NumberField(
        _l("Acceptance rate (%)"), render_kw={"inputmode": "decimal", "placeholder": "90"}
    )
    cancellation_pct = NumberField(
        _l("Cancellation rate (%)"), render_kw={"inputmode": "decimal", "placeholder": "3"}
    )
    lifetime_trips = WholeNumberField(
        _l("Trips in total"), render_kw={"inputmode": "numeric", "placeholder": "2500"}
    )
    first_trip_on = DayField(_l("Date of the first trip"))
    debt_pending = NumberField(
        _l("Debt pending with the platform (pesos)"),
        render_kw={"inputmode": "decimal", "placeholder": "0"},
    )


class ProfileForm(FlaskForm, _ProfileFields):
    """A platform profile typed by staff (no aggregator export)."""


class ProfileEntry(Form, _ProfileFields):
    """One optional profile on the public form (inside a FieldList; no CSRF of its own)."""

    platform = SelectField(
        _l("Platform"),
        choices=[SelectChoice("", _l("None"))]
        + [SelectChoice(p.value, PLATFORM_LABELS[p.value]) for p in Platform],
        validators=[Optional()],
    )

    @property
    def filled(self) -> bool:
        return bool(self.platform.data)


class SelfServiceForm(ApplicationForm):
    """The applicant's own application on /solicitud (no staff consent checkbox: the
    applicant gives consent and accepts the notice themselves)."""

    consent = BooleanField(
        _l("I authorize LAFA to check my identity, my background and my platform earnings.")
    )
    privacy = BooleanField(_l("I have read and accept the privacy notice."))
    file = FileField(_l("Export of my platforms (JSON or CSV), if I have it"))
    profiles = FieldList(FormField(ProfileEntry), min_entries=2, max_entries=2)


class EarningsImportForm(FlaskForm):
    file = FileField(_l("Aggregator export (JSON or CSV)"))


class DecisionForm(FlaskForm):
    outcome = SelectField(
        _l("Decision"),
        choices=[SelectChoice(o.value, label) for o, label in OUTCOME_LABELS.items()],
    )
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=1000)])


class CutoffsForm(FlaskForm):
    approve_at = IntegerField(
        _l("Approve at or above (points)"),
        validators=[
            DataRequired(REQUIRED),
            NumberRange(300, 900, _l("Between 300 and 900 points.")),
        ],
    )
    decline_below = IntegerField(
        _l("Decline below (points)"),
        validators=[
            DataRequired(REQUIRED),
            NumberRange(300, 900, _l("Between 300 and 900 points.")),
        ],
    )
    reason = StringField(
        _l("Why the change"), validators=[DataRequired(REQUIRED), Length(min=5, max=300)]
    )


class ActivateForm(FlaskForm):
    pass


def applicant_data(form: ApplicationForm) -> ApplicantData:
    return ApplicantData(
        first_name=form.first_name.data or "",
        last_name=form.last_name.data or "",
        second_last_name=form.second_last_name.data,
        curp=form.curp.data or "",
        rfc=form.rfc.data,
        phone=form.phone.data or "",
        email=form.email.data,
        licence_number=form.licence_number.data,
        licence_expires_on=form.licence_expires_on.data,
        address=form.address.data,
        requested_vehicle=form.requested_vehicle.data or "",
    )


def profile_data(form: ProfileForm | ProfileEntry) -> ProfileData:
    return ProfileData(
        platform=form.platform.data or "",
        rating=form.rating.data,
        acceptance_pct=form.acceptance_pct.data,
        cancellation_pct=form.cancellation_pct.data,
        lifetime_trips=form.lifetime_trips.data,
        first_trip_on=form.first_trip_on.data,
        debt_pending=form.debt_pending.data,
    )
