"""The `ocpp` queue: send a logged remote command to a charger and record its answer.

The job reads the command log row, builds the OCPP call for the charger's version,
hands it to the command bus (Redis) and waits for the CSMS process that holds the
charger's socket to answer. It never raises for a charger's failure (offline, timeout,
CALLERROR, Rejected): that is an outcome, written to the log row, and retrying a
"stop charging" behind the staff's back would be wrong. A charging profile's answer has a
sequel (`portal.services.charging.profiles.after_answer`): accepted, a GetCompositeSchedule
to confirm it, queued after the commit; refused, the charger is marked as refusing them.
"""

from __future__ import annotations

import logging

from flask import current_app
from redis.exceptions import RedisError

from charging import bus, commands
from portal.db import Session, utcnow
from portal.models import ChargerCommand, CommandStatus
from portal.services.charging import commands as service
from portal.services.charging import profiles

from .jobs import job
from .queues import after_commit, redis_connection

log = logging.getLogger(__name__)


@job("ocpp")
def send_charger_command_job(command_log_id: int) -> str:
    command = Session.get(ChargerCommand, command_log_id)
    if command is None or command.status.finished:
        return "skipped"
    outcome = _send(command)
    # A profile accepted is confirmed with GetCompositeSchedule; one refused marks the
    # charger (portal.services.charging.profiles).
    follow_up = profiles.after_answer(Session(), command)
    if follow_up is not None:
        after_commit(Session(), enqueue_command, follow_up)
    return outcome


def _send(command: ChargerCommand) -> str:
    charger = command.charger
    try:
        ocpp_action, payload = commands.build(
            charger.ocpp_version, command.action, command.params, command.id
        )
    except commands.CommandNotSupported:
        return _finish(command, CommandStatus.FAILED, service.REJECTED, "not supported")
    command.ocpp_action = ocpp_action
    command.request_payload = payload
    command.status = CommandStatus.SENT
    command.sent_at = utcnow()
    Session.commit()  # the page shows "sent" while the charger thinks
    timeout = current_app.config["OCPP_COMMAND_TIMEOUT"]
    try:
        reply = bus.send_command(
            redis_connection(), charger.identity, command.id, ocpp_action, payload, timeout
        )
    except bus.ChargerOffline:
        return _finish(command, CommandStatus.FAILED, service.OFFLINE)
    except bus.NoAnswer:
        return _finish(command, CommandStatus.FAILED, service.NO_ANSWER)
    except (RedisError, RuntimeError) as error:  # Redis went away, or was never configured
        return _finish(command, CommandStatus.FAILED, service.BUS_DOWN, str(error))
    if not reply.ok:
        message = {
            "offline": service.OFFLINE,
            "timeout": service.NO_ANSWER,
        }.get(reply.error or "", service.CALL_ERROR)
        return _finish(command, CommandStatus.FAILED, message, reply.detail)
    command.response = reply.payload
    status = commands.outcome(reply.payload or {})
    refusal = service.REJECTED if status == CommandStatus.REJECTED else None
    return _finish(command, status, refusal)


def _finish(
    command: ChargerCommand, status: CommandStatus, error: str | None, detail: str | None = None
) -> str:
    command.status = status
    command.error = error
    command.error_detail = detail[:500] if detail else None
    command.answered_at = utcnow()
    log.info("command %s %s -> %s %s", command.id, command.action, status, detail or "")
    return status.value


def enqueue_command(command: ChargerCommand) -> None:
    """Queue the job for a command that `request_command` left queued (after the commit)."""
    if command.status == CommandStatus.QUEUED:
        send_charger_command_job.delay(command.id)
