"""The credit desk's pages: queue, form, import, application page, decisions, policy,
models; htmx fragments, 422s and who may do what."""

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.models import ApplicationStatus, AuditEvent, CreditApplication, PlatformAccount, Role
from portal.services.credit.earnings import ProfileData, import_earnings, record_platform_profile
from portal.services.credit.features import application_features
from portal.services.credit.scoring import cutoff_values, latest_score, set_cutoffs
from scoring.store import register_model, score_application
from tests.factories import earnings_json

HX = {"HX-Request": "true"}


@pytest.fixture
def staff_client(client, login, make_user):
    user = make_user(Role.STAFF)
    login(user)
    client.user = user
    return client


@pytest.fixture
def manager_client(client, login, make_user):
    user = make_user(Role.MANAGER)
    login(user)
    client.user = user
    return client


def _scored(db, make_application, policy):
    application = make_application()
    approve, decline = {"approve": (300, 300), "decline": (900, 900), "refer": (900, 300)}[policy]
    set_cutoffs(
        db, approve_at=approve, decline_below=decline, actor_id=None, reason="prueba de página"
    )
    application.status = ApplicationStatus.SCORING
    score_application(db, application.id, today=date.today())
    return application


def test_queue_full_page_and_htmx_fragment(staff_client, make_application):
    application = make_application()
    page = staff_client.get("/operacion/credito/")
    assert page.status_code == 200
    assert "<html" in page.text
    assert application.full_name in page.text
    assert page.headers["Vary"] == "HX-Request" or "HX-Request" in page.headers["Vary"]
    fragment = staff_client.get("/operacion/credito/?status=draft", headers=HX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert application.full_name in fragment.text
    other = staff_client.get("/operacion/credito/?status=approved", headers=HX)
    assert application.full_name not in other.text
    bad = staff_client.get("/operacion/credito/?status=nope", headers=HX)
    assert bad.status_code == 422


def test_new_application_needs_a_valid_curp_and_consent(staff_client, db):
    form = {
        "first_name": "Ana",
        "last_name": "Ruiz",
        "curp": "RUXA900101MDFZXN09",
        "phone": "55 1234 5678",
        "requested_vehicle": "JAC E10X",
    }
    response = staff_client.post("/operacion/credito/nueva", data=form)
    assert response.status_code == 422
    assert "consentimiento" in response.text
    response = staff_client.post("/operacion/credito/nueva", data=form | {"consent": "y"})
    assert response.status_code == 422
    assert "La CURP no es válida" in response.text
    import random

    from portal.services.identifiers import make_curp

    curp = make_curp("Ana", "Ruiz", "Zavala", date(1990, 1, 1), "M", "DF", random.Random(1))
    response = staff_client.post(
        "/operacion/credito/nueva", data=form | {"consent": "y", "curp": curp}
    )
    assert response.status_code == 303
    application = db.scalar(select(CreditApplication).where(CreditApplication.curp == curp))
    assert application.consent_recorded_by_id == staff_client.user.id
    assert application.phone == "5512345678"


def test_import_upload_good_and_bad(staff_client, db, make_application):
    application = make_application(earnings=False)
    url = f"/operacion/credito/{application.id}/ganancias"
    good = staff_client.post(
        url,
        data={"file": (io.BytesIO(earnings_json()), "uber.json")},
        content_type="multipart/form-data",
    )
    assert good.status_code == 303
    bad = staff_client.post(
        url,
        data={"file": (io.BytesIO(b"platform,earning_date\n"), "x.csv")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
    assert "Línea 1" in bad.text
    empty = staff_client.post(url, data={}, content_type="multipart/form-data")
    assert empty.status_code == 422


def test_submit_without_consent_is_refused(staff_client, make_application):
    application = make_application(consent=False)
    response = staff_client.post(f"/operacion/credito/{application.id}/enviar")
    assert response.status_code == 422
    assert "consentimiento" in response.text


def test_application_page_shows_score_reasons_chart_and_proposal(
    staff_client, db, make_application, active_model
):
    application = _scored(db, make_application, "approve")
    page = staff_client.get(f"/operacion/credito/{application.id}")
    assert page.status_code == 200
    assert "Probabilidad de incumplimiento" in page.text
    assert "SINTÉTICOS" in page.text
    assert "<svg" in page.text
    assert "Contrato propuesto si se aprueba" in page.text
    score = latest_score(db, application.id)
    for reason in score.reason_codes:
        assert reason["text"] in page.text
    fragment = staff_client.get(f"/operacion/credito/{application.id}", headers=HX)
    assert "<html" not in fragment.text
    assert "Probabilidad de incumplimiento" in fragment.text


def test_a_scoring_application_polls_its_status(staff_client, db, make_application):
    application = make_application()
    application.status = ApplicationStatus.SCORING
    db.flush()
    fragment = staff_client.get(f"/operacion/credito/{application.id}", headers=HX)
    assert 'hx-trigger="every 2s"' in fragment.text


def test_staff_approve_following_the_policy(staff_client, db, make_application, active_model):
    application = _scored(db, make_application, "approve")
    response = staff_client.post(
        f"/operacion/credito/{application.id}/decision", data={"outcome": "approve"}
    )
    assert response.status_code == 303
    db.expire_all()
    assert application.status == ApplicationStatus.APPROVED
    page = staff_client.get(f"/operacion/credito/{application.id}")
    assert "Contrato propuesto" in page.text


def test_staff_cannot_override(staff_client, db, make_application, active_model):
    application = _scored(db, make_application, "decline")
    response = staff_client.post(
        f"/operacion/credito/{application.id}/decision",
        data={"outcome": "approve", "reason": "Lo conozco bien"},
    )
    assert response.status_code == 403


def test_manager_override_needs_a_reason_422_then_audited(
    manager_client, db, make_application, active_model
):
    application = _scored(db, make_application, "decline")
    url = f"/operacion/credito/{application.id}/decision"
    response = manager_client.post(url, data={"outcome": "approve", "reason": ""})
    assert response.status_code == 422
    assert "necesita un motivo" in response.text
    response = manager_client.post(
        url, data={"outcome": "approve", "reason": "Ingresos en efectivo comprobados"}
    )
    assert response.status_code == 303
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "credit.override"))
    assert event.actor_id == manager_client.user.id


def test_unknown_application_is_404(staff_client):
    assert staff_client.get("/operacion/credito/999999").status_code == 404


def test_drivers_get_403_everywhere(client, login, make_user, make_driver, make_application):
    application = make_application()
    user = make_user(Role.DRIVER)
    make_driver(user=user)
    login(user)
    for url in (
        "/operacion/credito/",
        f"/operacion/credito/{application.id}",
        "/gerencia/credito/politica",
        "/admin/modelos/",
    ):
        assert client.get(url).status_code == 403
    assert client.post(f"/operacion/credito/{application.id}/decision").status_code == 403


def test_policy_page_saves_cutoffs_and_rejects_bad_ones(manager_client, db):
    url = "/gerencia/credito/politica"
    bad = manager_client.post(
        url, data={"approve_at": "500", "decline_below": "550", "reason": "al revés"}
    )
    assert bad.status_code == 422
    good = manager_client.post(
        url, data={"approve_at": "570", "decline_below": "530", "reason": "Más estricto"}
    )
    assert good.status_code == 303
    assert cutoff_values(db) == (570, 530)
    assert "Más estricto" in manager_client.get(url).text


def test_staff_cannot_set_the_policy(staff_client):
    response = staff_client.post(
        "/gerencia/credito/politica",
        data={"approve_at": "570", "decline_below": "530", "reason": "no me toca"},
    )
    assert response.status_code == 403


def test_admin_models_page_and_switch(client, login, make_user, db, active_model, tmp_path):
    import shutil

    admin = make_user(Role.ADMIN)
    login(admin)
    copy = tmp_path / "sintetico-dos"
    shutil.copytree(active_model.path, copy)
    second = register_model(db, copy)
    page = client.get("/admin/modelos/")
    assert page.status_code == 200
    assert "SINTÉTICO" in page.text
    assert "sintetico-dos" in page.text
    response = client.post(f"/admin/modelos/{second.id}/activar")
    assert response.status_code == 303
    db.expire_all()
    assert second.active
    assert client.post("/admin/modelos/999999/activar").status_code == 404


def test_managers_cannot_switch_models(manager_client, active_model):
    assert manager_client.post(f"/admin/modelos/{active_model.id}/activar").status_code == 403


def test_a_waiting_applications_page_asks_for_its_scoring_once(staff_client, db, make_application):
    import os

    from redis import Redis
    from rq import Queue

    from workers import queues

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    connection = Redis.from_url(url)
    connection.flushdb()
    queues.configure(url)
    try:
        application = make_application()
        application.status = ApplicationStatus.SCORING
        db.flush()
        url = f"/operacion/credito/{application.id}"
        page = staff_client.get(url)
        assert page.status_code == 200
        assert Queue("scoring", connection=connection).count == 0  # a GET only reads
        assert f'hx-post="{url}" hx-trigger="load"' in page.text  # the page asks once
        for _ in range(2):
            assert staff_client.post(url, headers=HX).status_code == 200
        staff_client.get(url, headers=HX)  # a poll
        assert Queue("scoring", connection=connection).count == 1
    finally:
        queues.configure("")
        connection.flushdb()


# ---------------------------------------------------------- platform profiles typed by hand


def test_staff_type_a_profile_that_feeds_the_features(
    staff_client, db, make_application, jobs_to_redis
):
    application = make_application(earnings=False)
    page = staff_client.get(f"/operacion/credito/{application.id}/editar")
    assert "Perfil de plataforma capturado a mano" in page.text
    response = staff_client.post(
        f"/operacion/credito/{application.id}/perfil",
        data={
            "platform": "indrive",
            "rating": "4.7",
            "acceptance_pct": "95 %",
            "cancellation_pct": "2",
            "lifetime_trips": "1200",
            "first_trip_on": (date.today() - timedelta(days=365)).isoformat(),
            "debt_pending": "$1,000",
        },
    )
    assert response.status_code == 303
    account = db.scalar(
        select(PlatformAccount).where(PlatformAccount.application_id == application.id)
    )
    assert account.hand_entered
    assert account.debt_pending_cents == 100_000
    features = application_features(db, application, date.today())
    assert features["acceptance_rate"] == pytest.approx(0.95)
    assert features["tenure_months"] == 12
    assert features["platform_debt_mxn"] == 1000
    page = staff_client.get(f"/operacion/credito/{application.id}/editar")
    assert "capturado a mano" in page.text
    # A profile alone is enough to submit (the earnings stay missing for the model).
    assert staff_client.post(f"/operacion/credito/{application.id}/enviar").status_code == 303


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rating", "0.5", "Escribe un número de 1 a 5."),
        ("cancellation_pct", "120", "Escribe un número de 0 a 100."),
        ("lifetime_trips", "12.5", "Escribe un número entero."),
        ("first_trip_on", "2001-01-01", "desde 2013"),
        ("first_trip_on", "ayer", "AAAA-MM-DD"),
        ("debt_pending", "-5", "Escribe un monto de 0 a"),
        ("platform", "bolt", "Not a valid choice"),
    ],
)
def test_a_bad_typed_profile_answers_422_and_changes_nothing(
    staff_client, db, make_application, field, value, message
):
    application = make_application(earnings=False)
    revision = application.revision
    response = staff_client.post(
        f"/operacion/credito/{application.id}/perfil",
        data={"platform": "uber", "rating": "4.9"} | {field: value},
    )
    assert response.status_code == 422
    if message != "Not a valid choice":
        assert message in response.text
    assert not db.scalars(
        select(PlatformAccount).where(PlatformAccount.application_id == application.id)
    ).all()
    assert db.get(CreditApplication, application.id).revision == revision


def test_an_import_replaces_a_typed_profile(db, make_application):
    application = make_application(earnings=False)
    record_platform_profile(
        db,
        application,
        ProfileData(platform="uber", rating=Decimal("4.1")),
        actor_id=None,
        today=date.today(),
    )
    import_earnings(
        db, application, earnings_json(), "uber.json", actor_id=None, today=date.today()
    )
    (account,) = application.accounts
    assert not account.hand_entered
    assert float(account.rating) == pytest.approx(4.93)
