"""The credit desk (staff, desktop), the policy cut-offs (managers), the model registry
(administrators); the applicant's own form is in applicant_views.py."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.db import Session
from portal.htmx import render
from portal.models import ApplicationStatus, CreditApplication, ModelVersion, Outcome
from portal.security import client_ip
from portal.services.credit import applications, decisions, earnings
from portal.services.credit.features import weekly_sums
from portal.services.credit.models import list_models
from portal.services.credit.scoring import (
    cutoff_history,
    cutoff_values,
    latest_score,
    latest_scores,
    set_cutoffs,
)
from portal.timeutil import local_today
from portal.web.kit import enqueue_after_commit, form_action, submitted_status
from portal.web.labels import CREDIT_STATUS_LABELS, OUTCOME_LABELS, PLATFORM_LABELS
from scoring.store import activate_model, stability_report
from scoring.synthetic import DRIVER_LABELS
from workers.credit import score_application_job

from . import admin, applicant_views, manager, staff  # noqa: F401 - the applicant's routes
from .forms import (
    ActivateForm,
    ApplicationForm,
    CutoffsForm,
    DecisionForm,
    EarningsImportForm,
    ProfileForm,
    QueueFilterForm,
    applicant_data,
    profile_data,
)
from .presenters import earnings_chart, earnings_imported

LABELS = {
    "status_labels": CREDIT_STATUS_LABELS,
    "outcome_labels": OUTCOME_LABELS,
    "platform_labels": PLATFORM_LABELS,
}


def _score_after_commit(application: CreditApplication) -> None:
    """Score the application's current revision once the request commits."""
    enqueue_after_commit(Session(), score_application_job, application.id, application.revision)


def _get(application_id: int) -> CreditApplication:
    application = Session().get(CreditApplication, application_id)
    if application is None:
        abort(404)
    return application


@staff.get("/")
def queue() -> Response:
    session = Session()
    form = QueueFilterForm(request.args)
    if not form.validate():
        return render(
            "credit/queue.html", "results", status=422, form=form, applications=None, **LABELS
        )
    status = ApplicationStatus(form.status.data) if form.status.data else None
    found = applications.list_applications(session, status=status, search=form.q.data or "")
    return render(
        "credit/queue.html",
        "results",
        form=form,
        applications=found,
        scores=latest_scores(session, [a.id for a in found]),
        counts=applications.status_counts(session),
        **LABELS,
    )


def _edit_page(
    application: CreditApplication | None, form: ApplicationForm, status: int = 200, **ctx: Any
) -> Response:
    return render(
        "credit/edit.html",
        status=status,
        application=application,
        form=form,
        import_form=ctx.pop("import_form", EarningsImportForm()),
        profile_form=ctx.pop("profile_form", None) or ProfileForm(formdata=None),
        rfc_warning=application is not None and applications.rfc_warning(application),
        privacy_version=applications.PRIVACY_NOTICE_VERSION,
        **ctx,
        **LABELS,
    )


def _consented(form: ApplicationForm) -> bool:
    if not form.consent.data:
        form.consent.errors = [
            _("Record the applicant's consent before saving; without it we cannot check.")
        ]
    return bool(form.consent.data)


def _saved(application: CreditApplication, message: str) -> Response:
    flash(message, "success")
    return redirect(url_for("credit.staff.edit", application_id=application.id), 303)


@staff.route("/nueva", methods=["GET", "POST"])
def new() -> Response:
    form = ApplicationForm()
    if request.method == "POST" and form.validate() and _consented(form):
        with form_action(form) as action:
            application = applications.create_application(
                Session(),
                applicant_data(form),
                actor_id=current_user.id,
                today=local_today(),
                ip=client_ip(),
            )
            applications.record_consent(
                Session(), application, recorded_by_id=current_user.id, ip=client_ip()
            )
        if action.ok:
            return _saved(application, _("Application saved. Now import the platform earnings."))
    return _edit_page(None, form, status=submitted_status(form))


@staff.route("/<int:application_id>/editar", methods=["GET", "POST"])
def edit(application_id: int) -> Response:
    application = _get(application_id)
    form = ApplicationForm(obj=application if request.method == "GET" else None)
    if request.method == "GET":
        form.consent.data = application.has_consent
        return _edit_page(application, form)
    if form.validate():
        with form_action(form) as action:
            if applications.update_application(
                Session(),
                application,
                applicant_data(form),
                actor_id=current_user.id,
                today=local_today(),
                ip=client_ip(),
            ):
                _score_after_commit(application)
            if form.consent.data:
                applications.record_consent(
                    Session(), application, recorded_by_id=current_user.id, ip=client_ip()
                )
        if action.ok:
            return _saved(application, _("Application saved."))
    return _edit_page(_get(application_id), form, status=422)


def _stored_form(application: CreditApplication) -> ApplicationForm:
    """The application's own form, as stored (beside a form being answered)."""
    form = ApplicationForm(obj=application, formdata=None)
    form.consent.data = application.has_consent
    return form


@staff.post("/<int:application_id>/ganancias")
def import_earnings(application_id: int) -> Response:
    application = _get(application_id)
    import_form = EarningsImportForm()
    upload = import_form.file.data
    if upload is None or not getattr(upload, "filename", ""):
        import_form.file.errors = [_("Choose the aggregator's export file.")]
    else:
        with form_action(import_form, "file") as action:
            result, rescore = earnings.import_earnings(
                Session(),
                application,
                upload.read(),
                upload.filename,
                actor_id=current_user.id,
                today=local_today(),
                ip=client_ip(),
            )
            if rescore:
                _score_after_commit(application)
        if action.ok:
            return _saved(application, earnings_imported(result))
    application = _get(application_id)
    return _edit_page(application, _stored_form(application), status=422, import_form=import_form)


@staff.post("/<int:application_id>/perfil")
def enter_profile(application_id: int) -> Response:
    """A platform profile typed by hand (no aggregator export)."""
    application = _get(application_id)
    profile_form = ProfileForm()
    if profile_form.validate():
        with form_action(profile_form) as action:
            if earnings.record_platform_profile(
                Session(),
                application,
                profile_data(profile_form),
                actor_id=current_user.id,
                today=local_today(),
                ip=client_ip(),
            ):
                _score_after_commit(application)
        if action.ok:
            platform = PLATFORM_LABELS[profile_form.platform.data or ""]
            return _saved(application, _("Profile on %(platform)s saved.", platform=platform))
    application = _get(application_id)
    return _edit_page(application, _stored_form(application), status=422, profile_form=profile_form)


@staff.post("/<int:application_id>/enviar")
def submit(application_id: int) -> Response:
    application = _get(application_id)
    with form_action() as action:
        applications.submit_application(
            Session(), application, actor_id=current_user.id, ip=client_ip()
        )
        _score_after_commit(application)
    if not action.ok:
        flash(action.error or "", "error")
        return _detail(_get(application_id), status=422)
    return redirect(url_for("credit.staff.detail", application_id=application.id), 303)


def _detail(application: CreditApplication, status: int = 200, **ctx: Any) -> Response:
    session = Session()
    score = latest_score(session, application.id)
    days = earnings.list_earnings(session, application.id)
    weeks = weekly_sums([(d.day, d.amount_cents, d.trips) for d in days])
    return render(
        "credit/detail.html",
        "result",
        status=status,
        application=application,
        score=score,
        current=score is not None and score.application_revision == application.revision,
        decisions=decisions.list_decisions(session, application.id),
        proposal=decisions.propose_contract(score.band, application.requested_vehicle)
        if score
        else None,
        earnings=earnings_chart(days),
        weeks=weeks[-9:],
        accounts=application.accounts,
        form=ctx.pop("form", None) or DecisionForm(),
        is_manager=current_user.role in decisions.MANAGERS,
        cutoffs=cutoff_values(session),
        rfc_warning=applications.rfc_warning(application),
        **ctx,
        **LABELS,
    )


@staff.route("/<int:application_id>", methods=["GET", "POST"])
def detail(application_id: int) -> Response:
    """The application; for htmx only the result block (polled while scoring).

    The page of an application still waiting for its score asks once, with a POST, for
    its scoring again (a no-op while one is queued or running: jobs are unique per
    revision), so an application whose job was lost does not wait forever; a GET only
    reads."""
    application = _get(application_id)
    if request.method == "POST" and application.status == ApplicationStatus.SCORING:
        score_application_job.delay(application.id, application.revision)
    return _detail(application)


@staff.post("/<int:application_id>/decision")
def decide(application_id: int) -> Response:
    application = _get(application_id)
    form = DecisionForm()
    if form.validate():
        with form_action(form, "reason") as action:
            decisions.decide(
                Session(),
                application,
                Outcome(form.outcome.data),
                actor=current_user,
                reason=form.reason.data or "",
                ip=client_ip(),
            )
        if action.ok:
            flash(_("Decision recorded."), "success")
            return redirect(url_for("credit.staff.detail", application_id=application.id), 303)
    return _detail(_get(application_id), status=422, form=form)


@manager.route("/politica", methods=["GET", "POST"])
def policy() -> Response:
    session = Session()
    form = CutoffsForm()
    current = cutoff_values(session)
    if request.method == "GET":
        form.approve_at.data, form.decline_below.data = current
    elif form.validate():
        with form_action(form) as action:
            set_cutoffs(
                session,
                approve_at=form.approve_at.data or 0,
                decline_below=form.decline_below.data or 0,
                actor_id=current_user.id,
                reason=form.reason.data or "",
                ip=client_ip(),
            )
        if action.ok:
            flash(_("Cut-offs saved."), "success")
            return redirect(url_for("credit.manager.policy"), 303)
    return render(
        "credit/policy.html",
        status=submitted_status(form),
        form=form,
        current=current,
        history=cutoff_history(session),
    )


@admin.get("/")
def models() -> Response:
    session = Session()
    versions = list_models(session)
    active = next((v for v in versions if v.active), None)
    stability = None
    if active is not None:
        try:
            stability = stability_report(session, active)
        except Exception:  # an unreadable artifact must not hide the registry
            stability = None
    return render(
        "credit/models.html",
        versions=versions,
        active=active,
        stability=stability,
        form=ActivateForm(),
        feature_labels=DRIVER_LABELS,
    )


@admin.post("/<int:version_id>/activar")
def activate(version_id: int) -> Response:
    if Session().get(ModelVersion, version_id) is None:
        abort(404)
    with form_action() as action:
        version = activate_model(Session(), version_id, actor_id=current_user.id, ip=client_ip())
    if action.ok:
        flash(_("Model %(name)s is now active.", name=version.name), "success")
    else:
        flash(action.error or "", "error")
    return redirect(url_for("credit.admin.models"), 303)
