"""Credit decisions (who, when, why, override) and the contract proposed for a band."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import (
    ApplicationStatus,
    CreditApplication,
    CreditDecision,
    Outcome,
    Role,
    User,
)
from portal.services import N_, DomainError, FieldError, NotAllowed, audit
from portal.services.credit.scoring import latest_score

MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})


def latest_decision(session: Session, application_id: int) -> CreditDecision | None:
    return session.scalar(
        select(CreditDecision)
        .where(CreditDecision.application_id == application_id)
        .order_by(CreditDecision.id.desc())
        .limit(1)
    )


def list_decisions(session: Session, application_id: int) -> list[CreditDecision]:
    return list(
        session.scalars(
            select(CreditDecision)
            .where(CreditDecision.application_id == application_id)
            .order_by(CreditDecision.id.desc())
        )
    )


#: Weekly rent before the band's adjustment, by vehicle (MXN).
BASE_WEEKLY_RENT = {"BYD Dolphin Mini": 3_600, "JAC E10X": 3_300}


#: By band: rent adjustment (MXN a week), deposit (weeks of rent), term (weeks).
BAND_TERMS = {
    "A": (-500, 1, 156),
    "B": (-300, 1, 156),
    "C": (0, 2, 156),
    "D": (300, 3, 182),
    "E": (600, 4, 182),
}


RENT_FLOOR_MXN, RENT_CEILING_MXN = 2_800, 4_200


@dataclass(frozen=True)
class Proposal:
    weekly_rent_cents: int
    deposit_cents: int
    term_weeks: int


def propose_contract(band: str, vehicle: str) -> Proposal:
    """The contract offered for a band and vehicle (see ``docs/credit.md``): the
    vehicle's base rent plus the band's adjustment, kept within 2,800-4,200 MXN a week
    (the money note's assumption); a deposit of 1-4 weeks of rent; 156 or 182 weeks."""
    if band not in BAND_TERMS:
        raise DomainError(N_("Unknown risk band %(band)s."), band=band)
    base = BASE_WEEKLY_RENT.get(vehicle, max(BASE_WEEKLY_RENT.values()))
    adjustment, deposit_weeks, term = BAND_TERMS[band]
    rent = min(max(base + adjustment, RENT_FLOOR_MXN), RENT_CEILING_MXN)
    return Proposal(rent * 100, rent * deposit_weeks * 100, term)


def decide(
    session: Session,
    application: CreditApplication,
    outcome: Outcome,
    *,
    actor: User,
    reason: str = "",
    ip: str | None = None,
) -> CreditDecision:
    """A person's decision on a scored or referred application.

    Following the policy result is open to staff; anything else is an override, and a
    decision on a referred application is a manual review: both need a manager (or an
    administrator) and a reason, recorded as who approved it. Approvals carry the
    contract proposed for the score's band and the requested vehicle. Audited.
    """
    if application.status not in (ApplicationStatus.SCORED, ApplicationStatus.REFERRED):
        raise DomainError(N_("Only a scored or referred application can be decided."))
    score = latest_score(session, application.id)
    if score is None or score.application_revision != application.revision:
        raise DomainError(N_("The application has no current score yet."))
    reason = reason.strip()
    override = outcome != score.policy_result and score.policy_result != Outcome.REFER
    review = score.policy_result == Outcome.REFER
    if outcome == Outcome.REFER and application.status == ApplicationStatus.REFERRED:
        raise DomainError(N_("The application is already referred for review."))
    if (override or review) and actor.role not in MANAGERS:
        raise NotAllowed(N_("Only a manager can decide against the policy or on a referral."))
    if (override or review) and len(reason) < 5:
        raise FieldError("reason", N_("Say why; a decision against the policy needs a reason."))
    proposal = propose_contract(score.band, application.requested_vehicle)
    approve = outcome == Outcome.APPROVE
    decision = CreditDecision(
        application_id=application.id,
        score_id=score.id,
        outcome=outcome,
        policy_result=score.policy_result.value,
        automatic=False,
        override=override,
        decided_by_id=actor.id,
        approved_by_id=actor.id if (override or review) else None,
        reason=reason or None,
        proposed_weekly_rent_cents=proposal.weekly_rent_cents if approve else None,
        proposed_deposit_cents=proposal.deposit_cents if approve else None,
        proposed_term_weeks=proposal.term_weeks if approve else None,
    )
    session.add(decision)
    application.status = {
        Outcome.APPROVE: ApplicationStatus.APPROVED,
        Outcome.DECLINE: ApplicationStatus.DECLINED,
        Outcome.REFER: ApplicationStatus.REFERRED,
    }[outcome]
    session.flush()
    audit.record(
        session,
        actor.id,
        "credit.override" if override else "credit.decided",
        application,
        ip=ip,
        outcome=outcome.value,
        policy_result=score.policy_result.value,
        score=score.score,
        reason=reason or None,
        decision_id=decision.id,
    )
    return decision
