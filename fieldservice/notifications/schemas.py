"""Dump schemas (XSchema) and argument schemas (XArgs) of notifications and webhooks."""

import marshmallow as ma

from fieldservice.core.api import PageArgs
from fieldservice.notifications.webhooks import EVENT_TYPES

STATUSES = ("pending", "sending", "sent", "failed", "gave_up")


class AttemptSchema(ma.Schema):
    at = ma.fields.AwareDateTime()
    ok = ma.fields.Boolean()
    status_code = ma.fields.Integer(allow_none=True)
    error = ma.fields.String(allow_none=True)
    duration_ms = ma.fields.Integer()


class _OutboxSchema(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.String()
    attempts = ma.fields.Integer()
    next_attempt_at = ma.fields.AwareDateTime()
    last_error = ma.fields.String(allow_none=True)
    sent_at = ma.fields.AwareDateTime(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    version = ma.fields.Integer()


class NotificationSchema(_OutboxSchema):
    request_id = ma.fields.Integer(allow_none=True)
    event = ma.fields.String()
    channel = ma.fields.String()
    recipient = ma.fields.String()
    locale = ma.fields.String()
    subject = ma.fields.String()
    body = ma.fields.String()
    provider_ref = ma.fields.String(allow_none=True)
    attempts_log = ma.fields.List(ma.fields.Nested(AttemptSchema))


class WebhookDeliverySchema(_OutboxSchema):
    subscription_id = ma.fields.Integer()
    event_id = ma.fields.String()
    event_type = ma.fields.String()
    payload = ma.fields.Dict()
    last_status_code = ma.fields.Integer(allow_none=True)
    attempts_log = ma.fields.List(ma.fields.Nested(AttemptSchema))


class WebhookSubscriptionSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    url = ma.fields.String()
    events = ma.fields.List(ma.fields.String())
    active = ma.fields.Boolean()
    created_at = ma.fields.AwareDateTime()
    version = ma.fields.Integer()


class WebhookSubscriptionCreatedSchema(WebhookSubscriptionSchema):
    secret = ma.fields.String(metadata={"description": "shown once, at creation: sign-check deliveries with it"})


class NotificationListArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))
    channel = ma.fields.String()
    request_id = ma.fields.Integer()


class DeliveryListArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))
    subscription_id = ma.fields.Integer()
    event_type = ma.fields.String()


class ResendArgs(ma.Schema):
    version = ma.fields.Integer(load_default=None)


_EVENTS_HELP = "event types, 'part_request.*' or '*': " + ", ".join(EVENT_TYPES)


class WebhookSubscriptionArgs(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    url = ma.fields.String(required=True, validate=ma.validate.Length(max=500))
    events = ma.fields.List(ma.fields.String(), required=True, metadata={"description": _EVENTS_HELP})
    secret = ma.fields.String(validate=ma.validate.Length(min=16, max=200))
    active = ma.fields.Boolean()


class WebhookSubscriptionPatchArgs(ma.Schema):
    version = ma.fields.Integer(required=True)
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=120))
    url = ma.fields.String(validate=ma.validate.Length(max=500))
    events = ma.fields.List(ma.fields.String(), metadata={"description": _EVENTS_HELP})
    secret = ma.fields.String(validate=ma.validate.Length(min=16, max=200))
    active = ma.fields.Boolean()
