"""Incident pages: the driver's (phone), the staff's queue and incident page (tablet),
and the manager's liability actions (desktop)."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from portal import clock
from portal.db import Session
from portal.htmx import render, wants_fragment
from portal.i18n import local_zone
from portal.models import Contract, EntryKind, Incident, IncidentStatus, IncidentType
from portal.security import allow_large_uploads, client_ip
from portal.services import DomainError, fleet
from portal.services.incidents import attachments as incident_files
from portal.services.incidents import claims as incident_claims
from portal.services.incidents import costs as incident_costs
from portal.services.incidents import reads as incident_reads
from portal.services.incidents import report as incident_report
from portal.web.kit import (
    current_driver,
    depot_choices,
    done,
    enqueue_after_commit,
    form_action,
    submitted_status,
)
from portal.web.labels import INCIDENT_LABELS
from workers.incidents import render_incident_pdf_job

from . import driver, manager, staff
from .files import clean_files, max_files, serve_attachment, serve_report, storage_root
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

# -- driver ------------------------------------------------------------------------


def _own_incident(incident_id: int) -> Incident:
    found = incident_reads.get_driver_incident(Session(), incident_id, current_driver().id)
    if found is None:
        abort(404)
    return found


@driver.get("")
def driver_list() -> Response:
    found = current_user.driver
    items = incident_reads.list_driver_incidents(Session(), found.id) if found else []
    return render("incidents/driver_list.html", incidents=items, **INCIDENT_LABELS)


def _report_defaults(form: ReportForm, contract: Contract) -> None:
    """Now, an accident, and where the car's tracker last saw it."""
    form.occurred_at.data = clock.now().astimezone(local_zone()).replace(tzinfo=None, second=0)
    form.type.data = IncidentType.ACCIDENT.value
    position = incident_report.last_known_position(Session(), contract.vehicle_id)
    if position is not None:
        form.latitude.data = position.latitude
        form.longitude.data = position.longitude
        form.position_source.data = "telemetry"


@driver.route("/nuevo", methods=["GET", "POST"])
@allow_large_uploads
def driver_new() -> Response:
    found = current_user.driver
    contract = fleet.get_active_contract(Session(), found.id) if found else None
    form = ReportForm()
    if request.method == "GET" and contract is not None:
        _report_defaults(form, contract)
    context: dict[str, Any] = {"form": form, "contract": contract, "telemetry": None}
    if contract is not None and form.validate_on_submit():
        with form_action(form, "photos") as checked:
            files = clean_files(request.files.getlist(form.photos.name))
        if checked.ok:
            with form_action(form) as action:
                incident = _report(form, files)
            if action.ok:
                flash(
                    _("We received your report. Your depot will call you if they need anything."),
                    "success",
                )
                return done(url_for("incidents.driver.driver_detail", incident_id=incident.id))
    status = submitted_status(form)
    return render(
        "incidents/driver_new.html", "report", status=status, **context, **INCIDENT_LABELS
    )


def _report(form: ReportForm, files: list[Any]) -> Incident:
    return incident_report.report_incident(
        Session(),
        driver_id=current_user.driver.id,
        reporter_id=current_user.id,
        type=IncidentType(form.type.data),
        occurred_at=form.occurred_at.data.replace(tzinfo=local_zone()),  # type: ignore[union-attr]
        place=form.place.data or "",
        description=form.description.data or "",
        latitude=form.latitude.data,
        longitude=form.longitude.data,
        position_source=form.position(),
        files=files,
        storage_root=storage_root(),
        max_files=max_files(),
    )


def _driver_page(incident: Incident, form: AttachmentForm, status: int = 200) -> Response:
    return render(
        "incidents/driver_detail.html",
        "status",
        status=status,
        incident=incident,
        liabilities=incident_costs.list_liabilities(Session(), incident.id),
        form=form,
        **INCIDENT_LABELS,
    )


@driver.get("/<int:incident_id>")
def driver_detail(incident_id: int) -> Response:
    return _driver_page(_own_incident(incident_id), AttachmentForm(formdata=None))


@driver.post("/<int:incident_id>/adjuntos")
@allow_large_uploads
def driver_attach(incident_id: int) -> Response:
    incident = _own_incident(incident_id)
    form = AttachmentForm()
    with form_action(form, "files") as action:
        files = clean_files(request.files.getlist(form.files.name))
        incident_files.add_attachments(
            Session(),
            incident.id,
            files,
            uploader_id=current_user.id,
            storage_root=storage_root(),
            max_files=max_files(),
        )
    if not action.ok:
        return _driver_page(_own_incident(incident_id), form, 422)
    flash(_("Files added."), "success")
    return done(url_for("incidents.driver.driver_detail", incident_id=incident.id))


@driver.get("/<int:incident_id>/adjuntos/<int:attachment_id>")
def driver_attachment(incident_id: int, attachment_id: int) -> Response:
    incident = _own_incident(incident_id)
    attachment = incident_reads.get_attachment(Session(), incident.id, attachment_id)
    if attachment is None:
        abort(404)
    return serve_attachment(attachment)


# -- staff -------------------------------------------------------------------------


@staff.get("")
def queue() -> Response:
    form = FilterForm(request.args)
    form.depot.choices = depot_choices(Session())
    context = {"form": form, **INCIDENT_LABELS}
    if not form.validate():
        return render("incidents/queue.html", "results", status=422, page=None, **context)
    page = incident_reads.list_incidents(
        Session(),
        status=form.status.data or "open",
        type=IncidentType(form.type.data) if form.type.data else None,
        depot_id=form.depot.data or None,
        age=form.age.data or "",
        page=form.page.data or 1,
        per_page=current_app.config["PAGE_SIZE"],
    )
    return render("incidents/queue.html", "results", page=page, **context)


def _incident(incident_id: int) -> Incident:
    found = incident_reads.get_incident(Session(), incident_id)
    if found is None:
        abort(404)
    return found


def _insurance_data(incident: Incident) -> dict[str, Any]:
    data = {name: getattr(incident, name) for name in incident_claims.INSURANCE_FIELDS}
    data["deductible"] = incident.deductible_cents
    data["repair_cost"] = incident.repair_cost_cents
    data["deductible_payer"] = incident.deductible_payer.value if incident.deductible_payer else ""
    return data


def _staff_context(incident_id: int, **forms: Any) -> dict[str, Any]:
    """The incident page's context; the forms not being answered are built from the
    record, never from this request's body."""
    incident = _incident(incident_id)
    sequence = str(incident_costs.next_liability_sequence(Session(), incident.id))
    blank = {
        "insurance": lambda: InsuranceForm(formdata=None, data=_insurance_data(incident)),
        "liability": lambda: LiabilityForm(formdata=None, sequence=sequence),
        "status_form": lambda: StatusForm(formdata=None),
        "comment": lambda: CommentForm(formdata=None),
        "attach": lambda: AttachmentForm(formdata=None),
        "reversal": lambda: ReversalForm(formdata=None),
    }
    return {
        "incident": incident,
        "transitions": incident_claims.allowed_transitions(incident),
        "liabilities": incident_costs.list_liabilities(Session(), incident.id),
        **{name: forms.pop(name, None) or make() for name, make in blank.items()},
        "reversal_entry_id": forms.pop("reversal_entry_id", None),
        "is_manager": current_user.role in ("manager", "admin"),
        **INCIDENT_LABELS,
        **forms,
    }


def _staff_page(incident_id: int, status: int = 200, **forms: Any) -> Response:
    context = _staff_context(incident_id, **forms)
    return render("incidents/staff_detail.html", "incident", status=status, **context)


def _staff_done(incident_id: int) -> Response:
    """After a staff write: htmx gets the refreshed incident block, a form a 303."""
    if wants_fragment():
        return _staff_page(incident_id)
    return redirect(url_for("incidents.staff.detail", incident_id=incident_id), code=303)


@staff.get("/<int:incident_id>")
def detail(incident_id: int) -> Response:
    return _staff_page(incident_id)


@staff.post("/<int:incident_id>/estado")
def change_status(incident_id: int) -> Response:
    form = StatusForm()
    to_status = form.to_status.data
    if not form.validate_on_submit() or to_status not in tuple(IncidentStatus):
        form.note.errors = list(form.note.errors) or [_("Choose a status.")]
        return _staff_page(incident_id, 422, status_form=form)
    with form_action(form, "note") as action:
        incident_claims.change_status(
            Session(),
            incident_id,
            IncidentStatus(to_status),
            actor_id=current_user.id,
            note=form.note.data or "",
            ip=client_ip(),
        )
    if action.ok:
        return _staff_done(incident_id)
    return _staff_page(incident_id, 422, status_form=form)


@staff.post("/<int:incident_id>/seguro")
def update_insurance(incident_id: int) -> Response:
    form = InsuranceForm()
    if form.validate_on_submit():
        with form_action(form, "insurer") as action:
            incident_claims.update_insurance(
                Session(), incident_id, actor_id=current_user.id, ip=client_ip(), **form.values()
            )
        if action.ok:
            return _staff_done(incident_id)
    return _staff_page(incident_id, 422, insurance=form)


@staff.post("/<int:incident_id>/comentarios")
def comment(incident_id: int) -> Response:
    form = CommentForm()
    if form.validate_on_submit():
        with form_action(form, "body") as action:
            incident_claims.add_comment(
                Session(),
                incident_id,
                form.body.data or "",
                author_id=current_user.id,
                ip=client_ip(),
            )
        if action.ok:
            return _staff_done(incident_id)
    return _staff_page(incident_id, 422, comment=form)


@staff.post("/<int:incident_id>/adjuntos")
@allow_large_uploads
def attach(incident_id: int) -> Response:
    form = AttachmentForm()
    with form_action(form, "files") as action:
        files = clean_files(request.files.getlist(form.files.name))
        incident_files.add_attachments(
            Session(),
            incident_id,
            files,
            uploader_id=current_user.id,
            storage_root=storage_root(),
            max_files=max_files(),
            staff=True,
            ip=client_ip(),
        )
    if action.ok:
        return _staff_done(incident_id)
    return _staff_page(incident_id, 422, attach=form)


@staff.get("/<int:incident_id>/adjuntos/<int:attachment_id>")
def attachment(incident_id: int, attachment_id: int) -> Response:
    found = incident_reads.get_attachment(Session(), incident_id, attachment_id)
    if found is None:
        abort(404)
    return serve_attachment(found)


@staff.route("/<int:incident_id>/reporte", methods=["GET", "POST"])
def report(incident_id: int) -> Response:
    """POST asks for a fresh PDF (rendered by a job); GET is the block that polls for it."""
    if request.method == "POST":
        _request_report(incident_id)
        if not wants_fragment():
            return redirect(url_for("incidents.staff.detail", incident_id=incident_id), code=303)
    return render("incidents/staff_detail.html", "report", **_staff_context(incident_id))


def _request_report(incident_id: int) -> None:
    session = Session()
    try:
        incident_claims.request_report(
            session, incident_id, actor_id=current_user.id, ip=client_ip()
        )
    except DomainError:
        abort(404)
    enqueue_after_commit(session, render_incident_pdf_job, incident_id)
    session.commit()


@staff.get("/<int:incident_id>/reporte.pdf")
def report_pdf(incident_id: int) -> Response:
    incident = _incident(incident_id)
    if incident.report_sha256 is None:
        abort(404)
    return serve_report(incident.report_sha256, incident.number)


# -- manager -----------------------------------------------------------------------


@manager.post("/<int:incident_id>/responsabilidad")
def assign_liability(incident_id: int) -> Response:
    form = LiabilityForm()
    if form.validate_on_submit() and (form.sequence.data or "").isdigit():
        with form_action(form, "amount") as action:
            incident_costs.assign_liability(
                Session(),
                incident_id,
                kind=EntryKind(form.kind.data),
                amount_cents=form.amount.data or 0,
                reason=form.reason.data or "",
                sequence=int(form.sequence.data or 0),
                actor_id=current_user.id,
                ip=client_ip(),
            )
        if action.ok:
            return _staff_done(incident_id)
    return _staff_page(incident_id, 422, liability=form)


@manager.post("/<int:incident_id>/responsabilidad/<int:entry_id>/correccion")
def reverse_liability(incident_id: int, entry_id: int) -> Response:
    form = ReversalForm()
    if form.validate_on_submit():
        with form_action(form, "reason") as action:
            incident_costs.reverse_liability(
                Session(),
                incident_id,
                entry_id,
                reason=form.reason.data or "",
                actor_id=current_user.id,
                ip=client_ip(),
            )
        if action.ok:
            return _staff_done(incident_id)
    return _staff_page(incident_id, 422, reversal=form, reversal_entry_id=entry_id)
