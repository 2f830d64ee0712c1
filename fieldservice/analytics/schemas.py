"""The dashboard's filter arguments (query string) and its JSON shapes."""

import marshmallow as ma

from fieldservice.analytics.filters import Filters


class FilterArgs(ma.Schema):
    since = ma.fields.Date(load_default=None)
    until = ma.fields.Date(load_default=None)
    zone = ma.fields.String(load_default=None, validate=ma.validate.Length(max=60))
    category = ma.fields.String(load_default=None, validate=ma.validate.Length(max=80))

    @ma.validates_schema
    def _range(self, data, **_):
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise ma.ValidationError("The start date is after the end date.", "until")

    @ma.post_load
    def _filters(self, data, **_) -> Filters:
        return Filters(**{k: (v or None) for k, v in data.items()})


class ColumnSchema(ma.Schema):
    key = ma.fields.String()
    label = ma.fields.String()


class TableSchema(ma.Schema):
    name = ma.fields.String()
    title = ma.fields.String()
    columns = ma.fields.List(ma.fields.Nested(ColumnSchema))
    rows = ma.fields.List(ma.fields.Dict())
    chart = ma.fields.String(allow_none=True)


class KpiSchema(ma.Schema):
    key = ma.fields.String()
    label = ma.fields.String()
    value = ma.fields.Float(allow_none=True)
    unit = ma.fields.String()
    target = ma.fields.Float(allow_none=True)
    op = ma.fields.String(metadata={"description": "how value compares with target to meet it: >= or <="})
    met = ma.fields.Boolean(allow_none=True)


class DashboardSchema(ma.Schema):
    filters = ma.fields.Dict()
    totals = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    self_service_share = ma.fields.Float(
        allow_none=True, metadata={"description": "% of the requests logged by customers from their units' QR labels"}
    )
    kpis = ma.fields.List(ma.fields.Nested(KpiSchema))
    by_status = ma.fields.List(ma.fields.Dict())
    complaints_available = ma.fields.Boolean()
    as_of = ma.fields.DateTime(
        metadata={"description": "when the figures were counted (the rollups refresh every minute)"}
    )
    tables = ma.fields.List(ma.fields.Nested(TableSchema))
