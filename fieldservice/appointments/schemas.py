"""What the appointments API reads (XArgs) and writes (XSchema)."""

import datetime as dt

import marshmallow as ma
from marshmallow import validate

from fieldservice.requests.schemas import ServiceRequestDetailSchema, SiteDateTime


class AppointmentArgs(ma.Schema):
    version = ma.fields.Integer(required=True, validate=validate.Range(min=1))
    start = SiteDateTime(required=True)
    end = SiteDateTime(required=True)
    engineer_id = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))
    reason = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))
    note = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class WarningSchema(ma.Schema):
    code = ma.fields.String()
    message = ma.fields.String()


class BookedRequestSchema(ServiceRequestDetailSchema):
    # Booked all the same, but worth a look: the window ends after the request's due times.
    warnings = ma.fields.List(ma.fields.Nested(WarningSchema))


class ScheduleArgs(ma.Schema):
    # A day the site's calendar can hold: year 1 or 9999 overflows once moved to UTC and across the days asked.
    date = ma.fields.Date(required=True, validate=validate.Range(min=dt.date(1900, 1, 1), max=dt.date(2999, 12, 31)))
    days = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=7))
    zone = ma.fields.String(load_default=None, validate=validate.Length(max=60))
    skill = ma.fields.String(load_default=None, validate=validate.Length(max=80))


class BoardBookArgs(ma.Schema):
    """The schedule board's drop: the request, the version the board read, the engineer's row, the site-time
    window on one day, and the reason when a booked window moves."""

    request_id = ma.fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    version = ma.fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    engineer_id = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=2**31 - 1))
    date = ma.fields.Date(required=True, validate=validate.Range(min=dt.date(1900, 1, 2), max=dt.date(2999, 12, 30)))
    start = ma.fields.Time(required=True)
    end = ma.fields.Time(required=True)
    reason = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))
