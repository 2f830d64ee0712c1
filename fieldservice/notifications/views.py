"""Console pages: customer notifications with their delivery status (resend), and webhooks (admins)."""

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from fieldservice.auth.permissions import require
from fieldservice.console.navigation import add_nav
from fieldservice.core.errors import ApiError
from fieldservice.core.forms import apply_api_error
from fieldservice.extensions import db
from fieldservice.notifications import operations as ops
from fieldservice.notifications.api import deliveries_query, get_or_404, notifications_query
from fieldservice.notifications.forms import SubscriptionForm, VersionForm
from fieldservice.notifications.models import Notification, WebhookDelivery, WebhookSubscription
from fieldservice.notifications.permissions import NOTIFICATIONS_READ, NOTIFICATIONS_RESEND, WEBHOOKS_MANAGE
from fieldservice.notifications.schemas import STATUSES
from fieldservice.notifications.webhooks import WEBHOOK_EVENT_LABELS

bp = Blueprint("notifications", __name__, template_folder="templates")

add_nav("notifications.index", _l("Notifications"), NOTIFICATIONS_READ, order=85, group="system")
add_nav("notifications.webhooks", _l("Webhooks"), WEBHOOKS_MANAGE, order=890, group="system")

STATUS_LABELS = {
    "pending": _l("Waiting to be sent"),
    "sending": _l("Being sent"),
    "sent": _l("Sent"),
    "failed": _l("Failed, will retry"),
    "gave_up": _l("Gave up"),
}
EVENT_LABELS = {
    "created": _l("Request logged"),
    "assigned": _l("Engineer assigned"),
    "on_the_way": _l("Engineer on the way"),
    "resolved": _l("Resolved, with report"),
    "revisited": _l("Callback: satisfied"),
    "reopened": _l("Callback: not satisfied"),
    "appointment_booked": _l("Appointment booked"),
    "appointment_changed": _l("Appointment changed"),
    "appointment_missed": _l("Appointment missed"),
}
CHANNEL_LABELS = {
    "email": _l("E-mail"),
    "sms": _l("SMS"),
    "wechat": _l("WeChat"),
    "log": _l("Development log"),
}
PER_PAGE = 50


def _page() -> int:
    return max(1, request.args.get("page", 1, type=int))


def _filters(names) -> dict:
    args = {name: request.args.get(name) or None for name in names}
    if args.get("status") not in STATUSES:
        args["status"] = None
    return args


def _paged(query):
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
    rows = db.session.scalars(query.limit(PER_PAGE).offset((_page() - 1) * PER_PAGE)).all()
    return rows, total


@bp.route("/notifications/")
@require(NOTIFICATIONS_READ)
def index():
    args = _filters(("status", "channel"))
    args["request_id"] = request.args.get("request_id", type=int)
    rows, total = _paged(notifications_query(args))
    counts = dict(
        db.session.execute(sa.select(Notification.status, sa.func.count()).group_by(Notification.status)).all()
    )
    return render_template(
        "notifications/index.html",
        rows=rows,
        total=total,
        page=_page(),
        per_page=PER_PAGE,
        args=args,
        counts=counts,
        status_labels=STATUS_LABELS,
        event_labels=EVENT_LABELS,
        channel_labels=CHANNEL_LABELS,
        form=VersionForm(),
    )


@bp.route("/notifications/<int:notification_id>/resend", methods=["POST"])
@require(NOTIFICATIONS_RESEND)
def resend(notification_id: int):
    return _resend(get_or_404(Notification, notification_id), url_for("notifications.index"))


@bp.route("/notifications/webhooks/deliveries/<int:delivery_id>/resend", methods=["POST"])
@require(WEBHOOKS_MANAGE)
def resend_delivery(delivery_id: int):
    return _resend(get_or_404(WebhookDelivery, delivery_id), url_for("notifications.webhooks"))


def _resend(row, back: str):
    form = VersionForm()
    if form.validate_on_submit():
        try:
            ops.resend(row, current_user, int(form.version.data) if form.version.data else None)
            db.session.commit()
            flash(_("Queued to be sent again."), "success")
        except ApiError as exc:
            db.session.rollback()
            flash(_(exc.message), "error")
    return redirect(request.form.get("next") or back)


@bp.route("/notifications/webhooks", methods=["GET", "POST"])
@require(WEBHOOKS_MANAGE)
def webhooks():
    form = SubscriptionForm()
    status = 200
    created = None
    if form.validate_on_submit():
        try:
            created = ops.create_subscription(
                {
                    "name": form.name.data,
                    "url": form.url.data,
                    "events": form.events.data,
                    "active": form.active.data,
                },
                current_user,
            )
            db.session.commit()
            form = SubscriptionForm(formdata=None)
        except ApiError as exc:
            db.session.rollback()
            status = apply_api_error(form, exc)
    elif request.method == "POST":
        status = 422
    args = _filters(("status", "event_type"))
    args["subscription_id"] = request.args.get("subscription_id", type=int)
    deliveries, total = _paged(deliveries_query(args))
    subscriptions = db.session.scalars(sa.select(WebhookSubscription).order_by(WebhookSubscription.id)).all()
    return render_template(
        "notifications/webhooks.html",
        form=form,
        created=created,
        subscriptions=subscriptions,
        deliveries=deliveries,
        total=total,
        page=_page(),
        per_page=PER_PAGE,
        args=args,
        status_labels=STATUS_LABELS,
        webhook_event_labels=WEBHOOK_EVENT_LABELS,
        row_form=VersionForm(),
    ), status


@bp.route("/notifications/webhooks/<int:subscription_id>/<action>", methods=["POST"])
@require(WEBHOOKS_MANAGE)
def subscription_action(subscription_id: int, action: str):
    subscription = get_or_404(WebhookSubscription, subscription_id)
    form = VersionForm()
    if form.validate_on_submit() and action in ("enable", "disable", "delete"):
        version = int(form.version.data) if form.version.data else None
        try:
            if action == "delete":
                ops.delete_subscription(subscription, current_user, version)
            else:
                ops.update_subscription(subscription, {"active": action == "enable"}, current_user, version)
            db.session.commit()
            flash(_("Saved."), "success")
        except ApiError as exc:
            db.session.rollback()
            flash(_(exc.message), "error")
    return redirect(url_for("notifications.webhooks"))
