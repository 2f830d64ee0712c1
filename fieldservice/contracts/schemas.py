import marshmallow as ma
from marshmallow import validate

from fieldservice.contracts.models import CHARGING_METHODS, SERVICE_ITEMS
from fieldservice.core.api import PageArgs
from fieldservice.core.clock import local_date
from fieldservice.core.fields import Money
from fieldservice.core.models import utcnow

AGREEMENT_STATUSES = ("upcoming", "active", "expiring", "expired")

_hours = validate.Range(min=1, max=24 * 366)
_money = validate.Range(min=0, max=10_000_000)


def _items():
    return ma.fields.List(
        ma.fields.String(validate=validate.OneOf(SERVICE_ITEMS)),
        validate=validate.Length(max=len(SERVICE_ITEMS)),
    )


def _check_hours_and_period(data: dict) -> None:
    errors = {}
    response, resolution = data.get("response_hours"), data.get("resolution_hours")
    if response is not None and resolution is not None and resolution < response:
        errors["resolution_hours"] = ["Resolution time cannot be shorter than response time."]
    starts, ends = data.get("starts_on"), data.get("ends_on")
    if starts is not None and ends is not None and ends < starts:
        errors["ends_on"] = ["The agreement cannot end before it starts."]
    if errors:
        raise ma.ValidationError(errors)


class TermsSchema(ma.Schema):
    """The commercial terms an agreement type sets and an agreement copies (and may override)."""

    id = ma.fields.Integer()
    name = ma.fields.String()
    response_hours = ma.fields.Integer()
    resolution_hours = ma.fields.Integer()
    terms = ma.fields.String()
    service_items = ma.fields.List(ma.fields.String())
    charging_method = ma.fields.String()
    labour_rate = Money()
    visit_fee = Money()
    maintenance_cycle_months = ma.fields.Integer(allow_none=True)
    version = ma.fields.Integer()


class AgreementTypeSchema(TermsSchema):
    code = ma.fields.String()
    active = ma.fields.Boolean()


class AgreementTypeArgs(ma.Schema):
    code = ma.fields.String(
        required=True, validate=validate.Regexp(r"^[a-z0-9_-]{1,40}$", error="Use a-z, 0-9, _ or -.")
    )
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))
    response_hours = ma.fields.Integer(required=True, validate=_hours)
    resolution_hours = ma.fields.Integer(required=True, validate=_hours)
    terms = ma.fields.String(load_default="", validate=validate.Length(max=20000))
    service_items = _items()
    charging_method = ma.fields.String(required=True, validate=validate.OneOf(CHARGING_METHODS))
    labour_rate = Money(load_default=0, validate=_money)
    visit_fee = Money(load_default=0, validate=_money)
    maintenance_cycle_months = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1, 60))
    active = ma.fields.Boolean(load_default=True)

    @ma.validates_schema
    def _cross_fields(self, data, **kwargs):
        _check_hours_and_period(data)


class AgreementTypeUpdateArgs(AgreementTypeArgs):
    version = ma.fields.Integer(required=True)


class AgreementEquipmentSchema(ma.Schema):
    id = ma.fields.Integer()
    serial_number = ma.fields.String()
    product_id = ma.fields.Integer()
    warranty_until = ma.fields.Date(allow_none=True)


class AgreementSchema(TermsSchema):
    number = ma.fields.String()
    customer_id = ma.fields.Integer()
    customer_name = ma.fields.Function(lambda a: a.customer.name)
    type_id = ma.fields.Integer(allow_none=True)
    status = ma.fields.Function(lambda a: a.status_on(local_date(utcnow())))
    starts_on = ma.fields.Date()
    ends_on = ma.fields.Date()
    maintenance_lead_days = ma.fields.Integer()
    equipment_ids = ma.fields.Function(lambda a: [e.id for e in a.equipment])
    equipment = ma.fields.List(ma.fields.Nested(AgreementEquipmentSchema))
    covers_all_equipment = ma.fields.Boolean()
    renewed_from_id = ma.fields.Integer(allow_none=True)
    renewal_id = ma.fields.Function(lambda a: a.renewal.id if a.renewal else None)
    created_at = ma.fields.AwareDateTime()
    updated_at = ma.fields.AwareDateTime()


class AgreementArgs(ma.Schema):
    """API.md's POST /contracts fields, plus the optional commercial terms (taken from `type_id` when left out)."""

    customer_id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))
    response_hours = ma.fields.Integer(required=True, validate=_hours)
    resolution_hours = ma.fields.Integer(required=True, validate=_hours)
    starts_on = ma.fields.Date(required=True)
    ends_on = ma.fields.Date(required=True)
    charging_method = ma.fields.String(required=True, validate=validate.OneOf(CHARGING_METHODS))
    service_items = _items()
    equipment_ids = ma.fields.List(ma.fields.Integer(), validate=validate.Length(max=500))
    type_id = ma.fields.Integer(allow_none=True)
    terms = ma.fields.String(validate=validate.Length(max=20000))
    labour_rate = Money(validate=_money)
    visit_fee = Money(validate=_money)
    maintenance_cycle_months = ma.fields.Integer(allow_none=True, validate=validate.Range(1, 60))
    maintenance_lead_days = ma.fields.Integer(validate=validate.Range(0, 60))

    @ma.validates_schema
    def _cross_fields(self, data, **kwargs):
        _check_hours_and_period(data)


class AgreementUpdateArgs(AgreementArgs):
    """Every field optional (partial load); `version` required; the customer does not change."""

    version = ma.fields.Integer(required=True)

    class Meta:
        exclude = ("customer_id", "type_id")


class RenewArgs(ma.Schema):
    version = ma.fields.Integer(required=True)
    starts_on = ma.fields.Date()
    ends_on = ma.fields.Date()
    response_hours = ma.fields.Integer(validate=_hours)
    resolution_hours = ma.fields.Integer(validate=_hours)
    charging_method = ma.fields.String(validate=validate.OneOf(CHARGING_METHODS))
    labour_rate = Money(validate=_money)
    visit_fee = Money(validate=_money)

    @ma.validates_schema
    def _cross_fields(self, data, **kwargs):
        _check_hours_and_period(data)


class AgreementQueryArgs(PageArgs):
    customer_id = ma.fields.Integer()
    status = ma.fields.String(validate=validate.OneOf(AGREEMENT_STATUSES))
    q = ma.fields.String(load_default="")


class CoverageQueryArgs(ma.Schema):
    customer_id = ma.fields.Integer(required=True)
    equipment_id = ma.fields.Integer(load_default=None, allow_none=True)
    at = ma.fields.AwareDateTime(load_default=None, allow_none=True)


class CoverageSchema(ma.Schema):
    kind = ma.fields.String()
    agreement_id = ma.fields.Integer(allow_none=True)
    label = ma.fields.String()
    response_hours = ma.fields.Integer(allow_none=True)
    resolution_hours = ma.fields.Integer(allow_none=True)
    charging_method = ma.fields.String()
