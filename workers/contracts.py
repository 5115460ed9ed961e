"""Contract documents, rendered on the `statements` queue with the other PDFs."""

from __future__ import annotations

from flask import current_app

from portal.db import Session
from portal.services import storage
from portal.services.contracts import documents, reads

from .jobs import job


@job("statements")
def render_contract_pdf_job(contract_id: int, kind: str = "summary") -> str:
    """Render the contract's summary (or its completion letter), store it by checksum,
    remember it on the contract. Rendering again replaces it (the terms may have moved
    from a draft to the signed contract)."""
    from .contract_pdf import render_contract_pdf

    session = Session()
    contract = reads.get_contract(session, contract_id)
    pdf = render_contract_pdf(session, contract, kind)
    sha256 = storage.put_blob(current_app.config["CONTRACT_STORAGE"], pdf)
    documents.record_document(session, contract_id, kind, sha256)
    return sha256
