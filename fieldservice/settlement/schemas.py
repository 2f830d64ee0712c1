"""What the settlement API reads and writes: repair items, a visit's items, verifications and statements."""

import marshmallow as ma
from marshmallow import validate

from fieldservice.core.api import PageArgs
from fieldservice.core.fields import DecimalString, Money
from fieldservice.settlement.models import PRICINGS, VERIFICATION_STATES


class RepairItemSchema(ma.Schema):
    id = ma.fields.Integer()
    category = ma.fields.String()
    code = ma.fields.String()
    name_zh = ma.fields.String()
    name_en = ma.fields.String()
    standard_hours = DecimalString()
    pricing = ma.fields.String()
    fixed_price = Money(allow_none=True)
    reimbursable = ma.fields.Boolean()
    active = ma.fields.Boolean()
    version = ma.fields.Integer()


class RepairItemArgs(ma.Schema):
    """Checked field by field here; the rules across fields (a fixed price, a free code) in the operation."""

    category = ma.fields.String(required=True, validate=validate.Length(min=1, max=80))
    code = ma.fields.String(required=True, validate=validate.Length(min=1, max=40))
    name_zh = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    name_en = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    standard_hours = DecimalString(required=True, places=2, validate=validate.Range(min=0, max=1000))
    pricing = ma.fields.String(load_default="hourly", validate=validate.OneOf(PRICINGS))
    fixed_price = Money(load_default=None, allow_none=True, validate=validate.Range(min=0, max=10_000_000))
    reimbursable = ma.fields.Boolean(load_default=False)
    active = ma.fields.Boolean()


class RepairItemUpdateArgs(ma.Schema):
    """Only what is sent changes; no defaults here, so a field left out keeps its value."""

    version = ma.fields.Integer(required=True, validate=validate.Range(min=1))
    category = ma.fields.String(validate=validate.Length(min=1, max=80))
    code = ma.fields.String(validate=validate.Length(min=1, max=40))
    name_zh = ma.fields.String(validate=validate.Length(min=1, max=200))
    name_en = ma.fields.String(validate=validate.Length(min=1, max=200))
    standard_hours = DecimalString(places=2, validate=validate.Range(min=0, max=1000))
    pricing = ma.fields.String(validate=validate.OneOf(PRICINGS))
    fixed_price = Money(allow_none=True, validate=validate.Range(min=0, max=10_000_000))
    reimbursable = ma.fields.Boolean()
    active = ma.fields.Boolean()


class RepairItemQueryArgs(PageArgs):
    category = ma.fields.String(load_default=None)
    active = ma.fields.Boolean(load_default=None, allow_none=True)
    q = ma.fields.String(load_default="", validate=validate.Length(max=100))


class VisitItemLineArgs(ma.Schema):
    repair_item_id = ma.fields.Integer(required=True)
    quantity = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=100))


class VisitItemsArgs(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(VisitItemLineArgs), required=True, validate=validate.Length(max=50))


class VisitItemSchema(ma.Schema):
    repair_item_id = ma.fields.Integer()
    code = ma.fields.String(attribute="item.code")
    name_zh = ma.fields.String(attribute="item.name_zh")
    name_en = ma.fields.String(attribute="item.name_en")
    quantity = ma.fields.Integer()
    standard_hours = DecimalString()
    pricing = ma.fields.String()
    fixed_price = Money(allow_none=True)


class VisitItemsSchema(ma.Schema):
    visit_id = ma.fields.Integer()
    items = ma.fields.List(ma.fields.Nested(VisitItemSchema))
    standard_hours = DecimalString()
    actual_hours = DecimalString()
    overrun = ma.fields.Boolean()
    verification = ma.fields.String(allow_none=True)


class VerificationSchema(ma.Schema):
    id = ma.fields.Integer()
    visit_id = ma.fields.Integer()
    request_id = ma.fields.Integer()
    request_number = ma.fields.String(attribute="visit.request.number")
    engineer_id = ma.fields.Integer()
    status = ma.fields.String()
    overrun = ma.fields.Boolean()
    reason = ma.fields.String(allow_none=True)
    rounds = ma.fields.Integer()
    submitted_at = ma.fields.AwareDateTime()
    decided_at = ma.fields.AwareDateTime(allow_none=True)
    version = ma.fields.Integer()


class VerificationQueryArgs(PageArgs):
    status = ma.fields.String(load_default="pending", validate=validate.OneOf([*VERIFICATION_STATES, "all"]))
    engineer_id = ma.fields.Integer(load_default=None)


class VerificationActionArgs(ma.Schema):
    version = ma.fields.Integer(required=True, validate=validate.Range(min=1))
    reason = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class BulkApproveArgs(ma.Schema):
    ids = ma.fields.List(ma.fields.Integer(), required=True, validate=validate.Length(min=1, max=500))


class BulkApproveSchema(ma.Schema):
    approved = ma.fields.List(ma.fields.Integer())
    skipped = ma.fields.List(ma.fields.Dict())


PERIOD = validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="A month as YYYY-MM.")


class StatementArgs(ma.Schema):
    engineer_id = ma.fields.Integer(required=True)
    period = ma.fields.String(required=True, validate=PERIOD)


class StatementQueryArgs(PageArgs):
    period = ma.fields.String(load_default=None, validate=PERIOD)
    engineer_id = ma.fields.Integer(load_default=None)


class StatementIssueArgs(ma.Schema):
    version = ma.fields.Integer(required=True, validate=validate.Range(min=1))


class StatementAdjustmentArgs(ma.Schema):
    version = ma.fields.Integer(load_default=None, validate=validate.Range(min=1))
    corrects_id = ma.fields.Integer(required=True)
    amount = Money(required=True, validate=validate.Range(min=-10_000_000, max=10_000_000))
    note = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))


class StatementLineSchema(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    visit_id = ma.fields.Integer(allow_none=True)
    corrects_id = ma.fields.Integer(allow_none=True)
    request_number = ma.fields.String(allow_none=True)
    items = ma.fields.String(allow_none=True)
    standard_hours = DecimalString()
    actual_hours = DecimalString()
    labour_amount = Money()
    parts_amount = Money()
    costs_amount = Money()
    amount = Money()
    note = ma.fields.String(allow_none=True)


class StatementSchema(ma.Schema):
    id = ma.fields.Integer()
    engineer_id = ma.fields.Integer()
    period = ma.fields.String()
    status = ma.fields.String()
    number = ma.fields.String(allow_none=True)
    visits = ma.fields.Integer()
    standard_hours = DecimalString()
    actual_hours = DecimalString()
    labour_amount = Money()
    parts_amount = Money()
    costs_amount = Money()
    adjustments_amount = Money()
    total = Money()
    issued_at = ma.fields.AwareDateTime(allow_none=True)
    version = ma.fields.Integer()


class StatementDetailSchema(StatementSchema):
    lines = ma.fields.List(ma.fields.Nested(StatementLineSchema))


# ---- warranty claims to the manufacturer (二次索赔)

CLAIM_ACTIONS = ("submit", "cancel", "accept", "accept-part", "reject")


class WarrantyClaimLineSchema(ma.Schema):
    id = ma.fields.Integer()
    visit_id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"description": "item (a reimbursable repair item) or part"})
    request_number = ma.fields.String()
    equipment_serial = ma.fields.String(allow_none=True)
    code = ma.fields.String()
    name_zh = ma.fields.String()
    name_en = ma.fields.String()
    quantity = ma.fields.Integer()
    hours = DecimalString()
    old_serial = ma.fields.String(allow_none=True)
    new_serial = ma.fields.String(allow_none=True)
    amount = Money()
    accepted_amount = Money(allow_none=True)
    reason = ma.fields.String(allow_none=True)


class WarrantyClaimSchema(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String()
    supplier_id = ma.fields.Integer()
    period = ma.fields.String()
    status = ma.fields.String(
        metadata={"description": "draft, submitted, accepted, partly_accepted, rejected, cancelled"}
    )
    claimed_amount = Money()
    accepted_amount = Money(allow_none=True)
    reason = ma.fields.String(allow_none=True)
    submitted_at = ma.fields.AwareDateTime(allow_none=True)
    decided_at = ma.fields.AwareDateTime(allow_none=True)
    version = ma.fields.Integer()


class ReconciliationSchema(ma.Schema):
    claimed = Money()
    accepted = Money(allow_none=True)
    written_off = Money(allow_none=True)
    lines = ma.fields.Integer()
    lines_reduced = ma.fields.Integer()
    balanced = ma.fields.Boolean()


class WarrantyClaimDetailSchema(WarrantyClaimSchema):
    lines = ma.fields.List(ma.fields.Nested(WarrantyClaimLineSchema))
    reconciliation = ma.fields.Method("_reconciliation")

    def _reconciliation(self, claim):
        from fieldservice.settlement.claims import reconcile

        return ReconciliationSchema().dump(reconcile(claim))


class WarrantyClaimQueryArgs(PageArgs):
    supplier_id = ma.fields.Integer(load_default=None)
    period = ma.fields.String(load_default=None, validate=PERIOD)
    status = ma.fields.String(
        load_default=None,
        validate=validate.OneOf(("draft", "submitted", "accepted", "partly_accepted", "rejected", "cancelled")),
    )


class CollectClaimsArgs(ma.Schema):
    period = ma.fields.String(required=True, validate=PERIOD)
    supplier_id = ma.fields.Integer(load_default=None, allow_none=True)


class CollectClaimsSchema(ma.Schema):
    claims = ma.fields.List(ma.fields.Nested(WarrantyClaimSchema))


class WarrantyClaimLineDecisionArgs(ma.Schema):
    line_id = ma.fields.Integer(required=True)
    accepted_amount = Money(required=True, validate=validate.Range(min=0, max=10_000_000))
    reason = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class WarrantyClaimActionArgs(ma.Schema):
    version = ma.fields.Integer(required=True, validate=validate.Range(min=1))
    reason = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    lines = ma.fields.List(
        ma.fields.Nested(WarrantyClaimLineDecisionArgs),
        load_default=list,
        validate=validate.Length(max=2000),
        metadata={"description": "accept-part: the lines accepted for less, each with its accepted amount and why"},
    )


class ManufacturerArgs(ma.Schema):
    supplier_id = ma.fields.Integer(required=True, allow_none=True)


class ManufacturerSchema(ma.Schema):
    product_id = ma.fields.Integer()
    supplier_id = ma.fields.Integer(allow_none=True)


class ClaimOverviewSchema(ma.Schema):
    kind = ma.fields.String(metadata={"description": "warranty (this package) or part (a returned part's claim)"})
    id = ma.fields.Integer()
    number = ma.fields.String()
    supplier_id = ma.fields.Integer()
    supplier = ma.fields.String()
    period = ma.fields.String()
    status = ma.fields.String()
    claimed_amount = Money()
    accepted_amount = Money(allow_none=True)


class SupplierAcceptanceSchema(ma.Schema):
    supplier_id = ma.fields.Integer()
    supplier = ma.fields.String()
    claims = ma.fields.Integer()
    claimed = Money()
    accepted = Money()
    rate = DecimalString(allow_none=True)


class ClaimsOverviewSchema(ma.Schema):
    claims = ma.fields.List(ma.fields.Nested(ClaimOverviewSchema))
    by_supplier = ma.fields.List(ma.fields.Nested(SupplierAcceptanceSchema))


class ClaimsOverviewArgs(ma.Schema):
    supplier_id = ma.fields.Integer(load_default=None)


class SuggestedItemsArgs(ma.Schema):
    fault_id = ma.fields.Integer(required=True, metadata={"description": "a knowledge entry (a visit's fault_id)"})
