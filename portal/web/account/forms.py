"""The collections list's filters, cash received at the depot, a manager's reversal."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

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
