"""Drivers: the list, a new one (by hand or from an approved application), a driver's
record with contact data, suspension and access."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.db import Session, utcnow
from portal.htmx import render
from portal.models import CreditApplication, Driver
from portal.security import client_ip
from portal.services import drivers, resets
from portal.services.contracts import reads as contract_reads
from portal.services.credit.applications import PRIVACY_NOTICE_VERSION
from portal.sms import build_sms_client
from portal.timeutil import local_today
from portal.web.kit import done, form_action, submitted_status

from . import staff
from .forms import AccessForm, ContactForm, DriverForm, ReasonForm, SearchForm


def sms_text(code: str) -> str:
    return _(
        "LAFA: your code to set your password is %(code)s. It expires in 30 minutes. "
        "Do not share it.",
        code=code,
    )


def contact_data(form: ContactForm) -> drivers.ContactData:
    return drivers.ContactData(
        phone=form.phone.data or "",
        email=form.email.data,
        address=form.address.data,
        postal_code=form.postal_code.data,
        licence_number=form.licence_number.data,
        licence_expires_on=form.licence_expires_on.data,
    )


def _driver(driver_id: int) -> Driver:
    driver = Session.get(Driver, driver_id)
    if driver is None:
        abort(404)
    return driver


@staff.get("/conductores")
def index() -> Response:
    form = SearchForm(request.args)
    found = drivers.search_drivers(Session(), form.q.data or "") if form.validate() else []
    return render(
        "drivers/list.html",
        "results",
        form=form,
        drivers=found,
        approved=contract_reads.approved_without_driver(Session()),
    )


@staff.route("/conductores/nuevo", methods=["GET", "POST"])
def new() -> Response:
    form = DriverForm()
    if form.validate_on_submit():
        data = _driver_data(form)
        consent = form.privacy_notice.data
        with form_action(form) as action:
            driver = drivers.create_driver(
                Session(),
                data,
                actor_id=current_user.id,
                today=local_today(),
                consent_at=utcnow() if consent else None,
                privacy_notice_version=PRIVACY_NOTICE_VERSION if consent else None,
                ip=client_ip(),
            )
        if action.ok:
            flash(_("Driver created. Give them a code to set their password."), "success")
            return done(url_for("drivers.staff.record", driver_id=driver.id))
    return render("drivers/new.html", status=submitted_status(form), form=form)


def _driver_data(form: DriverForm) -> drivers.DriverData:
    return drivers.DriverData(
        first_name=form.first_name.data or "",
        last_name=form.last_name.data or "",
        second_last_name=form.second_last_name.data,
        curp=form.curp.data or "",
        phone=form.phone.data or "",
        rfc=form.rfc.data,
        email=form.email.data,
        licence_number=form.licence_number.data,
        licence_expires_on=form.licence_expires_on.data,
        address=form.address.data,
        postal_code=form.postal_code.data,
    )


@staff.post("/credito/<int:application_id>/conductor")
def from_application(application_id: int) -> Response:
    """One action: the approved application becomes the driver; then the contract form."""
    application = Session.get(CreditApplication, application_id)
    if application is None:
        abort(404)
    with form_action() as action:
        driver = drivers.create_from_application(
            Session(), application, actor_id=current_user.id, today=local_today(), ip=client_ip()
        )
    if not action.ok:
        flash(action.error or "", "error")
        return done(url_for("credit.staff.detail", application_id=application_id))
    return done(url_for("contracts.staff.new", driver=driver.id))


def _record(driver: Driver, status: int = 200, **forms: Any) -> Response:
    session = Session()
    return render(
        "drivers/record.html",
        status=status,
        driver=driver,
        contracts=contract_reads.driver_contracts(session, driver.id),
        form=forms.get("form") or ContactForm(obj=driver),
        reason_form=forms.get("reason_form") or ReasonForm(),
        access_form=AccessForm(),
        issued=forms.get("issued"),
        error=forms.get("error"),
        sms_on=build_sms_client(current_app.config) is not None,
    )


@staff.route("/conductores/<int:driver_id>/ficha", methods=["GET", "POST"])
def record(driver_id: int) -> Response:
    driver = _driver(driver_id)
    form = ContactForm(obj=driver)
    if form.validate_on_submit():
        with form_action(form) as action:
            drivers.update_contact(
                Session(),
                driver,
                contact_data(form),
                actor_id=current_user.id,
                today=local_today(),
                ip=client_ip(),
            )
        if action.ok:
            return done(url_for("drivers.staff.record", driver_id=driver.id))
    return _record(driver, submitted_status(form), form=form)


@staff.post("/conductores/<int:driver_id>/<any(suspender, reactivar):change>")
def change(driver_id: int, change: str) -> Response:
    driver = _driver(driver_id)
    form = ReasonForm()
    if form.validate_on_submit():
        with form_action(form, "reason") as action:
            if change == "suspender":
                drivers.suspend(
                    Session(),
                    driver,
                    actor_id=current_user.id,
                    reason=form.reason.data or "",
                    ip=client_ip(),
                )
            else:
                drivers.reactivate(Session(), driver, actor_id=current_user.id, ip=client_ip())
        if action.ok:
            return done(url_for("drivers.staff.record", driver_id=driver.id))
    return _record(driver, 422, reason_form=form)


@staff.post("/conductores/<int:driver_id>/acceso")
def access(driver_id: int) -> Response:
    """A code and link for the driver to set their password: shown here once, or sent
    to their phone."""
    driver = _driver(driver_id)
    form = AccessForm()
    if driver.user is None or not form.validate_on_submit():
        return _record(driver, 422)
    sms = build_sms_client(current_app.config) if form.by_sms.data else None
    with form_action() as action:
        issued = resets.issue_reset(
            Session(), driver.user, actor=current_user, sms=sms, message=sms_text, ip=client_ip()
        )
    if not action.ok:
        return _record(driver, 422, error=action.error)
    if not issued.shown_on_screen:
        flash(_("The code is on its way to %(phone)s.", phone=driver.phone), "success")
        return done(url_for("drivers.staff.record", driver_id=driver.id))
    link = url_for("users.public.link", token=issued.token, _external=True)
    return _record(driver, issued={"code": issued.code, "link": link})
