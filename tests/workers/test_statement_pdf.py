"""The statement PDF as a person reads it: one page for a normal week, and a long week
that breaks across pages with the table's header, whole rows and the page numbers."""

import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from rq import SimpleWorker, Worker

from portal.models import EntryKind
from portal.services.billing import post_weekly_rent
from portal.services.ledger import post_entry
from portal.services.statements import close_statement
from portal.timeutil import local_midnight, local_today, monday_of
from workers import queues
from workers.statement_pdf import StatementHTML, render_statement_pdf

LAST_MONDAY = monday_of(local_today()) - timedelta(weeks=1)


def _pages(pdf: bytes, tmp_path) -> list[str]:
    path = tmp_path / "statement.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return text.rstrip("\f").split("\f")


@pytest.fixture
def week(app, db, make_contract):
    contract = make_contract(starts_on=LAST_MONDAY - timedelta(weeks=3))
    post_weekly_rent(db, LAST_MONDAY)

    def close(tolls: int):
        for n in range(tolls):
            post_entry(
                db,
                driver_id=contract.driver_id,
                contract_id=contract.id,
                kind=EntryKind.TOLL,
                amount_cents=4_500 + n,
                idempotency_key=f"toll:{n}",
                description=f"Caseta Tlalpan {n}",
                reference=f"TAG-{n:04d}",
                posted_at=local_midnight(LAST_MONDAY) + timedelta(days=1, minutes=n),
            )
        return contract, close_statement(db, contract.id, LAST_MONDAY)

    with app.app_context():
        yield close


def test_a_normal_week_is_one_page_with_everything_a_driver_needs(db, week, tmp_path):
    contract, statement = week(tolls=3)
    pdf = render_statement_pdf(db, statement)
    (tmp_path / "one-page.pdf").write_bytes(pdf)  # to look at: pdftoppm -png
    (page,) = _pages(pdf, tmp_path)
    driver, vehicle = contract.driver, contract.vehicle
    for expected in (
        "LAFA Movilidad Eléctrica",
        "Estado de cuenta semanal",
        f"EC-{statement.id:07d}",
        driver.full_name,
        driver.curp,
        contract.number,
        vehicle.plate,
        "Resumen de la semana",
        "Fecha límite de pago",
        "Renta semanal",
        "Caseta Tlalpan 2 · Ref. TAG-0002",
        "Totales de la semana",
        "Cómo pagar",
        "Transferencia SPEI",
        "Efectivo en OXXO",
        "Página 1 de 1",
    ):
        assert expected.lower() in page.lower(), expected


def test_a_long_week_breaks_across_pages_with_whole_rows(db, week, tmp_path):
    contract, statement = week(tolls=70)
    pdf = render_statement_pdf(db, statement)
    (tmp_path / "long-week.pdf").write_bytes(pdf)
    pages = _pages(pdf, tmp_path)
    total = len(pages)
    assert total >= 2
    for number, page in enumerate(pages, start=1):
        # Every page: the movements' header (repeated), its number of the total, whose.
        assert "CONCEPTO" in page
        assert f"Página {number} de {total} · {contract.number}" in page
        # A row is never split: each toll's line has its reference and its amounts.
        for line in page.splitlines():
            if "Caseta Tlalpan" in line:
                assert re.search(r"Ref\. TAG-\d{4} .*\$[\d,]+\.\d\d .*\$[\d,]+\.\d\d", line), line
    text = "\n".join(pages).lower()
    assert [text.count(f"tag-{n:04d}") for n in range(70)] == [1] * 70
    # The totals and how to pay come once, after the last movement.
    assert "Totales de la semana" in pages[-1]
    assert text.count("cómo pagar") == 1
    assert text.index("tag-0069") < text.index("totales de la semana") < text.index("cómo pagar")


def test_the_procfile_runs_a_worker_for_statement_pdfs_that_does_not_fork():
    # A horse forked per job would start WeasyPrint cold for every PDF (~3/s, not ~10).
    procfile = Path(__file__).parents[2] / "Procfile"
    line = next(x for x in procfile.read_text().splitlines() if x.startswith("statements:"))
    assert line.split(":", 1)[1].split() == ["exec", "flask", "worker", "statements"]
    assert queues.worker_class(["statements"]) is SimpleWorker
    assert queues.worker_class(queues.QUEUES) is Worker


def test_weasyprint_still_asks_the_document_for_its_user_agent_sheet():
    """StatementHTML drops WeasyPrint's HTML5 sheet by overriding a private method; if a
    WeasyPrint release stopped calling it, the override would silently do nothing."""
    asked = []

    class Probe(StatementHTML):
        def _ua_stylesheets(self, forms: bool = False):
            asked.append(forms)
            return super()._ua_stylesheets(forms)

    Probe(string="<p>LAFA</p>").write_pdf()
    assert asked
