"""Supplier claims (二次索赔): a claim for a return that failed inside the supplier's warranty, and the
supplier's answer (states.CLAIM_TRANSITIONS). Operations flush and never commit."""

import logging
from decimal import Decimal

from fieldservice.auth.permissions import can
from fieldservice.core.errors import Conflict, Forbidden
from fieldservice.core.models import check_version, utcnow
from fieldservice.extensions import db
from fieldservice.parts import states
from fieldservice.parts.models import ReturnOrder, SupplierClaim
from fieldservice.parts.operations import actor_id, actor_name, allowed_steps, check_step, invalid, next_number
from fieldservice.parts.permissions import RETURNS_HANDLE

log = logging.getLogger("fieldservice.parts")


def create_claim(order: ReturnOrder, actor, amount: Decimal | None, note: str | None):
    part = order.part
    claimed = amount if amount is not None else (part.unit_price * order.qty).quantize(Decimal("0.01"))
    claim = SupplierClaim(
        number=next_number("SC"),
        status="submitted",
        return_order=order,
        supplier_id=part.supplier_id,
        part_id=part.id,
        qty=order.qty,
        claimed_amount=claimed,
        note=note,
        submitted_by_id=actor_id(actor),
    )
    db.session.add(claim)
    db.session.flush()
    log.info(
        "supplier claim %s (%s) submitted by %s for return %s",
        claim.number,
        claimed,
        actor_name(actor),
        order.number,
    )
    return claim


def submit_claim(
    order: ReturnOrder, actor, version: int | None, amount: Decimal | None = None, note: str | None = None
):
    """Claim against the supplier for an inspected return that failed inside the supplier's warranty."""
    if not can(actor, RETURNS_HANDLE):
        raise Forbidden("forbidden", f"Your role ({actor.role}) may not claim against a supplier.")
    check_version(order, version)
    if order.status != "inspected":
        raise Conflict("illegal_transition", "A claim is made once the return has been inspected.")
    if order.claim is not None:
        raise Conflict("already_claimed", f"Claim {order.claim.number} exists for this return.")
    if not order.in_supplier_warranty:
        raise Conflict("outside_supplier_warranty", "The part did not fail inside the supplier's warranty.")
    if order.part.supplier_id is None:
        raise Conflict("no_supplier", "The part has no supplier to claim against.")
    return create_claim(order, actor, amount, note)


def perform_claim(
    claim, action: str, actor, version: int | None, amount: Decimal | None = None, reason: str | None = None
):
    """Record the supplier's answer (states.CLAIM_TRANSITIONS): accepted with an amount, or rejected with
    a reason."""
    transition = check_step(states.CLAIM_TRANSITIONS, {}, claim, action, actor, version, "supplier claim")
    if action == "accept":
        if amount is None or amount < 0 or amount > claim.claimed_amount:
            raise invalid({"amount": f"The accepted amount is between 0 and the claimed {claim.claimed_amount}."})
        claim.accepted_amount = amount
    else:
        if not reason or not reason.strip():
            raise invalid({"reason": "Say why the supplier rejected the claim."})
        claim.reject_reason = reason.strip()
    from_status = claim.status
    claim.status = transition.target
    claim.decided_by_id, claim.decided_at = actor.id, utcnow()
    db.session.flush()
    log.info(
        "supplier claim %s %s by %s: %s -> %s",
        claim.number,
        action,
        actor_name(actor),
        from_status,
        claim.status,
    )
    return claim


def allowed_claim_actions(claim: SupplierClaim, user) -> list[str]:
    """The supplier's answers *user* may record on *claim* now."""
    return allowed_steps(states.CLAIM_TRANSITIONS, {}, claim, user)
