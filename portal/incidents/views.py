"""Incident pages: the driver's (phone), the staff's queue and incident page (tablet),
and the manager's liability actions (desktop).

Three blueprints because each has its own roles: `driver_incidents` under
/conductor/incidentes, `incidents` under /operacion/incidentes and
`incident_liability` under /gerencia/incidentes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from portal.db import Session
from portal.htmx import render, wants_fragment
from portal.i18n import local_zone
from portal.models import (
    EntryKind,
    Incident,
    IncidentAttachment,
    IncidentStatus,
    IncidentType,
    Role,
)
from portal.security import allow_large_uploads, client_ip, require_roles
from portal.services import N_, DomainError, fleet, incidents, storage
from portal.services.uploads import CleanFile, clean_upload
from workers.incidents import render_incident_pdf_job

from .forms import (
    AttachmentForm,
    CommentForm,
    FilterForm,
    InsuranceForm,
    LiabilityForm,
    ReportForm,
    ReversalForm,
    StatusForm,
)
from .labels import LABELS

driver_bp = Blueprint("driver_incidents", __name__)
require_roles(driver_bp, [Role.DRIVER])
staff_bp = Blueprint("incidents", __name__)
require_roles(staff_bp, [Role.STAFF, Role.MANAGER, Role.ADMIN])
manager_bp = Blueprint("incident_liability", __name__)
require_roles(manager_bp, [Role.MANAGER, Role.ADMIN])


def _storage() -> str:
    return str(current_app.config["INCIDENT_STORAGE"])


def _clean_files(files: list[FileStorage]) -> list[CleanFile]:
    """Check every uploaded file; the first bad one refuses them all (nothing stored)."""
    max_files = current_app.config["INCIDENT_MAX_FILES"]
    chosen = [f for f in files if f.filename]
    if len(chosen) > max_files:
        raise DomainError(N_("An incident can have at most %(max)d files."), max=max_files)
    max_bytes = current_app.config["INCIDENT_MAX_FILE_BYTES"]
    return [clean_upload(f.stream, f.filename or "", max_bytes=max_bytes) for f in chosen]


def _error(error: DomainError) -> str:
    return _(error.message, **error.params)


def _done(url: str) -> Response:
    """After a successful POST: htmx follows `HX-Redirect`, a plain form a 303."""
    if wants_fragment():
        response = Response(status=204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, code=303)


def _serve(attachment: IncidentAttachment) -> Response:
    path = storage.blob_path(_storage(), attachment.sha256)
    if not path.exists():
        abort(404)
    response = send_file(
        path,
        mimetype=attachment.content_type,
        as_attachment=not attachment.is_image,
        download_name=attachment.original_name,
        etag=attachment.sha256,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-cache"
    return response


# -- driver ------------------------------------------------------------------------


def _own_incident(incident_id: int) -> Incident:
    driver = current_user.driver
    incident = incidents.get_driver_incident(Session(), incident_id, driver.id) if driver else None
    if incident is None:
        abort(404)
    return incident


@driver_bp.get("")
def driver_list() -> Response:
    driver = current_user.driver
    items = incidents.list_driver_incidents(Session(), driver.id) if driver else []
    return render("incidents/driver_list.html", incidents=items, **LABELS)


@driver_bp.route("/nuevo", methods=["GET", "POST"])
@allow_large_uploads
def driver_new() -> Response:
    session = Session()
    driver = current_user.driver
    contract = fleet.get_active_contract(session, driver.id) if driver else None
    form = ReportForm()
    if request.method == "GET" and contract is not None:
        form.occurred_at.data = datetime.now(local_zone()).replace(tzinfo=None, second=0)
        form.type.data = IncidentType.ACCIDENT.value
        position = incidents.last_known_position(session, contract.vehicle_id)
        if position is not None:
            form.latitude.data = position.latitude
            form.longitude.data = position.longitude
            form.position_source.data = "telemetry"
    context: dict[str, Any] = {"form": form, "contract": contract, "telemetry": None, **LABELS}
    if contract is None or not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render("incidents/driver_new.html", "report", status=status, **context)
    try:
        files = _clean_files(request.files.getlist(form.photos.name))
    except DomainError as error:
        form.photos.errors = [_error(error)]
        return render("incidents/driver_new.html", "report", status=422, **context)
    try:
        occurred_at = form.occurred_at.data.replace(tzinfo=local_zone())  # type: ignore[union-attr]
        incident = incidents.report_incident(
            session,
            driver_id=driver.id,
            reporter_id=current_user.id,
            type=IncidentType(form.type.data),
            occurred_at=occurred_at,
            place=form.place.data or "",
            description=form.description.data or "",
            latitude=form.latitude.data,
            longitude=form.longitude.data,
            position_source=form.position(),
            files=files,
            storage_root=_storage(),
            max_files=current_app.config["INCIDENT_MAX_FILES"],
        )
    except DomainError as error:
        session.rollback()
        form.form_errors.append(_error(error))
        return render("incidents/driver_new.html", "report", status=422, **context)
    session.commit()
    flash(_("We received your report. Your depot will call you if they need anything."), "success")
    return _done(url_for("driver_incidents.driver_detail", incident_id=incident.id))


@driver_bp.get("/<int:incident_id>")
def driver_detail(incident_id: int) -> Response:
    incident = _own_incident(incident_id)
    return render(
        "incidents/driver_detail.html",
        "status",
        incident=incident,
        liabilities=incidents.list_liabilities(Session(), incident.id),
        form=AttachmentForm(formdata=None),
        **LABELS,
    )


@driver_bp.post("/<int:incident_id>/adjuntos")
@allow_large_uploads
def driver_attach(incident_id: int) -> Response:
    incident = _own_incident(incident_id)
    form = AttachmentForm()
    session = Session()
    try:
        files = _clean_files(request.files.getlist(form.files.name))
        incidents.add_attachments(
            session,
            incident.id,
            files,
            uploader_id=current_user.id,
            storage_root=_storage(),
            max_files=current_app.config["INCIDENT_MAX_FILES"],
        )
    except DomainError as error:
        session.rollback()
        form.files.errors = [_error(error)]
        return render(
            "incidents/driver_detail.html",
            "status",
            status=422,
            incident=incidents.get_incident(session, incident.id),
            liabilities=incidents.list_liabilities(session, incident.id),
            form=form,
            **LABELS,
        )
    session.commit()
    flash(_("Files added."), "success")
    return _done(url_for("driver_incidents.driver_detail", incident_id=incident.id))


@driver_bp.get("/<int:incident_id>/adjuntos/<int:attachment_id>")
def driver_attachment(incident_id: int, attachment_id: int) -> Response:
    incident = _own_incident(incident_id)
    attachment = incidents.get_attachment(Session(), incident.id, attachment_id)
    if attachment is None:
        abort(404)
    return _serve(attachment)


# -- staff -------------------------------------------------------------------------


@staff_bp.get("")
def queue() -> Response:
    session = Session()
    form = FilterForm(request.args)
    form.depot.choices = [SelectChoice(0, _l("All depots"))] + [
        SelectChoice(d.id, d.name) for d in fleet.list_depots(session)
    ]
    context = {"form": form, **LABELS}
    if not form.validate():
        return render("incidents/queue.html", "results", status=422, page=None, **context)
    page = incidents.list_incidents(
        session,
        status=form.status.data or "open",
        type=IncidentType(form.type.data) if form.type.data else None,
        depot_id=form.depot.data or None,
        age=form.age.data or "",
        page=form.page.data or 1,
        per_page=current_app.config["PAGE_SIZE"],
    )
    return render("incidents/queue.html", "results", page=page, **context)


def _staff_context(incident_id: int, **forms: Any) -> dict[str, Any]:
    session = Session()
    incident = incidents.get_incident(session, incident_id)
    if incident is None:
        abort(404)
    # Forms not being answered are built from the record, never from this request's body.
    insurance = forms.pop("insurance", None) or InsuranceForm(
        formdata=None, data=_insurance_data(incident)
    )
    liability = forms.pop("liability", None) or LiabilityForm(
        formdata=None, sequence=str(incidents.next_liability_sequence(session, incident.id))
    )
    return {
        "incident": incident,
        "transitions": incidents.allowed_transitions(incident),
        "liabilities": incidents.list_liabilities(session, incident.id),
        "insurance": insurance,
        "status_form": forms.pop("status_form", None) or StatusForm(formdata=None),
        "comment": forms.pop("comment", None) or CommentForm(formdata=None),
        "attach": forms.pop("attach", None) or AttachmentForm(formdata=None),
        "liability": liability,
        "reversal": forms.pop("reversal", None) or ReversalForm(formdata=None),
        "reversal_entry_id": forms.pop("reversal_entry_id", None),
        "is_manager": current_user.role in ("manager", "admin"),
        **LABELS,
        **forms,
    }


def _insurance_data(incident: Incident) -> dict[str, Any]:
    data = {name: getattr(incident, name) for name in incidents.INSURANCE_FIELDS}
    data["deductible"] = incident.deductible_cents
    data["repair_cost"] = incident.repair_cost_cents
    data["deductible_payer"] = incident.deductible_payer.value if incident.deductible_payer else ""
    return data


def _staff_page(incident_id: int, status: int = 200, **forms: Any) -> Response:
    return render(
        "incidents/staff_detail.html",
        "incident",
        status=status,
        **_staff_context(incident_id, **forms),
    )


def _staff_done(incident_id: int) -> Response:
    """After a staff write: htmx gets the refreshed incident block, a form a 303."""
    if wants_fragment():
        return _staff_page(incident_id)
    return redirect(url_for("incidents.detail", incident_id=incident_id), code=303)


@staff_bp.get("/<int:incident_id>")
def detail(incident_id: int) -> Response:
    return _staff_page(incident_id)


@staff_bp.post("/<int:incident_id>/estado")
def change_status(incident_id: int) -> Response:
    form = StatusForm()
    session = Session()
    try:
        to_status = IncidentStatus(form.to_status.data)
    except ValueError:
        to_status = None
    if not form.validate_on_submit() or to_status is None:
        form.note.errors = list(form.note.errors) or [_("Choose a status.")]
        return _staff_page(incident_id, 422, status_form=form)
    try:
        incidents.change_status(
            session,
            incident_id,
            to_status,
            actor_id=current_user.id,
            note=form.note.data or "",
            ip=client_ip(),
        )
    except DomainError as error:
        session.rollback()
        form.note.errors = [_error(error)]
        return _staff_page(incident_id, 422, status_form=form)
    session.commit()
    return _staff_done(incident_id)


@staff_bp.post("/<int:incident_id>/seguro")
def update_insurance(incident_id: int) -> Response:
    form = InsuranceForm()
    session = Session()
    if not form.validate_on_submit():
        return _staff_page(incident_id, 422, insurance=form)
    try:
        incidents.update_insurance(
            session, incident_id, actor_id=current_user.id, ip=client_ip(), **form.values()
        )
    except DomainError as error:
        session.rollback()
        form.insurer.errors = [_error(error)]
        return _staff_page(incident_id, 422, insurance=form)
    session.commit()
    return _staff_done(incident_id)


@staff_bp.post("/<int:incident_id>/comentarios")
def comment(incident_id: int) -> Response:
    form = CommentForm()
    session = Session()
    if not form.validate_on_submit():
        return _staff_page(incident_id, 422, comment=form)
    try:
        incidents.add_comment(
            session, incident_id, form.body.data or "", author_id=current_user.id, ip=client_ip()
        )
    except DomainError as error:
        session.rollback()
        form.body.errors = [_error(error)]
        return _staff_page(incident_id, 422, comment=form)
    session.commit()
    return _staff_done(incident_id)


@staff_bp.post("/<int:incident_id>/adjuntos")
@allow_large_uploads
def attach(incident_id: int) -> Response:
    form = AttachmentForm()
    session = Session()
    try:
        files = _clean_files(request.files.getlist(form.files.name))
        incidents.add_attachments(
            session,
            incident_id,
            files,
            uploader_id=current_user.id,
            storage_root=_storage(),
            max_files=current_app.config["INCIDENT_MAX_FILES"],
            staff=True,
            ip=client_ip(),
        )
    except DomainError as error:
        session.rollback()
        form.files.errors = [_error(error)]
        return _staff_page(incident_id, 422, attach=form)
    session.commit()
    return _staff_done(incident_id)


@staff_bp.get("/<int:incident_id>/adjuntos/<int:attachment_id>")
def attachment(incident_id: int, attachment_id: int) -> Response:
    found = incidents.get_attachment(Session(), incident_id, attachment_id)
    if found is None:
        abort(404)
    return _serve(found)


@staff_bp.route("/<int:incident_id>/reporte", methods=["GET", "POST"])
def report(incident_id: int) -> Response:
    """POST asks for a fresh PDF (rendered by a job); GET is the block that polls for it."""
    session = Session()
    if request.method == "POST":
        try:
            incidents.request_report(session, incident_id, actor_id=current_user.id, ip=client_ip())
        except DomainError:
            abort(404)
        session.commit()
        render_incident_pdf_job.delay(incident_id)
    incident = incidents.get_incident(session, incident_id)
    if incident is None:
        abort(404)
    if request.method == "POST" and not wants_fragment():
        return redirect(url_for("incidents.detail", incident_id=incident_id), code=303)
    return render("incidents/staff_detail.html", "report", **_staff_context(incident_id))


@staff_bp.get("/<int:incident_id>/reporte.pdf")
def report_pdf(incident_id: int) -> Response:
    incident = incidents.get_incident(Session(), incident_id)
    if incident is None or incident.report_sha256 is None:
        abort(404)
    path = storage.blob_path(_storage(), incident.report_sha256)
    if not path.exists():
        abort(404)
    response = send_file(
        path,
        mimetype="application/pdf",
        as_attachment=True,
        download_name=f"{incident.number}.pdf",
        etag=incident.report_sha256,
    )
    response.headers["Cache-Control"] = "private, no-cache"
    return response


# -- manager -----------------------------------------------------------------------


@manager_bp.post("/<int:incident_id>/responsabilidad")
def assign_liability(incident_id: int) -> Response:
    form = LiabilityForm()
    session = Session()
    if not form.validate_on_submit() or not (form.sequence.data or "").isdigit():
        return _staff_page(incident_id, 422, liability=form)
    try:
        incidents.assign_liability(
            session,
            incident_id,
            kind=EntryKind(form.kind.data),
            amount_cents=form.amount.data or 0,
            reason=form.reason.data or "",
            sequence=int(form.sequence.data or 0),
            actor_id=current_user.id,
            ip=client_ip(),
        )
    except DomainError as error:
        session.rollback()
        form.amount.errors = [_error(error)]
        return _staff_page(incident_id, 422, liability=form)
    session.commit()
    return _staff_done(incident_id)


@manager_bp.post("/<int:incident_id>/responsabilidad/<int:entry_id>/correccion")
def reverse_liability(incident_id: int, entry_id: int) -> Response:
    form = ReversalForm()
    session = Session()
    if not form.validate_on_submit():
        return _staff_page(incident_id, 422, reversal=form, reversal_entry_id=entry_id)
    try:
        incidents.reverse_liability(
            session,
            incident_id,
            entry_id,
            reason=form.reason.data or "",
            actor_id=current_user.id,
            ip=client_ip(),
        )
    except DomainError as error:
        session.rollback()
        form.reason.errors = [_error(error)]
        return _staff_page(incident_id, 422, reversal=form, reversal_entry_id=entry_id)
    session.commit()
    return _staff_done(incident_id)
