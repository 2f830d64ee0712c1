"""Parts over JSON: `XSchema` dumps, `XArgs` loads."""

import marshmallow as ma
from marshmallow import validate

from fieldservice.core.api import PageArgs
from fieldservice.core.fields import Money
from fieldservice.parts import states

_qty = validate.Range(min=1, max=100000)
_text = validate.Length(max=500)


def _page_of(item_schema, name: str) -> type[ma.Schema]:
    """A paginated list of *item_schema*: {items, total, page, per_page}."""
    return type(
        name,
        (ma.Schema,),
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema)),
            "total": ma.fields.Integer(),
            "page": ma.fields.Integer(),
            "per_page": ma.fields.Integer(),
        },
    )


# --- suppliers and parts ---


class SupplierSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    contact = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)
    version = ma.fields.Integer()


class SupplierArgs(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    contact = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=120))
    phone = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    email = ma.fields.Email(load_default=None, allow_none=True)


class SupplierUpdateArgs(SupplierArgs):
    version = ma.fields.Integer(required=True)


class PartSchema(ma.Schema):
    id = ma.fields.Integer()
    part_number = ma.fields.String()
    name = ma.fields.String()
    category = ma.fields.String()
    unit_price = Money()
    serial_tracked = ma.fields.Boolean()
    return_required = ma.fields.Boolean()
    supplier_id = ma.fields.Integer(allow_none=True)
    supplier = ma.fields.Nested(SupplierSchema(only=("id", "name")), allow_none=True)
    supplier_warranty_months = ma.fields.Integer()
    reorder_threshold = ma.fields.Integer()
    product_ids = ma.fields.List(ma.fields.Integer())
    active = ma.fields.Boolean()
    description = ma.fields.String(allow_none=True)
    version = ma.fields.Integer()


def _money(**kwargs) -> Money:
    """An amount in yuan: 0 or more, two places."""
    return Money(validate=validate.Range(min=0, max=9999999999), **kwargs)


class PartArgs(ma.Schema):
    part_number = ma.fields.String(required=True, validate=validate.Length(min=1, max=60))
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    category = ma.fields.String(required=True, validate=validate.Length(min=1, max=80))
    unit_price = _money(required=True)
    serial_tracked = ma.fields.Boolean(load_default=False)
    return_required = ma.fields.Boolean(load_default=True)
    supplier_id = ma.fields.Integer(load_default=None, allow_none=True)
    supplier_warranty_months = ma.fields.Integer(load_default=12, validate=validate.Range(min=0, max=240))
    reorder_threshold = ma.fields.Integer(load_default=0, validate=validate.Range(min=0, max=1000000))
    product_ids = ma.fields.List(ma.fields.Integer(), load_default=list)
    active = ma.fields.Boolean(load_default=True)
    description = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000))


class PartUpdateArgs(PartArgs):
    version = ma.fields.Integer(required=True)


def updatable(schema_class: type[ma.Schema]) -> ma.Schema:
    """An update schema where every field but `version` may be left out (partial: no defaults are filled
    in)."""
    names = tuple(name for name in schema_class._declared_fields if name != "version")
    return schema_class(partial=names)


class PartQueryArgs(PageArgs):
    q = ma.fields.String(load_default="")
    category = ma.fields.String(load_default=None)
    supplier_id = ma.fields.Integer(load_default=None)
    product_id = ma.fields.Integer(load_default=None)
    active = ma.fields.Boolean(load_default=True, allow_none=True)


# --- warehouses, stock, the ledger ---


class WarehouseSchema(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String()
    engineer_id = ma.fields.Integer(allow_none=True)
    zone = ma.fields.String(allow_none=True)
    address = ma.fields.String(allow_none=True)
    active = ma.fields.Boolean()
    version = ma.fields.Integer()


class WarehouseArgs(ma.Schema):
    code = ma.fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,40}$"))
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))
    kind = ma.fields.String(required=True, validate=validate.OneOf(["central", "regional"]))
    zone = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=60))
    address = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=300))


class WarehouseUpdateArgs(ma.Schema):
    version = ma.fields.Integer(required=True)
    name = ma.fields.String(validate=validate.Length(min=1, max=120))
    zone = ma.fields.String(allow_none=True, validate=validate.Length(max=60))
    address = ma.fields.String(allow_none=True, validate=validate.Length(max=300))
    active = ma.fields.Boolean()


class WarehouseQueryArgs(ma.Schema):
    kind = ma.fields.String(load_default=None, validate=validate.OneOf(list(states.LOCATION_KINDS)))
    engineer_id = ma.fields.Integer(load_default=None)


_PART_BRIEF = ("id", "part_number", "name", "category", "serial_tracked", "unit_price")


class StockLevelSchema(ma.Schema):
    warehouse_id = ma.fields.Integer()
    warehouse = ma.fields.Nested(WarehouseSchema(only=("id", "code", "name", "kind")))
    part_id = ma.fields.Integer()
    part = ma.fields.Nested(PartSchema(only=(*_PART_BRIEF, "reorder_threshold")))
    qty = ma.fields.Integer()
    low = ma.fields.Boolean()
    version = ma.fields.Integer()
    updated_at = ma.fields.AwareDateTime()


StockPageSchema = _page_of(StockLevelSchema, "StockPageSchema")


class StockQueryArgs(PageArgs):
    warehouse_id = ma.fields.Integer(load_default=None)
    part_id = ma.fields.Integer(load_default=None)
    q = ma.fields.String(load_default="")
    low = ma.fields.Boolean(load_default=False)
    include_empty = ma.fields.Boolean(load_default=False)


class LowStockSchema(ma.Schema):
    warehouse = ma.fields.Nested(WarehouseSchema(only=("id", "code", "name", "kind")))
    part = ma.fields.Nested(PartSchema(only=_PART_BRIEF))
    qty = ma.fields.Integer()
    threshold = ma.fields.Integer()


class SerialUnitSchema(ma.Schema):
    id = ma.fields.Integer()
    part_id = ma.fields.Integer()
    part = ma.fields.Nested(PartSchema(only=("id", "part_number", "name")))
    serial = ma.fields.String()
    warehouse_id = ma.fields.Integer()
    warehouse = ma.fields.Nested(WarehouseSchema(only=("id", "code", "name", "kind")))
    status = ma.fields.String(metadata={"enum": list(states.SERIAL_STATUS_LABELS)})
    condition = ma.fields.String(metadata={"enum": list(states.CONDITION_LABELS)})
    equipment_id = ma.fields.Integer(allow_none=True)
    version = ma.fields.Integer()


SerialUnitPageSchema = _page_of(SerialUnitSchema, "SerialUnitPageSchema")


class SerialQueryArgs(PageArgs):
    part_id = ma.fields.Integer(load_default=None)
    warehouse_id = ma.fields.Integer(load_default=None)
    q = ma.fields.String(load_default="")


class MovementSchema(ma.Schema):
    id = ma.fields.Integer()
    at = ma.fields.AwareDateTime()
    part_id = ma.fields.Integer()
    part = ma.fields.Nested(PartSchema(only=("id", "part_number", "name")))
    qty = ma.fields.Integer()
    serial = ma.fields.String(allow_none=True)
    reason = ma.fields.String()
    from_warehouse_id = ma.fields.Integer()
    to_warehouse_id = ma.fields.Integer()
    from_warehouse = ma.fields.Nested(WarehouseSchema(only=("id", "code", "name", "kind")))
    to_warehouse = ma.fields.Nested(WarehouseSchema(only=("id", "code", "name", "kind")))
    request_id = ma.fields.Integer(allow_none=True)
    visit_id = ma.fields.Integer(allow_none=True)
    part_request_id = ma.fields.Integer(allow_none=True)
    return_order_id = ma.fields.Integer(allow_none=True)
    actor_id = ma.fields.Integer(allow_none=True)
    actor_label = ma.fields.String()
    note = ma.fields.String(allow_none=True)


MovementPageSchema = _page_of(MovementSchema, "MovementPageSchema")


class MovementQueryArgs(PageArgs):
    part_id = ma.fields.Integer(load_default=None)
    warehouse_id = ma.fields.Integer(load_default=None)
    reason = ma.fields.String(load_default=None, validate=validate.OneOf(list(states.REASONS)))
    serial = ma.fields.String(load_default=None)
    since = ma.fields.AwareDateTime(load_default=None)
    until = ma.fields.AwareDateTime(load_default=None)
    request_id = ma.fields.Integer(load_default=None)
    visit_id = ma.fields.Integer(load_default=None)
    part_request_id = ma.fields.Integer(load_default=None)
    return_order_id = ma.fields.Integer(load_default=None)


class StockLineArgs(ma.Schema):
    part_id = ma.fields.Integer(required=True)
    qty = ma.fields.Integer(required=True, validate=_qty)
    serials = ma.fields.List(ma.fields.String(validate=validate.Length(min=1, max=120)), load_default=list)


class ReceiptArgs(ma.Schema):
    warehouse_id = ma.fields.Integer(required=True)
    lines = ma.fields.List(ma.fields.Nested(StockLineArgs), required=True, validate=validate.Length(min=1, max=200))
    note = ma.fields.String(load_default=None, allow_none=True, validate=_text)


class TransferArgs(ma.Schema):
    from_warehouse_id = ma.fields.Integer(required=True)
    to_warehouse_id = ma.fields.Integer(required=True)
    lines = ma.fields.List(ma.fields.Nested(StockLineArgs), required=True, validate=validate.Length(min=1, max=200))
    note = ma.fields.String(load_default=None, allow_none=True, validate=_text)

    @ma.validates_schema
    def _different(self, data, **kwargs):
        if data.get("from_warehouse_id") == data.get("to_warehouse_id"):
            raise ma.ValidationError("Choose a different warehouse to move stock to.", "to_warehouse_id")


class AdjustmentLineArgs(StockLineArgs):
    qty = ma.fields.Integer(required=True, validate=validate.Range(min=-100000, max=100000))

    @ma.validates("qty")
    def _not_zero(self, value, **kwargs):
        if value == 0:
            raise ma.ValidationError("A difference of 0 changes nothing.")


class AdjustmentArgs(ma.Schema):
    warehouse_id = ma.fields.Integer(required=True)
    lines = ma.fields.List(
        ma.fields.Nested(AdjustmentLineArgs), required=True, validate=validate.Length(min=1, max=200)
    )
    note = ma.fields.String(required=True, validate=validate.Length(min=1, max=500))


class MovementListSchema(ma.Schema):
    movements = ma.fields.List(ma.fields.Nested(MovementSchema))


# --- part requests ---


class PartRequestLineSchema(ma.Schema):
    part_id = ma.fields.Integer()
    part = ma.fields.Nested(PartSchema(only=_PART_BRIEF))
    qty = ma.fields.Integer()


class PartRequestEventSchema(ma.Schema):
    at = ma.fields.AwareDateTime()
    actor_id = ma.fields.Integer(allow_none=True)
    actor = ma.fields.String(attribute="actor_label")
    action = ma.fields.String()
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String()
    note = ma.fields.String(allow_none=True)


class PartRequestSchema(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String()
    status = ma.fields.String()
    requested_by_id = ma.fields.Integer()
    request_id = ma.fields.Integer(allow_none=True)
    target_warehouse_id = ma.fields.Integer()
    target_warehouse = ma.fields.Nested(WarehouseSchema(only=("id", "code", "name", "kind", "engineer_id")))
    source_warehouse_id = ma.fields.Integer(allow_none=True)
    note = ma.fields.String(allow_none=True)
    reject_reason = ma.fields.String(allow_none=True)
    decided_at = ma.fields.AwareDateTime(allow_none=True)
    shipped_at = ma.fields.AwareDateTime(allow_none=True)
    signed_at = ma.fields.AwareDateTime(allow_none=True)
    lines = ma.fields.List(ma.fields.Nested(PartRequestLineSchema))
    version = ma.fields.Integer()
    created_at = ma.fields.AwareDateTime()


PartRequestPageSchema = _page_of(PartRequestSchema, "PartRequestPageSchema")


class PartRequestLineArgs(ma.Schema):
    part_id = ma.fields.Integer(required=True)
    qty = ma.fields.Integer(required=True, validate=_qty)


class PartRequestArgs(ma.Schema):
    lines = ma.fields.List(
        ma.fields.Nested(PartRequestLineArgs), required=True, validate=validate.Length(min=1, max=50)
    )
    request_id = ma.fields.Integer(load_default=None, allow_none=True)
    engineer_id = ma.fields.Integer(load_default=None, allow_none=True)
    target_warehouse_id = ma.fields.Integer(load_default=None, allow_none=True)
    note = ma.fields.String(load_default=None, allow_none=True, validate=_text)


class PartRequestQueryArgs(PageArgs):
    status = ma.fields.String(load_default=None, validate=validate.OneOf(list(states.PART_REQUEST_STATUS_LABELS)))
    request_id = ma.fields.Integer(load_default=None)
    target_warehouse_id = ma.fields.Integer(load_default=None)


class SerialPickArgs(ma.Schema):
    part_id = ma.fields.Integer(required=True)
    serial = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))


class PartRequestActionArgs(ma.Schema):
    """The body of POST /part-requests/<id>/<action>: `version`, and what the action needs."""

    version = ma.fields.Integer(required=True, validate=validate.Range(min=1))
    reason = ma.fields.String(load_default=None, allow_none=True, validate=_text)
    note = ma.fields.String(load_default=None, allow_none=True, validate=_text)
    source_warehouse_id = ma.fields.Integer(load_default=None, allow_none=True)
    serials = ma.fields.List(ma.fields.Nested(SerialPickArgs), load_default=list)


# --- returns and supplier claims ---


class SupplierClaimSchema(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String()
    status = ma.fields.String()
    return_order_id = ma.fields.Integer()
    supplier_id = ma.fields.Integer()
    supplier = ma.fields.Nested(SupplierSchema(only=("id", "name")))
    part_id = ma.fields.Integer()
    part = ma.fields.Nested(PartSchema(only=_PART_BRIEF))
    qty = ma.fields.Integer()
    claimed_amount = Money()
    accepted_amount = Money(allow_none=True)
    reject_reason = ma.fields.String(allow_none=True)
    note = ma.fields.String(allow_none=True)
    decided_at = ma.fields.AwareDateTime(allow_none=True)
    version = ma.fields.Integer()
    created_at = ma.fields.AwareDateTime()


SupplierClaimPageSchema = _page_of(SupplierClaimSchema, "SupplierClaimPageSchema")


class ReturnOrderSchema(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String()
    status = ma.fields.String()
    part_id = ma.fields.Integer()
    part = ma.fields.Nested(PartSchema(only=_PART_BRIEF))
    qty = ma.fields.Integer()
    serial = ma.fields.String(allow_none=True)
    request_id = ma.fields.Integer(allow_none=True)
    visit_id = ma.fields.Integer(allow_none=True)
    equipment_id = ma.fields.Integer(allow_none=True)
    engineer_id = ma.fields.Integer(allow_none=True)
    source_warehouse_id = ma.fields.Integer()
    receiving_warehouse_id = ma.fields.Integer(allow_none=True)
    fault_description = ma.fields.String(allow_none=True)
    removed_at = ma.fields.AwareDateTime()
    installed_on = ma.fields.Date(allow_none=True)
    supplier_warranty_until = ma.fields.Date(allow_none=True)
    in_supplier_warranty = ma.fields.Boolean()
    shipped_at = ma.fields.AwareDateTime(allow_none=True)
    tracking_number = ma.fields.String(allow_none=True)
    received_at = ma.fields.AwareDateTime(allow_none=True)
    inspected_at = ma.fields.AwareDateTime(allow_none=True)
    refurbished_qty = ma.fields.Integer()
    scrapped_qty = ma.fields.Integer()
    inspection_note = ma.fields.String(allow_none=True)
    claim = ma.fields.Nested(SupplierClaimSchema(only=("id", "number", "status")), allow_none=True)
    version = ma.fields.Integer()
    created_at = ma.fields.AwareDateTime()


ReturnOrderPageSchema = _page_of(ReturnOrderSchema, "ReturnOrderPageSchema")


class ReturnOrderArgs(ma.Schema):
    part_id = ma.fields.Integer(required=True)
    qty = ma.fields.Integer(required=True, validate=_qty)
    serial = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=120))
    warehouse_id = ma.fields.Integer(load_default=None, allow_none=True)
    fault_description = ma.fields.String(load_default=None, allow_none=True, validate=_text)


class ReturnQueryArgs(PageArgs):
    status = ma.fields.String(load_default=None, validate=validate.OneOf(list(states.RETURN_STATUS_LABELS)))
    part_id = ma.fields.Integer(load_default=None)
    engineer_id = ma.fields.Integer(load_default=None)
    request_id = ma.fields.Integer(load_default=None)


class ReturnActionArgs(ma.Schema):
    """The body of POST /returns/<id>/<action>: `version`, and what the action needs."""

    version = ma.fields.Integer(required=True, validate=validate.Range(min=1))
    tracking_number = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=80))
    warehouse_id = ma.fields.Integer(load_default=None, allow_none=True)
    refurbished_qty = ma.fields.Integer(load_default=0, validate=validate.Range(min=0))
    scrapped_qty = ma.fields.Integer(load_default=0, validate=validate.Range(min=0))
    note = ma.fields.String(load_default=None, allow_none=True, validate=_text)
    claim = ma.fields.Boolean(load_default=True)
    claim_amount = _money(load_default=None, allow_none=True)


class ClaimArgs(ma.Schema):
    version = ma.fields.Integer(required=True, validate=validate.Range(min=1))
    amount = _money(load_default=None, allow_none=True)
    note = ma.fields.String(load_default=None, allow_none=True, validate=_text)


class ClaimQueryArgs(PageArgs):
    status = ma.fields.String(load_default=None, validate=validate.OneOf(list(states.CLAIM_STATUS_LABELS)))
    supplier_id = ma.fields.Integer(load_default=None)


class ClaimActionArgs(ma.Schema):
    version = ma.fields.Integer(required=True, validate=validate.Range(min=1))
    amount = _money(load_default=None, allow_none=True)
    reason = ma.fields.String(load_default=None, allow_none=True, validate=_text)


# --- the engineer's van (PWA) ---


class VanLineSchema(ma.Schema):
    part = ma.fields.Nested(PartSchema(only=(*_PART_BRIEF, "return_required")))
    qty = ma.fields.Integer()
    serials = ma.fields.List(ma.fields.String())


class VanSchema(ma.Schema):
    warehouse = ma.fields.Nested(WarehouseSchema(only=("id", "code", "name", "kind", "engineer_id")))
    stock = ma.fields.List(ma.fields.Nested(VanLineSchema))
    catalog = ma.fields.List(ma.fields.Nested(PartSchema(only=(*_PART_BRIEF, "return_required", "product_ids"))))
    open_part_requests = ma.fields.List(
        ma.fields.Nested(PartRequestSchema(only=("id", "number", "status", "lines", "version", "request_id")))
    )
    open_returns = ma.fields.List(
        ma.fields.Nested(ReturnOrderSchema(only=("id", "number", "status", "part", "qty", "serial", "version")))
    )
