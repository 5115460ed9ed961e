"""What an import found: the counts, and every bad row with its line, column and error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from portal.services import DomainError, FieldError


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    column: str | None
    error: DomainError


@dataclass
class ImportReport:
    kind: str
    source: str
    dry_run: bool
    rows: int = 0
    created: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class RowRefused(Exception):
    def __init__(self, column: str, error: DomainError) -> None:
        super().__init__(error.message)
        self.column = column
        self.error = error


def refuse(where: str, message: str, **params: object) -> RowRefused:
    return RowRefused(where, DomainError(message, **params))


def checked(column: str, check: Callable[[str], Any], raw: str) -> Any:
    """Run a field's check; its FieldError names the CSV column instead of the form's."""
    try:
        return check(raw)
    except FieldError as error:
        raise RowRefused(column, DomainError(error.message, **error.params)) from None
