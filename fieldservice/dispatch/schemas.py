from datetime import date

import marshmallow as ma
from marshmallow import validate

# A period's ends become UTC times: 0001-01-01 at midnight in the site's zone is before year 1 in UTC.
_period_day = validate.Range(min=date(1900, 1, 1), max=date(2999, 12, 31))


class PeriodArgs(ma.Schema):
    """A period of whole days in the site's time zone, both ends included (default: the last 30 days)."""

    from_ = ma.fields.Date(data_key="from", load_default=None, allow_none=True, validate=_period_day)
    to = ma.fields.Date(load_default=None, allow_none=True, validate=_period_day)

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
    window = ma.fields.Nested(
        "WindowSchema",
        allow_none=True,
        metadata={"description": "the engineer's first free window proposed for the visit (the reason names it)"},
    )


class WindowSchema(ma.Schema):
    start = ma.fields.String()
    end = ma.fields.String()


class UnassignedSchema(ma.Schema):
    request_id = ma.fields.Integer()
    reason = ma.fields.String()
    code = ma.fields.String(
        metadata={
            "description": "locked, not_awaiting, no_skill, on_leave, off_duty, booked_up, at_cap, unavailable, "
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
    window = ma.fields.Nested(WindowSchema, allow_none=True)
