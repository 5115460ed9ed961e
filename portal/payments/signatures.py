"""Webhook signatures, exactly as each provider signs.

Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`, each v1 an HMAC-SHA256 of
`"{t}.{raw body}"` keyed with the endpoint secret; a timestamp more than 300 s from
now is refused (replays). Conekta: the `DIGEST` header holds the base64 RSA
signature (PKCS#1 v1.5 over the body's SHA-256) made with Conekta's private key; we
verify it with the public key shown in Conekta's webhook settings.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

STRIPE_TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """The request is not signed by the provider (or not recently)."""


def stripe_signature(payload: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def stripe_header(payload: bytes, secret: str, timestamp: int) -> str:
    """The header Stripe would send; used by the tests and the demo's webhook command."""
    return f"t={timestamp},v1={stripe_signature(payload, secret, timestamp)}"


def verify_stripe(
    payload: bytes,
    header: str | None,
    secret: str,
    now: float,
    tolerance: int = STRIPE_TOLERANCE_SECONDS,
) -> int:
    """Return the signed timestamp, or raise SignatureError."""
    if not secret:
        raise SignatureError("no Stripe webhook secret is configured")
    if not header:
        raise SignatureError("missing Stripe-Signature header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError as exc:
                raise SignatureError("bad timestamp in Stripe-Signature") from exc
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("Stripe-Signature without t= or v1=")
    expected = stripe_signature(payload, secret, timestamp)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise SignatureError("no v1 signature matches")
    if abs(now - timestamp) > tolerance:
        raise SignatureError("timestamp outside the tolerance")
    return timestamp


def conekta_digest(payload: bytes, private_key_pem: str) -> str:
    """The DIGEST header Conekta would send; used by the tests."""
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)  # noqa: S101 - a test helper's precondition
    signature = key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify_conekta(payload: bytes, digest: str | None, public_key_pem: str) -> None:
    if not public_key_pem:
        raise SignatureError("no Conekta webhook public key is configured")
    if not digest:
        raise SignatureError("missing DIGEST header")
    try:
        signature = base64.b64decode(digest.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("DIGEST is not base64") from exc
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode())
    except ValueError as exc:
        raise SignatureError("the configured Conekta public key is not a PEM key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError("the configured Conekta public key is not RSA")
    try:
        key.verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise SignatureError("DIGEST does not match the body") from exc
