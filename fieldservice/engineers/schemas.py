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
    # Filled by the handlers from one grouped query (operations.open_load), not per row.
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


class PeriodArgs(ma.Schema):
    """A period of whole days in the site's time zone, both ends included (default: the last 30 days)."""

    from_ = ma.fields.Date(data_key="from", load_default=None, allow_none=True)
    to = ma.fields.Date(load_default=None, allow_none=True)

    @ma.validates_schema
    def _ordered(self, data, **kwargs):
        if data.get("from_") and data.get("to") and data["to"] < data["from_"]:
            raise ma.ValidationError("The period must end on or after its first day.", "to")


class PerformanceSchema(ma.Schema):
    engineer_id = ma.fields.Integer(allow_none=True)
    name = ma.fields.String(allow_none=True)
    jobs = ma.fields.Integer(metadata={"description": "requests logged in the period and owned by the engineer"})
    completed = ma.fields.Integer(metadata={"description": "of those, resolved or revisited"})
    completion_rate = ma.fields.Float(allow_none=True)
    first_time_fixes = ma.fields.Integer(metadata={"description": "completed with one visit"})
    first_time_fix_rate = ma.fields.Float(allow_none=True)
    mean_response_hours = ma.fields.Float(allow_none=True)
    mean_resolution_hours = ma.fields.Float(allow_none=True)
    surveys = ma.fields.Integer()
    satisfaction_rate = ma.fields.Float(allow_none=True, metadata={"description": "share of surveys satisfied"})
    mean_score = ma.fields.Float(allow_none=True, metadata={"description": "mean of the 1-5 survey scores"})


class PeriodSchema(ma.Schema):
    from_ = ma.fields.Date(data_key="from")
    to = ma.fields.Date()


class PerformanceReportSchema(ma.Schema):
    period = ma.fields.Nested(PeriodSchema)
    team = ma.fields.Nested(PerformanceSchema)
    engineers = ma.fields.List(ma.fields.Nested(PerformanceSchema))


class EngineerPerformanceSchema(ma.Schema):
    period = ma.fields.Nested(PeriodSchema)
    engineer = ma.fields.Nested(PerformanceSchema)


class DispatchAutoArgs(ma.Schema):
    request_ids = ma.fields.List(
        ma.fields.Integer(validate=validate.Range(min=1)),
        load_default=None,
        validate=validate.Length(min=1, max=5000),
    )
    dry_run = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "propose only: nothing is assigned (the board's preview)"},
    )


class AssignmentSchema(ma.Schema):
    request_id = ma.fields.Integer()
    engineer_id = ma.fields.Integer()
    reason = ma.fields.String()
    distance_km = ma.fields.Float(allow_none=True)


class UnassignedSchema(ma.Schema):
    request_id = ma.fields.Integer()
    reason = ma.fields.String()
    code = ma.fields.String(
        metadata={
            "description": "locked, not_awaiting, no_skill, on_leave, off_duty, at_cap, unavailable, "
            "taken_in_batch, refused"
        }
    )


class DispatchResultSchema(ma.Schema):
    assignments = ma.fields.List(ma.fields.Nested(AssignmentSchema))
    unassigned = ma.fields.List(ma.fields.Nested(UnassignedSchema))


class SuggestionArgs(ma.Schema):
    limit = ma.fields.Integer(load_default=5, validate=validate.Range(min=1, max=50))


class SuggestionSchema(ma.Schema):
    engineer_id = ma.fields.Integer()
    name = ma.fields.String()
    zone = ma.fields.String(allow_none=True)
    skills = ma.fields.List(ma.fields.String())
    load = ma.fields.Integer()
    max_open_jobs = ma.fields.Integer()
    distance_km = ma.fields.Float(allow_none=True)
    eligible = ma.fields.Boolean()
    reason = ma.fields.String()
