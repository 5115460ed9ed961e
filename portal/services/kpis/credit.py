"""The credit panel: applications and decisions per week, the approval rate, and early
delinquency by cohort (contracts by start month that went 30+ days past due within
their first 26 weeks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Date, DateTime, cast, delete, func, insert, literal, select, text
from sqlalchemy.orm import Session

from portal import clock
from portal.models import (
    Contract,
    KpiContractOutcome,
    LedgerEntry,
    Vehicle,
)
from portal.models.credit import CreditApplication, CreditDecision, Outcome
from portal.services.credit.outcomes import OBSERVATION_WEEKS, contract_outcomes
from portal.services.kpis.period import ZONE_NAME, each_day, no_jit, period_bounds
from portal.timeutil import local_today

DELINQUENCY_WEEKS = OBSERVATION_WEEKS


COHORT_MONTHS = 18


@dataclass(frozen=True, slots=True)
class CreditPanel:
    applications: int  # submitted in the period
    decided: int  # applications whose latest decision is in the period
    approved: int
    declined: int
    referred: int
    weekly: list[tuple[date, int, int]]  # week, submitted, approved

    @property
    def approval_rate(self) -> float:
        return self.approved / self.decided if self.decided else 0.0


def credit_panel(session: Session, start: date, end: date, depot_id: int | None) -> CreditPanel:
    """Applications and decisions (the depot filter does not apply: an application has
    no depot until its contract)."""
    no_jit(session)
    del depot_id
    since, until = period_bounds(start, end)
    submitted_at = func.timezone(ZONE_NAME, CreditApplication.submitted_at)
    week = func.greatest(
        cast(func.date_trunc("week", submitted_at), Date),
        literal(start, Date),
    ).label("week")
    submitted = {
        w: int(n)
        for w, n in session.execute(
            select(week, func.count())
            .where(CreditApplication.submitted_at >= since, CreditApplication.submitted_at < until)
            .group_by(text("week"))
        )
    }
    latest = select(
        CreditDecision.application_id,
        CreditDecision.outcome,
        CreditDecision.created_at,
        func.row_number()
        .over(
            partition_by=CreditDecision.application_id,
            order_by=(CreditDecision.created_at.desc(), CreditDecision.id.desc()),
        )
        .label("n"),
    ).subquery()
    dweek = func.greatest(
        cast(func.date_trunc("week", func.timezone(ZONE_NAME, latest.c.created_at)), Date),
        literal(start, Date),
    ).label("dweek")
    decisions: dict[date, dict[str, int]] = {}
    for w, outcome, n in session.execute(
        select(dweek, latest.c.outcome, func.count())
        .where(latest.c.n == 1, latest.c.created_at >= since, latest.c.created_at < until)
        .group_by(text("dweek"), latest.c.outcome)
    ):
        decisions.setdefault(w, {})[str(outcome)] = int(n)
    weeks = sorted({max(start, d - timedelta(days=d.weekday())) for d in each_day(start, end)})
    total = {o.value: sum(v.get(o.value, 0) for v in decisions.values()) for o in Outcome}
    return CreditPanel(
        applications=sum(submitted.values()),
        decided=sum(total.values()),
        approved=total[Outcome.APPROVE.value],
        declined=total[Outcome.DECLINE.value],
        referred=total[Outcome.REFER.value],
        weekly=[
            (w, submitted.get(w, 0), decisions.get(w, {}).get(Outcome.APPROVE.value, 0))
            for w in weeks
        ],
    )


@dataclass(frozen=True, slots=True)
class Cohort:
    month: date  # the first of the month the contracts started in
    contracts: int
    judged: int  # observed contracts whose first 26 weeks are over (or that went bad)
    bad: int  # went 30+ days past due within their first 26 weeks
    unobserved: int = 0  # started before the ledger's history: their weeks are not in it

    @property
    def too_young(self) -> bool:
        """Some contracts are still in their first 26 weeks: the rate would be partial."""
        return self.judged < self.contracts - self.unobserved

    @property
    def rate(self) -> float | None:
        """Over the contracts the ledger saw; None while too young or if it saw none."""
        return None if self.too_young or not self.judged else self.bad / self.judged


@dataclass(frozen=True, slots=True)
class DelinquencyPanel:
    cohorts: list[Cohort]  # oldest first
    computed_at: datetime | None  # when the outcomes were refreshed; None: live now


def refresh_contract_outcomes(session: Session, today: date) -> int:
    """Recompute every contract's early-delinquency outcome (`credit.contract_outcomes`,
    the definition the labelled-outcomes export uses) and replace the stored ones."""
    outcomes = contract_outcomes(session, today)
    session.execute(delete(KpiContractOutcome))
    now = clock.now()
    if outcomes:
        session.execute(
            insert(KpiContractOutcome),
            [
                {"contract_id": c, "went_bad": bad, "computed_at": now}
                for c, bad in outcomes.items()
            ],
        )
    return len(outcomes)


def early_delinquency(
    session: Session, end: date, depot_id: int | None, months: int = COHORT_MONTHS
) -> DelinquencyPanel:
    """Contracts by the month they started (the `months` months up to `end`'s), and how
    many went 30+ days past due within their first 26 weeks. Reads the outcomes the
    nightly job stored; computes them live if it never ran. A contract started since the
    last refresh counts as not yet judged."""
    computed_at = session.scalar(select(func.max(KpiContractOutcome.computed_at)))
    if computed_at is None:
        outcomes = contract_outcomes(session, local_today())
    else:
        outcomes = {
            contract_id: went_bad
            for contract_id, went_bad in session.execute(
                select(KpiContractOutcome.contract_id, KpiContractOutcome.went_bad)
            )
        }
    last = end.replace(day=1)
    first = last
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    # A contract is observed if the ledger has its driver's entries from its first week
    # (its first rent): one probe of the (driver, posted_at) index per contract.
    observed = (
        select(LedgerEntry.id)
        .where(
            LedgerEntry.driver_id == Contract.driver_id,
            LedgerEntry.posted_at
            < func.timezone(ZONE_NAME, cast(Contract.starts_on + 7, DateTime)),
        )
        .exists()
    )
    query = select(Contract.id, Contract.starts_on, observed).where(
        Contract.starts_on >= first, Contract.starts_on <= end
    )
    if depot_id:
        query = query.join(Vehicle, Vehicle.id == Contract.vehicle_id).where(
            Vehicle.depot_id == depot_id
        )
    counts: dict[date, list[int]] = {}
    for contract_id, starts_on, seen in session.execute(query):
        cell = counts.setdefault(starts_on.replace(day=1), [0, 0, 0, 0])
        outcome = outcomes.get(contract_id) if seen else None
        cell[0] += 1
        cell[1] += outcome is not None
        cell[2] += outcome is True
        cell[3] += not seen
    cohorts = []
    month = first
    while month <= last:
        cohorts.append(Cohort(month, *counts.get(month, [0, 0, 0, 0])))
        month = (month + timedelta(days=32)).replace(day=1)
    return DelinquencyPanel(cohorts, computed_at)
