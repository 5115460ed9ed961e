from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, EmailField, HiddenField, StringField
from wtforms.validators import DataRequired, Length, Optional


class ContactForm(FlaskForm):
    phone = StringField(
        _l("Mobile number"),
        validators=[DataRequired(message=_l("Write a 10-digit Mexican mobile number."))],
        render_kw={"inputmode": "tel", "autocomplete": "off"},
    )
    email = EmailField(_l("E-mail"), validators=[Optional(), Length(max=254)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=300)])
    postal_code = StringField(
        _l("Postal code"),
        validators=[Optional(), Length(max=5)],
        render_kw={"inputmode": "numeric"},
    )
    licence_number = StringField(_l("Driving licence"), validators=[Optional(), Length(max=30)])
    licence_expires_on = DateField(_l("Licence expires"), validators=[Optional()])


class DriverForm(ContactForm):
    first_name = StringField(
        _l("First name"),
        validators=[DataRequired(message=_l("Write the driver's first name.")), Length(max=100)],
    )
    last_name = StringField(
        _l("Last name"),
        validators=[DataRequired(message=_l("Write the driver's last name.")), Length(max=100)],
    )
    second_last_name = StringField(_l("Second last name"), validators=[Optional(), Length(max=100)])
    curp = StringField(
        _l("CURP"),
        validators=[
            DataRequired(message=_l("The CURP is not valid; check the 18 characters.")),
            Length(max=18),
        ],
        render_kw={"autocapitalize": "characters", "spellcheck": "false"},
    )
    rfc = StringField(
        _l("RFC"),
        validators=[Optional(), Length(max=13)],
        render_kw={"autocapitalize": "characters"},
    )
    privacy_notice = BooleanField(_l("The driver read the privacy notice and agreed to it"))


class ReasonForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=300)])


class AccessForm(FlaskForm):
    # The button sends `confirm`, so an empty POST issues no code.
    confirm = HiddenField(validators=[DataRequired()])
    by_sms = BooleanField(_l("Send it by text message to the driver's phone"))


class SearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Name, mobile number or CURP"), validators=[Optional(), Length(max=100)])
