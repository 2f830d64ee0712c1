"""Parts over JSON: catalog, suppliers, warehouses, stock and the ledger, part requests, returns, supplier
claims, and the engineer's van for the PWA."""

import sqlalchemy as sa
from flask_login import current_user

import fieldservice.parts.visits  # noqa: F401  (connects the visit_recorded subscriber)
from fieldservice.auth.permissions import require
from fieldservice.core.api import PageArgs, api_blueprint
from fieldservice.core.errors import Forbidden
from fieldservice.core.models import get_or_404
from fieldservice.extensions import db
from fieldservice.parts import catalog as catalog_ops
from fieldservice.parts import claims as claims_ops
from fieldservice.parts import part_requests as pr_ops
from fieldservice.parts import returns as returns_ops
from fieldservice.parts import states
from fieldservice.parts import stock as stock_ops
from fieldservice.parts.models import Part, PartRequest, ReturnOrder, Supplier, SupplierClaim, Warehouse
from fieldservice.parts.permissions import (
    CLAIMS_HANDLE,
    CLAIMS_READ,
    PART_REQUESTS_APPLY,
    PARTS_READ,
    PARTS_WRITE,
    RETURNS_OPEN,
    RETURNS_READ,
    STOCK_MOVE,
    STOCK_READ,
    VAN_READ,
)
from fieldservice.parts.schemas import (
    AdjustmentArgs,
    ClaimActionArgs,
    ClaimArgs,
    ClaimQueryArgs,
    LowStockSchema,
    MovementListSchema,
    MovementPageSchema,
    MovementQueryArgs,
    PartArgs,
    PartQueryArgs,
    PartRequestActionArgs,
    PartRequestArgs,
    PartRequestEventSchema,
    PartRequestPageSchema,
    PartRequestQueryArgs,
    PartRequestSchema,
    PartSchema,
    PartUpdateArgs,
    ReceiptArgs,
    ReturnActionArgs,
    ReturnOrderArgs,
    ReturnOrderPageSchema,
    ReturnOrderSchema,
    ReturnQueryArgs,
    SerialQueryArgs,
    SerialUnitPageSchema,
    StockPageSchema,
    StockQueryArgs,
    SupplierArgs,
    SupplierClaimPageSchema,
    SupplierClaimSchema,
    SupplierSchema,
    SupplierUpdateArgs,
    TransferArgs,
    VanSchema,
    WarehouseArgs,
    WarehouseQueryArgs,
    WarehouseSchema,
    WarehouseUpdateArgs,
    _page_of,
    updatable,
)

blp = api_blueprint(
    "parts_api",
    __name__,
    "Spare parts: catalog, warehouses and vans, stock movements, part requests, "
    "faulty-part returns and supplier claims",
)


def paged(query, page: int, per_page: int) -> dict:
    """One page of ORM rows for a page schema to dump: {items, total, page, per_page}."""
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
    items = db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return {"items": items, "total": total, "page": page, "per_page": per_page}


# --- suppliers ---

SupplierPageSchema = _page_of(SupplierSchema, "SupplierPageSchema")


@blp.route("/suppliers")
@require(PARTS_READ)
@blp.arguments(PageArgs, location="query")
@blp.response(200, SupplierPageSchema)
def list_suppliers(args):
    return paged(sa.select(Supplier).order_by(Supplier.name), args["page"], args["per_page"])


@blp.route("/suppliers", methods=["POST"])
@require(PARTS_WRITE)
@blp.arguments(SupplierArgs)
@blp.response(201, SupplierSchema)
def create_supplier(args):
    supplier = catalog_ops.create_supplier(args, current_user)
    db.session.commit()
    return supplier


@blp.route("/suppliers/<int:supplier_id>")
@require(PARTS_READ)
@blp.response(200, SupplierSchema)
def get_supplier(supplier_id):
    return get_or_404(Supplier, supplier_id, "supplier")


@blp.route("/suppliers/<int:supplier_id>", methods=["PATCH"])
@require(PARTS_WRITE)
@blp.arguments(updatable(SupplierUpdateArgs))
@blp.response(200, SupplierSchema)
def update_supplier(args, supplier_id):
    supplier = catalog_ops.update_supplier(get_or_404(Supplier, supplier_id, "supplier"), args, current_user)
    db.session.commit()
    return supplier


# --- the catalog ---

PartPageSchema = _page_of(PartSchema, "PartPageSchema")


@blp.route("/parts")
@require(PARTS_READ)
@blp.arguments(PartQueryArgs, location="query")
@blp.response(200, PartPageSchema)
def list_parts(args):
    """The part catalog, searched by part number or name, by category, supplier or compatible product."""
    query = catalog_ops.search_parts(
        args["q"], args["category"], args["supplier_id"], args["product_id"], args["active"]
    )
    return paged(query, args["page"], args["per_page"])


@blp.route("/parts", methods=["POST"])
@require(PARTS_WRITE)
@blp.arguments(PartArgs)
@blp.response(201, PartSchema)
def create_part(args):
    part = catalog_ops.create_part(args, current_user)
    db.session.commit()
    return part


@blp.route("/parts/<int:part_id>")
@require(PARTS_READ)
@blp.response(200, PartSchema)
def get_part(part_id):
    return get_or_404(Part, part_id, "part")


@blp.route("/parts/<int:part_id>", methods=["PATCH"])
@require(PARTS_WRITE)
@blp.arguments(updatable(PartUpdateArgs))
@blp.response(200, PartSchema)
def update_part(args, part_id):
    part = catalog_ops.update_part(get_or_404(Part, part_id, "part"), args, current_user)
    db.session.commit()
    return part


# --- warehouses and stock ---


@blp.route("/warehouses")
@require(STOCK_READ)
@blp.arguments(WarehouseQueryArgs, location="query")
@blp.response(200, WarehouseSchema(many=True))
def list_warehouses(args):
    """Every location: central and regional warehouses, vans, and the virtual ones (transit, returns...)."""
    query = sa.select(Warehouse).order_by(Warehouse.kind, Warehouse.name)
    if args["kind"]:
        query = query.where(Warehouse.kind == args["kind"])
    if args["engineer_id"]:
        query = query.where(Warehouse.engineer_id == args["engineer_id"])
    return db.session.scalars(query).all()


@blp.route("/warehouses", methods=["POST"])
@require(STOCK_MOVE)
@blp.arguments(WarehouseArgs)
@blp.response(201, WarehouseSchema)
def create_warehouse(args):
    warehouse = stock_ops.create_warehouse(args, current_user)
    db.session.commit()
    return warehouse


@blp.route("/warehouses/<int:warehouse_id>")
@require(STOCK_READ)
@blp.response(200, WarehouseSchema)
def get_warehouse(warehouse_id):
    return get_or_404(Warehouse, warehouse_id, "warehouse")


@blp.route("/warehouses/<int:warehouse_id>", methods=["PATCH"])
@require(STOCK_MOVE)
@blp.arguments(WarehouseUpdateArgs)
@blp.response(200, WarehouseSchema)
def update_warehouse(args, warehouse_id):
    warehouse = stock_ops.update_warehouse(get_or_404(Warehouse, warehouse_id, "warehouse"), args, current_user)
    db.session.commit()
    return warehouse


@blp.route("/warehouses/<int:warehouse_id>/stock")
@require(STOCK_READ)
@blp.arguments(StockQueryArgs, location="query")
@blp.response(200, StockPageSchema)
def warehouse_stock(args, warehouse_id):
    warehouse = get_or_404(Warehouse, warehouse_id, "warehouse")
    query = stock_ops.stock_levels(
        warehouse.id,
        args["part_id"],
        kinds=[warehouse.kind],
        low_only=args["low"],
        q=args["q"],
        include_empty=args["include_empty"],
    )
    return paged(query, args["page"], args["per_page"])


@blp.route("/stock")
@require(STOCK_READ)
@blp.arguments(StockQueryArgs, location="query")
@blp.response(200, StockPageSchema)
def list_stock(args):
    """Stock levels in warehouses and vans; `low=true` keeps those at or under the part's reorder
    threshold."""
    query = stock_ops.stock_levels(
        args["warehouse_id"],
        args["part_id"],
        low_only=args["low"],
        q=args["q"],
        include_empty=args["include_empty"],
    )
    return paged(query, args["page"], args["per_page"])


@blp.route("/stock/low")
@require(STOCK_READ)
@blp.response(200, LowStockSchema(many=True))
def list_low_stock():
    """Low-stock alerts: active parts at or under their reorder threshold in central and regional
    warehouses."""
    return stock_ops.low_stock()


@blp.route("/stock/movements")
@require(STOCK_READ)
@blp.arguments(MovementQueryArgs, location="query")
@blp.response(200, MovementPageSchema)
def list_movements(args):
    """The movement ledger, newest first."""
    return paged(stock_ops.movements(args), args["page"], args["per_page"])


@blp.route("/stock/serials")
@require(STOCK_READ)
@blp.arguments(SerialQueryArgs, location="query")
@blp.response(200, SerialUnitPageSchema)
def list_serials(args):
    """Each serial-tracked unit's whereabouts: a warehouse or van, in transit, installed, returned or
    scrapped."""
    return paged(
        stock_ops.serial_units(args["part_id"], args["warehouse_id"], args["q"]), args["page"], args["per_page"]
    )


@blp.route("/stock/receipts", methods=["POST"])
@require(STOCK_MOVE)
@blp.arguments(ReceiptArgs)
@blp.response(201, MovementListSchema)
def receive_stock(args):
    """Goods in from a supplier (serial-tracked parts name one serial per unit)."""
    movements = stock_ops.receive_stock(args, current_user)
    db.session.commit()
    return {"movements": movements}


@blp.route("/stock/transfers", methods=["POST"])
@require(STOCK_MOVE)
@blp.arguments(TransferArgs)
@blp.response(201, MovementListSchema)
def transfer_stock(args):
    movements = stock_ops.transfer_stock(args, current_user)
    db.session.commit()
    return {"movements": movements}


@blp.route("/stock/adjustments", methods=["POST"])
@require(STOCK_MOVE)
@blp.arguments(AdjustmentArgs)
@blp.response(201, MovementListSchema)
def adjust_stock(args):
    """A stocktake correction: per line a signed difference (+ found, - missing) and one note saying why."""
    movements = stock_ops.adjust_stock(args, current_user)
    db.session.commit()
    return {"movements": movements}


# --- part requests ---


def _part_request(part_request_id: int) -> PartRequest:
    part_request = get_or_404(PartRequest, part_request_id, "part request")
    if not pr_ops.can_see_part_request(current_user, part_request):
        raise Forbidden("not_yours", "This part request is not yours.")
    return part_request


@blp.route("/part-requests")
@require(PART_REQUESTS_APPLY)
@blp.arguments(PartRequestQueryArgs, location="query")
@blp.response(200, PartRequestPageSchema)
def list_part_requests(args):
    """Part requests the caller may see (an engineer: their own and those for their van), newest first."""
    query = pr_ops.visible_part_requests(current_user)
    if args["status"]:
        query = query.where(PartRequest.status == args["status"])
    if args["request_id"]:
        query = query.where(PartRequest.request_id == args["request_id"])
    if args["target_warehouse_id"]:
        query = query.where(PartRequest.target_warehouse_id == args["target_warehouse_id"])
    return paged(query, args["page"], args["per_page"])


@blp.route("/part-requests", methods=["POST"])
@require(PART_REQUESTS_APPLY)
@blp.arguments(PartRequestArgs)
@blp.response(201, PartRequestSchema)
def apply_part_request(args):
    """Apply for parts: an engineer for their own van; a dispatcher or manager names the engineer or warehouse
    (or links a service request, whose engineer's van is then the target)."""
    part_request = pr_ops.apply_part_request(args, current_user)
    db.session.commit()
    return part_request


@blp.route("/part-requests/<int:part_request_id>")
@require(PART_REQUESTS_APPLY)
@blp.response(200, PartRequestSchema)
def get_part_request(part_request_id):
    return _part_request(part_request_id)


@blp.route("/part-requests/<int:part_request_id>/events")
@require(PART_REQUESTS_APPLY)
@blp.response(200, PartRequestEventSchema(many=True))
def part_request_events(part_request_id):
    return _part_request(part_request_id).events


@blp.route("/part-requests/<int:part_request_id>/<any(approve,reject,ship,sign,cancel):action>", methods=["POST"])
@require(PART_REQUESTS_APPLY)
@blp.arguments(PartRequestActionArgs)
@blp.response(200, PartRequestSchema)
def part_request_action(args, part_request_id, action):
    """approve (manager) · reject {reason} (manager) · ship {source_warehouse_id?, serials?}
    (manager/admin: the
    warehouse) · sign (the engineer whose van receives) · cancel {reason?} (the applicant or a manager)."""
    part_request = _part_request(part_request_id)
    version = args.pop("version")
    pr_ops.perform_part_request(part_request, action, current_user, version, **args)
    db.session.commit()
    return part_request


# --- returns and supplier claims ---


def _return(return_id: int) -> ReturnOrder:
    order = get_or_404(ReturnOrder, return_id, "return")
    if not returns_ops.can_see_return(current_user, order):
        raise Forbidden("not_yours", "This return is not yours.")
    return order


@blp.route("/returns")
@require(RETURNS_READ)
@blp.arguments(ReturnQueryArgs, location="query")
@blp.response(200, ReturnOrderPageSchema)
def list_returns(args):
    """Faulty-part returns the caller may see (an engineer: those they hold), newest first."""
    query = returns_ops.visible_returns(current_user)
    for name in ("status", "part_id", "engineer_id", "request_id"):
        if args[name]:
            query = query.where(getattr(ReturnOrder, name) == args[name])
    return paged(query, args["page"], args["per_page"])


@blp.route("/returns", methods=["POST"])
@require(RETURNS_OPEN)
@blp.arguments(ReturnOrderArgs)
@blp.response(201, ReturnOrderSchema)
def open_return(args):
    """Return a faulty unit found in a warehouse or van (parts removed on a visit open their return by
    themselves)."""
    order = returns_ops.open_return(args, current_user)
    db.session.commit()
    return order


@blp.route("/returns/<int:return_id>")
@require(RETURNS_READ)
@blp.response(200, ReturnOrderSchema)
def get_return(return_id):
    return _return(return_id)


@blp.route("/returns/<int:return_id>/<any(ship,receive,inspect):action>", methods=["POST"])
@require(RETURNS_READ)
@blp.arguments(ReturnActionArgs)
@blp.response(200, ReturnOrderSchema)
def return_action(args, return_id, action):
    """ship {tracking_number?} (the engineer holding it, or a manager) · receive {warehouse_id?} · inspect
    {refurbished_qty, scrapped_qty, note?, claim?, claim_amount?} (managers/admins: the warehouse). Inspection
    opens the supplier claim by itself when the part failed inside the supplier's warranty."""
    order = _return(return_id)
    version = args.pop("version")
    returns_ops.perform_return(order, action, current_user, version, **args)
    db.session.commit()
    return order


@blp.route("/returns/<int:return_id>/claim", methods=["POST"])
@require(CLAIMS_HANDLE)
@blp.arguments(ClaimArgs)
@blp.response(201, SupplierClaimSchema)
def submit_claim(args, return_id):
    """Claim against the supplier for an inspected return (when inspection did not claim already)."""
    claim = claims_ops.submit_claim(_return(return_id), current_user, args["version"], args["amount"], args["note"])
    db.session.commit()
    return claim


@blp.route("/supplier-claims")
@require(CLAIMS_READ)
@blp.arguments(ClaimQueryArgs, location="query")
@blp.response(200, SupplierClaimPageSchema)
def list_claims(args):
    query = sa.select(SupplierClaim).order_by(SupplierClaim.id.desc())
    if args["status"]:
        query = query.where(SupplierClaim.status == args["status"])
    if args["supplier_id"]:
        query = query.where(SupplierClaim.supplier_id == args["supplier_id"])
    return paged(query, args["page"], args["per_page"])


@blp.route("/supplier-claims/<int:claim_id>")
@require(CLAIMS_READ)
@blp.response(200, SupplierClaimSchema)
def get_claim(claim_id):
    return get_or_404(SupplierClaim, claim_id, "supplier claim")


@blp.route("/supplier-claims/<int:claim_id>/<any(accept,reject):action>", methods=["POST"])
@require(CLAIMS_HANDLE)
@blp.arguments(ClaimActionArgs)
@blp.response(200, SupplierClaimSchema)
def claim_action(args, claim_id, action):
    """The supplier's answer: accept {amount} or reject {reason}."""
    claim = get_or_404(SupplierClaim, claim_id, "supplier claim")
    claims_ops.perform_claim(claim, action, current_user, args["version"], amount=args["amount"], reason=args["reason"])
    db.session.commit()
    return claim


# --- the engineer's van (the PWA) ---


@blp.route("/engineers/me/van")
@require(VAN_READ)
@blp.response(200, VanSchema)
def my_van():
    """The caller's van: stock (with serials), the catalog of their skills, open part requests and returns."""
    van = stock_ops.van_of_user(current_user)
    engineer = van.engineer
    db.session.commit()  # the van may have just been made
    return {
        "warehouse": van,
        "stock": stock_ops.van_contents(van),
        "catalog": catalog_ops.catalog_for(engineer),
        "open_part_requests": db.session.scalars(
            pr_ops.visible_part_requests(current_user).where(PartRequest.status.in_(states.PART_REQUEST_OPEN))
        ).all(),
        "open_returns": db.session.scalars(
            returns_ops.visible_returns(current_user).where(ReturnOrder.status == "opened")
        ).all(),
    }
