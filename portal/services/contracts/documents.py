"""What a contract keeps on file: its rendered PDFs and its checklists' photos."""

from __future__ import annotations

from sqlalchemy.orm import Session

from portal.models import Contract
from portal.services.contracts.reads import get_contract

DOCUMENTS = ("summary", "letter")


def record_document(session: Session, contract_id: int, kind: str, sha256: str) -> Contract:
    """Remember a rendered PDF (the contract summary, or the letter at completion)."""
    if kind not in DOCUMENTS:
        raise ValueError(f"unknown contract document {kind!r}")
    contract = get_contract(session, contract_id)
    setattr(contract, f"{kind}_pdf_sha256", sha256)
    session.flush()
    return contract


def has_photo(contract: Contract, sha256: str) -> dict[str, object] | None:
    """The photo of one of the contract's checklists with that checksum, if any."""
    for checklist in contract.checklists:
        for photo in checklist.photos:
            if photo.get("sha256") == sha256:
                return photo
    return None
