"""Sessions: a version per user that ends every session, timeouts per role, log-in
starting from an empty session."""

from portal.models import Role
from portal.services import accounts
from tests.factories import PASSWORD


def test_ending_sessions_bumps_the_version_even_when_two_requests_race(db, make_user):
    user = make_user(Role.STAFF)
    before = user.session_version
    accounts.end_sessions(user)
    accounts.end_sessions(user)
    db.refresh(user)
    assert user.session_version == before + 2


def test_a_password_change_ends_the_sessions(db, make_user):
    user = make_user(Role.DRIVER)
    before = user.session_version
    accounts.change_password(db, user, PASSWORD, "una frase bastante larga")
    db.refresh(user)
    assert user.session_version == before + 1
