"""Faulty-part returns (旧件返厂): opened from a store, a van or a visit, shipped back, received and inspected
(states.RETURN_TRANSITIONS), with the supplier's warranty worked out on opening. Operations flush and never
commit."""

import logging
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from fieldservice.auth.permissions import can
from fieldservice.core.clock import add_months, local_date, today
from fieldservice.core.errors import Forbidden
from fieldservice.core.models import get_or_404, utcnow
from fieldservice.customers.models import Equipment
from fieldservice.engineers.models import Engineer
from fieldservice.engineers.operations import engineer_for_user
from fieldservice.extensions import db
from fieldservice.parts import states
from fieldservice.parts.claims import create_claim
from fieldservice.parts.models import Part, ReturnOrder, StockMovement, VisitPart, Warehouse
from fieldservice.parts.operations import (
    actor_id,
    actor_name,
    allowed_steps,
    check_step,
    invalid,
    is_engineer,
    next_number,
)
from fieldservice.parts.permissions import RETURNS_HANDLE
from fieldservice.parts.stock import Move, default_central, location, move_stock, van_of_user

log = logging.getLogger("fieldservice.parts")


def supplier_warranty(
    part: Part, serial: str | None, equipment_id: int | None, failed_on: date
) -> tuple[date | None, date | None, bool]:
    """(installed on, supplier warranty until, failed inside it): the install date from the serial's history
    (when the company installed that unit) or else from the equipment's install date."""
    installed_on = None
    if serial and part.serial_tracked:
        installed_at = db.session.scalar(
            sa.select(sa.func.max(StockMovement.at)).where(
                StockMovement.part_id == part.id,
                StockMovement.serial == serial,
                StockMovement.reason == "use",
            )
        )
        installed_on = local_date(installed_at) if installed_at else None
    if installed_on is None and equipment_id is not None:
        equipment = db.session.get(Equipment, equipment_id)
        installed_on = equipment.installed_on if equipment else None
    if installed_on is None:
        return None, None, False
    return warranty_from(part, installed_on, failed_on)


def warranty_from(part: Part, start: date, failed_on: date) -> tuple[date, date, bool]:
    """(start, supplier warranty until, failed inside it); a part with no warranty months has no cover at
    all."""
    until = add_months(start, part.supplier_warranty_months)
    return start, until, part.supplier_warranty_months > 0 and failed_on <= until


def open_removed_return(
    row: VisitPart, part: Part, sr, visit, engineer: Engineer, actor, failed_on: date
) -> ReturnOrder:
    # A serial we do not track (the part is not serial-tracked) is kept on the return order only.
    serial = row.old_serial if part.serial_tracked else None
    installed_on, until, in_warranty = supplier_warranty(part, row.old_serial, sr.equipment_id, failed_on)
    order = ReturnOrder(
        number=next_number("RO"),
        status="opened",
        part_id=part.id,
        qty=row.qty,
        serial=row.old_serial,
        request_id=sr.id,
        visit_id=visit.id,
        equipment_id=sr.equipment_id,
        engineer_id=engineer.id,
        source_warehouse_id=location("customer").id,
        removed_at=visit.finished_at or utcnow(),
        installed_on=installed_on,
        supplier_warranty_until=until,
        in_supplier_warranty=in_warranty,
        opened_by_id=actor_id(actor),
        fault_description=visit.fault or visit.cause,
    )
    db.session.add(order)
    db.session.flush()
    move_stock(
        [Move(part.id, row.qty, order.source_warehouse_id, location("returns").id, serial)],
        reason="removal",
        actor=actor,
        request_id=sr.id,
        visit_id=visit.id,
        return_order_id=order.id,
    )
    log.info("return %s opened for visit %s (%s x%s)", order.number, visit.id, part.part_number, row.qty)
    return order


def open_return(data: dict, actor) -> ReturnOrder:
    """A faulty unit found in a store or van (dead on arrival, damaged): into the returns pipeline."""
    part = get_or_404(Part, data["part_id"], "part")
    if is_engineer(actor):
        source = van_of_user(actor)
        if data.get("warehouse_id") not in (None, source.id):
            raise Forbidden("not_your_van", "An engineer returns parts from their own van only.")
    elif data.get("warehouse_id"):
        source = get_or_404(Warehouse, data["warehouse_id"], "warehouse")
    else:
        raise invalid({"warehouse_id": "Name the warehouse the faulty part is in."})
    if source.kind not in states.STOCK_KINDS:
        raise invalid({"warehouse_id": "Faulty parts are returned from a warehouse or a van."})
    serial = (data.get("serial") or "").strip() or None
    if part.serial_tracked and (not serial or data["qty"] != 1):
        raise invalid({"serial": "Serial-tracked parts are returned one unit at a time, by serial."})
    if serial and not part.serial_tracked:
        raise invalid({"serial": "This part is not serial-tracked."})
    failed_on = today()
    installed_on, until, in_warranty = None, None, False
    if part.serial_tracked:
        installed_on, until, in_warranty = supplier_warranty(part, serial, None, failed_on)
    if installed_on is None:
        # Never installed: the warranty runs from the day the company received the unit(s).
        received = _last_receipt(part, serial)
        if received is not None:
            installed_on, until, in_warranty = warranty_from(part, received, failed_on)
    order = ReturnOrder(
        number=next_number("RO"),
        status="opened",
        part_id=part.id,
        qty=data["qty"],
        serial=serial,
        engineer_id=source.engineer_id,
        source_warehouse_id=source.id,
        removed_at=utcnow(),
        installed_on=installed_on,
        supplier_warranty_until=until,
        in_supplier_warranty=in_warranty,
        fault_description=data.get("fault_description"),
        opened_by_id=actor_id(actor),
    )
    db.session.add(order)
    db.session.flush()
    move_stock(
        [Move(part.id, order.qty, source.id, location("returns").id, serial)],
        reason="return",
        actor=actor,
        return_order_id=order.id,
        note=data.get("fault_description"),
    )
    log.info("return %s opened by %s from %s", order.number, actor_name(actor), source.code)
    return order


def _last_receipt(part: Part, serial: str | None) -> date | None:
    query = sa.select(sa.func.max(StockMovement.at)).where(
        StockMovement.part_id == part.id, StockMovement.reason == "receipt"
    )
    if serial:
        query = query.where(StockMovement.serial == serial)
    at = db.session.scalar(query)
    return local_date(at) if at else None


def visible_returns(user) -> sa.Select:
    query = sa.select(ReturnOrder).order_by(ReturnOrder.id.desc())
    if is_engineer(user):
        engineer = engineer_for_user(user)
        query = query.where(ReturnOrder.engineer_id == (engineer.id if engineer else -1))
    return query


def can_see_return(user, order: ReturnOrder) -> bool:
    if not is_engineer(user):
        return True
    engineer = engineer_for_user(user)
    return engineer is not None and order.engineer_id == engineer.id


def _guard_return_ship(order: ReturnOrder, actor) -> None:
    if is_engineer(actor) and not can_see_return(actor, order):
        raise Forbidden("not_yours", "Only the engineer holding the part (or a manager) ships it back.")


_RETURN_GUARDS = {"ship": _guard_return_ship}


def allowed_return_actions(order: ReturnOrder, user) -> list[str]:
    actions = allowed_steps(states.RETURN_TRANSITIONS, _RETURN_GUARDS, order, user)
    if order.status == "inspected" and order.claim is None and order.in_supplier_warranty and can(user, RETURNS_HANDLE):
        actions.append("claim")
    return actions


def perform_return(order: ReturnOrder, action: str, actor, version: int | None, **payload) -> ReturnOrder:
    """Take one step of the return state machine (states.RETURN_TRANSITIONS)."""
    transition = check_step(states.RETURN_TRANSITIONS, _RETURN_GUARDS, order, action, actor, version, "return")
    from_status = order.status
    _RETURN_STEPS[action](order, actor, **payload)
    order.status = transition.target
    db.session.flush()
    log.info("return %s %s by %s: %s -> %s", order.number, action, actor_name(actor), from_status, order.status)
    return order


def _return_ship(order: ReturnOrder, actor, tracking_number: str | None = None, **_) -> None:
    order.shipped_at = utcnow()
    order.tracking_number = tracking_number


def _return_receive(order: ReturnOrder, actor, warehouse_id: int | None = None, **_) -> None:
    warehouse = get_or_404(Warehouse, warehouse_id, "warehouse") if warehouse_id else default_central()
    if warehouse.kind not in ("central", "regional"):
        raise invalid({"warehouse_id": "Returns are received at a central or regional warehouse."})
    order.receiving_warehouse_id = warehouse.id
    order.received_at = utcnow()


def _return_inspect(
    order: ReturnOrder,
    actor,
    refurbished_qty: int = 0,
    scrapped_qty: int = 0,
    note: str | None = None,
    claim: bool = True,
    claim_amount: Decimal | None = None,
    **_,
) -> None:
    if refurbished_qty < 0 or scrapped_qty < 0 or refurbished_qty + scrapped_qty != order.qty:
        raise invalid({"refurbished_qty": f"Refurbished and scrapped units must add up to {order.qty}."})
    part = order.part
    serial = order.serial if part.serial_tracked else None
    returns = location("returns")
    if refurbished_qty:
        move_stock(
            [Move(part.id, refurbished_qty, returns.id, order.receiving_warehouse_id, serial)],
            reason="refurbish",
            actor=actor,
            return_order_id=order.id,
            request_id=order.request_id,
            note=note,
        )
    if scrapped_qty:
        move_stock(
            [Move(part.id, scrapped_qty, returns.id, location("scrap").id, serial)],
            reason="scrap",
            actor=actor,
            return_order_id=order.id,
            request_id=order.request_id,
            note=note,
        )
    order.refurbished_qty, order.scrapped_qty = refurbished_qty, scrapped_qty
    order.inspection_note = note
    order.inspected_at = utcnow()
    if claim and order.in_supplier_warranty and part.supplier_id is not None:
        create_claim(order, actor, claim_amount, None)


_RETURN_STEPS = {"ship": _return_ship, "receive": _return_receive, "inspect": _return_inspect}
