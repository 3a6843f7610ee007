"""Webhooks signed per the Standard Webhooks specification (standardwebhooks.com):
headers ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature: v1,<base64>``, where
the signature is HMAC-SHA256 over ``"{id}.{timestamp}.{body}"`` with the base64-decoded
part of the ``whsec_`` secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request

from ..models import WebhookDelivery, WebhookEndpoint
from . import TransportError

TIMEOUT = 10  # seconds


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def send(delivery: WebhookDelivery) -> None:
    endpoint = delivery.endpoint
    if not endpoint.active:
        raise TransportError("the endpoint is disabled", permanent=True)
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    timestamp = int(time.time())
    request = urllib.request.Request(  # noqa: S310 (http/https URLs only: URLField)
        endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "caredesk-webhooks/1",
            "webhook-id": delivery.msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(endpoint.secret, delivery.msg_id, timestamp, body),
        },
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            code = response.status
    except urllib.error.HTTPError as exc:
        code = exc.code
    except (OSError, ValueError) as exc:
        raise TransportError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        delivery.duration_ms = int((time.monotonic() - started) * 1000)
    delivery.response_code = code
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        response_code=code, duration_ms=delivery.duration_ms
    )
    if 200 <= code < 300:
        return
    if code == 410:  # Gone: the receiver asks us to stop
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            active=False, disabled_reason="The receiver answered 410 Gone."
        )
        raise TransportError("HTTP 410 Gone: endpoint disabled", permanent=True)
    raise TransportError(f"HTTP {code}")
