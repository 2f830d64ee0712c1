"""The rules of settlement: the repair-item catalog, the items done on a visit, verification (核销) and the
engineers' statements. The only writers of the settlement tables; they flush and never commit."""

import codecs
import csv
import io
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from fieldservice.auth.models import Role
from fieldservice.core.clock import add_months, site_zone
from fieldservice.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from fieldservice.core.models import check_version, utcnow
from fieldservice.core.numbering import next_number
from fieldservice.customers.models import Product
from fieldservice.engineers.models import Engineer
from fieldservice.engineers.operations import engineer_for_user
from fieldservice.extensions import db
from fieldservice.parts.models import StockMovement, VisitPart
from fieldservice.requests import signals
from fieldservice.requests.models import ServiceRequest, Visit, VisitCost
from fieldservice.requests.operations import add_event
from fieldservice.requests.states import add_action_labels
from fieldservice.settlement.models import (
    PRICINGS,
    RepairItem,
    Statement,
    StatementLine,
    Verification,
    VisitItem,
)
from fieldservice.settlement.states import (
    APPROVED,
    PENDING,
    RETURNED,
    STATEMENT_TRANSITIONS,
    VERIFICATION_TRANSITIONS,
)

log = logging.getLogger("fieldservice.settlement")

# The entries settlement adds to a request's timeline, labelled beside the loop's own.
add_action_labels(
    {
        "visit_items": _l("Repair items recorded"),
        "verification_approve": _l("Visit verified"),
        "verification_return": _l("Visit returned to the engineer for correction"),
        "verification_resubmit": _l("Corrected visit resubmitted"),
    }
)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# The site's standard labour rate for work no agreement prices (config CONTRACTS_LABOUR_RATE overrides it).
STANDARD_LABOUR_RATE = Decimal("120.00")
OVERRUN_FACTOR = Decimal("1.5")
MAX_HOURS = Decimal("1000")
MAX_PRICE = Decimal("10000000")


def money(value) -> Decimal:
    """*value* as money: two places, half up (the one quantize of settlement and billing)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def standard_labour_rate() -> Decimal:
    return money(current_app.config.get("CONTRACTS_LABOUR_RATE", STANDARD_LABOUR_RATE))


def overrun_factor() -> Decimal:
    return Decimal(str(current_app.config.get("SETTLEMENT_OVERRUN_FACTOR", OVERRUN_FACTOR)))


def _who(actor) -> str:
    return actor.username if actor is not None else "system"


def _invalid(fields: dict[str, str], message: str = "Some fields are not valid.") -> ValidationFailed:
    return ValidationFailed("validation_failed", message, fields)


# ---------------------------------------------------------------- the repair-item catalog

ITEM_FIELDS = ("category", "code", "name_zh", "name_en", "standard_hours", "pricing", "fixed_price", "reimbursable")


def _decimal(value, field: str, fields: dict, maximum: Decimal) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        fields[field] = "Must be a number."
        return None
    if not number.is_finite() or number < 0 or number > maximum:
        fields[field] = f"Must be between 0 and {maximum}."
        return None
    return number.quantize(CENT, rounding=ROUND_HALF_UP)


def check_item(data: dict, exclude_id: int | None = None) -> dict:
    """The item's fields cleaned, or a 422 naming each bad one (API, console form and CSV import alike)."""
    fields: dict[str, str] = {}
    clean = {}
    for key in ("category", "code", "name_zh", "name_en"):
        value = (data.get(key) or "").strip() if isinstance(data.get(key), str | type(None)) else None
        limit = 40 if key == "code" else 80 if key == "category" else 200
        if not value:
            fields[key] = "Required."
        elif len(value) > limit:
            fields[key] = f"At most {limit} characters."
        clean[key] = value
    clean["standard_hours"] = _decimal(data.get("standard_hours"), "standard_hours", fields, MAX_HOURS)
    if clean["standard_hours"] is None:
        fields.setdefault("standard_hours", "Required.")
    pricing = data.get("pricing") or "hourly"
    if pricing not in PRICINGS:
        fields["pricing"] = "Either hourly or fixed."
    clean["pricing"] = pricing
    fixed_price = _decimal(data.get("fixed_price"), "fixed_price", fields, MAX_PRICE)
    if pricing == "fixed" and not fixed_price and "fixed_price" not in fields:
        fields["fixed_price"] = "A fixed-price item needs its price."
    clean["fixed_price"] = fixed_price if pricing == "fixed" else None
    clean["reimbursable"] = bool(data.get("reimbursable", False))
    if "active" in data:
        clean["active"] = bool(data["active"])
    if not fields:
        taken = sa.select(RepairItem.id).where(
            RepairItem.category == clean["category"], RepairItem.code == clean["code"]
        )
        if exclude_id is not None:
            taken = taken.where(RepairItem.id != exclude_id)
        if db.session.scalar(taken) is not None:
            fields["code"] = "That code is taken in this category."
    if fields:
        raise _invalid(fields)
    return clean


def create_repair_item(data: dict, actor) -> RepairItem:
    item = RepairItem(**check_item(data))
    db.session.add(item)
    db.session.flush()
    log.info("repair item %s %s/%s created by %s", item.id, item.category, item.code, _who(actor))
    return item


def update_repair_item(item: RepairItem, data: dict, actor) -> RepairItem:
    """Change an item (the lines already recorded on visits keep the standard they were done at)."""
    check_version(item, data.get("version"))
    current = {key: getattr(item, key) for key in (*ITEM_FIELDS, "active")}
    clean = check_item({**current, **{k: v for k, v in data.items() if k != "version"}}, exclude_id=item.id)
    for key, value in clean.items():
        setattr(item, key, value)
    db.session.flush()
    log.info("repair item %s updated by %s", item.id, _who(actor))
    return item


def search_repair_items(category: str | None = None, active: bool | None = None, q: str = "") -> sa.Select:
    query = sa.select(RepairItem).order_by(RepairItem.category, RepairItem.code)
    if category:
        query = query.where(RepairItem.category == category)
    if active is not None:
        query = query.where(RepairItem.active == active)
    if q:
        like = f"%{q.strip()}%"
        query = query.where(
            sa.or_(RepairItem.code.ilike(like), RepairItem.name_zh.ilike(like), RepairItem.name_en.ilike(like))
        )
    return query


def catalog_for(engineer: Engineer) -> list[RepairItem]:
    """The active items of the engineer's skills: the catalog the phone keeps offline."""
    categories = engineer.skill_categories
    if not categories:
        return []
    return list(db.session.scalars(search_repair_items(active=True).where(RepairItem.category.in_(categories))))


# ---------------------------------------------------------------- CSV import and export

CSV_COLUMNS = (
    "category",
    "code",
    "name_zh",
    "name_en",
    "standard_hours",
    "pricing",
    "fixed_price",
    "reimbursable",
    "active",
)
TRUE_WORDS = {"1", "true", "yes", "y", "是"}
FALSE_WORDS = {"0", "false", "no", "n", "否", ""}


def neutralise_cell(value) -> str:
    """A cell a spreadsheet shows as text: one starting =, +, -, @, tab or CR would run as a formula."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def export_csv(items) -> bytes:
    """The catalog as UTF-8 CSV with a BOM (Excel reads the Chinese right), every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in items:
        writer.writerow(
            [
                neutralise_cell(v)
                for v in (
                    item.category,
                    item.code,
                    item.name_zh,
                    item.name_en,
                    item.standard_hours,
                    item.pricing,
                    item.fixed_price if item.fixed_price is not None else "",
                    "1" if item.reimbursable else "0",
                    "1" if item.active else "0",
                )
            ]
        )
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


@dataclass
class LineError:
    line: int
    field: str
    message: str


class ImportFailed(ValidationFailed):
    """A CSV import refused as a whole, with each bad line and field named."""

    def __init__(self, errors: list[LineError]):
        fields = {f"line {e.line}" + (f".{e.field}" if e.field else ""): e.message for e in errors}
        super().__init__("import_failed", f"{len(errors)} problem(s) in the file; nothing was imported.", fields)
        self.errors = errors


def _flag(value: str, line: int, field: str, errors: list) -> bool:
    word = (value or "").strip().lower()
    if word in TRUE_WORDS:
        return True
    if word not in FALSE_WORDS:
        errors.append(LineError(line, field, "Use 1 or 0."))
    return False


def import_csv(raw: bytes, actor) -> dict:
    """Create or update items from a CSV (keyed by category and code); all lines or none."""
    text = raw[len(codecs.BOM_UTF8) :] if raw.startswith(codecs.BOM_UTF8) else raw
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        try:
            decoded = text.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise ImportFailed([LineError(1, "", "The file is neither UTF-8 nor GBK text.")]) from exc
    rows = list(csv.reader(io.StringIO(decoded, newline="")))
    if not rows:
        raise ImportFailed([LineError(1, "", "The file is empty.")])
    header = [h.strip().lstrip("\ufeff") for h in rows[0]]
    missing = [c for c in CSV_COLUMNS[:6] if c not in header]
    if missing:
        raise ImportFailed([LineError(1, "", "Missing columns: " + ", ".join(missing) + ".")])
    errors: list[LineError] = []
    seen: dict[tuple[str, str], int] = {}
    created = updated = 0
    for number, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        record = dict(zip(header, cells, strict=False))
        # An exported file has its formula-looking cells quoted: take the quote back off.
        record = {k: (v[1:] if v.startswith("'") and v[1:2] in ("=", "+", "-", "@") else v) for k, v in record.items()}
        data = {k: record.get(k) for k in CSV_COLUMNS[:7]}
        data["reimbursable"] = _flag(record.get("reimbursable", ""), number, "reimbursable", errors)
        if (record.get("active") or "").strip():
            data["active"] = _flag(record["active"], number, "active", errors)
        key = ((data["category"] or "").strip(), (data["code"] or "").strip())
        if key in seen:
            errors.append(LineError(number, "code", f"The same item as line {seen[key]}."))
            continue
        seen[key] = number
        existing = db.session.scalar(
            sa.select(RepairItem).where(RepairItem.category == key[0], RepairItem.code == key[1])
        )
        try:
            with db.session.begin_nested():
                if existing is None:
                    create_repair_item(data, actor)
                    created += 1
                else:
                    update_repair_item(existing, data, actor)
                    updated += 1
        except ValidationFailed as exc:
            errors.extend(LineError(number, field, message) for field, message in (exc.fields or {}).items())
    if errors:
        raise ImportFailed(errors)
    log.info("repair items imported by %s: %s created, %s updated", _who(actor), created, updated)
    return {"created": created, "updated": updated}


# ---------------------------------------------------------------- the items done on a visit


def verification_of(visit_id: int) -> Verification | None:
    return db.session.scalar(sa.select(Verification).where(Verification.visit_id == visit_id))


def _check_lines(visit: Visit, lines: list[dict]) -> dict[int, RepairItem]:
    fields: dict[str, str] = {}
    ids = [ln.get("repair_item_id") for ln in lines]
    items = {}
    if ids:
        items = {i.id: i for i in db.session.scalars(sa.select(RepairItem).where(RepairItem.id.in_(ids)))}
    category = None
    if visit.request.product_id is not None:
        category = db.session.scalar(sa.select(Product.category).where(Product.id == visit.request.product_id))
    seen = set()
    for n, line in enumerate(lines):
        item = items.get(line.get("repair_item_id"))
        quantity = line.get("quantity")
        if item is None or not item.active:
            fields[f"items.{n}.repair_item_id"] = "No such active repair item."
        elif category is not None and item.category != category:
            fields[f"items.{n}.repair_item_id"] = "This item is for another product category."
        elif item.id in seen:
            fields[f"items.{n}.repair_item_id"] = "The same item twice: give its quantity instead."
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= 100:
            fields[f"items.{n}.quantity"] = "Must be a whole number from 1 to 100."
        seen.add(line.get("repair_item_id"))
    if fields:
        raise _invalid(fields, "Some repair item lines are not valid.")
    return items


def _may_change_items(visit: Visit, actor) -> None:
    if actor is None or actor.role in (Role.ADMIN, Role.MANAGER):
        return
    engineer = engineer_for_user(actor)
    if engineer is None or engineer.id != visit.engineer_id:
        raise Forbidden("not_visit_engineer", "Only the engineer of this visit, or a manager, may change its items.")


def set_visit_items(visit: Visit, lines: list[dict], actor, *, event: bool = True) -> list[VisitItem]:
    """Replace the repair items done on *visit*; refused once the visit is verified (409 visit_frozen)."""
    _may_change_items(visit, actor)
    verification = _locked_verification(visit.id)
    if verification is not None and verification.status == APPROVED:
        # Frozen: the charges of a verified visit are final. Items are the only part of a recorded visit that
        # can change; a future edit of its parts or costs must refuse the same way.
        raise Conflict("visit_frozen", "This visit was verified: its items, parts and costs can no longer change.")
    items = _check_lines(visit, lines)
    db.session.execute(sa.delete(VisitItem).where(VisitItem.visit_id == visit.id))
    rows = [
        VisitItem(
            visit_id=visit.id,
            repair_item_id=item.id,
            quantity=line["quantity"],
            standard_hours=item.standard_hours,
            pricing=item.pricing,
            fixed_price=item.fixed_price,
        )
        for line in lines
        for item in [items[line["repair_item_id"]]]
    ]
    db.session.add_all(rows)
    db.session.flush()
    if verification is not None and verification.status == PENDING:
        # A returned visit is measured again when resubmitted: its engineer's copy keeps its version till then.
        verification.overrun = is_overrun(visit, rows)
        db.session.flush()
    if event:
        names = ", ".join(f"{items[ln['repair_item_id']].code}×{ln['quantity']}" for ln in lines) or "—"
        add_event(
            visit.request,
            "visit_items",
            actor,
            visit.request.status,
            visit.request.status,
            note=names,
            data={"visit_id": visit.id},
        )
    log.info("visit %s items set by %s: %s line(s)", visit.id, _who(actor), len(rows))
    return rows


def items_of(visit_id: int) -> list[VisitItem]:
    return list(db.session.scalars(sa.select(VisitItem).where(VisitItem.visit_id == visit_id).order_by(VisitItem.id)))


def standard_hours_of(rows) -> Decimal:
    return sum((Decimal(r.standard_hours) * r.quantity for r in rows), Decimal("0"))


def is_overrun(visit: Visit, rows=None) -> bool:
    """Whether the hours worked exceed the items' standard hours times the configured factor."""
    rows = items_of(visit.id) if rows is None else rows
    standard = standard_hours_of(rows)
    if not rows or standard <= 0:
        return False
    return Decimal(visit.labour_hours or 0) > standard * overrun_factor()


SUGGESTIONS_PER_FAULT = 5


def suggested_items(fault_ids: list[int] | None = None, categories: list[str] | None = None) -> dict[int, list[int]]:
    """For each fault of the knowledge base (a visit's fault_id), the active repair items most often recorded on
    visits with that fault, the most frequent first (at most SUGGESTIONS_PER_FAULT): what the visit form offers
    once the fault is chosen. *categories* narrows to an engineer's catalog."""
    counts = (
        sa.select(
            Visit.fault_id.label("fault_id"),
            VisitItem.repair_item_id.label("item_id"),
            sa.func.row_number()
            .over(
                partition_by=Visit.fault_id,
                order_by=(sa.func.count().desc(), sa.func.sum(VisitItem.quantity).desc(), VisitItem.repair_item_id),
            )
            .label("rank"),
        )
        .join(Visit, Visit.id == VisitItem.visit_id)
        .join(RepairItem, RepairItem.id == VisitItem.repair_item_id)
        .where(Visit.fault_id.is_not(None), RepairItem.active.is_(True))
        .group_by(Visit.fault_id, VisitItem.repair_item_id)
    )
    if fault_ids is not None:
        counts = counts.where(Visit.fault_id.in_(fault_ids))
    if categories is not None:
        counts = counts.where(RepairItem.category.in_(categories))
    ranked = counts.subquery()
    answer: dict[int, list[int]] = {}
    rows = db.session.execute(
        sa.select(ranked.c.fault_id, ranked.c.item_id)
        .where(ranked.c.rank <= SUGGESTIONS_PER_FAULT)
        .order_by(ranked.c.fault_id, ranked.c.rank)
    )
    for fault_id, item_id in rows:
        answer.setdefault(fault_id, []).append(item_id)
    return answer


@dataclass
class LabourLine:
    """One priced labour line of a visit's items: qty (hours, or pieces for a fixed price) at unit_price."""

    label_zh: str
    label_en: str
    code: str
    qty: Decimal
    unit_price: Decimal
    amount: Decimal


def labour_lines(visit_id: int, rate: Decimal) -> list[LabourLine]:
    """The labour of a visit from its items: standard hours x *rate*, or the fixed price; [] without items."""
    lines = []
    for row in db.session.scalars(sa.select(VisitItem).where(VisitItem.visit_id == visit_id).order_by(VisitItem.id)):
        item = row.item
        if row.pricing == "fixed":
            qty, unit_price = Decimal(row.quantity), money(row.fixed_price or 0)
        else:
            qty, unit_price = Decimal(row.standard_hours) * row.quantity, money(rate)
        lines.append(LabourLine(item.name_zh, item.name_en, item.code, qty, unit_price, money(qty * unit_price)))
    return lines


def on_visit_recorded(visit, request=None, data=None, new_rows=None, **_) -> None:
    """requests.signals.visit_recorded: record the items sent with the visit and queue a resolved visit for
    verification (in *new_rows*, for a sync run to store with its other rows, when given)."""
    lines = (data or {}).get("items") or []
    # record_visit checked already that the caller is the visit's engineer. The visit is new (the signal is sent
    # once, by the transaction that made it): its items are the lines sent, and it has no verification yet.
    rows = set_visit_items(visit, lines, None, event=False) if lines else []
    if visit.outcome == "resolved":
        verification = Verification(
            visit_id=visit.id,
            request_id=visit.request_id,
            engineer_id=visit.engineer_id,
            status=PENDING,
            overrun=is_overrun(visit, rows),
        )
        if new_rows is not None:
            new_rows.append(verification)
            return
        db.session.add(verification)
        db.session.flush()


signals.visit_recorded.connect(on_visit_recorded)


# ---------------------------------------------------------------- verification (核销)


def _locked_verification(visit_id: int) -> Verification | None:
    """The visit's verification, its row held until commit (two managers: the second waits, then sees)."""
    return db.session.scalars(
        sa.select(Verification)
        .where(Verification.visit_id == visit_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def get_verification(verification_id: int) -> Verification:
    verification = db.session.get(Verification, verification_id)
    if verification is None:
        raise NotFound("not_found", f"No verification with id {verification_id}.")
    return verification


def _check_actor(verification: Verification, action: str, actor) -> None:
    roles = VERIFICATION_TRANSITIONS[action][2]
    if actor is None or actor.role not in roles:
        raise Forbidden("forbidden", "Your role may not do this.")
    if action == "resubmit":
        engineer = engineer_for_user(actor)
        if engineer is None or engineer.id != verification.engineer_id:
            raise Forbidden("not_visit_engineer", "Only the engineer of this visit may resubmit it.")


def perform_verification(
    verification: Verification,
    action: str,
    actor,
    version: int | None,
    reason: str | None = None,
    *,
    now: datetime | None = None,
) -> Verification:
    """approve, return (with a reason) or resubmit a visit's verification; each step is a timeline event."""
    if action not in VERIFICATION_TRANSITIONS:
        raise NotFound("not_found", f"No action {action}.")
    _check_actor(verification, action, actor)
    locked = _locked_verification(verification.visit_id)
    check_version(locked, version)
    sources, target, _roles = VERIFICATION_TRANSITIONS[action]
    if locked.status not in sources:
        raise Conflict("illegal_transition", f"A verification that is {locked.status} cannot be {action}ed.")
    reason = (reason or "").strip() or None
    if action == "return" and not reason:
        raise _invalid({"reason": "Say what the engineer must correct."}, "Say why it is returned.")
    now = now or utcnow()
    from_status = locked.status
    locked.status = target
    if action == "resubmit":
        locked.rounds += 1
        locked.submitted_at = now
        locked.decided_at = locked.decided_by_id = None
        locked.overrun = is_overrun(locked.visit)
    else:
        locked.decided_at = now
        locked.decided_by_id = actor.id
        locked.reason = reason if action == "return" else locked.reason
    db.session.flush()
    sr = db.session.get(ServiceRequest, locked.request_id)
    add_event(
        sr,
        f"verification_{action}",
        actor,
        sr.status,
        sr.status,
        note=reason,
        data={"visit_id": locked.visit_id, "from": from_status, "to": target},
        at=now,
    )
    log.info("visit %s verification %s -> %s by %s", locked.visit_id, from_status, target, _who(actor))
    return locked


def verification_queue(status: str | None = PENDING, engineer_id: int | None = None) -> sa.Select:
    query = sa.select(Verification).order_by(Verification.submitted_at, Verification.id)
    if status:
        query = query.where(Verification.status == status)
    if engineer_id:
        query = query.where(Verification.engineer_id == engineer_id)
    return query


def returned_visits(engineer_id: int) -> list[dict]:
    """The engineer's visits returned for correction, with what the phone needs to correct them offline."""
    rows = db.session.scalars(verification_queue(RETURNED, engineer_id)).all()
    answer = []
    for v in rows:
        answer.append(
            {
                "verification_id": v.id,
                "visit_id": v.visit_id,
                "request_id": v.request_id,
                "number": v.visit.request.number,
                "reason": v.reason,
                "version": v.version,
                "labour_hours": str(v.visit.labour_hours),
                "items": [{"repair_item_id": r.repair_item_id, "quantity": r.quantity} for r in items_of(v.visit_id)],
            }
        )
    return answer


def awaiting_verification(request_id: int) -> list[int]:
    """The visits of a request that wait for verification (pending, or returned to the engineer): until they are
    verified they count nowhere (statements, invoices, cost analytics)."""
    return list(
        db.session.scalars(
            sa.select(Verification.visit_id)
            .where(Verification.request_id == request_id, Verification.status.in_((PENDING, RETURNED)))
            .order_by(Verification.visit_id)
        )
    )


def verified_visit_ids(request_id: int) -> set[int]:
    """The visits of a request a manager verified (approved): the ones that count."""
    return set(
        db.session.scalars(
            sa.select(Verification.visit_id).where(
                Verification.request_id == request_id, Verification.status == APPROVED
            )
        )
    )


def problems_of(verifications: list[Verification]) -> dict[int, list[str]]:
    """Why each visit is not clean for bulk approval: no items, over the standard, no signature, parts that
    the van ledger does not show taken for it. An empty list: clean."""
    visit_ids = [v.visit_id for v in verifications]
    problems: dict[int, list[str]] = {v.id: [] for v in verifications}
    if not visit_ids:
        return problems
    with_items = set(db.session.scalars(sa.select(VisitItem.visit_id).where(VisitItem.visit_id.in_(visit_ids))))
    signed = set(
        db.session.scalars(sa.select(Visit.id).where(Visit.id.in_(visit_ids), Visit.signature_id.is_not(None)))
    )
    used: dict[tuple[int, int], int] = {}
    for visit_id, part_id, qty in db.session.execute(
        sa.select(VisitPart.visit_id, VisitPart.part_id, sa.func.sum(VisitPart.qty))
        .where(VisitPart.visit_id.in_(visit_ids))
        .group_by(VisitPart.visit_id, VisitPart.part_id)
    ):
        used[(visit_id, part_id)] = int(qty)
    moved: dict[tuple[int, int], int] = {}
    for visit_id, part_id, qty in db.session.execute(
        sa.select(StockMovement.visit_id, StockMovement.part_id, sa.func.sum(StockMovement.qty))
        .where(StockMovement.visit_id.in_(visit_ids), StockMovement.reason == "use")
        .group_by(StockMovement.visit_id, StockMovement.part_id)
    ):
        moved[(visit_id, part_id)] = int(qty)
    for v in verifications:
        if v.visit_id not in with_items:
            problems[v.id].append("no_items")
        if v.overrun:
            problems[v.id].append("overrun")
        if v.visit_id not in signed:
            problems[v.id].append("no_signature")
        mine_used = {k: q for k, q in used.items() if k[0] == v.visit_id}
        mine_moved = {k: q for k, q in moved.items() if k[0] == v.visit_id}
        if mine_used != mine_moved:
            problems[v.id].append("parts_mismatch")
    return problems


def bulk_approve(verification_ids: list[int], actor, *, now: datetime | None = None) -> dict:
    """Approve the pending visits among *verification_ids* that the rules find clean; name why the others stay."""
    if actor is None or actor.role not in VERIFICATION_TRANSITIONS["approve"][2]:
        raise Forbidden("forbidden", "Your role may not do this.")
    ids = sorted(set(verification_ids))
    rows = (
        list(
            db.session.scalars(
                sa.select(Verification)
                .where(Verification.id.in_(ids))
                .order_by(Verification.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        )
        if ids
        else []
    )
    problems = problems_of([v for v in rows if v.status == PENDING])
    approved, skipped = [], []
    for v in rows:
        if v.status != PENDING:
            skipped.append({"id": v.id, "reasons": [f"status_{v.status}"]})
        elif problems[v.id]:
            skipped.append({"id": v.id, "reasons": problems[v.id]})
        else:
            perform_verification(v, "approve", actor, None, now=now)
            approved.append(v.id)
    for missing in set(ids) - {v.id for v in rows}:
        skipped.append({"id": missing, "reasons": ["not_found"]})
    return {"approved": approved, "skipped": sorted(skipped, key=lambda s: s["id"])}


# ---------------------------------------------------------------- engineers' statements


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """The UTC instants a period (YYYY-MM, the site's calendar month) starts and ends."""
    try:
        first = date.fromisoformat(f"{period}-01")
    except (TypeError, ValueError) as exc:
        raise _invalid({"period": "A month as YYYY-MM."}) from exc
    zone = site_zone()
    start = datetime.combine(first, time(), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(add_months(first, 1), time(), tzinfo=zone).astimezone(UTC)
    return start, end


def verified_visits(
    period: str | None, engineer_ids: list[int] | None = None, *, verification_ids: sa.Select | None = None
) -> sa.Select:
    """The visits approved in *period*, one row each: engineer, request number, items (code×qty), standard and
    actual hours, and the amounts by kind (labour by the standard, parts, costs).

    One query, summed in the database: a month has tens of thousands of visits (bench/settlement.py). Labour is
    each item's standard hours x the rate (or its fixed price x the quantity), rounded per line as money() does;
    a visit without items is paid on the hours worked, as billing charges it."""
    rate = sa.literal(standard_labour_rate(), sa.Numeric(12, 2))
    approved = sa.select(Verification.visit_id).where(Verification.status == APPROVED)
    if verification_ids is not None:
        # Analytics: the approved ones among the verifications the caller selected (its own filters).
        approved = approved.where(Verification.id.in_(verification_ids))
    else:
        start, end = period_bounds(period)
        approved = approved.where(Verification.decided_at >= start, Verification.decided_at < end)
    if engineer_ids is not None:
        approved = approved.where(Verification.engineer_id.in_(engineer_ids))
    approved = approved.subquery()
    line_labour = sa.case(
        (
            VisitItem.pricing == "fixed",
            VisitItem.quantity * sa.func.round(sa.func.coalesce(VisitItem.fixed_price, 0), 2),
        ),
        else_=sa.func.round(VisitItem.standard_hours * VisitItem.quantity * rate, 2),
    )
    items = (
        sa.select(
            VisitItem.visit_id,
            sa.func.sum(VisitItem.standard_hours * VisitItem.quantity).label("standard"),
            sa.func.sum(line_labour).label("labour"),
            sa.func.aggregate_strings(RepairItem.code + "×" + sa.cast(VisitItem.quantity, sa.String), ", ").label(
                "codes"
            ),
        )
        .join(RepairItem, RepairItem.id == VisitItem.repair_item_id)
        .where(VisitItem.visit_id.in_(sa.select(approved.c.visit_id)))
        .group_by(VisitItem.visit_id)
        .subquery()
    )
    parts = (
        sa.select(VisitPart.visit_id, sa.func.sum(VisitPart.qty * VisitPart.unit_price).label("amount"))
        .where(VisitPart.visit_id.in_(sa.select(approved.c.visit_id)))
        .group_by(VisitPart.visit_id)
        .subquery()
    )
    costs = (
        sa.select(VisitCost.visit_id, sa.func.sum(VisitCost.amount).label("amount"))
        .where(VisitCost.visit_id.in_(sa.select(approved.c.visit_id)))
        .group_by(VisitCost.visit_id)
        .subquery()
    )
    labour = sa.func.coalesce(items.c.labour, sa.func.round(Visit.labour_hours * rate, 2))
    parts_amount = sa.func.round(sa.func.coalesce(parts.c.amount, 0), 2)
    costs_amount = sa.func.round(sa.func.coalesce(costs.c.amount, 0), 2)
    return (
        sa.select(
            Visit.id.label("visit_id"),
            Visit.engineer_id,
            ServiceRequest.number.label("request_number"),
            sa.func.coalesce(items.c.codes, "").label("items"),
            sa.func.coalesce(items.c.standard, 0).label("standard_hours"),
            Visit.labour_hours.label("actual_hours"),
            labour.label("labour_amount"),
            parts_amount.label("parts_amount"),
            costs_amount.label("costs_amount"),
            (labour + parts_amount + costs_amount).label("amount"),
        )
        .join(approved, approved.c.visit_id == Visit.id)
        .join(ServiceRequest, ServiceRequest.id == Visit.request_id)
        .outerjoin(items, items.c.visit_id == Visit.id)
        .outerjoin(parts, parts.c.visit_id == Visit.id)
        .outerjoin(costs, costs.c.visit_id == Visit.id)
    )


def recent_statements(engineer_id: int, limit: int = 6) -> list[dict]:
    """The engineer's latest statements, as the phone keeps them to read offline."""
    rows = db.session.scalars(
        sa.select(Statement).where(Statement.engineer_id == engineer_id).order_by(Statement.period.desc()).limit(limit)
    )
    return [
        {
            "id": s.id,
            "period": s.period,
            "status": s.status,
            "number": s.number,
            "visits": s.visits,
            "standard_hours": str(s.standard_hours),
            "actual_hours": str(s.actual_hours),
            "labour_amount": str(s.labour_amount),
            "parts_amount": str(s.parts_amount),
            "costs_amount": str(s.costs_amount),
            "adjustments_amount": str(s.adjustments_amount),
            "total": str(s.total),
        }
        for s in rows
    ]


def _locked_statement(engineer_id: int, period: str) -> Statement | None:
    return db.session.scalars(
        sa.select(Statement)
        .where(Statement.engineer_id == engineer_id, Statement.period == period)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


LINE_SUMS = ("standard_hours", "actual_hours", "labour_amount", "parts_amount", "costs_amount")


def _add_up(statements: list[Statement]) -> None:
    """Each statement's totals from its lines, summed in the database for all of them at once."""
    if not statements:
        return
    line = StatementLine
    is_visit = line.kind == "visit"
    query = (
        sa.select(
            line.statement_id,
            sa.func.count(line.visit_id),
            *(sa.func.coalesce(sa.func.sum(sa.case((is_visit, getattr(line, c)))), 0) for c in LINE_SUMS),
            sa.func.coalesce(sa.func.sum(sa.case((line.kind == "adjustment", line.amount))), 0),
            sa.func.coalesce(sa.func.sum(line.amount), 0),
        )
        .where(line.statement_id.in_([s.id for s in statements]))
        .group_by(line.statement_id)
    )
    sums = {row[0]: row[1:] for row in db.session.execute(query)}
    for statement in statements:
        visits, *amounts, adjustments, total = sums.get(statement.id, (0, *[ZERO] * len(LINE_SUMS), ZERO, ZERO))
        statement.visits = visits
        for name, value in zip(LINE_SUMS, amounts, strict=True):
            setattr(statement, name, money(value))
        statement.adjustments_amount = money(adjustments)
        statement.total = money(total)


# The month's figures, computed once per build into a temporary table of the connection (not in the app's
# metadata: no migration makes it) with the draft each visit goes on, then compared with the drafts' lines and
# summed from there.
_FIGURES = sa.Table(
    "statement_figures",
    sa.MetaData(),
    sa.Column("statement_id", sa.Integer, primary_key=True),
    sa.Column("visit_id", sa.Integer, primary_key=True),
    sa.Column("request_number", sa.String(40)),
    sa.Column("items", sa.Text),
    *(sa.Column(c, sa.Numeric(12, 2)) for c in (*LINE_SUMS, "amount")),
    prefixes=["TEMPORARY"],
)
FIGURE_COLUMNS = ("visit_id", "request_number", "items", *LINE_SUMS, "amount")


def _fill_figures(period: str, draft_ids: list[int]) -> sa.Table:
    """The figures of the visits verified in *period* for the drafts *draft_ids* (one row per draft and visit)."""
    connection = db.session.connection()
    _FIGURES.drop(connection, checkfirst=True)
    _FIGURES.create(connection)
    figures = verified_visits(period).subquery()
    db.session.execute(
        sa.insert(_FIGURES).from_select(
            ["statement_id", *FIGURE_COLUMNS],
            sa.select(Statement.id, *(figures.c[c] for c in FIGURE_COLUMNS))
            .join(Statement, Statement.engineer_id == figures.c.engineer_id)
            .where(Statement.id.in_(draft_ids)),
        )
    )
    return _FIGURES


def _refresh_lines(figures: sa.Table, draft_ids: list[int]) -> None:
    """Make the drafts' visit lines the figures: drop the lines whose visit changed or left, add the missing ones;
    lines that are right already stay (a remake of an unchanged month writes nothing)."""
    line = StatementLine.__table__
    same = sa.exists().where(
        figures.c.statement_id == line.c.statement_id,
        figures.c.visit_id == line.c.visit_id,
        *(figures.c[c] == line.c[c] for c in FIGURE_COLUMNS[1:]),
    )
    db.session.execute(
        sa.delete(line).where(line.c.statement_id.in_(draft_ids), line.c.kind == "visit", ~same),
        execution_options={"synchronize_session": False},
    )
    present = sa.exists().where(
        line.c.statement_id == figures.c.statement_id, line.c.kind == "visit", line.c.visit_id == figures.c.visit_id
    )
    missing = (
        sa.select(figures.c.statement_id, sa.literal("visit"), *(figures.c[c] for c in FIGURE_COLUMNS))
        .where(~present)
        .order_by(figures.c.statement_id, figures.c.visit_id)
    )
    db.session.execute(
        sa.insert(line).from_select(["statement_id", "kind", *FIGURE_COLUMNS], missing),
        execution_options={"synchronize_session": False},
    )


def _add_up_from(figures: sa.Table, drafts: list[Statement]) -> None:
    """The drafts' totals: their visits summed from the figures, plus their adjustments (add_adjustment keeps a
    draft's adjustments_amount)."""
    sums = {
        row[0]: row[1:]
        for row in db.session.execute(
            sa.select(
                figures.c.statement_id,
                sa.func.count(),
                *(sa.func.sum(figures.c[c]) for c in LINE_SUMS),
                sa.func.sum(figures.c.amount),
            ).group_by(figures.c.statement_id)
        )
    }
    for statement in drafts:
        visits, *amounts, visit_total = sums.get(statement.id, (0, *[ZERO] * len(LINE_SUMS), ZERO))
        adjustment = money(statement.adjustments_amount or 0)
        statement.visits = visits
        for name, value in zip(LINE_SUMS, amounts, strict=True):
            setattr(statement, name, money(value or 0))
        statement.total = money((visit_total or 0) + adjustment)


def build_statements(period: str, actor, engineer_ids: list[int] | None = None) -> list[Statement]:
    """Make (or remake) the draft statements of *period* from the visits verified in it; issued ones stay.

    The figures are worked out once (a temporary table), the drafts' lines brought in line with them (only what
    changed is written) and the totals summed from them: bench/settlement.py, 200 engineers and 20,000 visits."""
    start, end = period_bounds(period)
    verifying = sa.select(Verification.engineer_id).where(
        Verification.status == APPROVED, Verification.decided_at >= start, Verification.decided_at < end
    )
    if engineer_ids is not None:
        verifying = verifying.where(Verification.engineer_id.in_(engineer_ids))
    with_visits = set(db.session.scalars(verifying.distinct()))
    wanted = sorted(with_visits | set(engineer_ids or []))
    existing = {
        s.engineer_id: s
        for s in db.session.scalars(
            sa.select(Statement)
            .where(Statement.period == period, Statement.engineer_id.in_(wanted))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    issued = {e for e in wanted if e in existing and existing[e].status == "issued"}
    if engineer_ids is not None and issued:
        raise Conflict("statement_issued", "The statement of this period was issued already: it is frozen.")
    drafts = []
    for engineer_id in wanted:
        if engineer_id in issued:
            continue
        statement = existing.get(engineer_id)
        if statement is None:
            statement = Statement(engineer_id=engineer_id, period=period, status="draft")
            db.session.add(statement)
        drafts.append(statement)
    db.session.flush()
    draft_ids = [s.id for s in drafts]
    if draft_ids:
        figures = _fill_figures(period, draft_ids)
        _refresh_lines(figures, draft_ids)
        for statement in drafts:
            db.session.expire(statement, ["lines"])
        _add_up_from(figures, drafts)
        _FIGURES.drop(db.session.connection(), checkfirst=True)
    db.session.flush()
    log.info("statements of %s built by %s: %s draft(s)", period, _who(actor), len(drafts))
    return drafts


def build_statement(engineer_id: int, period: str, actor) -> Statement:
    if db.session.get(Engineer, engineer_id) is None:
        raise _invalid({"engineer_id": "No such engineer."})
    return build_statements(period, actor, [engineer_id])[0]


def issue_statement(statement: Statement, actor, version: int | None) -> Statement:
    """draft -> issued, with a number; from then on frozen. Issuing twice is refused (409)."""
    locked = _locked_statement(statement.engineer_id, statement.period)
    check_version(locked, version)
    sources, target = STATEMENT_TRANSITIONS["issue"]
    if locked.status not in sources:
        raise Conflict("illegal_transition", "This statement was issued already.")
    number = next_number(f"ST-{locked.period.replace('-', '')}")
    locked.status = target
    locked.number = number
    locked.issued_at = utcnow()
    locked.issued_by_id = actor.id
    db.session.flush()
    log.info("statement %s %s issued by %s", locked.id, number, _who(actor))
    return locked


def add_adjustment(statement: Statement, data: dict, actor) -> StatementLine:
    """A correction of an issued statement, as a line on a later draft (never an edit of the issued one)."""
    fields = {}
    amount = _decimal(str(data.get("amount", "")).lstrip("-"), "amount", fields, MAX_PRICE)
    note = (data.get("note") or "").strip()
    if not note:
        fields["note"] = "Say what it corrects."
    corrects = db.session.get(Statement, data.get("corrects_id")) if data.get("corrects_id") else None
    if corrects is None:
        fields["corrects_id"] = "Name the issued statement it corrects."
    elif corrects.status != "issued" or corrects.engineer_id != statement.engineer_id:
        fields["corrects_id"] = "An issued statement of the same engineer."
    elif corrects.period >= statement.period:
        fields["corrects_id"] = "A correction goes into a later period."
    if fields:
        raise _invalid(fields)
    locked = _locked_statement(statement.engineer_id, statement.period)
    check_version(locked, data.get("version"))
    if locked.status != "draft":
        raise Conflict("statement_issued", "This statement was issued: it is frozen.")
    signed = -amount if str(data.get("amount", "")).strip().startswith("-") else amount
    line = StatementLine(
        statement_id=locked.id,
        kind="adjustment",
        corrects_id=corrects.id,
        amount=signed,
        note=note,
        created_by_id=actor.id,
    )
    db.session.add(line)
    db.session.flush()
    db.session.expire(locked, ["lines"])
    _add_up([locked])
    locked.updated_at = utcnow()
    db.session.flush()
    log.info("statement %s adjustment %s by %s", locked.id, signed, _who(actor))
    return line


def statement_csv(statement: Statement) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["kind", "request", "items", "standard_hours", "actual_hours", "labour", "parts", "costs", "amount", "note"]
    )
    for ln in statement.lines:
        writer.writerow(
            [
                neutralise_cell(v)
                for v in (
                    ln.kind,
                    ln.request_number,
                    ln.items,
                    ln.standard_hours,
                    ln.actual_hours,
                    ln.labour_amount,
                    ln.parts_amount,
                    ln.costs_amount,
                    ln.amount,
                    ln.note,
                )
            ]
        )
    writer.writerow(
        [
            "total",
            "",
            "",
            statement.standard_hours,
            statement.actual_hours,
            statement.labour_amount,
            statement.parts_amount,
            statement.costs_amount,
            statement.total,
            "",
        ]
    )
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")
