"""A contract's pages for staff, managers and the driver."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from portal.db import Session
from portal.htmx import render
from portal.models import Contract, ContractStatus, CreditDecision, Driver, Vehicle
from portal.payments import build_client
from portal.security import allow_large_uploads, client_ip
from portal.services import N_, DomainError, FieldError, payments, storage, vehicles
from portal.services.battery import get_contract_battery
from portal.services.contracts import checklists, documents, ending, reads, running, signing
from portal.services.uploads import CleanFile, clean_upload
from portal.timeutil import local_today
from portal.web.battery_health import battery_health
from portal.web.kit import done, enqueue_after_commit, error_text, form_action, submitted_status
from portal.web.labels import VEHICLE_STATUS_LABELS
from workers.contracts import render_contract_pdf_job

from . import driver, manager, staff
from .forms import (
    STATUS_LABELS,
    ConfirmForm,
    ContractForm,
    FilterForm,
    HandoverForm,
    ReasonForm,
    ReturnForm,
    SwapForm,
)

CS = ContractStatus


def _contract(contract_id: int) -> Contract:
    contract = Session.get(Contract, contract_id)
    if contract is None:
        abort(404)
    return contract


def _driver(driver_id: int | None) -> Driver:
    driver = Session.get(Driver, driver_id or 0)
    if driver is None:
        abort(404)
    return driver


def _chosen_car(form: Any) -> Vehicle:
    """The car the form's `vehicle_id` names; gone since the page was drawn, the field's
    error."""
    car = Session.get(Vehicle, form.vehicle_id.data)
    if car is None:
        raise FieldError("vehicle_id", N_("Choose an available car."))
    return car


def _car_choices(form: Any) -> Any:
    form.vehicle_id.choices = [SelectChoice(0, "—")] + [
        SelectChoice(v.id, f"{v.plate} · {v.make} {v.model} · {v.depot.code}")
        for v in vehicles.available_vehicles(Session())
    ]
    return form


def _photos(form: Any) -> list[CleanFile]:
    """The checklist's photos, checked and cleaned; a bad one is the field's error."""
    chosen = [f for f in request.files.getlist(form.photos.name) if f and f.filename]
    limit = current_app.config["INCIDENT_MAX_FILE_BYTES"]
    return [clean_upload(f.stream, f.filename or "", max_bytes=limit) for f in chosen]


def _checklist(form: Any, **extra: Any) -> checklists.ChecklistData | None:
    """The checklist the form describes, or None when a photo was refused (its error
    is on the field)."""
    try:
        photos = _photos(form)
    except DomainError as error:
        form.photos.errors = [error_text(error)]
        return None
    return checklists.ChecklistData(
        odometer_km=form.odometer_km.data or 0,
        soc_pct=form.soc_pct.data or 0,
        damage_notes=form.damage_notes.data or "",
        photos=photos,
        **extra,
    )


def _storage() -> str:
    return str(current_app.config["CONTRACT_STORAGE"])


def _detail(contract: Contract, status: int = 200, **forms: Any) -> Response:
    session = Session()
    own = contract.own_vehicle
    return render(
        "contracts/detail.html",
        status=status,
        contract=contract,
        own=own,
        decision=session.get(CreditDecision, contract.decision_id)
        if contract.decision_id
        else None,
        weeks_paid=reads.weeks_paid(session, contract),
        handover=checklists.open_handover(contract),
        timeline=reads.timeline(session, contract.id),
        status_labels=STATUS_LABELS,
        vehicle_labels=VEHICLE_STATUS_LABELS,
        reason_form=forms.get("reason_form") or ReasonForm(),
        swap_form=forms.get("swap_form") or _car_choices(SwapForm()),
        confirm_form=ConfirmForm(),
        error=forms.get("error"),
    )


# --------------------------------------------------------------------------- staff


@staff.get("")
def index() -> Response:
    form = FilterForm(request.args)
    chosen = CS(form.status.data) if form.validate() and form.status.data else None
    return render(
        "contracts/list.html",
        "results",
        form=form,
        contracts=reads.list_contracts(Session(), status=chosen),
        status_labels=STATUS_LABELS,
        counts=reads.count_by_status(Session()),
    )


@staff.route("/nuevo", methods=["GET", "POST"])
def new() -> Response:
    person = _driver(request.args.get("driver", type=int))
    proposal = signing.proposed_terms(Session(), person, local_today())
    form = _car_choices(ContractForm.for_proposal(proposal, local_today()))
    if form.validate_on_submit():
        with form_action(form) as action:
            contract = signing.propose(
                Session(),
                person,
                _chosen_car(form),
                form.terms(),
                actor_id=current_user.id,
                today=local_today(),
                ip=client_ip(),
            )
            enqueue_after_commit(Session(), render_contract_pdf_job, contract.id, "summary")
        if action.ok:
            return done(url_for("contracts.staff.detail", contract_id=contract.id))
    status = submitted_status(form)
    return render("contracts/new.html", status=status, form=form, driver=person, proposal=proposal)


@staff.get("/<int:contract_id>")
def detail(contract_id: int) -> Response:
    return _detail(_contract(contract_id))


@staff.post("/<int:contract_id>/firmar")
def sign(contract_id: int) -> Response:
    """The driver signed the printed contract: the deposit is charged, the car leased,
    the driver's CLABE opened for the summary's "how to pay"."""
    contract = _contract(contract_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _detail(contract, 422)
    session = Session()
    with form_action() as action:
        signing.sign(session, contract, actor_id=current_user.id, ip=client_ip())
        client = build_client(current_app.config)
        if client is not None:
            try:
                payments.ensure_spei_account(
                    session, contract.driver, client, current_app.config["PAYMENTS_CONTACT_EMAIL"]
                )
            except DomainError:
                current_app.logger.warning("no CLABE for driver %s yet", contract.driver_id)
        enqueue_after_commit(session, render_contract_pdf_job, contract.id, "summary")
    if action.ok:
        return done(url_for("contracts.staff.detail", contract_id=contract.id))
    return _detail(contract, 422, error=action.error)


@staff.post("/<int:contract_id>/<any(cancelar, suspender, reanudar, completar, devolver):step>")
def step(contract_id: int, step: str) -> Response:
    contract = _contract(contract_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        return _detail(contract, 422)
    session, who, reason = Session(), current_user.id, form.reason.data or ""
    with form_action(form, "reason") as action:
        if step == "cancelar":
            signing.cancel(session, contract, actor_id=who, reason=reason, ip=client_ip())
        elif step == "suspender":
            running.suspend(session, contract, actor_id=who, reason=reason, ip=client_ip())
        elif step == "reanudar":
            running.resume(session, contract, actor_id=who, ip=client_ip())
        elif step == "devolver":
            running.return_own_vehicle(session, contract, actor_id=who, ip=client_ip())
        else:
            ending.complete(session, contract, actor_id=who, today=local_today(), ip=client_ip())
            enqueue_after_commit(session, render_contract_pdf_job, contract.id, "letter")
    if action.ok:
        return done(url_for("contracts.staff.detail", contract_id=contract.id))
    return _detail(contract, 422, reason_form=form, error=action.error)


@staff.post("/<int:contract_id>/sustituto")
def swap(contract_id: int) -> Response:
    contract = _contract(contract_id)
    form = _car_choices(SwapForm())
    if form.validate_on_submit():
        with form_action(form, "vehicle_id") as action:
            running.swap_vehicle(
                Session(),
                contract,
                _chosen_car(form),
                actor_id=current_user.id,
                reason=form.reason.data or "",
                ip=client_ip(),
            )
        if action.ok:
            return done(url_for("contracts.staff.detail", contract_id=contract.id))
    return _detail(contract, 422, swap_form=form)


@staff.route("/<int:contract_id>/entrega", methods=["GET", "POST"])
@allow_large_uploads
def handover(contract_id: int) -> Response:
    """The handover checklist on the tablet, started from the car's last telemetry."""
    contract = _contract(contract_id)
    defaults = checklists.handover_defaults(Session(), contract.vehicle_id)
    form = HandoverForm(odometer_km=defaults.odometer_km, soc_pct=defaults.soc_pct)
    if form.validate_on_submit():
        data = _checklist(form, charging_card=form.charging_card.data or "")
        if data is not None:
            with form_action(form) as action:
                checklists.record_handover(
                    Session(),
                    contract,
                    data,
                    actor_id=current_user.id,
                    storage_root=_storage(),
                    ip=client_ip(),
                )
            if action.ok:
                flash(_("Handover recorded. The driver confirms it on their phone."), "success")
                return done(url_for("contracts.staff.detail", contract_id=contract.id))
    status = 422 if form.is_submitted() else 200
    return render(
        "contracts/handover.html", status=status, form=form, contract=contract, defaults=defaults
    )


def _document(contract: Contract, kind: str) -> Response:
    sha256 = getattr(contract, f"{kind}_pdf_sha256")
    if not sha256:
        abort(404)
    path = storage.blob_path(_storage(), sha256)
    if not path.exists():
        abort(404)
    name = f"{contract.number}-{'contrato' if kind == 'summary' else 'carta'}.pdf"
    return send_file(path, mimetype="application/pdf", download_name=name, max_age=0)


def _photo(contract: Contract, sha256: str) -> Response:
    photo = documents.has_photo(contract, sha256)
    if photo is None:
        abort(404)
    path = storage.blob_path(_storage(), sha256)
    if not path.exists():
        abort(404)
    return send_file(path, mimetype=str(photo["content_type"]), max_age=0)


@staff.get("/<int:contract_id>/<any(contrato, carta):kind>.pdf")
def document(contract_id: int, kind: str) -> Response:
    return _document(_contract(contract_id), "summary" if kind == "contrato" else "letter")


@staff.get("/<int:contract_id>/fotos/<sha256>")
def photo(contract_id: int, sha256: str) -> Response:
    return _photo(_contract(contract_id), sha256)


# --------------------------------------------------------------------------- managers


@manager.post("/<int:contract_id>/autorizar")
def sign_off(contract_id: int) -> Response:
    contract = _contract(contract_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _detail(contract, 422)
    with form_action() as action:
        signing.sign_off(Session(), contract, actor=current_user, ip=client_ip())
    if action.ok:
        return done(url_for("contracts.staff.detail", contract_id=contract.id))
    return _detail(contract, 422, error=action.error)


@manager.route("/<int:contract_id>/terminar", methods=["GET", "POST"])
@allow_large_uploads
def terminate(contract_id: int) -> Response:
    """End early: the return checklist; damage becomes an incident and its charge."""
    contract = _contract(contract_id)
    defaults = checklists.handover_defaults(Session(), contract.vehicle_id)
    form = ReturnForm(odometer_km=defaults.odometer_km, soc_pct=defaults.soc_pct)
    if form.validate_on_submit():
        data = _checklist(form, damage_cents=form.damage.data or 0)
        if data is not None:
            with form_action(form) as action:
                ending.terminate(
                    Session(),
                    contract,
                    data,
                    actor=current_user,
                    reason=form.reason.data or "",
                    today=local_today(),
                    storage_root=_storage(),
                    ip=client_ip(),
                )
            if action.ok:
                return done(url_for("contracts.staff.detail", contract_id=contract.id))
    status = 422 if form.is_submitted() else 200
    return render("contracts/terminate.html", status=status, form=form, contract=contract)


# --------------------------------------------------------------------------- the driver


def _own_contract() -> Contract:
    person = current_user.driver
    contract = reads.driver_contract(Session(), person.id) if person else None
    if contract is None:
        abort(404)
    return contract


@driver.get("")
def mine() -> Response:
    contract = _own_contract()
    session = Session()
    paid = reads.weeks_paid(session, contract)
    battery = get_contract_battery(session, contract)
    return render(
        "contracts/driver.html",
        contract=contract,
        battery=battery_health(battery, compact=True) if battery else None,
        handover=checklists.open_handover(contract),
        weeks_paid=paid,
        weeks_left=reads.weeks_to_ownership(contract, paid),
        status_labels=STATUS_LABELS,
        form=ConfirmForm(),
    )


@driver.post("/entrega")
def confirm() -> Response:
    """The driver confirms on their phone the car as the checklist records it."""
    contract = _own_contract()
    form = ConfirmForm()
    if form.validate_on_submit():
        with form_action() as action:
            checklists.confirm_handover(
                Session(), contract, driver_user=current_user, today=local_today(), ip=client_ip()
            )
        if action.ok:
            flash(_("Done: the car is yours to drive. Have a good trip!"), "success")
            return done(url_for("contracts.driver.mine"))
        flash(action.error or "", "error")
    return done(url_for("contracts.driver.mine"))


@driver.get("/contrato.pdf")
def my_document() -> Response:
    return _document(_own_contract(), "summary")


@driver.get("/fotos/<sha256>")
def my_photo(sha256: str) -> Response:
    return _photo(_own_contract(), sha256)
