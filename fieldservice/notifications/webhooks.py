"""Signed webhook requests. A receiver checks a delivery with verify() (or the same four lines in any
language):

    signature = "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + raw body))

compared in constant time with X-Fieldservice-Signature, and X-Fieldservice-Timestamp (Unix seconds) recent
enough
to refuse a replay. X-Fieldservice-Delivery is the event's id, the same on every retry: the receiver's key to
ignore a repeat.
"""

import hashlib
import hmac
import json
import time

from flask_babel import lazy_gettext as _l

EVENT_TYPES = (
    "request.created",
    "request.status_changed",
    "request.event",
    "visit.finished",
    "part_request.applied",
    "part_request.approved",
    "part_request.rejected",
    "part_request.shipped",
    "part_request.signed",
    "part_request.cancelled",
)
# What each event type means, for the console; the codes themselves are the integration's contract.
WEBHOOK_EVENT_LABELS = {
    "*": _l("Everything"),
    "request.created": _l("Request logged"),
    "request.status_changed": _l("Request status changed"),
    "request.event": _l("Any timeline entry"),
    "visit.finished": _l("Visit finished"),
    "part_request.applied": _l("Part request applied for"),
    "part_request.approved": _l("Part request approved"),
    "part_request.rejected": _l("Part request rejected"),
    "part_request.shipped": _l("Part request shipped"),
    "part_request.signed": _l("Part request signed for"),
    "part_request.cancelled": _l("Part request withdrawn"),
    "part_request.*": _l("Every part request step"),
}
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def encode(delivery) -> bytes:
    envelope = {"id": delivery.event_id, "type": delivery.event_type, "data": delivery.payload}
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def headers_for(delivery, secret: str, body: bytes, now: float | None = None) -> dict:
    timestamp = str(int(now if now is not None else time.time()))
    return {
        "Content-Type": "application/json",
        "User-Agent": "fieldservice-webhooks/1",
        "X-Fieldservice-Event": delivery.event_type,
        "X-Fieldservice-Delivery": delivery.event_id,
        "X-Fieldservice-Timestamp": timestamp,
        "X-Fieldservice-Signature": signature(secret, timestamp, body),
    }


def verify(secret: str, headers, body: bytes, now: float | None = None, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    timestamp = headers.get("X-Fieldservice-Timestamp") or ""
    sent = headers.get("X-Fieldservice-Signature") or ""
    if not timestamp.isdigit() or abs((now if now is not None else time.time()) - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sent, signature(secret, timestamp, body))


def matches(patterns: list, event_type: str) -> bool:
    """A subscription's patterns: exact types, "part_request.*", or "*" for everything."""
    for pattern in patterns or ():
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False
