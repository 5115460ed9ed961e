"""The driver's payment form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectChoice, StringField

from portal.models import PaymentMethod


class PayForm(FlaskForm):
    amount = StringField(
        _l("Amount to pay (pesos)"),
        render_kw={"inputmode": "decimal", "autocomplete": "off", "class": "amount-input"},
    )
    method = RadioField(
        _l("How do you want to pay?"),
        choices=[
            SelectChoice(PaymentMethod.OXXO.value, _l("Cash at OXXO")),
            SelectChoice(PaymentMethod.SPEI.value, _l("SPEI transfer from your bank app")),
        ],
        default=PaymentMethod.OXXO.value,
        validate_choice=False,  # checked by the view, with a Spanish message
    )
    # One key per form shown: a double tap or a retry never creates a second payment.
    request_key = HiddenField()
