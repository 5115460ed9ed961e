"""The app around the features: each role's first page, the error pages in Spanish,
the security headers and the CSP, CSRF on every form and from htmx."""

from portal.models import Role


def test_manager_and_admin_homes(client, login, make_user, fleet):
    login(make_user(Role.ADMIN))
    manager = client.get("/gerencia/").text
    assert "Flota por estado" in manager
    assert "Depósito Norte" in manager
    admin = client.get("/admin/").text
    assert "Actividad reciente" in admin
    assert "Depósito Sur" in admin


def test_unknown_url_is_the_spanish_404_page(client):
    response = client.get("/no-existe")
    assert response.status_code == 404
    assert "No encontramos esta página." in response.text
    assert "Traceback" not in response.text


def test_server_error_is_the_spanish_500_page(app, db):
    from portal.app import create_app

    broken = create_app(dict(app.config))
    broken.config["PROPAGATE_EXCEPTIONS"] = False

    @broken.get("/_boom")
    def boom():
        raise RuntimeError("boom")

    response = broken.test_client().get("/_boom")
    assert response.status_code == 500
    assert "Algo salió mal de nuestro lado." in response.text
    assert "RuntimeError" not in response.text


def test_security_headers(client):
    response = client.get("/entrar")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_forms_without_a_csrf_token_are_refused(app, client, make_user):
    user = make_user(Role.STAFF)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post("/entrar", data={"identifier": user.email, "password": "x"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
    assert "El formulario expiró" in response.text


def test_htmx_sends_the_csrf_token_from_body(client):
    assert 'hx-headers=\'{"X-CSRFToken": "' in client.get("/entrar").text


def test_tile_origin_is_allowed_by_the_csp():
    from portal.app import create_app

    app = create_app(
        {
            "TESTING": True,
            "REDIS_URL": "",
            "MAP_TILE_URL": "https://{s}.tiles.example.mx/{z}/{x}/{y}.png",
        }
    )
    assert "img-src 'self' data: https://*.tiles.example.mx;" in app.config["CSP"]
