"""Service agreements, their types and coverage over JSON."""

import marshmallow as ma
import sqlalchemy as sa
from flask_login import current_user

from fieldservice.auth.permissions import require
from fieldservice.contracts import operations as ops
from fieldservice.contracts.models import Agreement, AgreementType
from fieldservice.contracts.permissions import (
    CONTRACTS_READ,
    CONTRACTS_WRITE,
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
    RenewArgs,
)
from fieldservice.contracts.sla import coverage_due_times
from fieldservice.core.api import api_blueprint, page_of
from fieldservice.core.models import get_or_404, utcnow
from fieldservice.customers.schemas import updatable
from fieldservice.extensions import db

blp = api_blueprint("contracts_api", __name__, "Service agreements, their types and coverage")


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
