import re

import marshmallow as ma
from marshmallow import validate

from fieldservice.core.api import PageArgs
from fieldservice.core.fields import DecimalString
from fieldservice.engineers.skills import category_label


class SolutionSchema(ma.Schema):
    id = ma.fields.Integer()
    summary = ma.fields.String()
    steps = ma.fields.List(ma.fields.String())
    parts = ma.fields.String(allow_none=True)
    estimated_hours = ma.fields.Float(allow_none=True)
    uses = ma.fields.Integer()
    successes = ma.fields.Integer()
    success_rate = ma.fields.Float()


class CauseSchema(ma.Schema):
    id = ma.fields.Integer()
    description = ma.fields.String()
    solutions = ma.fields.List(ma.fields.Nested(SolutionSchema))


class EntryProductSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    model = ma.fields.String()
    category = ma.fields.String()


class EntrySchema(ma.Schema):
    id = ma.fields.Integer()
    product_id = ma.fields.Integer(allow_none=True)
    product = ma.fields.Nested(EntryProductSchema, allow_none=True)
    category = ma.fields.String()
    category_label = ma.fields.Function(lambda e: category_label(e.category))
    symptom = ma.fields.String()
    fault_code = ma.fields.String(allow_none=True)
    status = ma.fields.String()
    causes = ma.fields.List(ma.fields.Nested(CauseSchema))
    uses = ma.fields.Integer()
    successes = ma.fields.Integer()
    success_rate = ma.fields.Float()
    version = ma.fields.Integer()
    created_at = ma.fields.AwareDateTime()
    updated_at = ma.fields.AwareDateTime()
    published_at = ma.fields.AwareDateTime(allow_none=True)


class EntryHitSchema(EntrySchema):
    score = ma.fields.Float(allow_none=True, metadata={"description": "Search rank; null when browsing."})


class EntryPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(EntryHitSchema))
    total = ma.fields.Integer()
    limit = ma.fields.Integer()
    offset = ma.fields.Integer()


class SolutionArgs(ma.Schema):
    id = ma.fields.Integer(load_default=None, allow_none=True)
    summary = ma.fields.String(required=True, validate=validate.Length(min=1, max=300))
    steps = ma.fields.List(
        ma.fields.String(validate=validate.Length(min=1, max=500)),
        load_default=list,
        validate=validate.Length(max=30),
    )
    parts = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))
    estimated_hours = DecimalString(
        load_default=None, allow_none=True, places=2, validate=validate.Range(min=0, max=999)
    )


class CauseArgs(ma.Schema):
    id = ma.fields.Integer(load_default=None, allow_none=True)
    description = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))
    solutions = ma.fields.List(ma.fields.Nested(SolutionArgs), load_default=list, validate=validate.Length(max=20))


class EntryArgs(ma.Schema):
    product_id = ma.fields.Integer(load_default=None, allow_none=True)
    category = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=80))
    symptom = ma.fields.String(required=True, validate=validate.Length(min=1, max=300))
    fault_code = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    status = ma.fields.String(load_default="draft", validate=validate.OneOf(["draft", "published"]))
    causes = ma.fields.List(ma.fields.Nested(CauseArgs), required=True, validate=validate.Length(min=1, max=20))


class EntryUpdateArgs(ma.Schema):
    """Only the fields sent change; `version` is the one the editor started from."""

    version = ma.fields.Integer(required=True, validate=validate.Range(min=1))
    product_id = ma.fields.Integer(allow_none=True)
    category = ma.fields.String(validate=validate.Length(min=1, max=80))
    symptom = ma.fields.String(validate=validate.Length(min=1, max=300))
    fault_code = ma.fields.String(allow_none=True, validate=validate.Length(max=40))
    causes = ma.fields.List(ma.fields.Nested(CauseArgs), validate=validate.Length(min=1, max=20))


class EntryQueryArgs(ma.Schema):
    q = ma.fields.String(load_default="", validate=validate.Length(max=500))
    product_id = ma.fields.Integer(load_default=None)
    category = ma.fields.String(load_default=None)
    status = ma.fields.String(load_default=None, validate=validate.OneOf(["draft", "published", "archived"]))
    limit = ma.fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    offset = ma.fields.Integer(load_default=0, validate=validate.Range(min=0))


class RevisionSchema(ma.Schema):
    version = ma.fields.Integer()
    content = ma.fields.Dict()
    saved_by = ma.fields.Function(lambda r: r.saved_by.username if r.saved_by else None)
    saved_at = ma.fields.AwareDateTime()
    note = ma.fields.String(allow_none=True)


class CommaList(ma.fields.Field):
    """A comma-separated query parameter ("a,b") as a list of non-empty strings."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ma.ValidationError("Give a comma-separated list.")
        return [part.strip() for part in value.split(",") if part.strip()]


class QueryDateTime(ma.fields.AwareDateTime):
    """An ISO time in a query string, where an unencoded "+08:00" arrives as " 08:00"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = re.sub(r" (\d\d:?\d\d)$", r"+\1", value)
        return super()._deserialize(value, attr, data, **kwargs)


class OfflineArgs(ma.Schema):
    categories = CommaList(load_default=None, metadata={"description": "Default: the engineer's skills."})
    since = QueryDateTime(load_default=None, metadata={"description": "The cursor of the previous call."})


class OfflineSchema(ma.Schema):
    entries = ma.fields.List(ma.fields.Nested(EntrySchema))
    removed = ma.fields.List(ma.fields.Integer())
    cursor = ma.fields.AwareDateTime()


class ProposalSchema(ma.Schema):
    id = ma.fields.Integer()
    request_id = ma.fields.Integer(allow_none=True)
    product_id = ma.fields.Integer(allow_none=True)
    category = ma.fields.String()
    symptom = ma.fields.String()
    fault_code = ma.fields.String(allow_none=True)
    cause = ma.fields.String()
    solution = ma.fields.String()
    status = ma.fields.String()
    proposed_by = ma.fields.Function(lambda p: p.proposed_by.username)
    reviewed_by = ma.fields.Function(lambda p: p.reviewed_by.username if p.reviewed_by else None)
    reviewed_at = ma.fields.AwareDateTime(allow_none=True)
    reject_reason = ma.fields.String(allow_none=True)
    entry_id = ma.fields.Integer(allow_none=True)
    version = ma.fields.Integer()
    created_at = ma.fields.AwareDateTime()


class ProposalArgs(ma.Schema):
    request_id = ma.fields.Integer(load_default=None, allow_none=True)
    product_id = ma.fields.Integer(load_default=None, allow_none=True)
    category = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=80))
    symptom = ma.fields.String(required=True, validate=validate.Length(min=1, max=300))
    fault_code = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    cause = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))
    solution = ma.fields.String(required=True, validate=validate.Length(min=1, max=4000))


class ProposalUpdateArgs(ma.Schema):
    version = ma.fields.Integer(required=True, validate=validate.Range(min=1))
    product_id = ma.fields.Integer(allow_none=True)
    category = ma.fields.String(validate=validate.Length(min=1, max=80))
    symptom = ma.fields.String(validate=validate.Length(min=1, max=300))
    fault_code = ma.fields.String(allow_none=True, validate=validate.Length(max=40))
    cause = ma.fields.String(validate=validate.Length(min=1, max=2000))
    solution = ma.fields.String(validate=validate.Length(min=1, max=4000))


class ProposalQueryArgs(PageArgs):
    status = ma.fields.String(load_default=None, validate=validate.OneOf(["pending", "published", "rejected"]))


class ProposalPublishArgs(ma.Schema):
    version = ma.fields.Integer(required=True, validate=validate.Range(min=1))
    entry_id = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        metadata={"description": "Add to this entry instead of a new one."},
    )


class ProposalRejectArgs(ma.Schema):
    version = ma.fields.Integer(required=True, validate=validate.Range(min=1))
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=500))
