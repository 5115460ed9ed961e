"""Who may open what: one parametrized test over every URL the app serves.

A new URL fails `test_every_url_is_classified` until it is added to ACCESS, so no
page ships without a decision about who may see it.
"""

from dataclasses import dataclass

import pytest

from portal.models import Role

ALL = frozenset(Role)
STAFF = frozenset({Role.STAFF, Role.MANAGER, Role.ADMIN})
PUBLIC = "public"
ANY_USER = "any user"
DRIVER = frozenset({Role.DRIVER})
MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})


@dataclass(frozen=True)
class Record:
    """A URL with ids in it: who may use it (with `method`), and the fixture that makes
    a concrete path for a given user (a driver gets their own record)."""

    roles: frozenset
    fixture: str
    method: str = "GET"


# URL rule -> who may GET it.
ACCESS: dict[str, object] = {
    "/": PUBLIC,
    "/entrar": PUBLIC,
    "/idioma": PUBLIC,
    "/salir": ANY_USER,
    "/cuenta/contrasena": ANY_USER,
    "/conductor/": frozenset({Role.DRIVER}),
    "/conductor/cargar": frozenset({Role.DRIVER}),
    "/conductor/cargar/en-curso": frozenset({Role.DRIVER}),
    "/conductor/cargar/reservar": Record(DRIVER, "charging_url"),
    "/conductor/cargar/reservas/<int:booking_id>/cancelar": Record(DRIVER, "charging_url"),
    "/conductor/cargar/iniciar": Record(DRIVER, "charging_url", "POST"),
    "/conductor/cargar/sesiones/<int:session_id>/detener": Record(DRIVER, "charging_url"),
    "/operacion/cargadores": STAFF,
    "/operacion/cargadores/<int:charger_id>": Record(STAFF, "charging_url"),
    "/operacion/cargadores/<int:charger_id>/comando": Record(STAFF, "charging_url"),
    "/operacion/cargadores/<int:charger_id>/comandos/<int:command_id>": Record(
        STAFF, "charging_url"
    ),
    "/gerencia/energia": MANAGERS,
    "/admin/cargadores": frozenset({Role.ADMIN}),
    "/admin/tarjetas": frozenset({Role.ADMIN}),
    "/admin/tarjetas/<int:tag_id>/<any(desactivar, activar):change>": Record(
        frozenset({Role.ADMIN}), "charging_url", "POST"
    ),
    "/operacion/flota": STAFF,
    "/gerencia/": frozenset({Role.MANAGER, Role.ADMIN}),
    "/admin/": frozenset({Role.ADMIN}),
}


def _rules(app):
    return [r for r in app.url_map.iter_rules() if r.endpoint != "static"]


def test_every_url_is_classified(app):
    unclassified = {r.rule for r in _rules(app)} - set(ACCESS)
    assert not unclassified, f"add these to ACCESS: {sorted(unclassified)}"


def _protected_get_rules():
    return [(rule, allowed) for rule, allowed in ACCESS.items() if isinstance(allowed, frozenset)]


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
    expected = 200 if role in allowed else 403
    assert response.status_code == expected
    if expected == 403:
        assert "No tienes acceso a esta página." in response.text


def _record_rules():
    return [(rule, spec) for rule, spec in ACCESS.items() if isinstance(spec, Record)]


@pytest.mark.parametrize(("rule", "spec"), _record_rules())
def test_record_urls_send_anonymous_to_log_in(request, client, make_user, rule, spec):
    path = request.getfixturevalue(spec.fixture)(make_user(Role.STAFF), rule)
    response = client.open(path, method=spec.method)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/entrar?next=")


@pytest.mark.parametrize(("rule", "spec"), _record_rules())
@pytest.mark.parametrize("role", list(Role))
def test_record_urls_let_in_their_roles_only(
    request, client, login, make_user, make_driver, rule, spec, role
):
    user = make_user(role)
    if role == Role.DRIVER:
        make_driver(user=user)
    path = request.getfixturevalue(spec.fixture)(user, rule)
    login(user)
    response = client.open(path, method=spec.method)
    response.close()
    if role not in spec.roles:
        assert response.status_code == 403
    elif spec.method == "GET":
        assert response.status_code == 200
    else:  # an empty POST: refused as invalid, never as forbidden
        assert response.status_code in {303, 422}


def test_any_user_pages_need_a_log_in(client):
    assert client.get("/cuenta/contrasena").status_code == 302
    assert client.post("/salir").status_code == 302
