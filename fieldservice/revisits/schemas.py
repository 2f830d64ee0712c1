"""Dump schemas (XSchema) and load schemas (XArgs) of the callback desk's API."""

import marshmallow as ma
from marshmallow import validate

from fieldservice.core.api import PageArgs
from fieldservice.revisits.operations import ATTEMPT_REASONS


class CallbackCustomerContactSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    phone = ma.fields.String()
    address = ma.fields.String()


class CallbackRatingSchema(ma.Schema):
    score = ma.fields.Integer()
    comment = ma.fields.String(allow_none=True)
    at = ma.fields.AwareDateTime()


class CallbackQueueEntrySchema(ma.Schema):
    request_id = ma.fields.Integer()
    number = ma.fields.String()
    version = ma.fields.Integer()
    resolved_at = ma.fields.AwareDateTime()
    callback_due = ma.fields.AwareDateTime()
    overdue = ma.fields.Boolean()
    attempts = ma.fields.Integer()
    max_attempts = ma.fields.Integer()
    last_attempt_at = ma.fields.AwareDateTime(allow_none=True)
    customer = ma.fields.Nested(CallbackCustomerContactSchema)
    contact_name = ma.fields.String(allow_none=True)
    contact_phone = ma.fields.String(allow_none=True)
    engineer_name = ma.fields.String(allow_none=True)
    rating = ma.fields.Nested(CallbackRatingSchema, allow_none=True)


class CallbackQueueArgs(PageArgs):
    q = ma.fields.String(load_default=None)
    overdue = ma.fields.Boolean(load_default=None)


class CallbackAttemptArgs(ma.Schema):
    version = ma.fields.Integer(load_default=None, validate=validate.Range(min=1))
    reason = ma.fields.String(required=True, validate=validate.OneOf(ATTEMPT_REASONS))
    note = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class CallbackAttemptSchema(ma.Schema):
    id = ma.fields.Integer()
    request_id = ma.fields.Integer()
    reason = ma.fields.String()
    note = ma.fields.String(allow_none=True)
    at = ma.fields.AwareDateTime()
    by = ma.fields.Function(lambda a: a.by.display_name if a.by else None)


class CallbackAttemptResultSchema(ma.Schema):
    attempt = ma.fields.Nested(CallbackAttemptSchema)
    attempts = ma.fields.Integer()
    max_attempts = ma.fields.Integer()
    request_status = ma.fields.String()
    request_version = ma.fields.Integer()
    unreachable = ma.fields.Boolean()


class CallbackUnreachableSchema(ma.Schema):
    request_id = ma.fields.Integer()
    number = ma.fields.Function(lambda c: c.request.number)
    attempts = ma.fields.Integer()
    at = ma.fields.AwareDateTime()
    by = ma.fields.Function(lambda c: c.by.display_name if c.by else None)


class FollowUpSchema(ma.Schema):
    id = ma.fields.Integer()
    version = ma.fields.Integer()
    request_id = ma.fields.Integer()
    number = ma.fields.Function(lambda f: f.request.number)
    survey_id = ma.fields.Integer()
    low_scores = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    comment = ma.fields.Function(lambda f: f.survey.comment)
    satisfied = ma.fields.Function(lambda f: f.survey.satisfied)
    status = ma.fields.String()
    outcome = ma.fields.String(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    done_at = ma.fields.AwareDateTime(allow_none=True)
    done_by = ma.fields.Function(lambda f: f.done_by.display_name if f.done_by else None)


class FollowUpQueryArgs(PageArgs):
    status = ma.fields.String(load_default="open", validate=validate.OneOf(("open", "done", "all")))


class FollowUpCloseArgs(ma.Schema):
    version = ma.fields.Integer(required=True, validate=validate.Range(min=1))
    outcome = ma.fields.String(required=True, validate=validate.Length(min=1, max=4000))


class SatisfactionArgs(ma.Schema):
    by = ma.fields.String(required=True, validate=validate.OneOf(("engineer", "product", "month")))
    start = ma.fields.AwareDateTime(load_default=None)
    end = ma.fields.AwareDateTime(load_default=None)


class SatisfactionRowSchema(ma.Schema):
    key = ma.fields.Raw(allow_none=True)
    surveys = ma.fields.Integer()
    satisfied = ma.fields.Integer()
    satisfaction = ma.fields.Float(allow_none=True)
    timeliness = ma.fields.Float(allow_none=True)
    attitude = ma.fields.Float(allow_none=True)
    quality = ma.fields.Float(allow_none=True)


class SatisfactionSchema(ma.Schema):
    by = ma.fields.String()
    rows = ma.fields.Nested(SatisfactionRowSchema, many=True)
    unreachable = ma.fields.Integer()
