"""A remote command logged by a charging service is sent once the request commits."""

from __future__ import annotations

from portal.db import Session
from portal.models import ChargerCommand
from workers.ocpp import enqueue_command
from workers.queues import after_commit


def send_after_commit(command: ChargerCommand | None) -> None:
    """Hand the command to the `ocpp` queue after the commit (`enqueue_command` leaves
    out an offline charger's, already failed)."""
    if command is not None:
        after_commit(Session(), enqueue_command, command)
