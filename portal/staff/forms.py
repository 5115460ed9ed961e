from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.models import VehicleStatus

STATUS_LABELS = {
    VehicleStatus.IN_PREPARATION: _l("In preparation"),
    VehicleStatus.AVAILABLE: _l("Available"),
    VehicleStatus.LEASED: _l("Leased"),
    VehicleStatus.IN_REPAIR: _l("In repair"),
    VehicleStatus.OUT_OF_SERVICE: _l("Out of service"),
    VehicleStatus.TRANSFERRED: _l("Transferred to the driver"),
    VehicleStatus.SOLD: _l("Sold"),
    VehicleStatus.WRITTEN_OFF: _l("Written off"),
}


class FleetFilterForm(FlaskForm):
    """The fleet list's filters; a GET form, so no CSRF token."""

    class Meta:
        csrf = False

    depot = SelectField(_l("Depot"), coerce=int, validators=[Optional()])
    status = SelectField(
        _l("Status"),
        choices=[SelectChoice("", _l("All"))]
        + [SelectChoice(s.value, label) for s, label in STATUS_LABELS.items()],
        validators=[Optional()],
    )
    plate = StringField(
        _l("Plate"),
        validators=[Optional(), Length(max=10, message=_l("A plate has at most 10 characters."))],
        render_kw={"autocapitalize": "characters", "inputmode": "search"},
    )
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=100000)], default=1)


LATE_CHOICES = [
    SelectChoice(0, _l("Everyone who owes")),
    SelectChoice(1, _l("1 day late or more")),
    SelectChoice(8, _l("8 days late or more")),
    SelectChoice(15, _l("15 days late or more")),
    SelectChoice(31, _l("31 days late or more")),
]
SORT_CHOICES = [
    SelectChoice("days", _l("Most days late")),
    SelectChoice("amount", _l("Largest amount owed")),
    SelectChoice("name", _l("Name")),
]


class CollectionsFilterForm(FlaskForm):
    """The collections list's filters; a GET form, so no CSRF token."""

    class Meta:
        csrf = False

    depot = SelectField(_l("Depot"), coerce=int, validators=[Optional()])
    late = SelectField(_l("Days late"), coerce=int, choices=LATE_CHOICES, validators=[Optional()])
    sort = SelectField(_l("Order"), choices=SORT_CHOICES, validators=[Optional()])
    q = StringField(
        _l("Name or phone"),
        validators=[Optional(), Length(max=60, message=_l("Write at most 60 characters."))],
        render_kw={"inputmode": "search", "autocomplete": "off"},
    )
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=100000)], default=1)


class CashPaymentForm(FlaskForm):
    amount = StringField(
        _l("Amount received (pesos)"), render_kw={"inputmode": "decimal", "autocomplete": "off"}
    )
    receipt_number = StringField(
        _l("Receipt number"),
        render_kw={"autocapitalize": "characters", "autocomplete": "off"},
    )


class ReversalForm(FlaskForm):
    """A manager reverses one ledger movement, saying why."""

    entry_id = IntegerField(validators=[DataRequired()])
    reason = StringField(
        _l("Reason for the reversal"),
        validators=[DataRequired(_l("Say why the movement is reversed.")), Length(min=5, max=200)],
    )


BOARD_FLAG_LABELS = {
    "silent": _l("Silent"),
    "low_soc": _l("Low battery"),
    "charging": _l("Charging"),
    "driving": _l("Driving"),
}
BOARD_SORT_LABELS = {
    "plate": _l("Plate"),
    "soc": _l("Charge, lowest first"),
    "last_seen": _l("Last seen, oldest first"),
}


class BoardFilterForm(FlaskForm):
    """The fleet board's filters and sort; a GET form, so no CSRF token."""

    class Meta:
        csrf = False

    depot = SelectField(_l("Depot"), coerce=int, validators=[Optional()])
    flag = SelectField(
        _l("Show"),
        choices=[SelectChoice("", _l("All vehicles"))]
        + [SelectChoice(k, label) for k, label in BOARD_FLAG_LABELS.items()],
        validators=[Optional()],
    )
    sort = SelectField(
        _l("Sort by"),
        choices=[SelectChoice(k, label) for k, label in BOARD_SORT_LABELS.items()],
        default="plate",
        validators=[Optional()],
    )


class PeriodForm(FlaskForm):
    class Meta:
        csrf = False

    period = SelectField(
        _l("Period"),
        choices=[SelectChoice("24h", _l("24 hours")), SelectChoice("7d", _l("7 days"))],
        default="24h",
        validators=[Optional()],
    )
