"""CSV imports of chargers and id tags: all lines or none, each bad line reported."""

from sqlalchemy import func, select

from portal.models import Charger, ConnectorType, IdTag
from portal.passwords import verify_machine_secret
from portal.services.charging.registry import import_chargers, import_tags

KEY = "test-charger-key"

HEADER = "identity,name,depot,ocpp_version,password,connectors\n"
PASSWORD = "una-clave-de-dieciseis"


def test_good_chargers_are_all_registered(db, make_depot):
    depot = make_depot(code="VAL")
    text = (
        HEADER
        + f"LAFA-VAL-10,Vallejo 10,VAL,1.6,{PASSWORD},CCS2:60;GBT:60\n"
        + "LAFA-VAL-11,,val,2.0.1,,GB/T:120\n"  # no password: one is generated
        + "\n"  # blank lines are skipped
    )
    result = import_chargers(db, text, secret_key=KEY)
    assert result.ok
    assert result.imported == 2
    [(identity, generated)] = result.passwords
    assert identity == "LAFA-VAL-11"
    assert len(generated) >= 24
    first = db.scalar(select(Charger).where(Charger.identity == "LAFA-VAL-10"))
    assert first.depot_id == depot.id
    assert first.ocpp_version == "ocpp1.6"
    assert [c.connector_type for c in first.connectors] == [ConnectorType.CCS2, ConnectorType.GBT]
    assert verify_machine_secret(KEY, "LAFA-VAL-10", first.password_hash, PASSWORD)
    second = db.scalar(select(Charger).where(Charger.identity == "LAFA-VAL-11"))
    assert verify_machine_secret(KEY, "LAFA-VAL-11", second.password_hash, generated)
    assert second.name is None
    assert second.connectors[0].max_kw == 120


def test_one_bad_line_imports_nothing_and_every_bad_line_is_reported(db, make_depot):
    make_depot(code="IZT")
    text = (
        HEADER
        + f"LAFA-IZT-01,Uno,IZT,1.6,{PASSWORD},CCS2:60\n"  # line 2: fine
        + f"LAFA IZT 02,Dos,IZT,1.6,{PASSWORD},CCS2:60\n"  # 3: identity
        + f"LAFA-IZT-03,Tres,XXX,1.6,{PASSWORD},CCS2:60\n"  # 4: depot
        + "LAFA-IZT-04,Cuatro,IZT,1.6,corta,CCS2:60\n"  # 5: password
        + f"LAFA-IZT-05,Cinco,IZT,1.5,{PASSWORD},CCS2:60\n"  # 6: version
        + f"LAFA-IZT-06,Seis,IZT,1.6,{PASSWORD},CHAdeMO:50\n"  # 7: connector type
        + f"LAFA-IZT-01,Repetido,IZT,1.6,{PASSWORD},CCS2:60\n"  # 8: duplicate in file
        + f"LAFA-IZT-07,Siete,IZT,1.6,{PASSWORD},CCS2:9000\n"  # 9: power
    )
    before = db.scalar(select(func.count(Charger.id)))
    result = import_chargers(db, text, secret_key=KEY)
    assert not result.ok
    assert result.imported == 0
    assert [line for line, _ in result.errors] == [3, 4, 5, 6, 7, 8, 9]
    assert "letters, digits" in result.errors[0][1]
    assert "no depot with code XXX" in result.errors[1][1]
    assert "already exists" in result.errors[5][1]
    assert db.scalar(select(func.count(Charger.id))) == before


def test_a_file_without_the_columns_is_refused(db):
    import pytest

    from portal.services import DomainError

    with pytest.raises(DomainError, match="lacks these columns"):
        import_chargers(db, "identity,name\nX,Y\n", secret_key=KEY)


def test_tags_by_phone_or_curp(db, make_driver):
    one, two = make_driver(), make_driver()
    text = (
        f"tag,driver\nrf-001,{one.phone[:2]} {one.phone[2:6]} {one.phone[6:]}\n"
        f"04:A2:3B:9C:11:80,{two.curp}\n"
    )
    result = import_tags(db, text)
    assert result.ok
    assert result.imported == 2
    tags = dict(db.execute(select(IdTag.tag, IdTag.driver_id)).all())
    assert tags["rf-001"] == one.id  # kept as the card sends it
    assert tags["04:A2:3B:9C:11:80"] == two.id


def test_bad_tag_lines_import_nothing(db, make_driver):
    driver = make_driver()
    text = (
        "tag,driver\n"
        + f"OK1,{driver.curp}\n"
        + "OK2,5599999999\n"  # nobody
        + f"TWENTY-ONE-CHARACTERS,{driver.curp}\n"  # OCPP 1.6 allows 20
        + f"ok1,{driver.curp}\n"  # the same tag: OCPP ignores case
        + f"TAB\tINSIDE,{driver.curp}\n"
    )
    result = import_tags(db, text)
    assert [line for line, _ in result.errors] == [3, 4, 5, 6]
    assert db.scalar(select(func.count(IdTag.id))) == 0


def test_cli_reports_bad_lines_and_imports_good_files(app, db, make_depot, tmp_path):
    make_depot(code="COY")
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "LAFA-COY-01,Uno,COY,1.6,corta,CCS2:60\n", encoding="utf-8")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["chargers", "import", str(bad)])
    assert result.exit_code == 1
    assert "bad.csv:2:" in result.output
    assert "nothing was imported" in result.output

    good = tmp_path / "good.csv"
    good.write_text(HEADER + f"LAFA-COY-01,Uno,COY,1.6,{PASSWORD},CCS2:60\n", encoding="utf-8")
    result = runner.invoke(args=["chargers", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "Imported 1 chargers." in result.output
    assert db.scalar(select(Charger.id).where(Charger.identity == "LAFA-COY-01")) is not None
