"""Delivery status and resend of customer notifications; webhook subscriptions and their delivery log."""

import sqlalchemy as sa
from flask_login import current_user

from fieldservice.auth.permissions import require
from fieldservice.core.api import api_blueprint, page_of
from fieldservice.core.models import get_or_404
from fieldservice.extensions import db
from fieldservice.notifications import operations as ops
from fieldservice.notifications.models import Notification, WebhookDelivery, WebhookSubscription
from fieldservice.notifications.permissions import NOTIFICATIONS_READ, NOTIFICATIONS_RESEND, WEBHOOKS_MANAGE
from fieldservice.notifications.schemas import (
    DeliveryListArgs,
    NotificationListArgs,
    NotificationSchema,
    ResendArgs,
    WebhookDeliverySchema,
    WebhookSubscriptionArgs,
    WebhookSubscriptionCreatedSchema,
    WebhookSubscriptionPatchArgs,
    WebhookSubscriptionSchema,
)

blp = api_blueprint("notifications_api", __name__, "Customer notifications and outgoing webhooks")


def _filtered(model, args: dict, names: tuple[str, ...]) -> sa.Select:
    query = sa.select(model).order_by(model.id.desc())
    for name in names:
        if args.get(name) is not None:
            query = query.where(getattr(model, name) == args[name])
    return query


def notifications_query(args: dict) -> sa.Select:
    return _filtered(Notification, args, ("status", "channel", "request_id"))


def deliveries_query(args: dict) -> sa.Select:
    return _filtered(WebhookDelivery, args, ("status", "subscription_id", "event_type"))


@blp.route("/notifications")
@require(NOTIFICATIONS_READ)
@blp.arguments(NotificationListArgs, location="query")
@blp.response(200)
def list_notifications(args):
    """Customer notifications, newest first, with their delivery status and attempts."""
    return page_of(notifications_query(args), NotificationSchema(), args["page"], args["per_page"])


@blp.route("/notifications/<int:notification_id>/resend", methods=["POST"])
@require(NOTIFICATIONS_RESEND)
@blp.arguments(ResendArgs)
@blp.response(200, NotificationSchema)
def resend_notification(args, notification_id):
    """Send the notification again (once the worker picks it up)."""
    row = get_or_404(Notification, notification_id)
    ops.resend(row, current_user, args.get("version"))
    db.session.commit()
    return row


@blp.route("/webhooks/subscriptions")
@require(WEBHOOKS_MANAGE)
@blp.response(200, WebhookSubscriptionSchema(many=True))
def list_subscriptions():
    return db.session.scalars(sa.select(WebhookSubscription).order_by(WebhookSubscription.id)).all()


@blp.route("/webhooks/subscriptions", methods=["POST"])
@require(WEBHOOKS_MANAGE)
@blp.arguments(WebhookSubscriptionArgs)
@blp.response(201, WebhookSubscriptionCreatedSchema)
def create_subscription(args):
    """Subscribe an endpoint; the answer carries the signing secret (generated unless given)."""
    subscription = ops.create_subscription(args, current_user)
    db.session.commit()
    return subscription


@blp.route("/webhooks/subscriptions/<int:subscription_id>", methods=["PATCH"])
@require(WEBHOOKS_MANAGE)
@blp.arguments(WebhookSubscriptionPatchArgs)
@blp.response(200, WebhookSubscriptionSchema)
def update_subscription(args, subscription_id):
    subscription = get_or_404(WebhookSubscription, subscription_id)
    version = args.pop("version")
    ops.update_subscription(subscription, args, current_user, version)
    db.session.commit()
    return subscription


@blp.route("/webhooks/subscriptions/<int:subscription_id>", methods=["DELETE"])
@require(WEBHOOKS_MANAGE)
@blp.arguments(ResendArgs, location="query")
@blp.response(204)
def delete_subscription(args, subscription_id):
    ops.delete_subscription(get_or_404(WebhookSubscription, subscription_id), current_user, args.get("version"))
    db.session.commit()


@blp.route("/webhooks/deliveries")
@require(WEBHOOKS_MANAGE)
@blp.arguments(DeliveryListArgs, location="query")
@blp.response(200)
def list_deliveries(args):
    """The delivery log, newest first: each delivery with its attempts (status code, error, time taken)."""
    return page_of(deliveries_query(args), WebhookDeliverySchema(), args["page"], args["per_page"])


@blp.route("/webhooks/deliveries/<int:delivery_id>/resend", methods=["POST"])
@require(WEBHOOKS_MANAGE)
@blp.arguments(ResendArgs)
@blp.response(200, WebhookDeliverySchema)
def resend_delivery(args, delivery_id):
    row = get_or_404(WebhookDelivery, delivery_id)
    ops.resend(row, current_user, args.get("version"))
    db.session.commit()
    return row
