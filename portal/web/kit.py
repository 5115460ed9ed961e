"""What every view repeats, in one place, so a view reads as its four steps: parse the
form, call one service, commit, choose the template or the redirect.

    form = CommentForm()
    if form.validate_on_submit():
        with form_action(form, "body") as action:
            incidents.add_comment(Session(), incident_id, form.body.data, ...)
        if action.ok:
            return done(url_for("incidents.detail", incident_id=incident_id))
    return page(status=422, comment=form)

- `form_action`: runs the service call; commits when it returns; on a `DomainError`
  rolls back and puts the translated message on the field (a `FieldError` names its
  own field); on `NotAllowed` rolls back and answers 403.
- `done(url)`: after a successful write, `HX-Redirect` for htmx, a 303 otherwise.
- `csv_response`: a spreadsheet download (UTF-8 with a BOM, streamed, formula cells
  neutralised).
- `enqueue_after_commit`: queue a job once the session commits, never before.
- `money` / `pesos` / `pesos_input`: the one money formatter (portal.i18n).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any

from flask import Response, abort, redirect, stream_with_context
from flask_babel import gettext as _

from portal.db import Session
from portal.htmx import wants_fragment
from portal.i18n import money, pesos, pesos_input
from portal.services import DomainError, FieldError, NotAllowed
from workers.queues import enqueue_after_commit

__all__ = [
    "FormAction",
    "csv_response",
    "done",
    "enqueue_after_commit",
    "error_text",
    "field_error",
    "form_action",
    "money",
    "pesos",
    "pesos_input",
    "safe_cell",
    "submitted_status",
]

UNPROCESSABLE = 422


def error_text(error: DomainError) -> str:
    """A domain error's message, translated for the person who sees it."""
    return _(error.message, **error.params)


def field_error(form: Any, error: DomainError, field: str | None = None) -> None:
    """Show `error` on the form: on the `FieldError`'s own field when the form has it,
    else on `field`, else among the form's errors (above its fields)."""
    name = error.field if isinstance(error, FieldError) else None
    target = getattr(form, name, None) if name else None
    if target is None and field is not None:
        target = getattr(form, field)
    message = error_text(error)
    if target is None:
        form.form_errors.append(message)
    else:
        target.errors = [*target.errors, message]


class FormAction:
    """The outcome of one `with form_action(...)` block: `ok`, or the `error` said."""

    status = UNPROCESSABLE

    def __init__(self, form: Any = None, field: str | None = None) -> None:
        self.form = form
        self.field = field
        self.ok = False
        self.error: str | None = None
        self.exception: DomainError | None = None

    def __enter__(self) -> FormAction:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        session = Session()
        if exc is None:
            session.commit()
            self.ok = True
            return False
        if not isinstance(exc, DomainError):
            return False
        session.rollback()
        if isinstance(exc, NotAllowed):
            abort(403)
        self.exception = exc
        self.error = error_text(exc)
        if self.form is not None:
            field_error(self.form, exc, self.field)
        return True


def form_action(form: Any = None, field: str | None = None) -> FormAction:
    """Run the block's service call as the request's one write: commit when it returns;
    a `DomainError` rolls back and lands on `form` (on `field`, or the field a
    `FieldError` names); `NotAllowed` rolls back and answers 403. Other errors pass."""
    return FormAction(form, field)


def submitted_status(form: Any) -> int:
    """200 for a form shown, 422 for one sent back with errors."""
    return UNPROCESSABLE if form.is_submitted() else 200


def done(url: str) -> Response:
    """After a successful write: htmx follows `HX-Redirect`, a plain form gets a 303."""
    if wants_fragment():
        response = Response(status=204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, code=303)  # type: ignore[return-value]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """A cell a spreadsheet will not run: text starting like a formula gets a leading
    apostrophe (OWASP's CSV injection advice). Numbers pass as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_response(
    filename: str, header: Sequence[object], rows: Iterable[Sequence[object]], chunk: int = 200
) -> Response:
    """A CSV download: UTF-8 with a BOM (so Excel reads the accents), the header row,
    then `rows` streamed `chunk` lines at a time; every text cell made safe."""

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")
        writer.writerow([safe_cell(str(h)) for h in header])
        for n, row in enumerate(rows, 1):
            writer.writerow([safe_cell(cell) for cell in row])
            if n % chunk == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return Response(
        stream_with_context(lines()),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Content-Type": "text/csv; charset=utf-8",
        },
    )
