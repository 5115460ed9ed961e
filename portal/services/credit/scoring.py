"""Scoring an application with the active model, and the policy cut-offs that turn a
score into approve, refer or decline.

The model itself is the ``scoring`` engine; this module records what the engine said.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.models import (
    ApplicationStatus,
    CreditApplication,
    CreditDecision,
    CreditScore,
    ModelVersion,
    Outcome,
    PolicyCutoffs,
)
from portal.services import N_, DomainError, FieldError, audit
from portal.services.credit.applications import check_scorable
from portal.services.credit.features import application_features
from portal.services.credit.models import get_active_model, load_version

#: Cut-offs used until a manager sets some: approve at 560 points or more (a PD of about
#: 7 %), decline below 525 (about 19 %), refer in between.
DEFAULT_APPROVE_AT = 560


DEFAULT_DECLINE_BELOW = 525


MIN_SCORE, MAX_SCORE = 300, 900


def current_cutoffs(session: Session) -> PolicyCutoffs | None:
    return session.scalar(select(PolicyCutoffs).order_by(PolicyCutoffs.id.desc()).limit(1))


def cutoff_values(session: Session) -> tuple[int, int]:
    """(approve at or above, decline below) in force."""
    current = current_cutoffs(session)
    if current is None:
        return DEFAULT_APPROVE_AT, DEFAULT_DECLINE_BELOW
    return current.approve_at_or_above, current.decline_below


def policy_result(score: int, approve_at: int, decline_below: int) -> Outcome:
    if score >= approve_at:
        return Outcome.APPROVE
    if score < decline_below:
        return Outcome.DECLINE
    return Outcome.REFER


def set_cutoffs(
    session: Session,
    *,
    approve_at: int,
    decline_below: int,
    actor_id: int,
    reason: str,
    ip: str | None = None,
) -> PolicyCutoffs:
    for field, value in (("approve_at", approve_at), ("decline_below", decline_below)):
        if not MIN_SCORE <= value <= MAX_SCORE:
            raise FieldError(
                field,
                N_("A cut-off must be between %(low)d and %(high)d points."),
                low=MIN_SCORE,
                high=MAX_SCORE,
            )
    if decline_below > approve_at:
        raise FieldError(
            "decline_below", N_("The decline cut-off cannot be above the approval cut-off.")
        )
    if len(reason.strip()) < 5:
        raise FieldError("reason", N_("Say why the cut-offs change."))
    previous = cutoff_values(session)
    cutoffs = PolicyCutoffs(
        approve_at_or_above=approve_at,
        decline_below=decline_below,
        set_by_id=actor_id,
        reason=reason.strip()[:300],
    )
    session.add(cutoffs)
    session.flush()
    audit.record(
        session,
        actor_id,
        "credit.cutoffs_set",
        cutoffs,
        ip=ip,
        previous={"approve_at": previous[0], "decline_below": previous[1]},
        approve_at=approve_at,
        decline_below=decline_below,
        reason=reason.strip(),
    )
    return cutoffs


def _reason_texts(frame_row: Any, features: dict[str, float], top: int) -> list[dict[str, Any]]:
    """The model's reason codes; a model trained without Spanish texts (e.g. by the
    CLI on exported outcomes) gets the driver templates with the applicant's value."""
    from scoring.synthetic import DRIVER_LABELS, DRIVER_REASON_TEMPLATES

    reasons = []
    for r in range(1, top + 1):
        feature = frame_row[f"reason_{r}"]
        if feature is None or feature != feature:
            continue
        text = str(frame_row[f"reason_{r}_text"])
        if feature in DRIVER_REASON_TEMPLATES and text.startswith(feature):
            value = features.get(feature)
            shown = "—" if value is None or value != value else f"{value:,.6g}"
            text = DRIVER_REASON_TEMPLATES[feature] % {
                "bin": shown,
                "label": DRIVER_LABELS[feature],
            }
        reasons.append(
            {"feature": feature, "text": text, "points": int(frame_row[f"reason_{r}_points"])}
        )
    return reasons


def score_application(
    session: Session,
    application_id: int,
    model: ModelVersion | None = None,
    *,
    today: date,
) -> CreditScore:
    """Score an application with `model` (the active one by default): features, PD,
    score, band, reason codes and the policy result. An application whose policy
    result is refer goes to manual review; the others wait for a person's decision."""
    import pandas as pd

    from scoring import score_applications

    application = session.get(CreditApplication, application_id)
    if application is None:
        raise DomainError(N_("That application does not exist."))
    check_scorable(application)
    version = model or get_active_model(session)
    if version is None:
        raise DomainError(N_("No credit model is active; an administrator must activate one."))
    saved = load_version(version)
    features = application_features(session, application, today)
    frame = pd.DataFrame([features])
    result = score_applications(saved, frame, top_reasons=3).iloc[0]
    score = int(result["score"])
    approve_at, decline_below = cutoff_values(session)
    cutoffs = current_cutoffs(session)
    outcome = policy_result(score, approve_at, decline_below)
    credit_score = CreditScore(
        application_id=application.id,
        model_version_id=version.id,
        pd=Decimal(str(round(float(result["pd"]), 5))),
        score=score,
        band=str(result["band"]),
        reason_codes=_reason_texts(result, features, 3),
        features={k: (None if v != v else v) for k, v in features.items()},
        policy_result=outcome,
        cutoffs_id=cutoffs.id if cutoffs else None,
        application_revision=application.revision,
        synthetic=version.synthetic,
    )
    session.add(credit_score)
    session.flush()
    application.scoring_error = None
    if outcome == Outcome.REFER:
        application.status = ApplicationStatus.REFERRED
        session.add(
            CreditDecision(
                application_id=application.id,
                score_id=credit_score.id,
                outcome=Outcome.REFER,
                policy_result=outcome.value,
                automatic=True,
            )
        )
    else:
        application.status = ApplicationStatus.SCORED
    session.flush()
    return credit_score


def mark_scoring_failed(session: Session, application_id: int, message: str) -> None:
    application = session.get(CreditApplication, application_id)
    if application is None:
        return
    application.status = (
        ApplicationStatus.SUBMITTED
        if application.status == ApplicationStatus.SCORING
        else application.status
    )
    application.scoring_error = message[:300]
    session.flush()


def latest_score(session: Session, application_id: int) -> CreditScore | None:
    return session.scalar(
        select(CreditScore)
        .where(CreditScore.application_id == application_id)
        .order_by(CreditScore.id.desc())
        .limit(1)
    )


def latest_scores(session: Session, application_ids: list[int]) -> dict[int, CreditScore]:
    if not application_ids:
        return {}
    newest = (
        select(func.max(CreditScore.id))
        .where(CreditScore.application_id.in_(application_ids))
        .group_by(CreditScore.application_id)
    )
    return {
        s.application_id: s
        for s in session.scalars(select(CreditScore).where(CreditScore.id.in_(newest)))
    }


def cutoff_history(session: Session, limit: int = 20) -> list[PolicyCutoffs]:
    return list(
        session.scalars(select(PolicyCutoffs).order_by(PolicyCutoffs.id.desc()).limit(limit))
    )
