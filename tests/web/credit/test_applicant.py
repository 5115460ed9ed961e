"""The applicant's own application (/solicitud) and profiles typed by hand (staff)."""

import io
import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from portal.models import (
    ApplicationStatus,
    AuditEvent,
    CreditApplication,
    CreditScore,
    Role,
)
from portal.services.credit.applications import PRIVACY_NOTICE_VERSION
from portal.services.credit.features import application_features
from portal.services.credit.self_service import (
    SELF_SERVICE_PER_CURP_PER_30_DAYS,
    SELF_SERVICE_PER_IP_PER_DAY,
)
from portal.services.identifiers import make_curp
from scoring.store import score_application
from tests.factories import earnings_json


def _curp(n: int = 7) -> str:
    born = date(1991, 5, 4) + timedelta(days=n)
    return make_curp("Rosa", "Méndez", "Torres", born, "M", "DF", random.Random(n))


def _form(n: int = 7, **overrides):
    form = {
        "first_name": "Rosa",
        "last_name": "Méndez",
        "second_last_name": "Torres",
        "curp": _curp(n),
        "rfc": "",
        "phone": "55 4321 0987",
        "email": "rosa@example.mx",
        "licence_number": "A1234567",
        "licence_expires_on": (date.today() + timedelta(days=400)).isoformat(),
        "requested_vehicle": "BYD Dolphin Mini",
        "consent": "y",
        "privacy": "y",
        "profiles-0-platform": "didi",
        "profiles-0-rating": "4.8",
        "profiles-0-acceptance_pct": "88",
        "profiles-0-cancellation_pct": "4",
        "profiles-0-lifetime_trips": "3100",
        "profiles-0-first_trip_on": "2022-03-01",
        "profiles-0-debt_pending": "150.50",
        "profiles-1-platform": "",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


@pytest.fixture(autouse=True)
def _jobs_wait(jobs_to_redis):
    """Queued scoring jobs wait in Redis (tests/workers/test_credit_jobs.py runs them)."""


def _count(db) -> int:
    return db.scalar(select(func.count(CreditApplication.id)))


def test_the_form_is_public_and_made_for_a_phone(client):
    page = client.get("/solicitud")
    assert page.status_code == 200
    assert "Solicita un auto eléctrico" in page.text
    assert 'name="viewport"' in page.text
    assert "Aviso de privacidad" in page.text
    assert 'enctype="multipart/form-data"' in page.text


def test_a_typed_profile_creates_a_submitted_application_with_consent(client, db):
    response = client.post("/solicitud", data=_form(), environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/solicitud/enviada")
    application = db.scalar(select(CreditApplication).where(CreditApplication.curp == _curp()))
    assert application.self_service
    assert application.status == ApplicationStatus.SCORING
    assert application.created_by_id is None
    assert application.consent_at is not None
    assert application.consent_ip == "203.0.113.9"
    assert application.privacy_notice_version == PRIVACY_NOTICE_VERSION
    assert application.consent_recorded_by_id is None
    (account,) = application.accounts
    assert account.platform.value == "didi"
    assert account.hand_entered
    assert float(account.acceptance_rate) == pytest.approx(0.88)
    assert account.debt_pending_cents == 15050
    features = application_features(db, application, date.today())
    assert features["rating"] == pytest.approx(4.8)
    assert features["platform_debt_mxn"] == 150  # whole pesos
    kinds = set(
        db.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == str(application.id)))
    )
    assert {"credit.consent_recorded", "credit.application_submitted"} <= kinds

    confirmation = client.get("/solicitud/enviada")
    assert confirmation.status_code == 200
    assert "Rosa" in confirmation.text
    assert f"S-{application.id:06d}" in confirmation.text
    main = confirmation.text.split("<main", 1)[1].lower()
    for secret in ("puntos", "banda", "score", "probabilidad", "motivo"):
        assert secret not in main


def test_the_confirmation_never_shows_the_score(client, db, active_model):
    assert client.post("/solicitud", data=_form(8)).status_code == 303
    application = db.scalar(select(CreditApplication).where(CreditApplication.curp == _curp(8)))
    score = score_application(db, application.id, today=date.today())
    assert db.get(CreditScore, score.id) is not None
    page = client.get("/solicitud/enviada")
    assert str(score.score) not in page.text
    for reason in score.reason_codes:
        assert reason["text"] not in page.text


def test_an_uploaded_export_is_imported(client, db):
    data = _form(9, **{"profiles-0-platform": ""})
    data["file"] = (io.BytesIO(earnings_json()), "uber.json")
    response = client.post("/solicitud", data=data, content_type="multipart/form-data")
    assert response.status_code == 303
    application = db.scalar(select(CreditApplication).where(CreditApplication.curp == _curp(9)))
    features = application_features(db, application, date.today())
    assert features["weekly_earnings_mxn"] > 0
    assert [a.hand_entered for a in application.accounts] == [False]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"curp": "RUXA900101MDFZXN09"}, "La CURP no es válida"),
        ({"rfc": "XYZ"}, "El RFC tiene 12 o 13 caracteres."),
        ({"phone": "123"}, "10 dígitos"),
        ({"consent": None}, "Sin tu autorización"),
        ({"privacy": None}, "aviso de privacidad"),
        ({"profiles-0-rating": "7"}, "Escribe un número de 1 a 5."),
        ({"profiles-0-acceptance_pct": "muy alta"}, "Escribe un número."),
        ({"profiles-0-first_trip_on": "2099-01-01"}, "no puede ser en el futuro"),
        ({"profiles-0-platform": ""}, "Sube la exportación"),
        ({"licence_expires_on": "mañana"}, "Escribe la fecha como AAAA-MM-DD."),
    ],
)
def test_invalid_input_answers_422_in_spanish_and_changes_nothing(client, db, overrides, message):
    before = _count(db)
    response = client.post("/solicitud", data=_form(10, **overrides))
    assert response.status_code == 422
    assert message in response.text
    assert _count(db) == before


def test_a_bad_export_is_refused_by_line(client, db):
    data = _form(11, **{"profiles-0-platform": ""})
    data["file"] = (io.BytesIO(b"platform,earning_date\nuber,2025-01-01\n"), "x.csv")
    response = client.post("/solicitud", data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert 'id="file-error">Línea 1' in response.text
    assert _count(db) == 0


def test_a_curp_with_an_open_application_gets_the_same_answer_and_is_linked(
    client, db, make_application
):
    """The form must not tell whoever types a CURP that its owner has applied: the
    answer is a new application's, and staff see the repeat beside the open one."""
    application = make_application()
    repeat = client.post("/solicitud", data=_form(12, curp=application.curp, first_name="Ana"))
    fresh = client.post("/solicitud", data=_form(13))
    assert repeat.status_code == fresh.status_code == 303
    assert repeat.headers["Location"] == fresh.headers["Location"]
    assert _count(db) == 3
    new = db.scalar(select(CreditApplication).where(CreditApplication.first_name == "Ana"))
    assert new.repeat_of_id == application.id
    assert new.status == ApplicationStatus.SCORING
    linked = db.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "credit.application_repeated",
            AuditEvent.entity_id == str(application.id),
        )
    )
    assert linked.details["repeat_id"] == new.id


def test_staff_see_a_repeat_beside_the_open_application(
    client, db, login, make_user, make_application
):
    application = make_application()
    client.post("/solicitud", data=_form(14, curp=application.curp))
    new = db.scalar(select(CreditApplication).where(CreditApplication.repeat_of_id.is_not(None)))
    login(make_user(Role.STAFF))
    original = client.get(f"/operacion/credito/{application.id}")
    assert "La persona solicitante volvió a enviar esta solicitud el" in original.text
    assert f"/operacion/credito/{new.id}" in original.text
    page = client.get(f"/operacion/credito/{new.id}")
    assert f"mientras la #{application.id} seguía abierta" in page.text


def test_posts_of_the_form_are_limited_per_address_and_per_curp(app, client, db, monkeypatch):
    from portal import limits

    monkeypatch.setitem(app.config, "LIMIT_APPLY_PER_ADDRESS", "3 per hour")
    monkeypatch.setitem(app.config, "LIMIT_APPLY_PER_CURP", "2 per day")
    invalid = {"consent": None}  # refused (422) without writing anything
    here = {"REMOTE_ADDR": "198.51.100.40"}
    for _ in range(2):
        assert (
            client.post("/solicitud", data=_form(70, **invalid), environ_base=here).status_code
            == 422
        )
    same_curp = client.post(
        "/solicitud", data=_form(70, **invalid), environ_base={"REMOTE_ADDR": "198.51.100.41"}
    )
    assert same_curp.status_code == 429
    assert "Demasiados intentos." in same_curp.text
    assert (
        client.post("/solicitud", data=_form(71, **invalid), environ_base=here).status_code == 422
    )
    assert (
        client.post("/solicitud", data=_form(72, **invalid), environ_base=here).status_code == 429
    )
    assert limits.limiter.enabled


def test_too_many_applications_from_one_address(client, db):
    for n in range(SELF_SERVICE_PER_IP_PER_DAY):
        response = client.post(
            "/solicitud", data=_form(20 + n), environ_base={"REMOTE_ADDR": "198.51.100.7"}
        )
        assert response.status_code == 303
    response = client.post(
        "/solicitud", data=_form(40), environ_base={"REMOTE_ADDR": "198.51.100.7"}
    )
    assert response.status_code == 429
    assert "Se enviaron demasiadas solicitudes desde esta conexión" in response.text
    other = client.post("/solicitud", data=_form(41), environ_base={"REMOTE_ADDR": "198.51.100.8"})
    assert other.status_code == 303


def test_too_many_applications_with_one_curp(client, db):
    curp = _curp(50)
    now = datetime.now(UTC)
    for n in range(SELF_SERVICE_PER_CURP_PER_30_DAYS):
        ip = f"192.0.2.{n}"
        assert (
            client.post("/solicitud", data=_form(50), environ_base={"REMOTE_ADDR": ip}).status_code
            == 303
        )
        application = db.scalar(
            select(CreditApplication).where(
                CreditApplication.curp == curp,
                CreditApplication.status == ApplicationStatus.SCORING,
            )
        )
        application.status = ApplicationStatus.WITHDRAWN  # closed: no longer "open"
        db.flush()
    assert now  # the window is the last 30 days
    response = client.post("/solicitud", data=_form(50), environ_base={"REMOTE_ADDR": "192.0.2.99"})
    assert response.status_code == 429
    assert "Esta CURP envió varias solicitudes este mes" in response.text


def test_the_form_needs_a_csrf_token(app, client, db):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post("/solicitud", data=_form(60))
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
    assert _count(db) == 0


def test_the_confirmation_without_an_application_goes_back_to_the_form(client):
    response = client.get("/solicitud/enviada")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/solicitud")


def test_behind_the_proxy_each_applicant_has_their_own_address(other_app, db):
    """With LAFA_PROXY_HOPS=1 the address is the one the proxy saw, so the limit of
    applications per address is per applicant, not one for everybody."""
    proxied = other_app(PROXY_HOPS=1).test_client()
    for n, address in enumerate(("198.51.100.70", "198.51.100.71")):
        response = proxied.post(
            "/solicitud", data=_form(80 + n), headers={"X-Forwarded-For": address}
        )
        assert response.status_code == 303
    addresses = db.scalars(select(CreditApplication.consent_ip).order_by(CreditApplication.id))
    assert list(addresses) == ["198.51.100.70", "198.51.100.71"]
