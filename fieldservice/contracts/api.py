"""Service agreements, their types, coverage, charges, invoices and the maintenance run over JSON."""

import marshmallow as ma
import sqlalchemy as sa
from flask_login import current_user

from fieldservice.auth.permissions import CONSOLE, require
from fieldservice.contracts import charges as charge_ops
from fieldservice.contracts import maintenance
from fieldservice.contracts import operations as ops
from fieldservice.contracts.models import Agreement, AgreementType, Invoice
from fieldservice.contracts.permissions import (
    CONTRACTS_READ,
    CONTRACTS_WRITE,
    INVOICES_ISSUE,
    INVOICES_REQUEST,
    MAINTENANCE_RUN,
)
from fieldservice.contracts.schemas import (
    AgreementArgs,
    AgreementQueryArgs,
    AgreementSchema,
    AgreementTypeArgs,
    AgreementTypeSchema,
    AgreementTypeUpdateArgs,
    AgreementUpdateArgs,
    CoverageQueryArgs,
    CoverageSchema,
    InvoiceActionArgs,
    InvoiceArgs,
    InvoiceQueryArgs,
    InvoiceSchema,
    MaintenanceRunSchema,
    RenewArgs,
    RequestChargesSchema,
)
from fieldservice.contracts.sla import coverage_due_times
from fieldservice.core.api import api_blueprint, page_of
from fieldservice.core.errors import NotFound, ValidationFailed
from fieldservice.core.models import get_or_404, utcnow
from fieldservice.customers.schemas import updatable
from fieldservice.extensions import db

blp = api_blueprint("contracts_api", __name__, "Service agreements, coverage, charges, invoices, maintenance")


# ---- agreement types


@blp.route("/agreement-types")
@require(CONTRACTS_READ)
@blp.response(200, AgreementTypeSchema(many=True))
def list_agreement_types():
    """Every agreement type (template), active first."""
    return db.session.scalars(
        sa.select(AgreementType).order_by(AgreementType.active.desc(), AgreementType.id)
    ).all()


@blp.route("/agreement-types", methods=["POST"])
@require(CONTRACTS_WRITE)
@blp.arguments(AgreementTypeArgs)
@blp.response(201, AgreementTypeSchema)
def create_agreement_type(args):
    agreement_type = ops.create_agreement_type(args, current_user)
    db.session.commit()
    return agreement_type


@blp.route("/agreement-types/<int:type_id>", methods=["PATCH"])
@require(CONTRACTS_WRITE)
@blp.arguments(updatable(AgreementTypeUpdateArgs))
@blp.response(200, AgreementTypeSchema)
def update_agreement_type(args, type_id):
    agreement_type = get_or_404(AgreementType, type_id, "agreement type")
    agreement_type = ops.update_agreement_type(agreement_type, args, current_user)
    db.session.commit()
    return agreement_type


# ---- agreements (API.md: /contracts)


@blp.route("/contracts")
@require(CONTRACTS_READ)
@blp.arguments(AgreementQueryArgs, location="query")
@blp.response(200)
def list_agreements(args):
    """Agreements, by customer, status (upcoming, active, expiring, expired) and number/name/customer text."""
    query = ops.search_agreements(args.get("customer_id"), args.get("status"), args["q"])
    return page_of(query, AgreementSchema(), args["page"], args["per_page"])


@blp.route("/contracts/expiring")
@require(CONTRACTS_READ)
@blp.response(200, AgreementSchema(many=True))
def expiring_agreements():
    """Agreements ending within 30 days that have not been renewed."""
    return db.session.scalars(ops.expiring_agreements()).all()


@blp.route("/contracts", methods=["POST"])
@require(CONTRACTS_WRITE)
@blp.arguments(AgreementArgs)
@blp.response(201, AgreementSchema)
def create_agreement(args):
    agreement = ops.create_agreement(args, current_user)
    db.session.commit()
    return agreement


@blp.route("/contracts/<int:agreement_id>")
@require(CONTRACTS_READ)
@blp.response(200, AgreementSchema)
def get_agreement(agreement_id):
    return get_or_404(Agreement, agreement_id, "agreement")


@blp.route("/contracts/<int:agreement_id>", methods=["PATCH"])
@require(CONTRACTS_WRITE)
@blp.arguments(updatable(AgreementUpdateArgs))
@blp.response(200, AgreementSchema)
def update_agreement(args, agreement_id):
    agreement = ops.update_agreement(get_or_404(Agreement, agreement_id, "agreement"), args, current_user)
    db.session.commit()
    return agreement


@blp.route("/contracts/<int:agreement_id>/renew", methods=["POST"])
@require(CONTRACTS_WRITE)
@blp.arguments(RenewArgs)
@blp.response(201, AgreementSchema)
def renew_agreement(args, agreement_id):
    """The next period: same terms and equipment unless the body overrides them."""
    renewal = ops.renew_agreement(get_or_404(Agreement, agreement_id, "agreement"), args, current_user)
    db.session.commit()
    return renewal


# ---- coverage at intake


class CoverageAnswerSchema(ma.Schema):
    coverage = ma.fields.Nested(CoverageSchema, allow_none=True)
    response_due = ma.fields.AwareDateTime(allow_none=True)
    resolution_due = ma.fields.AwareDateTime(allow_none=True)


@blp.route("/coverage")
@require(CONTRACTS_READ)
@blp.arguments(CoverageQueryArgs, location="query")
@blp.response(200, CoverageAnswerSchema)
def coverage(args):
    """Which agreement or warranty covers a customer's equipment now (or `at`), and the SLA due times it sets."""
    at = args["at"] or utcnow()
    found = ops.coverage_for(args["customer_id"], args["equipment_id"], at)
    response_due, resolution_due = coverage_due_times(found, at)
    return {"coverage": found, "response_due": response_due, "resolution_due": resolution_due}


# ---- charges


def _visible_request(request_id: int, field: str | None = None):
    from fieldservice.requests.operations import get_visible_request

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


# ---- preventive maintenance


class MaintenanceRunArgs(ma.Schema):
    on = ma.fields.Date(load_default=None, allow_none=True)


@blp.route("/maintenance/run", methods=["POST"])
@require(MAINTENANCE_RUN)
@blp.arguments(MaintenanceRunArgs)
@blp.response(200, MaintenanceRunSchema)
def run_maintenance(args):
    """Create the maintenance requests owed now (what the hourly job does); a second run creates none."""
    run = maintenance.generate_maintenance(args["on"])
    db.session.commit()
    return run
