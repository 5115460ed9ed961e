"""The database: engine, session factory and the declarative base (no Flask here)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import MetaData, create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, scoped_session, sessionmaker

from portal import clock

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """The current instant in UTC, from the portal's clock (`portal.clock`)."""
    return clock.now()


session_factory = sessionmaker(expire_on_commit=False)
# One session per thread (a web request, a job); the web layer and the job
# decorator remove it when they are done.
Session = scoped_session(session_factory)


def make_engine(url: str, **kwargs: Any) -> Engine:
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    return create_engine(url, **kwargs)


def is_bound() -> bool:
    """Whether the session factory is bound already (to an engine or a connection)."""
    return session_factory.kw.get("bind") is not None


def configure(url: str, **kwargs: Any) -> Engine:
    """Bind the session factory to a new engine for `url` and return the engine."""
    engine = make_engine(url, **kwargs)
    Session.remove()
    session_factory.configure(bind=engine)
    return engine
