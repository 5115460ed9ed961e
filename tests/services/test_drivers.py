"""Drivers: from an approved application in one action, or by hand; contact data."""

from datetime import timedelta

import pytest

from portal.models import AuditEvent, DriverStatus, Role
from portal.services import DomainError, FieldError, drivers
from portal.timeutil import local_today

TODAY = local_today()


def test_an_approved_application_becomes_a_driver_with_a_phone_log_in(
    db, make_user, approved_application
):
    staff = make_user(Role.STAFF)
    application = approved_application(rfc="LOOM880309AB1")
    driver = drivers.create_from_application(db, application, actor_id=staff.id, today=TODAY)
    assert (driver.curp, driver.phone, driver.rfc) == (
        application.curp,
        application.phone,
        "LOOM880309AB1",
    )
    assert driver.consent_at == application.consent_at
    assert driver.privacy_notice_version == application.privacy_notice_version
    assert driver.user.phone == application.phone
    assert driver.user.role == Role.DRIVER
    assert driver.status == DriverStatus.ACTIVE
    assert application.driver_id == driver.id
    # once: the same action again is the same driver
    assert (
        drivers.create_from_application(db, application, actor_id=staff.id, today=TODAY) is driver
    )


def test_an_application_not_approved_is_refused(db, make_user, make_application):
    with pytest.raises(DomainError, match="approved"):
        drivers.create_from_application(
            db, make_application(earnings=False), actor_id=make_user().id, today=TODAY
        )


def _data(**kw):
    values = {
        "first_name": "Jorge",
        "last_name": "Salas",
        "curp": "OEVL921024MDFLRR07",
        "phone": "55 4444 1234",
    }
    return drivers.DriverData(**(values | kw))


def test_a_driver_by_hand(db, make_user):
    staff = make_user(Role.STAFF)
    driver = drivers.create_driver(
        db, _data(email="JORGE@correo.mx"), actor_id=staff.id, today=TODAY
    )
    assert driver.phone == "5544441234"
    assert driver.email == "jorge@correo.mx"
    assert (
        db.query(AuditEvent).filter_by(entity_type="drivers", entity_id=str(driver.id)).count() == 1
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"curp": "OEVL921024MDFLRR08"}, "curp"),
        ({"phone": "12345"}, "phone"),
        ({"rfc": "XYZ"}, "rfc"),
        ({"licence_expires_on": TODAY - timedelta(days=1)}, "licence_expires_on"),
        ({"first_name": " "}, "first_name"),
    ],
)
def test_bad_driver_data_is_the_fields_error(db, change, field):
    with pytest.raises(FieldError) as error:
        drivers.create_driver(db, _data(**change), actor_id=None, today=TODAY)
    assert error.value.field == field


def test_a_duplicate_curp_or_phone_is_the_fields_error(db, make_driver):
    existing = make_driver()
    with pytest.raises(FieldError) as error:
        drivers.create_driver(db, _data(curp=existing.curp), actor_id=None, today=TODAY)
    assert error.value.field == "curp"
    with pytest.raises(FieldError) as error:
        drivers.create_driver(db, _data(phone=existing.phone), actor_id=None, today=TODAY)
    assert error.value.field == "phone"


def test_contact_data_and_the_phone_log_in_change_together(db, make_user, make_driver):
    staff = make_user(Role.STAFF)
    driver = make_driver()
    changed = drivers.update_contact(
        db,
        driver,
        drivers.ContactData(phone="55 7777 0000", email="nuevo@correo.mx"),
        actor_id=staff.id,
        today=TODAY,
    )
    assert changed == ["email", "phone"]
    assert driver.user.phone == "5577770000"


def test_suspend_and_reactivate(db, make_user, make_driver):
    staff = make_user(Role.STAFF)
    driver = make_driver()
    with pytest.raises(FieldError):
        drivers.suspend(db, driver, actor_id=staff.id, reason="")
    drivers.suspend(db, driver, actor_id=staff.id, reason="documentos vencidos")
    assert driver.status == DriverStatus.SUSPENDED
    drivers.reactivate(db, driver, actor_id=staff.id)
    assert driver.status == DriverStatus.ACTIVE
