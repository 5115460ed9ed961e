"""Locale selection and the formatters every template uses: money, numbers, percents,
dates, times.

es_MX is the default; a user's choice is remembered on their account, and in a
cookie before they log in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.dates import format_timedelta
from babel.numbers import format_currency, format_decimal, format_percent
from flask import Flask, current_app, request
from flask_babel import Babel, get_locale
from flask_login import current_user

from portal import clock

babel = Babel()
LOCALE_COOKIE = "lafa_locale"


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return str(current_user.locale)
    chosen = request.cookies.get(LOCALE_COOKIE)
    if chosen in languages:
        return str(chosen)
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def local_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def pesos(cents: int) -> Decimal:
    """Integer centavos as an exact amount in pesos (for a CSV cell or a chart's scale)."""
    return Decimal(cents).scaleb(-2)


def pesos_input(cents: int | None) -> str:
    """Centavos as a form field shows an amount to edit: `1234.50` (empty for none)."""
    return "" if cents is None else f"{pesos(cents):.2f}"


def money(cents: int | None, currency: str = "MXN") -> str:
    """Integer centavos as the locale writes money: `$1,234.50` in es_MX."""
    if cents is None:
        return ""
    return format_currency(pesos(cents), currency, locale=str(get_locale()))


def unit_price(mxn: float, currency: str = "MXN") -> str:
    """A price per kWh or kW as CFE publishes it, to four decimals: `$1.8000`."""
    return format_currency(
        Decimal(repr(mxn)),
        currency,
        format="¤#,##0.0000",
        currency_digits=False,
        locale=str(get_locale()),
    )


def number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return ""
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=str(get_locale()))


def percent(value: float | None, digits: int = 1) -> str:
    """A figure already in percent (96.4 for 96.4 %), as the locale writes it."""
    if value is None:
        return ""
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    shown = round(value, digits) + 0.0  # never "-0.0%"
    return format_percent(shown / 100, format=pattern, locale=str(get_locale()))


def local_datetime(value: datetime | None, fmt: str = "medium") -> str:
    """A UTC timestamp shown in Mexico City time (or the configured zone)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return babel_format_datetime(value, fmt, tzinfo=local_zone(), locale=str(get_locale()))


def local_date(value: date | datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(local_zone()).date()
    return babel_format_date(value, fmt, locale=str(get_locale()))


def time_ago(value: datetime | None) -> str:
    """ "hace 2 minutos" / "2 minutes ago"."""
    if value is None:
        return ""
    delta = value - clock.now()
    return format_timedelta(delta, add_direction=True, locale=str(get_locale()))


def grouped(value: str | None, size: int = 4) -> str:
    """A long number in groups that are easy to read aloud: 9300 1234 5678 90."""
    text = value or ""
    return " ".join(text[i : i + size] for i in range(0, len(text), size))


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.filters.update(
        money=money,
        number=number,
        percent=percent,
        datetime=local_datetime,
        date=local_date,
        ago=time_ago,
        grouped=grouped,
    )
    app.jinja_env.globals["get_locale"] = get_locale
