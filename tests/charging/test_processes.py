"""Several CSMS processes on one port (SO_REUSEPORT): the chargers are spread over both,
a command from the portal reaches its charger whichever process holds it (Redis says
which), and when one process dies its chargers reconnect to the other and commands
follow them. Real processes (`python -m charging.csms`), killed with SIGKILL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from redis import Redis

from charging import bus
from charging.simulate import ChargerSpec, run_charger
from portal.models import Charger, ChargerCommand, CommandAction, CommandStatus
from portal.services.charging.commands import request_command
from tests.servers import TEST_REDIS
from tests.waiting import wait_until
from workers.ocpp import enqueue_command

from .conftest import CHARGER_KEY, CHARGER_PASSWORD
from .test_commands import work

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_process(database_url: str, port: int) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "LAFA_ENV": "development",
        "DATABASE_URL": database_url,
        "REDIS_URL": TEST_REDIS,
        "SECRET_KEY": "test-secret",
        "CHARGER_SECRET_KEY": CHARGER_KEY,
        "OCPP_HOST": "127.0.0.1",
        "OCPP_PORT": str(port),
        "OCPP_REUSE_PORT": "1",
        "OCPP_HEARTBEAT_INTERVAL": "2",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen([sys.executable, "-m", "charging.csms"], cwd=ROOT, env=env)


def process_id(process: subprocess.Popen[bytes]) -> str:
    return f"{socket.gethostname()}:{process.pid}"


class Fleet:
    """Simulated chargers that keep reconnecting (charging.simulate.run_charger)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.tasks: list[asyncio.Future[None]] = []

    def add(self, identity: str) -> None:
        spec = ChargerSpec(identity, CHARGER_PASSWORD, "ocpp1.6")
        coroutine = run_charger(self.url, spec, 30.0, 0.0, self.stop)
        self.tasks.append(asyncio.run_coroutine_threadsafe(coroutine, self.loop))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        for task in self.tasks:
            with contextlib.suppress(Exception):  # a last reconnect may fail
                task.result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def owners(redis: Redis, identities: list[str]) -> dict[str, str | None]:
    found = redis.hmget(bus.OWNER_KEY, identities)
    return {i: o.decode() if o else None for i, o in zip(identities, found, strict=True)}


def unlock(db, charger: Charger, job_queues) -> ChargerCommand:
    command = request_command(db, charger.id, CommandAction.UNLOCK_CONNECTOR, {"evse_id": 1}, None)
    db.commit()
    enqueue_command(command)
    work(job_queues)
    db.expire_all()
    return db.get(ChargerCommand, command.id)


def test_two_processes_share_the_chargers_and_commands_follow_a_failover(
    database_url, db, job_queues, make_charger
):
    port = free_port()
    first, second = start_process(database_url, port), start_process(database_url, port)
    fleet = Fleet(f"ws://127.0.0.1:{port}/ocpp")
    chargers: list[Charger] = []
    try:
        alive = {process_id(first), process_id(second)}
        assert wait_until(
            lambda: all(job_queues.exists(bus.alive_key(p)) for p in alive), timeout=30
        )
        # Chargers connect until both processes hold some (the kernel spreads them).
        while len(chargers) < 20:
            charger = make_charger()
            chargers.append(charger)
            fleet.add(charger.identity)
            identities = [c.identity for c in chargers]
            assert wait_until(lambda ids=identities: None not in owners(job_queues, ids).values())
            if set(owners(job_queues, identities).values()) == alive:
                break
        held = owners(job_queues, [c.identity for c in chargers])
        assert set(held.values()) == alive, "the kernel gave every charger to one process"

        # A command reaches each charger, whichever process holds it.
        on_first = [c for c in chargers if held[c.identity] == process_id(first)]
        on_second = [c for c in chargers if held[c.identity] == process_id(second)]
        for charger in (on_first[0], on_second[0]):
            assert wait_until(
                lambda c=charger: db.expire_all() or db.get(Charger, c.id).is_online()
            )
            command = unlock(db, charger, job_queues)
            assert command.status == CommandStatus.ACCEPTED, (command.error, command.error_detail)

        # The first process dies; its chargers reconnect to the second, commands follow.
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        moved = [c.identity for c in on_first]
        assert wait_until(
            lambda: set(owners(job_queues, moved).values()) == {process_id(second)}, timeout=60
        )
        command = unlock(db, on_first[0], job_queues)
        assert command.status == CommandStatus.ACCEPTED, (command.error, command.error_detail)
    finally:
        fleet.close()
        for process in (first, second):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
        # Give the chargers' rows back to the fixture's clean-up without open sockets.
        time.sleep(0.2)
