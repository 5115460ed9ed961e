"""The import page: the file's rows checked, every bad one named; imported only whole."""

from __future__ import annotations

from flask import request
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.db import Session
from portal.htmx import render
from portal.services import N_, DomainError
from portal.services.fleet_import import importer, parse
from portal.services.fleet_import.report import ImportReport
from portal.timeutil import local_today
from portal.web.kit import error_text, submitted_status

from . import staff
from .forms import KIND_LABELS, ImportForm
from .messages import report_lines, summary_line

MAX_BYTES = 5 * 1024 * 1024


@staff.route("", methods=["GET", "POST"])
def upload() -> Response:
    form = ImportForm()
    text = _csv_text(form) if form.validate_on_submit() else None
    if text is None:
        return _page(form, submitted_status(form))
    session = Session()
    try:
        report = importer.run_import(
            session,
            form.kind.data or "",
            text,
            source=form.file.data.filename or "archivo.csv",
            actor_id=current_user.id,
            today=local_today(),
            dry_run=bool(form.dry_run.data),
        )
    except DomainError as error:
        session.rollback()
        form.file.errors = [error_text(error)]
        return _page(form, 422)
    if report.ok and not report.dry_run:
        session.commit()
    else:
        session.rollback()  # a refused file or a dry run leaves nothing behind
    return _page(form, 200 if report.ok else 422, report)


def _page(form: ImportForm, status: int, report: ImportReport | None = None) -> Response:
    """The upload form beside each kind's columns; under the title, the report of the
    file just checked or imported (its summary and every bad row)."""
    outcome = {}
    if report is not None:
        outcome = {"report": report, "lines": report_lines(report), "summary": summary_line(report)}
    return render(
        "imports/upload.html",
        status=status,
        form=form,
        columns=parse.COLUMNS,
        kind_labels=KIND_LABELS,
        **outcome,
    )


def _csv_text(form: ImportForm) -> str | None:
    """The uploaded file's text, or None with the file's error on the form (larger
    than 5 MB, or not UTF-8)."""
    raw = request.files[form.file.name].read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        form.file.errors = [error_text(DomainError(N_("The file is larger than 5 MB.")))]
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        form.file.errors = [error_text(DomainError(N_("The file is not UTF-8.")))]
        return None
