"""The outbox rules: what is queued for whom, how a due message is claimed, tried, retried and given up,
resends,
and the webhook subscriptions.

Queueing only adds rows to the caller's transaction (the change and its messages commit together or not at
all);
the worker (jobs.drain_outbox) claims due rows, sends each and records the attempt.
"""

import logging
import secrets
import time
import uuid
from datetime import datetime, timedelta
from types import SimpleNamespace
from urllib.parse import urlsplit

import sqlalchemy as sa

from fieldservice.core.errors import Conflict, ValidationFailed
from fieldservice.core.models import check_version, transaction_cache, utcnow
from fieldservice.extensions import db
from fieldservice.notifications import channels, messages, webhooks
from fieldservice.notifications.models import (
    DeliveryAttempt,
    Notification,
    WebhookDelivery,
    WebhookSubscription,
)
from fieldservice.notifications.settings import int_setting, setting
from fieldservice.reports.operations import urls_for
from fieldservice.requests.models import ServiceRequest

log = logging.getLogger("fieldservice.notifications")

PENDING, SENDING, SENT, FAILED, GAVE_UP = "pending", "sending", "sent", "failed", "gave_up"
DUE = (PENDING, FAILED, SENDING)  # a SENDING row is due again only once its lease has run out (a worker died)
# What one transaction remembers (core.models.transaction_cache: forgotten at its end and at a savepoint's
# rollback, which takes the messages and the kick queued inside it along).
_PENDING_KEYS = "notifications_pending_keys"
_OUTBOX = "notifications_outbox"


# ---------------------------------------------------------------- queueing (inside the caller's transaction)


def notify_customer(
    sr, event: str, key: str, *, fresh: bool = False, new_rows: list | None = None, **ctx
) -> list[Notification]:
    """Queue *event*'s message to the request's customer on every configured channel that can reach them.
    *key* names the change (one message per key and channel, whatever replays the signal). *fresh*: the key
    names a row this transaction created (a timeline event, a new request), so no stored message can carry
    it and the database is not asked. *new_rows*: a batch's list (requests.signals) to put the messages in
    rather than the session; the batch stores them together."""
    customer = sr.customer
    if customer is None:
        return []
    reachable = [(channel, channel.address_of(customer, sr)) for channel in channels.active_channels()]
    reachable = [(channel, address) for channel, address in reachable if address]
    if not reachable:
        return []
    pending = transaction_cache(_PENDING_KEYS)
    wanted = [f"{key}:{channel.name}" for channel, _ in reachable]
    stored = set() if fresh else _stored_keys([k for k in wanted if k not in pending])
    locale = setting("FIELDSERVICE_NOTIFY_LOCALE")
    subject, body = messages.render(event, locale, number=sr.number, **ctx)
    queued = []
    for (channel, address), dedupe_key in zip(reachable, wanted, strict=True):
        # Queued already in this transaction (forgotten if a savepoint holding it rolls back), or stored.
        if dedupe_key in pending or dedupe_key in stored:
            continue
        notification = Notification(
            dedupe_key=dedupe_key,
            request_id=sr.id,
            event=event,
            channel=channel.name,
            recipient=address[:200],
            locale=locale,
            subject=subject[:200],
            body=body,
        )
        if new_rows is None:
            db.session.add(notification)
        else:
            new_rows.append(notification)
        pending[dedupe_key] = notification
        queued.append(notification)
    return queued


def notify_number(sr, event: str, key: str, phone: str, *, locale: str | None = None, **ctx) -> list[Notification]:
    """Queue *event*'s message to one phone number (a number on record the customer named, or one a customer
    confirms with a code: *sr* None) on every configured channel that reaches a phone (all but e-mail; the log
    channel when none is configured), in *locale* or the site's."""
    locale = locale or setting("FIELDSERVICE_NOTIFY_LOCALE")
    subject, body = messages.render(event, locale, number=sr.number if sr is not None else "", **ctx)
    queued = []
    for channel in channels.active_channels():
        if channel.name == "email":
            continue
        dedupe_key = f"{key}:{channel.name}"
        if _stored_keys([dedupe_key]):
            continue
        queued.append(_queue_one(sr, event, dedupe_key, channel.name, phone, locale, subject, body))
    return queued


def _queue_one(sr, event, dedupe_key, channel, recipient, locale, subject, body) -> Notification:
    """Add one message to the outbox (the session's; it is sent once the transaction commits)."""
    notification = Notification(
        dedupe_key=dedupe_key,
        request_id=sr.id if sr is not None else None,
        event=event,
        channel=channel,
        recipient=recipient[:200],
        locale=locale,
        subject=subject[:200],
        body=body,
    )
    db.session.add(notification)
    return notification


def notify_staff(users, sr, event: str, key: str, **ctx) -> list[Notification]:
    """Queue *event*'s message about *sr* to each of *users* (staff, e.g. the managers told of a missed
    appointment) on every configured channel that reaches them, in each user's language."""
    pending = transaction_cache(_PENDING_KEYS)
    queued = []
    for user in users:
        contact = SimpleNamespace(email=user.email, phone=user.phone, name=user.name or user.username)
        locale = user.locale or setting("FIELDSERVICE_NOTIFY_LOCALE")
        subject, body = messages.render(event, locale, number=sr.number, **ctx)
        for channel in channels.active_channels():
            address = channel.address_of(contact, SimpleNamespace(contact_phone=None))
            dedupe_key = f"{key}:u{user.id}:{channel.name}"
            if not address or dedupe_key in pending:
                continue
            notification = _queue_one(sr, event, dedupe_key, channel.name, address, locale, subject, body)
            pending[dedupe_key] = notification
            queued.append(notification)
    return queued


def _stored_keys(keys: list[str]) -> set[str]:
    """Which of *keys* a stored message carries already (a signal replayed in a later transaction)."""
    if not keys:
        return set()
    # Not flushed first: the messages this transaction queued are in its pending keys already.
    with db.session.no_autoflush:
        return set(db.session.scalars(sa.select(Notification.dedupe_key).where(Notification.dedupe_key.in_(keys))))


def _active_subscriptions() -> list[WebhookSubscription]:
    """The active subscriptions, read once per transaction (a batch emits many events)."""
    outbox = transaction_cache(_OUTBOX)
    if "subscriptions" not in outbox:
        with db.session.no_autoflush:
            outbox["subscriptions"] = db.session.scalars(
                sa.select(WebhookSubscription).where(WebhookSubscription.active.is_(True))
            ).all()
    return outbox["subscriptions"]


def emit(event_type: str, payload: dict, *, new_rows: list | None = None) -> list[WebhookDelivery]:
    """Queue a webhook delivery of *event_type* for every active subscription that wants it. *new_rows*: a
    batch's list (requests.signals) to put the deliveries in rather than the session; the batch stores them."""
    subscriptions = _active_subscriptions()
    event_id = uuid.uuid4().hex
    queued = []
    for subscription in subscriptions:
        if webhooks.matches(subscription.events, event_type):
            delivery = WebhookDelivery(
                subscription_id=subscription.id,
                event_id=event_id,
                event_type=event_type,
                payload={**payload, "occurred_at": utcnow().isoformat()},
            )
            if new_rows is None:
                db.session.add(delivery)
            else:
                new_rows.append(delivery)
            queued.append(delivery)
    return queued


def kick() -> None:
    """Ask the worker to drain the outbox as soon as this transaction commits (once per transaction), rather
    than at its next periodic run: for a manager's resend, who waits for the result on the page."""
    # The one circle inside notifications, on purpose: jobs.py drains the outbox through this module, and this
    # module queues that job; imported when called so that either module can be imported first.
    from fieldservice.notifications.jobs import drain_outbox

    outbox = transaction_cache(_OUTBOX)
    if not outbox.get("kicked"):
        outbox["kicked"] = True
        drain_outbox.delay()


# ---------------------------------------------------------------- draining (the worker)


def claim_due(model, now: datetime | None = None, limit: int = 50) -> list[int]:
    """Mark up to *limit* due rows of *model* as being sent by this worker (a lease), and count the attempt.
    Two workers never claim the same row: the UPDATE is conditional on the row still being due."""
    now = now or utcnow()
    due = sa.and_(model.status.in_(DUE), model.next_attempt_at <= now)
    query = sa.select(model.id).where(due).order_by(model.next_attempt_at, model.id).limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed = []
    for row_id in db.session.scalars(query).all():
        result = db.session.execute(
            sa.update(model)
            .where(model.id == row_id, due)
            .values(
                status=SENDING,
                attempts=model.attempts + 1,
                next_attempt_at=now + lease(),
                version=model.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            claimed.append(row_id)
    return claimed


def lease() -> timedelta:
    """How long a claimed row is left to its worker before another may take it (the worker died)."""
    return timedelta(seconds=int_setting("FIELDSERVICE_OUTBOX_LEASE"))


def attempt(model, row_id: int, now: datetime | None = None) -> str:
    """Send one claimed row and record the try: sent, failed (tried again later, with backoff) or gave_up."""
    row = db.session.get(model, row_id, populate_existing=True)
    if row is None or row.status != SENDING:
        return "skipped"
    started = time.perf_counter()
    error = None
    try:
        ref, status_code = _send(row)
    except channels.DeliveryError as exc:
        error, ref, status_code = exc, None, exc.status_code
    took = int((time.perf_counter() - started) * 1000)
    now = now or utcnow()
    db.session.add(
        DeliveryAttempt(
            notification_id=row.id if model is Notification else None,
            webhook_delivery_id=row.id if model is WebhookDelivery else None,
            at=now,
            ok=error is None,
            status_code=status_code,
            error=str(error)[:500] if error else None,
            duration_ms=took,
        )
    )
    if model is WebhookDelivery:
        row.last_status_code = status_code
    if error is None:
        row.status, row.sent_at, row.last_error = SENT, now, None
        if model is Notification:
            row.provider_ref = (ref or "")[:200]
    elif not error.retryable or row.attempts >= int_setting("FIELDSERVICE_OUTBOX_MAX_ATTEMPTS"):
        row.status, row.last_error = GAVE_UP, str(error)[:500]
    else:
        row.status, row.last_error = FAILED, str(error)[:500]
        row.next_attempt_at = now + backoff(row.attempts)
    if model is Notification and row.status in (SENT, GAVE_UP) and row.event in messages.SECRET_EVENTS:
        row.subject, row.body = messages.scrub(row.subject), messages.scrub(row.body)
    db.session.flush()
    log.info(
        "%s %s attempt %s: %s%s",
        model.__tablename__,
        row.id,
        row.attempts,
        row.status,
        f" ({error})" if error else "",
    )
    return row.status


def backoff(attempts: int) -> timedelta:
    """The wait after the *attempts*-th failed try: doubling from the base, capped."""
    base, cap = int_setting("FIELDSERVICE_OUTBOX_BACKOFF"), int_setting("FIELDSERVICE_OUTBOX_BACKOFF_MAX")
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


class _Outgoing:
    """A stored message as it leaves: the customer's current link put in its place (messages.CUSTOMER_LINK)."""

    def __init__(self, row: Notification, body: str):
        self._row, self.body = row, body

    def __getattr__(self, name):
        return getattr(self._row, name)


def _outgoing(row: Notification):
    if messages.CUSTOMER_LINK not in row.body:
        return row
    sr = db.session.get(ServiceRequest, row.request_id) if row.request_id else None
    if sr is None:
        raise channels.DeliveryError("the message's request is gone", retryable=False)
    return _Outgoing(row, row.body.replace(messages.CUSTOMER_LINK, urls_for(sr)["url"]))


def _send(row) -> tuple[str | None, int | None]:
    if isinstance(row, Notification):
        return channels.channel_named(row.channel).send(_outgoing(row)), None
    subscription = row.subscription
    if subscription is None or not subscription.active:
        raise channels.DeliveryError("the subscription is disabled", retryable=False)
    body = webhooks.encode(row)
    status, _ = channels.post_json(subscription.url, body, webhooks.headers_for(row, subscription.secret, body))
    return None, status


# ---------------------------------------------------------------- resend (console, API)


def resend(row, actor, version: int | None = None) -> None:
    """Send a notification or a webhook delivery again now, whatever happened before (a manager decides)."""
    check_version(row, version)
    if row.status == SENDING and row.next_attempt_at > utcnow():
        raise Conflict("being_sent", "This message is being sent right now; look again in a minute.")
    row.status, row.attempts, row.next_attempt_at, row.last_error = PENDING, 0, utcnow(), None
    if isinstance(row, Notification):
        row.resent_by_id = actor.id
    db.session.flush()
    kick()
    log.info("%s %s queued again by %s", type(row).__tablename__, row.id, actor.username)


# ---------------------------------------------------------------- webhook subscriptions (admins)


def _check_subscription(data: dict) -> None:
    fields = _subscription_fields(data)
    if fields:
        message = "Some fields are not valid: " + ", ".join(sorted(fields)) + "."
        raise ValidationFailed("validation_failed", message, fields)


def _subscription_fields(data: dict) -> dict[str, str]:
    fields = {}
    url = (data.get("url") or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        fields["url"] = "An http:// or https:// address."
    if not (data.get("name") or "").strip():
        fields["name"] = "Required."
    events = data.get("events") or []
    if not events:
        fields["events"] = "Choose at least one event type."
    unknown = [e for e in events if e != "*" and not any(webhooks.matches([e], t) for t in webhooks.EVENT_TYPES)]
    if unknown:
        fields["events"] = "Unknown event types: " + ", ".join(unknown) + "."
    return fields


def create_subscription(data: dict, actor) -> WebhookSubscription:
    transaction_cache(_OUTBOX).pop("subscriptions", None)  # emit() must see the change
    _check_subscription(data)
    subscription = WebhookSubscription(
        name=data["name"].strip()[:120],
        url=data["url"].strip()[:500],
        events=list(dict.fromkeys(data["events"])),
        secret=data.get("secret") or secrets.token_urlsafe(32),
        active=data.get("active", True),
        created_by_id=actor.id,
    )
    db.session.add(subscription)
    db.session.flush()
    log.info("webhook subscription %s (%s) created by %s", subscription.id, subscription.url, actor.username)
    return subscription


def update_subscription(subscription: WebhookSubscription, data: dict, actor, version: int | None) -> None:
    transaction_cache(_OUTBOX).pop("subscriptions", None)  # emit() must see the change
    check_version(subscription, version)
    merged = {"name": subscription.name, "url": subscription.url, "events": subscription.events, **data}
    _check_subscription(merged)
    subscription.name, subscription.url = merged["name"].strip()[:120], merged["url"].strip()[:500]
    subscription.events = list(dict.fromkeys(merged["events"]))
    if "active" in data:
        subscription.active = bool(data["active"])
    if data.get("secret"):
        subscription.secret = data["secret"]
    db.session.flush()
    log.info("webhook subscription %s changed by %s", subscription.id, actor.username)


def delete_subscription(subscription: WebhookSubscription, actor, version: int | None) -> None:
    transaction_cache(_OUTBOX).pop("subscriptions", None)  # emit() must see the change
    check_version(subscription, version)
    db.session.delete(subscription)
    db.session.flush()
    log.info("webhook subscription %s deleted by %s", subscription.id, actor.username)
