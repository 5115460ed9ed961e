"""The OCPP server (CSMS): `python -m charging.csms`.

One asyncio process serves OCPP 1.6J and 2.0.1 on one port (`OCPP_HOST`:`OCPP_PORT`,
default 0.0.0.0:9000) at `/ocpp/<identity>`, the version chosen by the WebSocket
subprotocol; several processes may share the port (`OCPP_REUSE_PORT`). Each charger
authenticates with HTTP Basic (security profile 1; profile 2 when
`OCPP_TLS_CERT`/`OCPP_TLS_KEY` are set; in production profile 1 only for chargers
allowed to). The `ocpp` library parses, validates and routes; this module adds what it
leaves to us:

- persistence off the event loop, and nothing lost: everything a charger waits for goes
  into a batch that a writer thread commits before the chargers in it are answered
  (`Database`, group commit; several batches in flight); look-ups that arrive together
  are one query (`Reads`). The answers that precede a commit, and why, are in
  docs/architecture.md;
- the handshake: credentials checked with a keyed hash (or an old Argon2 hash, its
  success remembered), refusals answered after the same delay whatever the reason,
  handshakes capped, and every refusal or drop logged with its reason;
- sessions: idempotent starts and stops, lost sessions closed (reboot, a newer
  transaction, silence), implausible energy held (`charging.store`);
- notifications kept (security events, firmware and diagnostics status, reports,
  vendor data transfers);
- leniency: StatusNotification, MeterValues, StopTransaction and TransactionEvent are
  validated by us, not the library: a schema violation that leaves the data usable
  (an unknown measurand, a wrong error code) is logged and accepted;
- bad input: malformed JSON, a wrong message type, a reused call id, an unknown action
  or a schema violation get a CALLERROR and the connection stays; answers nobody asked
  for are dropped; a frame above `OCPP_MAX_FRAME` closes that connection (1009);
- offline detection: a charger silent for `OFFLINE_AFTER_MISSED_HEARTBEATS` heartbeat
  intervals is disconnected and marked offline; a sweep also marks offline the
  chargers of a CSMS process that died;
- the command bus (`charging.bus`): this process records in Redis which chargers it
  holds and executes the commands the `ocpp` RQ jobs push to it;
- smart charging: a session started or ended (or closed as lost) asks, after its
  commit and off the event loop, for a re-plan of its depot (`charging.replan`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import functools
import hashlib
import hmac
import inspect
import json
import logging
import os
import re
import signal
import socket
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from http import HTTPStatus
from typing import Any, TypeVar

import ocpp.messages
import redis.asyncio as aioredis
from ocpp import exceptions as ocpp_errors
from ocpp.charge_point import (
    _raise_key_error,
    camel_to_snake_case,
    remove_nones,
    serialize_as_dict,
    snake_to_camel_case,
)
from ocpp.messages import Call, CallError, CallResult, _validate_payload, validate_payload
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201
from redis import Redis
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from charging import bus, replan, store
from portal.db import make_engine
from portal.models import ChargerEventKind, ChargerRegistration, ConnectorStatus
from portal.models.charging import (
    LOST_AFTER_MISSED_METER_VALUES,
    OFFLINE_AFTER_MISSED_HEARTBEATS,
)
from portal.passwords import is_machine_hash, verify_machine_secret, verify_password
from portal.services.charging.registry import valid_identity

log = logging.getLogger("charging.csms")
T = TypeVar("T")

# Validate inline: a round trip through the default executor per message costs more
# than the validation itself (see docs/benchmarks.md).
ocpp.messages.ASYNC_VALIDATION = False
logging.getLogger("ocpp").setLevel(logging.WARNING)

SUBPROTOCOLS = (Subprotocol("ocpp2.0.1"), Subprotocol("ocpp1.6"))
PATH_RE = re.compile(r"^/ocpp/([^/?#]+)/?$")
LENIENT = frozenset(
    {"StatusNotification", "MeterValues", "StopTransaction", "TransactionEvent", "NotifyReport"}
)
WHILE_PENDING = frozenset({"BootNotification", "Heartbeat"})
MAX_ANSWERS = 4  # CALLRESULT/CALLERROR frames queued for the call in flight
# A BootNotification this soon after we asked for one (TriggerMessage) is not a reboot.
TRIGGERED_BOOT_WINDOW = 60.0
AUTH_CACHE_KEY = "ocpp:auth"


@dataclasses.dataclass
class Settings:
    host: str = "0.0.0.0"  # noqa: S104 - chargers connect from the depot network
    port: int = 9000
    heartbeat_interval: int = 60
    auto_register: bool = False
    max_frame: int = 1024 * 1024
    tls_cert: str | None = None
    tls_key: str | None = None
    database_url: str = ""
    redis_url: str = ""
    secret_key: str = ""
    charger_secret_key: str = ""
    db_threads: int = 8
    db_writers: int = 4
    response_timeout: float = 30.0
    flush_interval: float = 0.5
    # Chargers send meter values this often in a session; LOST_AFTER_MISSED_METER_VALUES
    # of these without a word about a session and it is closed as lost.
    meter_interval: int = 60
    # DataTransfer from these vendor ids is stored and Accepted.
    data_transfer_vendors: frozenset[str] = frozenset()
    # In production, HTTP Basic without TLS (security profile 1) is refused unless the
    # charger is allowed (`flask chargers allow-plain`) or TLS ends at a proxy in front.
    production: bool = False
    tls_proxy: bool = False
    # Handshakes being checked at once, beyond which new ones get 503; a refused one is
    # answered this long after it began, whatever the reason (unknown identity, wrong
    # password), so refusals take the same time and guessing is slow.
    max_handshakes: int = 1000
    refusal_delay: float = 0.5
    handshake_timeout: float = 20.0  # websockets drops a handshake that takes longer
    # Several processes on one port (SO_REUSEPORT); the kernel spreads the chargers.
    reuse_port: bool = False
    # Connections the kernel queues before we accept them (capped by
    # net.core.somaxconn). asyncio's default, 100, overflows when a fleet reconnects at
    # once: the dropped SYNs are retried by the chargers' kernels a second later.
    backlog: int = 4096
    process_id: str = dataclasses.field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}"
    )

    @classmethod
    def from_env(cls) -> Settings:
        from portal.config import checked_config

        config = checked_config()  # refuses development defaults outside development
        env = os.environ
        return cls(
            host=env.get("OCPP_HOST", "0.0.0.0"),  # noqa: S104
            port=int(env.get("OCPP_PORT", "9000")),
            heartbeat_interval=int(env.get("OCPP_HEARTBEAT_INTERVAL", "60")),
            auto_register=env.get("OCPP_AUTO_REGISTER", "0").lower() in {"1", "true", "yes"},
            max_frame=int(env.get("OCPP_MAX_FRAME", str(1024 * 1024))),
            tls_cert=env.get("OCPP_TLS_CERT") or None,
            tls_key=env.get("OCPP_TLS_KEY") or None,
            database_url=config["DATABASE_URL"],
            redis_url=config["REDIS_URL"],
            secret_key=config["SECRET_KEY"],
            charger_secret_key=config["CHARGER_SECRET_KEY"],
            db_threads=int(env.get("OCPP_DB_THREADS", "8")),
            db_writers=int(env.get("OCPP_DB_WRITERS", "4")),
            meter_interval=int(env.get("OCPP_METER_INTERVAL", "60")),
            data_transfer_vendors=frozenset(
                v.strip() for v in env.get("OCPP_DATA_TRANSFER_VENDORS", "").split(",") if v.strip()
            ),
            production=config["ENV"] == "production",
            tls_proxy=env.get("OCPP_TLS_PROXY", "0").lower() in {"1", "true", "yes"},
            max_handshakes=int(env.get("OCPP_MAX_HANDSHAKES", "1000")),
            refusal_delay=float(env.get("OCPP_REFUSAL_DELAY", "0.5")),
            reuse_port=env.get("OCPP_REUSE_PORT", "0").lower() in {"1", "true", "yes"},
            backlog=int(env.get("OCPP_BACKLOG", "4096")),
        )


def now() -> datetime:
    return datetime.now(UTC)


def iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- the database, off the event loop ------------------------------------------------


class Database:
    """Writers for everything chargers wait for, and a thread pool for the rest
    (handshake look-ups, Authorize, sweeps).

    Group commit: one batch is written at a time while that keeps up, and whatever
    arrives meanwhile is the next batch. A batch takes at most `MAX_CALLS` answers
    (starts, stops, other calls); while full batches wait (a burst), up to `writers` are
    in flight at once, each in its own transaction, so their round trips to PostgreSQL
    overlap. A charger never has two messages in flight (it waits for each answer, and
    an answer waits for its batch's commit), so batches never hold two steps of the same
    charger; rows are locked in one order (see `store.apply_batch`).
    """

    MAX_CALLS = 100

    def __init__(self, url: str, threads: int, flush_interval: float, writers: int = 4) -> None:
        # Look-ups, sweeps and the re-plan hook: connections pinged at checkout.
        self.engine = make_engine(url, pool_size=threads + 2, max_overflow=4)
        self.sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        # The writers' connections are not pinged (a round trip per batch): one that
        # PostgreSQL dropped fails its batch, which runs once more on a new one (`_write`).
        self.writer_engine = make_engine(
            url, pool_size=writers, max_overflow=0, pool_pre_ping=False
        )
        self.writer_sessions = sessionmaker(bind=self.writer_engine, expire_on_commit=False)
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="csms-db")
        # The writers have threads of their own: a batch never queues behind look-ups.
        self.writers = writers
        self.writer_pool = ThreadPoolExecutor(max_workers=writers, thread_name_prefix="csms-writer")
        self.flush_interval = flush_interval
        # Batches waiting for a writer, oldest first, each with the futures of those who
        # wait for its commit.
        self._pending: deque[tuple[store.Batch, list[asyncio.Future[store.BatchResult]]]] = deque()
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._seen_writer: asyncio.Task[None] | None = None
        self._seen: dict[int, tuple[datetime, datetime | None]] = {}
        # Called in the pool with the chargers where a session started or ended, once
        # that is committed (the CSMS asks for a re-plan of their depots).
        self.on_sessions_changed: Callable[[set[int]], None] | None = None

    @staticmethod
    def _warm_up(sessions: sessionmaker[Session]) -> None:
        with sessions() as session:
            store.warm_up(session)
            session.rollback()

    async def warm_up(self) -> None:
        """Before chargers arrive, each writer opens its connection and compiles the
        hot statements (`store.warm_up`), at once."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(
                loop.run_in_executor(self.writer_pool, self._warm_up, self.writer_sessions)
                for _ in range(self.writers)
            ),
            loop.run_in_executor(self.pool, self._warm_up, self.sessions),
        )

    def _transaction(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(session, *args)` committed, in a connection of the pool's."""
        return self._commit(self.sessions, fn, *args, **kwargs)

    def _write(self, batch: store.Batch, savepoints: bool = False) -> store.BatchResult:
        """Apply and commit a batch in a writer's connection. If PostgreSQL dropped it (a
        restart, an administrator), SQLAlchemy invalidates the writers' connections and
        the batch runs once more on a new one. A drop during the COMMIT leaves its fate
        unknown; running it again is safe because a batch's writes are idempotent
        (starts, stops and events by their keys, samples by their natural key, energy
        posted once per session), as the call-by-call retry already relies on."""
        try:
            return self._commit(self.writer_sessions, store.apply_batch, batch, savepoints)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            log.warning("a writer's connection was dropped (%s); the batch again", error.orig)
            return self._commit(self.writer_sessions, store.apply_batch, batch, savepoints)

    def _commit(
        self, sessions: sessionmaker[Session], fn: Callable[..., T], *args: Any, **kwargs: Any
    ) -> T:
        with sessions() as session:
            result = fn(session, *args, **kwargs)
            session.commit()
            changed = session.info.pop(store.SESSIONS_CHANGED, None)
        if changed and self.on_sessions_changed is not None:
            try:
                self.pool.submit(self.on_sessions_changed, changed)
            except RuntimeError:  # shutting down: the 15-minute re-plan covers it
                log.warning("no re-plan asked for chargers %s: shutting down", sorted(changed))
        return result

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(session, *args)` in its own transaction, in the pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.pool, partial(self._transaction, fn, *args, **kwargs)
        )

    def _open_batch(
        self, for_call: bool = False
    ) -> tuple[store.Batch, list[asyncio.Future[store.BatchResult]]]:
        """The batch to join: a call joins the newest one with room; the chatter (a few
        set-based statements whatever its size) joins the oldest, the next to be written,
        so it never waits behind a burst's calls."""
        self._wake.set()
        if not self._pending or (for_call and self._pending[-1][0].answers() >= self.MAX_CALLS):
            self._pending.append((store.Batch(), []))
        return self._pending[-1] if for_call else self._pending[0]

    def note(self, change: Callable[[store.Batch], None]) -> None:
        """Add to the next batch; nobody waits (e.g. that a charger connected)."""
        change(self._open_batch()[0])

    async def write(self, change: Callable[[store.Batch], None]) -> store.BatchResult:
        """Add to the next batch and wait until it is committed."""
        batch, waiters = self._open_batch()
        change(batch)
        waiter = asyncio.get_running_loop().create_future()
        waiters.append(waiter)
        return await waiter

    async def _join(self, kind: str, item: Any, id_tag: str | None = None) -> Any:
        """Add `item` to the `kind` list ("starts", "stops", "calls") of the next batch with
        room; its result once the batch is committed, or the exception it raised. With
        `id_tag`, the tag's authorization status is read in the same transaction
        (`BatchResult.tags`)."""
        batch, waiters = self._open_batch(for_call=True)
        queue = getattr(batch, kind)
        index = len(queue)
        queue.append(item)
        if id_tag is not None:
            batch.tags.add(id_tag)
        waiter = asyncio.get_running_loop().create_future()
        waiters.append(waiter)
        committed = await waiter
        result = getattr(committed, kind)[index]
        if isinstance(result, BaseException):
            raise result
        return (result, committed.tags.get(id_tag)) if id_tag is not None else result

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(session, *args)` in the next batch with room for it."""
        result: T = await self._join("calls", lambda session: fn(session, *args, **kwargs))
        return result

    async def start_transaction(self, start: store.Start16) -> tuple[int, str]:
        """A 1.6 StartTransaction, with the others of its batch (set-based)."""
        result: tuple[int, str] = await self._join("starts", start)
        return result

    async def stop_transaction(self, stop: store.Stop, id_tag: str | None = None) -> str | None:
        """A stop, with the others of its batch (set-based); the authorization status of
        `id_tag` if given, read in the same transaction (no second trip for it)."""
        if id_tag is None:
            await self._join("stops", stop)
            return None
        _, status = await self._join("stops", stop, id_tag)
        return str(status)

    def note_seen(self, charger_id: int, heartbeat: bool = False) -> None:
        """Remember that a charger spoke (written about once a second; nobody waits)."""
        at = now()
        previous = self._seen.get(charger_id)
        beat = at if heartbeat else (previous[1] if previous else None)
        self._seen[charger_id] = (at, beat)

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name="csms-writer")
        self._seen_writer = asyncio.create_task(self._seen_loop(), name="csms-seen")

    async def _write_loop(self) -> None:
        """One writer while it keeps up (what arrives meanwhile is the next batch: group
        commit); more, up to `writers`, while full batches wait (a burst)."""
        flushing: set[asyncio.Task[None]] = set()

        def done(task: asyncio.Task[None]) -> None:
            flushing.discard(task)
            self._wake.set()  # a writer is free

        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.flush_interval)
                self._wake.clear()
                while self._pending and len(flushing) < self.writers:
                    if flushing and len(self._pending) == 1:
                        break  # not full yet: it gathers until a writer is done
                    task = asyncio.create_task(self.flush(*self._pending.popleft()))
                    flushing.add(task)
                    task.add_done_callback(done)
        finally:
            await asyncio.gather(*flushing, return_exceptions=True)

    async def flush(
        self, batch: store.Batch, waiters: list[asyncio.Future[store.BatchResult]]
    ) -> None:
        """Commit a batch, then answer whoever waits for it."""
        if not len(batch):
            for waiter in waiters:
                waiter.set_result(store.BatchResult())
            return
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        try:
            try:
                result = await loop.run_in_executor(self.writer_pool, self._write, batch)
            except Exception as error:  # a call failed: again, each in a savepoint
                log.warning(
                    "batch of %s writes failed (%s); retrying call by call", len(batch), error
                )
                result = await loop.run_in_executor(self.writer_pool, self._write, batch, True)
            took = time.monotonic() - started
            if took > 0.5:
                log.warning("slow batch: %s writes in %.0f ms", len(batch), took * 1000)
        except Exception as error:
            log.exception("batch of %s writes failed", len(batch))
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(error)
        else:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(result)

    async def _seen_loop(self) -> None:
        """Once a second, one UPDATE for every charger that spoke (beside the writer)."""
        while True:
            await asyncio.sleep(1.0)
            await self.write_seen()

    async def write_seen(self) -> None:
        if not self._seen:
            return
        pending, self._seen = self._seen, {}
        try:
            await self.run(store.record_seen, pending)
        except Exception:
            log.exception("recording %s chargers as seen failed", len(pending))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        if self._seen_writer is not None:
            self._seen_writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._seen_writer
        while self._pending:
            await self.flush(*self._pending.popleft())
        await self.write_seen()
        self.writer_pool.shutdown(wait=True)
        self.pool.shutdown(wait=True)
        self.engine.dispose()
        self.writer_engine.dispose()


class Reads:
    """Look-ups of one kind that arrive together are answered by one query: a reconnect
    storm's handshakes, a burst's Authorizes. `fn(session, keys)` returns a dict."""

    def __init__(self, db: Database, fn: Callable[[Session, list[str]], dict[str, Any]]) -> None:
        self.db, self.fn = db, fn
        self.pending: dict[str, list[asyncio.Future[Any]]] = {}
        self.running: asyncio.Task[None] | None = None

    async def get(self, key: str) -> Any:
        waiter = asyncio.get_running_loop().create_future()
        self.pending.setdefault(key, []).append(waiter)
        if self.running is None:
            self.running = asyncio.create_task(self._answer())
        return await waiter

    async def _answer(self) -> None:
        try:
            await asyncio.sleep(0)  # what else arrives in this turn of the loop joins
            while self.pending:
                asking, self.pending = self.pending, {}
                try:
                    found = await self.db.run(self.fn, list(asking))
                except Exception as error:
                    for waiters in asking.values():
                        for waiter in waiters:
                            if not waiter.done():
                                waiter.set_exception(error)
                    continue
                for key, waiters in asking.items():
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_result(found.get(key))
        finally:
            self.running = None


class Owners:
    """Which chargers this process holds, in Redis (`bus.OWNER_KEY`), where the command
    bus looks for them. Claims and releases that arrive together go in one round trip
    (a reconnect storm is a thousand of each), in order: one write at a time, and per
    charger the last word of the moment wins. A release removes only this process's
    claim (another process may hold the charger since)."""

    RELEASE = (
        "local n = 0 for i = 2, #ARGV do"
        " if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[1] then"
        " n = n + redis.call('HDEL', KEYS[1], ARGV[i]) end end return n"
    )

    def __init__(self, redis: aioredis.Redis, process_id: str) -> None:
        self.redis, self.process_id = redis, process_id
        self.pending: dict[str, bool] = {}  # identity -> held (claim) or not (release)
        self.running: asyncio.Task[None] | None = None

    def claim(self, identity: str) -> None:
        self._note(identity, True)

    def release(self, identity: str) -> None:
        self._note(identity, False)

    def _note(self, identity: str, held: bool) -> None:
        self.pending[identity] = held
        if self.running is None:
            self.running = asyncio.create_task(self._write())

    async def _write(self) -> None:
        try:
            await asyncio.sleep(0)  # what else arrives in this turn of the loop joins
            while self.pending:
                pending, self.pending = self.pending, {}
                claims = {identity: self.process_id for identity, held in pending.items() if held}
                releases = [identity for identity, held in pending.items() if not held]
                try:
                    async with self.redis.pipeline(transaction=False) as pipe:
                        if claims:
                            pipe.hset(bus.OWNER_KEY, mapping=claims)  # type: ignore[arg-type]
                        if releases:
                            pipe.eval(self.RELEASE, 1, bus.OWNER_KEY, self.process_id, *releases)
                        await pipe.execute()
                except Exception:
                    log.exception(
                        "recording %s claims and %s releases of chargers in Redis failed",
                        len(claims),
                        len(releases),
                    )
        finally:
            self.running = None

    async def wait(self) -> None:
        """Until what was noted is written."""
        while self.running is not None:
            await asyncio.shield(self.running)


# --- credentials ---------------------------------------------------------------------


class Credentials:
    """HTTP Basic passwords.

    The registry generates each charger's password and stores its HMAC-SHA-256 under
    the server's key (`CHARGER_SECRET_KEY`): checking one costs microseconds, so a whole
    fleet connecting for the first time is admitted at once. An unknown identity is
    checked the same way against nothing, so it costs what a known one costs.

    Older chargers keep their Argon2 hash until their password is rotated. Argon2
    costs about a quarter of a second per check on purpose; a successful check is
    remembered in Redis (shared by every CSMS process, surviving restarts) as an HMAC of
    (identity, stored hash, password) keyed with SECRET_KEY: it proves nothing to
    someone without the key, and it stops matching as soon as the hash changes.
    """

    def __init__(
        self, secret: str, charger_key: str, redis: aioredis.Redis | None, threads: int = 2
    ) -> None:
        self.secret = secret.encode()
        self.charger_key = charger_key
        self.redis = redis
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="csms-argon2")
        self.local: dict[str, str] = {}

    def digest(self, identity: str, password_hash: str, password: str) -> str:
        message = "\0".join((identity, password_hash, password)).encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    async def check(self, identity: str, password_hash: str | None, password: str) -> bool:
        if password_hash is None or is_machine_hash(password_hash):
            return verify_machine_secret(self.charger_key, identity, password_hash, password)
        digest = self.digest(identity, password_hash, password)
        known = self.local.get(identity)
        if known is None and self.redis is not None:
            raw = await self.redis.hget(AUTH_CACHE_KEY, identity)
            known = (raw.decode() if isinstance(raw, bytes) else raw) if raw else None
        if known is not None and hmac.compare_digest(known, digest):
            self.local[identity] = known
            return True
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(self.pool, verify_password, password_hash, password)
        if ok:
            await self.remember(identity, digest)
        return ok

    async def remember(self, identity: str, digest: str) -> None:
        self.local[identity] = digest
        if self.redis is not None:
            await self.redis.hset(AUTH_CACHE_KEY, identity, digest)


def parse_basic_auth(headers: Headers) -> tuple[str, str] | None:
    header = headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


# --- one connection ------------------------------------------------------------------


class ConnectionMixin:
    """What both versions share: our receive loop, leniency, bad input, pending state."""

    csms: CSMS
    record: store.ChargerRecord
    ocpp_version: str
    version: str  # "1.6" or "2.0.1"
    _connection: ServerConnection
    _response_queue: asyncio.Queue[Any]
    route_map: dict[str, dict[str, Any]]
    logger: logging.Logger
    _send: Callable[[str], Awaitable[None]]

    def setup(self, csms: CSMS, record: store.ChargerRecord) -> None:
        self.csms = csms
        self.record = record
        self.last_seen = time.monotonic()
        self.recent_ids: deque[str] = deque(maxlen=64)
        self.recent_set: set[str] = set()
        self.registration = record.registration
        self.boot_requested_at = -TRIGGERED_BOOT_WINDOW  # when we last asked for a boot

    @property
    def db(self) -> Database:
        return self.csms.db

    async def serve(self) -> None:
        async for message in self._connection:
            self.last_seen = time.monotonic()
            self.db.note_seen(self.record.id)
            try:
                await self.route_message(message)
            except ConnectionClosed:
                raise
            except Exception:
                log.exception("%s: unexpected error on %.200r", self.record.identity, message)

    def _error_code(self, code: str) -> str:
        if self.version == "1.6":
            return {
                "FormatViolation": "FormationViolation",
                "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
                "MessageTypeNotSupported": "ProtocolError",
                "RpcFrameworkError": "ProtocolError",
            }.get(code, code)
        return {
            "FormationViolation": "FormatViolation",
            "OccurenceConstraintViolation": "OccurrenceConstraintViolation",
        }.get(code, code)

    async def reject(self, unique_id: str, code: str, description: str) -> None:
        log.warning("%s: %s %s: %s", self.record.identity, unique_id, code, description)
        error = CallError(unique_id, self._error_code(code), description[:255], {})
        await self._connection.send(error.to_json())

    async def route_message(self, raw: str | bytes) -> None:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            await self.reject("-1", "FormatViolation", "message is not valid JSON")
            return
        if not isinstance(data, list) or len(data) < 3 or not isinstance(data[1], str):
            uid = data[1] if isinstance(data, list) and len(data) > 1 else "-1"
            await self.reject(str(uid)[:36], "RpcFrameworkError", "not an OCPP RPC frame")
            return
        kind, uid = data[0], data[1]
        if kind in (3, 4):
            # Only an answer to the call we have in flight is queued (one at a time, as
            # OCPP says); unsolicited ones are dropped, so they cannot pile up.
            if not self._call_lock.locked() or self._response_queue.qsize() >= MAX_ANSWERS:  # type: ignore[attr-defined]
                log.warning("%s: unsolicited answer %.100r dropped", self.record.identity, raw)
                return
            try:
                self._response_queue.put_nowait(
                    CallResult(*data[1:3]) if kind == 3 else CallError(*data[1:5])
                )
            except TypeError:
                log.warning("%s: malformed answer %.200r", self.record.identity, raw)
            return
        if kind != 2:
            await self.reject(uid, "MessageTypeNotSupported", f"message type {kind!r}")
            return
        if len(data) != 4 or not isinstance(data[2], str) or not isinstance(data[3], dict):
            await self.reject(uid, "FormatViolation", "a CALL is [2, id, action, {payload}]")
            return
        if uid in self.recent_set:
            await self.reject(uid, "ProtocolError", "message id reused on this connection")
            return
        if len(self.recent_ids) == self.recent_ids.maxlen:
            self.recent_set.discard(self.recent_ids[0])
        self.recent_ids.append(uid)
        self.recent_set.add(uid)
        action, payload = data[2], data[3]
        if self.registration != ChargerRegistration.ACCEPTED and action not in WHILE_PENDING:
            await self.reject(uid, "SecurityError", "the charger is not accepted yet")
            return
        msg = Call(uid, action, payload)
        if action in LENIENT:
            try:
                _validate_payload(msg, self.version)
            except ocpp_errors.OCPPError as error:
                log.warning(
                    "%s: %s violates the schema (accepted if usable): %s",
                    self.record.identity,
                    action,
                    (error.details or {}).get("cause", error.description),
                )
        try:
            await self._handle_call(msg)
        except ocpp_errors.OCPPError as error:
            cause = (error.details or {}).get("cause") or error.description
            await self.reject(uid, error.code, str(cause))

    async def _handle_call(self, msg: Call) -> None:
        """The library's `_handle_call` (ocpp 2.1) without two of its costs per message,
        ~14% of the event loop's samples in a burst: the payload's keys are turned into
        snake_case once per distinct key (`snake_case`), not with two regular
        expressions per key per message, and a handler's signature is not inspected
        (ours take no `call_unique_id`). Validated as the library does it: the request
        and the answer, unless the handler is marked `skip_schema_validation` (its
        request is then checked by `route_message`, leniently). No `@after` hooks here."""
        handlers = self.route_map.get(msg.action, {})
        if "_on_action" not in handlers:
            _raise_key_error(msg.action, self.version)
        validate = not handlers.get("_skip_schema_validation", False)
        if validate:
            await validate_payload(msg, self.version)
        try:
            response = handlers["_on_action"](**snake_case(msg.payload))
            if inspect.isawaitable(response):
                response = await response
        except Exception as error:
            self.logger.exception("Error while handling request '%s'", msg)
            await self._send(msg.create_call_error(error).to_json())
            return
        payload = snake_to_camel_case(remove_nones(serialize_as_dict(response)))
        answer = msg.create_call_result(payload)
        if validate:
            await validate_payload(answer, self.version)
        await self._send(answer.to_json())

    # Shared handlers' bodies.

    async def boot(self, info: dict[str, Any], rebooted: bool = True) -> str:
        """Record a boot and answer with the registration as it is now (an admin may have
        approved the charger since it connected). A real reboot (not one we triggered)
        ends the sessions it had running: they are closed as lost."""
        at = now()
        interval = self.csms.settings.heartbeat_interval
        version = "ocpp1.6" if self.version == "1.6" else "ocpp2.0.1"
        triggered = time.monotonic() - self.boot_requested_at < TRIGGERED_BOOT_WINDOW
        boot = store.Boot(**info, at=at, rebooted=rebooted and not triggered)

        def change(batch: store.Batch) -> None:
            batch.boots[self.record.id] = boot
            batch.presence[self.record.id] = (True, at, version, interval)

        result = await self.db.write(change)
        self.registration = result.registrations.get(self.record.id, self.registration)
        return {
            ChargerRegistration.ACCEPTED: "Accepted",
            ChargerRegistration.PENDING: "Pending",
        }.get(self.registration, "Rejected")

    async def keep(
        self, kind: ChargerEventKind, name: Any, at: Any, payload: dict[str, Any]
    ) -> None:
        """Store a notification as a `ChargerEvent` (once, when it carries a timestamp)."""
        occurred = None
        if at is not None:
            try:
                occurred = store.parse_time(at)
            except ValueError:
                log.warning("%s: %s with a bad timestamp %r", self.record.identity, kind, at)
        event = {
            "charger_id": self.record.id,
            "kind": kind,
            "name": str(name)[:100],
            "occurred_at": occurred,
            "payload": payload,
        }
        await self.db.write(lambda batch: batch.events.append(event))

    async def keep_status(self, kind: ChargerEventKind, status: str, kw: dict[str, Any]) -> None:
        """A firmware or diagnostics (log) status notification, kept as sent."""
        await self.keep(kind, status, None, {"status": status, **kw})

    async def security_event(self, type: str, timestamp: str, kw: dict[str, Any]) -> None:
        log.warning("%s: security event %s at %s", self.record.identity, type, timestamp)
        await self.keep(ChargerEventKind.SECURITY, type, timestamp, {"type": type, **kw})

    async def data_transfer(self, vendor_id: str, kw: dict[str, Any]) -> str:
        """Keep a DataTransfer from a registered vendor (Accepted); others are unknown."""
        if vendor_id not in self.csms.settings.data_transfer_vendors:
            log.info("%s: DataTransfer from unknown vendor %r", self.record.identity, vendor_id)
            return "UnknownVendorId"
        name = f"{vendor_id}/{kw.get('message_id') or ''}"
        await self.keep(ChargerEventKind.DATA_TRANSFER, name, None, {"vendor_id": vendor_id, **kw})
        return "Accepted"

    async def status(
        self, evse_id: Any, connector_id: Any, status: Any, error: Any, at: Any
    ) -> None:
        try:
            evse = int(evse_id)
            connector = int(connector_id or 1)
        except (TypeError, ValueError):
            raise ocpp_errors.FormatViolationError(
                details={"cause": f"connector {evse_id!r} is not a number"}
            ) from None
        if evse < 0 or connector < 1:
            raise ocpp_errors.PropertyConstraintViolationError(
                details={"cause": f"connector {evse_id!r} out of range"}
            )
        value = _STATUS.get(str(status))
        if value is None:
            log.warning("%s: unknown status %r recorded as unknown", self.record.identity, status)
            value = ConnectorStatus.UNKNOWN
        try:
            when = store.parse_time(at) if at else now()
        except ValueError:
            when = now()
        error_code = None if error in (None, "NoError") else str(error)[:50]
        row = (self.record.id, evse, connector, value, error_code, when)
        await self.db.write(lambda batch: batch.statuses.append(row))

    def samples(self, evse_id: int, transaction_id: str | None, meter_value: Any) -> list[Any]:
        problems: list[str] = []
        samples = store.parse_meter_values(
            self.record.id, evse_id, transaction_id, meter_value, problems
        )
        for problem in problems:
            log.warning("%s: meter values: %s (skipped)", self.record.identity, problem)
        return samples


@functools.lru_cache(maxsize=4096)
def _snake_key(key: str) -> str:
    return next(iter(camel_to_snake_case({key: None})))


def snake_case(data: Any) -> Any:
    """`camel_to_snake_case` with each distinct key converted once."""
    if isinstance(data, dict):
        return {_snake_key(key): snake_case(value) for key, value in data.items()}
    if isinstance(data, list):
        return [snake_case(value) for value in data]
    return data


_STATUS = {
    "Available": ConnectorStatus.AVAILABLE,
    "Preparing": ConnectorStatus.PREPARING,
    "Charging": ConnectorStatus.CHARGING,
    "SuspendedEV": ConnectorStatus.SUSPENDED_EV,
    "SuspendedEVSE": ConnectorStatus.SUSPENDED_EVSE,
    "Finishing": ConnectorStatus.FINISHING,
    "Occupied": ConnectorStatus.OCCUPIED,
    "Reserved": ConnectorStatus.RESERVED,
    "Unavailable": ConnectorStatus.UNAVAILABLE,
    "Faulted": ConnectorStatus.FAULTED,
}


def _time_or_now(value: Any) -> datetime:
    try:
        return store.parse_time(value)
    except ValueError:
        return now()


class Connection16(ConnectionMixin, ChargePoint16):
    version = "1.6"

    @on(Action16.boot_notification)
    async def on_boot(self, charge_point_vendor: str, charge_point_model: str, **kw: Any) -> Any:
        status = await self.boot(
            {
                "vendor": charge_point_vendor[:50],
                "model": charge_point_model[:50],
                "serial": (
                    kw.get("charge_point_serial_number")
                    or kw.get("charge_box_serial_number")
                    or None
                ),
                "firmware": kw.get("firmware_version"),
            }
        )
        return result16.BootNotification(
            current_time=iso(now()),
            interval=self.csms.settings.heartbeat_interval,
            status=status,
        )

    @on(Action16.heartbeat)
    def on_heartbeat(self, **kw: Any) -> Any:
        self.db.note_seen(self.record.id, heartbeat=True)
        return result16.Heartbeat(current_time=iso(now()))

    @on(Action16.status_notification, skip_schema_validation=True)
    async def on_status(self, **kw: Any) -> Any:
        await self.status(
            kw.get("connector_id"), 1, kw.get("status"), kw.get("error_code"), kw.get("timestamp")
        )
        return result16.StatusNotification()

    @on(Action16.authorize)
    async def on_authorize(self, id_tag: str, **kw: Any) -> Any:
        status = await self.csms.tags.get(id_tag)
        return result16.Authorize(id_tag_info={"status": status})

    @on(Action16.start_transaction)
    async def on_start(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **kw: Any
    ) -> Any:
        transaction_id, status = await self.db.start_transaction(
            store.Start16(
                self.record.id,
                connector_id,
                id_tag,
                meter_start,
                _time_or_now(timestamp),
                kw.get("reservation_id"),
            )
        )
        return result16.StartTransaction(
            transaction_id=transaction_id, id_tag_info={"status": status}
        )

    @on(Action16.meter_values, skip_schema_validation=True)
    async def on_meter_values(self, **kw: Any) -> Any:
        try:
            evse = int(kw.get("connector_id", 0))
        except (TypeError, ValueError):
            raise ocpp_errors.FormationViolationError(
                details={"cause": "connectorId is not a number"}
            ) from None
        tx = kw.get("transaction_id")
        samples = self.samples(evse, str(tx) if tx is not None else None, kw.get("meter_value"))
        if samples:
            await self.db.write(lambda batch: batch.samples.extend(samples))
        return result16.MeterValues()

    @on(Action16.stop_transaction, skip_schema_validation=True)
    async def on_stop(self, **kw: Any) -> Any:
        if kw.get("transaction_id") is None or kw.get("timestamp") is None:
            raise ocpp_errors.ProtocolError(details={"cause": "transactionId and timestamp needed"})
        transaction_id = str(kw["transaction_id"])
        meter_stop = kw.get("meter_stop")
        samples = self.samples(0, transaction_id, kw.get("transaction_data") or [])
        tag = kw.get("id_tag")
        status = await self.db.stop_transaction(
            store.Stop(
                self.record.id,
                transaction_id,
                int(meter_stop) if isinstance(meter_stop, int | float) else None,
                _time_or_now(kw["timestamp"]),
                kw.get("reason"),
                samples,
            ),
            str(tag) if tag else None,
        )
        return result16.StopTransaction(id_tag_info={"status": status} if tag else None)

    @on(Action16.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **kw: Any) -> Any:
        return result16.DataTransfer(status=await self.data_transfer(vendor_id, kw))

    @on(Action16.diagnostics_status_notification)
    async def on_diagnostics(self, status: str, **kw: Any) -> Any:
        await self.keep_status(ChargerEventKind.DIAGNOSTICS, status, kw)
        return result16.DiagnosticsStatusNotification()

    @on(Action16.firmware_status_notification)
    async def on_firmware(self, status: str, **kw: Any) -> Any:
        await self.keep_status(ChargerEventKind.FIRMWARE, status, kw)
        return result16.FirmwareStatusNotification()

    # The 1.6 security extension (OCPP 1.6 Security Whitepaper).

    @on(Action16.security_event_notification)
    async def on_security_event(self, type: str, timestamp: str, **kw: Any) -> Any:
        await self.security_event(type, timestamp, kw)
        return result16.SecurityEventNotification()

    @on(Action16.log_status_notification)
    async def on_log_status(self, status: str, **kw: Any) -> Any:
        await self.keep_status(ChargerEventKind.DIAGNOSTICS, status, kw)
        return result16.LogStatusNotification()

    @on(Action16.signed_firmware_status_notification)
    async def on_signed_firmware(self, status: str, **kw: Any) -> Any:
        await self.keep_status(ChargerEventKind.FIRMWARE, status, kw)
        return result16.SignedFirmwareStatusNotification()


class Connection201(ConnectionMixin, ChargePoint201):
    version = "2.0.1"

    @on(Action201.boot_notification)
    async def on_boot(self, charging_station: dict[str, Any], reason: str, **kw: Any) -> Any:
        status = await self.boot(
            {
                "vendor": str(charging_station.get("vendor_name", ""))[:50],
                "model": str(charging_station.get("model", ""))[:50],
                "serial": charging_station.get("serial_number"),
                "firmware": charging_station.get("firmware_version"),
            },
            rebooted=reason != "Triggered",
        )
        return result201.BootNotification(
            current_time=iso(now()),
            interval=self.csms.settings.heartbeat_interval,
            status=status,
        )

    @on(Action201.heartbeat)
    def on_heartbeat(self, **kw: Any) -> Any:
        self.db.note_seen(self.record.id, heartbeat=True)
        return result201.Heartbeat(current_time=iso(now()))

    @on(Action201.status_notification, skip_schema_validation=True)
    async def on_status(self, **kw: Any) -> Any:
        await self.status(
            kw.get("evse_id"),
            kw.get("connector_id"),
            kw.get("connector_status"),
            None,
            kw.get("timestamp"),
        )
        return result201.StatusNotification()

    @on(Action201.authorize)
    async def on_authorize(self, id_token: dict[str, Any], **kw: Any) -> Any:
        status = await self.csms.tags.get(id_token["id_token"])
        return result201.Authorize(id_token_info={"status": status})

    @on(Action201.transaction_event, skip_schema_validation=True)
    async def on_transaction_event(self, **kw: Any) -> Any:
        info = kw.get("transaction_info") or {}
        event_type = kw.get("event_type")
        if event_type not in ("Started", "Updated", "Ended") or not info.get("transaction_id"):
            raise ocpp_errors.ProtocolError(
                details={"cause": "eventType and transactionInfo.transactionId are required"}
            )
        evse = kw.get("evse") or {}
        evse_id = evse.get("id") if isinstance(evse, dict) else None
        token = kw.get("id_token") or {}
        transaction_id = str(info["transaction_id"])[:64]
        samples = self.samples(int(evse_id or 0), transaction_id, kw.get("meter_value") or [])
        status = await self.db.call(
            store.transaction_event_201,
            self.record.id,
            event_type=event_type,
            transaction_id=transaction_id,
            timestamp=_time_or_now(kw.get("timestamp")),
            evse_id=int(evse_id) if evse_id else None,
            id_token=token.get("id_token") if isinstance(token, dict) else None,
            stopped_reason=info.get("stopped_reason"),
            samples=samples,
        )
        if status is None:
            return result201.TransactionEvent()
        return result201.TransactionEvent(id_token_info={"status": status})

    @on(Action201.meter_values, skip_schema_validation=True)
    async def on_meter_values(self, **kw: Any) -> Any:
        try:
            evse = int(kw.get("evse_id", 0))
        except (TypeError, ValueError):
            raise ocpp_errors.FormatViolationError(
                details={"cause": "evseId is not a number"}
            ) from None
        samples = self.samples(evse, None, kw.get("meter_value"))
        if samples:
            await self.db.write(lambda batch: batch.samples.extend(samples))
        return result201.MeterValues()

    @on(Action201.notify_report, skip_schema_validation=True)
    async def on_notify_report(self, **kw: Any) -> Any:
        name = f"{kw.get('request_id')}/{kw.get('seq_no')}"
        await self.keep(ChargerEventKind.REPORT, name, kw.get("generated_at"), kw)
        return result201.NotifyReport()

    @on(Action201.security_event_notification)
    async def on_security_event(self, type: str, timestamp: str, **kw: Any) -> Any:
        await self.security_event(type, timestamp, kw)
        return result201.SecurityEventNotification()

    @on(Action201.firmware_status_notification)
    async def on_firmware(self, status: str, **kw: Any) -> Any:
        await self.keep_status(ChargerEventKind.FIRMWARE, status, kw)
        return result201.FirmwareStatusNotification()

    @on(Action201.log_status_notification)
    async def on_log_status(self, status: str, **kw: Any) -> Any:
        await self.keep_status(ChargerEventKind.DIAGNOSTICS, status, kw)
        return result201.LogStatusNotification()

    @on(Action201.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **kw: Any) -> Any:
        return result201.DataTransfer(status=await self.data_transfer(vendor_id, kw))


# --- the server ----------------------------------------------------------------------


class CSMS:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(
            settings.database_url, settings.db_threads, settings.flush_interval, settings.db_writers
        )
        self.chargers = Reads(self.db, store.load_chargers)  # the handshakes' look-ups
        self.tags = Reads(self.db, store.tag_statuses)  # Authorize
        # A blocking pool: in a reconnect storm, handshakes wait for a Redis connection
        # instead of failing with "Too many connections".
        self.redis: aioredis.Redis | None = (
            aioredis.Redis.from_pool(  # owns the pool: aclose() closes it
                aioredis.BlockingConnectionPool.from_url(
                    settings.redis_url, max_connections=32, timeout=60
                )
            )
            if settings.redis_url
            else None
        )
        self.credentials = Credentials(settings.secret_key, settings.charger_secret_key, self.redis)
        self.owners = Owners(self.redis, settings.process_id) if self.redis is not None else None
        self.handshakes = 0  # being checked now (process_request)
        self.connections: dict[str, ConnectionMixin] = {}
        self.server: Any = None
        self.tasks: list[asyncio.Task[Any]] = []
        self.started = asyncio.Event()
        self.background: set[asyncio.Task[Any]] = set()
        self.stopping = asyncio.Event()
        # Blocking: used in the pool's threads only (`ask_replans`).
        self.replans = Redis.from_url(settings.redis_url) if settings.redis_url else None
        self.planned = replan.PlannedDepots(self.db.sessions)
        if self.replans is not None:
            self.db.on_sessions_changed = self.ask_replans

    def ask_replans(self, charger_ids: set[int]) -> None:
        """A car arrived or left at these chargers: re-plan their depots with planning on
        (`charging.replan`; in a pool thread, after the commit). Which depots plan is
        known as of `replan.PLANNED_MAX_AGE` ago: no query per batch."""
        try:
            depots = self.planned.of(charger_ids)
            if depots and self.replans is not None:
                replan.request_replans(self.replans, depots, "a car arrived or left")
        except Exception:
            log.exception("asking for a re-plan of chargers %s failed", sorted(charger_ids))

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    # The handshake: path, subprotocol, credentials.

    async def process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        """Check the path, the subprotocol and the credentials; None lets the charger in.

        At most `max_handshakes` are checked at once (503 beyond). Every refusal for
        credentials is answered `refusal_delay` after the handshake began. If the
        handshake outlives `open_timeout`, websockets drops it silently: we log why.
        """
        started = time.monotonic()
        match = PATH_RE.match(request.path)
        identity = match.group(1) if match else ""
        if not valid_identity(identity):
            log.warning("refused %s: bad path %.100r", _peer(connection), request.path)
            return connection.respond(HTTPStatus.BAD_REQUEST, "Bad charger identity\n")
        offered = ",".join(request.headers.get_all("Sec-WebSocket-Protocol"))
        if not any(p.strip() in SUBPROTOCOLS for p in offered.split(",")):
            log.warning("refused %s: no OCPP subprotocol (%r)", identity, offered)
            return connection.respond(HTTPStatus.BAD_REQUEST, "Offer ocpp1.6 or ocpp2.0.1\n")
        if self.handshakes >= self.settings.max_handshakes:
            log.warning(
                "refused %s: %s handshakes already being checked (busy)", identity, self.handshakes
            )
            response = connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "Busy, retry\n")
            response.headers["Retry-After"] = "5"
            return response
        self.handshakes += 1
        stage = "reading its registration"
        try:
            refusal, reason = await self._admit(connection, request, identity)
            stage = "answering"
            if refusal is not None:
                log.warning("refused %s: %s", identity, reason)
                if refusal.status_code == HTTPStatus.UNAUTHORIZED:
                    await asyncio.sleep(started + self.settings.refusal_delay - time.monotonic())
            return refusal
        except asyncio.CancelledError:
            log.warning(
                "dropped the handshake of %s after %.1f s while %s (%s handshakes in progress)",
                identity,
                time.monotonic() - started,
                stage,
                self.handshakes,
            )
            raise
        finally:
            self.handshakes -= 1

    async def _admit(
        self, connection: ServerConnection, request: Request, identity: str
    ) -> tuple[Response | None, str]:
        """(None, "") to let the charger in, else the refusal and why (for the log)."""
        credentials = parse_basic_auth(request.headers)
        if credentials is None or credentials[0] != identity:
            return _unauthorized(connection), "no or mismatched Basic credentials"
        password = credentials[1]
        record = await self.chargers.get(identity)
        if record is None and self.settings.auto_register:
            record = await self.db.run(
                store.auto_register, identity, password, self.settings.charger_secret_key
            )
            log.warning("%s registered itself; pending approval", identity)
        stored = record.password_hash if record is not None else None
        if not await self.credentials.check(identity, stored, password):
            return _unauthorized(connection), (
                "unknown charger" if record is None else "wrong password"
            )
        assert record is not None  # noqa: S101 - no hash, no match
        if record.registration == ChargerRegistration.REJECTED:
            return connection.respond(HTTPStatus.FORBIDDEN, "Charger rejected\n"), "rejected"
        if self.plain_refused(connection, record):
            return (
                connection.respond(HTTPStatus.FORBIDDEN, "Use TLS (wss://)\n"),
                "security profile 1 without TLS in production (flask chargers allow-plain)",
            )
        connection.charger_record = record  # type: ignore[attr-defined]
        return None, ""

    def plain_refused(self, connection: ServerConnection, record: store.ChargerRecord) -> bool:
        """In production, a password over a plain connection only for allowed chargers."""
        if not self.settings.production or self.settings.tls_proxy or record.plain_allowed:
            return False
        return connection.transport.get_extra_info("ssl_object") is None

    async def handler(self, ws: ServerConnection) -> None:
        record: store.ChargerRecord = ws.charger_record  # type: ignore[attr-defined]
        cls = Connection201 if ws.subprotocol == "ocpp2.0.1" else Connection16
        conn = cls(record.identity, ws, response_timeout=self.settings.response_timeout)
        conn.setup(self, record)
        previous = self.connections.get(record.identity)
        if previous is not None:
            log.warning("%s connected again; closing the older socket", record.identity)
            await previous._connection.close(1000, "replaced by a new connection")
        self.connections[record.identity] = conn
        at = now()
        interval = self.settings.heartbeat_interval
        version = str(ws.subprotocol)
        try:
            # Nothing is answered for it: the charger need not wait.
            self.db.note(lambda b: b.presence.__setitem__(record.id, (True, at, version, interval)))
            # Commands find it through Redis; its first messages need not wait for that.
            if self.owners is not None:
                self.owners.claim(record.identity)
            log.info("%s connected (%s)", record.identity, version)
            await conn.serve()
        except ConnectionClosed as closed:
            log.info("%s closed: %s", record.identity, closed)
        finally:
            if self.connections.get(record.identity) is conn:
                del self.connections[record.identity]
                gone = now()
                self.db.note(
                    lambda b: b.presence.__setitem__(record.id, (False, gone, None, interval))
                )
                if self.owners is not None:
                    self.owners.release(record.identity)  # after its claim: in order

    # Offline detection.

    async def sweep(self) -> None:
        """Close silent sockets, mark the chargers of dead processes offline, and close
        as lost the sessions nobody has heard of for `LOST_AFTER_MISSED_METER_VALUES`
        meter intervals (counted only once this process has been up that long: our own
        outage is not the chargers' silence)."""
        interval = self.settings.heartbeat_interval
        limit = interval * OFFLINE_AFTER_MISSED_HEARTBEATS
        lost_after = self.settings.meter_interval * LOST_AFTER_MISSED_METER_VALUES
        up_since = time.monotonic()
        while True:
            await asyncio.sleep(max(0.2, min(5.0, interval / 2, self.settings.meter_interval / 2)))
            silent_since = time.monotonic() - limit
            for identity, conn in list(self.connections.items()):
                if conn.last_seen < silent_since:
                    log.warning(
                        "%s missed %s heartbeats: offline",
                        identity,
                        OFFLINE_AFTER_MISSED_HEARTBEATS,
                    )
                    self.spawn(conn._connection.close(1001, "missed heartbeats"))
            try:
                gone = await self.db.run(
                    store.mark_silent_chargers_offline, now(), OFFLINE_AFTER_MISSED_HEARTBEATS
                )
                if time.monotonic() - up_since >= lost_after:
                    lost = await self.db.run(
                        store.close_silent_sessions, now() - timedelta(seconds=lost_after)
                    )
                else:
                    lost = []
            except Exception:
                log.exception("offline sweep failed")
            else:
                for identity in gone:
                    log.warning("%s is silent: marked offline", identity)
                if lost:
                    log.warning("sessions silent for %s s closed as lost: %s", lost_after, lost)

    # The command bus.

    async def keep_alive(self) -> None:
        assert self.redis is not None  # noqa: S101 - only started with Redis
        key = bus.alive_key(self.settings.process_id)
        while True:
            await self.redis.set(key, "1", ex=bus.ALIVE_TTL)
            await asyncio.sleep(bus.ALIVE_TTL / 3)

    async def consume_commands(self) -> None:
        reader = aioredis.from_url(self.settings.redis_url)
        key = bus.command_key(self.settings.process_id)
        try:
            while not self.stopping.is_set():
                popped = await reader.blpop([key], timeout=1)
                if popped is None:
                    continue
                try:
                    command = json.loads(popped[1])
                except ValueError:
                    log.error("unreadable command %.200r", popped[1])
                    continue
                self.spawn(self.execute(command))
        finally:
            await reader.aclose()

    async def execute(self, command: dict[str, Any]) -> None:
        assert self.redis is not None  # noqa: S101 - only called with Redis
        reply = await self._execute(command)
        key = bus.reply_key(command["command_id"])
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, reply.to_json())
            pipe.expire(key, bus.REPLY_TTL)
            await pipe.execute()

    async def _execute(self, command: dict[str, Any]) -> bus.Reply:
        identity, action = command.get("identity", ""), command.get("action", "")
        remaining = float(command.get("deadline", 0)) - time.time()
        if remaining <= 0:
            return bus.Reply(ok=False, error="timeout", detail="expired before it was sent")
        conn = self.connections.get(identity)
        if conn is None:
            return bus.Reply(ok=False, error="offline", detail="not connected to this process")
        module = call201 if conn.version == "2.0.1" else call16
        try:
            payload = getattr(module, action)(**command.get("payload", {}))
        except (AttributeError, TypeError) as error:
            return bus.Reply(ok=False, error="invalid", detail=str(error))
        log.info("%s <- %s (command %s)", identity, action, command.get("command_id"))
        if action == "TriggerMessage" and "BootNotification" in str(command.get("payload")):
            conn.boot_requested_at = time.monotonic()  # the boot it sends is no reboot
        try:
            result = await asyncio.wait_for(
                conn.call(payload, suppress=False),  # type: ignore[attr-defined]
                timeout=min(remaining, self.settings.response_timeout),
            )
        except TimeoutError:
            return bus.Reply(ok=False, error="timeout", detail=f"no answer to {action}")
        except ocpp_errors.OCPPError as error:
            return bus.Reply(
                ok=False, error="call_error", detail=f"{error.code}: {error.description}"
            )
        except ConnectionClosed:
            return bus.Reply(ok=False, error="offline", detail="the charger disconnected")
        answer = remove_nones(dataclasses.asdict(result)) if result is not None else {}
        return bus.Reply(ok=True, payload=camel_to_snake_case(answer))

    # Running.

    def ssl_context(self) -> ssl.SSLContext | None:
        if not (self.settings.tls_cert and self.settings.tls_key):
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.settings.tls_cert, self.settings.tls_key)
        return context

    async def start(self) -> None:
        await self.db.warm_up()
        self.db.start()
        self.server = await serve(
            self.handler,
            self.settings.host,
            self.settings.port,
            subprotocols=list(SUBPROTOCOLS),
            process_request=self.process_request,
            max_size=self.settings.max_frame,
            compression=None,  # ~60 KB less per connection; chargers rarely ask for it
            ssl=self.ssl_context(),
            ping_interval=30,
            ping_timeout=30,
            open_timeout=self.settings.handshake_timeout,
            close_timeout=2,
            server_header=None,
            reuse_port=self.settings.reuse_port,
            backlog=self.settings.backlog,
        )
        self.tasks.append(asyncio.create_task(self.sweep(), name="csms-sweep"))
        if self.redis is not None:
            await self.redis.set(bus.alive_key(self.settings.process_id), "1", ex=bus.ALIVE_TTL)
            self.tasks.append(asyncio.create_task(self.keep_alive(), name="csms-alive"))
            self.tasks.append(asyncio.create_task(self.consume_commands(), name="csms-bus"))
        log.info(
            "CSMS %s listening on %s:%s (%s)",
            self.settings.process_id,
            self.settings.host,
            self.port,
            "TLS" if self.settings.tls_cert else "plain",
        )
        self.started.set()

    @property
    def port(self) -> int:
        return int(self.server.sockets[0].getsockname()[1]) if self.server else self.settings.port

    async def stop(self) -> None:
        # The bus reader ends by itself within a second: cancelling redis-py's
        # blocking BLPOP can leave it hanging.
        self.stopping.set()
        for task in self.tasks:
            if task.get_name() != "csms-bus":
                task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.server is not None:
            self.server.close()
            try:  # a client that never closes its refused socket must not hold us up
                await asyncio.wait_for(self.server.wait_closed(), 5)
            except TimeoutError:
                log.warning("some connections did not close in time")
        if self.owners is not None:
            await self.owners.wait()
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis.delete(bus.alive_key(self.settings.process_id))
            await self.redis.aclose()
        await self.db.close()
        if self.replans is not None:
            self.replans.close()


def _peer(connection: ServerConnection) -> str:
    try:
        return str(connection.remote_address[0])
    except (TypeError, IndexError):
        return "?"


def _unauthorized(connection: ServerConnection) -> Response:
    response = connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
    response.headers["WWW-Authenticate"] = 'Basic realm="LAFA OCPP", charset="UTF-8"'
    return response


async def main() -> None:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = Settings.from_env()
    if not settings.redis_url:
        log.warning("Redis not configured: remote commands from the portal will not reach chargers")
    csms = CSMS(settings)
    await csms.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping")
    await csms.stop()


if __name__ == "__main__":
    asyncio.run(main())
