"""Sessions: how one starts, how long it lasts, and how every session of a user ends.

A session is Flask's signed cookie. At log-in it starts empty (`session.clear()`:
nothing set before the log-in, by the user or planted by someone else, survives
it) and is stamped with the user's `session_version`, the log-in time and the last
activity. Every request that identifies the user (`security.load_user`) checks:

- the stamp against `users.session_version`, which `accounts.end_sessions` bumps
  (log out everywhere, a password change or reset, a deactivation): one increment
  ends every session of the user on every device;
- the idle and the absolute timeout of the user's role (`TIMEOUTS`; why these
  numbers: docs/security.md, "Sessions").

A failed check empties the session: the user is anonymous and logs in again.
Flask-Login's own "session protection" is off: it hashed the client's
`X-Forwarded-For` (which anyone can send) with the user agent, and logged a driver
out whenever the phone changed networks; the version stamp does the real work.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, Response, flash, redirect, request, session, url_for
from flask_login import login_user, logout_user

from portal.htmx import htmx, wants_fragment
from portal.models import Role, User


@dataclass(frozen=True)
class Timeouts:
    idle: timedelta
    absolute: timedelta


#: A driver logs in on their own phone and checks the car, pays and books a charger
#: a few times a week: a week idle, a month at most (then the password again). Staff
#: share a tablet at the depot: a quarter of an hour idle, one shift at most. Managers
#: and admins work at a desk with money and users: half an hour idle, a working day.
TIMEOUTS = {
    Role.DRIVER: Timeouts(idle=timedelta(days=7), absolute=timedelta(days=30)),
    Role.STAFF: Timeouts(idle=timedelta(minutes=15), absolute=timedelta(hours=12)),
    Role.MANAGER: Timeouts(idle=timedelta(minutes=30), absolute=timedelta(hours=12)),
    Role.ADMIN: Timeouts(idle=timedelta(minutes=30), absolute=timedelta(hours=12)),
}
#: The last activity is rewritten at most this often (each write is a new cookie).
ACTIVITY_STEP_S = 60

VERSION, STARTED, SEEN = "_sv", "_started", "_seen"


def start(user: User) -> None:
    """Log `user` in on a fresh session stamped with their version and the time."""
    session.clear()
    login_user(user)
    now = int(time.time())
    session[VERSION] = user.session_version
    session[STARTED] = now
    session[SEEN] = now
    # A driver's session outlives closing the phone's browser; a tablet's does not.
    session.permanent = user.role == Role.DRIVER


def restamp(user: User) -> None:
    """Keep this session after `accounts.end_sessions` (a password change) ended the rest."""
    session[VERSION] = user.session_version


def end() -> None:
    logout_user()
    session.clear()


def is_current(user: User, now: float | None = None) -> bool:
    """Whether this request's session still belongs to `user`; refreshes its activity.

    False (and the session emptied) when the user's version moved on or a timeout
    passed. A poll (an htmx GET that is not a navigation) is not activity: a fleet
    board left open on the depot tablet does not keep its user logged in.
    """
    now = time.time() if now is None else now
    limits = TIMEOUTS[user.role]
    version, started, seen = session.get(VERSION), session.get(STARTED), session.get(SEEN)
    if (
        version != user.session_version
        or not isinstance(started, int)
        or not isinstance(seen, int)
        or now - started > limits.absolute.total_seconds()
        or now - seen > limits.idle.total_seconds()
    ):
        session.clear()
        return False
    is_poll = request.method == "GET" and wants_fragment()
    if not is_poll and now - seen >= ACTIVITY_STEP_S:
        session[SEEN] = int(now)
    return True


def unauthorized() -> Response:
    """To the log-in page, then back. An htmx request gets `HX-Redirect`, so the whole
    page goes there instead of a fragment being swapped for the log-in form."""
    from portal.security import login_manager

    flash(str(login_manager.login_message), login_manager.login_message_category)
    page = urlsplit(request.headers.get("HX-Current-URL", "") if htmx else request.url)
    back = page.path + (f"?{page.query}" if page.query else "")
    target = url_for("auth.login", next=back or None)
    if not htmx:
        return redirect(target)  # type: ignore[return-value]
    response = Response(status=401)
    response.headers["HX-Redirect"] = target
    return response


def init_app(app: Flask) -> None:
    # The signed cookie is refused after this long even if its dates were kept.
    app.permanent_session_lifetime = max(t.absolute for t in TIMEOUTS.values())
