"""Transport security: HSTS outside development over HTTPS, and `__Host-` session
cookies whenever the portal is served over HTTPS."""

import pytest

from portal.models import Role
from tests.factories import PASSWORD

HTTPS = "https://portal.lafa.mx"


PRODUCTION = {
    "ENV": "production",
    "SECRET_KEY": "s" * 48,
    "DEMO_MODE": False,
    "PAYMENTS_PROVIDER": "",
    "SMS_PROVIDER": "",
    "CHARGER_SECRET_KEY": "c" * 48,
    "STRIPE_WEBHOOK_SECRET": "",
    "SESSION_COOKIE_SECURE": True,
}


@pytest.fixture
def production(other_app):
    return other_app(**PRODUCTION)


def test_hsts_in_production_over_https(production, db):
    client = production.test_client()
    page = client.get("/entrar", base_url=HTTPS)
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_no_hsts_over_plain_http_or_in_development(production, client):
    assert "Strict-Transport-Security" not in production.test_client().get("/entrar").headers
    assert "Strict-Transport-Security" not in client.get("/entrar", base_url=HTTPS).headers


def test_behind_the_proxy_https_is_what_the_proxy_says(other_app, db):
    proxied = other_app(**PRODUCTION, PROXY_HOPS=1)
    page = proxied.test_client().get("/entrar", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" in page.headers


def test_over_https_the_session_cookie_is_a_host_cookie(client, make_user):
    user = make_user(Role.STAFF)
    response = client.post(
        "/entrar", data={"identifier": user.email, "password": PASSWORD}, base_url=HTTPS
    )
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=")
    assert "Secure" in cookie
    assert "Path=/" in cookie
    assert "Domain" not in cookie
    assert client.get("/operacion/flota", base_url=HTTPS).status_code == 200


def test_over_plain_http_the_cookie_keeps_its_name(client, make_user):
    user = make_user(Role.STAFF)
    response = client.post("/entrar", data={"identifier": user.email, "password": PASSWORD})
    assert response.headers["Set-Cookie"].startswith("session=")
