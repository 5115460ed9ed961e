"""Remote commands to chargers, as staff and drivers send them.

What chargers *say* is written by the OCPP server through `charging.store`; the modules
of this package are what staff, drivers and admins *do*. The screens call, for example:

    command = request_command(session, charger.id, CommandAction.REMOTE_STOP,
                              {"session_id": 12}, requested_by_id=user.id)
    Session.commit()
    enqueue_command(command)            # workers.ocpp: after the commit
    ...
    command = get_command(session, command.id, charger_id=charger.id)  # poll
    command.status.finished, command.status, _(command.error) if command.error

`request_command` validates and normalises the parameters (raising `DomainError` with
a message for the form), logs the command, and fails it at once (status `failed`,
error "The charger is offline.") when the charger is not connected, so no job is
needed. Parameters per action (`CommandAction`):

| action | params |
|---|---|
| remote_start | `id_tag` (str), `evse_id` (int, optional) |
| remote_stop | `session_id` (int) or `transaction_id` (str) |
| unlock_connector | `evse_id` |
| reset | `type`: `soft` or `hard` |
| change_availability | `evse_id` (0 = the whole charger), `operative` (bool) |
| reserve_now | `evse_id`, `id_tag`, `expires_at` (ISO 8601, future), `reservation_id` (int) |
| cancel_reservation | `reservation_id` |
| trigger_message | `message` (one of `TRIGGER_MESSAGES`), `evse_id` (optional) |
| get_configuration | `keys` (list of str; 2.0.1: `Component/Variable`, at least one) |
| change_configuration | `key`, `value` (str; 2.0.1 key: `Component/Variable`) |
| set_charging_profile | `evse_id` (0: site), `limit_kw` or `periods` [{`start_s`, `limit_kw`}], |
|  | `profile_id`, `purpose` (`tx_default`/`tx`/`max`), `stack_level`, `valid_to`, |
|  | `start_at` (ISO 8601), `transaction_id` (with `tx`), `unit` (`W` or `A`) |
| clear_charging_profile | `profile_id` (optional), `evse_id` (optional) |
| get_composite_schedule | `evse_id`, `duration_s` (1-86400), `unit` (`W` or `A`, optional), |
|  | `confirms` (the id of the set_charging_profile command it checks, optional) |
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.models import (
    Charger,
    ChargerCommand,
    ChargerRegistration,
    ChargingSession,
    CommandAction,
    CommandStatus,
    SessionStatus,
)
from portal.services import N_, DomainError, audit
from portal.services.charging.registry import clean_id_tag, existing_charger

TRIGGER_MESSAGES = (
    "BootNotification",
    "Heartbeat",
    "MeterValues",
    "StatusNotification",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
)


# Why a command failed, as English message ids (translated by the view with `_()`).
OFFLINE = N_("The charger is offline.")


NO_ANSWER = N_("The charger did not answer in time.")


CALL_ERROR = N_("The charger answered with an error.")


REJECTED = N_("The charger rejected the command.")


BUS_DOWN = N_("The command service is not running; try again in a minute.")


def request_command(
    session: Session,
    charger_id: int,
    action: CommandAction | str,
    params: dict[str, Any] | None,
    requested_by_id: int | None,
) -> ChargerCommand:
    """Log a remote command for `charger_id`; enqueue it after the commit if still queued.

    Raises `DomainError` for an unknown action or invalid parameters. Returns the log
    row: `queued` (enqueue `workers.ocpp.send_charger_command_job(command.id)`), or
    already `failed` with `error` = OFFLINE when the charger is not connected.
    """
    try:
        action = CommandAction(action)
    except ValueError:
        raise DomainError(N_("Unknown command.")) from None
    charger = existing_charger(session, charger_id)
    if charger.registration != ChargerRegistration.ACCEPTED:
        raise DomainError(N_("The charger is not approved yet."))
    clean = _clean_params(session, charger, action, dict(params or {}))
    command = ChargerCommand(
        charger_id=charger.id,
        action=action,
        params=clean,
        status=CommandStatus.QUEUED,
        requested_by_id=requested_by_id,
        requested_at=utcnow(),
    )
    if not charger.is_online():
        command.status = CommandStatus.FAILED
        command.error = OFFLINE
        command.answered_at = command.requested_at
    session.add(command)
    session.flush()
    if requested_by_id is not None:
        audit.record(
            session,
            requested_by_id,
            f"charger.command.{action.value}",
            charger,
            command_id=command.id,
        )
    return command


def get_command(
    session: Session, command_id: int, charger_id: int | None = None
) -> ChargerCommand | None:
    """The command log row (for polling); with `charger_id`, only if it is that charger's."""
    command = session.get(ChargerCommand, command_id, populate_existing=True)
    if command is None or (charger_id is not None and command.charger_id != charger_id):
        return None
    return command


def list_commands(session: Session, charger_id: int, limit: int = 20) -> list[ChargerCommand]:
    return list(
        session.scalars(
            select(ChargerCommand)
            .where(ChargerCommand.charger_id == charger_id)
            .order_by(ChargerCommand.requested_at.desc(), ChargerCommand.id.desc())
            .limit(limit)
        )
    )


def _int(value: Any, message: str, minimum: int = 0) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise DomainError(message) from None
    if number < minimum:
        raise DomainError(message)
    return number


def _evse(charger: Charger, value: Any, *, allow_zero: bool = False) -> int:
    evse_id = _int(value, N_("Choose a connector."))
    if evse_id == 0 and allow_zero:
        return 0
    if evse_id not in {c.evse_id for c in charger.connectors}:
        raise DomainError(N_("This charger has no connector %(number)s."), number=evse_id)
    return evse_id


def _tag(value: Any) -> str:
    if not str(value or "").strip():
        raise DomainError(N_("Enter an id tag."))
    return clean_id_tag(str(value))


def _future(value: Any) -> str:
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        raise DomainError(N_("Choose when the reservation expires.")) from None
    if when.tzinfo is None:
        raise DomainError(N_("Choose when the reservation expires."))
    if when <= utcnow():
        raise DomainError(N_("The reservation must expire in the future."))
    return when.isoformat()


def _running(session: Session, charger: Charger, params: dict[str, Any]) -> dict[str, Any]:
    """The session running on the charger named by `session_id` or `transaction_id`."""
    query = select(ChargingSession).where(
        ChargingSession.charger_id == charger.id,
        ChargingSession.status == SessionStatus.ACTIVE,
    )
    if params.get("session_id") not in (None, ""):
        query = query.where(
            ChargingSession.id == _int(params["session_id"], N_("Choose a session."))
        )
    elif params.get("transaction_id") not in (None, ""):
        query = query.where(ChargingSession.transaction_id == str(params["transaction_id"]))
    else:
        raise DomainError(N_("Choose a session."))
    running = session.scalar(query)
    if running is None:
        raise DomainError(N_("That charging session is not running on this charger."))
    return {"session_id": running.id, "transaction_id": running.transaction_id}


def _instant(value: Any) -> str:
    """An ISO 8601 instant with its zone, in UTC (a profile's start)."""
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        raise DomainError(N_("Write the date and time.")) from None
    if when.tzinfo is None:
        raise DomainError(N_("Write the date and time."))
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _kw(value: Any, limit: Decimal | None) -> str:
    try:
        kw = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise DomainError(N_("Enter a power limit in kW.")) from None
    top = limit or Decimal("1000")
    if not Decimal(0) <= kw <= top:
        raise DomainError(N_("The power limit must be between 0 and %(max)s kW."), max=top)
    return str(kw)


def _clean_params(
    session: Session, charger: Charger, action: CommandAction, params: dict[str, Any]
) -> dict[str, Any]:
    A = CommandAction
    if action == A.REMOTE_START:
        clean: dict[str, Any] = {"id_tag": _tag(params.get("id_tag"))}
        if params.get("evse_id") not in (None, ""):
            clean["evse_id"] = _evse(charger, params["evse_id"])
        return clean
    if action == A.REMOTE_STOP:
        return _running(session, charger, params)
    if action == A.UNLOCK_CONNECTOR:
        return {"evse_id": _evse(charger, params.get("evse_id"))}
    if action == A.RESET:
        kind = str(params.get("type", "")).lower()
        if kind not in ("soft", "hard"):
            raise DomainError(N_("Choose a soft or a hard reset."))
        return {"type": kind}
    if action == A.CHANGE_AVAILABILITY:
        return {
            "evse_id": _evse(charger, params.get("evse_id", 0), allow_zero=True),
            "operative": bool(params.get("operative")),
        }
    if action == A.RESERVE_NOW:
        return {
            "evse_id": _evse(charger, params.get("evse_id")),
            "id_tag": _tag(params.get("id_tag")),
            "expires_at": _future(params.get("expires_at")),
            "reservation_id": _int(params.get("reservation_id"), N_("Choose a reservation."), 1),
        }
    if action == A.CANCEL_RESERVATION:
        return {
            "reservation_id": _int(params.get("reservation_id"), N_("Choose a reservation."), 1)
        }
    if action == A.TRIGGER_MESSAGE:
        message = str(params.get("message", ""))
        if message not in TRIGGER_MESSAGES:
            raise DomainError(N_("Choose which message to ask for."))
        clean = {"message": message}
        if params.get("evse_id") not in (None, "", 0):
            clean["evse_id"] = _evse(charger, params["evse_id"])
        return clean
    if action == A.GET_CONFIGURATION:
        keys = [str(k).strip() for k in params.get("keys") or [] if str(k).strip()]
        if not keys and charger.ocpp_version == "ocpp2.0.1":
            raise DomainError(N_("Enter a configuration key."))
        return {"keys": keys[:50]}
    if action == A.CHANGE_CONFIGURATION:
        key = str(params.get("key", "")).strip()
        if not key or len(key) > 100:
            raise DomainError(N_("Enter a configuration key."))
        return {"key": key, "value": str(params.get("value", ""))[:500]}
    if action == A.SET_CHARGING_PROFILE:
        evse_id = _evse(charger, params.get("evse_id", 0), allow_zero=True)
        limit = charger.max_kw
        if params.get("periods"):
            periods = [
                {
                    "start_s": _int(p.get("start_s"), N_("Enter when each period starts.")),
                    "limit_kw": _kw(p.get("limit_kw"), limit),
                }
                for p in params["periods"]
            ]
        else:
            periods = [{"start_s": 0, "limit_kw": _kw(params.get("limit_kw"), limit)}]
        purpose = str(params.get("purpose", "tx_default"))
        if purpose not in ("tx_default", "tx", "max"):
            purpose = "tx_default"
        clean = {
            "evse_id": evse_id,
            "profile_id": _int(params.get("profile_id", 1), N_("Choose a profile."), 1),
            "stack_level": _int(params.get("stack_level", 0), N_("Choose a profile.")),
            "purpose": purpose,
            "periods": periods,
        }
        if params.get("valid_to"):
            clean["valid_to"] = _future(params["valid_to"])
        if params.get("start_at"):
            clean["start_at"] = _instant(params["start_at"])
        if purpose == "tx" and params.get("transaction_id") not in (None, ""):
            clean["transaction_id"] = _running(session, charger, params)["transaction_id"]
        if params.get("unit") in ("W", "A"):
            clean["unit"] = params["unit"]
        return clean
    if action == A.CLEAR_CHARGING_PROFILE:
        clean = {}
        if params.get("profile_id") not in (None, ""):
            clean["profile_id"] = _int(params["profile_id"], N_("Choose a profile."), 1)
        if params.get("evse_id") not in (None, ""):
            clean["evse_id"] = _evse(charger, params["evse_id"], allow_zero=True)
        return clean
    if action == A.GET_COMPOSITE_SCHEDULE:
        clean = {
            "evse_id": _evse(charger, params.get("evse_id")),
            "duration_s": min(_int(params.get("duration_s"), N_("Choose how long."), 1), 86_400),
        }
        if params.get("unit") in ("W", "A"):
            clean["unit"] = params["unit"]
        if params.get("confirms") not in (None, ""):
            clean["confirms"] = _int(params["confirms"], N_("Unknown command."), 1)
        return clean
    raise DomainError(N_("Unknown command."))  # pragma: no cover - every action is above
