"""Settlement over JSON: repair items, the items of a visit, verification (核销) and engineers' statements."""

import sqlalchemy as sa
from flask import Response, request
from flask_login import current_user

from fieldservice.auth.models import Role
from fieldservice.auth.permissions import require
from fieldservice.core.api import ErrorEnvelope, api_blueprint, page_of
from fieldservice.core.errors import Forbidden, NotFound, ValidationFailed
from fieldservice.core.models import get_or_404
from fieldservice.core.pdf import render_pdf
from fieldservice.engineers.operations import engineer_for_user
from fieldservice.extensions import db
from fieldservice.requests.models import Visit
from fieldservice.requests.operations import get_visible_request
from fieldservice.settlement import claims as claim_ops
from fieldservice.settlement import operations as ops
from fieldservice.settlement.models import RepairItem, Statement
from fieldservice.settlement.permissions import (
    REPAIR_ITEMS_MANAGE,
    REPAIR_ITEMS_READ,
    SETTLEMENT_READ,
    STATEMENTS_MANAGE,
    VERIFY,
    WARRANTY_CLAIMS_MANAGE,
)
from fieldservice.settlement.schemas import (
    BulkApproveArgs,
    BulkApproveSchema,
    ClaimsOverviewArgs,
    ClaimsOverviewSchema,
    CollectClaimsArgs,
    CollectClaimsSchema,
    ManufacturerArgs,
    ManufacturerSchema,
    RepairItemArgs,
    RepairItemQueryArgs,
    RepairItemSchema,
    RepairItemUpdateArgs,
    StatementAdjustmentArgs,
    StatementArgs,
    StatementDetailSchema,
    StatementIssueArgs,
    StatementLineSchema,
    StatementQueryArgs,
    StatementSchema,
    SuggestedItemsArgs,
    VerificationActionArgs,
    VerificationQueryArgs,
    VerificationSchema,
    VisitItemsArgs,
    VisitItemsSchema,
    WarrantyClaimActionArgs,
    WarrantyClaimDetailSchema,
    WarrantyClaimQueryArgs,
    WarrantyClaimSchema,
)

blp = api_blueprint("settlement_api", __name__, "Settlement: repair items, verification (核销), engineers' statements")

_CSV_BODY = {
    "description": "The CSV file: as the body (Content-Type: text/csv) or as a multipart file named `file`; "
    "columns category, code, name_zh, name_en, standard_hours, pricing, fixed_price, reimbursable, active.",
    "required": True,
    "content": {"text/csv": {"schema": {"type": "string"}}},
}


# ---- repair items


@blp.route("/repair-items")
@require(REPAIR_ITEMS_READ)
@blp.arguments(RepairItemQueryArgs, location="query")
@blp.response(200)
def list_repair_items(args):
    """The catalog, by category and code; filter by category, active and text."""
    query = ops.search_repair_items(args["category"], args["active"], args["q"])
    return page_of(query, RepairItemSchema(), args["page"], args["per_page"])


@blp.route("/repair-items/suggested")
@require(REPAIR_ITEMS_READ)
@blp.arguments(SuggestedItemsArgs, location="query")
@blp.response(200, RepairItemSchema(many=True))
def suggested_repair_items(args):
    """The repair items usually done for a fault of the knowledge base (most often recorded with it first)."""
    ids = ops.suggested_items([args["fault_id"]]).get(args["fault_id"], [])
    items = {i.id: i for i in db.session.scalars(sa.select(RepairItem).where(RepairItem.id.in_(ids)))} if ids else {}
    return [items[i] for i in ids if i in items]


@blp.route("/repair-items", methods=["POST"])
@require(REPAIR_ITEMS_MANAGE)
@blp.arguments(RepairItemArgs)
@blp.response(201, RepairItemSchema)
def create_repair_item(args):
    item = ops.create_repair_item(args, current_user)
    db.session.commit()
    return item


@blp.route("/repair-items/<int:item_id>", methods=["PATCH"])
@require(REPAIR_ITEMS_MANAGE)
@blp.arguments(RepairItemUpdateArgs)
@blp.response(200, RepairItemSchema)
def update_repair_item(args, item_id):
    """Change an item (send its `version`); `active: false` deactivates it."""
    item = ops.update_repair_item(get_or_404(RepairItem, item_id, "repair item"), args, current_user)
    db.session.commit()
    return item


@blp.route("/repair-items/export.csv")
@require(REPAIR_ITEMS_MANAGE)
def export_repair_items():
    """The catalog as CSV (UTF-8 with BOM; cells that a spreadsheet would run as formulas are quoted)."""
    items = db.session.scalars(ops.search_repair_items()).all()
    return Response(
        ops.export_csv(items),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=repair-items.csv"},
    )


@blp.route("/repair-items/import", methods=["POST"])
@require(REPAIR_ITEMS_MANAGE)
@blp.doc(requestBody=_CSV_BODY)
@blp.response(200)
@blp.alt_response(422, schema=ErrorEnvelope, description="Each bad line and field named; nothing imported.")
def import_repair_items():
    """Create or update items from CSV, keyed by category and code; all lines or none."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        raw = upload.read() if upload is not None else b""
    else:
        raw = request.get_data()
    if not raw:
        raise ValidationFailed("validation_failed", "Send the CSV file.", {"file": "Send the CSV file."})
    result = ops.import_csv(raw, current_user)
    db.session.commit()
    return result


# ---- the items done on a visit


def _visit(visit_id: int) -> Visit:
    visit = db.session.get(Visit, visit_id)
    if visit is None:
        raise NotFound("not_found", f"No visit with id {visit_id}.")
    get_visible_request(visit.request_id, current_user)
    return visit


def visit_items_view(visit: Visit) -> dict:
    rows = ops.items_of(visit.id)
    verification = ops.verification_of(visit.id)
    return {
        "visit_id": visit.id,
        "items": rows,
        "standard_hours": ops.standard_hours_of(rows),
        "actual_hours": visit.labour_hours,
        "overrun": ops.is_overrun(visit, rows),
        "verification": verification.status if verification is not None else None,
    }


@blp.route("/visits/<int:visit_id>/items")
@require(REPAIR_ITEMS_READ)
@blp.response(200, VisitItemsSchema)
def get_visit_items(visit_id):
    """The repair items done on a visit, its standard and actual hours, and whether it overran."""
    return visit_items_view(_visit(visit_id))


@blp.route("/visits/<int:visit_id>/items", methods=["PUT"])
@require(REPAIR_ITEMS_READ)
@blp.arguments(VisitItemsArgs)
@blp.response(200, VisitItemsSchema)
@blp.alt_response(409, schema=ErrorEnvelope, description="`visit_frozen`: the visit was verified.")
def put_visit_items(args, visit_id):
    """Replace the items of a visit (its engineer, or a manager); 409 `visit_frozen` once verified."""
    visit = _visit(visit_id)
    ops.set_visit_items(visit, args["items"], current_user)
    db.session.commit()
    return visit_items_view(visit)


# ---- verification


def _own_engineer_id() -> int | None:
    """None for managers (they see all); the caller's engineer id for an engineer."""
    if current_user.role in (Role.ADMIN, Role.MANAGER):
        return None
    engineer = engineer_for_user(current_user)
    if engineer is None:
        raise Forbidden("not_an_engineer", "Only an engineer with a profile has verifications.")
    return engineer.id


@blp.route("/verifications")
@require(SETTLEMENT_READ)
@blp.arguments(VerificationQueryArgs, location="query")
@blp.response(200)
def list_verifications(args):
    """The verification queue (pending by default, `status=all` for every one); an engineer sees their own."""
    own = _own_engineer_id()
    status = None if args["status"] == "all" else args["status"]
    query = ops.verification_queue(status, own if own is not None else args["engineer_id"])
    return page_of(query, VerificationSchema(), args["page"], args["per_page"])


@blp.route("/verifications/<int:verification_id>/<any(approve, return, resubmit):action>", methods=["POST"])
@require(SETTLEMENT_READ)
@blp.arguments(VerificationActionArgs)
@blp.response(200, VerificationSchema)
def verification_action(args, verification_id, action):
    """approve or return (with `reason`) a pending visit (manager); resubmit a returned one (its engineer)."""
    verification = ops.get_verification(verification_id)
    verification = ops.perform_verification(verification, action, current_user, args["version"], args["reason"])
    db.session.commit()
    return verification


@blp.route("/verifications/bulk-approve", methods=["POST"])
@require(VERIFY)
@blp.arguments(BulkApproveArgs)
@blp.response(200, BulkApproveSchema)
def bulk_approve(args):
    """Approve the clean ones (items within standard, signed, parts as the van ledger shows); the rest say why."""
    result = ops.bulk_approve(args["ids"], current_user)
    db.session.commit()
    return result


# ---- statements


def _statement(statement_id: int) -> Statement:
    statement = get_or_404(Statement, statement_id, "statement")
    own = _own_engineer_id()
    if own is not None and statement.engineer_id != own:
        raise NotFound("not_found", f"No statement with id {statement_id}.")
    return statement


@blp.route("/statements")
@require(SETTLEMENT_READ)
@blp.arguments(StatementQueryArgs, location="query")
@blp.response(200)
def list_statements(args):
    """Statements by period and engineer, newest first; an engineer sees their own."""
    own = _own_engineer_id()
    query = sa.select(Statement).order_by(Statement.period.desc(), Statement.engineer_id)
    engineer_id = own if own is not None else args["engineer_id"]
    if engineer_id:
        query = query.where(Statement.engineer_id == engineer_id)
    if args["period"]:
        query = query.where(Statement.period == args["period"])
    return page_of(query, StatementSchema(), args["page"], args["per_page"])


@blp.route("/statements", methods=["POST"])
@require(STATEMENTS_MANAGE)
@blp.arguments(StatementArgs)
@blp.response(201, StatementDetailSchema)
def build_statement(args):
    """Make or remake an engineer's draft for a period from the visits verified in it; 409 once issued."""
    statement = ops.build_statement(args["engineer_id"], args["period"], current_user)
    db.session.commit()
    return statement


@blp.route("/statements/<int:statement_id>")
@require(SETTLEMENT_READ)
@blp.response(200, StatementDetailSchema)
def get_statement(statement_id):
    return _statement(statement_id)


@blp.route("/statements/<int:statement_id>/issue", methods=["POST"])
@require(STATEMENTS_MANAGE)
@blp.arguments(StatementIssueArgs)
@blp.response(200, StatementDetailSchema)
def issue_statement(args, statement_id):
    """draft -> issued (numbered, frozen); issuing again answers 409."""
    statement = ops.issue_statement(_statement(statement_id), current_user, args["version"])
    db.session.commit()
    return statement


@blp.route("/statements/<int:statement_id>/adjustments", methods=["POST"])
@require(STATEMENTS_MANAGE)
@blp.arguments(StatementAdjustmentArgs)
@blp.response(201, StatementLineSchema)
def add_adjustment(args, statement_id):
    """A correction of an earlier issued statement, as a line on this later draft."""
    line = ops.add_adjustment(_statement(statement_id), args, current_user)
    db.session.commit()
    return line


@blp.route("/statements/<int:statement_id>.csv")
@require(SETTLEMENT_READ)
def statement_csv(statement_id):
    statement = _statement(statement_id)
    return Response(
        ops.statement_csv(statement),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=statement-{statement.id}.csv"},
    )


@blp.route("/statements/<int:statement_id>.pdf")
@require(SETTLEMENT_READ)
def statement_pdf(statement_id):
    statement = _statement(statement_id)
    pdf = render_pdf("settlement/statement_pdf.html", statement=statement)
    return Response(pdf, mimetype="application/pdf")


# ---- warranty claims to the manufacturer (二次索赔)


@blp.route("/warranty-claims")
@require(WARRANTY_CLAIMS_MANAGE)
@blp.arguments(WarrantyClaimQueryArgs, location="query")
@blp.response(200)
def list_warranty_claims(args):
    """Claims to manufacturers, newest period first; filter by supplier, period and status."""
    query = claim_ops.search_claims(args["supplier_id"], args["period"], args["status"])
    return page_of(query, WarrantyClaimSchema(), args["page"], args["per_page"])


@blp.route("/warranty-claims/collect", methods=["POST"])
@require(WARRANTY_CLAIMS_MANAGE)
@blp.arguments(CollectClaimsArgs)
@blp.response(200, CollectClaimsSchema)
def collect_warranty_claims(args):
    """Put the visits verified in `period` under the manufacturer's warranty into each manufacturer's draft claim
    (one supplier with `supplier_id`); a visit already in a claim is never collected again."""
    touched = claim_ops.collect_claims(args["period"], current_user, args["supplier_id"])
    db.session.commit()
    return {"claims": touched}


@blp.route("/warranty-claims/overview")
@require(WARRANTY_CLAIMS_MANAGE)
@blp.arguments(ClaimsOverviewArgs, location="query")
@blp.response(200, ClaimsOverviewSchema)
def warranty_claims_overview(args):
    """The manufacturers' warranty claims and the suppliers' claims for returned parts together, with the
    acceptance rate of each supplier over its decided claims."""
    return {"claims": claim_ops.all_claims(args["supplier_id"]), "by_supplier": claim_ops.acceptance_by_supplier()}


@blp.route("/warranty-claims/<int:claim_id>")
@require(WARRANTY_CLAIMS_MANAGE)
@blp.response(200, WarrantyClaimDetailSchema)
def get_warranty_claim(claim_id):
    return claim_ops.get_claim(claim_id)


CLAIM_STEP = "<any(submit, cancel, accept, reject, 'accept-part'):action>"


@blp.route(f"/warranty-claims/<int:claim_id>/{CLAIM_STEP}", methods=["POST"])
@require(WARRANTY_CLAIMS_MANAGE)
@blp.arguments(WarrantyClaimActionArgs)
@blp.response(200, WarrantyClaimDetailSchema)
def warranty_claim_action(args, claim_id, action):
    """submit or cancel a draft; record the manufacturer's answer to a submitted claim: accept (in full),
    accept-part (`lines`: each line accepted for less, with its amount and reason; the others in full) or reject
    (with `reason`). A stale `version` answers 409."""
    claim = claim_ops.perform_claim(
        claim_ops.get_claim(claim_id),
        action.replace("-", "_"),
        current_user,
        args["version"],
        args["reason"],
        args["lines"],
    )
    db.session.commit()
    return claim


@blp.route("/warranty-claims/<int:claim_id>.csv")
@require(WARRANTY_CLAIMS_MANAGE)
def warranty_claim_csv(claim_id):
    claim = claim_ops.get_claim(claim_id)
    return Response(
        claim_ops.claim_csv(claim),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=claim-{claim.number}.csv"},
    )


@blp.route("/warranty-claims/<int:claim_id>.pdf")
@require(WARRANTY_CLAIMS_MANAGE)
def warranty_claim_pdf(claim_id):
    claim = claim_ops.get_claim(claim_id)
    pdf = render_pdf("settlement/claim_pdf.html", claim=claim, figures=claim_ops.reconcile(claim))
    return Response(pdf, mimetype="application/pdf")


@blp.route("/products/<int:product_id>/manufacturer", methods=["PUT"])
@require(WARRANTY_CLAIMS_MANAGE)
@blp.arguments(ManufacturerArgs)
@blp.response(200, ManufacturerSchema)
def set_manufacturer(args, product_id):
    """Name the supplier that makes a product (its warranty work is claimed from it), or none (`null`)."""
    claim_ops.set_manufacturer(product_id, args["supplier_id"], current_user)
    db.session.commit()
    return {"product_id": product_id, "supplier_id": args["supplier_id"]}
