"""The dashboard's filters: a GET form, so no CSRF token."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, SelectField
from wtforms.validators import Optional

MAX_DAYS = 366

PERIOD_CHOICES = [
    SelectChoice("week", _l("This week")),
    SelectChoice("month", _l("This month")),
    SelectChoice("custom", _l("Custom dates")),
]


class DashboardFilterForm(FlaskForm):
    class Meta:
        csrf = False

    period = SelectField(_l("Period"), choices=PERIOD_CHOICES, default="week")
    start = DateField(
        _l("From"), validators=[Optional()], invalid_value_message=_l("Enter a valid date.")
    )
    end = DateField(
        _l("To"), validators=[Optional()], invalid_value_message=_l("Enter a valid date.")
    )
    depot = SelectField(_l("Depot"), coerce=int, validators=[Optional()])

    def validate(self, extra_validators: Any = None) -> bool:
        if not super().validate(extra_validators):
            return False
        if self.period.data != "custom":
            return True
        start, end = self.start.data, self.end.data
        if start is None:
            self.start.errors = [_l("Choose the first day of the period.")]
        if end is None:
            self.end.errors = [_l("Choose the last day of the period.")]
        elif start is not None and end < start:
            self.end.errors = [_l("The last day must not be before the first.")]
        elif start is not None and (end - start).days >= MAX_DAYS:
            self.end.errors = [_l("A period is at most %(days)d days.", days=MAX_DAYS)]
        return not (self.start.errors or self.end.errors)
