"""The collections panel: billed and collected per week, and the amount owed by late
drivers bucketed by days late (the collections list's own statement, aggregated).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, literal, select, text
from sqlalchemy.orm import Session

from portal.services.collections import Sort, collections_query
from portal.services.kpis.daily import Days, panel_days
from portal.services.kpis.period import each_day, no_jit
from portal.timeutil import monday_of

# Days-late buckets for the overdue amounts: (lowest day, highest day or None).
AGE_BUCKETS: tuple[tuple[int, int | None], ...] = ((1, 7), (8, 14), (15, 30), (31, 60), (61, None))


@dataclass(frozen=True, slots=True)
class CollectionsPanel:
    billed_cents: int  # charges posted in the period (net of reversals of charges)
    collected_cents: int  # payments received in the period
    drivers_late: int  # owing today, counted late as of the end of the period
    overdue: list[tuple[tuple[int, int | None], int, int]]  # bucket, cents, drivers
    weekly: list[tuple[date, int, int]]  # week's Monday (or start), billed, collected

    @property
    def collection_rate(self) -> float:
        return self.collected_cents / self.billed_cents if self.billed_cents else 0.0

    @property
    def overdue_cents(self) -> int:
        return sum(cents for _, cents, _ in self.overdue)


def collections_summary(
    session: Session,
    start: date,
    end: date,
    depot_id: int | None,
    days: Days | None = None,
    *,
    live: bool = False,
) -> CollectionsPanel:
    days = panel_days(session, start, end, depot_id, "collections", days)
    no_jit(session)
    sums: dict[date, tuple[int, int]] = {}
    for d, cell in days.by_day().items():
        week = max(start, monday_of(d))
        billed, collected = sums.get(week, (0, 0))
        sums[week] = (billed + cell.billed_cents, collected + cell.collected_cents)
    weeks = sorted({max(start, monday_of(d)) for d in each_day(start, end)})
    weekly = [(w, *sums.get(w, (0, 0))) for w in weeks]
    # Overdue by age: the collections list itself, aggregated by days late. Its
    # balances are today's (the account summary every posting keeps current; `live`
    # recomputes them from the ledger, to the same figures), aged as of the end of the
    # period: for a past period, what is still owed today and how late it was then.
    owing = collections_query(
        end, depot_id=depot_id, min_days=1, search="", owing_only=True, sort=Sort.DAYS, live=live
    ).subquery()
    bucket_case = case(
        *[
            (
                owing.c.days_late <= high if high is not None else owing.c.days_late >= low,
                literal(n),
            )
            for n, (low, high) in enumerate(AGE_BUCKETS)
        ],
    )
    buckets = {
        int(n): (int(cents or 0), int(drivers))
        for n, cents, drivers in session.execute(
            select(bucket_case.label("bucket"), func.sum(owing.c.balance), func.count()).group_by(
                text("bucket")
            )
        )
    }
    overdue = [(b, *buckets.get(n, (0, 0))) for n, b in enumerate(AGE_BUCKETS)]
    return CollectionsPanel(
        billed_cents=sum(b for _, b, _ in weekly),
        collected_cents=sum(c for _, _, c in weekly),
        drivers_late=sum(d for _, _, d in overdue),
        overdue=overdue,
        weekly=weekly,
    )
