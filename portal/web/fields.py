"""Form fields the records' forms share: money in pesos kept as centavos, and a decimal
written the Mexican way ("1,699.50" or "1.6995")."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from wtforms import StringField


def _decimal(raw: str) -> Decimal | None:
    try:
        value = Decimal(re.sub(r"[\s$,]", "", raw))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


class MoneyField(StringField):
    """An amount in pesos as people write it ("3,500", "$7 000.00"), kept in centavos."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        raw = valuelist[0].strip() if valuelist else ""
        if not raw:
            return
        pesos = _decimal(raw)
        if pesos is None or pesos < 0 or pesos != pesos.quantize(Decimal("0.01")):
            raise ValueError(_("Write an amount in pesos, like 3,500.00."))
        if pesos >= 10_000_000:
            raise ValueError(_("Write an amount in pesos, like 3,500.00."))
        self.data = int(pesos * 100)

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return "" if self.data is None else f"{Decimal(self.data) / 100:.2f}"


class PlainDecimalField(StringField):
    """A number with decimals, zero or more (a price per kWh, a power in kW)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        raw = valuelist[0].strip() if valuelist else ""
        if not raw:
            return
        value = _decimal(raw)
        if value is None or value < 0:
            raise ValueError(_("Write a number, zero or more."))
        self.data = value

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return "" if self.data is None else str(self.data)
