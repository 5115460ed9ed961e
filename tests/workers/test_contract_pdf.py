"""The contract's documents: rendered by a job on the `statements` queue, in Spanish."""

import subprocess

from rq import Queue, SimpleWorker

from portal.models import PaymentAccount, PaymentProvider
from portal.services import storage
from workers.contracts import render_contract_pdf_job


def _text(app, connection, contract, kind, tmp_path, db):
    with app.app_context():
        queued = render_contract_pdf_job.delay(contract.id, kind)
        assert queued.origin == "statements"
        SimpleWorker([Queue("statements", connection=connection)], connection=connection).work(
            burst=True
        )
        queued.refresh()
        assert queued.get_status() == "finished", queued.exc_info
    db.expire_all()
    sha256 = getattr(contract, f"{kind}_pdf_sha256")
    assert sha256 == queued.return_value()
    path = tmp_path / f"{kind}.pdf"
    path.write_bytes(storage.read_blob(app.config["CONTRACT_STORAGE"], sha256))
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout
    return " ".join(text.split())  # a title may wrap


def test_the_summary_says_the_terms_and_how_to_pay(
    app, db, redis_queues, make_contract, contract_storage, tmp_path
):
    contract = make_contract(weekly_rent_cents=350_000, deposit_cents=700_000, term_weeks=156)
    db.add(
        PaymentAccount(
            driver_id=contract.driver_id,
            provider=PaymentProvider.DEMO,
            provider_customer_id="demo_cus_1",
            clabe="646180111802000138",
            bank_name="STP",
        )
    )
    db.commit()
    text = _text(app, redis_queues, contract, "summary", tmp_path, db)
    assert "Resumen del contrato de arrendamiento con opción a compra" in text
    assert contract.number in text
    assert contract.driver.curp in text
    assert contract.vehicle.vin in text
    assert "$3,500.00" in text  # weekly rent
    assert "$7,000.00" in text  # deposit
    assert "$546,000.00" in text  # 156 weeks of rent
    assert "646180111802000138" in text
    assert "Semanas para la propiedad" in text


def test_the_completion_letter(app, db, redis_queues, make_contract, contract_storage, tmp_path):
    contract = make_contract()
    db.commit()
    text = _text(app, redis_queues, contract, "letter", tmp_path, db)
    assert "Carta de conclusión y transferencia" in text
    assert contract.vehicle.plate in text
