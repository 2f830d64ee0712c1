"""The outbox: notifications and webhook deliveries, written in the same commit as the change they report.

A worker drains both tables (jobs.drain_outbox); every send attempt is logged in DeliveryAttempt.
"""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.core.models import TimestampMixin, VersionMixin, utcnow
from fieldservice.extensions import db


class OutboxMixin:
    """The delivery state shared by both outbox tables: pending -> sending -> sent, or failed -> ... ->
    gave_up."""

    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Notification(OutboxMixin, VersionMixin, db.Model):
    """One message to a customer about one step of their request, on one channel."""

    __tablename__ = "notifications"
    __table_args__ = (
        # Claimed by status and due time; one message per (event, channel): a replayed signal adds nothing.
        sa.Index("ix_notifications_status_next_attempt_at", "status", "next_attempt_at"),
        sa.UniqueConstraint("dedupe_key", name="uq_notifications_dedupe_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(sa.String(120))
    request_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("service_requests.id", ondelete="SET NULL"), index=True
    )
    event: Mapped[str] = mapped_column(sa.String(40))
    channel: Mapped[str] = mapped_column(sa.String(20))
    recipient: Mapped[str] = mapped_column(sa.String(200))
    locale: Mapped[str] = mapped_column(sa.String(10), default="zh_Hans")
    subject: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    # The provider's id for the sent message (SMTP Message-ID, the HTTP provider's message id).
    provider_ref: Mapped[str | None] = mapped_column(sa.String(200))
    resent_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    attempts_log: Mapped[list["DeliveryAttempt"]] = relationship(
        primaryjoin="DeliveryAttempt.notification_id == Notification.id",
        foreign_keys="DeliveryAttempt.notification_id",
        order_by="DeliveryAttempt.id",
        viewonly=True,
    )

    def __repr__(self) -> str:
        return f"<Notification {self.id} {self.event} {self.channel} {self.status}>"


class WebhookSubscription(TimestampMixin, VersionMixin, db.Model):
    """An integrator's endpoint and the event types it wants; deliveries are signed with its secret."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    url: Mapped[str] = mapped_column(sa.String(500))
    secret: Mapped[str] = mapped_column(sa.String(200))
    # Event types ("request.created", ...) or patterns ending in ".*" ("part_request.*").
    events: Mapped[list] = mapped_column(sa.JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    def __repr__(self) -> str:
        return f"<WebhookSubscription {self.id} {self.name} {self.url}>"


class WebhookDelivery(OutboxMixin, VersionMixin, db.Model):
    """One event for one subscription: the signed POST the worker makes until it succeeds or gives up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        sa.UniqueConstraint("subscription_id", "event_id", name="uq_webhook_deliveries_subscription_event"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True
    )
    # The event's own id (the receiver's idempotency key): the same for every attempt and every resend.
    event_id: Mapped[str] = mapped_column(sa.String(64))
    event_type: Mapped[str] = mapped_column(sa.String(60))
    payload: Mapped[dict] = mapped_column(sa.JSON)
    last_status_code: Mapped[int | None]

    subscription: Mapped[WebhookSubscription] = relationship()
    attempts_log: Mapped[list["DeliveryAttempt"]] = relationship(
        primaryjoin="DeliveryAttempt.webhook_delivery_id == WebhookDelivery.id",
        foreign_keys="DeliveryAttempt.webhook_delivery_id",
        order_by="DeliveryAttempt.id",
        viewonly=True,
    )

    def __repr__(self) -> str:
        return f"<WebhookDelivery {self.id} {self.event_type} {self.status}>"


class DeliveryAttempt(db.Model):
    """The delivery log: one row per try of a notification or a webhook delivery."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    webhook_delivery_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    ok: Mapped[bool]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(sa.String(500))
    duration_ms: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<DeliveryAttempt {self.id} ok={self.ok}>"
