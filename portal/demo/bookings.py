"""Demo charging bookings for today and tomorrow (called by `portal.demo.seed.seed_demo`
after the demo chargers exist).

A few drivers under contract at each demo depot get a slot: today the next free hours
still ahead, tomorrow a morning slot. The first driver (the one `make run` prints, and
the one the browser tests log in as) is left without bookings so they can book. Made
through `book_slot`, so the limits and the no-overlap rule hold; running it again adds
nothing (each driver's daily limit is reached).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.models import Contract, ContractStatus, Depot, Driver, Vehicle
from portal.services import DomainError
from portal.services.charging.bookings import book_slot, bookable_days, depot_zone

DRIVERS_PER_DEPOT = 4


def seed_bookings(session: Session, now: datetime | None = None) -> int:
    """Book the demo slots that are missing; return how many were made."""
    now = now or utcnow()
    first_driver = session.scalar(
        select(Driver.id)
        .join(Contract, Contract.driver_id == Driver.id)
        .where(Contract.status == ContractStatus.ACTIVE)
        .order_by(Driver.user_id)
        .limit(1)
    )
    made = 0
    for depot in session.scalars(select(Depot).order_by(Depot.code)):
        drivers = list(
            session.scalars(
                select(Contract.driver_id)
                .join(Vehicle, Vehicle.id == Contract.vehicle_id)
                .where(
                    Contract.status == ContractStatus.ACTIVE,
                    Vehicle.depot_id == depot.id,
                    Contract.driver_id != first_driver,
                )
                .order_by(Contract.driver_id)
                .limit(DRIVERS_PER_DEPOT)
            )
        )
        zone = depot_zone(depot)
        _today, tomorrow = bookable_days(depot, now)
        this_hour = now.astimezone(zone).replace(minute=0, second=0, microsecond=0)
        for n, driver_id in enumerate(drivers):
            wishes = [
                this_hour + timedelta(hours=1 + n // 2),  # today, soon
                datetime.combine(tomorrow, time(7 + n), zone),  # tomorrow morning
            ]
            for start in wishes:
                try:
                    with session.begin_nested():
                        book_slot(session, driver_id, depot.id, start, now=now)
                    made += 1
                except DomainError:
                    continue  # already booked, full, past closing: nothing to add
    session.flush()
    return made
