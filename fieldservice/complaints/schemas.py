"""Dump schemas (XSchema) and load schemas (XArgs) of the complaints API."""

import marshmallow as ma
from marshmallow import validate

from fieldservice.complaints.states import ACTION_KINDS, CHANNELS, SEVERITIES, STATUSES, TYPES, action_note
from fieldservice.core.api import PageArgs
from fieldservice.core.states import event_actor


def _name(attr):
    return ma.fields.Function(lambda c: getattr(getattr(c, attr), "display_name", None) if getattr(c, attr) else None)


class ComplaintArgs(ma.Schema):
    channel = ma.fields.String(load_default="phone", validate=validate.OneOf(tuple(CHANNELS)))
    kind = ma.fields.String(required=True, validate=validate.OneOf(tuple(TYPES)))
    severity = ma.fields.String(required=True, validate=validate.OneOf(tuple(SEVERITIES)))
    summary = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = ma.fields.String(required=True, validate=validate.Length(min=1, max=10000))
    customer_id = ma.fields.Integer(load_default=None, allow_none=True)
    contact_name = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=120))
    contact_phone = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    request_id = ma.fields.Integer(load_default=None, allow_none=True)
    engineer_id = ma.fields.Integer(load_default=None, allow_none=True)
    part_id = ma.fields.Integer(load_default=None, allow_none=True)
    handler_id = ma.fields.Integer(load_default=None, allow_none=True)


class ComplaintQueryArgs(PageArgs):
    status = ma.fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    kind = ma.fields.String(load_default=None, validate=validate.OneOf(tuple(TYPES)))
    severity = ma.fields.String(load_default=None, validate=validate.OneOf(tuple(SEVERITIES)))
    escalated = ma.fields.Boolean(load_default=None)
    handler_id = ma.fields.Integer(load_default=None)
    customer_id = ma.fields.Integer(load_default=None)
    q = ma.fields.String(load_default=None)


class ComplaintActionArgs(ma.Schema):
    version = ma.fields.Integer(required=True, validate=validate.Range(min=1))


class ComplaintAssignArgs(ComplaintActionArgs):
    handler_id = ma.fields.Integer(required=True)
    note = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class ComplaintNoteArgs(ComplaintActionArgs):
    note = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class ComplaintActArgs(ComplaintActionArgs):
    kind = ma.fields.String(required=True, validate=validate.OneOf(tuple(ACTION_KINDS)))
    note = ma.fields.String(required=True, validate=validate.Length(min=1, max=4000))


class ComplaintCloseArgs(ComplaintActionArgs):
    outcome = ma.fields.String(required=True, validate=validate.Length(min=1, max=4000))
    customer_feedback = ma.fields.String(required=True, validate=validate.Length(min=1, max=4000))
    customer_satisfied = ma.fields.Boolean(load_default=None, allow_none=True)


class ComplaintReopenArgs(ComplaintActionArgs):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))


ACTION_ARGS: dict[str, type[ComplaintActionArgs]] = {
    "assign": ComplaintAssignArgs,
    "start": ComplaintNoteArgs,
    "act": ComplaintActArgs,
    "close": ComplaintCloseArgs,
    "reopen": ComplaintReopenArgs,
}


class ComplaintActionSchema(ma.Schema):
    id = ma.fields.Integer()
    at = ma.fields.AwareDateTime()
    actor = ma.fields.Function(event_actor)
    action = ma.fields.String()
    kind = ma.fields.String(allow_none=True)
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String(allow_none=True)
    note = ma.fields.Function(action_note, allow_none=True)


class ComplaintSchema(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String()
    version = ma.fields.Integer()
    status = ma.fields.String()
    channel = ma.fields.String()
    kind = ma.fields.String()
    severity = ma.fields.String()
    summary = ma.fields.String()
    description = ma.fields.String()
    customer_id = ma.fields.Integer(allow_none=True)
    customer_name = ma.fields.Function(lambda c: c.customer.name if c.customer else None)
    contact_name = ma.fields.String(allow_none=True)
    contact_phone = ma.fields.String(allow_none=True)
    request_id = ma.fields.Integer(allow_none=True)
    engineer_id = ma.fields.Integer(allow_none=True)
    part_id = ma.fields.Integer(allow_none=True)
    handler_id = ma.fields.Integer(allow_none=True)
    handler_name = _name("handler")
    due_at = ma.fields.AwareDateTime()
    escalated = ma.fields.Boolean()
    escalated_at = ma.fields.AwareDateTime(allow_none=True)
    outcome = ma.fields.String(allow_none=True)
    customer_feedback = ma.fields.String(allow_none=True)
    customer_satisfied = ma.fields.Boolean(allow_none=True)
    closed_at = ma.fields.AwareDateTime(allow_none=True)
    created_at = ma.fields.AwareDateTime()


class ComplaintDetailSchema(ComplaintSchema):
    actions = ma.fields.List(ma.fields.String(), attribute="allowed")
    timeline = ma.fields.Nested(ComplaintActionSchema, many=True, attribute="actions")


class ComplaintSummarySchema(ma.Schema):
    by_type = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    by_severity = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    by_status = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    escalated_open = ma.fields.Integer()
