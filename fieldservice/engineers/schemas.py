import marshmallow as ma
from marshmallow import validate

from fieldservice.core.api import PageArgs

_category = ma.fields.String(validate=validate.Length(min=1, max=80))
_work_days = ma.fields.List(
    ma.fields.Integer(validate=validate.Range(min=1, max=7)),
    validate=validate.Length(min=1, max=7),
    metadata={"description": "ISO weekdays worked, 1 = Monday"},
)


class LeaveSchema(ma.Schema):
    id = ma.fields.Integer()
    engineer_id = ma.fields.Integer()
    starts_at = ma.fields.AwareDateTime()
    ends_at = ma.fields.AwareDateTime()
    reason = ma.fields.String(allow_none=True)


class EngineerSchema(ma.Schema):
    id = ma.fields.Integer()
    user_id = ma.fields.Integer()
    username = ma.fields.Function(lambda e: e.user.username)
    name = ma.fields.String()
    phone = ma.fields.String(allow_none=True)
    skills = ma.fields.List(ma.fields.String(), attribute="skill_categories")
    zone = ma.fields.String(allow_none=True)
    lat = ma.fields.Float(allow_none=True)
    lng = ma.fields.Float(allow_none=True)
    max_open_jobs = ma.fields.Integer()
    work_start = ma.fields.Time()
    work_end = ma.fields.Time()
    work_days = ma.fields.Function(lambda e: sorted(e.weekdays))
    active = ma.fields.Boolean()
    # Filled by the handlers from one grouped query (operations.current_loads), not per row.
    load = ma.fields.Integer(metadata={"description": "open jobs held now (assigned or locked)"})
    leaves = ma.fields.List(ma.fields.Nested(LeaveSchema))
    version = ma.fields.Integer()


class EngineerPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(EngineerSchema))
    total = ma.fields.Integer()
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()


class EngineerArgs(ma.Schema):
    username = ma.fields.String(required=True, validate=validate.Length(min=1, max=80))
    password = ma.fields.String(required=True, validate=validate.Length(min=8, max=200))
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))
    skills = ma.fields.List(_category, required=True, validate=validate.Length(max=30))
    phone = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    zone = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=60))
    lat = ma.fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-90, max=90))
    lng = ma.fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-180, max=180))
    max_open_jobs = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=50))
    work_start = ma.fields.Time(load_default=None, allow_none=True)
    work_end = ma.fields.Time(load_default=None, allow_none=True)
    work_days = _work_days


class EngineerUpdateArgs(ma.Schema):
    """Only the fields sent change; `version` is required."""

    version = ma.fields.Integer(required=True)
    name = ma.fields.String(validate=validate.Length(min=1, max=120))
    phone = ma.fields.String(allow_none=True, validate=validate.Length(max=40))
    skills = ma.fields.List(_category, validate=validate.Length(max=30))
    zone = ma.fields.String(allow_none=True, validate=validate.Length(max=60))
    lat = ma.fields.Float(allow_none=True, validate=validate.Range(min=-90, max=90))
    lng = ma.fields.Float(allow_none=True, validate=validate.Range(min=-180, max=180))
    max_open_jobs = ma.fields.Integer(validate=validate.Range(min=1, max=50))
    work_start = ma.fields.Time()
    work_end = ma.fields.Time()
    work_days = _work_days
    active = ma.fields.Boolean()


class EngineerQueryArgs(PageArgs):
    zone = ma.fields.String(load_default=None)
    skill = ma.fields.String(load_default=None)
    active = ma.fields.Boolean(load_default=None, allow_none=True)
    q = ma.fields.String(load_default="")


class LeaveArgs(ma.Schema):
    starts_at = ma.fields.AwareDateTime(required=True)
    ends_at = ma.fields.AwareDateTime(required=True)
    reason = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))

    @ma.validates_schema
    def _ends_after_start(self, data, **kwargs):
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            raise ma.ValidationError("The leave must end after it starts.", "ends_at")
