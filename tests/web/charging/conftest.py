"""Fixtures of the charging pages' tests."""

import pytest


@pytest.fixture
def enqueued(monkeypatch):
    """Commands the views hand to the `ocpp` queue once the request commits (the job
    itself is tested in tests/charging/test_commands.py)."""
    sent = []
    monkeypatch.setattr("portal.web.charging.commands.enqueue_command", sent.append)
    return sent
