"""The policy cut-offs that turn a score into approve, refer or decline, and the scores
recorded. Scoring itself needs the engine: `scoring.store.score_application`.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.models import (
    ApplicationStatus,
    CreditApplication,
    CreditScore,
    Outcome,
    PolicyCutoffs,
)
from portal.services import N_, FieldError, audit

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
