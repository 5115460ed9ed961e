"""Fixtures: one PostgreSQL database per run, migrated with Alembic as in production;
each test inside a transaction that is rolled back at the end."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from alembic import command
from alembic.config import Config
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as OrmSession

from portal import clock as portal_clock
from portal.app import create_app
from portal.config import ROOT
from portal.db import Session, make_engine, session_factory
from portal.limits import limiter
from tests.servers import TEST_REDIS

pytest_plugins = ["tests.factories"]

# Development defaults (secret key, demo mode) exist only when asked for; the processes
# the tests start (gunicorn, the CSMS, listeners) inherit this.
os.environ["LAFA_ENV"] = "development"

PG_ADMIN = os.environ.get("TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    name = f"lafa_test_{os.getpid()}"
    _admin(f'DROP DATABASE IF EXISTS "{name}"')
    _admin(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    yield url
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    config = Config(str(ROOT / "alembic.ini"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")
    session_factory.configure(bind=engine)  # before the app: create_app leaves it bound
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def app(engine: Engine, database_url: str) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "REDIS_URL": "",
            "RATELIMIT_STORAGE_URI": TEST_REDIS,
            "SECRET_KEY": "test-secret",
            "WTF_CSRF_ENABLED": False,
        }
    )


@pytest.fixture
def other_app(app: Flask) -> Callable[..., Flask]:
    """`other_app(SETTING=value)`: another app with some settings changed, e.g. behind a
    proxy. Creating an app points the job queues at its settings: they are put back as
    the test had them."""
    from workers import queues

    def make(**settings: Any) -> Flask:
        saved = queues._redis_url, queues._app_factory
        other = create_app(dict(app.config) | settings)
        queues.configure(*saved)
        return other

    return make


@pytest.fixture
def db(engine: Engine) -> Iterator[OrmSession]:
    """The test's session; whatever it or a request commits is rolled back afterwards."""
    connection = engine.connect()
    transaction = connection.begin()
    Session.remove()
    session_factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    # The test's own session, beside (not inside) the registry the requests use, so a
    # request's teardown does not close it; both work in the same transaction.
    session = session_factory()
    yield session
    session.close()
    Session.remove()
    transaction.rollback()
    connection.close()


@pytest.fixture
def client(app: Flask, db: OrmSession) -> FlaskClient:
    limiter.reset()  # each test starts with no request counted against it
    return app.test_client()


@pytest.fixture
def redis_queues(app: Flask, jobs_to_redis: None) -> Iterator[Redis]:
    """Jobs go to a real Redis (TEST_REDIS_URL, emptied before and after the test); the
    test runs them with an RQ worker inside the app context this yields in."""
    with app.app_context():
        yield Redis.from_url(TEST_REDIS)


class PinnedClock:
    """The portal's clock, stopped at `moment` until the test moves it."""

    def __init__(self) -> None:
        self.moment = datetime.now(UTC)

    def pin(self, moment: datetime) -> datetime:
        self.moment = moment.astimezone(UTC)
        portal_clock.use(lambda: self.moment)
        return self.moment

    def advance(self, **delta: float) -> datetime:
        return self.pin(self.moment + timedelta(**delta))


@pytest.fixture
def clock() -> Iterator[PinnedClock]:
    """Pin the time every service, view and job reads (`portal.clock`): `clock.pin(at)`."""
    pinned = PinnedClock()
    yield pinned
    portal_clock.use(None)
