"""The credit desk (staff, desktop), the policy cut-offs (managers), the model registry
(administrators)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import Session as OrmSession
from werkzeug.wrappers import Response as WerkzeugResponse

from portal.db import Session
from portal.htmx import htmx, render
from portal.models import ApplicationStatus, CreditApplication, ModelVersion, Outcome, Role
from portal.security import client_ip, require_roles
from portal.services import DomainError, FieldError, NotAllowed
from portal.services.credit import decisions, earnings
from portal.services.credit.applications import (
    PRIVACY_NOTICE_VERSION,
    ApplicantData,
    create_application,
    list_applications,
    record_consent,
    rfc_warning,
    status_counts,
    submit_application,
    update_application,
)
from portal.services.credit.decisions import MANAGERS, list_decisions, propose_contract
from portal.services.credit.earnings import (
    ProfileData,
    list_earnings,
    record_platform_profile,
)
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
from scoring.store import activate_model, stability_report
from scoring.synthetic import DRIVER_LABELS
from workers.credit import score_application_job

from .chart import earnings_chart
from .forms import (
    OUTCOME_LABELS,
    PLATFORM_LABELS,
    STATUS_LABELS,
    ActivateForm,
    ApplicationForm,
    CutoffsForm,
    DecisionForm,
    EarningsImportForm,
    ProfileForm,
    QueueFilterForm,
)

bp = Blueprint("credit", __name__)
require_roles(bp, [Role.STAFF, Role.MANAGER, Role.ADMIN])
policy_bp = Blueprint("credit_policy", __name__)
require_roles(policy_bp, [Role.MANAGER, Role.ADMIN])
models_bp = Blueprint("credit_models", __name__)
require_roles(models_bp, [Role.ADMIN])

LABELS = {
    "status_labels": STATUS_LABELS,
    "outcome_labels": OUTCOME_LABELS,
    "platform_labels": PLATFORM_LABELS,
}


def _queue_scoring(application: CreditApplication) -> None:
    score_application_job.delay(application.id, application.revision)


def _get(session: OrmSession, application_id: int) -> CreditApplication:
    application = session.get(CreditApplication, application_id)
    if application is None:
        abort(404)
    return application


@bp.get("/")
def queue() -> Response:
    session = Session()
    form = QueueFilterForm(request.args)
    if not form.validate():
        return render(
            "credit/queue.html", "results", status=422, form=form, applications=None, **LABELS
        )
    status = ApplicationStatus(form.status.data) if form.status.data else None
    applications = list_applications(session, status=status, search=form.q.data or "")
    return render(
        "credit/queue.html",
        "results",
        form=form,
        applications=applications,
        scores=latest_scores(session, [a.id for a in applications]),
        counts=status_counts(session),
        **LABELS,
    )


def _applicant_data(form: ApplicationForm) -> ApplicantData:
    return ApplicantData(
        first_name=form.first_name.data or "",
        last_name=form.last_name.data or "",
        second_last_name=form.second_last_name.data,
        curp=form.curp.data or "",
        rfc=form.rfc.data,
        phone=form.phone.data or "",
        email=form.email.data,
        licence_number=form.licence_number.data,
        licence_expires_on=form.licence_expires_on.data,
        address=form.address.data,
        requested_vehicle=form.requested_vehicle.data or "",
    )


def _field_error(form: Any, error: DomainError) -> None:
    name = getattr(error, "field", None)
    target = getattr(form, name, None) if name else None
    message = _(error.message, **error.params)
    if target is None:
        form.form_errors.append(message)
    else:
        target.errors = [*target.errors, message]


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
        rfc_warning=application is not None and rfc_warning(application),
        privacy_version=PRIVACY_NOTICE_VERSION,
        **ctx,
        **LABELS,
    )


def _saved(
    session: OrmSession, application: CreditApplication, rescore: bool, message: str
) -> WerkzeugResponse:
    """Commit a change to an application, queue its scoring if its data changed, and
    go back to the form with ``message``."""
    session.commit()
    if rescore:
        _queue_scoring(application)
    flash(message, "success")
    return redirect(url_for("credit.edit", application_id=application.id), 303)


@bp.route("/nueva", methods=["GET", "POST"])
def new() -> Response | WerkzeugResponse:
    session = Session()
    form = ApplicationForm()
    if request.method == "GET":
        return _edit_page(None, form)
    if not form.validate():
        return _edit_page(None, form, status=422)
    if not form.consent.data:
        form.consent.errors = [
            _("Record the applicant's consent before saving; without it we cannot check.")
        ]
        return _edit_page(None, form, status=422)
    try:
        application = create_application(
            session,
            _applicant_data(form),
            actor_id=current_user.id,
            today=local_today(),
            ip=client_ip(),
        )
        record_consent(session, application, recorded_by_id=current_user.id, ip=client_ip())
    except DomainError as error:
        session.rollback()
        _field_error(form, error)
        return _edit_page(None, form, status=422)
    session.commit()
    flash(_("Application saved. Now import the platform earnings."), "success")
    return redirect(url_for("credit.edit", application_id=application.id), 303)


@bp.route("/<int:application_id>/editar", methods=["GET", "POST"])
def edit(application_id: int) -> Response | WerkzeugResponse:
    session = Session()
    application = _get(session, application_id)
    form = ApplicationForm(obj=application if request.method == "GET" else None)
    if request.method == "GET":
        form.consent.data = application.has_consent
        return _edit_page(application, form)
    if not form.validate():
        return _edit_page(application, form, status=422)
    try:
        rescore = update_application(
            session,
            application,
            _applicant_data(form),
            actor_id=current_user.id,
            today=local_today(),
            ip=client_ip(),
        )
        if form.consent.data:
            record_consent(session, application, recorded_by_id=current_user.id, ip=client_ip())
    except DomainError as error:
        session.rollback()
        _field_error(form, error)
        return _edit_page(_get(session, application_id), form, status=422)
    return _saved(session, application, rescore, _("Application saved."))


@bp.post("/<int:application_id>/ganancias")
def import_earnings(application_id: int) -> Response | WerkzeugResponse:
    session = Session()
    application = _get(session, application_id)
    import_form = EarningsImportForm()
    upload = import_form.file.data
    form = ApplicationForm(obj=application)
    form.consent.data = application.has_consent
    if upload is None or not getattr(upload, "filename", ""):
        import_form.file.errors = [_("Choose the aggregator's export file.")]
        return _edit_page(application, form, status=422, import_form=import_form)
    try:
        result, rescore = earnings.import_earnings(
            session,
            application,
            upload.read(),
            upload.filename,
            actor_id=current_user.id,
            today=local_today(),
            ip=client_ip(),
        )
    except DomainError as error:
        session.rollback()
        import_form.file.errors = [_(error.message, **error.params)]
        application = _get(session, application_id)
        return _edit_page(application, form, status=422, import_form=import_form)
    message = _(
        "%(rows)d days of earnings imported (%(platforms)s).",
        rows=result.rows,
        platforms=", ".join(PLATFORM_LABELS[p] for p in result.platforms),
    )
    return _saved(session, application, rescore, message)


def profile_data(form: ProfileForm) -> ProfileData:
    return ProfileData(
        platform=form.platform.data or "",
        rating=form.rating.data,
        acceptance_pct=form.acceptance_pct.data,
        cancellation_pct=form.cancellation_pct.data,
        lifetime_trips=form.lifetime_trips.data,
        first_trip_on=form.first_trip_on.data,
        debt_pending=form.debt_pending.data,
    )


@bp.post("/<int:application_id>/perfil")
def enter_profile(application_id: int) -> Response | WerkzeugResponse:
    """A platform profile typed by hand (no aggregator export)."""
    session = Session()
    application = _get(session, application_id)
    profile_form = ProfileForm()
    form = ApplicationForm(obj=application, formdata=None)
    form.consent.data = application.has_consent
    if not profile_form.validate():
        return _edit_page(application, form, status=422, profile_form=profile_form)
    try:
        rescore = record_platform_profile(
            session,
            application,
            profile_data(profile_form),
            actor_id=current_user.id,
            today=local_today(),
            ip=client_ip(),
        )
    except DomainError as error:
        session.rollback()
        _field_error(profile_form, error)
        application = _get(session, application_id)
        return _edit_page(application, form, status=422, profile_form=profile_form)
    platform = PLATFORM_LABELS[profile_form.platform.data or ""]
    return _saved(
        session, application, rescore, _("Profile on %(platform)s saved.", platform=platform)
    )


@bp.post("/<int:application_id>/enviar")
def submit(application_id: int) -> Response | WerkzeugResponse:
    session = Session()
    application = _get(session, application_id)
    try:
        submit_application(session, application, actor_id=current_user.id, ip=client_ip())
    except DomainError as error:
        session.rollback()
        flash(_(error.message, **error.params), "error")
        return _detail(_get(session, application_id), status=422)
    session.commit()
    _queue_scoring(application)
    return redirect(url_for("credit.detail", application_id=application.id), 303)


def _detail(application: CreditApplication, status: int = 200, **ctx: Any) -> Response:
    session = Session()
    score = latest_score(session, application.id)
    days = list_earnings(session, application.id)
    weeks = weekly_sums([(d.day, d.amount_cents, d.trips) for d in days])
    proposal = propose_contract(score.band, application.requested_vehicle) if score else None
    approve_at, decline_below = cutoff_values(session)
    return render(
        "credit/detail.html",
        "result",
        status=status,
        application=application,
        score=score,
        current=score is not None and score.application_revision == application.revision,
        decisions=list_decisions(session, application.id),
        proposal=proposal,
        chart=earnings_chart(days),
        weeks=weeks[-9:],
        accounts=application.accounts,
        form=ctx.pop("form", None) or DecisionForm(),
        is_manager=current_user.role in MANAGERS,
        cutoffs=(approve_at, decline_below),
        rfc_warning=rfc_warning(application),
        **ctx,
        **LABELS,
    )


@bp.get("/<int:application_id>")
def detail(application_id: int) -> Response:
    """The application; for htmx only the result block (polled while scoring).

    Opening the page of an application still waiting for its score queues the job
    again (a no-op while one is queued or running: jobs are unique per revision), so
    an application whose job was lost does not wait forever; the polls do not."""
    application = _get(Session(), application_id)
    if application.status == ApplicationStatus.SCORING and not htmx:
        _queue_scoring(application)
    return _detail(application)


@bp.post("/<int:application_id>/decision")
def decide(application_id: int) -> Response | WerkzeugResponse:
    session = Session()
    application = _get(session, application_id)
    form = DecisionForm()
    if not form.validate():
        return _detail(application, status=422, form=form)
    try:
        decisions.decide(
            session,
            application,
            Outcome(form.outcome.data),
            actor=current_user,
            reason=form.reason.data or "",
            ip=client_ip(),
        )
    except NotAllowed:
        session.rollback()
        abort(403)
    except DomainError as error:
        session.rollback()
        form.reason.errors = [_(error.message, **error.params)]
        return _detail(_get(session, application_id), status=422, form=form)
    session.commit()
    flash(_("Decision recorded."), "success")
    return redirect(url_for("credit.detail", application_id=application.id), 303)


@policy_bp.route("/politica", methods=["GET", "POST"])
def policy() -> Response | WerkzeugResponse:
    session = Session()
    form = CutoffsForm()
    current = cutoff_values(session)
    if request.method == "GET":
        form.approve_at.data, form.decline_below.data = current
    status = 200
    if request.method == "POST":
        if form.validate():
            try:
                set_cutoffs(
                    session,
                    approve_at=form.approve_at.data or 0,
                    decline_below=form.decline_below.data or 0,
                    actor_id=current_user.id,
                    reason=form.reason.data or "",
                    ip=client_ip(),
                )
            except FieldError as error:
                session.rollback()
                _field_error(form, error)
            else:
                session.commit()
                flash(_("Cut-offs saved."), "success")
                return redirect(url_for("credit_policy.policy"), 303)
        status = 422
    return render(
        "credit/policy.html",
        status=status,
        form=form,
        current=current,
        history=cutoff_history(session),
    )


@models_bp.get("/")
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


@models_bp.post("/<int:version_id>/activar")
def activate(version_id: int) -> WerkzeugResponse:
    session = Session()
    if session.get(ModelVersion, version_id) is None:
        abort(404)
    try:
        version = activate_model(session, version_id, actor_id=current_user.id, ip=client_ip())
    except DomainError as error:
        session.rollback()
        flash(_(error.message, **error.params), "error")
        return redirect(url_for("credit_models.models"), 303)
    session.commit()
    flash(_("Model %(name)s is now active.", name=version.name), "success")
    return redirect(url_for("credit_models.models"), 303)
