"""Locations (warehouses, vans, the virtual places) and the stock ledger: receipts, transfers, stocktake
adjustments, levels, serial units and low-stock alerts. Operations flush and never commit.

Stock changes only through move_stock(), which locks the level rows it touches in one fixed order (warehouse
id, part id) with SELECT ... FOR UPDATE, refuses to go below zero, and writes one StockMovement per line."""

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from fieldservice.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from fieldservice.core.models import check_version, conflict_insert, get_or_404, utcnow
from fieldservice.core.search import contains_text
from fieldservice.engineers.models import Engineer
from fieldservice.engineers.operations import engineer_for_user
from fieldservice.extensions import db
from fieldservice.parts import states
from fieldservice.parts.models import Part, SerialUnit, StockLevel, StockMovement, Warehouse
from fieldservice.parts.operations import actor_id, actor_name, invalid

log = logging.getLogger("fieldservice.parts")


# --- locations ----------------------------------------------------------------------------------------------


def _get_or_create_warehouse(code: str, **values) -> Warehouse:
    """The warehouse with *code*, made if missing; safe when two transactions make it at once."""
    warehouse = db.session.scalar(sa.select(Warehouse).where(Warehouse.code == code))
    if warehouse is not None:
        return warehouse
    now = utcnow()
    db.session.execute(
        conflict_insert(Warehouse.__table__)
        .values(code=code, version=1, active=True, created_at=now, updated_at=now, **values)
        .on_conflict_do_nothing(index_elements=["code"])
    )
    return db.session.scalar(sa.select(Warehouse).where(Warehouse.code == code))


def location(kind: str) -> Warehouse:
    """The shared virtual location of *kind* (transit, returns, scrap, supplier, customer)."""
    if not states.LOCATION_KINDS[kind].virtual:
        raise ValueError(f"{kind} is not a virtual location")
    return _get_or_create_warehouse(kind.upper(), name=kind, kind=kind)


def ensure_van(engineer: Engineer) -> Warehouse:
    """The engineer's van, made on first use."""
    van = db.session.scalar(sa.select(Warehouse).where(Warehouse.engineer_id == engineer.id))
    if van is not None:
        return van
    return _get_or_create_warehouse(
        f"VAN-{engineer.id}", name=engineer.name, kind="van", engineer_id=engineer.id, zone=engineer.zone
    )


def van_of_user(user) -> Warehouse:
    engineer = engineer_for_user(user)
    if engineer is None:
        raise Forbidden("not_an_engineer", "Only an engineer with a profile has a van.")
    return ensure_van(engineer)


def create_warehouse(data: dict, actor) -> Warehouse:
    if data["kind"] not in ("central", "regional"):
        raise invalid({"kind": "Only central and regional warehouses are created by hand; vans come with engineers."})
    if db.session.scalar(sa.select(Warehouse.id).where(Warehouse.code == data["code"])):
        raise ValidationFailed("duplicate", "That warehouse code is taken.", {"code": "That code is taken."})
    warehouse = Warehouse(**data)
    db.session.add(warehouse)
    db.session.flush()
    log.info("warehouse %s %s (%s) created by %s", warehouse.id, warehouse.code, warehouse.kind, actor_name(actor))
    return warehouse


def update_warehouse(warehouse: Warehouse, data: dict, actor) -> Warehouse:
    check_version(warehouse, data.pop("version", None))
    for key, value in data.items():
        setattr(warehouse, key, value)
    db.session.flush()
    log.info("warehouse %s updated by %s: %s", warehouse.id, actor_name(actor), sorted(data))
    return warehouse


def default_central() -> Warehouse:
    warehouse = db.session.scalar(
        sa.select(Warehouse).where(Warehouse.kind == "central", Warehouse.active).order_by(Warehouse.id).limit(1)
    )
    if warehouse is None:
        raise Conflict("no_central_warehouse", "There is no central warehouse: create one first.")
    return warehouse


def warehouse_label(warehouse: Warehouse | None) -> str:
    if warehouse is None:
        return ""
    kind = states.LOCATION_KINDS.get(warehouse.kind)
    if kind is not None and kind.virtual:
        return str(kind.label)
    if warehouse.kind == "van":
        return f"{kind.label} · {warehouse.name}"
    return warehouse.name


# --- the ledger ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """One line for move_stock: qty units of a part (or the one unit *serial*) from one location to
    another."""

    part_id: int
    qty: int
    from_id: int
    to_id: int
    serial: str | None = None


def move_stock(
    moves: Iterable[Move],
    *,
    reason: str,
    actor,
    request_id: int | None = None,
    visit_id: int | None = None,
    part_request_id: int | None = None,
    return_order_id: int | None = None,
    equipment_id: int | None = None,
    note: str | None = None,
) -> list[StockMovement]:
    """Move stock and write the ledger; all lines or none. The only code that changes a StockLevel.

    Refuses (409 insufficient_stock, naming the part, the location and what is available) when a tracked
    location
    would go below zero; nothing has changed then.
    """
    rule = states.REASONS[reason]
    moves = list(moves)
    if not moves:
        return []
    warehouses = _load(Warehouse, {m.from_id for m in moves} | {m.to_id for m in moves}, "warehouse")
    parts = _load(Part, {m.part_id for m in moves}, "part")
    _validate_moves(moves, rule, reason, warehouses, parts)

    tracked = lambda warehouse_id: states.LOCATION_KINDS[warehouses[warehouse_id].kind].tracked  # noqa: E731
    keys = sorted({(w, m.part_id) for m in moves for w in (m.from_id, m.to_id) if tracked(w)})
    levels = _lock_levels(keys)
    units = _lock_serial_units(moves, warehouses)

    # Check everything before changing anything: a refusal leaves the session as it was.
    available = {key: level.qty for key, level in levels.items()}
    for m in moves:
        key = (m.from_id, m.part_id)
        if key in available:
            if available[key] < m.qty:
                part, warehouse = parts[m.part_id], warehouses[m.from_id]
                raise Conflict(
                    "insufficient_stock",
                    f"Not enough {part.part_number} {part.name} at {warehouse_label(warehouse)}: "
                    f"{available[key]} available, {m.qty} needed.",
                    part_id=part.id,
                    part_number=part.part_number,
                    warehouse_id=warehouse.id,
                    warehouse=warehouse_label(warehouse),
                    available=available[key],
                    requested=m.qty,
                )
            available[key] -= m.qty
        if (m.to_id, m.part_id) in available:
            available[(m.to_id, m.part_id)] += m.qty

    now = utcnow()
    movements = []
    for m in moves:
        if (m.from_id, m.part_id) in levels:
            levels[(m.from_id, m.part_id)].qty -= m.qty
        if (m.to_id, m.part_id) in levels:
            levels[(m.to_id, m.part_id)].qty += m.qty
        if m.serial is not None:
            unit = units[(m.part_id, m.serial)]
            unit.warehouse_id = m.to_id
            unit.status = states.LOCATION_KINDS[warehouses[m.to_id].kind].serial_status
            if rule.condition:
                unit.condition = rule.condition
            if warehouses[m.to_id].kind == "customer":
                unit.equipment_id = equipment_id
        movement = StockMovement(
            at=now,
            part_id=m.part_id,
            qty=m.qty,
            from_warehouse_id=m.from_id,
            to_warehouse_id=m.to_id,
            serial=m.serial,
            reason=reason,
            request_id=request_id,
            visit_id=visit_id,
            part_request_id=part_request_id,
            return_order_id=return_order_id,
            actor_id=actor_id(actor),
            actor_label=actor_name(actor),
            note=note,
        )
        db.session.add(movement)
        movements.append(movement)
    db.session.flush()
    log.info(
        "%s: %s by %s (%s)",
        reason,
        ", ".join(
            f"{parts[m.part_id].part_number}x{m.qty}{'#' + m.serial if m.serial else ''} "
            f"{warehouses[m.from_id].code}->{warehouses[m.to_id].code}"
            for m in moves
        ),
        actor_name(actor),
        ", ".join(
            f"{k}={v}"
            for k, v in (
                ("request", request_id),
                ("visit", visit_id),
                ("part_request", part_request_id),
                ("return", return_order_id),
            )
            if v
        )
        or "no reference",
    )
    return movements


def _load(model, ids: set[int], what: str) -> dict:
    rows = {row.id: row for row in db.session.scalars(sa.select(model).where(model.id.in_(ids)))}
    missing = ids - set(rows)
    if missing:
        raise NotFound("not_found", f"No {what} with id {min(missing)}.")
    return rows


def _validate_moves(moves: list[Move], rule: states.Reason, reason: str, warehouses: dict, parts: dict) -> None:
    serials = Counter((m.part_id, m.serial) for m in moves if m.serial is not None)
    for i, m in enumerate(moves):
        part, source, target = parts[m.part_id], warehouses[m.from_id], warehouses[m.to_id]
        if not isinstance(m.qty, int) or m.qty < 1:
            raise invalid({f"lines.{i}.qty": "Must be a whole number of at least 1."})
        if m.from_id == m.to_id:
            raise invalid({f"lines.{i}": "Stock cannot move to where it already is."})
        if source.kind not in rule.sources or target.kind not in rule.targets:
            raise Conflict(
                "movement_not_allowed",
                f"A {reason} cannot move stock from {warehouse_label(source)} to {warehouse_label(target)}.",
            )
        if not (source.active and target.active):
            raise Conflict("warehouse_inactive", "Stock cannot move to or from an inactive warehouse.")
        if part.serial_tracked:
            if not m.serial:
                raise invalid({f"lines.{i}.serial": f"{part.part_number} is serial-tracked: name the serial."})
            if m.qty != 1:
                raise invalid({f"lines.{i}.qty": "A serial-tracked unit moves one at a time."})
            if serials[(m.part_id, m.serial)] > 1:
                raise invalid({f"lines.{i}.serial": f"Serial {m.serial} is named twice."})
        elif m.serial is not None:
            raise invalid({f"lines.{i}.serial": f"{part.part_number} is not serial-tracked."})


def _lock_levels(keys: list[tuple[int, int]]) -> dict[tuple[int, int], StockLevel]:
    """Lock the level rows of *keys* in (warehouse, part) order, making the missing ones (qty 0) first."""
    if not keys:
        return {}
    condition = sa.tuple_(StockLevel.warehouse_id, StockLevel.part_id).in_(keys)
    existing = set(db.session.execute(sa.select(StockLevel.warehouse_id, StockLevel.part_id).where(condition)))
    missing = [k for k in keys if k not in existing]
    if missing:
        now = utcnow()
        db.session.execute(
            conflict_insert(StockLevel.__table__)
            .values([{"warehouse_id": w, "part_id": p, "qty": 0, "version": 1, "updated_at": now} for w, p in missing])
            .on_conflict_do_nothing(index_elements=["warehouse_id", "part_id"])
        )
    # One statement, sorted: PostgreSQL takes the row locks in this order, so two movements never deadlock.
    rows = db.session.scalars(
        sa.select(StockLevel)
        .where(condition)
        .order_by(StockLevel.warehouse_id, StockLevel.part_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    return {(row.warehouse_id, row.part_id): row for row in rows}


def _lock_serial_units(moves: list[Move], warehouses: dict) -> dict[tuple[int, str], SerialUnit]:
    """Lock the serial units moved; a unit new to the company (from a supplier or a customer's site) is
    made there."""
    keys = sorted({(m.part_id, m.serial) for m in moves if m.serial is not None})
    if not keys:
        return {}
    condition = sa.tuple_(SerialUnit.part_id, SerialUnit.serial).in_(keys)
    units = {
        (u.part_id, u.serial): u
        for u in db.session.scalars(
            sa.select(SerialUnit)
            .where(condition)
            .order_by(SerialUnit.part_id, SerialUnit.serial)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    for i, m in enumerate(moves):
        if m.serial is None:
            continue
        unit = units.get((m.part_id, m.serial))
        source = warehouses[m.from_id]
        if unit is None and not states.LOCATION_KINDS[source.kind].tracked:
            condition_now = "faulty" if source.kind == "customer" else "new"
            unit = SerialUnit(
                part_id=m.part_id,
                serial=m.serial,
                warehouse_id=source.id,
                condition=condition_now,
                status=states.LOCATION_KINDS[source.kind].serial_status,
            )
            db.session.add(unit)
            units[(m.part_id, m.serial)] = unit
        elif unit is None or unit.warehouse_id != source.id:
            where = warehouse_label(db.session.get(Warehouse, unit.warehouse_id)) if unit else "nowhere on record"
            raise Conflict(
                "serial_not_here",
                f"Serial {m.serial} is not at {warehouse_label(source)} (it is {where}).",
                fields={f"lines.{i}.serial": f"Serial {m.serial} is not at {warehouse_label(source)}."},
            )
    db.session.flush()
    return units


def receive_stock(data: dict, actor) -> list[StockMovement]:
    """Goods in from a supplier: movements from the supplier location into a central or regional warehouse."""
    warehouse = get_or_404(Warehouse, data["warehouse_id"], "warehouse")
    moves = expand_lines(data["lines"], location("supplier").id, warehouse.id)
    return move_stock(moves, reason="receipt", actor=actor, note=data.get("note"))


def transfer_stock(data: dict, actor) -> list[StockMovement]:
    """Move stock between stores and vans directly (a manager's correction of where stock sits)."""
    source = get_or_404(Warehouse, data["from_warehouse_id"], "warehouse")
    target = get_or_404(Warehouse, data["to_warehouse_id"], "warehouse")
    moves = expand_lines(data["lines"], source.id, target.id)
    return move_stock(moves, reason="transfer", actor=actor, note=data.get("note"))


def adjust_stock(data: dict, actor) -> list[StockMovement]:
    """A stocktake correction in one warehouse or van: each line's signed qty is found (+) or missing (-)
    units,
    booked against the stocktake-difference location with the counter's explanation."""
    warehouse = get_or_404(Warehouse, data["warehouse_id"], "warehouse")
    if warehouse.kind not in states.STOCK_KINDS:
        raise invalid({"warehouse_id": "Stock is counted in a warehouse or a van."})
    difference = location("adjustment").id
    found = [ln for ln in data["lines"] if ln["qty"] > 0]
    missing = [{**ln, "qty": -ln["qty"]} for ln in data["lines"] if ln["qty"] < 0]
    moves = expand_lines(found, difference, warehouse.id) + expand_lines(missing, warehouse.id, difference)
    return move_stock(moves, reason="adjust", actor=actor, note=data["note"])


def expand_lines(lines: list[dict], from_id: int, to_id: int, prefix: str = "lines") -> list[Move]:
    """Lines of {part_id, qty, serials?} as moves: one per serial for serial-tracked parts."""
    if not lines:
        return []
    parts = {p.id: p for p in db.session.scalars(sa.select(Part).where(Part.id.in_({ln["part_id"] for ln in lines})))}
    moves, fields = [], {}
    for i, line in enumerate(lines):
        part = parts.get(line["part_id"])
        serials = [s.strip() for s in (line.get("serials") or []) if s and s.strip()]
        if part is None:
            fields[f"{prefix}.{i}.part_id"] = "No such part."
        elif part.serial_tracked:
            if len(serials) != line["qty"] or len(set(serials)) != len(serials):
                fields[f"{prefix}.{i}.serials"] = f"Name {line['qty']} different serial numbers, one per unit."
            moves.extend(Move(part.id, 1, from_id, to_id, s) for s in serials)
        elif serials:
            fields[f"{prefix}.{i}.serials"] = "This part is not serial-tracked."
        else:
            moves.append(Move(part.id, line["qty"], from_id, to_id))
    if fields:
        raise invalid(fields)
    return moves


def stock_levels(
    warehouse_id: int | None = None,
    part_id: int | None = None,
    kinds=states.STOCK_KINDS,
    low_only: bool = False,
    q: str = "",
    include_empty: bool = False,
) -> sa.Select:
    query = (
        sa.select(StockLevel)
        .join(StockLevel.part)
        .join(StockLevel.warehouse)
        .where(Warehouse.kind.in_(kinds))
        .order_by(Warehouse.kind, Warehouse.name, Part.part_number)
    )
    if warehouse_id:
        query = query.where(StockLevel.warehouse_id == warehouse_id)
    if part_id:
        query = query.where(StockLevel.part_id == part_id)
    if q:
        query = query.where(contains_text(q, Part.part_number, Part.name))
    if low_only:
        query = query.where(StockLevel.qty <= Part.reorder_threshold, Part.reorder_threshold > 0)
    elif not include_empty:
        query = query.where(StockLevel.qty > 0)
    return query


def serial_units(part_id: int | None = None, warehouse_id: int | None = None, q: str = "") -> sa.Select:
    """Where each serial-tracked unit is now, with its condition."""
    query = sa.select(SerialUnit).join(SerialUnit.part).order_by(Part.part_number, SerialUnit.serial)
    if part_id:
        query = query.where(SerialUnit.part_id == part_id)
    if warehouse_id:
        query = query.where(SerialUnit.warehouse_id == warehouse_id)
    if q:
        query = query.where(contains_text(q, SerialUnit.serial))
    return query


def _low_stock_query(*columns) -> sa.Select:
    """Active parts at or under their reorder threshold: in the central warehouse every part counts
    (never stocked
    = zero); a regional warehouse only carries the parts it has been stocked with."""
    qty = sa.func.coalesce(StockLevel.qty, 0)
    return (
        sa.select(*columns)
        .select_from(Warehouse)
        .join(Part, sa.true())
        .outerjoin(StockLevel, sa.and_(StockLevel.warehouse_id == Warehouse.id, StockLevel.part_id == Part.id))
        .where(
            Warehouse.kind.in_(("central", "regional")),
            Warehouse.active,
            Part.active,
            Part.reorder_threshold > 0,
        )
        .where(qty <= Part.reorder_threshold)
        .where(sa.or_(Warehouse.kind == "central", StockLevel.id.is_not(None)))
    )


def low_stock() -> list[dict]:
    """The low-stock alerts, by warehouse and part number."""
    qty = sa.func.coalesce(StockLevel.qty, 0)
    rows = db.session.execute(_low_stock_query(Warehouse, Part, qty).order_by(Warehouse.id, Part.part_number)).all()
    return [{"warehouse": w, "part": p, "qty": q, "threshold": p.reorder_threshold} for w, p, q in rows]


def count_low_stock() -> int:
    return db.session.scalar(_low_stock_query(sa.func.count()))


def movements(filters: dict) -> sa.Select:
    """The ledger, newest first, filtered by part, warehouse (either side), reason, time and reference."""
    query = (
        sa.select(StockMovement)
        .order_by(StockMovement.at.desc(), StockMovement.id.desc())
        # Each row shows its part, both places and the numbers of what it was for: loaded per page, not per row.
        .options(
            selectinload(StockMovement.part),
            selectinload(StockMovement.from_warehouse),
            selectinload(StockMovement.to_warehouse),
            selectinload(StockMovement.request),
            selectinload(StockMovement.part_request),
            selectinload(StockMovement.return_order),
        )
    )
    if filters.get("part_id"):
        query = query.where(StockMovement.part_id == filters["part_id"])
    if filters.get("warehouse_id"):
        w = filters["warehouse_id"]
        query = query.where(sa.or_(StockMovement.from_warehouse_id == w, StockMovement.to_warehouse_id == w))
    if filters.get("reason"):
        query = query.where(StockMovement.reason == filters["reason"])
    if filters.get("serial"):
        query = query.where(StockMovement.serial == filters["serial"])
    if filters.get("since"):
        query = query.where(StockMovement.at >= filters["since"])
    if filters.get("until"):
        query = query.where(StockMovement.at < filters["until"])
    for ref in ("request_id", "visit_id", "part_request_id", "return_order_id"):
        if filters.get(ref):
            query = query.where(getattr(StockMovement, ref) == filters[ref])
    return query


# --- the engineer's van -------------------------------------------------------------------------------------


def van_contents(van: Warehouse) -> list[dict]:
    """What is in a van: per part, the quantity and (serial-tracked) the serials."""
    levels = db.session.scalars(
        sa.select(StockLevel)
        .join(StockLevel.part)
        .where(StockLevel.warehouse_id == van.id, StockLevel.qty > 0)
        .order_by(Part.category, Part.part_number)
    ).all()
    serials: dict[int, list[str]] = {}
    for unit in db.session.scalars(
        sa.select(SerialUnit).where(SerialUnit.warehouse_id == van.id).order_by(SerialUnit.serial)
    ):
        serials.setdefault(unit.part_id, []).append(unit.serial)
    return [{"part": lv.part, "qty": lv.qty, "serials": serials.get(lv.part_id, [])} for lv in levels]
