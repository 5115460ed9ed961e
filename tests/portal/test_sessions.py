"""Sessions: a version per user that ends every session, timeouts per role, log-in
starting from an empty session, no tie to the client's claimed address."""

import pytest

from portal import sessions
from portal.models import Role
from portal.services import accounts
from tests.factories import PASSWORD

HOME = {Role.DRIVER: "/conductor/", Role.STAFF: "/operacion/flota", Role.MANAGER: "/gerencia/"}
MINUTE, HOUR, DAY = 60, 3600, 86400


@pytest.fixture
def logged_in(client, login, make_user, make_driver):
    def log_in(role):
        user = make_user(role)
        if role == Role.DRIVER:
            make_driver(user=user)
        login(user)
        return user

    return log_in


def _age(client, **seconds_ago):
    """Move the session's log-in (`started`) or last activity (`seen`) into the past."""
    with client.session_transaction() as session:
        for key, seconds in seconds_ago.items():
            name = {"started": sessions.STARTED, "seen": sessions.SEEN}[key]
            session[name] -= seconds


def _is_in(client, role) -> bool:
    response = client.get(HOME[role])
    assert response.status_code in (200, 302)
    return response.status_code == 200


def test_ending_sessions_bumps_the_version_even_when_two_requests_race(db, make_user):
    user = make_user(Role.STAFF)
    before = user.session_version
    accounts.end_sessions(user)
    accounts.end_sessions(user)
    db.refresh(user)
    assert user.session_version == before + 2


def test_log_in_starts_from_an_empty_session(client, make_user):
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    user = make_user(Role.STAFF)
    client.post("/entrar", data={"identifier": user.email, "password": PASSWORD})
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session[sessions.VERSION] == user.session_version


def test_log_out_everywhere_ends_the_other_devices_too(app, client, logged_in, login):
    user = logged_in(Role.STAFF)
    tablet = app.test_client()
    tablet.post("/entrar", data={"identifier": user.email, "password": PASSWORD})
    assert _is_in(tablet, Role.STAFF)
    response = client.post("/salir/todas")
    assert response.status_code == 303
    assert "Cerraste la sesión en todos los dispositivos." in client.get("/entrar").text
    assert not _is_in(client, Role.STAFF)
    assert not _is_in(tablet, Role.STAFF)


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(app, client, logged_in):
    user = logged_in(Role.DRIVER)
    phone = app.test_client()
    phone.post("/entrar", data={"identifier": user.phone, "password": PASSWORD})
    new = "una frase bastante larga"
    response = client.post(
        "/cuenta/contrasena", data={"current": PASSWORD, "new": new, "confirm": new}
    )
    assert response.status_code == 303
    assert _is_in(client, Role.DRIVER)
    assert not _is_in(phone, Role.DRIVER)


def test_a_bumped_version_ends_the_session_on_its_next_request(client, db, logged_in):
    user = logged_in(Role.MANAGER)
    accounts.end_sessions(user)  # what a reset or a deactivation by an admin does
    assert not _is_in(client, Role.MANAGER)


@pytest.mark.parametrize(
    ("role", "idle_ok", "idle_out"),
    [
        (Role.STAFF, 14 * MINUTE, 16 * MINUTE),
        (Role.MANAGER, 29 * MINUTE, 31 * MINUTE),
        (Role.DRIVER, 6 * DAY, 8 * DAY),
    ],
)
def test_idle_timeout_per_role(client, logged_in, role, idle_ok, idle_out):
    logged_in(role)
    _age(client, seen=idle_ok)
    assert _is_in(client, role)
    _age(client, seen=idle_out)  # counted from the request just made
    assert not _is_in(client, role)


@pytest.mark.parametrize(("role", "too_long"), [(Role.STAFF, 13 * HOUR), (Role.DRIVER, 31 * DAY)])
def test_absolute_timeout_per_role_even_when_active(client, logged_in, role, too_long):
    logged_in(role)
    _age(client, started=too_long)
    assert not _is_in(client, role)


def test_a_driver_session_outlives_the_browser_and_a_staff_one_does_not(client, make_user):
    driver, staff = make_user(Role.DRIVER), make_user(Role.STAFF)
    phone = client.post("/entrar", data={"identifier": driver.phone, "password": PASSWORD})
    assert "Expires=" in phone.headers["Set-Cookie"]
    client.post("/salir")
    tablet = client.post("/entrar", data={"identifier": staff.email, "password": PASSWORD})
    assert "Expires=" not in tablet.headers["Set-Cookie"]


def test_a_board_left_polling_does_not_keep_the_session_alive(client, logged_in):
    logged_in(Role.STAFF)
    _age(client, seen=10 * MINUTE)
    poll = client.get("/operacion/flota", headers={"HX-Request": "true"})
    assert poll.status_code == 200
    _age(client, seen=6 * MINUTE)  # 16 minutes since the person last did something
    assert not _is_in(client, Role.STAFF)


def test_a_click_keeps_the_session_alive(client, logged_in):
    logged_in(Role.STAFF)
    _age(client, seen=10 * MINUTE)
    assert _is_in(client, Role.STAFF)
    _age(client, seen=10 * MINUTE)
    assert _is_in(client, Role.STAFF)


def test_an_expired_htmx_request_sends_the_whole_page_to_log_in(client, logged_in):
    logged_in(Role.STAFF)
    _age(client, seen=HOUR)
    response = client.get(
        "/operacion/flota",
        headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/operacion/flota?p=2"},
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/entrar?next=/operacion/flota?p%3D2"


@pytest.mark.parametrize("role", [Role.STAFF, Role.DRIVER])
def test_the_session_is_not_tied_to_a_claimed_forwarded_for_address(client, logged_in, role):
    """Flask-Login's "strong" protection hashed X-Forwarded-For (which any client sends)
    and dropped the session when it changed: a phone moving between networks."""
    logged_in(role)
    moved = client.get(HOME[role], headers={"X-Forwarded-For": "203.0.113.9"})
    assert moved.status_code == 200
    assert _is_in(client, role)
