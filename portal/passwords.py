"""Password hashing with no Flask import, so seed scripts and services use it: Argon2id
for people, a keyed HMAC for machine-generated secrets (chargers)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# Verified against when the user does not exist, so both paths cost the same.
_DUMMY_HASH = _hasher.hash("not-a-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


# --- machine secrets (chargers) -----------------------------------------------------
#
# A charger's HTTP Basic password is a random secret the registry generates (never a
# person's choice), so a slow hash buys nothing against guessing: the secret has ~190
# bits. A keyed hash (HMAC-SHA-256 with a server-side key kept out of the database)
# makes a stolen table useless without the key, and costs microseconds, so a whole
# fleet can reconnect at once. Argon2 stays for people.

MACHINE_SCHEME = "hmac-sha256$"
MACHINE_SECRET_LENGTH = 32
_SECRET_ALPHABET = string.ascii_letters + string.digits  # survives any charger's UI


def new_machine_secret(length: int = MACHINE_SECRET_LENGTH) -> str:
    """A random secret of letters and digits (32: about 190 bits)."""
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(length))


def hash_machine_secret(key: str, principal: str, secret: str) -> str:
    """`hmac-sha256$<hex>` of (principal, secret) under `key`."""
    message = f"{principal}\0{secret}".encode()
    return MACHINE_SCHEME + hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def is_machine_hash(stored: str | None) -> bool:
    return stored is not None and stored.startswith(MACHINE_SCHEME)


def verify_machine_secret(key: str, principal: str, stored: str | None, secret: str) -> bool:
    """Constant-time check of a machine secret; False for any other kind of hash."""
    expected = hash_machine_secret(key, principal, secret)
    if stored is None or not is_machine_hash(stored):
        hmac.compare_digest(expected, expected)  # the same work either way
        return False
    return hmac.compare_digest(expected, stored)
