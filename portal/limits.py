"""Rate limits (Flask-Limiter, in Redis) and the lock-out of identifiers without an account.

The client is `request.remote_addr`: behind a proxy, `security.init_app` wraps the
app in Werkzeug's ProxyFix for `PROXY_HOPS` hops, so it is the address the proxy saw
and not one the client made up. Limits are kept in `RATELIMIT_STORAGE_URI` (the
portal's Redis; in memory, per process, only when there is no Redis). Each limit
counts within a moving window; the numbers and why: docs/security.md.

- log-in: failures per address and per account (the account as typed, whether it
  exists or not); the lock-out after `LOGIN_MAX_FAILURES` failures is the account's
  (`services.accounts`), and `Lockouts` below gives an identifier without an account
  the same one;
- the public application (/solicitud): posts per address and per CURP;
- password-reset codes: `reset_code_limits`, per address and per account.

A refusal is a Spanish 429 page that says how long to wait (and `Retry-After`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from flask import Flask, Response, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter import Limiter, RateLimitExceeded
from limits.storage import Storage

from portal.services.accounts import login_identity

F = TypeVar("F", bound=Callable[..., Any])


def client_address() -> str:
    return request.remote_addr or "unknown"


limiter = Limiter(key_func=client_address, strategy="moving-window")

#: The limits, as settings (`app.config`, overridable like any other). Failed log-ins:
#: a 303 is a success, everything else counts. The public application form: every post
#: (an applicant correcting a mistake posts again). Reset codes: asking and typing.
DEFAULTS = {
    "LIMIT_LOGIN_PER_ADDRESS": "30 per 15 minutes",
    "LIMIT_LOGIN_PER_ACCOUNT": "20 per day",
    "LIMIT_APPLY_PER_ADDRESS": "20 per hour",
    "LIMIT_APPLY_PER_CURP": "10 per day",
    "LIMIT_RESET_PER_ADDRESS": "10 per hour",
    "LIMIT_RESET_PER_ACCOUNT": "5 per hour",
}
#: How long a count of failures is kept for an identifier without an account.
FORGET_FAILURES_AFTER = timedelta(days=1)


def _setting(name: str) -> Callable[[], str]:
    return lambda: str(current_app.config[name])


def _form_value(
    field: str, normalize: Callable[[str], str | None], *others: str
) -> Callable[[], str]:
    """The key of a per-account limit: the form's `field` (or the first of `others` it
    has), normalized; "-" when there is none."""

    def key() -> str:
        raw = next((request.form[f] for f in (field, *others) if request.form.get(f)), "")
        return normalize(raw) or "-"

    return key


def _failed(response: Response) -> bool:
    return response.status_code != 303


def _curp(value: str) -> str | None:
    return value.strip().upper() or None


def login_limits(view: F) -> F:
    """Failed log-ins per address and per account (POST only)."""
    account = _form_value("identifier", login_identity)
    view = cast(
        F,
        limiter.limit(
            _setting("LIMIT_LOGIN_PER_ACCOUNT"),
            key_func=account,
            methods=["POST"],
            deduct_when=_failed,
        )(view),
    )
    return cast(
        F,
        limiter.limit(_setting("LIMIT_LOGIN_PER_ADDRESS"), methods=["POST"], deduct_when=_failed)(
            view
        ),
    )


def application_limits(view: F) -> F:
    """Posts of the public application form per address and per CURP."""
    curp = _form_value("curp", _curp)
    per_curp = limiter.limit(_setting("LIMIT_APPLY_PER_CURP"), key_func=curp, methods=["POST"])
    per_address = limiter.limit(_setting("LIMIT_APPLY_PER_ADDRESS"), methods=["POST"])
    return cast(F, per_address(per_curp(view)))


def reset_code_limits(view: F) -> F:
    """For the views that send or check a password-reset code: posts per address and,
    when the form has an `identifier` (phone or e-mail) or a `phone`, per account."""
    account = _form_value("identifier", login_identity, "phone")
    per_account = limiter.limit(
        _setting("LIMIT_RESET_PER_ACCOUNT"), key_func=account, methods=["POST"]
    )
    per_address = limiter.limit(_setting("LIMIT_RESET_PER_ADDRESS"), methods=["POST"])
    return cast(F, per_address(per_account(view)))


class Lockouts:
    """`accounts.IdentityLockouts` in the limits' storage: an identifier without an
    account is locked after the same number of failures, for the same time."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def locked_until(self, identity: str) -> datetime | None:
        key = f"lockout/locked/{identity}"
        if not self.storage.get(key):
            return None
        return datetime.fromtimestamp(self.storage.get_expiry(key), UTC)

    def record_failure(
        self, identity: str, *, max_failures: int, lockout: timedelta, now: datetime
    ) -> None:
        failures = f"lockout/failed/{identity}"
        expiry = int(FORGET_FAILURES_AFTER.total_seconds())
        if self.storage.incr(failures, expiry) >= max_failures:
            self.storage.incr(f"lockout/locked/{identity}", int(lockout.total_seconds()))
            self.storage.clear(failures)


def lockouts() -> Lockouts:
    return Lockouts(limiter.limiter.storage)  # the in-memory fallback while Redis is down


def too_many_requests(response: Response, retry_after: float) -> Response:
    response.status_code = 429
    response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return response


TITLE = _l("Too many attempts.")


def _rate_limited(exc: RateLimitExceeded) -> Response:
    limit = limiter.current_limit
    # reset_at rounds up a second: never announce more than the window itself.
    wait = 60 if limit is None else min(limit.reset_at - time.time(), limit.limit.get_expiry())
    minutes = max(1, math.ceil(wait / 60))
    page = render_template(
        "errors/error.html",
        status=429,
        title=TITLE,
        message=_("Wait %(minutes)d min and try again.", minutes=minutes),
    )
    return too_many_requests(current_app.make_response(page), wait)


def init_app(app: Flask) -> None:
    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, _rate_limited)
