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
# Signed by the provider, no log-in (tests/web/webhooks/test_views.py).
WEBHOOK = "provider signature"
# URLs with an id: who may open which record is tested beside the feature
# (tests/web/payments/test_views.py).
DRIVER_OWN = "driver, own records only"
STAFF_RECORD = "staff, any driver's record"
DRIVER = frozenset({Role.DRIVER})
MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})
ADMIN = frozenset({Role.ADMIN})


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
    "/salir/todas": ANY_USER,
    "/cuenta/contrasena": ANY_USER,
    "/conductor/": frozenset({Role.DRIVER}),
    "/conductor/estados-de-cuenta": frozenset({Role.DRIVER}),
    "/conductor/movimientos": frozenset({Role.DRIVER}),
    # a driver's own statement only: tested in tests/web/account/test_statements.py
    "/conductor/estados-de-cuenta/<int:statement_id>": "driver's own",
    "/conductor/estados-de-cuenta/<int:statement_id>.pdf": "driver's own",
    # The former movements page, now a 308 to the account page below:
    # tests/web/account/test_statements.py
    "/operacion/conductores/<int:driver_id>/movimientos": "staff, redirect to /estado",
    "/conductor/cargar": frozenset({Role.DRIVER}),
    "/conductor/cargar/en-curso": frozenset({Role.DRIVER}),
    "/conductor/cargar/reservar": Record(DRIVER, "charging_url"),
    "/conductor/cargar/reservas/<int:booking_id>/cancelar": Record(DRIVER, "charging_url"),
    "/conductor/cargar/iniciar": Record(DRIVER, "charging_url", "POST"),
    "/conductor/cargar/meta": Record(DRIVER, "charging_url", "POST"),
    "/conductor/cargar/sesiones/<int:session_id>/detener": Record(DRIVER, "charging_url"),
    "/operacion/cargadores": STAFF,
    "/operacion/cargadores/<int:charger_id>": Record(STAFF, "charging_url"),
    "/operacion/cargadores/<int:charger_id>/comando": Record(STAFF, "charging_url"),
    "/operacion/cargadores/<int:charger_id>/comandos/<int:command_id>": Record(
        STAFF, "charging_url"
    ),
    # Billing a held session is a money decision: managers and admins.
    "/operacion/cargadores/<int:charger_id>/sesiones/<int:session_id>/revision": Record(
        MANAGERS, "charging_url", "POST"
    ),
    "/gerencia/energia": MANAGERS,
    # The fleet's battery health; a car's is on its vehicle page (staff) and on its
    # driver's contract page (tests/web/contracts/test_driver_battery.py).
    "/gerencia/bateria": MANAGERS,
    # Smart charging: each depot's plan and its switch (tests/web/charging/test_smart.py).
    "/gerencia/carga-inteligente": MANAGERS,
    "/gerencia/carga-inteligente/<int:depot_id>": Record(MANAGERS, "records_url", "POST"),
    "/gerencia/indicadores": MANAGERS,
    "/gerencia/indicadores.csv": MANAGERS,
    "/admin/cargadores": frozenset({Role.ADMIN}),
    "/admin/cargadores/<int:charger_id>/<any(aprobar, rechazar):decision>": Record(
        frozenset({Role.ADMIN}), "charging_url", "POST"
    ),
    "/admin/tarjetas": frozenset({Role.ADMIN}),
    "/admin/tarjetas/<int:tag_id>/<any(desactivar, activar):change>": Record(
        frozenset({Role.ADMIN}), "charging_url", "POST"
    ),
    "/operacion/flota": STAFF,
    "/conductor/pagar": frozenset({Role.DRIVER}),
    "/conductor/pagos": frozenset({Role.DRIVER}),
    "/conductor/pagos/<int:intent_id>": DRIVER_OWN,
    "/conductor/spei": frozenset({Role.DRIVER}),
    "/operacion/cobranza": STAFF,
    "/operacion/cobranza.csv": STAFF,
    # A driver's account: GET for staff; a reversal (POST) for managers only
    # (tests/web/account/test_statements.py); cash (POST) for staff.
    "/operacion/conductores/<int:driver_id>/estado": Record(STAFF, "staff_driver_url"),
    "/operacion/conductores/<int:driver_id>/efectivo": Record(STAFF, "staff_driver_url", "POST"),
    "/webhooks/conekta": WEBHOOK,
    "/webhooks/stripe": WEBHOOK,
    "/conductor/vehicle-status": frozenset({Role.DRIVER}),
    "/operacion/tablero": STAFF,
    # Rules with a parameter are checked with real ids in their area's tests
    # (tests/web/fleet/test_views.py); here only that they need a log-in and a role.
    "/operacion/vehiculos/<int:vehicle_id>": STAFF,
    "/gerencia/": frozenset({Role.MANAGER, Role.ADMIN}),
    # Credit: tests/web/credit/test_views.py
    "/operacion/credito/": STAFF,
    "/operacion/credito/nueva": STAFF,
    "/operacion/credito/<int:application_id>": STAFF_RECORD,
    "/operacion/credito/<int:application_id>/editar": STAFF_RECORD,
    "/operacion/credito/<int:application_id>/ganancias": "staff, POST only",
    "/operacion/credito/<int:application_id>/enviar": "staff, POST only",
    "/operacion/credito/<int:application_id>/decision": "staff; overrides by managers",
    "/operacion/credito/<int:application_id>/perfil": Record(STAFF, "credit_url", "POST"),
    "/gerencia/credito/politica": frozenset({Role.MANAGER, Role.ADMIN}),
    # The applicant's own application: public (tests/web/credit/test_applicant.py)
    "/solicitud": PUBLIC,
    "/solicitud/enviada": PUBLIC,
    "/admin/modelos/": frozenset({Role.ADMIN}),
    "/admin/modelos/<int:version_id>/activar": "admin, POST only",
    "/admin/": frozenset({Role.ADMIN}),
    # incidents
    "/conductor/incidentes": DRIVER,
    "/conductor/incidentes/nuevo": DRIVER,
    "/conductor/incidentes/<int:incident_id>": Record(DRIVER, "incident_url"),
    "/conductor/incidentes/<int:incident_id>/adjuntos": Record(DRIVER, "incident_url", "POST"),
    "/conductor/incidentes/<int:incident_id>/adjuntos/<int:attachment_id>": Record(
        DRIVER, "incident_url"
    ),
    "/operacion/incidentes": STAFF,
    "/operacion/incidentes/<int:incident_id>": Record(STAFF, "incident_url"),
    "/operacion/incidentes/<int:incident_id>/estado": Record(STAFF, "incident_url", "POST"),
    "/operacion/incidentes/<int:incident_id>/seguro": Record(STAFF, "incident_url", "POST"),
    "/operacion/incidentes/<int:incident_id>/comentarios": Record(STAFF, "incident_url", "POST"),
    "/operacion/incidentes/<int:incident_id>/adjuntos": Record(STAFF, "incident_url", "POST"),
    "/operacion/incidentes/<int:incident_id>/adjuntos/<int:attachment_id>": Record(
        STAFF, "incident_url"
    ),
    "/operacion/incidentes/<int:incident_id>/reporte": Record(STAFF, "incident_url"),
    "/operacion/incidentes/<int:incident_id>/reporte.pdf": Record(STAFF, "incident_url"),
    "/gerencia/incidentes/<int:incident_id>/responsabilidad": Record(
        MANAGERS, "incident_url", "POST"
    ),
    "/gerencia/incidentes/<int:incident_id>/responsabilidad/<int:entry_id>/correccion": Record(
        MANAGERS, "incident_url", "POST"
    ),
    # The operator's records (tests/services/ and tests/portal/test_records_pages.py):
    # users, depots, the catalogue (admins); vehicles, drivers, contracts, imports
    # (staff); sign-off and early termination (managers); the driver's own contract.
    "/admin/usuarios": ADMIN,
    "/admin/usuarios/<int:user_id>": Record(ADMIN, "records_url"),
    "/admin/usuarios/<int:user_id>/rol": Record(ADMIN, "records_url", "POST"),
    "/admin/usuarios/<int:user_id>/<any(desactivar, reactivar, desbloquear):change>": Record(
        ADMIN, "records_url", "POST"
    ),
    "/admin/usuarios/<int:user_id>/codigo": Record(ADMIN, "records_url", "POST"),
    "/entrar/olvide": PUBLIC,
    "/entrar/codigo": PUBLIC,
    "/entrar/restablecer/<token>": "public, a reset link's token (test_records_pages.py)",
    "/admin/depositos": ADMIN,
    "/admin/depositos/<int:depot_id>": Record(ADMIN, "records_url"),
    "/admin/depositos/<int:depot_id>/tarifa": Record(ADMIN, "records_url", "POST"),
    "/admin/depositos/<int:depot_id>/precio": Record(ADMIN, "records_url", "POST"),
    "/admin/depositos/<int:depot_id>/baja": Record(ADMIN, "records_url", "POST"),
    "/admin/catalogo": ADMIN,
    "/operacion/vehiculos/nuevo": STAFF,
    "/operacion/vehiculos/<int:vehicle_id>/expediente": Record(STAFF, "records_url"),
    "/operacion/vehiculos/<int:vehicle_id>/estado": Record(STAFF, "records_url", "POST"),
    "/operacion/vehiculos/<int:vehicle_id>/borrar": Record(ADMIN, "records_url", "POST"),
    "/operacion/importar": STAFF,
    "/operacion/conductores": STAFF,
    "/operacion/conductores/nuevo": STAFF,
    "/operacion/conductores/<int:driver_id>/ficha": Record(STAFF, "records_url"),
    "/operacion/conductores/<int:driver_id>/<any(suspender, reactivar):change>": Record(
        STAFF, "records_url", "POST"
    ),
    "/operacion/conductores/<int:driver_id>/acceso": Record(STAFF, "records_url", "POST"),
    "/operacion/credito/<int:application_id>/conductor": Record(STAFF, "records_url", "POST"),
    "/operacion/contratos": STAFF,
    "/operacion/contratos/nuevo": Record(STAFF, "records_url"),
    "/operacion/contratos/<int:contract_id>": Record(STAFF, "records_url"),
    "/operacion/contratos/<int:contract_id>/firmar": Record(STAFF, "records_url", "POST"),
    "/operacion/contratos/<int:contract_id>/<any(cancelar, suspender, reanudar, completar, devolver):step>": Record(  # noqa: E501
        STAFF, "records_url", "POST"
    ),
    "/operacion/contratos/<int:contract_id>/sustituto": Record(STAFF, "records_url", "POST"),
    "/operacion/contratos/<int:contract_id>/entrega": Record(STAFF, "records_url"),
    "/operacion/contratos/<int:contract_id>/<any(contrato, carta):kind>.pdf": Record(
        STAFF, "records_url"
    ),
    "/operacion/contratos/<int:contract_id>/fotos/<sha256>": Record(STAFF, "records_url"),
    "/gerencia/contratos/<int:contract_id>/autorizar": Record(MANAGERS, "records_url", "POST"),
    "/gerencia/contratos/<int:contract_id>/terminar": Record(MANAGERS, "records_url"),
    "/conductor/contrato": Record(DRIVER, "records_url"),
    "/conductor/contrato/entrega": Record(DRIVER, "records_url", "POST"),
    "/conductor/contrato/contrato.pdf": Record(DRIVER, "records_url"),
    "/conductor/contrato/fotos/<sha256>": Record(DRIVER, "records_url"),
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
    response.close()  # a served file stays open until the response is closed
    response.close()
    if role not in spec.roles:
        assert response.status_code == 403
    elif spec.method == "GET":
        assert response.status_code == 200
    else:  # an empty POST: refused as invalid, never as forbidden
        assert response.status_code in {303, 422}


def test_public_application_pages_need_no_log_in(client):
    assert client.get("/solicitud").status_code == 200
    sent = client.get("/solicitud/enviada")  # nothing sent in this session: back to the form
    assert sent.status_code == 303
    assert sent.headers["Location"].endswith("/solicitud")


def test_any_user_pages_need_a_log_in(client):
    assert client.get("/cuenta/contrasena").status_code == 302
    assert client.post("/salir").status_code == 302
    assert client.post("/salir/todas").status_code == 302
