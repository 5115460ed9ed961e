"""Spanish first: the catalogue is complete, money and times are Mexican."""

import subprocess
import sys
from datetime import UTC, datetime

from babel.messages.pofile import read_po

from portal.config import ROOT
from portal.i18n import local_datetime, money
from portal.models import Role


def _catalogue(locale):
    with open(ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f)


def test_every_message_in_the_code_is_translated_to_es_mx(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "N_",
            "--no-location",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )

    def key(message):
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        return (message.context or "", msgid)

    with open(pot, "rb") as f:
        wanted = {key(m) for m in read_po(f) if m.id}
    have = {key(m): m for m in _catalogue("es_MX") if m.id}
    missing = sorted(wanted - set(have))
    assert not missing, f"not in es_MX (run `make translations`): {missing}"
    untranslated = sorted(
        k
        for k in wanted
        if not (have[k].string if isinstance(have[k].string, str) else all(have[k].string))
    )
    assert not untranslated, f"es_MX has no translation for: {untranslated}"
    fuzzy = sorted(k for k in wanted if have[k].fuzzy)
    assert not fuzzy, f"es_MX has fuzzy translations: {fuzzy}"


def test_money_is_written_the_mexican_way(app):
    with app.test_request_context():
        assert money(123450) == "$1,234.50"
        assert money(-5000) == "-$50.00"
        assert money(0) == "$0.00"


def test_times_are_shown_in_mexico_city(app):
    with app.test_request_context():
        # 18:30 UTC is 12:30 in Mexico City (UTC-6, no daylight saving since 2022).
        shown = local_datetime(datetime(2026, 7, 1, 18, 30, tzinfo=UTC), "short")
        assert "12:30" in shown


def test_spanish_is_the_default(client):
    page = client.get("/entrar").text
    assert 'lang="es-MX"' in page
    assert "Celular o correo electrónico" in page


def test_language_switch_is_remembered_before_and_after_log_in(client, make_user, db):
    response = client.post("/idioma", data={"locale": "en", "next": "/entrar"})
    assert response.status_code == 303
    page = client.get("/entrar").text
    assert 'lang="en"' in page
    assert "Mobile number or e-mail" in page

    user = make_user(Role.STAFF)
    client.post("/entrar", data={"identifier": user.email, "password": "correcto-caballo-bateria"})
    client.post("/idioma", data={"locale": "en", "next": "/"})
    db.refresh(user)
    assert user.locale == "en"
    assert "Fleet" in client.get("/operacion/flota").text


def test_unknown_language_is_ignored(client):
    client.post("/idioma", data={"locale": "xx", "next": "/entrar"})
    assert 'lang="es-MX"' in client.get("/entrar").text
