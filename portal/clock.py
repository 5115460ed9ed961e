"""The time it is, for services, views and jobs: one clock that can be pinned.

`now()` is the current instant in UTC (aware). Everything that asks "what time is it"
or "what day is it" (`timeutil.local_today`, `db.utcnow`, the `ago` filter) reads it
here, so a test pins the whole portal to one moment with the `clock` fixture
(tests/conftest.py) instead of skipping near midnight. No Flask here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime


def _system() -> datetime:
    return datetime.now(UTC)


_source: Callable[[], datetime] = _system


def now() -> datetime:
    """The current instant, in UTC."""
    return _source()


def use(source: Callable[[], datetime] | None) -> None:
    """Read the time from `source` (an aware datetime each call) instead of the system
    clock; None goes back to the system clock."""
    global _source
    _source = source or _system
