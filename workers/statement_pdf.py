"""A statement as a PDF: the Jinja template rendered in Spanish, laid out by WeasyPrint.

The stylesheet is parsed once per process and the fonts are configured once; they
(and Pango's, HarfBuzz's and Jinja's caches) last because `flask worker statements`
does not fork a process per job (workers.queues.worker_class, docs/benchmarks.md).
"""

from __future__ import annotations

from functools import cache

from flask import render_template
from flask_babel import force_locale
from sqlalchemy.orm import Session
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from portal.config import ROOT
from portal.models import Statement
from portal.services.statement_view import get_statement_view
from portal.web.statements import statement_context

STYLESHEET = ROOT / "static" / "css" / "statement-pdf.css"
LOCALE = "es_MX"  # statements are documents in Spanish whatever the reader's setting


class StatementHTML(HTML):
    """Our one template, without WeasyPrint's HTML5 user-agent stylesheet.

    The cascade matches every element against every rule of every sheet; that sheet's
    ~250 rules (forms, lists, bidi text, bookmarks) cost ~10% of a statement's render
    and the few defaults the template needs are in our own stylesheet. WeasyPrint has
    no public option for this; its own tests replace the sheet the same way.
    """

    def _ua_stylesheets(self, forms: bool = False) -> list[CSS]:
        return []


@cache
def _fonts_and_css() -> tuple[FontConfiguration, CSS]:
    fonts = FontConfiguration()
    return fonts, CSS(filename=str(STYLESHEET), font_config=fonts)


def statement_html(session: Session, statement: Statement) -> str:
    with force_locale(LOCALE):
        context = statement_context(get_statement_view(session, statement))
        return render_template("account/statement_pdf.html", **context)


def render_statement_pdf(session: Session, statement: Statement) -> bytes:
    fonts, css = _fonts_and_css()
    html = StatementHTML(string=statement_html(session, statement), base_url=str(ROOT))
    return html.write_pdf(stylesheets=[css], font_config=fonts)
