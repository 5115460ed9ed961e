"""The collections list as spreadsheet rows (the CSV export)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from flask_babel import lazy_gettext as _l

from portal.i18n import local_date, pesos
from portal.services.collections import CollectionRow

CSV_HEADER = (
    _l("Driver"),
    _l("Phone"),
    _l("Depot"),
    _l("Contract"),
    _l("Amount owed (MXN)"),
    _l("Days late"),
    _l("Oldest unpaid charge"),
    _l("Last payment"),
)


def _day(moment: datetime | None) -> str:
    return local_date(moment, "yyyy-MM-dd") if moment else ""


def collection_rows(rows: Iterable[CollectionRow]) -> Iterator[list[object]]:
    for row in rows:
        yield [
            row.name,
            row.phone,
            row.depot_name or "",
            row.contract_number or "",
            pesos(row.balance_cents),
            row.days_late,
            _day(row.oldest_unpaid_at),
            _day(row.last_payment_at),
        ]
