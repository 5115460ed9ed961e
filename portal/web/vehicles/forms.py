from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.models import ConnectorType
from portal.web.fields import PlainDecimalField

CONNECTORS = [
    SelectChoice(ConnectorType.CCS2.value, "CCS2"),
    SelectChoice(ConnectorType.GBT.value, "GB/T"),
]


class VehicleForm(FlaskForm):
    vin = StringField(
        _l("VIN"),
        validators=[DataRequired(message=_l("Write the VIN.")), Length(max=20)],
        render_kw={"autocapitalize": "characters", "autocomplete": "off", "spellcheck": "false"},
    )
    plate = StringField(
        _l("Plate"),
        validators=[DataRequired(message=_l("Write the plate.")), Length(max=12)],
        render_kw={"autocapitalize": "characters", "autocomplete": "off"},
    )
    model_id = SelectField(
        _l("Model"),
        coerce=int,
        validators=[DataRequired(message=_l("Choose a model from the catalogue."))],
    )
    year = IntegerField(
        _l("Model year"), validators=[InputRequired(message=_l("Write the model year."))]
    )
    color = StringField(_l("Color"), validators=[Optional(), Length(max=30)])
    tracker_imei = StringField(
        _l("Tracker IMEI"),
        validators=[Optional(), Length(max=20)],
        render_kw={"inputmode": "numeric"},
    )
    depot_id = SelectField(
        _l("Depot"), coerce=int, validators=[DataRequired(message=_l("Choose a depot."))]
    )


class StatusForm(FlaskForm):
    status = SelectField(
        _l("New status"), validators=[DataRequired(message=_l("Choose the new status."))]
    )
    reason = StringField(
        _l("Why"),
        validators=[DataRequired(message=_l("Say why the car's status changes.")), Length(max=300)],
    )


class DeleteForm(FlaskForm):
    pass


class ModelForm(FlaskForm):
    make = StringField(
        _l("Make"), validators=[DataRequired(message=_l("Write the make.")), Length(max=40)]
    )
    model = StringField(
        _l("Model"), validators=[DataRequired(message=_l("Write the model.")), Length(max=60)]
    )
    battery_kwh = PlainDecimalField(
        _l("Battery (kWh)"),
        validators=[InputRequired(message=_l("Write the battery's capacity in kWh."))],
    )
    range_km = IntegerField(
        _l("Range (km)"),
        validators=[
            InputRequired(message=_l("Write the range in km (10 to 2,000).")),
            NumberRange(min=10, max=2000, message=_l("Write the range in km (10 to 2,000).")),
        ],
    )
    connector_type = SelectField(_l("Connector"), choices=CONNECTORS)
    max_ac_kw = PlainDecimalField(_l("Max. AC (kW)"), validators=[Optional()])
    max_dc_kw = PlainDecimalField(_l("Max. DC (kW)"), validators=[Optional()])
