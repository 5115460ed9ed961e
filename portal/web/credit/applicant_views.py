"""The applicant's own application (public, no log-in, for a phone): ``/solicitud``."""

from __future__ import annotations

from typing import Any

from flask import redirect, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from portal import limits
from portal.db import Session
from portal.htmx import render
from portal.security import client_ip
from portal.services import DomainError
from portal.services.credit.applications import PRIVACY_NOTICE_VERSION
from portal.services.credit.earnings import ProfileData, clean_profile
from portal.services.credit.self_service import (
    EarningsFile,
    TooManyApplications,
    apply_as_applicant,
)
from portal.timeutil import local_today
from portal.web.kit import enqueue_after_commit, field_error, form_action
from portal.web.labels import PLATFORM_LABELS
from workers.credit import score_application_job

from . import applicant
from .forms import ProfileEntry, SelfServiceForm, applicant_data, profile_data

SENT_KEY = "credit_application_sent"


def _page(form: SelfServiceForm, status: int = 200) -> Response:
    return render(
        "credit/apply/form.html",
        status=status,
        form=form,
        privacy_version=PRIVACY_NOTICE_VERSION,
    )


def _profiles(form: SelfServiceForm) -> list[ProfileData]:
    """The profiles filled in, each checked (errors go on its own fields)."""
    profiles = []
    for entry in form.profiles.entries:
        sub: ProfileEntry = entry.form
        if not sub.filled:
            continue
        data = profile_data(sub)
        try:
            clean_profile(data, local_today())
        except DomainError as error:
            field_error(sub, error)
            continue
        profiles.append(data)
    return profiles


def _accepted(form: SelfServiceForm) -> bool:
    """The applicant's consent and the privacy notice, each said on its own field."""
    if not form.consent.data:
        form.consent.errors = [_("Without your authorization we cannot assess the application.")]
    if not form.privacy.data:
        form.privacy.errors = [_("Read and accept the privacy notice to continue.")]
    return bool(form.consent.data and form.privacy.data)


def _earnings_file(form: SelfServiceForm) -> EarningsFile | None:
    upload = form.file.data
    if upload is None or not getattr(upload, "filename", ""):
        return None
    return EarningsFile(upload.read(), upload.filename)


@applicant.route("", methods=["GET", "POST"])
@limits.application_limits
def apply() -> Response:
    form = SelfServiceForm()
    if request.method == "GET":
        return _page(form)
    valid = form.validate()
    valid = _accepted(form) and valid  # both said, whatever the fields say
    profiles = _profiles(form)
    if not valid or any(entry.errors for entry in form.profiles.entries):
        return _page(form, status=422)
    with form_action(form) as action:
        application = apply_as_applicant(
            Session(),
            applicant_data(form),
            profiles=profiles,
            earnings=_earnings_file(form),
            ip=client_ip(),
            today=local_today(),
        )
        enqueue_after_commit(Session(), score_application_job, application.id, application.revision)
    if isinstance(action.exception, TooManyApplications):
        return _page(form, status=429)
    if not action.ok:
        return _page(form, status=422)
    session[SENT_KEY] = {"id": application.id, "name": application.first_name}
    return redirect(url_for("credit.applicant.sent"), 303)


@applicant.get("/enviada")
def sent() -> Response:
    """The confirmation: the folio and what happens next (never the score or reasons)."""
    sent_: dict[str, Any] | None = session.get(SENT_KEY)
    if sent_ is None:
        return redirect(url_for("credit.applicant.apply"), 303)
    return render("credit/apply/sent.html", sent=sent_, platform_labels=PLATFORM_LABELS)
