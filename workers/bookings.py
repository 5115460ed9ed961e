"""The booking clock: reserve connectors when a booking's window opens, release no-shows.

Both run every minute from `rq cron` (workers/cron.py) on the `ocpp` queue; each is
idempotent (a booking moves on only from `booked`/`reserved`) and commits before it
enqueues the ReserveNow / CancelReservation commands it logged, so the command job
always finds its row.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app, has_app_context

from portal.db import Session, utcnow
from portal.services.charging import booking_clock, bookings

from .jobs import job
from .ocpp import enqueue_command

log = logging.getLogger(__name__)


def _rules() -> bookings.BookingRules:
    return bookings.rules_from_config(current_app.config if has_app_context() else {})


@job("ocpp")
def reserve_opening_windows_job() -> int:
    """ReserveNow on the charger for every booking whose window opens now."""
    commands = booking_clock.reserve_opening_windows(Session(), utcnow(), lead=timedelta(minutes=1))
    Session.commit()
    for command in commands:
        enqueue_command(command)
    if commands:
        log.info("asked %d chargers to reserve a connector", len(commands))
    return len(commands)


@job("ocpp")
def release_no_shows_job() -> int:
    """Mark bookings charging/completed from their sessions; release the no-shows."""
    released, commands = booking_clock.release_no_shows(Session(), utcnow(), _rules().no_show_grace)
    Session.commit()
    for command in commands:
        enqueue_command(command)
    if released:
        log.info("released %d no-show bookings", len(released))
    return len(released)
