"""A statement's template context, the same for the driver's page and the PDF job
(`workers/statement_pdf.py`), so both say the same."""

from __future__ import annotations

from typing import Any

from flask import current_app

from portal.services.statement_view import StatementView
from portal.web.labels import ENTRY_KIND_LABELS


def statement_context(view: StatementView) -> dict[str, Any]:
    config = current_app.config
    return {
        "statement": view.statement,
        "contract": view.contract,
        "vehicle": view.vehicle,
        "driver": view.driver,
        "lines": view.lines,
        "totals": view.totals,
        "clabe": view.clabe,
        "bank_name": view.bank_name,
        "kind_labels": ENTRY_KIND_LABELS,
        "company": {
            "name": config["COMPANY_NAME"],
            "rfc": config["COMPANY_RFC"],
            "address": config["COMPANY_ADDRESS"],
            "demo": config.get("DEMO_MODE", False),
        },
    }
