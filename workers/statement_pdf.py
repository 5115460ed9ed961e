"""A statement as a PDF: the Jinja template rendered in Spanish, laid out by WeasyPrint.

The stylesheet is parsed once per process and the fonts are configured once: that
is most of WeasyPrint's per-document overhead (see docs/benchmarks.md).
"""

from __future__ import annotations

from functools import cache

from flask import render_template
from flask_babel import force_locale
from sqlalchemy.orm import Session
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from portal.config import ROOT
from portal.driver.statement_context import statement_context
from portal.models import Statement

STYLESHEET = ROOT / "static" / "css" / "statement-pdf.css"
LOCALE = "es_MX"  # statements are documents in Spanish whatever the reader's setting


@cache
def _fonts_and_css() -> tuple[FontConfiguration, CSS]:
    fonts = FontConfiguration()
    return fonts, CSS(filename=str(STYLESHEET), font_config=fonts)


def statement_html(session: Session, statement: Statement) -> str:
    with force_locale(LOCALE):
        return render_template("pdf/statement.html", **statement_context(session, statement))


def render_statement_pdf(session: Session, statement: Statement) -> bytes:
    fonts, css = _fonts_and_css()
    html = HTML(string=statement_html(session, statement), base_url=str(ROOT))
    return html.write_pdf(stylesheets=[css], font_config=fonts)
