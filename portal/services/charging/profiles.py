"""What the chargers made of the charging profiles the depot's plan sent them.

After a charger answers a SetChargingProfile (`workers.ocpp` calls `after_answer`):

- **Accepted**: the portal asks it for its composite schedule on that outlet
  (GetCompositeSchedule, a command that names the profile's command in `confirms`) and,
  when that answer comes, compares it with the profile sent: within `TOLERANCE_KW`
  (W) or `TOLERANCE_A` (A) at every change of either schedule, the profile is
  *confirmed*, else it *differs* (another profile, a lower local limit). The outcome is
  kept in the profile command's `response` under `composite`
  (`{"command_id", "verdict", "difference_kw"}`); the charger's own answer stays as it
  came. A charger that accepts a profile no longer counts as refusing them.
- **Refused** (Rejected, NotSupported, or a CALLERROR NotImplemented/NotSupported): the
  charger is recorded as refusing profiles (`Charger.profiles_refused_at`). The depot's
  next plans take its cars at full power (uncontrolled, a fixed load) and send it none.
  A TxProfile rejected because its transaction ended meanwhile does not count.

Services flush; the caller commits and enqueues what they return.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from charging import profiles as cp
from portal.db import utcnow
from portal.models import (
    Charger,
    ChargerCommand,
    ChargerConnector,
    ChargingPlan,
    ChargingSession,
    CommandAction,
    CommandStatus,
    SessionStatus,
)
from portal.services.charging.commands import CALL_ERROR, request_command

TOLERANCE_KW = 0.1  # a profile in W is confirmed within 100 W
TOLERANCE_A = 1.0  # a profile in A within 1 A per phase
MAX_DURATION_S = 86_400
SLOT_S = 15 * 60  # the last period of a plan's profile lasts one slot

CONFIRMED = "confirmed"
DIFFERS = "differs"
UNCONFIRMED = "unconfirmed"  # the charger did not give its composite schedule

_REFUSED_STATUSES = {"Rejected", "NotSupported"}
_REFUSED_ERRORS = ("NotImplemented", "NotSupported")


def refused(command: ChargerCommand) -> bool:
    """Whether a SetChargingProfile's answer says the charger does not take profiles."""
    if command.action != CommandAction.SET_CHARGING_PROFILE:
        return False
    if command.status == CommandStatus.REJECTED:
        return (command.response or {}).get("status") in _REFUSED_STATUSES
    return (
        command.status == CommandStatus.FAILED
        and command.error == CALL_ERROR
        and (command.error_detail or "").startswith(_REFUSED_ERRORS)
    )


def after_answer(session: Session, command: ChargerCommand) -> ChargerCommand | None:
    """Act on a finished command's answer; a GetCompositeSchedule to enqueue after the
    commit, if one was asked."""
    if command.action == CommandAction.GET_COMPOSITE_SCHEDULE:
        check_composite(session, command)
        return None
    if command.action != CommandAction.SET_CHARGING_PROFILE:
        return None
    charger = session.get(Charger, command.charger_id)
    if charger is None:
        return None
    if refused(command):
        if not _transaction_gone(session, command):
            charger.profiles_refused_at = command.answered_at or utcnow()
            session.flush()
        return None
    if command.status != CommandStatus.ACCEPTED:
        return None
    charger.profiles_refused_at = None
    if not command.params.get("evse_id"):
        return None  # a profile on the whole charger: no outlet to ask about
    asked = request_command(
        session,
        charger.id,
        CommandAction.GET_COMPOSITE_SCHEDULE,
        {
            "evse_id": command.params["evse_id"],
            "duration_s": _duration(command.params, utcnow()),
            "unit": command.params.get("unit", "W"),
            "confirms": command.id,
        },
        None,
    )
    if asked.status.finished:  # the charger went offline meanwhile
        check_composite(session, asked)
    return asked


def _transaction_gone(session: Session, command: ChargerCommand) -> bool:
    """A TxProfile for a transaction that has ended meanwhile: its Rejected says nothing
    about the charger's profiles (1.6 rejects a TxProfile without its transaction)."""
    transaction_id = command.params.get("transaction_id")
    if command.params.get("purpose") != "tx" or transaction_id is None:
        return False
    running = session.scalar(
        select(ChargingSession.id).where(
            ChargingSession.charger_id == command.charger_id,
            ChargingSession.transaction_id == str(transaction_id),
            ChargingSession.status == SessionStatus.ACTIVE,
        )
    )
    return running is None


def _sent_start(params: dict[str, Any], fallback: datetime) -> datetime:
    return cp.parse_time(params.get("start_at")) or fallback


def _sent_periods(params: dict[str, Any]) -> list[cp.Period]:
    return [cp.Period(int(p["start_s"]), float(p["limit_kw"])) for p in params["periods"]]


def _duration(params: dict[str, Any], now: datetime) -> int:
    """From now to the end of the profile's last period (one slot long), within a day."""
    last = max(int(p["start_s"]) for p in params["periods"]) + SLOT_S
    end = _sent_start(params, now) + timedelta(seconds=last)
    return max(60, min(MAX_DURATION_S, int((end - now).total_seconds())))


def _answered(response: dict[str, Any]) -> tuple[datetime, str, list[cp.Period], int] | None:
    """(start, unit, periods in kW, duration) of a composite schedule of either version."""
    schedule = response.get("schedule") or response.get("charging_schedule")
    if response.get("status") != "Accepted" or not schedule:
        return None
    start = cp.parse_time(
        schedule.get("schedule_start")
        or response.get("schedule_start")
        or schedule.get("start_schedule")
    )
    if start is None:
        return None
    unit = schedule.get("charging_rate_unit", "W")
    periods = [
        cp.Period(int(p["start_period"]), cp.to_kw(p["limit"], unit, p.get("number_phases")))
        for p in sorted(
            schedule.get("charging_schedule_period") or [], key=lambda p: p["start_period"]
        )
    ]
    return start, unit, periods, int(schedule.get("duration") or MAX_DURATION_S)


def check_composite(session: Session, composite: ChargerCommand) -> str | None:
    """Compare a GetCompositeSchedule's answer with the profile it confirms and record the
    verdict on the profile's command; the verdict (None when it confirms nothing)."""
    confirms = composite.params.get("confirms")
    sent = session.get(ChargerCommand, confirms) if confirms else None
    if sent is None:
        return None
    answer = _answered(composite.response or {}) if composite.status.finished else None
    difference = None
    if answer is None:
        verdict = UNCONFIRMED
    else:
        start, unit, periods, duration = answer
        difference = cp.largest_difference(
            _sent_periods(sent.params),
            _sent_start(sent.params, sent.sent_at or sent.requested_at),
            periods,
            start,
            duration,
        )
        tolerance = cp.to_kw(TOLERANCE_A, "A") if unit == "A" else TOLERANCE_KW
        verdict = CONFIRMED if difference <= tolerance + 1e-9 else DIFFERS
    sent.response = {
        **(sent.response or {}),
        "composite": {
            "command_id": composite.id,
            "verdict": verdict,
            "difference_kw": round(difference, 3) if difference is not None else None,
        },
    }
    session.flush()
    return verdict


# --- what the screens show -------------------------------------------------------------

SENT = "sent"
FAILED = "failed"
REFUSES = "refuses"  # the charger refuses profiles: the car charges at full power


@dataclass(frozen=True)
class ProfileState:
    state: str  # SENT, CONFIRMED, DIFFERS, UNCONFIRMED, FAILED or REFUSES
    command_id: int | None = None


def refusing_connectors(session: Session, depot_id: int) -> set[int]:
    """The connectors (ids) of the depot's chargers that refuse charging profiles."""
    return set(
        session.scalars(
            select(ChargerConnector.id)
            .join(Charger, Charger.id == ChargerConnector.charger_id)
            .where(Charger.depot_id == depot_id, Charger.profiles_refused_at.is_not(None))
        )
    )


def plan_profiles(session: Session, plan: ChargingPlan) -> dict[str, ProfileState]:
    """Per car of the plan (its key): where its profile stands — the charger refuses
    profiles, or the last profile sent to its outlet since the plan was made: sent,
    confirmed, differs, unconfirmed or failed."""
    refusing = refusing_connectors(session, plan.depot_id)
    connectors = {
        c.id: c
        for c in session.scalars(
            select(ChargerConnector).where(
                ChargerConnector.id.in_([car["connector_id"] for car in plan.cars.values()])
            )
        )
    }
    commands = session.scalars(
        select(ChargerCommand)
        .where(
            ChargerCommand.charger_id.in_({c.charger_id for c in connectors.values()}),
            ChargerCommand.action == CommandAction.SET_CHARGING_PROFILE,
            ChargerCommand.requested_at >= plan.created_at,
        )
        .order_by(ChargerCommand.id)
    )
    latest = {(c.charger_id, c.params.get("evse_id")): c for c in commands}
    states = {}
    for key, car in plan.cars.items():
        connector = connectors.get(car["connector_id"])
        if connector is None:
            continue
        if connector.id in refusing or car.get("uncontrolled"):
            states[key] = ProfileState(REFUSES)
            continue
        command = latest.get((connector.charger_id, connector.evse_id))
        if command is not None:
            states[key] = ProfileState(_state(command), command.id)
    return states


def _state(command: ChargerCommand) -> str:
    if command.status == CommandStatus.ACCEPTED:
        return str((command.response or {}).get("composite", {}).get("verdict") or SENT)
    if command.status.finished:
        return FAILED
    return SENT
