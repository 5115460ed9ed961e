"""Domain operations: plain functions taking a session and plain values.

They flush but never commit (the request or the job commits once) and raise
`DomainError` subclasses that the web layer maps to a field error, a flash or a status.
"""


def N_(message: str) -> str:
    """Mark a message for the catalogue without translating it here (the view does)."""
    return message


class DomainError(Exception):
    """A business rule said no. `message` is an English message id for gettext."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


class NotAllowed(DomainError):
    """The rule allows this, but not to this person (the web layer answers 403)."""


class FieldError(DomainError):
    """A domain error about one form field (`field` is the form's field name)."""

    def __init__(self, field: str, message: str, **params: object) -> None:
        super().__init__(message, **params)
        self.field = field
