from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.models import VehicleStatus

STATUS_LABELS = {
    VehicleStatus.AVAILABLE: _l("Available"),
    VehicleStatus.LEASED: _l("Leased"),
    VehicleStatus.IN_REPAIR: _l("In repair"),
    VehicleStatus.OUT_OF_SERVICE: _l("Out of service"),
    VehicleStatus.RETIRED: _l("Retired"),
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


class ReversalForm(FlaskForm):
    """A manager reverses one ledger movement, saying why."""

    entry_id = IntegerField(validators=[DataRequired()])
    reason = StringField(
        _l("Reason for the reversal"),
        validators=[DataRequired(_l("Say why the movement is reversed.")), Length(min=5, max=200)],
    )
