"""The file and its fields: the columns of each kind, the rows of a CSV file, and the
values a cell holds (whole numbers, pesos, dates, a phone).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal

from portal.services import N_, DomainError, FieldError
from portal.services.drivers import clean_phone
from portal.services.fleet_import.report import refuse

KINDS = ("vehicles", "drivers", "contracts")
COLUMNS = {
    "vehicles": (
        "vin",
        "plate",
        "make",
        "model",
        "year",
        "battery_kwh",
        "connector",
        "tracker_imei",
        "depot_code",
        "status",
    ),
    "drivers": (
        "phone",
        "first_name",
        "last_name",
        "curp",
        "rfc",
        "email",
        "license_number",
        "license_expires",
    ),
    "contracts": (
        "driver_phone",
        "vin",
        "start_date",
        "weekly_rent_mxn",
        "deposit_mxn",
        "term_weeks",
        "weeks_paid",
        "opening_balance_mxn",
    ),
}
MIN_YEAR = 2010
MONEY_RE = re.compile(r"^-?\d{1,9}(\.\d{1,2})?$")


def read_rows(text: str, kind: str) -> list[tuple[int, dict[str, str]]]:
    """The file's rows as (line, {column: stripped value}); a missing column refuses it."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS[kind] if c not in header]
    if missing:
        raise DomainError(
            N_("The file's header lacks these columns: %(columns)s."), columns=", ".join(missing)
        )
    reader.fieldnames = header
    rows = []
    for row in reader:
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue  # a blank line
        values = {c: (row.get(c) or "").strip() for c in COLUMNS[kind]}
        rows.append((reader.line_num, values))
    return rows


def whole_number(column: str, raw: str, low: int, high: int) -> int:
    if not raw.lstrip("-").isdigit() or not low <= int(raw) <= high:
        raise refuse(
            column, N_("Write a whole number from %(low)d to %(high)d."), low=low, high=high
        )
    return int(raw)


def cents(column: str, raw: str, *, negative: bool = False) -> int:
    raw = raw.replace(",", "")
    if not MONEY_RE.match(raw) or (raw.startswith("-") and not negative):
        raise refuse(column, N_("Write an amount in pesos, such as 3500 or 3500.50."))
    return int(Decimal(raw) * 100)


def iso_date(column: str, raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise refuse(column, N_("Write the date as YYYY-MM-DD.")) from None


def phone_or_none(raw: str) -> str | None:
    try:
        return clean_phone(raw)
    except FieldError:
        return None
