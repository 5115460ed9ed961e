from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from portal.models import TariffKind
from portal.web.fields import MoneyField, PlainDecimalField

#: Mexico's time zones (a depot's local day and CFE's hours follow it).
TIMEZONES = [
    SelectChoice("America/Mexico_City", _l("Central (Mexico City)")),
    SelectChoice("America/Monterrey", _l("Central (Monterrey)")),
    SelectChoice("America/Merida", _l("Central (Mérida)")),
    SelectChoice("America/Cancun", _l("Southeast (Cancún)")),
    SelectChoice("America/Chihuahua", _l("Mountain (Chihuahua)")),
    SelectChoice("America/Mazatlan", _l("Pacific (Mazatlán)")),
    SelectChoice("America/Hermosillo", _l("Sonora (Hermosillo)")),
    SelectChoice("America/Tijuana", _l("Northwest (Tijuana)")),
]
TARIFF_CHOICES = [
    SelectChoice(TariffKind.GDMTH.value, _l("GDMTH (time of use, 100 kW or more)")),
    SelectChoice(TariffKind.GDMTO.value, _l("GDMTO (one price all day)")),
]
NEEDED = _l("Write a number, zero or more.")


class DepotForm(FlaskForm):
    code = StringField(
        _l("Code"), validators=[DataRequired(message=_l("Write the depot's code.")), Length(max=10)]
    )
    name = StringField(
        _l("Name"),
        validators=[DataRequired(message=_l("Write the depot's name.")), Length(max=100)],
    )
    address = StringField(
        _l("Address"),
        validators=[DataRequired(message=_l("Write the depot's address.")), Length(max=300)],
    )
    timezone = SelectField(_l("Time zone"), choices=TIMEZONES)
    site_power_kw = PlainDecimalField(
        _l("Site power limit (kW)"),
        validators=[InputRequired(message=NEEDED)],
        render_kw={"inputmode": "decimal"},
    )


class TariffForm(FlaskForm):
    kind = SelectField(_l("CFE tariff"), choices=TARIFF_CHOICES)
    effective_from = DateField(
        _l("In effect from"), validators=[InputRequired(message=_l("Choose the date."))]
    )
    energy_base = PlainDecimalField(_l("Energy, base (MXN/kWh)"), validators=[Optional()])
    energy_intermedia = PlainDecimalField(
        _l("Energy, intermedia (MXN/kWh)"), validators=[Optional()]
    )
    energy_punta = PlainDecimalField(_l("Energy, punta (MXN/kWh)"), validators=[Optional()])
    energy_unica = PlainDecimalField(
        _l("Energy, all day (GDMTO, MXN/kWh)"), validators=[Optional()]
    )
    capacity_mxn_per_kw = PlainDecimalField(
        _l("Capacity (MXN/kW-month)"), validators=[InputRequired(message=NEEDED)]
    )
    distribution_mxn_per_kw = PlainDecimalField(
        _l("Distribution (MXN/kW-month)"), validators=[InputRequired(message=NEEDED)]
    )
    fixed_mxn_per_month = PlainDecimalField(
        _l("Fixed charge (MXN/month)"), validators=[InputRequired(message=NEEDED)]
    )
    transmission_mxn_per_kwh = PlainDecimalField(
        _l("Transmission (MXN/kWh)"), validators=[Optional()]
    )


class NewDepotForm(DepotForm, TariffForm):
    """A depot and its first tariff, on one form."""


class EnergyPriceForm(FlaskForm):
    valid_from = DateField(_l("From"), validators=[InputRequired(message=_l("Choose the date."))])
    price = MoneyField(
        _l("Price a driver pays per kWh"),
        validators=[InputRequired(message=_l("Write the price per kWh."))],
        render_kw={"inputmode": "decimal"},
    )


class RetireForm(FlaskForm):
    pass
