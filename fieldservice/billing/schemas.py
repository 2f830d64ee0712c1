"""What the billing API reads and writes: charges of a request and invoices."""

import marshmallow as ma
from marshmallow import validate

from fieldservice.billing.models import INVOICE_STATES
from fieldservice.core.api import PageArgs
from fieldservice.core.fields import DecimalString, Money


class ChargeLineSchema(ma.Schema):
    label = ma.fields.String()
    qty = DecimalString()
    unit_price = Money()
    amount = Money()
    covered_amount = Money()


class ChargesSchema(ma.Schema):
    visit_id = ma.fields.Integer()
    charging_method = ma.fields.String()
    coverage_label = ma.fields.String(allow_none=True)
    lines = ma.fields.List(ma.fields.Nested(ChargeLineSchema))
    total = Money()
    covered = Money()
    customer_amount = Money()


class RequestChargesSchema(ma.Schema):
    request_id = ma.fields.Integer()
    visits = ma.fields.List(ma.fields.Nested(ChargesSchema))
    total = Money()
    covered = Money()
    customer_amount = Money()


class InvoiceSchema(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String(allow_none=True)
    request_id = ma.fields.Integer()
    customer_id = ma.fields.Integer()
    customer_name = ma.fields.Function(lambda i: i.customer.name)
    status = ma.fields.String()
    title = ma.fields.String()
    tax_id = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)
    amount = Money()
    note = ma.fields.String(allow_none=True)
    requested_at = ma.fields.AwareDateTime()
    requested_by_id = ma.fields.Integer(allow_none=True)
    issued_at = ma.fields.AwareDateTime(allow_none=True)
    issued_by_id = ma.fields.Integer(allow_none=True)
    version = ma.fields.Integer()


class InvoiceArgs(ma.Schema):
    request_id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    # 统一社会信用代码: 15-20 letters and digits.
    tax_id = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^[0-9A-Za-z]{15,20}$", error="Not a tax id."),
    )
    email = ma.fields.Email(load_default=None, allow_none=True)
    note = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class InvoiceActionArgs(ma.Schema):
    version = ma.fields.Integer(required=True)
    reason = ma.fields.String(validate=validate.Length(min=1, max=500))


class InvoiceQueryArgs(PageArgs):
    status = ma.fields.String(validate=validate.OneOf(INVOICE_STATES))
    customer_id = ma.fields.Integer()
