"""Request signing: Standard Webhooks headers plus Vexa's `X-Webhook-Signature`.

Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`): HMAC-SHA256
of `id.timestamp.body`. The key is the base64 part of a `whsec_...` secret (the convention every
Standard Webhooks library follows); a secret without that prefix (Vexa's free-form
`webhook_secret`) is used as its UTF-8 bytes.

Vexa (`X-Webhook-Timestamp`, `X-Webhook-Signature: sha256=<hex>`): HMAC-SHA256 of
`timestamp.body`, keyed with the secret string exactly as the user holds it (UTF-8), so existing
Vexa receivers keep verifying unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 (the public format prefix, not a secret)


def secret_generate() -> str:
    """A new endpoint secret in the Standard Webhooks format (`whsec_` + base64 of 32 bytes)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def standard_key(secret: str) -> bytes:
    if secret.startswith(SECRET_PREFIX):
        return base64.b64decode(secret[len(SECRET_PREFIX) :] + "==")
    return secret.encode()


def vexa_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def signed_headers(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one request. Without a secret (a Vexa URL saved with none) only the
    id and timestamp are sent, like Vexa does."""
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "X-Webhook-Timestamp": str(timestamp),
    }
    if secret:
        headers["webhook-signature"] = Webhook(standard_key(secret)).sign(
            msg_id, datetime.fromtimestamp(timestamp, tz=UTC), body.decode()
        )
        headers["X-Webhook-Signature"] = vexa_signature(
            secret=secret, timestamp=timestamp, body=body
        )
    return headers
