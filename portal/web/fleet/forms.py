"""The fleet list's and the board's filters, a vehicle page's period."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import Length, NumberRange, Optional

from portal.web.labels import VEHICLE_STATUS_LABELS


class FleetFilterForm(FlaskForm):
    """The fleet list's filters; a GET form, so no CSRF token."""

    class Meta:
        csrf = False

    depot = SelectField(_l("Depot"), coerce=int, validators=[Optional()])
    status = SelectField(
        _l("Status"),
        choices=[SelectChoice("", _l("All"))]
        + [SelectChoice(s.value, label) for s, label in VEHICLE_STATUS_LABELS.items()],
        validators=[Optional()],
    )
    plate = StringField(
        _l("Plate"),
        validators=[Optional(), Length(max=10, message=_l("A plate has at most 10 characters."))],
        render_kw={"autocapitalize": "characters", "inputmode": "search"},
    )
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=100000)], default=1)


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
