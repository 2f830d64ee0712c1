"""A request's charges and customers' invoices over JSON."""

import sqlalchemy as sa
from flask_login import current_user

from fieldservice.auth.permissions import CONSOLE, require
from fieldservice.billing import charges as charge_ops
from fieldservice.billing.models import Invoice
from fieldservice.billing.permissions import INVOICES_ISSUE, INVOICES_REQUEST
from fieldservice.billing.schemas import (
    InvoiceActionArgs,
    InvoiceArgs,
    InvoiceQueryArgs,
    InvoiceSchema,
    RequestChargesSchema,
)
from fieldservice.core.api import api_blueprint, page_of
from fieldservice.core.errors import NotFound, ValidationFailed
from fieldservice.core.models import get_or_404
from fieldservice.extensions import db
from fieldservice.requests.operations import get_visible_request

blp = api_blueprint("billing_api", __name__, "A request's charges and customers' invoices")


# ---- charges


def _visible_request(request_id: int, field: str | None = None):
    try:
        return get_visible_request(request_id, current_user)
    except NotFound as exc:
        if field is None:
            raise
        message = "No such service request."
        raise ValidationFailed("invalid_request", message, {field: message}) from exc


@blp.route("/requests/<int:request_id>/charges")
@require(CONSOLE)
@blp.response(200, RequestChargesSchema)
def request_charges(request_id):
    """Each finished visit's charge lines and what the coverage pays, and the totals."""
    return charge_ops.request_charges(_visible_request(request_id))


# ---- invoices


@blp.route("/invoices")
@require(INVOICES_REQUEST)
@blp.arguments(InvoiceQueryArgs, location="query")
@blp.response(200)
def list_invoices(args):
    query = sa.select(Invoice).order_by(Invoice.requested_at.desc(), Invoice.id.desc())
    if args.get("status"):
        query = query.where(Invoice.status == args["status"])
    if args.get("customer_id"):
        query = query.where(Invoice.customer_id == args["customer_id"])
    return page_of(query, InvoiceSchema(), args["page"], args["per_page"])


@blp.route("/invoices", methods=["POST"])
@require(INVOICES_REQUEST)
@blp.arguments(InvoiceArgs)
@blp.response(201, InvoiceSchema)
def request_invoice(args):
    """Record the customer's request for an invoice of what they pay on a service request."""
    invoice = charge_ops.request_invoice(
        _visible_request(args["request_id"], "request_id"), args, current_user
    )
    db.session.commit()
    return invoice


@blp.route("/invoices/<int:invoice_id>")
@require(INVOICES_REQUEST)
@blp.response(200, InvoiceSchema)
def get_invoice(invoice_id):
    return get_or_404(Invoice, invoice_id, "invoice")


@blp.route("/invoices/<int:invoice_id>/<any(issue, cancel):action>", methods=["POST"])
@require(INVOICES_ISSUE)
@blp.arguments(InvoiceActionArgs)
@blp.response(200, InvoiceSchema)
def invoice_action(args, invoice_id, action):
    """issue (requested -> issued, with a number) or cancel (requested -> cancelled, with a reason)."""
    invoice = get_or_404(Invoice, invoice_id, "invoice")
    invoice = charge_ops.perform_invoice(invoice, action, current_user, args["version"], args.get("reason"))
    db.session.commit()
    return invoice
