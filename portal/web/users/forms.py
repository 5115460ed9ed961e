from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from portal.models import Role
from portal.services.accounts import MIN_PASSWORD_LENGTH

ROLE_LABELS = {
    Role.DRIVER: _l("Driver"),
    Role.STAFF: _l("Depot staff"),
    Role.MANAGER: _l("Manager"),
    Role.ADMIN: _l("Administrator"),
}
STAFF_ROLE_CHOICES = [
    SelectChoice(r.value, ROLE_LABELS[r]) for r in (Role.STAFF, Role.MANAGER, Role.ADMIN)
]


class UserForm(FlaskForm):
    full_name = StringField(
        _l("Full name"),
        validators=[DataRequired(message=_l("Write the person's full name.")), Length(max=200)],
    )
    email = EmailField(
        _l("E-mail"),
        validators=[DataRequired(message=_l("Write a valid e-mail address.")), Length(max=254)],
        render_kw={"autocomplete": "off", "autocapitalize": "none"},
    )
    role = SelectField(_l("Role"), choices=STAFF_ROLE_CHOICES)


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=STAFF_ROLE_CHOICES)


class ReasonForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=300)])


class CodeForm(FlaskForm):
    """Issue a reset code: the button sends `confirm`, so an empty POST issues nothing."""

    confirm = HiddenField(validators=[DataRequired()])


class ForgotForm(FlaskForm):
    phone = StringField(
        _l("Mobile number"),
        validators=[DataRequired(message=_l("Write your mobile number."))],
        render_kw={"autocomplete": "tel", "inputmode": "tel"},
    )


def _new_password(label: object) -> PasswordField:
    return PasswordField(
        label,
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


class CodeResetForm(FlaskForm):
    identifier = StringField(
        _l("Mobile number or e-mail"),
        validators=[DataRequired(message=_l("Write your mobile number or e-mail."))],
        render_kw={"autocomplete": "username", "autocapitalize": "none"},
    )
    code = StringField(
        _l("6-digit code"),
        validators=[DataRequired(message=_l("Write the 6-digit code.")), Length(max=6)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )
    new = _new_password(_l("New password"))
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[EqualTo("new", message=_l("The two passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )


class LinkResetForm(FlaskForm):
    new = _new_password(_l("New password"))
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[EqualTo("new", message=_l("The two passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )
    token = HiddenField()
