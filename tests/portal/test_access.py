"""Who may open what: one parametrized test over every URL the app serves.

A new URL fails `test_every_url_is_classified` until it is added to ACCESS, so no
page ships without a decision about who may see it.
"""

import pytest

from portal.models import Role

ALL = frozenset(Role)
STAFF = frozenset({Role.STAFF, Role.MANAGER, Role.ADMIN})
PUBLIC = "public"
ANY_USER = "any user"

# URL rule -> who may GET it.
ACCESS: dict[str, object] = {
    "/": PUBLIC,
    "/entrar": PUBLIC,
    "/idioma": PUBLIC,
    "/salir": ANY_USER,
    "/cuenta/contrasena": ANY_USER,
    "/conductor/": frozenset({Role.DRIVER}),
    "/conductor/vehicle-status": frozenset({Role.DRIVER}),
    "/operacion/flota": STAFF,
    "/operacion/tablero": STAFF,
    # Rules with a parameter are checked with real ids in their area's tests
    # (tests/telemetry/test_screens.py); here only that they need a log-in and a role.
    "/operacion/vehiculos/<int:vehicle_id>": STAFF,
    "/gerencia/": frozenset({Role.MANAGER, Role.ADMIN}),
    "/admin/": frozenset({Role.ADMIN}),
}


def _rules(app):
    return [r for r in app.url_map.iter_rules() if r.endpoint != "static"]


def test_every_url_is_classified(app):
    unclassified = {r.rule for r in _rules(app)} - set(ACCESS)
    assert not unclassified, f"add these to ACCESS: {sorted(unclassified)}"


def _protected_get_rules():
    return [
        (rule.replace("<int:vehicle_id>", "0"), allowed)
        for rule, allowed in ACCESS.items()
        if isinstance(allowed, frozenset)
    ]


@pytest.mark.parametrize(("rule", "allowed"), _protected_get_rules())
def test_anonymous_is_sent_to_log_in(client, rule, allowed):
    response = client.get(rule)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/entrar?next=")


@pytest.mark.parametrize(("rule", "allowed"), _protected_get_rules())
@pytest.mark.parametrize("role", list(Role))
def test_each_role_gets_in_or_gets_403(client, login, make_user, make_driver, rule, allowed, role):
    user = make_user(role)
    if role == Role.DRIVER:
        make_driver(user=user)
    login(user)
    response = client.get(rule)
    expected = (404 if rule.endswith("/0") else 200) if role in allowed else 403
    assert response.status_code == expected
    if expected == 403:
        assert "No tienes acceso a esta página." in response.text


def test_any_user_pages_need_a_log_in(client):
    assert client.get("/cuenta/contrasena").status_code == 302
    assert client.post("/salir").status_code == 302
