"""Mexican identifiers: CURP, RFC, CLABE and mobile numbers (validation and check digits)."""

from __future__ import annotations

import random
import re
import string
from datetime import date

CURP_RE = re.compile(r"^[A-Z]{4}\d{6}[HMX][A-Z]{2}[B-DF-HJ-NP-TV-Z]{3}[0-9A-Z]\d$")
CURP_ALPHABET = "0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ"
RFC_PERSON_RE = re.compile(r"^[A-ZÑ&]{4}\d{6}[A-Z0-9]{2}[0-9A]$")
RFC_COMPANY_RE = re.compile(r"^[A-ZÑ&]{3}\d{6}[A-Z0-9]{2}[0-9A]$")
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
# The 32 states' codes in a CURP, and NE (born abroad).
_STATES = (
    "AS BC BS CC CL CM CS CH DF DG GT GR HG JC MC MN MS NT NL OC PL QT QR SP SL SR TC TS TL VZ YN "
    "ZS NE"
)
STATE_CODES = frozenset(_STATES.split())


def normalize_phone(raw: str) -> str | None:
    """A Mexican mobile number as its 10 digits, or None.

    Accepts what people type: spaces, dashes, parentheses, a +52 or 52 prefix and
    the old mobile "1" after it.
    """
    digits = re.sub(r"\D", "", raw or "")
    if len(digits) == 13 and digits.startswith("521"):
        digits = digits[3:]
    elif len(digits) == 12 and digits.startswith("52"):
        digits = digits[2:]
    if len(digits) != 10 or digits[0] == "0":
        return None
    return digits


def curp_check_digit(first17: str) -> str:
    total = sum(CURP_ALPHABET.index(ch) * (18 - i) for i, ch in enumerate(first17))
    return str((10 - total % 10) % 10)


def is_valid_curp(curp: str) -> bool:
    curp = curp.strip().upper()
    if not CURP_RE.match(curp) or curp[11:13] not in STATE_CODES:
        return False
    return curp[17] == curp_check_digit(curp[:17])


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
    rfc = rfc.strip().upper()
    return bool(RFC_PERSON_RE.match(rfc) or RFC_COMPANY_RE.match(rfc))


def rfc_check_ok(rfc: str) -> bool:
    """About 1.5% of real RFCs fail this: warn on False, never reject."""
    rfc = rfc.strip().upper()
    return rfc_shape_ok(rfc) and rfc[-1] == rfc_check_digit(rfc[:-1])


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
    return body + curp_check_digit(body)


def make_rfc(curp: str, rng: random.Random) -> str:
    head = (
        curp[:10]
        + rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ123456789")
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
