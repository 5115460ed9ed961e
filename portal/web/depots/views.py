"""Depots: the list and a new one with its tariff; a depot's page with its edits."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import abort, flash, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.db import Session
from portal.htmx import render
from portal.models import TARIFF_PERIODS, Depot, DepotEnergyPrice, TariffKind
from portal.security import client_ip
from portal.services import depots
from portal.services.charging import prices as charging
from portal.web.kit import done, form_action, submitted_status

from . import admin
from .forms import DepotForm, EnergyPriceForm, NewDepotForm, RetireForm, TariffForm


def depot_data(form: DepotForm) -> depots.DepotData:
    return depots.DepotData(
        code=form.code.data or "",
        name=form.name.data or "",
        address=form.address.data or "",
        timezone=form.timezone.data or "",
        site_power_kw=form.site_power_kw.data or Decimal(0),
    )


def tariff_data(form: TariffForm) -> depots.TariffData:
    kind = TariffKind(form.kind.data)
    prices = {
        p: getattr(form, f"energy_{p.value}").data or Decimal(0) for p in TARIFF_PERIODS[kind]
    }
    return depots.TariffData(
        kind=kind,
        effective_from=form.effective_from.data,
        energy_mxn_per_kwh=prices,
        capacity_mxn_per_kw=form.capacity_mxn_per_kw.data,
        distribution_mxn_per_kw=form.distribution_mxn_per_kw.data,
        fixed_mxn_per_month=form.fixed_mxn_per_month.data,
        transmission_mxn_per_kwh=form.transmission_mxn_per_kwh.data or Decimal(0),
    )


def _depot(depot_id: int) -> Depot:
    depot = Session.get(Depot, depot_id)
    if depot is None:
        abort(404)
    return depot


def _page(depot: Depot, status: int = 200, **forms: Any) -> Response:
    session = Session()
    prices = session.query(DepotEnergyPrice).filter_by(depot_id=depot.id)
    return render(
        "depots/detail.html",
        status=status,
        depot=depot,
        tariffs=depots.tariff_history(session, depot.id),
        prices=prices.order_by(DepotEnergyPrice.valid_from.desc()).all(),
        form=forms.get("form") or DepotForm(obj=depot),
        tariff_form=forms.get("tariff_form") or TariffForm(kind=depot.cfe_tariff),
        price_form=forms.get("price_form") or EnergyPriceForm(),
        retire_form=RetireForm(),
        retire_error=forms.get("retire_error"),
    )


@admin.route("", methods=["GET", "POST"])
def index() -> Response:
    form = NewDepotForm()
    if form.validate_on_submit():
        with form_action(form) as action:
            depot = depots.create_depot(
                Session(),
                depot_data(form),
                tariff_data(form),
                actor_id=current_user.id,
                ip=client_ip(),
            )
        if action.ok:
            flash(_("Depot %(code)s created.", code=depot.code), "success")
            return done(url_for("depots.admin.detail", depot_id=depot.id))
    return render(
        "depots/list.html",
        status=submitted_status(form),
        form=form,
        depots=depots.list_depots(Session(), include_retired=True),
    )


@admin.route("/<int:depot_id>", methods=["GET", "POST"])
def detail(depot_id: int) -> Response:
    depot = _depot(depot_id)
    form = DepotForm(obj=depot)
    if form.validate_on_submit():
        with form_action(form) as action:
            depots.update_depot(
                Session(), depot, depot_data(form), actor_id=current_user.id, ip=client_ip()
            )
        if action.ok:
            return done(url_for("depots.admin.detail", depot_id=depot.id))
    return _page(depot, submitted_status(form), form=form)


@admin.post("/<int:depot_id>/tarifa")
def tariff(depot_id: int) -> Response:
    depot = _depot(depot_id)
    form = TariffForm()
    if form.validate_on_submit():
        with form_action(form) as action:
            depots.set_tariff(
                Session(), depot, tariff_data(form), actor_id=current_user.id, ip=client_ip()
            )
        if action.ok:
            flash(_("Tariff saved."), "success")
            return done(url_for("depots.admin.detail", depot_id=depot.id))
    return _page(depot, 422, tariff_form=form)


@admin.post("/<int:depot_id>/precio")
def energy_price(depot_id: int) -> Response:
    depot = _depot(depot_id)
    form = EnergyPriceForm()
    if form.validate_on_submit():
        with form_action(form, "price") as action:
            charging.set_energy_price(
                Session(),
                depot.id,
                form.valid_from.data,
                form.price.data or 0,
                actor_id=current_user.id,
            )
        if action.ok:
            return done(url_for("depots.admin.detail", depot_id=depot.id))
    return _page(depot, 422, price_form=form)


@admin.post("/<int:depot_id>/baja")
def retire(depot_id: int) -> Response:
    depot = _depot(depot_id)
    form = RetireForm()
    if not form.validate_on_submit():
        return _page(depot, 422)
    with form_action() as action:
        depots.retire_depot(Session(), depot, actor_id=current_user.id, ip=client_ip())
    if action.ok:
        return done(url_for("depots.admin.detail", depot_id=depot.id))
    return _page(depot, 422, retire_error=action.error)
