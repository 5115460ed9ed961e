"""Rate limits in Redis (Flask-Limiter), the Spanish 429 page, and the client's
address behind a configured number of proxies."""

import pytest
from flask import Flask

from portal import limits
from portal.models import Role
from tests.factories import PASSWORD

ALLOWED = 3


@pytest.fixture
def small_limits(app, monkeypatch):
    """The same limits with room for three, so a test reaches them quickly."""
    for name in limits.DEFAULTS:
        monkeypatch.setitem(app.config, name, f"{ALLOWED} per 15 minutes")


def _fail_log_in(client, n, **kwargs):
    data = {"identifier": f"persona{n}@lafa.mx", "password": "x"}
    return client.post("/entrar", data=data, **kwargs)


def test_failed_log_ins_are_limited_per_address(client, small_limits):
    here = {"REMOTE_ADDR": "203.0.113.50"}
    for n in range(ALLOWED):
        assert _fail_log_in(client, n, environ_base=here).status_code == 422
    refused = _fail_log_in(client, 99, environ_base=here)
    assert refused.status_code == 429
    assert "Demasiados intentos." in refused.text
    # The wait counts from the first failure, however long the failures took to send.
    wait = int(refused.headers["Retry-After"])
    assert 0 < wait <= 15 * 60
    assert f"Espera {-(-wait // 60)} min e inténtalo de nuevo." in refused.text
    elsewhere = _fail_log_in(client, 99, environ_base={"REMOTE_ADDR": "203.0.113.51"})
    assert elsewhere.status_code == 422


def test_successful_log_ins_do_not_count(client, small_limits, make_user):
    user = make_user(Role.STAFF)
    for _ in range(ALLOWED + 1):
        response = client.post("/entrar", data={"identifier": user.email, "password": PASSWORD})
        assert response.status_code == 303
        client.post("/salir")


def test_the_limits_are_the_real_ones_by_default(app):
    assert app.config["LIMIT_LOGIN_PER_ADDRESS"] == "30 per 15 minutes"
    assert app.config["RATELIMIT_STORAGE_URI"].startswith("redis://")


@pytest.fixture
def app_behind_one_proxy(other_app, small_limits) -> Flask:
    return other_app(PROXY_HOPS=1)


def test_behind_a_proxy_the_client_is_who_the_proxy_says(app_behind_one_proxy, db):
    client = app_behind_one_proxy.test_client()
    phone = {"X-Forwarded-For": "198.51.100.20"}
    for n in range(ALLOWED):
        _fail_log_in(client, n, headers=phone)
    assert _fail_log_in(client, 99, headers=phone).status_code == 429
    # Another phone behind the same proxy is not the first one.
    other = _fail_log_in(client, 99, headers={"X-Forwarded-For": "198.51.100.21"})
    assert other.status_code == 422


def test_without_a_configured_proxy_a_forwarded_for_header_is_ignored(client, small_limits):
    for n in range(ALLOWED):  # each time claiming to be someone else
        _fail_log_in(client, n, headers={"X-Forwarded-For": f"198.51.100.{n}"})
    assert _fail_log_in(client, 99).status_code == 429


def test_reset_code_limits_per_account_and_per_address(app, other_app, small_limits, monkeypatch):
    """`limits.reset_code_limits` on a view that checks a code (as the password-reset
    views use it): per account, then per address."""
    monkeypatch.setitem(app.config, "LIMIT_RESET_PER_ADDRESS", f"{ALLOWED + 2} per hour")
    fresh = other_app()

    @limits.reset_code_limits
    def check_code():
        return "wrong code", 422

    fresh.add_url_rule("/prueba/codigo", "check_code", check_code, methods=["POST"])
    client = fresh.test_client()
    limits.limiter.reset()
    for _ in range(ALLOWED):
        response = client.post("/prueba/codigo", data={"identifier": "55 1111 2222"})
        assert response.status_code == 422
    # The same account typed another way is the same account.
    assert client.post("/prueba/codigo", data={"identifier": "5511112222"}).status_code == 429
    assert client.post("/prueba/codigo", data={"identifier": "5533334444"}).status_code == 422
    assert client.post("/prueba/codigo", data={"identifier": "5544445555"}).status_code == 422
    assert client.post("/prueba/codigo", data={"identifier": "5566667777"}).status_code == 429
