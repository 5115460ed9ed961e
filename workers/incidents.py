"""The incident report for the insurer: a PDF rendered with WeasyPrint in a job.

On the `statements` queue, with the other PDFs: WeasyPrint takes a second or more and
tens of MB of memory, which the quick `default` jobs should not wait behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale
from weasyprint import CSS, HTML
from weasyprint.urls import URLFetcher

from portal.config import ROOT
from portal.db import Session, utcnow
from portal.services import storage
from portal.services.incidents import claims as incident_claims
from portal.services.incidents import costs as incident_costs
from portal.services.incidents import reads as incident_reads
from portal.web.labels import INCIDENT_LABELS

from .jobs import job

PDF_CSS = ROOT / "templates" / "incidents" / "report_pdf.css"


class _OnlyThesePhotos(URLFetcher):  # type: ignore[misc]
    """WeasyPrint may open the photos of this incident and nothing else."""

    def __init__(self, allowed: set[str]) -> None:
        super().__init__(allowed_protocols=["file"], allow_redirects=False)
        self.allowed = allowed

    def fetch(self, url: str, headers: Any = None) -> Any:
        if url not in self.allowed:
            raise ValueError(f"the incident report may not load {url}")
        return super().fetch(url, headers)


def render_incident_pdf(incident_id: int, storage_root: str, locale: str = "es_MX") -> bytes:
    session = Session()
    incident = incident_reads.get_incident(session, incident_id)
    if incident is None:
        raise LookupError(f"incident {incident_id} does not exist")
    photos = [
        (a, Path(storage.blob_path(storage_root, a.sha256)).as_uri())
        for a in incident.attachments
        if a.is_image
    ]
    documents = [a for a in incident.attachments if not a.is_image]
    with force_locale(locale):
        html = render_template(
            "incidents/report_pdf.html",
            incident=incident,
            photos=photos,
            documents=documents,
            liabilities=incident_costs.list_liabilities(session, incident.id),
            generated_at=utcnow(),
            **INCIDENT_LABELS,
        )
    fetcher = _OnlyThesePhotos({uri for _, uri in photos})
    document = HTML(string=html, base_url=str(ROOT), url_fetcher=fetcher)
    pdf: bytes = document.write_pdf(stylesheets=[CSS(filename=str(PDF_CSS))])
    return pdf


@job("statements")
def render_incident_pdf_job(incident_id: int) -> str:
    """Render the incident's PDF, store it by checksum, remember it on the incident."""
    storage_root = str(current_app.config["INCIDENT_STORAGE"])
    pdf = render_incident_pdf(incident_id, storage_root)
    sha256 = storage.put_blob(storage_root, pdf)
    incident_claims.record_report(Session(), incident_id, sha256=sha256, size=len(pdf))
    return sha256
