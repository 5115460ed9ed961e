"""The large body allowed for incident photos is given only to a logged-in user whose
role may post there; anyone else is held to the ordinary limit before anything reads
the body (CSRF protection reads the form before the blueprint checks the role)."""

import io

import pytest

from portal.models import Role

SMALL, LARGE = 100_000, 400_000  # scaled down: under the test client's 500 kB spooling
BODY = 200_000  # more than a form may send, less than an upload may


@pytest.fixture
def limits(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", SMALL)
    monkeypatch.setitem(app.config, "UPLOAD_MAX_CONTENT_LENGTH", LARGE)

    def post_photos(client, path):
        """With CSRF protection on, as in production: it reads the body first."""
        with monkeypatch.context() as csrf:
            csrf.setitem(app.config, "WTF_CSRF_ENABLED", True)
            return _post(client, path)

    return post_photos


def _post(client, path):
    return client.post(
        path,
        data={"description": "", "photos": (io.BytesIO(b"x" * BODY), "a.jpg")},
        content_type="multipart/form-data",
    )


def test_anonymous_large_bodies_are_refused_before_they_are_read(client, limits):
    response = limits(client, "/conductor/incidentes/nuevo")
    assert response.status_code == 413
    assert "El archivo es demasiado grande." in response.text


def test_a_role_that_may_not_post_there_keeps_the_ordinary_limit(client, limits, login, make_user):
    login(make_user(Role.STAFF))
    assert limits(client, "/conductor/incidentes/nuevo").status_code == 413
    client.post("/salir")
    login(make_user(Role.DRIVER))
    assert limits(client, "/operacion/incidentes/1/adjuntos").status_code == 413


def test_the_driver_gets_the_upload_allowance(client, limits, make_contract, login):
    login(make_contract().driver.user)
    response = limits(client, "/conductor/incidentes/nuevo")
    assert response.status_code == 400  # read, then refused for its missing CSRF token
    assert "El formulario expiró" in response.text
