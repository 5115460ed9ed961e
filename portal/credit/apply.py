"""The applicant's own application (public, no log-in, for a phone): ``/solicitud``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, redirect, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as WerkzeugResponse

from portal import limits
from portal.db import Session
from portal.htmx import render
from portal.security import client_ip
from portal.services import DomainError, credit
from portal.timeutil import local_today
from workers.credit import score_application_job

from .forms import PLATFORM_LABELS, ProfileEntry, SelfServiceForm
from .views import _applicant_data, _field_error, profile_data

bp = Blueprint("credit_apply", __name__)

SENT_KEY = "credit_application_sent"


def _page(form: SelfServiceForm, status: int = 200) -> Response:
    return render(
        "credit/apply/form.html",
        status=status,
        form=form,
        privacy_version=credit.PRIVACY_NOTICE_VERSION,
    )


def _entry_errors(form: SelfServiceForm) -> list[credit.ProfileData]:
    """The profiles filled in, each checked (errors go on its own fields)."""
    profiles = []
    today = local_today()
    for entry in form.profiles.entries:
        sub: ProfileEntry = entry.form
        if not sub.filled:
            continue
        data = profile_data(sub)
        try:
            credit.clean_profile(data, today)
        except DomainError as error:
            _field_error(sub, error)
            continue
        profiles.append(data)
    return profiles


@bp.route("", methods=["GET", "POST"])
@limits.application_limits
def apply() -> Response | WerkzeugResponse:
    form = SelfServiceForm()
    if request.method == "GET":
        return _page(form)
    valid = form.validate()
    if not form.consent.data:
        form.consent.errors = [_("Without your authorization we cannot assess the application.")]
        valid = False
    if not form.privacy.data:
        form.privacy.errors = [_("Read and accept the privacy notice to continue.")]
        valid = False
    profiles = _entry_errors(form)
    if not valid or any(entry.errors for entry in form.profiles.entries):
        return _page(form, status=422)
    upload = form.file.data
    earnings = None
    if upload is not None and getattr(upload, "filename", ""):
        earnings = credit.EarningsFile(upload.read(), upload.filename)
    db = Session()
    try:
        application = credit.apply_as_applicant(
            db,
            _applicant_data(form),
            profiles=profiles,
            earnings=earnings,
            ip=client_ip(),
            today=local_today(),
        )
    except credit.TooManyApplications as error:
        db.rollback()
        form.form_errors.append(_(error.message, **error.params))
        return _page(form, status=429)
    except DomainError as error:
        db.rollback()
        _field_error(form, error)
        return _page(form, status=422)
    db.commit()
    score_application_job.delay(application.id, application.revision)
    session[SENT_KEY] = {"id": application.id, "name": application.first_name}
    return redirect(url_for("credit_apply.sent"), 303)


@bp.get("/enviada")
def sent() -> Response | WerkzeugResponse:
    """The confirmation: the folio and what happens next (never the score or reasons)."""
    sent_: dict[str, Any] | None = session.get(SENT_KEY)
    if sent_ is None:
        return redirect(url_for("credit_apply.apply"), 303)
    return render("credit/apply/sent.html", sent=sent_, platform_labels=PLATFORM_LABELS)
