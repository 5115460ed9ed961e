from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectChoice, StringField

from portal.models import PaymentMethod, PaymentStatus

PAYMENT_STATUS_LABELS = {
    PaymentStatus.PENDING: _l("Pending"),
    PaymentStatus.PAID: _l("Paid"),
    PaymentStatus.EXPIRED: _l("Expired"),
    PaymentStatus.CANCELED: _l("Canceled"),
    PaymentStatus.FAILED: _l("Failed"),
    PaymentStatus.REFUNDED: _l("Refunded"),
}
PAYMENT_METHOD_LABELS = {
    PaymentMethod.OXXO: _l("Cash at OXXO"),
    PaymentMethod.SPEI: _l("SPEI transfer"),
    PaymentMethod.CARD: _l("Card"),
    PaymentMethod.CASH: _l("Cash at the depot"),
}


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
