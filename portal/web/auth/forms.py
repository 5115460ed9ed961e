from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from portal.services.accounts import MIN_PASSWORD_LENGTH


class LoginForm(FlaskForm):
    identifier = StringField(
        _l("Mobile number or e-mail"),
        validators=[DataRequired(message=_l("Write your mobile number or e-mail."))],
        render_kw={"autocomplete": "username", "autocapitalize": "none"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(message=_l("Write your password."))],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class PasswordChangeForm(FlaskForm):
    current = PasswordField(
        _l("Current password"),
        validators=[DataRequired(message=_l("Write your current password."))],
        render_kw={"autocomplete": "current-password"},
    )
    new = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(message=_l("Write a new password.")),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=200,
                message=_l("The new password needs at least %(min)d characters."),
            ),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[EqualTo("new", message=_l("The two passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )


class LanguageForm(FlaskForm):
    locale = SelectField(choices=[SelectChoice("es_MX", "Español"), SelectChoice("en", "English")])
    next = HiddenField()
