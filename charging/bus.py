"""The command bus: how a command travels from an RQ job to the CSMS process holding the
charger's WebSocket, and how the answer comes back. All of it is Redis:

- `ocpp:owner` (hash): charger identity -> id of the CSMS process that holds its socket.
- `ocpp:alive:<process>` (string, TTL `ALIVE_TTL`): refreshed while the process runs, so
  a charger owned by a dead process counts as offline at once.
- `ocpp:cmd:<process>` (list): commands for that process, JSON, consumed with BLPOP.
- `ocpp:reply:<command id>` (list, expiring): the one answer, read with BLPOP by the job.

A command carries a deadline; a process that pops it too late drops it (the job has
already given up and logged a timeout).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from redis import Redis

OWNER_KEY = "ocpp:owner"
ALIVE_TTL = 15  # seconds; refreshed every ALIVE_TTL / 3
REPLY_TTL = 120


def alive_key(process_id: str) -> str:
    return f"ocpp:alive:{process_id}"


def command_key(process_id: str) -> str:
    return f"ocpp:cmd:{process_id}"


def reply_key(command_id: int | str) -> str:
    return f"ocpp:reply:{command_id}"


class ChargerOffline(Exception):
    """No live CSMS process holds the charger's socket."""


class NoAnswer(Exception):
    """The CSMS did not answer before the deadline."""


@dataclass
class Reply:
    """What the CSMS says happened: `ok` with the charger's `payload`, or an error kind."""

    ok: bool
    payload: dict[str, Any] | None = None
    error: str | None = None  # "offline", "timeout", "call_error", "invalid"
    detail: str | None = None

    @classmethod
    def from_json(cls, raw: bytes | str) -> Reply:
        data = json.loads(raw)
        return cls(
            ok=bool(data.get("ok")),
            payload=data.get("payload"),
            error=data.get("error"),
            detail=data.get("detail"),
        )

    def to_json(self) -> str:
        return json.dumps(
            {"ok": self.ok, "payload": self.payload, "error": self.error, "detail": self.detail},
            default=_number,
        )


def _number(value: Any) -> float:
    """The `ocpp` library reads a charger's decimals as `Decimal` (a GetCompositeSchedule's
    limits): JSON numbers again."""
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def owner_of(redis: Redis, identity: str) -> str | None:
    """The live CSMS process holding `identity`, or None."""
    owner = redis.hget(OWNER_KEY, identity)
    if owner is None:
        return None
    process_id = owner.decode() if isinstance(owner, bytes) else str(owner)
    return process_id if redis.exists(alive_key(process_id)) else None


def send_command(
    redis: Redis,
    identity: str,
    command_id: int,
    ocpp_action: str,
    payload: dict[str, Any],
    timeout: float = 35.0,
) -> Reply:
    """Hand a command to the process that holds `identity` and wait for its reply.

    Raises `ChargerOffline` when no live process holds the charger, `NoAnswer` when
    nothing comes back within `timeout` seconds.
    """
    process_id = owner_of(redis, identity)
    if process_id is None:
        raise ChargerOffline(identity)
    message = {
        "command_id": command_id,
        "identity": identity,
        "action": ocpp_action,
        "payload": payload,
        "deadline": time.time() + timeout - 1,
    }
    redis.delete(reply_key(command_id))
    redis.rpush(command_key(process_id), json.dumps(message))
    popped = redis.blpop([reply_key(command_id)], timeout=timeout)
    if popped is None:
        raise NoAnswer(identity)
    return Reply.from_json(popped[1])
