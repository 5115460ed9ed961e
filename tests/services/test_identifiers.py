import random
from datetime import date

import pytest

from portal.services.identifiers import (
    VinProblem,
    clabe_check_digit,
    is_valid_clabe,
    is_valid_curp,
    luhn_complete,
    make_curp,
    make_rfc,
    normalize_imei,
    normalize_phone,
    normalize_vin,
    phone_e164,
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
        "OEVL921324MDFLRR07",  # no 13th month
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
        ("5212345678", None),  # no such area code in Mexico's numbering plan
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


def test_sms_numbers_are_e164():
    assert phone_e164("5512345678") == "+525512345678"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("356938035643809", "356938035643809"),
        ("35-693803-564380-9", "356938035643809"),
        ("356938035643808", None),  # the Luhn digit is wrong
        ("35693803564380", None),  # 14 digits
        ("", None),
    ],
)
def test_tracker_imeis_have_15_digits_and_a_luhn_check(raw, expected):
    assert normalize_imei(raw) == expected


def test_a_vin_needs_its_check_digit():
    assert normalize_vin("1m8gdm9axkp042788") == "1M8GDM9AXKP042788"
    with pytest.raises(VinProblem, match="check_digit"):
        normalize_vin("1M8GDM9A1KP042788")


@pytest.mark.parametrize("vin", ["1M8GDM9AXKP04278", "1M8GDM9AXKP04278O", "IM8GDM9AXKP042788"])
def test_a_vin_has_17_characters_without_i_o_q(vin):
    with pytest.raises(VinProblem, match="shape"):
        normalize_vin(vin)


def test_demo_and_test_vins_get_a_check_digit_vininfo_accepts():
    from portal.services.identifiers import with_vin_check_digit

    vin = with_vin_check_digit("LGXCE4CB0S0000001")
    assert normalize_vin(vin) == vin
