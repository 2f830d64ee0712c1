"""The worker's side of the outbox: drain due notifications and webhook deliveries, every 10 s (and at once
after a resend). Idempotent: rows are claimed with a lease, a second drain finds nothing to do."""

import logging
from collections import Counter

from fieldservice.core.jobs import job, register_periodic
from fieldservice.extensions import db
from fieldservice.notifications import operations as ops
from fieldservice.notifications import subscribers  # noqa: F401  (connects the signals)
from fieldservice.notifications.models import Notification, WebhookDelivery

log = logging.getLogger("fieldservice.notifications")

BATCH = 50


@job(queue="default", timeout=900)
def drain_outbox() -> dict:
    """Send every due message; each claim and each attempt commits on its own. Returns what happened, per
    table:
    {"notifications": {"sent": 2}, "webhook_deliveries": {"failed": 1}}."""
    result = {}
    for model in (Notification, WebhookDelivery):
        counts: Counter = Counter()
        while True:
            ids = ops.claim_due(model, limit=BATCH)
            db.session.commit()
            for row_id in ids:
                counts[_attempt(model, row_id)] += 1
            if len(ids) < BATCH:
                break
        if counts:
            result[model.__tablename__] = dict(counts)
    if result:
        log.info("outbox drained: %s", result)
    return result


def _attempt(model, row_id: int) -> str:
    try:
        status = ops.attempt(model, row_id)
        db.session.commit()
        return status
    except Exception:
        # The row stays claimed; its lease runs out and the next drain tries again.
        db.session.rollback()
        log.exception("%s %s: attempt failed unexpectedly", model.__tablename__, row_id)
        return "error"


# The relay polls: a change never waits for Redis, and an outage only delays the messages.
register_periodic("notifications-outbox", "fieldservice.notifications.jobs.drain_outbox", 10)
