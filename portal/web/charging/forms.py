"""Charging's forms: the driver's slot filter, booking and start; the staff's depot
and command forms; the admin's charger and card forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional

from portal.models import CommandAction, ConnectorType, OcppVersion
from portal.services.charging.driver import TARGET_CHOICES

# -- the driver --------------------------------------------------------------------


class SlotFilterForm(FlaskForm):
    """Which depot and day to show slots for; a GET form, so no CSRF token."""

    class Meta:
        csrf = False

    depot = SelectField(_l("Depot"), coerce=int, validators=[DataRequired()])
    day = RadioField(_l("Day"), validators=[DataRequired(message=_l("Choose a day."))])


class TargetForm(FlaskForm):
    """How full the driver wants their car when the depot plans its charging."""

    target = RadioField(
        _l("Charge my car to"),
        coerce=int,
        choices=[SelectChoice(pct, f"{pct} %") for pct in TARGET_CHOICES],
        validators=[
            InputRequired(message=_l("Choose how full you want your car.")),
            AnyOf(TARGET_CHOICES, message=_l("Choose how full you want your car.")),
        ],
        validate_choice=False,  # AnyOf says it in our words
    )


class BookForm(FlaskForm):
    depot = IntegerField(validators=[InputRequired()])
    start = HiddenField(validators=[DataRequired()])


class ConfirmForm(FlaskForm):
    """Only the CSRF token: the record is in the URL."""


class ApprovalForm(FlaskForm):
    """Approve (placing the charger in a depot) or refuse a charger."""

    depot = SelectField(_l("Depot"), coerce=int, validators=[Optional()], validate_choice=False)


class ReviewForm(FlaskForm):
    """A session waiting for review: bill it (held ones) or only mark it reviewed."""

    decision = HiddenField(validators=[AnyOf(["bill", "dismiss"])])


class StartForm(FlaskForm):
    depot = IntegerField(validators=[InputRequired()])


# -- the staff -----------------------------------------------------------------------

BOARD_ACTIONS = {
    CommandAction.REMOTE_START: _l("Start charging"),
    CommandAction.REMOTE_STOP: _l("Stop charging"),
    CommandAction.UNLOCK_CONNECTOR: _l("Unlock the connector"),
}


class DepotForm(FlaskForm):
    class Meta:
        csrf = False

    depot = SelectField(_l("Depot"), coerce=int, validators=[Optional()])


class BillForm(FlaskForm):
    """Which depot and month the managers' CFE bill is for; a GET form, no CSRF token.
    `month` is "YYYY-MM", one of the last twelve."""

    class Meta:
        csrf = False

    depot = SelectField(_l("Depot"), coerce=int, validators=[InputRequired()])
    month = SelectField(_l("Month"), validators=[InputRequired()])


class CommandForm(FlaskForm):
    action = HiddenField(
        validators=[
            DataRequired(),
            AnyOf([a.value for a in BOARD_ACTIONS], message=_l("Unknown command.")),
        ]
    )
    evse_id = IntegerField(validators=[Optional()])
    session_id = IntegerField(validators=[Optional()])
    id_tag = StringField(
        _l("Driver's card (id tag)"),
        validators=[Optional()],
        render_kw={"autocapitalize": "characters", "autocomplete": "off"},
    )


# -- the admin -----------------------------------------------------------------------

CONNECTOR_CHOICES = [
    SelectChoice("", _l("None")),
    SelectChoice(ConnectorType.CCS2.value, "CCS2"),
    SelectChoice(ConnectorType.GBT.value, "GB/T"),
]


class ConnectorForm(Form):
    """One EVSE of the charger (numbered in order); a row without a type is skipped."""

    connector_type = SelectField(_l("Type"), choices=CONNECTOR_CHOICES, validators=[Optional()])
    max_kw = StringField(_l("Max. kW"), validators=[Optional(), Length(max=8)])


class ChargerForm(FlaskForm):
    identity = StringField(
        _l("OCPP identity"),
        validators=[DataRequired(message=_l("Write the charger's identity.")), Length(max=48)],
        render_kw={"autocomplete": "off", "autocapitalize": "none"},
    )
    name = StringField(_l("Name"), validators=[Optional(), Length(max=100)])
    depot = SelectField(_l("Depot"), coerce=int, validators=[DataRequired()])
    ocpp_version = SelectField(
        _l("OCPP version"),
        choices=[
            SelectChoice(OcppVersion.V16.value, "1.6J"),
            SelectChoice(OcppVersion.V201.value, "2.0.1"),
        ],
    )
    connectors = FieldList(FormField(ConnectorForm), min_entries=4, max_entries=4)


class TagForm(FlaskForm):
    driver = StringField(
        _l("Driver (mobile number or CURP)"),
        validators=[DataRequired(message=_l("Write the driver's mobile number or CURP."))],
    )
    tag = StringField(
        _l("Card (id tag)"),
        validators=[DataRequired(message=_l("Write the card's id tag."))],
        render_kw={"autocapitalize": "characters", "autocomplete": "off"},
    )


# -- managers ----------------------------------------------------------------------


class PlanningSwitchForm(FlaskForm):
    """A depot's smart charging on or off."""

    enabled = HiddenField(validators=[AnyOf(["on", "off"])])
