"""Console pages of settlement: the repair-item catalog (with CSV), the items of a visit, the verification
queue (核销) and the engineers' statements."""

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from fieldservice.auth.models import Role
from fieldservice.auth.permissions import can, require
from fieldservice.console.navigation import add_nav
from fieldservice.console.panels import home_panels
from fieldservice.core.clock import local_date
from fieldservice.core.errors import ApiError
from fieldservice.core.models import get_or_404, utcnow
from fieldservice.core.pdf import render_pdf
from fieldservice.customers.categories import CATEGORIES, category_label
from fieldservice.customers.models import Product
from fieldservice.engineers.models import Engineer
from fieldservice.engineers.operations import engineer_for_user
from fieldservice.extensions import db
from fieldservice.parts.models import Supplier
from fieldservice.parts.states import CLAIM_STATUS_LABELS as PART_CLAIM_LABELS
from fieldservice.requests.models import Visit
from fieldservice.settlement import claims as claim_ops
from fieldservice.settlement import operations as ops
from fieldservice.settlement.forms import (
    CLAIM_KIND_LABELS,
    CLAIM_LABELS,
    PRICING_LABELS,
    PROBLEM_LABELS,
    STATEMENT_LABELS,
    VERIFICATION_LABELS,
    ActionForm,
    RepairItemForm,
)
from fieldservice.settlement.models import RepairItem, Statement, Verification, WarrantyClaim
from fieldservice.settlement.permissions import (
    REPAIR_ITEMS_MANAGE,
    REPAIR_ITEMS_READ,
    SETTLEMENT_READ,
    STATEMENTS_MANAGE,
    VERIFY,
    WARRANTY_CLAIMS_MANAGE,
)

bp = Blueprint("settlement", __name__, template_folder="templates")


def _home_verifications(user) -> dict:
    """The manager's visits to verify (核销), the longest waiting first, with what keeps each from bulk approval."""
    query = ops.verification_queue()
    rows = db.session.scalars(query.limit(8)).all()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
    return {"rows": rows, "total": total, "problems": ops.problems_of(rows), "problem_labels": PROBLEM_LABELS}


home_panels.add("settlement/_home_verifications.html", _home_verifications, VERIFY)

PER_PAGE = 50

add_nav("settlement.repair_items", _l("Repair items"), REPAIR_ITEMS_MANAGE, order=37, group="settlement")
add_nav("settlement.verifications", _l("Verification"), VERIFY, order=38, group="settlement")
add_nav("settlement.statements", _l("Statements"), SETTLEMENT_READ, order=39, group="settlement")
add_nav("settlement.claims", _l("Warranty claims"), WARRANTY_CLAIMS_MANAGE, order=40, group="settlement")


@bp.app_context_processor
def _labels() -> dict:
    return {
        "pricing_labels": PRICING_LABELS,
        "verification_labels": VERIFICATION_LABELS,
        "statement_labels": STATEMENT_LABELS,
        "claim_labels": CLAIM_LABELS,
        "problem_labels": PROBLEM_LABELS,
        "category_label": category_label,
    }


def _error_text(exc: ApiError) -> str:
    if exc.fields:
        return "; ".join(f"{k}: {_(str(v))}" for k, v in exc.fields.items())
    return _(exc.message)


def _back(default: str) -> str:
    back = request.form.get("next") or default
    return back if back.startswith("/") and not back.startswith("//") else default


def _act(back_to: str, change, done: str):
    """A console button: check the form, run change(version, reason), commit, say so, and go back."""
    form = ActionForm()
    back = _back(back_to)
    if not form.validate_on_submit():
        flash(_("The form expired: try again."), "error")
        return redirect(back)
    version = int(form.version.data) if (form.version.data or "").isdigit() else None
    try:
        change(version, (form.reason.data or "").strip() or None)
        db.session.commit()
    except ApiError as exc:
        db.session.rollback()
        flash(_error_text(exc), "error")
        return redirect(back)
    flash(done, "success")
    return redirect(back)


# ---- the catalog


@bp.route("/settlement/repair-items")
@require(REPAIR_ITEMS_MANAGE)
def repair_items():
    """The catalog by product category; filter by category, text and active."""
    category = request.args.get("category") or None
    q = request.args.get("q", "").strip()
    show = request.args.get("show", "active")
    active = {"active": True, "inactive": False}.get(show)
    page = max(request.args.get("page", 1, type=int), 1)
    pagination = db.paginate(
        ops.search_repair_items(category, active, q), page=page, per_page=PER_PAGE, error_out=False
    )
    return render_template(
        "settlement/repair_items.html",
        items=pagination.items,
        total=pagination.total,
        page=page,
        per_page=PER_PAGE,
        category=category,
        q=q,
        show=show,
        categories=CATEGORIES,
        form=ActionForm(),
    )


def _item_form_page(form: RepairItemForm, item: RepairItem | None):
    if form.validate_on_submit():
        try:
            data = form.content()
            if item is None:
                saved = ops.create_repair_item(data, current_user)
            else:
                data["version"] = int(form.version.data) if (form.version.data or "").isdigit() else None
                saved = ops.update_repair_item(item, data, current_user)
            db.session.commit()
        except ApiError as exc:
            db.session.rollback()
            for name, message in (exc.fields or {}).items():
                if hasattr(form, name):
                    getattr(form, name).errors = [*getattr(form, name).errors, _(str(message))]
            if not exc.fields:
                form.form_errors.append(_(exc.message))
            return render_template("settlement/repair_item_form.html", form=form, item=item), 422
        flash(_("Repair item %(code)s saved.", code=saved.code), "success")
        return redirect(url_for("settlement.repair_items", category=saved.category))
    return render_template("settlement/repair_item_form.html", form=form, item=item), (
        422 if request.method == "POST" else 200
    )


@bp.route("/settlement/repair-items/new", methods=["GET", "POST"])
@require(REPAIR_ITEMS_MANAGE)
def new_repair_item():
    return _item_form_page(RepairItemForm(), None)


@bp.route("/settlement/repair-items/<int:item_id>/edit", methods=["GET", "POST"])
@require(REPAIR_ITEMS_MANAGE)
def edit_repair_item(item_id: int):
    item = get_or_404(RepairItem, item_id, "repair item")
    form = RepairItemForm(obj=item)
    return _item_form_page(form, item)


@bp.route("/settlement/repair-items/<int:item_id>/<any(deactivate, activate):action>", methods=["POST"])
@require(REPAIR_ITEMS_MANAGE)
def toggle_repair_item(item_id: int, action: str):
    item = get_or_404(RepairItem, item_id, "repair item")
    return _act(
        url_for("settlement.repair_items"),
        lambda version, _reason: ops.update_repair_item(
            item, {"version": version, "active": action == "activate"}, current_user
        ),
        _("Repair item %(code)s saved.", code=item.code),
    )


@bp.route("/settlement/repair-items/export.csv")
@require(REPAIR_ITEMS_MANAGE)
def export_repair_items():
    items = db.session.scalars(ops.search_repair_items()).all()
    return Response(
        ops.export_csv(items),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=repair-items.csv"},
    )


@bp.route("/settlement/repair-items/import", methods=["GET", "POST"])
@require(REPAIR_ITEMS_MANAGE)
def import_repair_items():
    """Upload a CSV; every bad line is listed and nothing is imported until the file is right."""
    form = ActionForm()
    errors = []
    if request.method == "POST":
        upload = request.files.get("file")
        raw = upload.read() if upload is not None else b""
        if not form.validate_on_submit():
            flash(_("The form expired: try again."), "error")
        elif not raw:
            flash(_("Choose a CSV file."), "error")
        else:
            try:
                result = ops.import_csv(raw, current_user)
                db.session.commit()
                flash(_("%(created)s created, %(updated)s updated.", **result), "success")
                return redirect(url_for("settlement.repair_items"))
            except ops.ImportFailed as exc:
                db.session.rollback()
                errors = exc.errors
        return render_template("settlement/repair_items_import.html", form=form, errors=errors), 422
    return render_template("settlement/repair_items_import.html", form=form, errors=errors)


# ---- the items of a visit


@bp.route("/settlement/visits/<int:visit_id>/items", methods=["GET", "POST"])
@require(REPAIR_ITEMS_READ)
def visit_items(visit_id: int):
    """Pick the repair items done on a visit (its engineer, or a manager); frozen once verified."""
    visit = get_or_404(Visit, visit_id, "visit")
    if current_user.role not in (Role.ADMIN, Role.MANAGER):
        engineer = engineer_for_user(current_user)
        if engineer is None or engineer.id != visit.engineer_id:
            abort(404)
    form = ActionForm()
    category = visit.request.product.category if visit.request.product is not None else None
    catalog = db.session.scalars(ops.search_repair_items(category, True)).all()
    status = 200
    if request.method == "POST":
        lines = []
        for item in catalog:
            raw = (request.form.get(f"qty_{item.id}") or "").strip()
            if raw and raw != "0":
                lines.append({"repair_item_id": item.id, "quantity": int(raw) if raw.isdigit() else raw})
        if not form.validate_on_submit():
            flash(_("The form expired: try again."), "error")
            status = 422
        else:
            try:
                ops.set_visit_items(visit, lines, current_user)
                db.session.commit()
                flash(_("Repair items saved."), "success")
                return redirect(url_for("settlement.visit_items", visit_id=visit.id))
            except ApiError as exc:
                db.session.rollback()
                flash(_error_text(exc), "error")
                status = 409 if exc.status == 409 else 422
    rows = ops.items_of(visit.id)
    # The fault chosen from the knowledge base suggests its usual items: they come first, marked.
    suggested = ops.suggested_items([visit.fault_id]).get(visit.fault_id, []) if visit.fault_id else []
    order = {item_id: n for n, item_id in enumerate(suggested)}
    catalog = sorted(catalog, key=lambda item: (order.get(item.id, len(order)), item.code))
    return render_template(
        "settlement/visit_items.html",
        visit=visit,
        catalog=catalog,
        suggested=set(suggested),
        form=form,
        chosen={r.repair_item_id: r.quantity for r in rows},
        standard=ops.standard_hours_of(rows),
        overrun=ops.is_overrun(visit, rows),
        verification=ops.verification_of(visit.id),
    ), status


# ---- verification


@bp.route("/settlement/verifications")
@require(VERIFY)
def verifications():
    """The queue, oldest first; each row names what keeps it from bulk approval."""
    status = request.args.get("status") or "pending"
    page = max(request.args.get("page", 1, type=int), 1)
    query = ops.verification_queue(None if status == "all" else status)
    pagination = db.paginate(query, page=page, per_page=PER_PAGE, error_out=False)
    rows = pagination.items
    return render_template(
        "settlement/verifications.html",
        rows=rows,
        problems=ops.problems_of([v for v in rows if v.status == "pending"]),
        total=pagination.total,
        page=page,
        per_page=PER_PAGE,
        status=status,
        form=ActionForm(),
    )


@bp.route("/settlement/verifications/<int:verification_id>/<any(approve, return):action>", methods=["POST"])
@require(VERIFY)
def verification_action(verification_id: int, action: str):
    verification = get_or_404(Verification, verification_id, "verification")
    return _act(
        url_for("settlement.verifications"),
        lambda version, reason: ops.perform_verification(verification, action, current_user, version, reason),
        _("Visit verified.") if action == "approve" else _("Visit returned to the engineer."),
    )


@bp.route("/settlement/verifications/bulk-approve", methods=["POST"])
@require(VERIFY)
def bulk_approve():
    form = ActionForm()
    back = _back(url_for("settlement.verifications"))
    if not form.validate_on_submit():
        flash(_("The form expired: try again."), "error")
        return redirect(back)
    ids = [int(x) for x in request.form.getlist("ids") if x.isdigit()]
    result = ops.bulk_approve(ids, current_user)
    db.session.commit()
    flash(
        _(
            "%(approved)s verified, %(skipped)s left for a closer look.",
            approved=len(result["approved"]),
            skipped=len(result["skipped"]),
        ),
        "success",
    )
    return redirect(back)


# ---- statements


@bp.route("/settlement/statements", methods=["GET", "POST"])
@require(SETTLEMENT_READ)
def statements():
    """Statements by period; a manager makes the drafts of a month for every engineer with verified visits."""
    period = request.values.get("period") or ""
    manage = can(current_user, STATEMENTS_MANAGE)
    form = ActionForm()
    if request.method == "POST" and manage:
        if not form.validate_on_submit():
            flash(_("The form expired: try again."), "error")
        else:
            try:
                drafts = ops.build_statements(period, current_user)
                db.session.commit()
                flash(_("%(n)s draft statement(s) made.", n=len(drafts)), "success")
            except ApiError as exc:
                db.session.rollback()
                flash(_error_text(exc), "error")
        return redirect(url_for("settlement.statements", period=period))
    query = sa.select(Statement).order_by(Statement.period.desc(), Statement.engineer_id)
    if not manage or current_user.role == Role.ENGINEER:
        engineer = engineer_for_user(current_user)
        query = query.where(Statement.engineer_id == (engineer.id if engineer else -1))
    if period:
        query = query.where(Statement.period == period)
    page = max(request.args.get("page", 1, type=int), 1)
    pagination = db.paginate(query, page=page, per_page=PER_PAGE, error_out=False)
    names = dict(db.session.execute(sa.select(Engineer.id, Engineer.name)).all())
    return render_template(
        "settlement/statements.html",
        statements=pagination.items,
        total=pagination.total,
        page=page,
        per_page=PER_PAGE,
        period=period,
        manage=manage,
        form=form,
        names=names,
        this_month=local_date(utcnow()).strftime("%Y-%m"),
    )


def _own_statement(statement_id: int) -> Statement:
    statement = get_or_404(Statement, statement_id, "statement")
    if not can(current_user, STATEMENTS_MANAGE):
        engineer = engineer_for_user(current_user)
        if engineer is None or engineer.id != statement.engineer_id:
            abort(404)
    return statement


@bp.route("/settlement/statements/<int:statement_id>")
@require(SETTLEMENT_READ)
def statement(statement_id: int):
    st = _own_statement(statement_id)
    return render_template(
        "settlement/statement.html", statement=st, form=ActionForm(), manage=can(current_user, STATEMENTS_MANAGE)
    )


@bp.route("/settlement/statements/<int:statement_id>/issue", methods=["POST"])
@require(STATEMENTS_MANAGE)
def issue_statement(statement_id: int):
    st = _own_statement(statement_id)
    return _act(
        url_for("settlement.statement", statement_id=st.id),
        lambda version, _reason: ops.issue_statement(st, current_user, version),
        _("Statement issued."),
    )


@bp.route("/settlement/statements/<int:statement_id>.pdf")
@require(SETTLEMENT_READ)
def statement_pdf(statement_id: int):
    st = _own_statement(statement_id)
    return Response(render_pdf("settlement/statement_pdf.html", statement=st), mimetype="application/pdf")


@bp.route("/settlement/statements/<int:statement_id>.csv")
@require(SETTLEMENT_READ)
def statement_csv(statement_id: int):
    st = _own_statement(statement_id)
    return Response(
        ops.statement_csv(st),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=statement-{st.id}.csv"},
    )


# ---- warranty claims to the manufacturer (二次索赔)


def _claim_labels(row: dict) -> str:
    if row["kind"] == "part":
        return str(PART_CLAIM_LABELS.get(row["status"], row["status"]))
    return str(CLAIM_LABELS.get(row["status"], row["status"]))


@bp.route("/settlement/claims")
@require(WARRANTY_CLAIMS_MANAGE)
def claims():
    """Every claim to a supplier: the manufacturers' warranty claims and the returned parts' claims, the acceptance
    rate of each supplier, collecting a period, and who makes each product."""
    supplier_id = request.args.get("supplier_id", type=int)
    rows = claim_ops.all_claims(supplier_id)
    for row in rows:
        row["status_label"] = _claim_labels(row)
    suppliers = db.session.scalars(sa.select(Supplier).order_by(Supplier.name)).all()
    products = db.session.scalars(sa.select(Product).order_by(Product.model)).all()
    return render_template(
        "settlement/claims.html",
        rows=rows,
        by_supplier=claim_ops.acceptance_by_supplier(),
        suppliers=suppliers,
        products=products,
        makers=claim_ops.manufacturers(),
        supplier_id=supplier_id,
        kind_labels=CLAIM_KIND_LABELS,
        this_month=local_date(utcnow()).strftime("%Y-%m"),
        form=ActionForm(),
    )


def _checked_form() -> bool:
    if not ActionForm().validate_on_submit():
        flash(_("The form expired: try again."), "error")
        return False
    return True


@bp.route("/settlement/claims/collect", methods=["POST"])
@require(WARRANTY_CLAIMS_MANAGE)
def collect_claims():
    period = (request.form.get("period") or "").strip()
    raw_supplier = request.form.get("supplier_id") or ""
    if not _checked_form():
        return redirect(url_for("settlement.claims"))
    if raw_supplier and not raw_supplier.isdigit():
        flash(_("Choose a supplier from the list."), "error")
        return redirect(url_for("settlement.claims"))
    try:
        touched = claim_ops.collect_claims(period, current_user, int(raw_supplier) if raw_supplier else None)
        db.session.commit()
    except ApiError as exc:
        db.session.rollback()
        flash(_error_text(exc), "error")
        return redirect(url_for("settlement.claims"))
    if not touched:
        flash(_("No verified warranty visit of that month waits to be claimed."), "info")
        return redirect(url_for("settlement.claims"))
    flash(_("%(n)s claim(s) drafted or completed.", n=len(touched)), "success")
    if len(touched) == 1:
        return redirect(url_for("settlement.claim", claim_id=touched[0].id))
    return redirect(url_for("settlement.claims"))


@bp.route("/settlement/claims/manufacturers", methods=["POST"])
@require(WARRANTY_CLAIMS_MANAGE)
def set_manufacturer():
    raw_product, raw_supplier = request.form.get("product_id") or "", request.form.get("supplier_id") or ""
    if not _checked_form():
        return redirect(url_for("settlement.claims"))
    if not raw_product.isdigit() or (raw_supplier and not raw_supplier.isdigit()):
        flash(_("Choose a product and a supplier from the lists."), "error")
        return redirect(url_for("settlement.claims"))
    try:
        claim_ops.set_manufacturer(int(raw_product), int(raw_supplier) if raw_supplier else None, current_user)
        db.session.commit()
    except ApiError as exc:
        db.session.rollback()
        flash(_error_text(exc), "error")
        return redirect(url_for("settlement.claims"))
    flash(_("Manufacturer saved."), "success")
    return redirect(url_for("settlement.claims"))


@bp.route("/settlement/claims/<int:claim_id>")
@require(WARRANTY_CLAIMS_MANAGE)
def claim(claim_id: int):
    found = get_or_404(WarrantyClaim, claim_id, "warranty claim")
    return render_template(
        "settlement/claim.html",
        claim=found,
        figures=claim_ops.reconcile(found),
        kind_labels=CLAIM_KIND_LABELS,
        form=ActionForm(),
    )


@bp.route("/settlement/claims/<int:claim_id>/<any(submit, cancel, accept, reject):action>", methods=["POST"])
@require(WARRANTY_CLAIMS_MANAGE)
def claim_action(claim_id: int, action: str):
    found = get_or_404(WarrantyClaim, claim_id, "warranty claim")
    done = {
        "submit": _("Claim submitted to the manufacturer."),
        "cancel": _("Claim cancelled: its visits may be collected again."),
        "accept": _("The manufacturer's full acceptance is recorded."),
        "reject": _("The manufacturer's rejection is recorded."),
    }[action]
    return _act(
        url_for("settlement.claim", claim_id=found.id),
        lambda version, reason: claim_ops.perform_claim(found, action, current_user, version, reason),
        done,
    )


@bp.route("/settlement/claims/<int:claim_id>/accept-part", methods=["POST"])
@require(WARRANTY_CLAIMS_MANAGE)
def claim_accept_part(claim_id: int):
    """The manufacturer's answer line by line: each line's accepted amount (blank: in full) and why it is less."""
    found = get_or_404(WarrantyClaim, claim_id, "warranty claim")
    decisions = []
    for line in found.lines:
        amount = (request.form.get(f"accepted_{line.id}") or "").strip()
        reason = (request.form.get(f"reason_{line.id}") or "").strip()
        if amount:
            decisions.append({"line_id": line.id, "accepted_amount": amount, "reason": reason})
    return _act(
        url_for("settlement.claim", claim_id=found.id),
        lambda version, _reason: claim_ops.perform_claim(
            found, "accept_part", current_user, version, lines=decisions
        ),
        _("The manufacturer's partial acceptance is recorded."),
    )


@bp.route("/settlement/claims/<int:claim_id>.pdf")
@require(WARRANTY_CLAIMS_MANAGE)
def claim_pdf(claim_id: int):
    found = get_or_404(WarrantyClaim, claim_id, "warranty claim")
    pdf = render_pdf("settlement/claim_pdf.html", claim=found, figures=claim_ops.reconcile(found))
    return Response(pdf, mimetype="application/pdf")


@bp.route("/settlement/claims/<int:claim_id>.csv")
@require(WARRANTY_CLAIMS_MANAGE)
def claim_csv(claim_id: int):
    found = get_or_404(WarrantyClaim, claim_id, "warranty claim")
    return Response(
        claim_ops.claim_csv(found),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=claim-{found.number}.csv"},
    )
