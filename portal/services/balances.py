"""Each driver's account summary (`driver_balances`), kept current on posting.

The collections list and the dashboard's overdue figures need, per driver, the
balance, the last payment and when the oldest unpaid charge was posted (credits pay
charges oldest first). Computed live that is a sum over the whole ledger plus a walk
of each owing driver's charges; kept here, it is one row per driver.

`refresh` recomputes the summary of the drivers a posting touched, in the posting's
transaction, with the same statement as the live one (`live_accounts`) restricted to
those drivers. It first locks their summary rows (`SELECT … FOR UPDATE`, in driver
order), then recomputes in a new statement: under READ COMMITTED that statement sees
every posting committed before the lock was granted, so two transactions posting for
the same driver leave the summary of both.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Select, case, func, or_, select, text, true, update
from sqlalchemy.orm import Session

from portal.models import DriverBalance, EntryKind, LedgerEntry

BATCH = 1000
_PENDING = "balances.pending"  # key in `session.info`: drivers to refresh at the end


def live_accounts(driver_ids: Sequence[int] | None = None) -> Select:
    """driver_id, balance, last_payment, oldest (oldest unpaid charge's posting time,
    NULL unless the balance is positive), straight from the ledger."""
    le = LedgerEntry
    totals = select(
        le.driver_id.label("driver_id"),
        func.sum(le.amount_cents).label("balance"),
        func.max(case((le.kind == EntryKind.PAYMENT, le.posted_at))).label("last_payment"),
    ).group_by(le.driver_id)
    if driver_ids is not None:
        totals = totals.where(le.driver_id.in_(driver_ids))
    sums = totals.cte("totals")
    # The oldest unpaid charge, walking each owing driver's charges newest first (the
    # ledger index, backwards): it is the first one at which the charges so far reach
    # the balance. Only the weeks a driver owes are read, not their whole history.
    newest_first = (le.posted_at.desc(), le.id.desc())
    walked = (
        select(
            le.posted_at.label("posted_at"),
            func.sum(le.amount_cents).over(order_by=newest_first).label("reached"),
        )
        .where(le.driver_id == sums.c.driver_id, le.amount_cents > 0)
        .order_by(*newest_first)
        .correlate(sums)
        .subquery("walked")
    )
    first_reaching = (
        select(walked.c.posted_at)
        .where(sums.c.balance > 0, walked.c.reached >= sums.c.balance)
        .limit(1)
        .correlate(sums)
        .lateral("first_reaching")
    )
    return (
        select(
            sums.c.driver_id,
            sums.c.balance,
            sums.c.last_payment,
            first_reaching.c.posted_at.label("oldest"),
        )
        .select_from(sums)
        .outerjoin(first_reaching, true())
    )


def stored_accounts() -> Select:
    """The same columns as `live_accounts`, from the summary table."""
    db = DriverBalance
    return select(
        db.driver_id.label("driver_id"),
        db.balance_cents.label("balance"),
        db.last_payment_at.label("last_payment"),
        db.oldest_unpaid_at.label("oldest"),
    )


@contextmanager
def batched(session: Session) -> Iterator[None]:
    """Refresh every driver posted to inside the block once, at its end (still in the
    transaction), instead of after each posting: for bulk work such as the demo seed,
    which posts thousands of entries. The summary rows are locked only at the end."""
    if _PENDING in session.info:  # already batching: the outer block refreshes
        yield
        return
    session.info[_PENDING] = set()
    try:
        yield
    finally:
        pending: set[int] = session.info.pop(_PENDING)
    refresh(session, pending)


def repair(session: Session) -> list[int]:
    """Drivers whose summary differs from the ledger, refreshed: the nightly check that
    the summary is only ever a copy of the sums (a posting that bypassed `refresh`, a
    hand-made correction in SQL). Returns the drivers it had to fix."""
    live = live_accounts().subquery("live")
    kept = stored_accounts().subquery("kept")
    driver = func.coalesce(live.c.driver_id, kept.c.driver_id)
    differs = or_(
        func.coalesce(live.c.balance, 0) != func.coalesce(kept.c.balance, 0),
        live.c.last_payment.is_distinct_from(kept.c.last_payment),
        live.c.oldest.is_distinct_from(kept.c.oldest),
    )
    joined = live.join(kept, live.c.driver_id == kept.c.driver_id, full=True)
    ids = list(session.scalars(select(driver).select_from(joined).where(differs)))
    refresh(session, ids)
    return ids


def refresh(session: Session, driver_ids: Iterable[int]) -> None:
    """Bring these drivers' summaries up to date with the ledger (call after posting)."""
    pending = session.info.get(_PENDING)
    if pending is not None:
        pending.update(driver_ids)
        return
    ids = sorted(set(driver_ids))
    if not ids:
        return
    for i in range(0, len(ids), BATCH):
        _refresh(session, ids[i : i + BATCH])


# The summary rows that do not exist yet, in one statement compiled once (a VALUES list
# is compiled anew for every number of drivers: the OCPP server refreshes a batch of
# stops at a time, each batch a different size).
_OPEN_ACCOUNTS = text(
    "INSERT INTO driver_balances (driver_id, balance_cents, updated_at)"
    " SELECT unnest(CAST(:ids AS int[])), 0, now() ON CONFLICT (driver_id) DO NOTHING"
)


def _refresh(session: Session, ids: list[int]) -> None:
    db = DriverBalance
    now = func.now()
    session.execute(_OPEN_ACCOUNTS, {"ids": ids})
    # The lock first, the recompute in the next statement (a fresh snapshot that sees
    # whatever a concurrent poster for these drivers committed while we waited).
    session.execute(
        select(db.driver_id).where(db.driver_id.in_(ids)).order_by(db.driver_id).with_for_update()
    )
    live = live_accounts(ids).subquery("live")
    session.execute(
        update(db)
        .where(db.driver_id.in_(ids), db.driver_id == live.c.driver_id)
        .values(
            balance_cents=live.c.balance,
            oldest_unpaid_at=live.c.oldest,
            last_payment_at=live.c.last_payment,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
