"""Users: created by e-mail, roles only an admin can raise to admin, deactivation that
keeps the history, unlocking; reset codes issued by staff or sent by SMS."""

from datetime import timedelta

import pytest

from portal.db import utcnow
from portal.models import AuditEvent, PasswordReset, ResetChannel, Role
from portal.passwords import verify_password
from portal.payments.transport import HttpResponse
from portal.services import FieldError, NotAllowed, resets, users
from portal.sms import DemoSmsClient, SmsMessage, TwilioClient

NEW_PASSWORD = "una-clave-nueva-larga"


def _actions(db, user):
    return [
        e.action
        for e in db.query(AuditEvent).filter_by(entity_type="users", entity_id=str(user.id))
    ]


def test_an_admin_creates_staff_by_email_without_a_password(db, make_user):
    admin = make_user(Role.ADMIN)
    user = users.create_user(
        db, users.NewUser("  Ana.Ruiz@LAFA.mx ", "Ana Ruiz", Role.STAFF), actor=admin
    )
    assert user.email == "ana.ruiz@lafa.mx"
    assert not verify_password(user.password_hash, "")  # she sets it with a reset code
    assert _actions(db, user) == ["user.created"]


def test_a_duplicate_or_invalid_email_is_the_fields_error(db, make_user):
    admin = make_user(Role.ADMIN)
    with pytest.raises(FieldError) as error:
        users.create_user(db, users.NewUser(admin.email.upper(), "Otra", Role.STAFF), actor=admin)
    assert error.value.field == "email"
    with pytest.raises(FieldError) as error:
        users.create_user(db, users.NewUser("no-es-correo", "Otra", Role.STAFF), actor=admin)
    assert error.value.field == "email"


def test_only_an_admin_makes_an_admin(db, make_user):
    manager, admin = make_user(Role.MANAGER), make_user(Role.ADMIN)
    with pytest.raises(NotAllowed):
        users.create_user(db, users.NewUser("jefa@lafa.mx", "Jefa", Role.ADMIN), actor=manager)
    staff = make_user(Role.STAFF)
    with pytest.raises(NotAllowed):
        users.change_role(db, staff, Role.ADMIN, actor=manager)
    users.change_role(db, staff, Role.ADMIN, actor=admin)
    assert staff.role == Role.ADMIN
    # The first administrator of a deployment comes from the command line (no actor).
    first = users.create_user(
        db, users.NewUser("root@lafa.mx", "Primera", Role.ADMIN, "clave-muy-segura"), actor=None
    )
    assert first.role == Role.ADMIN


def test_deactivation_keeps_the_user_and_refuses_log_in(client, db, make_user):
    admin, staff = make_user(Role.ADMIN), make_user(Role.STAFF)
    users.deactivate(db, staff, actor=admin, reason="dejó la empresa")
    assert staff.is_active is False
    assert staff.deactivated_at is not None
    refused = client.post(
        "/entrar", data={"identifier": staff.email, "password": "correcto-caballo-bateria"}
    )
    assert refused.status_code == 422
    assert "user.deactivated" in _actions(db, staff)
    with pytest.raises(Exception, match="yourself"):
        users.deactivate(db, admin, actor=admin)


def test_unlock_lifts_a_lock_out(db, make_user):
    admin, staff = make_user(Role.ADMIN), make_user(Role.STAFF)
    staff.locked_until = utcnow() + timedelta(minutes=10)
    users.unlock(db, staff, actor=admin)
    assert staff.locked_until is None
    assert "user.unlocked" in _actions(db, staff)


def test_a_staff_reset_code_works_once_within_30_minutes(db, make_user, make_driver):
    staff = make_user(Role.STAFF)
    driver = make_driver()
    issued = resets.issue_reset(db, driver.user, actor=staff)
    assert issued.shown_on_screen
    assert len(issued.code) == 6
    stored = db.get(PasswordReset, issued.reset.id)
    assert issued.code not in stored.code_hash
    assert stored.token_sha256 != issued.token
    assert stored.expires_at - stored.created_at == timedelta(minutes=30)
    user = resets.reset_with_code(db, driver.phone, issued.code, NEW_PASSWORD)
    assert verify_password(user.password_hash, NEW_PASSWORD)
    with pytest.raises(resets.ResetRefused):
        resets.reset_with_code(db, driver.phone, issued.code, NEW_PASSWORD + "x")


def test_an_expired_link_or_a_guessed_code_is_refused(db, make_user, make_driver):
    staff = make_user(Role.STAFF)
    driver = make_driver()
    issued = resets.issue_reset(db, driver.user, actor=staff, now=utcnow() - timedelta(minutes=31))
    with pytest.raises(resets.ResetRefused):
        resets.reset_with_token(db, issued.token, NEW_PASSWORD)
    issued = resets.issue_reset(db, driver.user, actor=staff)
    for _ in range(resets.MAX_CODE_ATTEMPTS):
        with pytest.raises(resets.ResetRefused):
            resets.reset_with_code(
                db, driver.phone, "000000" if issued.code != "000000" else "1", NEW_PASSWORD
            )
    with pytest.raises(resets.ResetRefused):  # voided after too many wrong codes
        resets.reset_with_code(db, driver.phone, issued.code, NEW_PASSWORD)


def test_a_new_reset_voids_the_older_link(db, make_user, make_driver):
    staff = make_user(Role.STAFF)
    driver = make_driver()
    first = resets.issue_reset(db, driver.user, actor=staff)
    resets.issue_reset(db, driver.user, actor=staff)
    with pytest.raises(resets.ResetRefused):
        resets.reset_with_token(db, first.token, NEW_PASSWORD)


def test_a_reset_lifts_a_lock_out(db, make_user, make_driver):
    driver = make_driver()
    driver.user.locked_until = utcnow() + timedelta(minutes=10)
    issued = resets.issue_reset(db, driver.user, actor=make_user(Role.STAFF))
    resets.reset_with_token(db, issued.token, NEW_PASSWORD)
    assert driver.user.locked_until is None


def test_staff_reset_drivers_only_and_admins_anyone(db, make_user):
    staff, manager, admin = make_user(Role.STAFF), make_user(Role.MANAGER), make_user(Role.ADMIN)
    with pytest.raises(NotAllowed):
        resets.issue_reset(db, manager, actor=staff)
    assert resets.issue_reset(db, manager, actor=admin).code


def _twilio(calls, status=201, body=None):
    def transport(request):
        calls.append(request)
        return HttpResponse(
            status,
            (body or b'{"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued"}'),
        )

    return TwilioClient("AC" + "1" * 32, "token-secreto", "+15005550006", transport)


def test_forgotten_password_sends_the_code_to_the_drivers_phone(db, make_driver):
    driver = make_driver()
    calls = []
    issued = resets.request_reset(
        db, driver.phone, sms=_twilio(calls), message=lambda code: f"LAFA: tu código es {code}"
    )
    assert issued.reset.channel == ResetChannel.SMS
    assert issued.reset.provider_message_id == "SM0123456789abcdef0123456789abcdef"
    assert not issued.shown_on_screen
    (request,) = calls
    assert f"To=%2B52{driver.phone}".encode() in request.body
    assert f"tu+c%C3%B3digo+es+{issued.code}".encode() in request.body


def test_forgotten_password_tells_nobody_who_has_an_account(db, make_user):
    staff = make_user(Role.STAFF)
    calls = []
    for who in ("5599887766", staff.email):
        assert resets.request_reset(db, who, sms=_twilio(calls), message=str) is None
    assert calls == []


def test_the_demonstration_mode_shows_the_code_instead(db, make_driver):
    driver = make_driver()
    issued = resets.request_reset(db, driver.phone, sms=DemoSmsClient(), message=str)
    assert issued.shown_on_screen
    assert issued.reset.channel == ResetChannel.DEMO


def test_the_twilio_request_is_the_documented_one():
    calls = []
    sent = _twilio(calls).send(SmsMessage("5512345678", "Hola ñandú"))
    (request,) = calls
    assert request.method == "POST"
    assert request.url == (
        "https://api.twilio.com/2010-04-01/Accounts/AC11111111111111111111111111111111/Messages.json"
    )
    # HTTP Basic with the Account SID and the Auth Token.
    assert request.headers["Authorization"] == (
        "Basic QUMxMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTp0b2tlbi1zZWNyZXRv"
    )
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.body == b"To=%2B525512345678&From=%2B15005550006&Body=Hola+%C3%B1and%C3%BA"
    assert sent.provider_message_id.startswith("SM")
    assert sent.status == "queued"


def test_a_messaging_service_sender_and_a_refusal():
    calls = []
    client = _twilio(
        calls,
        status=400,
        body=b'{"code": 21211, "message": "The \'To\' number is not a valid phone number.",'
        b' "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}',
    )
    client.sender = "MG" + "2" * 32
    with pytest.raises(Exception, match="21211"):
        client.send(SmsMessage("5512345678", "x"))
    assert b"MessagingServiceSid=MG2222" in calls[0].body
