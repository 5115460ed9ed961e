"""Identifiers: CURP, RFC, CLABE, mobile numbers, VINs and tracker IMEIs.

CURP, RFC and IMEI are checked with python-stdnum, phone numbers with phonenumbers
(Google's numbering plan data) and VINs with vininfo (the ISO 3779 check digit);
CLABE, which none of them knows, by hand below.
"""

from __future__ import annotations

import random
import re
import string
from datetime import date

import phonenumbers
from stdnum import imei as stdnum_imei
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.mx import curp as stdnum_curp
from stdnum.mx import rfc as stdnum_rfc
from vininfo import Vin
from vininfo.exceptions import ValidationError as VinError

CURP_ALPHABET = "0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ"
RFC_ALPHABET = "0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ Ñ"
CLABE_WEIGHTS = (3, 7, 1) * 6
# Bank codes (first three CLABE digits) of the banks and SPEI participants drivers use.
BANK_CODES = {
    "002": "Banamex",
    "012": "BBVA México",
    "014": "Santander",
    "021": "HSBC",
    "030": "Bajío",
    "036": "Inbursa",
    "044": "Scotiabank",
    "058": "Banregio",
    "072": "Banorte",
    "127": "Azteca",
    "137": "BanCoppel",
    "138": "ABC Capital",
    "646": "STP",
    "638": "Nu México",
    "722": "Mercado Pago",
    "728": "Spin by OXXO",
}


def normalize_phone(raw: str) -> str | None:
    """A Mexican number as its 10 digits, or None when Mexico's plan has no such number.

    Accepts what people type: spaces, dashes, parentheses, a +52 or 52 prefix and
    the old mobile "1" after it (dropped in 2019).
    """
    digits = re.sub(r"\D", "", raw or "")
    if len(digits) == 13 and digits.startswith("521"):
        digits = digits[3:]
    elif len(digits) == 12 and digits.startswith("52"):
        digits = digits[2:]
    if len(digits) != 10:
        return None
    number = phonenumbers.PhoneNumber(country_code=52, national_number=int(digits))
    if digits[0] == "0" or not phonenumbers.is_valid_number(number):
        return None
    return digits


def phone_e164(phone: str) -> str:
    """A stored 10-digit Mexican number as an SMS provider wants it: +52 and the digits."""
    number = phonenumbers.PhoneNumber(country_code=52, national_number=int(phone))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def curp_check_digit(first17: str) -> str:
    total = sum(CURP_ALPHABET.index(ch) * (18 - i) for i, ch in enumerate(first17))
    return str((10 - total % 10) % 10)


def is_valid_curp(curp: str) -> bool:
    """Shape, birth date, state and check digit (python-stdnum)."""
    return bool(curp) and stdnum_curp.is_valid(curp.strip().upper())


def rfc_check_digit(first: str) -> str:
    """SAT's mod-11 check character over the first 11 (person) or 12 (company) characters."""
    padded = first.rjust(12)
    total = sum(RFC_ALPHABET.index(ch) * (13 - i) for i, ch in enumerate(padded))
    remainder = total % 11
    if remainder == 0:
        return "0"
    value = 11 - remainder
    return "A" if value == 10 else str(value)


def rfc_shape_ok(rfc: str) -> bool:
    """A person's or a company's RFC: shape and date (python-stdnum), not the check digit."""
    return bool(rfc) and stdnum_rfc.is_valid(rfc.strip().upper(), validate_check_digits=False)


def rfc_check_ok(rfc: str) -> bool:
    """About 1.5% of real RFCs fail this: warn on False, never reject."""
    return bool(rfc) and stdnum_rfc.is_valid(rfc.strip().upper(), validate_check_digits=True)


def normalize_imei(raw: str) -> str | None:
    """A tracker's IMEI as its 15 digits (Luhn check digit verified), or None."""
    try:
        number = stdnum_imei.validate(raw or "")
    except StdnumError:
        return None
    return number if len(number) == 15 else None


_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def with_vin_check_digit(vin: str) -> str:
    """The 17 characters with the 9th set to their ISO 3779 check digit (to make a VIN
    for demo and test data; checking one is `normalize_vin`'s, through vininfo)."""
    total = sum(_VIN_VALUES[ch] * w for ch, w in zip(vin, _VIN_WEIGHTS, strict=True))
    check = total % 11
    return vin[:8] + ("X" if check == 10 else str(check)) + vin[9:]


class VinProblem(ValueError):
    """Why a VIN is refused: `shape` (length or letters) or `check_digit`."""


def normalize_vin(raw: str) -> str:
    """The VIN in capitals, or VinProblem: 17 characters without I, O or Q, and a ninth
    character that is the ISO 3779 check digit of the others (vininfo)."""
    try:
        vin = Vin(raw or "")
    except VinError as exc:
        raise VinProblem("shape") from exc
    if not vin.verify_checksum(check_year=False):
        raise VinProblem("check_digit")
    return vin.num


def clabe_check_digit(first17: str) -> str:
    total = sum((int(d) * w) % 10 for d, w in zip(first17, CLABE_WEIGHTS, strict=False))
    return str((10 - total % 10) % 10)


def is_valid_clabe(clabe: str) -> bool:
    clabe = clabe.strip()
    if len(clabe) != 18 or not clabe.isdigit() or clabe[:3] not in BANK_CODES:
        return False
    return clabe[17] == clabe_check_digit(clabe[:17])


# --- made-up identifiers with valid check digits (demo data, tests, simulators) --------


def _plain(text: str) -> str:
    table = str.maketrans("ÁÉÍÓÚÜÑáéíóúüñ", "AEIOUUXaeiouux")
    return text.translate(table).upper()


def _first_internal(word: str, letters: str) -> str:
    return next((ch for ch in word[1:] if ch in letters), "X")


def make_curp(
    first: str, last: str, second: str, born: date, sex: str, state: str, rng: random.Random
) -> str:
    first, last, second = _plain(first), _plain(last), _plain(second)
    vowels, consonants = "AEIOU", "BCDFGHJKLMNPQRSTVWXYZ"
    head = last[0] + _first_internal(last, vowels) + second[0] + first[0]
    body = (
        head
        + born.strftime("%y%m%d")
        + sex
        + state
        + _first_internal(last, consonants)
        + _first_internal(second, consonants)
        + _first_internal(first, consonants)
    )
    body += rng.choice(string.digits) if born.year < 2000 else rng.choice("ABCDEF")
    curp = body + curp_check_digit(body)
    if not is_valid_curp(curp):  # RENAPO writes an X for the 2nd letter of a rude word
        body = body[0] + "X" + body[2:]
        curp = body + curp_check_digit(body)
    return curp


def make_rfc(curp: str, rng: random.Random) -> str:
    # SAT's homoclave: the first character 1-9 or A-V, the second 1-9 or A-Z.
    head = (
        curp[:10]
        + rng.choice("ABCDEFGHJKLMNPRSTUV123456789")
        + rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ123456789")
    )
    return head + rfc_check_digit(head)


def luhn_complete(partial: str) -> str:
    """`partial` with its Luhn check digit appended (an IMEI from its first 14 digits)."""
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return partial + str((10 - total % 10) % 10)
