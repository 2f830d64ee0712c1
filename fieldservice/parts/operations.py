"""The parts rules: the only writers of the parts tables. Operations flush and never commit.

Stock changes only through move_stock(), which locks the level rows it touches in one fixed order (warehouse
id, part id) with SELECT ... FOR UPDATE, refuses to go below zero, and writes one StockMovement per line."""

import calendar
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from fieldservice.auth.models import Role, User
from fieldservice.auth.permissions import can
from fieldservice.core import numbering
from fieldservice.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from fieldservice.core.models import check_version, conflict_insert, get_or_404, utcnow
from fieldservice.customers.models import Equipment, Product
from fieldservice.engineers.models import Engineer
from fieldservice.engineers.operations import engineer_for_user
from fieldservice.extensions import db
from fieldservice.parts import states
from fieldservice.parts.models import (
    Part,
    PartRequest,
    PartRequestEvent,
    PartRequestLine,
    ReturnOrder,
    SerialUnit,
    StockLevel,
    StockMovement,
    Supplier,
    SupplierClaim,
    VisitPart,
    Warehouse,
)
from fieldservice.parts.permissions import (
    PART_REQUESTS_DECIDE,
    RETURNS_HANDLE,
    STOCK_MOVE,
    STOCK_READ,
)

log = logging.getLogger("fieldservice.parts")


# --- small helpers ------------------------------------------------------------------------------------------


def actor_name(actor) -> str:
    if actor is None:
        return "system"
    return getattr(actor, "display_name", None) or getattr(actor, "username", "") or "system"


def _actor_id(actor) -> int | None:
    return getattr(actor, "id", None)


def site_today(at: datetime | None = None) -> date:
    return (at or utcnow()).astimezone(ZoneInfo(current_app.config["FIELDSERVICE_TIMEZONE"])).date()


def add_months(day: date, months: int) -> date:
    year, month0 = divmod(day.month - 1 + months, 12)
    year += day.year
    return date(year, month0 + 1, min(day.day, calendar.monthrange(year, month0 + 1)[1]))


def next_number(prefix: str) -> str:
    """PREFIX-YYYYMMDD-NNNN, unique under concurrent use: an upsert on the day's counter row."""
    day = site_today().strftime("%Y%m%d")
    return numbering.next_number(f"{prefix}-{day}")


def _invalid(fields: dict[str, str], message: str = "Some fields are not valid.") -> ValidationFailed:
    return ValidationFailed("validation_failed", message, fields)


# --- suppliers and the catalog ------------------------------------------------------------------------------


def _check_supplier_name_free(name: str, exclude_id: int | None = None) -> None:
    query = sa.select(Supplier.id).where(Supplier.name == name)
    if exclude_id:
        query = query.where(Supplier.id != exclude_id)
    if db.session.scalar(query):
        raise ValidationFailed(
            "duplicate", "A supplier with that name exists.", {"name": "That name is taken."}
        )


def create_supplier(data: dict, actor) -> Supplier:
    _check_supplier_name_free(data["name"])
    supplier = Supplier(**data)
    db.session.add(supplier)
    db.session.flush()
    log.info("supplier %s %r created by %s", supplier.id, supplier.name, actor_name(actor))
    return supplier


def update_supplier(supplier: Supplier, data: dict, actor) -> Supplier:
    check_version(supplier, data.pop("version", None))
    if "name" in data:
        _check_supplier_name_free(data["name"], supplier.id)
    for key, value in data.items():
        setattr(supplier, key, value)
    db.session.flush()
    log.info("supplier %s updated by %s: %s", supplier.id, actor_name(actor), sorted(data))
    return supplier


def _check_part_refs(data: dict, exclude_id: int | None = None) -> list[Product] | None:
    fields = {}
    if "part_number" in data:
        query = sa.select(Part.id).where(Part.part_number == data["part_number"])
        if exclude_id:
            query = query.where(Part.id != exclude_id)
        if db.session.scalar(query):
            fields["part_number"] = "That part number is taken."
    if data.get("supplier_id") is not None and db.session.get(Supplier, data["supplier_id"]) is None:
        fields["supplier_id"] = "No such supplier."
    products = None
    if "product_ids" in data:
        ids = sorted(set(data["product_ids"] or []))
        products = db.session.scalars(sa.select(Product).where(Product.id.in_(ids))).all() if ids else []
        missing = set(ids) - {p.id for p in products}
        if missing:
            fields["product_ids"] = f"No such product: {', '.join(map(str, sorted(missing)))}."
    if fields:
        raise _invalid(fields)
    return products


def create_part(data: dict, actor) -> Part:
    data = dict(data)
    products = _check_part_refs(data)
    data.pop("product_ids", None)
    part = Part(**data, products=products or [])
    db.session.add(part)
    db.session.flush()
    log.info("part %s %s created by %s", part.id, part.part_number, actor_name(actor))
    return part


def update_part(part: Part, data: dict, actor) -> Part:
    data = dict(data)
    check_version(part, data.pop("version", None))
    if (
        "serial_tracked" in data
        and data["serial_tracked"] != part.serial_tracked
        and _has_stock_history(part)
    ):
        # Existing units would have no serials (or serials the ledger then ignores): stock could not be
        # counted.
        raise Conflict(
            "part_has_stock",
            "Serial tracking cannot change once the part has stock movements.",
            fields={"serial_tracked": "The part has stock movements already."},
        )
    products = _check_part_refs(data, part.id)
    data.pop("product_ids", None)
    for key, value in data.items():
        setattr(part, key, value)
    if products is not None:
        part.products = products
    db.session.flush()
    log.info("part %s updated by %s: %s", part.id, actor_name(actor), sorted(data))
    return part


def _has_stock_history(part: Part) -> bool:
    return (
        db.session.scalar(sa.select(StockMovement.id).where(StockMovement.part_id == part.id).limit(1))
        is not None
    )


def search_parts(
    q: str = "",
    category: str | None = None,
    supplier_id: int | None = None,
    product_id: int | None = None,
    active: bool | None = True,
) -> sa.Select:
    query = sa.select(Part).order_by(Part.category, Part.part_number)
    if q:
        like = f"%{q.strip()}%"
        query = query.where(sa.or_(Part.part_number.ilike(like), Part.name.ilike(like)))
    if category:
        query = query.where(Part.category == category)
    if supplier_id:
        query = query.where(Part.supplier_id == supplier_id)
    if product_id:
        query = query.where(Part.products.any(Product.id == product_id))
    if active is not None:
        query = query.where(Part.active == active)
    return query


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
        raise _invalid(
            {"kind": "Only central and regional warehouses are created by hand; vans come with engineers."}
        )
    if db.session.scalar(sa.select(Warehouse.id).where(Warehouse.code == data["code"])):
        raise ValidationFailed("duplicate", "That warehouse code is taken.", {"code": "That code is taken."})
    warehouse = Warehouse(**data)
    db.session.add(warehouse)
    db.session.flush()
    log.info(
        "warehouse %s %s (%s) created by %s", warehouse.id, warehouse.code, warehouse.kind, actor_name(actor)
    )
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
        sa.select(Warehouse)
        .where(Warehouse.kind == "central", Warehouse.active)
        .order_by(Warehouse.id)
        .limit(1)
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
            actor_id=_actor_id(actor),
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


def _validate_moves(
    moves: list[Move], rule: states.Reason, reason: str, warehouses: dict, parts: dict
) -> None:
    serials = Counter((m.part_id, m.serial) for m in moves if m.serial is not None)
    for i, m in enumerate(moves):
        part, source, target = parts[m.part_id], warehouses[m.from_id], warehouses[m.to_id]
        if not isinstance(m.qty, int) or m.qty < 1:
            raise _invalid({f"lines.{i}.qty": "Must be a whole number of at least 1."})
        if m.from_id == m.to_id:
            raise _invalid({f"lines.{i}": "Stock cannot move to where it already is."})
        if source.kind not in rule.sources or target.kind not in rule.targets:
            raise Conflict(
                "movement_not_allowed",
                f"A {reason} cannot move stock from {warehouse_label(source)} to {warehouse_label(target)}.",
            )
        if not (source.active and target.active):
            raise Conflict("warehouse_inactive", "Stock cannot move to or from an inactive warehouse.")
        if part.serial_tracked:
            if not m.serial:
                raise _invalid(
                    {f"lines.{i}.serial": f"{part.part_number} is serial-tracked: name the serial."}
                )
            if m.qty != 1:
                raise _invalid({f"lines.{i}.qty": "A serial-tracked unit moves one at a time."})
            if serials[(m.part_id, m.serial)] > 1:
                raise _invalid({f"lines.{i}.serial": f"Serial {m.serial} is named twice."})
        elif m.serial is not None:
            raise _invalid({f"lines.{i}.serial": f"{part.part_number} is not serial-tracked."})


def _lock_levels(keys: list[tuple[int, int]]) -> dict[tuple[int, int], StockLevel]:
    """Lock the level rows of *keys* in (warehouse, part) order, making the missing ones (qty 0) first."""
    if not keys:
        return {}
    condition = sa.tuple_(StockLevel.warehouse_id, StockLevel.part_id).in_(keys)
    existing = set(
        db.session.execute(sa.select(StockLevel.warehouse_id, StockLevel.part_id).where(condition))
    )
    missing = [k for k in keys if k not in existing]
    if missing:
        now = utcnow()
        db.session.execute(
            conflict_insert(StockLevel.__table__)
            .values(
                [
                    {"warehouse_id": w, "part_id": p, "qty": 0, "version": 1, "updated_at": now}
                    for w, p in missing
                ]
            )
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
            where = (
                warehouse_label(db.session.get(Warehouse, unit.warehouse_id)) if unit else "nowhere on record"
            )
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
    moves = _expand_lines(data["lines"], location("supplier").id, warehouse.id)
    return move_stock(moves, reason="receipt", actor=actor, note=data.get("note"))


def transfer_stock(data: dict, actor) -> list[StockMovement]:
    """Move stock between stores and vans directly (a manager's correction of where stock sits)."""
    source = get_or_404(Warehouse, data["from_warehouse_id"], "warehouse")
    target = get_or_404(Warehouse, data["to_warehouse_id"], "warehouse")
    moves = _expand_lines(data["lines"], source.id, target.id)
    return move_stock(moves, reason="transfer", actor=actor, note=data.get("note"))


def adjust_stock(data: dict, actor) -> list[StockMovement]:
    """A stocktake correction in one warehouse or van: each line's signed qty is found (+) or missing (-)
    units,
    booked against the stocktake-difference location with the counter's explanation."""
    warehouse = get_or_404(Warehouse, data["warehouse_id"], "warehouse")
    if warehouse.kind not in states.STOCK_KINDS:
        raise _invalid({"warehouse_id": "Stock is counted in a warehouse or a van."})
    difference = location("adjustment").id
    found = [ln for ln in data["lines"] if ln["qty"] > 0]
    missing = [{**ln, "qty": -ln["qty"]} for ln in data["lines"] if ln["qty"] < 0]
    moves = _expand_lines(found, difference, warehouse.id) + _expand_lines(missing, warehouse.id, difference)
    return move_stock(moves, reason="adjust", actor=actor, note=data["note"])


def _expand_lines(lines: list[dict], from_id: int, to_id: int, prefix: str = "lines") -> list[Move]:
    """Lines of {part_id, qty, serials?} as moves: one per serial for serial-tracked parts."""
    if not lines:
        return []
    parts = {
        p.id: p
        for p in db.session.scalars(sa.select(Part).where(Part.id.in_({ln["part_id"] for ln in lines})))
    }
    moves, fields = [], {}
    for i, line in enumerate(lines):
        part = parts.get(line["part_id"])
        serials = [s.strip() for s in (line.get("serials") or []) if s and s.strip()]
        if part is None:
            fields[f"{prefix}.{i}.part_id"] = "No such part."
        elif part.serial_tracked:
            if len(serials) != line["qty"] or len(set(serials)) != len(serials):
                fields[f"{prefix}.{i}.serials"] = (
                    f"Name {line['qty']} different serial numbers, one per unit."
                )
            moves.extend(Move(part.id, 1, from_id, to_id, s) for s in serials)
        elif serials:
            fields[f"{prefix}.{i}.serials"] = "This part is not serial-tracked."
        else:
            moves.append(Move(part.id, line["qty"], from_id, to_id))
    if fields:
        raise _invalid(fields)
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
        like = f"%{q.strip()}%"
        query = query.where(sa.or_(Part.part_number.ilike(like), Part.name.ilike(like)))
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
        query = query.where(SerialUnit.serial.ilike(f"%{q.strip()}%"))
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
        .outerjoin(
            StockLevel, sa.and_(StockLevel.warehouse_id == Warehouse.id, StockLevel.part_id == Part.id)
        )
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
    rows = db.session.execute(
        _low_stock_query(Warehouse, Part, qty).order_by(Warehouse.id, Part.part_number)
    ).all()
    return [{"warehouse": w, "part": p, "qty": q, "threshold": p.reorder_threshold} for w, p, q in rows]


def count_low_stock() -> int:
    return db.session.scalar(_low_stock_query(sa.func.count()))


def movements(filters: dict) -> sa.Select:
    """The ledger, newest first, filtered by part, warehouse (either side), reason, time and reference."""
    query = sa.select(StockMovement).order_by(StockMovement.at.desc(), StockMovement.id.desc())
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


# --- the state machines (states.*_TRANSITIONS) --------------------------------------------------------------


def _no_guard(obj, user) -> None:
    return None


def allowed_steps(table: dict, guards: dict, obj, user) -> list[str]:
    """The steps of *table* that *user* may take on *obj* now: right status, role, and ownership guard."""
    actions = []
    for action, transition in table.items():
        if obj.status not in transition.sources or not can(user, transition.permission):
            continue
        try:
            guards.get(action, _no_guard)(obj, user)
        except Forbidden:
            continue
        actions.append(action)
    return actions


def check_step(table: dict, guards: dict, obj, action: str, actor, version: int | None, what: str):
    """Refuse a step that does not exist (404), that the role or ownership forbids (403), sent with a stale
    version or from the wrong status (409); return its transition."""
    transition = table.get(action)
    if transition is None:
        raise NotFound("unknown_action", f"No action {action!r} on a {what}.")
    if not can(actor, transition.permission):
        raise Forbidden("forbidden", f"Your role ({actor.role}) may not {action} a {what}.")
    guards.get(action, _no_guard)(obj, actor)
    check_version(obj, version)
    if obj.status not in transition.sources:
        raise Conflict(
            "illegal_transition",
            f"The step {action} is not possible on a {what} that is {obj.status} "
            f"(only when {' or '.join(transition.sources)}).",
        )
    return transition


# --- part requests ------------------------------------------------------------------------------------------


def _is_engineer(user) -> bool:
    return getattr(user, "role", None) == Role.ENGINEER


def _request_for(request_id: int | None):
    if request_id is None:
        return None
    from fieldservice.requests.models import ServiceRequest

    sr = db.session.get(ServiceRequest, request_id)
    if sr is None:
        raise _invalid({"request_id": "No such service request."})
    return sr


def _sr_event(request_id: int | None, action: str, actor, note: str, data: dict) -> None:
    """Put a parts step on the linked service request's timeline (no status change there)."""
    if request_id is None:
        return
    from fieldservice.requests.models import ServiceRequest
    from fieldservice.requests.operations import add_event

    sr = db.session.get(ServiceRequest, request_id)
    add_event(sr, action, actor, sr.status, sr.status, note=note, data=data)


def _check_lines(lines: list[dict]) -> None:
    fields = {}
    seen = set()
    parts = {
        p.id: p
        for p in db.session.scalars(sa.select(Part).where(Part.id.in_({ln["part_id"] for ln in lines})))
    }
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
        raise _invalid(fields)


def apply_part_request(data: dict, actor) -> PartRequest:
    """An engineer (for their own van) or a dispatcher or manager (for any engineer's van or store) asks
    for parts."""
    sr = _request_for(data.get("request_id"))
    if _is_engineer(actor):
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
            raise _invalid(
                {"target_warehouse_id": "Parts are sent to an engineer's van or a regional warehouse."}
            )
    elif data.get("engineer_id") or (sr is not None and sr.engineer_id):
        engineer = db.session.get(Engineer, data.get("engineer_id") or sr.engineer_id)
        if engineer is None:
            raise _invalid({"engineer_id": "No such engineer."})
        target = ensure_van(engineer)
    else:
        raise _invalid({"engineer_id": "Name the engineer (or the warehouse) the parts are for."})
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


def _pr_event(
    part_request: PartRequest, action: str, actor, from_status: str | None, note: str | None
) -> None:
    db.session.add(
        PartRequestEvent(
            part_request=part_request,
            at=utcnow(),
            actor_id=_actor_id(actor),
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
    if _is_engineer(user):
        engineer = engineer_for_user(user)
        van_ids = sa.select(Warehouse.id).where(Warehouse.engineer_id == (engineer.id if engineer else -1))
        query = query.where(
            sa.or_(PartRequest.requested_by_id == user.id, PartRequest.target_warehouse_id.in_(van_ids))
        )
    return query


def can_see_part_request(user, part_request: PartRequest) -> bool:
    if not _is_engineer(user):
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


def perform_part_request(
    part_request: PartRequest, action: str, actor, version: int | None, **payload
) -> PartRequest:
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
        raise _invalid({"reason": "Say why the request is rejected."})
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
    source = (
        get_or_404(Warehouse, source_warehouse_id, "warehouse") if source_warehouse_id else default_central()
    )
    if source.kind not in ("central", "regional"):
        raise _invalid({"source_warehouse_id": "Parts ship from a central or regional warehouse."})
    chosen: dict[int, list[str]] = {}
    for item in serials or []:
        chosen.setdefault(item["part_id"], []).append(item["serial"])
    lines = [
        {"part_id": ln.part_id, "qty": ln.qty, "serials": chosen.get(ln.part_id)} for ln in part_request.lines
    ]
    moves = _expand_lines(lines, source.id, location("transit").id)
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
    moves = [
        Move(m.part_id, m.qty, m.to_warehouse_id, part_request.target_warehouse_id, m.serial) for m in shipped
    ]
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


# --- parts used on a visit ----------------------------------------------------------------------------------


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
    engineer = db.session.get(Engineer, visit.engineer_id)
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
                k.replace("lines.", "parts.").replace(".serial", ".new_serial"): v
                for k, v in exc.fields.items()
            }
        elif exc.code == "insufficient_stock":
            exc.fields = {
                f"parts.{r.line_no}.qty": exc.message for r in rows if r.part_id == exc.extra["part_id"]
            }
        raise
    failed_on = site_today(visit.finished_at or visit.arrived_at)
    for row in rows:
        part = parts[row.part_id]
        if row.old_serial or part.return_required:
            row.return_order_id = _open_removed_return(row, part, sr, visit, engineer, actor, failed_on).id
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
                fields[f"parts.{i}.new_serial"] = (
                    f"{part.part_number} is serial-tracked: give the new part's serial."
                )
            if not old_serial and part.return_required:
                fields[f"parts.{i}.old_serial"] = (
                    f"{part.part_number} goes back for inspection: give the old serial."
                )
            if ln.get("qty") != 1:
                fields.setdefault(f"parts.{i}.qty", "One serial-tracked unit per line.")
        elif new_serial:
            fields[f"parts.{i}.new_serial"] = f"{part.part_number} is not serial-tracked."
        if new_serial and new_serial == old_serial:
            fields[f"parts.{i}.old_serial"] = "The old part's serial is the new part's serial."
    if fields:
        raise _invalid(fields, "Some parts lines are not valid.")
    return parts


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
        installed_on = site_today(installed_at) if installed_at else None
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


def _open_removed_return(
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
        opened_by_id=_actor_id(actor),
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


def on_visit_recorded(visit, request=None, data=None, **_) -> None:
    """requests.signals.visit_recorded: take the visit's parts from the van; raising refuses the whole
    visit."""
    lines = (data or {}).get("parts") or []
    if not lines:
        return
    actor = db.session.get(User, visit.created_by_id) if visit.created_by_id else None
    if actor is None and visit.engineer_id:
        actor = db.session.get(Engineer, visit.engineer_id).user
    consume_visit_parts(visit, request if request is not None else visit.request, lines, actor)


def _connect_signals() -> None:
    try:
        from fieldservice.requests import signals
    except ModuleNotFoundError as exc:  # requests not built yet: nothing to subscribe to
        if exc.name != "fieldservice.requests.signals":
            raise
        return
    signals.visit_recorded.connect(on_visit_recorded)


_connect_signals()


# --- faulty-part returns and supplier claims ----------------------------------------------------------------


def open_return(data: dict, actor) -> ReturnOrder:
    """A faulty unit found in a store or van (dead on arrival, damaged): into the returns pipeline."""
    part = get_or_404(Part, data["part_id"], "part")
    if _is_engineer(actor):
        source = van_of_user(actor)
        if data.get("warehouse_id") not in (None, source.id):
            raise Forbidden("not_your_van", "An engineer returns parts from their own van only.")
    elif data.get("warehouse_id"):
        source = get_or_404(Warehouse, data["warehouse_id"], "warehouse")
    else:
        raise _invalid({"warehouse_id": "Name the warehouse the faulty part is in."})
    if source.kind not in states.STOCK_KINDS:
        raise _invalid({"warehouse_id": "Faulty parts are returned from a warehouse or a van."})
    serial = (data.get("serial") or "").strip() or None
    if part.serial_tracked and (not serial or data["qty"] != 1):
        raise _invalid({"serial": "Serial-tracked parts are returned one unit at a time, by serial."})
    if serial and not part.serial_tracked:
        raise _invalid({"serial": "This part is not serial-tracked."})
    failed_on = site_today()
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
        opened_by_id=_actor_id(actor),
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
    return site_today(at) if at else None


def visible_returns(user) -> sa.Select:
    query = sa.select(ReturnOrder).order_by(ReturnOrder.id.desc())
    if _is_engineer(user):
        engineer = engineer_for_user(user)
        query = query.where(ReturnOrder.engineer_id == (engineer.id if engineer else -1))
    return query


def can_see_return(user, order: ReturnOrder) -> bool:
    if not _is_engineer(user):
        return True
    engineer = engineer_for_user(user)
    return engineer is not None and order.engineer_id == engineer.id


def _guard_return_ship(order: ReturnOrder, actor) -> None:
    if _is_engineer(actor) and not can_see_return(actor, order):
        raise Forbidden("not_yours", "Only the engineer holding the part (or a manager) ships it back.")


_RETURN_GUARDS = {"ship": _guard_return_ship}


def allowed_return_actions(order: ReturnOrder, user) -> list[str]:
    actions = allowed_steps(states.RETURN_TRANSITIONS, _RETURN_GUARDS, order, user)
    if (
        order.status == "inspected"
        and order.claim is None
        and order.in_supplier_warranty
        and can(user, RETURNS_HANDLE)
    ):
        actions.append("claim")
    return actions


def perform_return(order: ReturnOrder, action: str, actor, version: int | None, **payload) -> ReturnOrder:
    """Take one step of the return state machine (states.RETURN_TRANSITIONS)."""
    transition = check_step(
        states.RETURN_TRANSITIONS, _RETURN_GUARDS, order, action, actor, version, "return"
    )
    from_status = order.status
    _RETURN_STEPS[action](order, actor, **payload)
    order.status = transition.target
    db.session.flush()
    log.info(
        "return %s %s by %s: %s -> %s", order.number, action, actor_name(actor), from_status, order.status
    )
    return order


def _return_ship(order: ReturnOrder, actor, tracking_number: str | None = None, **_) -> None:
    order.shipped_at = utcnow()
    order.tracking_number = tracking_number


def _return_receive(order: ReturnOrder, actor, warehouse_id: int | None = None, **_) -> None:
    warehouse = get_or_404(Warehouse, warehouse_id, "warehouse") if warehouse_id else default_central()
    if warehouse.kind not in ("central", "regional"):
        raise _invalid({"warehouse_id": "Returns are received at a central or regional warehouse."})
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
        raise _invalid({"refurbished_qty": f"Refurbished and scrapped units must add up to {order.qty}."})
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
        _create_claim(order, actor, claim_amount, None)


_RETURN_STEPS = {"ship": _return_ship, "receive": _return_receive, "inspect": _return_inspect}


def _create_claim(order: ReturnOrder, actor, amount: Decimal | None, note: str | None):
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
        submitted_by_id=_actor_id(actor),
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
    return _create_claim(order, actor, amount, note)


def perform_claim(
    claim, action: str, actor, version: int | None, amount: Decimal | None = None, reason: str | None = None
):
    """Record the supplier's answer (states.CLAIM_TRANSITIONS): accepted with an amount, or rejected with
    a reason."""
    transition = check_step(states.CLAIM_TRANSITIONS, {}, claim, action, actor, version, "supplier claim")
    if action == "accept":
        if amount is None or amount < 0 or amount > claim.claimed_amount:
            raise _invalid(
                {"amount": f"The accepted amount is between 0 and the claimed {claim.claimed_amount}."}
            )
        claim.accepted_amount = amount
    else:
        if not reason or not reason.strip():
            raise _invalid({"reason": "Say why the supplier rejected the claim."})
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


def catalog_for(engineer: Engineer) -> list[Part]:
    """The active parts of the engineer's skills (product categories)."""
    categories = engineer.skill_categories
    if not categories:
        return []
    return list(
        db.session.scalars(
            sa.select(Part)
            .where(Part.active, Part.category.in_(categories))
            .order_by(Part.category, Part.part_number)
        )
    )


def can_read_stock(user) -> bool:
    return can(user, STOCK_READ)
