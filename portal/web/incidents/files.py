"""Uploaded files checked before anything is stored, and stored files served back."""

from __future__ import annotations

from flask import abort, current_app, send_file
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from portal.models import IncidentAttachment
from portal.services import N_, DomainError, storage
from portal.services.uploads import CleanFile, clean_upload


def storage_root() -> str:
    return str(current_app.config["INCIDENT_STORAGE"])


def max_files() -> int:
    return int(current_app.config["INCIDENT_MAX_FILES"])


def clean_files(files: list[FileStorage]) -> list[CleanFile]:
    """Check every uploaded file; the first bad one refuses them all (nothing stored)."""
    chosen = [f for f in files if f.filename]
    if len(chosen) > max_files():
        raise DomainError(N_("An incident can have at most %(max)d files."), max=max_files())
    max_bytes = current_app.config["INCIDENT_MAX_FILE_BYTES"]
    return [clean_upload(f.stream, f.filename or "", max_bytes=max_bytes) for f in chosen]


def _send(sha256: str, **options: object) -> Response:
    path = storage.blob_path(storage_root(), sha256)
    if not path.exists():
        abort(404)
    response = send_file(path, etag=sha256, **options)  # type: ignore[arg-type]
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def serve_attachment(attachment: IncidentAttachment) -> Response:
    response = _send(
        attachment.sha256,
        mimetype=attachment.content_type,
        as_attachment=not attachment.is_image,
        download_name=attachment.original_name,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def serve_report(sha256: str, number: str) -> Response:
    return _send(
        sha256, mimetype="application/pdf", as_attachment=True, download_name=f"{number}.pdf"
    )
