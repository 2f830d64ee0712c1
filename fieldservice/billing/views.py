"""Console pages of billing: customers' invoice requests, issued or cancelled by a manager; the agreement's invoices."""

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from fieldservice.auth.permissions import can, require
from fieldservice.billing import charges as charge_ops
from fieldservice.billing.forms import INVOICE_STATUS_LABELS, InvoiceActionForm
from fieldservice.billing.models import Invoice
from fieldservice.billing.permissions import INVOICES_ISSUE, INVOICES_REQUEST
from fieldservice.console.navigation import add_nav
from fieldservice.contracts.panels import agreement_panels
from fieldservice.contracts.permissions import CONTRACTS_READ
from fieldservice.core.errors import ApiError
from fieldservice.core.models import get_or_404
from fieldservice.extensions import db
from fieldservice.requests.models import ServiceRequest

bp = Blueprint("billing", __name__, template_folder="templates")

PER_PAGE = 25

add_nav("billing.invoices", _l("Invoices"), INVOICES_REQUEST, order=36, group="settlement")


@bp.app_context_processor
def _labels() -> dict:
    return {"invoice_status_labels": INVOICE_STATUS_LABELS}


def _agreement_invoices(agreement) -> dict:
    query = (
        sa.select(Invoice)
        .join(ServiceRequest, ServiceRequest.id == Invoice.request_id)
        .where(ServiceRequest.agreement_id == agreement.id)
        .order_by(Invoice.requested_at.desc(), Invoice.id.desc())
    )
    return {"invoices": list(db.session.scalars(query)), "can_issue": can(current_user, INVOICES_ISSUE)}


agreement_panels.add("billing/_agreement_invoices.html", _agreement_invoices, CONTRACTS_READ)


@bp.route("/contracts/invoices")
@require(INVOICES_REQUEST)
def invoices():
    """Customers' invoice requests, oldest waiting first; a manager issues or cancels them here."""
    status = request.args.get("status") or "requested"
    page = max(request.args.get("page", 1, type=int), 1)
    query = sa.select(Invoice).order_by(Invoice.requested_at, Invoice.id)
    if status in INVOICE_STATUS_LABELS:
        query = query.where(Invoice.status == status)
    pagination = db.paginate(query, page=page, per_page=PER_PAGE, error_out=False)
    return render_template(
        "billing/invoices.html",
        invoices=pagination.items,
        total=pagination.total,
        page=page,
        per_page=PER_PAGE,
        status=status,
        can_issue=can(current_user, INVOICES_ISSUE),
    )


@bp.route("/contracts/invoices/<int:invoice_id>/<action>", methods=["POST"])
@require(INVOICES_ISSUE)
def invoice_action(invoice_id: int, action: str):
    if action not in charge_ops.INVOICE_TRANSITIONS:
        abort(404)
    invoice = get_or_404(Invoice, invoice_id, "invoice")
    form = InvoiceActionForm()
    back = request.form.get("next") or url_for("billing.invoices")
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("billing.invoices")
    if not form.validate_on_submit():
        flash(_("The form expired: try again."), "error")
        return redirect(back)
    version = int(form.version.data) if (form.version.data or "").isdigit() else None
    try:
        invoice = charge_ops.perform_invoice(
            invoice, action, current_user, version, (form.reason.data or "").strip() or None
        )
        db.session.commit()
    except ApiError as exc:
        db.session.rollback()
        flash(_(exc.message) if not exc.fields else "; ".join(_(m) for m in exc.fields.values()), "error")
        return redirect(back)
    if invoice.status == "issued":
        flash(_("Invoice %(number)s issued.", number=invoice.number), "success")
    else:
        flash(_("Invoice request cancelled."), "success")
    return redirect(back)
