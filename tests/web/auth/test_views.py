import threading
from datetime import timedelta

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session as OrmSession

from portal import limits
from portal.db import utcnow
from portal.models import AuditEvent, Role, User
from portal.passwords import hash_password
from portal.services import DomainError, accounts
from tests.factories import PASSWORD


def test_driver_logs_in_with_the_mobile_number_as_typed(client, make_driver):
    driver = make_driver()
    phone = driver.user.phone
    typed = f"+52 {phone[:2]} {phone[2:6]} {phone[6:]}"
    response = client.post("/entrar", data={"identifier": typed, "password": PASSWORD})
    assert response.status_code == 303
    assert response.headers["Location"] == "/conductor/"


@pytest.mark.parametrize(
    ("role", "home"),
    [(Role.STAFF, "/operacion/flota"), (Role.MANAGER, "/gerencia/"), (Role.ADMIN, "/admin/")],
)
def test_staff_log_in_with_e_mail_and_land_on_their_home(client, make_user, role, home):
    user = make_user(role)
    response = client.post("/entrar", data={"identifier": user.email.upper(), "password": PASSWORD})
    assert response.status_code == 303
    assert response.headers["Location"] == home
    assert client.get(home).status_code == 200


def test_wrong_password_and_unknown_user_get_the_same_answer(client, make_user):
    user = make_user(Role.STAFF)
    wrong = client.post("/entrar", data={"identifier": user.email, "password": "nope"})
    unknown = client.post("/entrar", data={"identifier": "nadie@lafa.mx", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 422
    message = "El celular, el correo o la contraseña no son correctos."
    assert message in wrong.text
    assert message in unknown.text


def test_empty_form_is_422_with_spanish_field_errors(client):
    response = client.post("/entrar", data={"identifier": "", "password": ""})
    assert response.status_code == 422
    assert "Escribe tu celular o correo electrónico." in response.text
    assert "Escribe tu contraseña." in response.text


def test_repeated_failures_lock_the_account(app, client, db, make_user):
    user = make_user(Role.STAFF)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        client.post("/entrar", data={"identifier": user.email, "password": "nope"})
    db.refresh(user)
    assert user.locked_until is not None
    assert user.locked_until > utcnow()
    # Even the right password is refused while locked.
    response = client.post("/entrar", data={"identifier": user.email, "password": PASSWORD})
    assert response.status_code == 429
    assert "Demasiados intentos fallidos. Intenta de nuevo en 15 min." in response.text
    assert 14 * 60 < int(response.headers["Retry-After"]) <= 15 * 60
    assert db.query(AuditEvent).filter_by(action="account.locked").count() == 1

    user.locked_until = utcnow() - timedelta(seconds=1)
    db.flush()
    response = client.post("/entrar", data={"identifier": user.email, "password": PASSWORD})
    assert response.status_code == 303


def test_session_cookie_is_httponly_and_samesite_lax(client, make_user):
    user = make_user(Role.STAFF)
    response = client.post("/entrar", data={"identifier": user.email, "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_log_out(client, login, make_user):
    login(make_user(Role.STAFF))
    response = client.post("/salir")
    assert response.status_code == 303
    assert client.get("/operacion/flota").status_code == 302


def test_next_only_goes_to_this_site(client, make_user):
    user = make_user(Role.STAFF)
    data = {"identifier": user.email, "password": PASSWORD}
    response = client.post("/entrar", data=data | {"next": "https://evil.example/"})
    assert response.headers["Location"] == "/operacion/flota"


def test_next_takes_the_user_back(client, make_user):
    user = make_user(Role.MANAGER)
    data = {"identifier": user.email, "password": PASSWORD, "next": "/operacion/flota?plate=A"}
    response = client.post("/entrar", data=data)
    assert response.headers["Location"] == "/operacion/flota?plate=A"


def test_password_change(client, login, make_user, db):
    user = make_user(Role.DRIVER)
    login(user)
    assert client.get("/cuenta/contrasena").status_code == 200
    bad = client.post(
        "/cuenta/contrasena",
        data={"current": PASSWORD, "new": "corta", "confirm": "corta"},
    )
    assert bad.status_code == 422
    assert "al menos 10 caracteres" in bad.text
    mismatch = client.post(
        "/cuenta/contrasena",
        data={"current": PASSWORD, "new": "una frase larga", "confirm": "otra frase larga"},
    )
    assert mismatch.status_code == 422
    assert "Las dos contraseñas no coinciden." in mismatch.text
    wrong = client.post(
        "/cuenta/contrasena",
        data={"current": "no-es-esta", "new": "una frase larga", "confirm": "una frase larga"},
    )
    assert wrong.status_code == 422
    assert "La contraseña actual no es correcta." in wrong.text

    ok = client.post(
        "/cuenta/contrasena",
        data={"current": PASSWORD, "new": "una frase larga", "confirm": "una frase larga"},
    )
    assert ok.status_code == 303
    client.post("/salir")
    relog = client.post("/entrar", data={"identifier": user.phone, "password": "una frase larga"})
    assert relog.status_code == 303
    assert db.query(AuditEvent).filter_by(action="user.password_changed").count() == 1


def test_inactive_user_cannot_log_in(client, make_user):
    user = make_user(Role.STAFF, is_active=False)
    response = client.post("/entrar", data={"identifier": user.email, "password": PASSWORD})
    assert response.status_code == 422


@pytest.mark.parametrize("target", ["/\\evil.com", "/\t/evil.com", "/\\/evil.com", "//evil.com"])
def test_next_that_a_browser_reads_as_another_site_is_ignored(client, make_user, target):
    user = make_user(Role.STAFF)
    page = client.get("/entrar", query_string={"next": target})
    assert page.status_code == 200
    data = {"identifier": user.email, "password": PASSWORD, "next": target}
    response = client.post("/entrar", data=data)
    assert response.headers["Location"] == "/operacion/flota"


def _answers(client, identifier, attempts):
    """What someone guessing passwords sees, from a new address each time (so only the
    account's own limits apply): status, message, and whether a wait is given."""
    seen = []
    for n in range(attempts):
        response = client.post(
            "/entrar",
            data={"identifier": identifier, "password": f"guess-{n}"},
            environ_base={"REMOTE_ADDR": f"198.51.100.{n + 1}"},
        )
        page = response.text
        message = (
            page.split('id="password-error">', 1)[-1].split("<", 1)[0] if "-error" in page else ""
        )
        seen.append((response.status_code, message, "Retry-After" in response.headers))
    return seen


def test_the_lock_out_looks_the_same_whether_the_account_exists(app, client, make_user):
    attempts = app.config["LOGIN_MAX_FAILURES"] + 2
    known = _answers(client, make_user(Role.STAFF).email, attempts)
    unknown = _answers(client, "nadie-con-cuenta@lafa.mx", attempts)
    assert known == unknown
    assert [status for status, _, _ in known][-2:] == [429, 429]
    assert all(wait for status, _, wait in known if status == 429)


def test_a_driver_phone_without_an_account_is_locked_out_too(app, client):
    answers = _answers(client, "55 1234 0000", app.config["LOGIN_MAX_FAILURES"] + 1)
    assert answers[-1][0] == 429


def test_parallel_guesses_all_count(app, engine, database_url):
    """Guesses sent at the same moment each add one to the count (they used to all
    write the same number, so a burst never locked the account)."""
    guesses = app.config["LOGIN_MAX_FAILURES"]
    with OrmSession(engine) as session:
        user = User(
            email="paralelo@lafa.mx",
            full_name="Prueba en paralelo",
            role=Role.STAFF,
            password_hash=hash_password(PASSWORD),
        )
        session.add(user)
        session.commit()
        user_id = user.id
    with app.app_context():
        others = limits.lockouts()
    start = threading.Barrier(guesses)
    outcomes = []

    def guess(n):
        with OrmSession(engine) as session:
            start.wait()
            try:
                accounts.authenticate(
                    session,
                    "paralelo@lafa.mx",
                    f"wrong-{n}",
                    max_failures=guesses,
                    lockout=timedelta(minutes=15),
                    others=others,
                )
            except DomainError as error:
                outcomes.append(type(error).__name__)
            session.commit()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(guesses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        with OrmSession(engine) as session:
            locked = session.get(User, user_id).locked_until
            audits = session.query(AuditEvent).filter_by(action="account.locked").count()
        assert outcomes == ["LoginFailed"] * guesses
        assert locked is not None
        assert audits >= 1
    finally:
        with OrmSession(engine) as session:
            session.execute(delete(AuditEvent).where(AuditEvent.entity_id == str(user_id)))
            session.execute(delete(User).where(User.id == user_id))
            session.commit()
