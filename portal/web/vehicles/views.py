"""Vehicle records: add, edit, lifecycle, history; the model catalogue."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from portal.db import Session
from portal.htmx import render
from portal.models import ConnectorType, Role, Vehicle, VehicleStatus
from portal.security import client_ip
from portal.services import depots, vehicles
from portal.timeutil import local_today
from portal.web.kit import done, form_action, submitted_status
from portal.web.labels import VEHICLE_STATUS_LABELS as STATUS_LABELS

from . import admin, staff
from .forms import DeleteForm, ModelForm, StatusForm, VehicleForm


def _choices(form: VehicleForm) -> VehicleForm:
    session = Session()
    form.model_id.choices = [SelectChoice(0, "—")] + [
        SelectChoice(m.id, m.label) for m in vehicles.list_models(session)
    ]
    form.depot_id.choices = [SelectChoice(0, "—")] + [
        SelectChoice(d.id, f"{d.code} · {d.name}") for d in depots.list_depots(session)
    ]
    return form


def vehicle_data(form: VehicleForm) -> vehicles.VehicleData:
    return vehicles.VehicleData(
        vin=form.vin.data or "",
        plate=form.plate.data or "",
        model_id=form.model_id.data or 0,
        year=form.year.data or 0,
        depot_id=form.depot_id.data or 0,
        tracker_imei=form.tracker_imei.data,
        color=form.color.data,
    )


def _vehicle(vehicle_id: int) -> Vehicle:
    vehicle = Session.get(Vehicle, vehicle_id)
    if vehicle is None:
        abort(404)
    return vehicle


@staff.route("/nuevo", methods=["GET", "POST"])
def new() -> Response:
    form = _choices(VehicleForm(year=local_today().year))
    if form.validate_on_submit():
        with form_action(form) as action:
            vehicle = vehicles.add_vehicle(
                Session(),
                vehicle_data(form),
                actor_id=current_user.id,
                today_year=local_today().year,
                ip=client_ip(),
            )
        if action.ok:
            flash(_("Car %(plate)s added, in preparation.", plate=vehicle.plate), "success")
            return done(url_for("vehicles.staff.record", vehicle_id=vehicle.id))
    return render("vehicles/new.html", status=submitted_status(form), form=form)


def _record(vehicle: Vehicle, status: int = 200, **forms: Any) -> Response:
    session = Session()
    status_form = forms.get("status_form") or StatusForm()
    status_form.status.choices = [
        SelectChoice(s.value, STATUS_LABELS[s]) for s in vehicles.allowed_moves(session, vehicle)
    ]
    return render(
        "vehicles/record.html",
        status=status,
        vehicle=vehicle,
        contract=vehicles.live_contract(session, vehicle.id),
        history=vehicles.history(session, vehicle.id),
        status_labels=STATUS_LABELS,
        form=forms.get("form") or _choices(VehicleForm(obj=vehicle)),
        status_form=status_form,
        delete_form=DeleteForm(),
        may_delete=current_user.role == Role.ADMIN
        and not vehicles.has_history(session, vehicle.id),
        delete_error=forms.get("delete_error"),
    )


@staff.route("/<int:vehicle_id>/expediente", methods=["GET", "POST"])
def record(vehicle_id: int) -> Response:
    vehicle = _vehicle(vehicle_id)
    form = _choices(VehicleForm(obj=vehicle))
    if form.validate_on_submit():
        with form_action(form) as action:
            vehicles.update_vehicle(
                Session(),
                vehicle,
                vehicle_data(form),
                actor_id=current_user.id,
                today_year=local_today().year,
                ip=client_ip(),
            )
        if action.ok:
            return done(url_for("vehicles.staff.record", vehicle_id=vehicle.id))
    return _record(vehicle, submitted_status(form), form=form)


@staff.post("/<int:vehicle_id>/estado")
def change_status(vehicle_id: int) -> Response:
    vehicle = _vehicle(vehicle_id)
    form = StatusForm()
    form.status.choices = [SelectChoice(s.value, STATUS_LABELS[s]) for s in VehicleStatus]
    if form.validate_on_submit():
        with form_action(form, "status") as action:
            vehicles.change_status(
                Session(),
                vehicle,
                VehicleStatus(form.status.data),
                actor_id=current_user.id,
                reason=form.reason.data or "",
                ip=client_ip(),
            )
        if action.ok:
            return done(url_for("vehicles.staff.record", vehicle_id=vehicle.id))
    return _record(vehicle, 422, status_form=form)


@staff.post("/<int:vehicle_id>/borrar")
def delete(vehicle_id: int) -> Response:
    """An admin removes a car entered by mistake; one with history is refused."""
    if current_user.role != Role.ADMIN:
        abort(403)
    vehicle = _vehicle(vehicle_id)
    form = DeleteForm()
    if not form.validate_on_submit():
        return _record(vehicle, 422)
    with form_action() as action:
        vehicles.delete_vehicle(Session(), vehicle, actor_id=current_user.id, ip=client_ip())
    if action.ok:
        flash(_("The car was deleted."), "success")
        return done(url_for("vehicles.admin.catalogue"))
    return _record(vehicle, 422, delete_error=action.error)


@admin.route("", methods=["GET", "POST"])
def catalogue() -> Response:
    form = ModelForm()
    if form.validate_on_submit():
        data = vehicles.ModelData(
            make=form.make.data or "",
            model=form.model.data or "",
            battery_kwh=form.battery_kwh.data,
            range_km=form.range_km.data or 0,
            connector_type=ConnectorType(form.connector_type.data),
            max_ac_kw=form.max_ac_kw.data,
            max_dc_kw=form.max_dc_kw.data,
        )
        with form_action(form) as action:
            vehicles.add_model(Session(), data, actor_id=current_user.id, ip=client_ip())
        if action.ok:
            return done(url_for("vehicles.admin.catalogue"))
    return render(
        "vehicles/catalogue.html",
        status=submitted_status(form),
        form=form,
        models=vehicles.list_models(Session()),
    )
