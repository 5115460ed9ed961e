"""What an import says, in the reader's language: one line per bad row and a summary."""

from __future__ import annotations

from flask_babel import gettext as _

from portal.services.fleet_import.report import ImportReport
from portal.web.kit import error_text


def report_lines(report: ImportReport) -> list[str]:
    return [
        _(
            "%(file)s, line %(line)d, %(column)s: %(message)s",
            file=report.source,
            line=e.line,
            column=e.column or "-",
            message=error_text(e.error),
        )
        for e in report.errors
    ]


def summary_line(report: ImportReport) -> str:
    if not report.ok:
        return _(
            "%(count)d bad rows of %(rows)d: nothing was imported. Fix them and import again.",
            count=len(report.errors),
            rows=report.rows,
        )
    if report.dry_run:
        return _(
            "Dry run: %(created)d would be created, %(unchanged)d are already there; "
            "nothing was changed.",
            created=report.created,
            unchanged=report.unchanged,
        )
    return _(
        "%(created)d created, %(unchanged)d already there.",
        created=report.created,
        unchanged=report.unchanged,
    )
