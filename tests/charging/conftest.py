"""Charging tests run a real CSMS (asyncio, in a thread) on a free port, against the
run's PostgreSQL database. The server commits in its own connections, so here `db`
is a plain session whose writes the test commits (identities are unique per test)."""

from __future__ import annotations

import asyncio
import itertools
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as OrmSession

from charging.csms import CSMS, Settings
from portal.db import Session, session_factory
from portal.models import Base, Charger, ChargerConnector, ConnectorType, IdTag
from portal.services.charging.prices import set_energy_price
from tests.servers import TEST_REDIS
from workers import queues

CHARGER_PASSWORD = "charger-secret-0123456789"
CHARGER_KEY = "test-charger-key"
_numbers = itertools.count(1)


@pytest.fixture
def db(engine: Engine) -> Iterator[OrmSession]:
    Session.remove()
    session_factory.configure(bind=engine, join_transaction_mode="rollback_only")
    session = session_factory()
    yield session
    session.close()
    Session.remove()
    # What the test and the server committed must not leak into other tests.
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def redis_db() -> Iterator[Redis]:
    connection = Redis.from_url(TEST_REDIS)
    connection.flushdb()
    yield connection
    connection.flushdb()


class CsmsThread:
    """A CSMS with its own event loop in a thread; `url` is where chargers connect."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.csms: CSMS | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.csms = CSMS(self.settings)
        self.loop.run_until_complete(self.csms.start())
        self.ready.set()
        self.loop.run_forever()

    def start(self) -> CsmsThread:
        self.thread.start()
        if not self.ready.wait(20):
            raise RuntimeError("CSMS did not start")
        return self

    @property
    def url(self) -> str:
        assert self.csms is not None
        return f"ws://127.0.0.1:{self.csms.port}/ocpp"

    def stop(self) -> None:
        assert self.csms is not None
        asyncio.run_coroutine_threadsafe(self.csms.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def start_csms(
    database_url: str, engine: Engine, redis_db: Redis
) -> Iterator[Callable[..., CsmsThread]]:
    started: list[CsmsThread] = []

    def start(**overrides: Any) -> CsmsThread:
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": 0,
            "heartbeat_interval": 30,
            "database_url": database_url,
            "redis_url": TEST_REDIS,
            "secret_key": "test-secret",
            "charger_secret_key": CHARGER_KEY,
            "flush_interval": 0.05,
            "db_threads": 4,
            "response_timeout": 5,
            "process_id": f"test-{uuid.uuid4().hex[:8]}",
        }
        server = CsmsThread(Settings(**(values | overrides))).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def csms(start_csms: Callable[..., CsmsThread]) -> CsmsThread:
    return start_csms()


@pytest.fixture
def make_charger(db: OrmSession, make_depot: Callable[..., Any]) -> Callable[..., Charger]:
    """A registered charger whose password is CHARGER_PASSWORD (keyed hash, as the registry
    makes them; `argon2=True`: an older charger's Argon2 hash)."""
    from portal.passwords import hash_machine_secret, hash_password

    argon2_hash = hash_password(CHARGER_PASSWORD)

    def make(price_cents: int | None = 500, argon2: bool = False, **kw: Any) -> Charger:
        depot = kw.pop("depot", None) or make_depot()
        if price_cents is not None:
            set_energy_price(db, depot.id, date(2024, 1, 1), price_cents)
        identity = kw.pop("identity", f"CP-{next(_numbers):04d}-{uuid.uuid4().hex[:6]}")
        charger = Charger(
            identity=identity,
            depot_id=depot.id,
            password_hash=argon2_hash
            if argon2
            else hash_machine_secret(CHARGER_KEY, identity, CHARGER_PASSWORD),
            max_kw=Decimal("120"),
            **kw,
        )
        db.add(charger)
        db.flush()
        for evse_id, kind in ((1, ConnectorType.CCS2), (2, ConnectorType.GBT)):
            db.add(
                ChargerConnector(
                    charger_id=charger.id,
                    evse_id=evse_id,
                    connector_type=kind,
                    max_kw=Decimal("60"),
                )
            )
        db.commit()
        return charger

    return make


@pytest.fixture
def make_tag(
    db: OrmSession, make_contract: Callable[..., Any], make_driver: Callable[..., Any]
) -> Callable[..., IdTag]:
    def make(**kw: Any) -> IdTag:
        # Committed rows outlive the test: keep CURPs unique across the run.
        driver = make_driver(curp=f"TEST{uuid.uuid4().hex[:14].upper()}")
        contract = kw.pop("contract", None) or make_contract(driver=driver)
        tag = IdTag(
            tag=f"T{next(_numbers):05d}{uuid.uuid4().hex[:6].upper()}",
            driver_id=contract.driver_id,
            **kw,
        )
        db.add(tag)
        db.commit()
        return tag

    return make


@pytest.fixture
def job_queues(app: Any, redis_db: Redis) -> Iterator[Redis]:
    """Jobs go to the test Redis; the test runs them in the app's context, as the worker
    started by `flask worker` does."""
    queues.configure(TEST_REDIS)
    with app.app_context():
        yield redis_db
    queues.configure("")
