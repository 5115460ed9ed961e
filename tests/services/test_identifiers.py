import random
from datetime import date

import pytest

from portal.services.identifiers import (
    clabe_check_digit,
    is_valid_clabe,
    is_valid_curp,
    luhn_complete,
    make_curp,
    make_rfc,
    normalize_phone,
    rfc_check_ok,
    rfc_shape_ok,
)


@pytest.mark.parametrize(
    "curp", ["OEVL921024MDFLRR07", "EOTN981127HNESLC06", "LOOA531113HTCPBN07", "HEGG560427MVZRRL04"]
)
def test_real_curps_are_valid(curp):
    assert is_valid_curp(curp)
    assert is_valid_curp(curp.lower())


@pytest.mark.parametrize(
    "curp",
    [
        "OEVL921024MDFLRR08",  # wrong check digit
        "OEVL921024MXXLRR07",  # unknown state
        "OEVL921024MDFLRR0",  # short
        "0EVL921024MDFLRR07",  # digit where a letter goes
        "",
    ],
)
def test_bad_curps_are_refused(curp):
    assert not is_valid_curp(curp)


def test_clabe_check_digit_from_the_domain_note():
    assert is_valid_clabe("646180111802000138")
    assert clabe_check_digit("64618011180200013") == "8"


@pytest.mark.parametrize(
    "clabe", ["646180111802000139", "999180111802000138", "64618011180200013", "64618011180200013a"]
)
def test_bad_clabes_are_refused(clabe):
    assert not is_valid_clabe(clabe)


def test_rfc_check_is_a_warning_not_a_shape_rule():
    assert rfc_shape_ok("GODE561231GR8")
    assert rfc_check_ok("GODE561231GR8")
    assert rfc_shape_ok("GODE561231GR9")
    assert not rfc_check_ok("GODE561231GR9")
    assert not rfc_shape_ok("GODE56123")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("55 1234 5678", "5512345678"),
        ("(55) 1234-5678", "5512345678"),
        ("+52 55 1234 5678", "5512345678"),
        ("+52 1 55 1234 5678", "5512345678"),
        ("5512345678", "5512345678"),
        ("551234567", None),
        ("0512345678", None),
        ("correo@lafa.mx", None),
    ],
)
def test_mobile_numbers_as_people_write_them(raw, expected):
    assert normalize_phone(raw) == expected


def test_made_up_curps_and_rfcs_pass_the_checks_a_real_one_passes():
    rng = random.Random(3)
    curp = make_curp("José", "Núñez", "Ávila", date(1990, 5, 17), "H", "DF", rng)
    assert curp.startswith("NUAJ900517HDF")
    assert is_valid_curp(curp)
    rfc = make_rfc(curp, rng)
    assert rfc[:10] == curp[:10]
    assert rfc_shape_ok(rfc)
    assert rfc_check_ok(rfc)


def test_luhn_complete_appends_the_check_digit_of_an_imei():
    assert luhn_complete("49015420323751") == "490154203237518"  # the GSMA's example IMEI
