"""Console pages for parts: stock per warehouse and van with low-stock alerts, the movement ledger, receipts,
transfers and stocktake adjustments, the catalog and suppliers, the part request queue, returns and supplier
claims."""

from decimal import Decimal

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from fieldservice.auth.permissions import can, require
from fieldservice.console.navigation import add_home_card, add_nav
from fieldservice.core.errors import ApiError
from fieldservice.core.forms import apply_api_error
from fieldservice.core.models import get_or_404
from fieldservice.customers.categories import category_label
from fieldservice.extensions import db
from fieldservice.parts import catalog as catalog_ops
from fieldservice.parts import claims as claims_ops
from fieldservice.parts import part_requests as pr_ops
from fieldservice.parts import returns as returns_ops
from fieldservice.parts import states
from fieldservice.parts import stock as stock_ops
from fieldservice.parts.forms import (
    ActionForm,
    PartForm,
    PartRequestForm,
    ReturnForm,
    StockMoveForm,
    SupplierForm,
    split_serials,
)
from fieldservice.parts.models import (
    Part,
    PartRequest,
    ReturnOrder,
    SerialUnit,
    StockLevel,
    Supplier,
    SupplierClaim,
    Warehouse,
)
from fieldservice.parts.operations import invalid
from fieldservice.parts.permissions import (
    CLAIMS_HANDLE,
    CLAIMS_READ,
    PART_REQUESTS_APPLY,
    PART_REQUESTS_DECIDE,
    PARTS_READ,
    PARTS_WRITE,
    RETURNS_OPEN,
    RETURNS_READ,
    STOCK_MOVE,
    STOCK_READ,
    VAN_READ,
)

bp = Blueprint("parts", __name__, template_folder="templates")

PER_PAGE = 30
MOVE_TITLES = {
    "receipt": _l("Goods receipt"),
    "transfer": _l("Stock transfer"),
    "adjust": _l("Stocktake adjustment"),
}
STATUS_TONES = {
    "applied": "warn",
    "approved": "warn",
    "shipped": "warn",
    "signed": "good",
    "rejected": "bad",
    "cancelled": "",
    "opened": "warn",
    "shipped_back": "warn",
    "received": "warn",
    "inspected": "good",
    "submitted": "warn",
    "accepted": "good",
}
ACTION_LABELS = {
    "approve": _l("Approve"),
    "reject": _l("Reject"),
    "ship": _l("Ship"),
    "sign": _l("Sign for"),
    "cancel": _l("Withdraw"),
    "receive": _l("Receive"),
    "inspect": _l("Inspect"),
    "claim": _l("Claim against supplier"),
    "accept": _l("Accept the claim"),
}

add_nav("parts.stock", _l("Stock"), STOCK_READ, order=50, group="field")
add_nav("parts.van", _l("My van"), VAN_READ, order=50, group="field")
add_nav("parts.part_requests", _l("Part requests"), PART_REQUESTS_APPLY, order=52, group="field")
add_nav("parts.returns", _l("Faulty returns"), RETURNS_READ, order=54, group="field")
add_nav("parts.catalog", _l("Part catalog"), PARTS_READ, order=56, group="field")


def _low_stock_card() -> dict:
    count = stock_ops.count_low_stock()
    return {
        "label": _("Parts at or under reorder level"),
        "value": count,
        "url": url_for("parts.stock", low=1),
        "tone": "warn" if count else "plain",
    }


def _to_approve_card() -> dict:
    count = db.session.scalar(
        sa.select(sa.func.count()).select_from(PartRequest).where(PartRequest.status == "applied")
    )
    return {
        "label": _("Part requests to approve"),
        "value": count,
        "url": url_for("parts.part_requests", status="applied"),
        "tone": "warn" if count else "plain",
    }


add_home_card("parts_low_stock", STOCK_READ, _low_stock_card, order=60)
add_home_card("parts_to_approve", PART_REQUESTS_DECIDE, _to_approve_card, order=61)


@bp.context_processor
def _labels():
    return {
        "pr_labels": states.PART_REQUEST_STATUS_LABELS,
        "pr_action_labels": states.PART_REQUEST_ACTION_LABELS,
        "return_labels": states.RETURN_STATUS_LABELS,
        "claim_labels": states.CLAIM_STATUS_LABELS,
        "reason_labels": {k: v.label for k, v in states.REASONS.items()},
        "status_tones": STATUS_TONES,
        "action_labels": ACTION_LABELS,
        "warehouse_label": stock_ops.warehouse_label,
        "category_label": category_label,
        "can": lambda permission: can(current_user, permission),
    }


def _int_arg(name: str) -> int | None:
    return request.args.get(name, type=int)


def _page(query):
    page = max(request.args.get("page", 1, type=int), 1)
    return db.paginate(query, page=page, per_page=PER_PAGE, error_out=False), page


def _status_arg(labels: dict) -> str | None:
    status = request.args.get("status")
    return status if status in labels else None


def _run(form, action):
    """Run *action()* (an operation) and commit; on a refusal, roll back and put it on *form*.

    Returns (result, HTTP status)."""
    try:
        result = action()
        db.session.commit()
    except ApiError as exc:
        db.session.rollback()
        return None, apply_api_error(form, exc)
    return result, 200


def _form_page(form, template: str, save, done, **context):
    """Show *form*; a valid POST runs save() once and redirects where done(saved) says, with its message; a
    refusal re-renders the form with the operation's message (422, 409...)."""
    status = 200
    if form.validate_on_submit():
        saved, status = _run(form, save)
        if saved is not None:
            message, url = done(saved)
            flash(message, "success")
            return redirect(url)
    elif form.errors:
        status = 422
    return render_template(template, form=form, **context), status


def _take_step(form, perform, rerender, message, default_url: str):
    """POST of one step (an ActionForm): run perform(), then flash message() and go back to the page the step
    was taken on; a refusal re-renders the object's page with the message on the step's form."""
    if not form.validate_on_submit():
        return rerender(form, 422)
    _done, status = _run(form, lambda: perform(form))
    if status != 200:
        return rerender(form, status)
    flash(message(), "success")
    return redirect(request.form.get("next") or default_url)


# --- stock --------------------------------------------------------------------------------------------------


@bp.route("/parts/stock")
@require(STOCK_READ)
def stock():
    warehouse_id = _int_arg("warehouse_id")
    low = bool(request.args.get("low"))
    q = request.args.get("q", "").strip()
    pagination, page = _page(stock_ops.stock_levels(warehouse_id, low_only=low, q=q))
    warehouses = db.session.scalars(
        sa.select(Warehouse).where(Warehouse.kind.in_(states.STOCK_KINDS)).order_by(Warehouse.kind, Warehouse.name)
    ).all()
    totals = dict(
        db.session.execute(
            sa.select(StockLevel.warehouse_id, sa.func.sum(StockLevel.qty)).group_by(StockLevel.warehouse_id)
        ).all()
    )
    return render_template(
        "parts/stock.html",
        levels=pagination.items,
        total=pagination.total,
        page=page,
        per_page=PER_PAGE,
        warehouses=warehouses,
        totals=totals,
        warehouse_id=warehouse_id,
        low=low,
        q=q,
        alerts=stock_ops.low_stock(),
    )


@bp.route("/parts/stock/<any(receipt,transfer,adjust):kind>", methods=["GET", "POST"])
@require(STOCK_MOVE)
def stock_move(kind: str):
    form = StockMoveForm(kind)
    if request.method == "GET":
        form.warehouse_id.data = _int_arg("warehouse_id")
        form.part_id.data = _int_arg("part_id")
    return _form_page(
        form,
        "parts/stock_move.html",
        lambda: _MOVES[kind](form),
        lambda _moved: (
            _("%(what)s recorded.", what=MOVE_TITLES[kind]),
            url_for("parts.stock", warehouse_id=form.warehouse_id.data),
        ),
        kind=kind,
        title=MOVE_TITLES[kind],
    )


def _move_line(form: StockMoveForm) -> dict:
    return {"part_id": form.part_id.data, "qty": form.qty.data, "serials": split_serials(form.serials.data)}


def _positive(form: StockMoveForm) -> None:
    if form.qty.data is None or form.qty.data < 1:
        raise invalid({"qty": "Must be a whole number of at least 1."})


def _receipt(form: StockMoveForm):
    _positive(form)
    return stock_ops.receive_stock(
        {"warehouse_id": form.warehouse_id.data, "lines": [_move_line(form)], "note": form.note.data or None},
        current_user,
    )


def _transfer(form: StockMoveForm):
    _positive(form)
    if not form.from_warehouse_id.data or form.from_warehouse_id.data == form.warehouse_id.data:
        raise invalid({"from_warehouse_id": "Choose a different warehouse to move stock from."})
    return stock_ops.transfer_stock(
        {
            "from_warehouse_id": form.from_warehouse_id.data,
            "to_warehouse_id": form.warehouse_id.data,
            "lines": [_move_line(form)],
            "note": form.note.data or None,
        },
        current_user,
    )


def _adjust(form: StockMoveForm):
    if not form.qty.data:
        raise invalid({"qty": "A difference of 0 changes nothing."})
    if not (form.note.data or "").strip():
        raise invalid({"note": "Say why the count differs."})
    return stock_ops.adjust_stock(
        {"warehouse_id": form.warehouse_id.data, "lines": [_move_line(form)], "note": form.note.data.strip()},
        current_user,
    )


_MOVES = {"receipt": _receipt, "transfer": _transfer, "adjust": _adjust}


@bp.route("/parts/movements")
@require(STOCK_READ)
def movements():
    filters = {
        "part_id": _int_arg("part_id"),
        "warehouse_id": _int_arg("warehouse_id"),
        "reason": request.args.get("reason") if request.args.get("reason") in states.REASONS else None,
        "serial": request.args.get("serial", "").strip() or None,
        "request_id": _int_arg("request_id"),
        "part_request_id": _int_arg("part_request_id"),
        "return_order_id": _int_arg("return_order_id"),
    }
    pagination, page = _page(stock_ops.movements(filters))
    all_warehouses = db.session.scalars(sa.select(Warehouse).order_by(Warehouse.kind, Warehouse.name)).all()
    parts = db.session.scalars(sa.select(Part).order_by(Part.part_number)).all()
    return render_template(
        "parts/movements.html",
        movements=pagination.items,
        total=pagination.total,
        page=page,
        per_page=PER_PAGE,
        filters=filters,
        warehouses=all_warehouses,
        parts=parts,
    )


@bp.route("/parts/serials")
@require(STOCK_READ)
def serials():
    q = request.args.get("q", "").strip()
    pagination, page = _page(stock_ops.serial_units(_int_arg("part_id"), _int_arg("warehouse_id"), q))
    return render_template(
        "parts/serials.html",
        units=pagination.items,
        total=pagination.total,
        page=page,
        per_page=PER_PAGE,
        q=q,
        status_labels=states.SERIAL_STATUS_LABELS,
        condition_labels=states.CONDITION_LABELS,
    )


@bp.route("/parts/van")
@require(VAN_READ)
def van():
    van = stock_ops.van_of_user(current_user)
    db.session.commit()  # the van may have just been made
    requests_open = db.session.scalars(
        pr_ops.visible_part_requests(current_user).where(PartRequest.status.in_(states.PART_REQUEST_OPEN))
    ).all()
    returns_open = db.session.scalars(
        returns_ops.visible_returns(current_user).where(ReturnOrder.status == "opened")
    ).all()
    recent = db.session.scalars(stock_ops.movements({"warehouse_id": van.id}).limit(20)).all()
    return render_template(
        "parts/van.html",
        van=van,
        contents=stock_ops.van_contents(van),
        part_requests=requests_open,
        return_orders=returns_open,
        movements=recent,
    )


# --- catalog and suppliers ----------------------------------------------------------------------------------


@bp.route("/parts/catalog")
@require(PARTS_READ)
def catalog():
    q = request.args.get("q", "").strip()
    category = request.args.get("category") or None
    pagination, page = _page(catalog_ops.search_parts(q, category, _int_arg("supplier_id"), None, None))
    on_hand = dict(
        db.session.execute(
            sa.select(StockLevel.part_id, sa.func.sum(StockLevel.qty))
            .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
            .where(Warehouse.kind.in_(states.STOCK_KINDS))
            .group_by(StockLevel.part_id)
        ).all()
    )
    suppliers = db.session.scalars(sa.select(Supplier).order_by(Supplier.name)).all()
    return render_template(
        "parts/catalog.html",
        parts=pagination.items,
        total=pagination.total,
        page=page,
        per_page=PER_PAGE,
        q=q,
        category=category,
        categories=sorted({c for c in db.session.scalars(sa.select(Part.category).distinct())}),
        on_hand=on_hand,
        suppliers=suppliers,
        supplier_form=SupplierForm(formdata=None),
    )


def _part_form_page(form: PartForm, part: Part | None, save):
    return _form_page(
        form,
        "parts/part_form.html",
        lambda: save(form.content()),
        lambda saved: (
            _("Part %(number)s saved.", number=saved.part_number),
            url_for("parts.catalog", q=saved.part_number),
        ),
        part=part,
    )


@bp.route("/parts/catalog/new", methods=["GET", "POST"])
@require(PARTS_WRITE)
def new_part():
    return _part_form_page(PartForm(), None, lambda data: catalog_ops.create_part(data, current_user))


@bp.route("/parts/catalog/<int:part_id>/edit", methods=["GET", "POST"])
@require(PARTS_WRITE)
def edit_part(part_id: int):
    part = get_or_404(Part, part_id, "part")
    form = PartForm(obj=part)
    if request.method == "GET":
        form.product_ids.data = part.product_ids
    return _part_form_page(
        form, part, lambda data: catalog_ops.update_part(part, {**data, "version": _version(form)}, current_user)
    )


def _version(form) -> int | None:
    value = form.version.data
    return int(value) if str(value or "").isdigit() else None


@bp.route("/parts/suppliers", methods=["POST"])
@require(PARTS_WRITE)
def new_supplier():
    form = SupplierForm()
    if form.validate_on_submit():
        data = {name: (form[name].data or None) for name in ("contact", "phone", "email")}
        supplier, _status = _run(
            form, lambda: catalog_ops.create_supplier({"name": form.name.data.strip(), **data}, current_user)
        )
        if supplier is not None:
            flash(_("Supplier %(name)s added.", name=supplier.name), "success")
            return redirect(url_for("parts.catalog"))
    messages = [e for errors in form.errors.values() for e in errors] + form.form_errors
    flash(" ".join(str(m) for m in messages) or _("The supplier was not saved."), "error")
    return redirect(url_for("parts.catalog"))


# --- part requests ------------------------------------------------------------------------------------------


@bp.route("/parts/requests")
@require(PART_REQUESTS_APPLY)
def part_requests():
    status = _status_arg(states.PART_REQUEST_STATUS_LABELS)
    query = pr_ops.visible_part_requests(current_user)
    if status:
        query = query.where(PartRequest.status == status)
    pagination, page = _page(query)
    return render_template(
        "parts/part_requests.html",
        part_requests=pagination.items,
        total=pagination.total,
        page=page,
        per_page=PER_PAGE,
        status=status,
        forms=_action_forms(pagination.items, pr_ops.allowed_part_request_actions),
    )


def _action_forms(objects, allowed) -> dict:
    """Per object, the steps the user may take now, each with its form (carrying the object's version)."""
    forms = {}
    for obj in objects:
        actions = allowed(obj, current_user)
        forms[obj.id] = {a: ActionForm(formdata=None, version=obj.version, prefix=f"{a}{obj.id}") for a in actions}
    return forms


@bp.route("/parts/requests/new", methods=["GET", "POST"])
@require(PART_REQUESTS_APPLY)
def new_part_request():
    form = PartRequestForm()
    if request.method == "GET":
        form.request_id.data = _int_arg("request_id")

    def apply():
        # An engineer applies for their own van: the engineer field is not theirs to choose.
        data = {**form.content(), **({"engineer_id": None} if current_user.role == "engineer" else {})}
        return pr_ops.apply_part_request(data, current_user)

    return _form_page(
        form,
        "parts/part_request_form.html",
        apply,
        lambda pr: (
            _("Part request %(number)s sent for approval.", number=pr.number),
            url_for("parts.part_request", part_request_id=pr.id),
        ),
    )


def _visible_part_request(part_request_id: int) -> PartRequest:
    part_request = db.session.get(PartRequest, part_request_id)
    if part_request is None or not pr_ops.can_see_part_request(current_user, part_request):
        abort(404)
    return part_request


def _render_part_request(part_request: PartRequest, failed: tuple[str, ActionForm] | None = None, status=200):
    forms = _action_forms([part_request], pr_ops.allowed_part_request_actions)[part_request.id]
    if failed is not None:
        forms[failed[0]] = failed[1]
    serial_lines = [ln for ln in part_request.lines if ln.part.serial_tracked]
    return render_template(
        "parts/part_request.html",
        pr=part_request,
        forms=forms,
        serial_lines=serial_lines,
        movements=db.session.scalars(stock_ops.movements({"part_request_id": part_request.id})).all(),
    ), status


@bp.route("/parts/requests/<int:part_request_id>")
@require(PART_REQUESTS_APPLY)
def part_request(part_request_id: int):
    return _render_part_request(_visible_part_request(part_request_id))


def _ship_serials(part_request: PartRequest, form: ActionForm) -> list[dict]:
    """The serial numbers typed for the serial-tracked lines, matched to their part."""
    typed = set(split_serials(form.serials.data))
    if not typed:
        return []
    part_ids = [ln.part_id for ln in part_request.lines if ln.part.serial_tracked]
    units = db.session.execute(
        sa.select(SerialUnit.part_id, SerialUnit.serial).where(
            SerialUnit.part_id.in_(part_ids), SerialUnit.serial.in_(typed)
        )
    ).all()
    unknown = typed - {serial for _part, serial in units}
    if unknown:
        raise invalid({"serials": "Unknown serial numbers: " + ", ".join(sorted(unknown))})
    return [{"part_id": part_id, "serial": serial} for part_id, serial in units]


def _part_request_payload(part_request: PartRequest, action: str, form: ActionForm) -> dict:
    if action == "ship":
        return {
            "source_warehouse_id": form.source_warehouse_id.data,
            "note": form.note.data or None,
            "serials": _ship_serials(part_request, form),
        }
    return {"reason": form.reason.data or None, "note": form.note.data or None}


@bp.route("/parts/requests/<int:part_request_id>/<any(approve,reject,ship,sign,cancel):action>", methods=["POST"])
@require(PART_REQUESTS_APPLY)
def part_request_action(part_request_id: int, action: str):
    part_request = _visible_part_request(part_request_id)
    return _take_step(
        ActionForm(prefix=f"{action}{part_request.id}"),
        lambda form: pr_ops.perform_part_request(
            part_request,
            action,
            current_user,
            form.version_number(),
            **_part_request_payload(part_request, action, form),
        ),
        lambda form, status: _render_part_request(db.session.get(PartRequest, part_request_id), (action, form), status),
        lambda: _(
            "Part request %(number)s: %(status)s.",
            number=part_request.number,
            status=states.label(states.PART_REQUEST_STATUS_LABELS, part_request.status),
        ),
        url_for("parts.part_request", part_request_id=part_request.id),
    )


# --- faulty-part returns and supplier claims ----------------------------------------------------------------


@bp.route("/parts/returns")
@require(RETURNS_READ)
def returns():
    status = _status_arg(states.RETURN_STATUS_LABELS)
    query = returns_ops.visible_returns(current_user)
    if status:
        query = query.where(ReturnOrder.status == status)
    pagination, page = _page(query)
    return render_template(
        "parts/returns.html",
        return_orders=pagination.items,
        total=pagination.total,
        page=page,
        per_page=PER_PAGE,
        status=status,
        forms=_action_forms(pagination.items, returns_ops.allowed_return_actions),
    )


@bp.route("/parts/returns/new", methods=["GET", "POST"])
@require(RETURNS_OPEN)
def new_return():
    form = ReturnForm()
    fields = ("warehouse_id", "part_id", "qty", "serial", "fault_description")
    return _form_page(
        form,
        "parts/return_form.html",
        lambda: returns_ops.open_return({name: form[name].data for name in fields}, current_user),
        lambda order: (
            _("Return %(number)s opened.", number=order.number),
            url_for("parts.return_order", return_id=order.id),
        ),
    )


def _visible_return(return_id: int) -> ReturnOrder:
    order = db.session.get(ReturnOrder, return_id)
    if order is None or not returns_ops.can_see_return(current_user, order):
        abort(404)
    return order


def _render_return(
    order: ReturnOrder,
    failed: tuple[str, ActionForm] | None = None,
    status=200,
    claim_failed: tuple[str, ActionForm] | None = None,
):
    forms = _action_forms([order], returns_ops.allowed_return_actions)[order.id]
    if failed is not None:
        forms[failed[0]] = failed[1]
    claim_forms = {}
    if order.claim is not None:
        claim_forms = _action_forms([order.claim], claims_ops.allowed_claim_actions)[order.claim.id]
        if claim_failed is not None:
            claim_forms[claim_failed[0]] = claim_failed[1]
    return render_template(
        "parts/return.html",
        order=order,
        forms=forms,
        claim_forms=claim_forms,
        movements=db.session.scalars(stock_ops.movements({"return_order_id": order.id})).all(),
    ), status


@bp.route("/parts/returns/<int:return_id>")
@require(RETURNS_READ)
def return_order(return_id: int):
    return _render_return(_visible_return(return_id))


def _return_step(order: ReturnOrder, action: str, form: ActionForm):
    if action == "claim":
        return claims_ops.submit_claim(
            order, current_user, form.version_number(), form.amount.data, form.note.data or None
        )
    payload = {
        "ship": {"tracking_number": form.tracking_number.data or None},
        "receive": {"warehouse_id": form.warehouse_id.data},
        "inspect": {
            "refurbished_qty": form.refurbished_qty.data or 0,
            "scrapped_qty": form.scrapped_qty.data or 0,
            "note": form.note.data or None,
            "claim_amount": form.amount.data,
        },
    }[action]
    return returns_ops.perform_return(order, action, current_user, form.version_number(), **payload)


@bp.route("/parts/returns/<int:return_id>/<any(ship,receive,inspect,claim):action>", methods=["POST"])
@require(RETURNS_READ)
def return_action(return_id: int, action: str):
    order = _visible_return(return_id)
    return _take_step(
        ActionForm(prefix=f"{action}{order.id}"),
        lambda form: _return_step(order, action, form),
        lambda form, status: _render_return(db.session.get(ReturnOrder, return_id), (action, form), status),
        lambda: _(
            "Return %(number)s: %(status)s.",
            number=order.number,
            status=states.label(states.RETURN_STATUS_LABELS, order.status),
        ),
        url_for("parts.return_order", return_id=order.id),
    )


@bp.route("/parts/claims")
@require(CLAIMS_READ)
def claims():
    status = _status_arg(states.CLAIM_STATUS_LABELS)
    query = sa.select(SupplierClaim).order_by(SupplierClaim.id.desc())
    if status:
        query = query.where(SupplierClaim.status == status)
    pagination, page = _page(query)
    totals = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(SupplierClaim.claimed_amount), 0),
            sa.func.coalesce(sa.func.sum(SupplierClaim.accepted_amount), 0),
        )
    ).one()
    return render_template(
        "parts/claims.html",
        claims=pagination.items,
        total=pagination.total,
        page=page,
        per_page=PER_PAGE,
        status=status,
        forms=_action_forms(pagination.items, claims_ops.allowed_claim_actions),
        claimed=Decimal(totals[0]),
        accepted=Decimal(totals[1]),
    )


@bp.route("/parts/claims/<int:claim_id>/<any(accept,reject):action>", methods=["POST"])
@require(CLAIMS_HANDLE)
def claim_action(claim_id: int, action: str):
    claim = get_or_404(SupplierClaim, claim_id, "supplier claim")
    return _take_step(
        ActionForm(prefix=f"{action}{claim.id}"),
        lambda form: claims_ops.perform_claim(
            claim,
            action,
            current_user,
            form.version_number(),
            amount=form.amount.data,
            reason=form.reason.data,
        ),
        lambda form, status: _render_return(
            db.session.get(ReturnOrder, claim.return_order_id), status=status, claim_failed=(action, form)
        ),
        lambda: _(
            "Supplier claim %(number)s: %(status)s.",
            number=claim.number,
            status=states.label(states.CLAIM_STATUS_LABELS, claim.status),
        ),
        url_for("parts.claims"),
    )
