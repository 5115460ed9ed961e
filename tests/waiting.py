"""Waiting for something another process or thread does (a broker, a server, a worker)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], *, timeout: float = 60.0, what: str = "the condition"
) -> T:
    """Poll `predicate` until it returns something truthy and return that. After
    `timeout` seconds the test fails, naming `what` it waited for. The timeout is how long
    to give a busy machine, not a claim about speed: no test asserts on it."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def port_open(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:`port`."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def wait_port(port: int, up: bool = True, timeout: float = 30.0) -> None:
    """Wait until a server listens on `port` (or, `up=False`, has stopped listening)."""
    wait_until(
        lambda: port_open(port) == up,
        timeout=timeout,
        what=f"port {port} to come {'up' if up else 'down'}",
    )
