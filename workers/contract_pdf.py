"""A contract's documents as PDFs: the summary in Spanish (parties, car, weekly rent,
deposit, term, weeks to ownership, total cost, how to pay) and, at completion, the
letter that says the car passes to the driver. WeasyPrint, like the statements."""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy.orm import Session
from weasyprint import CSS, HTML

from portal.config import ROOT
from portal.db import utcnow
from portal.models import Contract, Vehicle
from portal.services import payments
from portal.services.contracts import reads
from portal.services.identifiers import BANK_CODES

STYLESHEET = ROOT / "templates" / "contracts" / "pdf.css"
TEMPLATES = {"summary": "contracts/summary_pdf.html", "letter": "contracts/letter_pdf.html"}
LOCALE = "es_MX"  # contract documents are in Spanish whatever the reader's setting


def contract_context(session: Session, contract: Contract) -> dict[str, Any]:
    vehicle = session.get(Vehicle, contract.leased_vehicle_id)
    paid = reads.weeks_paid(session, contract)
    clabe = payments.get_driver_clabe(session, contract.driver_id)
    config = current_app.config
    return {
        "contract": contract,
        "driver": contract.driver,
        "vehicle": vehicle,
        "weeks_paid": paid,
        "weeks_to_ownership": reads.weeks_to_ownership(contract, paid),
        "total_cents": reads.total_cost_cents(contract),
        "clabe": clabe,
        "bank_name": BANK_CODES.get(clabe[:3], "SPEI") if clabe else None,
        "generated_at": utcnow(),
        "company": {
            "name": config["COMPANY_NAME"],
            "rfc": config["COMPANY_RFC"],
            "address": config["COMPANY_ADDRESS"],
            "demo": config.get("DEMO_MODE", False),
        },
    }


def render_contract_pdf(session: Session, contract: Contract, kind: str) -> bytes:
    with force_locale(LOCALE):
        html = render_template(TEMPLATES[kind], **contract_context(session, contract))
    pdf: bytes = HTML(string=html, base_url=str(ROOT)).write_pdf(
        stylesheets=[CSS(filename=str(STYLESHEET))]
    )
    return pdf
