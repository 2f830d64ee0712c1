"""Part requests: an engineer (or a dispatcher for them) applies for parts, a manager approves, the warehouse
ships, the receiver signs (states.PART_REQUEST_TRANSITIONS). Operations flush and never commit."""

import logging

import sqlalchemy as sa

from fieldservice.auth.permissions import can
from fieldservice.core.errors import Forbidden, NotFound
from fieldservice.core.models import get_or_404, utcnow
from fieldservice.engineers.models import Engineer
from fieldservice.engineers.operations import engineer_for_user, get_engineer
from fieldservice.extensions import db
from fieldservice.parts import states
from fieldservice.parts.models import Part, PartRequest, PartRequestEvent, PartRequestLine, StockMovement, Warehouse
from fieldservice.parts.operations import (
    actor_id,
    actor_name,
    allowed_steps,
    check_step,
    invalid,
    is_engineer,
    next_number,
)
from fieldservice.parts.permissions import PART_REQUESTS_DECIDE, STOCK_MOVE
from fieldservice.parts.stock import Move, default_central, ensure_van, expand_lines, location, move_stock, van_of_user
from fieldservice.requests.operations import add_event, get_request

log = logging.getLogger("fieldservice.parts")


def _request_for(request_id: int | None):
    if request_id is None:
        return None
    try:
        return get_request(request_id)
    except NotFound:
        raise invalid({"request_id": "No such service request."}) from None


def _sr_event(request_id: int | None, action: str, actor, note: str, data: dict) -> None:
    """Put a parts step on the linked service request's timeline (no status change there)."""
    if request_id is None:
        return
    sr = get_request(request_id)
    add_event(sr, action, actor, sr.status, sr.status, note=note, data=data)


def _check_lines(lines: list[dict]) -> None:
    fields = {}
    seen = set()
    parts = {p.id: p for p in db.session.scalars(sa.select(Part).where(Part.id.in_({ln["part_id"] for ln in lines})))}
    for i, line in enumerate(lines):
        part = parts.get(line["part_id"])
        if part is None:
            fields[f"lines.{i}.part_id"] = "No such part."
        elif not part.active:
            fields[f"lines.{i}.part_id"] = "This part is no longer stocked."
        elif part.id in seen:
            fields[f"lines.{i}.part_id"] = "This part is on another line already."
        seen.add(line["part_id"])
    if not lines:
        fields["lines"] = "Ask for at least one part."
    if fields:
        raise invalid(fields)


def apply_part_request(data: dict, actor) -> PartRequest:
    """An engineer (for their own van) or a dispatcher or manager (for any engineer's van or store) asks
    for parts."""
    sr = _request_for(data.get("request_id"))
    if is_engineer(actor):
        van = van_of_user(actor)
        if data.get("target_warehouse_id") not in (None, van.id) or data.get("engineer_id") not in (
            None,
            van.engineer_id,
        ):
            raise Forbidden("not_your_van", "An engineer applies for parts for their own van only.")
        if sr is not None and sr.engineer_id != van.engineer_id:
            raise Forbidden("not_your_request", "That service request is not assigned to you.")
        target = van
    elif data.get("target_warehouse_id"):
        target = get_or_404(Warehouse, data["target_warehouse_id"], "warehouse")
        if target.kind not in ("van", "regional"):
            raise invalid({"target_warehouse_id": "Parts are sent to an engineer's van or a regional warehouse."})
    elif data.get("engineer_id") or (sr is not None and sr.engineer_id):
        try:
            engineer = get_engineer(data.get("engineer_id") or sr.engineer_id)
        except NotFound:
            raise invalid({"engineer_id": "No such engineer."}) from None
        target = ensure_van(engineer)
    else:
        raise invalid({"engineer_id": "Name the engineer (or the warehouse) the parts are for."})
    _check_lines(data["lines"])
    part_request = PartRequest(
        number=next_number("PR"),
        status="applied",
        requested_by_id=actor.id,
        request_id=sr.id if sr else None,
        target_warehouse_id=target.id,
        note=data.get("note"),
        lines=[PartRequestLine(part_id=ln["part_id"], qty=ln["qty"]) for ln in data["lines"]],
    )
    db.session.add(part_request)
    db.session.flush()
    _pr_event(part_request, "apply", actor, None, data.get("note"))
    log.info("part request %s applied by %s for %s", part_request.number, actor_name(actor), target.code)
    return part_request


def _pr_event(part_request: PartRequest, action: str, actor, from_status: str | None, note: str | None) -> None:
    db.session.add(
        PartRequestEvent(
            part_request=part_request,
            at=utcnow(),
            actor_id=actor_id(actor),
            actor_label=actor_name(actor),
            action=action,
            from_status=from_status,
            to_status=part_request.status,
            note=note,
        )
    )
    lines = ", ".join(f"{ln.part.part_number} {ln.part.name} x{ln.qty}" for ln in part_request.lines)
    _sr_event(
        part_request.request_id,
        f"part_request_{action}",
        actor,
        f"{part_request.number}: {lines}" + (f" ({note})" if note else ""),
        {"part_request_id": part_request.id, "number": part_request.number, "status": part_request.status},
    )
    db.session.flush()


def visible_part_requests(user) -> sa.Select:
    query = sa.select(PartRequest).order_by(PartRequest.id.desc())
    if is_engineer(user):
        engineer = engineer_for_user(user)
        van_ids = sa.select(Warehouse.id).where(Warehouse.engineer_id == (engineer.id if engineer else -1))
        query = query.where(
            sa.or_(PartRequest.requested_by_id == user.id, PartRequest.target_warehouse_id.in_(van_ids))
        )
    return query


def can_see_part_request(user, part_request: PartRequest) -> bool:
    if not is_engineer(user):
        return True
    return part_request.requested_by_id == user.id or _is_receiver(user, part_request)


def _is_receiver(user, part_request: PartRequest) -> bool:
    target = part_request.target_warehouse
    if target.kind == "van":
        engineer = engineer_for_user(user)
        return engineer is not None and target.engineer_id == engineer.id
    return can(user, STOCK_MOVE)


def allowed_part_request_actions(part_request: PartRequest, user) -> list[str]:
    return allowed_steps(states.PART_REQUEST_TRANSITIONS, _PR_GUARDS, part_request, user)


def _guard_sign(part_request: PartRequest, actor) -> None:
    if not _is_receiver(actor, part_request):
        raise Forbidden("not_the_receiver", "Only the engineer whose van the parts go to signs for them.")


def _guard_cancel(part_request: PartRequest, actor) -> None:
    if part_request.requested_by_id != actor.id and not can(actor, PART_REQUESTS_DECIDE):
        raise Forbidden("not_the_applicant", "Only the applicant or a manager withdraws a part request.")


_PR_GUARDS = {"sign": _guard_sign, "cancel": _guard_cancel}


def perform_part_request(part_request: PartRequest, action: str, actor, version: int | None, **payload) -> PartRequest:
    """Take one step of the part request state machine (states.PART_REQUEST_TRANSITIONS)."""
    if not can_see_part_request(actor, part_request):
        raise Forbidden("not_yours", "This part request is not yours.")
    transition = check_step(
        states.PART_REQUEST_TRANSITIONS, _PR_GUARDS, part_request, action, actor, version, "part request"
    )
    from_status = part_request.status
    note = _PR_STEPS[action](part_request, actor, **payload)
    part_request.status = transition.target
    db.session.flush()
    _pr_event(part_request, action, actor, from_status, note)
    log.info(
        "part request %s %s by %s: %s -> %s",
        part_request.number,
        action,
        actor_name(actor),
        from_status,
        part_request.status,
    )
    return part_request


def _step_approve(part_request: PartRequest, actor, note: str | None = None, **_) -> str | None:
    part_request.decided_by_id, part_request.decided_at = actor.id, utcnow()
    return note


def _step_reject(part_request: PartRequest, actor, reason: str | None = None, **_) -> str:
    if not reason or not reason.strip():
        raise invalid({"reason": "Say why the request is rejected."})
    part_request.decided_by_id, part_request.decided_at = actor.id, utcnow()
    part_request.reject_reason = reason.strip()
    return part_request.reject_reason


def _step_ship(
    part_request: PartRequest,
    actor,
    source_warehouse_id: int | None = None,
    serials: list[dict] | None = None,
    note: str | None = None,
    **_,
) -> str | None:
    source = get_or_404(Warehouse, source_warehouse_id, "warehouse") if source_warehouse_id else default_central()
    if source.kind not in ("central", "regional"):
        raise invalid({"source_warehouse_id": "Parts ship from a central or regional warehouse."})
    chosen: dict[int, list[str]] = {}
    for item in serials or []:
        chosen.setdefault(item["part_id"], []).append(item["serial"])
    lines = [{"part_id": ln.part_id, "qty": ln.qty, "serials": chosen.get(ln.part_id)} for ln in part_request.lines]
    moves = expand_lines(lines, source.id, location("transit").id)
    move_stock(
        moves,
        reason="ship",
        actor=actor,
        part_request_id=part_request.id,
        request_id=part_request.request_id,
        note=note,
    )
    part_request.source_warehouse_id = source.id
    part_request.shipped_by_id, part_request.shipped_at = actor.id, utcnow()
    return note


def _step_sign(part_request: PartRequest, actor, note: str | None = None, **_) -> str | None:
    # What was shipped, unit for unit (the ledger knows the serials), goes from transit into the target.
    shipped = db.session.scalars(
        sa.select(StockMovement)
        .where(StockMovement.part_request_id == part_request.id, StockMovement.reason == "ship")
        .order_by(StockMovement.id)
    ).all()
    moves = [Move(m.part_id, m.qty, m.to_warehouse_id, part_request.target_warehouse_id, m.serial) for m in shipped]
    move_stock(
        moves,
        reason="sign",
        actor=actor,
        part_request_id=part_request.id,
        request_id=part_request.request_id,
        note=note,
    )
    part_request.signed_by_id, part_request.signed_at = actor.id, utcnow()
    return note


def _step_cancel(part_request: PartRequest, actor, reason: str | None = None, **_) -> str | None:
    return reason


_PR_STEPS = {
    "approve": _step_approve,
    "reject": _step_reject,
    "ship": _step_ship,
    "sign": _step_sign,
    "cancel": _step_cancel,
}


def engineers_by_name() -> list[Engineer]:
    """The engineers parts can be applied for, for the part request form's choices."""
    return list(db.session.scalars(sa.select(Engineer).order_by(Engineer.name)))
