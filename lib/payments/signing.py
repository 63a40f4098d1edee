"""Stripe's webhook signature scheme: `Stripe-Signature: t=<unix>,v1=<hex hmac>`,
the HMAC-SHA256 of `<t>.<raw body>` under the endpoint secret."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from lib.errors import PortalError

TOLERANCE_SECONDS = 300


class BadSignature(PortalError):
    status_code = 400
    code = "bad_signature"


def sign(payload: bytes, secret: str, *, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    now: datetime,
    tolerance: int = TOLERANCE_SECONDS,
) -> None:
    if not secret:
        raise BadSignature("Webhooks are not configured.", status_code=503, code="webhooks_off")
    if not header:
        raise BadSignature("The Stripe-Signature header is missing.")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise BadSignature("The Stripe-Signature timestamp is not valid.") from None
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise BadSignature("The Stripe-Signature header is not valid.")
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256
    ).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise BadSignature("The signature does not match.")
    if abs(now.timestamp() - timestamp) > tolerance:
        raise BadSignature("The signature is too old.")
