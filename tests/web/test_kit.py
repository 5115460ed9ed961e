"""The web kit: a domain error becomes the field's error with a rollback, `done` answers
303 or HX-Redirect, the CSV download is safe for a spreadsheet, jobs wait for the commit."""

import csv
import io

import pytest
from flask_wtf import FlaskForm
from rq import Queue
from sqlalchemy import select
from werkzeug.exceptions import Forbidden
from wtforms import StringField

from portal.db import Session
from portal.models import Depot
from portal.services import N_, DomainError, FieldError, NotAllowed
from portal.web.kit import (
    csv_response,
    done,
    enqueue_after_commit,
    form_action,
    money,
    pesos_input,
    submitted_status,
)
from workers.jobs import job


class DepotForm(FlaskForm):
    name = StringField()
    code = StringField()


@job("default")
def rename_depot_job(depot_id: int) -> None:
    Session.get(Depot, depot_id).name = "renamed"


def _names(db):
    db.expire_all()
    return set(db.scalars(select(Depot.name)))


def _add_depot(name):
    depot = Depot(name=name, code=name[-5:].upper(), address="Av. Central 1", site_power_kw=100)
    Session().add(depot)
    Session().flush()
    return depot


@pytest.fixture
def spanish(app):
    with app.test_request_context("/", method="POST", headers={"Accept-Language": "es-MX"}):
        yield


def test_a_successful_action_is_committed(spanish, db):
    form = DepotForm(formdata=None)
    with form_action(form, "name") as action:
        _add_depot("Depósito Norte")
    Session().rollback()  # a later rollback cannot undo what the action committed
    assert action.ok
    assert "Depósito Norte" in _names(db)


def test_a_domain_error_rolls_back_and_lands_on_the_field_in_spanish(spanish, db):
    form = DepotForm(formdata=None)
    with form_action(form, "name") as action:
        _add_depot("Depósito Sur")
        raise DomainError(N_("Files added."))
    assert not action.ok
    assert action.status == 422
    assert form.name.errors == ["Archivos agregados."]
    assert action.error == "Archivos agregados."
    assert "Depósito Sur" not in _names(db)


def test_a_field_error_lands_on_the_field_it_names(spanish, db):
    form = DepotForm(formdata=None)
    with form_action(form, "name"):
        raise FieldError("code", N_("Files added."))
    assert form.code.errors == ["Archivos agregados."]
    assert not form.name.errors


def test_without_a_field_the_error_goes_above_the_form(spanish, db):
    form = DepotForm(formdata=None)
    with form_action(form):
        raise DomainError(N_("Files added."))
    assert form.form_errors == ["Archivos agregados."]


def _refused_write():
    with form_action():
        _add_depot("Depósito Oriente")
        raise NotAllowed(N_("Files added."))


def test_not_allowed_is_a_403_and_keeps_nothing(spanish, db):
    with pytest.raises(Forbidden):
        _refused_write()
    assert "Depósito Oriente" not in _names(db)


def test_other_errors_pass_through(spanish, db):
    with pytest.raises(ZeroDivisionError), form_action():
        1 / 0  # noqa: B018


def test_submitted_status(app):
    with app.test_request_context("/", method="GET"):
        assert submitted_status(DepotForm()) == 200
    with app.test_request_context("/", method="POST"):
        assert submitted_status(DepotForm()) == 422


def test_done_is_a_303_for_a_form_and_hx_redirect_for_htmx(app):
    with app.test_request_context("/", method="POST"):
        response = done("/conductor/")
        assert (response.status_code, response.headers["Location"]) == (303, "/conductor/")
    with app.test_request_context("/", method="POST", headers={"HX-Request": "true"}):
        response = done("/conductor/")
        assert response.status_code == 204
        assert response.headers["HX-Redirect"] == "/conductor/"


def test_the_csv_has_a_bom_a_header_and_no_formulas(app):
    rows = [
        ['=HYPERLINK("http://x")', 12, -3.5],
        ["+52 55 1234 5678", "@SUM(A1)", "-1"],
        ["\tTab", "\rCR", "Ana María"],
    ]
    with app.test_request_context("/"):
        response = csv_response("cobranza.csv", ["Nombre", "=x"], rows, chunk=2)
        body = response.get_data(as_text=True)
    assert response.headers["Content-Disposition"] == 'attachment; filename="cobranza.csv"'
    assert response.mimetype == "text/csv"
    assert body.startswith("\ufeffNombre,'=x\r\n")
    assert list(csv.reader(io.StringIO(body.lstrip("\ufeff"), newline="")))[1:] == [
        ['\'=HYPERLINK("http://x")', "12", "-3.5"],
        ["'+52 55 1234 5678", "'@SUM(A1)", "'-1"],
        ["'\tTab", "'\rCR", "Ana María"],
    ]


@pytest.fixture
def queued_rename(redis_queues, db, make_depot):
    """A rename job asked for after the commit of the request's session; the queue."""
    enqueue_after_commit(Session(), rename_depot_job, make_depot().id)
    return Queue("default", connection=redis_queues)


def test_a_job_is_queued_only_once_the_session_commits(queued_rename):
    Session().flush()
    assert queued_rename.count == 0
    Session().commit()
    assert queued_rename.count == 1


def test_a_rolled_back_session_queues_nothing(queued_rename):
    Session().rollback()
    Session().commit()
    assert queued_rename.count == 0


def test_money_is_the_locale_filter_and_an_input_shows_plain_pesos(app):
    with app.test_request_context("/", headers={"Accept-Language": "es-MX"}):
        assert money(123450) == "$1,234.50"
    assert pesos_input(123405) == "1234.05"
    assert pesos_input(None) == ""
