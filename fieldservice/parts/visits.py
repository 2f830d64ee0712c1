"""Parts used on a visit: the subscriber of requests.signals.visit_recorded takes them out of the engineer's van
and opens a return for each old part that goes back. Operations flush and never commit."""

import logging

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from fieldservice.auth.models import User
from fieldservice.core.clock import local_date
from fieldservice.core.errors import Conflict
from fieldservice.engineers.operations import get_engineer
from fieldservice.extensions import db
from fieldservice.parts.models import Part, VisitPart
from fieldservice.parts.operations import invalid
from fieldservice.parts.returns import open_removed_return
from fieldservice.parts.stock import Move, ensure_van, location, move_stock
from fieldservice.requests import signals

log = logging.getLogger("fieldservice.parts")


def consume_visit_parts(visit, sr, lines: list[dict], actor) -> list[VisitPart]:
    """Take a visit's parts out of its engineer's van (to the customer's site) and open returns for old parts.

    Runs once per visit whatever the number of deliveries: the VisitPart rows, unique per (visit, line), are
    written first; a second delivery finds them and changes nothing.
    """
    if not lines:
        return []
    existing = db.session.scalars(sa.select(VisitPart).where(VisitPart.visit_id == visit.id)).all()
    if existing:
        log.info("visit %s parts already taken: delivery ignored", visit.id)
        return list(existing)
    parts = _check_visit_lines(lines)
    engineer = get_engineer(visit.engineer_id)
    van = ensure_van(engineer)
    rows = [
        VisitPart(
            visit_id=visit.id,
            line_no=i,
            part_id=ln["part_id"],
            qty=ln["qty"],
            unit_price=parts[ln["part_id"]].unit_price,
            warehouse_id=van.id,
            old_serial=(ln.get("old_serial") or "").strip() or None,
            new_serial=(ln.get("new_serial") or "").strip() or None,
        )
        for i, ln in enumerate(lines)
    ]
    try:
        with db.session.begin_nested():
            db.session.add_all(rows)
            db.session.flush()
    except IntegrityError:
        # Another delivery of the same visit committed meanwhile: its parts were taken then.
        log.info("visit %s parts taken by a concurrent delivery", visit.id)
        return list(db.session.scalars(sa.select(VisitPart).where(VisitPart.visit_id == visit.id)))
    customer_site = location("customer")
    moves = [Move(r.part_id, r.qty, van.id, customer_site.id, r.new_serial) for r in rows]
    try:
        move_stock(
            moves,
            reason="use",
            actor=actor,
            request_id=sr.id,
            visit_id=visit.id,
            equipment_id=sr.equipment_id,
        )
    except Conflict as exc:
        # One move per line: name the visit's "parts" field the engineer has to fix.
        if exc.code == "serial_not_here":
            exc.fields = {
                k.replace("lines.", "parts.").replace(".serial", ".new_serial"): v for k, v in exc.fields.items()
            }
        elif exc.code == "insufficient_stock":
            exc.fields = {f"parts.{r.line_no}.qty": exc.message for r in rows if r.part_id == exc.extra["part_id"]}
        raise
    failed_on = local_date(visit.finished_at or visit.arrived_at)
    for row in rows:
        part = parts[row.part_id]
        if row.old_serial or part.return_required:
            row.return_order_id = open_removed_return(row, part, sr, visit, engineer, actor, failed_on).id
    db.session.flush()
    log.info("visit %s took %s part line(s) from %s", visit.id, len(rows), van.code)
    return rows


def _check_visit_lines(lines: list[dict]) -> dict[int, Part]:
    ids = set()
    fields = {}
    for i, ln in enumerate(lines):
        if not isinstance(ln.get("part_id"), int):
            fields[f"parts.{i}.part_id"] = "Name the part."
        else:
            ids.add(ln["part_id"])
        if not isinstance(ln.get("qty"), int) or isinstance(ln.get("qty"), bool) or ln["qty"] < 1:
            fields[f"parts.{i}.qty"] = "Must be a whole number of at least 1."
    parts = {p.id: p for p in db.session.scalars(sa.select(Part).where(Part.id.in_(ids)))} if ids else {}
    for i, ln in enumerate(lines):
        part = parts.get(ln.get("part_id"))
        if part is None:
            fields.setdefault(f"parts.{i}.part_id", "No such part.")
            continue
        new_serial = (ln.get("new_serial") or "").strip()
        old_serial = (ln.get("old_serial") or "").strip()
        if part.serial_tracked:
            if not new_serial:
                fields[f"parts.{i}.new_serial"] = f"{part.part_number} is serial-tracked: give the new part's serial."
            if not old_serial and part.return_required:
                fields[f"parts.{i}.old_serial"] = f"{part.part_number} goes back for inspection: give the old serial."
            if ln.get("qty") != 1:
                fields.setdefault(f"parts.{i}.qty", "One serial-tracked unit per line.")
        elif new_serial:
            fields[f"parts.{i}.new_serial"] = f"{part.part_number} is not serial-tracked."
        if new_serial and new_serial == old_serial:
            fields[f"parts.{i}.old_serial"] = "The old part's serial is the new part's serial."
    if fields:
        raise invalid(fields, "Some parts lines are not valid.")
    return parts


def on_visit_recorded(visit, request=None, data=None, **_) -> None:
    """requests.signals.visit_recorded: take the visit's parts from the van; raising refuses the whole
    visit."""
    lines = (data or {}).get("parts") or []
    if not lines:
        return
    actor = db.session.get(User, visit.created_by_id) if visit.created_by_id else None
    if actor is None and visit.engineer_id:
        actor = get_engineer(visit.engineer_id).user
    consume_visit_parts(visit, request if request is not None else visit.request, lines, actor)


signals.visit_recorded.connect(on_visit_recorded)
