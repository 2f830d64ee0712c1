"""Warranty claims to the manufacturer (二次索赔): the verified warranty visits of a period, with their reimbursable
repair items and their parts, collected per manufacturer into a claim; submitted; then accepted in full, in part
(line by line, with reasons) or rejected. The state machine is data (states.WARRANTY_CLAIM_TRANSITIONS). A visit
goes into one live claim only (warranty_claim_visits). Operations flush and never commit."""

import codecs
import csv
import io
import logging
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa

from fieldservice.auth.models import Role
from fieldservice.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from fieldservice.core.models import check_version, utcnow
from fieldservice.core.numbering import next_number
from fieldservice.customers.models import Equipment, Product
from fieldservice.extensions import db
from fieldservice.parts.models import Part, ReturnOrder, Supplier, SupplierClaim, VisitPart
from fieldservice.requests.models import ServiceRequest, Visit
from fieldservice.settlement.models import (
    ProductManufacturer,
    RepairItem,
    Verification,
    VisitItem,
    WarrantyClaim,
    WarrantyClaimLine,
    WarrantyClaimVisit,
)
from fieldservice.settlement.operations import (
    MAX_PRICE,
    ZERO,
    money,
    neutralise_cell,
    period_bounds,
    standard_labour_rate,
)
from fieldservice.settlement.states import APPROVED, CLAIM_DECIDED, WARRANTY_CLAIM_TRANSITIONS

log = logging.getLogger("fieldservice.settlement")

MANAGERS = frozenset({Role.ADMIN, Role.MANAGER})


def _who(actor) -> str:
    return actor.username if actor is not None else "system"


def _invalid(fields: dict[str, str], message: str = "Some fields are not valid.") -> ValidationFailed:
    return ValidationFailed("validation_failed", message, fields)


def _check_manager(actor) -> None:
    if actor is None or actor.role not in MANAGERS:
        raise Forbidden("forbidden", "Your role may not do this.")


# ---------------------------------------------------------------- who makes each product


def set_manufacturer(product_id: int, supplier_id: int | None, actor) -> ProductManufacturer | None:
    """Name the manufacturer (a supplier) of a product, or none (*supplier_id* None): its warranty work is claimed
    from it."""
    _check_manager(actor)
    if db.session.get(Product, product_id) is None:
        raise NotFound("not_found", f"No product with id {product_id}.")
    fields = {}
    if supplier_id is not None and db.session.get(Supplier, supplier_id) is None:
        fields["supplier_id"] = "No such supplier."
    if fields:
        raise _invalid(fields)
    row = db.session.get(ProductManufacturer, product_id)
    if supplier_id is None:
        if row is not None:
            db.session.delete(row)
            db.session.flush()
        log.info("product %s has no manufacturer now (%s)", product_id, _who(actor))
        return None
    if row is None:
        row = ProductManufacturer(product_id=product_id, supplier_id=supplier_id)
        db.session.add(row)
    else:
        row.supplier_id = supplier_id
    db.session.flush()
    log.info("product %s manufacturer %s set by %s", product_id, supplier_id, _who(actor))
    return row


def manufacturers() -> list[tuple[Product, Supplier]]:
    return list(
        db.session.execute(
            sa.select(Product, Supplier)
            .join(ProductManufacturer, ProductManufacturer.product_id == Product.id)
            .join(Supplier, Supplier.id == ProductManufacturer.supplier_id)
            .order_by(Product.model)
        ).tuples()
    )


# ---------------------------------------------------------------- collecting


def claimable_visits(period: str, supplier_id: int | None = None) -> sa.Select:
    """The visits verified in *period* under the manufacturer's warranty whose product has a manufacturer and that
    are in no live claim yet: visit id, supplier, request number, equipment serial."""
    start, end = period_bounds(period)
    product = sa.func.coalesce(ServiceRequest.product_id, Equipment.product_id)
    claimed = sa.select(WarrantyClaimVisit.visit_id).where(WarrantyClaimVisit.visit_id == Visit.id)
    query = (
        sa.select(
            Visit.id.label("visit_id"),
            ProductManufacturer.supplier_id,
            ServiceRequest.number.label("request_number"),
            Equipment.serial_number.label("equipment_serial"),
        )
        .join(Verification, Verification.visit_id == Visit.id)
        .join(ServiceRequest, ServiceRequest.id == Visit.request_id)
        .outerjoin(Equipment, Equipment.id == ServiceRequest.equipment_id)
        .join(ProductManufacturer, ProductManufacturer.product_id == product)
        .where(
            Verification.status == APPROVED,
            Verification.decided_at >= start,
            Verification.decided_at < end,
            ServiceRequest.coverage == "warranty",
            ~sa.exists(claimed),
        )
        .order_by(Visit.id)
    )
    if supplier_id is not None:
        query = query.where(ProductManufacturer.supplier_id == supplier_id)
    return query


def _lines_for(visits: dict[int, tuple[str, str | None]]) -> dict[int, list[WarrantyClaimLine]]:
    """The claim lines of each visit: its reimbursable items (standard hours at the rate, or the fixed price) and
    its parts (old and new serials), leaving out a part already claimed from its supplier as a returned part."""
    if not visits:
        return {}
    rate = standard_labour_rate()
    lines: dict[int, list[WarrantyClaimLine]] = {visit_id: [] for visit_id in visits}
    items = db.session.execute(
        sa.select(VisitItem, RepairItem)
        .join(RepairItem, RepairItem.id == VisitItem.repair_item_id)
        .where(VisitItem.visit_id.in_(list(visits)), RepairItem.reimbursable.is_(True))
        .order_by(VisitItem.visit_id, VisitItem.id)
    ).tuples()
    for row, item in items:
        hours = Decimal(row.standard_hours) * row.quantity
        fixed = row.pricing == "fixed"
        amount = money(row.fixed_price or 0) * row.quantity if fixed else money(hours * rate)
        number, serial = visits[row.visit_id]
        lines[row.visit_id].append(
            WarrantyClaimLine(
                visit_id=row.visit_id,
                kind="item",
                request_number=number,
                equipment_serial=serial,
                code=item.code,
                name_zh=item.name_zh,
                name_en=item.name_en,
                quantity=row.quantity,
                hours=hours,
                amount=money(amount),
            )
        )
    parts = db.session.execute(
        sa.select(VisitPart, Part)
        .join(Part, Part.id == VisitPart.part_id)
        .outerjoin(ReturnOrder, ReturnOrder.id == VisitPart.return_order_id)
        .outerjoin(SupplierClaim, SupplierClaim.return_order_id == ReturnOrder.id)
        .where(VisitPart.visit_id.in_(list(visits)), SupplierClaim.id.is_(None))
        .order_by(VisitPart.visit_id, VisitPart.line_no)
    ).tuples()
    for row, part in parts:
        number, serial = visits[row.visit_id]
        lines[row.visit_id].append(
            WarrantyClaimLine(
                visit_id=row.visit_id,
                kind="part",
                request_number=number,
                equipment_serial=serial,
                code=part.part_number,
                name_zh=part.name,
                name_en=part.name,
                quantity=row.qty,
                hours=ZERO,
                old_serial=row.old_serial,
                new_serial=row.new_serial,
                amount=money(Decimal(row.unit_price) * row.qty),
            )
        )
    return lines


def _lock_suppliers(supplier_ids) -> None:
    """Hold the manufacturers' rows until commit: two managers collecting the same period take turns, and the
    second sees what the first put into claims."""
    if supplier_ids:
        db.session.execute(
            sa.select(Supplier.id).where(Supplier.id.in_(sorted(supplier_ids))).order_by(Supplier.id).with_for_update()
        )


def _add_up(claim: WarrantyClaim) -> None:
    total = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(WarrantyClaimLine.amount), 0)).where(
            WarrantyClaimLine.claim_id == claim.id
        )
    )
    claim.claimed_amount = money(total)


def collect_claims(period: str, actor, supplier_id: int | None = None) -> list[WarrantyClaim]:
    """Put the claimable visits of *period* into each manufacturer's draft claim of that period (made when there
    is none). Collecting again adds only visits that are in no claim: a visit is claimed once."""
    _check_manager(actor)
    period_bounds(period)
    if supplier_id is not None and db.session.get(Supplier, supplier_id) is None:
        raise _invalid({"supplier_id": "No such supplier."})
    candidates = {row.supplier_id for row in db.session.execute(claimable_visits(period, supplier_id))}
    _lock_suppliers(candidates)
    # Read again under the locks: a collection that committed meanwhile took its visits.
    rows = list(db.session.execute(claimable_visits(period, supplier_id)))
    by_supplier: dict[int, dict[int, tuple[str, str | None]]] = {}
    for row in rows:
        by_supplier.setdefault(row.supplier_id, {})[row.visit_id] = (row.request_number, row.equipment_serial)
    touched = []
    for sid in sorted(by_supplier):
        lines = {v: ls for v, ls in _lines_for(by_supplier[sid]).items() if ls}
        if not lines:
            continue
        claim = db.session.scalars(
            sa.select(WarrantyClaim)
            .where(WarrantyClaim.supplier_id == sid, WarrantyClaim.period == period, WarrantyClaim.status == "draft")
            .order_by(WarrantyClaim.id)
            .with_for_update()
            .limit(1)
        ).first()
        if claim is None:
            claim = WarrantyClaim(
                number=next_number(f"WC-{period.replace('-', '')}"),
                supplier_id=sid,
                period=period,
                status="draft",
                created_by_id=actor.id,
            )
            db.session.add(claim)
            db.session.flush()
        for visit_id, visit_lines in lines.items():
            db.session.add(WarrantyClaimVisit(visit_id=visit_id, claim_id=claim.id))
            for line in visit_lines:
                line.claim_id = claim.id
                db.session.add(line)
        db.session.flush()
        db.session.expire(claim, ["lines"])
        _add_up(claim)
        claim.updated_at = utcnow()
        db.session.flush()
        touched.append(claim)
        log.info("warranty claim %s: %s visit(s) collected by %s", claim.number, len(lines), _who(actor))
    return touched


# ---------------------------------------------------------------- the manufacturer's answer


def get_claim(claim_id: int) -> WarrantyClaim:
    claim = db.session.get(WarrantyClaim, claim_id)
    if claim is None:
        raise NotFound("not_found", f"No warranty claim with id {claim_id}.")
    return claim


def _locked(claim_id: int) -> WarrantyClaim:
    return db.session.scalars(
        sa.select(WarrantyClaim)
        .where(WarrantyClaim.id == claim_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _amount(value, field: str, fields: dict) -> Decimal | None:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        fields[field] = "Must be an amount."
        return None
    if not number.is_finite() or number < 0 or number > MAX_PRICE or number != number.quantize(Decimal("0.01")):
        fields[field] = "An amount from 0 with at most two decimals."
        return None
    return money(number)


def _partial(claim: WarrantyClaim, decisions: list[dict]) -> dict[int, tuple[Decimal, str]]:
    """The lines the manufacturer accepted for less: line id -> (accepted amount, reason); a 422 names each bad one."""
    by_id = {line.id: line for line in claim.lines}
    fields: dict[str, str] = {}
    answer: dict[int, tuple[Decimal, str]] = {}
    for n, decision in enumerate(decisions or []):
        line = by_id.get(decision.get("line_id"))
        if line is None:
            fields[f"lines.{n}.line_id"] = "No such line on this claim."
            continue
        if line.id in answer:
            fields[f"lines.{n}.line_id"] = "The same line twice."
            continue
        accepted = _amount(decision.get("accepted_amount"), f"lines.{n}.accepted_amount", fields)
        if accepted is None:
            continue
        if accepted > line.amount:
            fields[f"lines.{n}.accepted_amount"] = "At most the amount claimed."
            continue
        reason = (decision.get("reason") or "").strip()
        if accepted < line.amount and not reason:
            fields[f"lines.{n}.reason"] = "Say why less than claimed was accepted."
            continue
        answer[line.id] = (accepted, reason)
    if not fields and not any(accepted < by_id[i].amount for i, (accepted, _r) in answer.items()):
        fields["lines"] = "Name at least one line accepted for less than claimed (or accept the claim in full)."
    if fields:
        raise _invalid(fields, "Some lines of the answer are not valid.")
    return answer


def perform_claim(
    claim: WarrantyClaim,
    action: str,
    actor,
    version: int | None,
    reason: str | None = None,
    lines: list[dict] | None = None,
) -> WarrantyClaim:
    """submit or cancel a draft; accept (in full), accept_part (*lines*: line_id, accepted_amount, reason; the lines
    not named are accepted in full) or reject (with a *reason*) a submitted claim."""
    if action not in WARRANTY_CLAIM_TRANSITIONS:
        raise NotFound("not_found", f"No action {action}.")
    _check_manager(actor)
    locked = _locked(claim.id)
    check_version(locked, version)
    sources, target = WARRANTY_CLAIM_TRANSITIONS[action]
    if locked.status not in sources:
        raise Conflict("illegal_transition", "The claim, as it stands now, cannot take this step.")
    reason = (reason or "").strip() or None
    now = utcnow()
    if action == "submit":
        if not locked.lines:
            raise Conflict("empty_claim", "This claim has no lines to submit.")
        locked.submitted_at, locked.submitted_by_id = now, actor.id
    elif action == "cancel":
        # The visits go back to be collected again; the lines stay as the record of what was drafted.
        db.session.execute(sa.delete(WarrantyClaimVisit).where(WarrantyClaimVisit.claim_id == locked.id))
    elif action == "reject":
        if not reason:
            raise _invalid({"reason": "Say why the manufacturer rejected the claim."}, "Say why it was rejected.")
        for line in locked.lines:
            line.accepted_amount, line.reason = ZERO, None
        locked.reason = reason
    elif action == "accept":
        for line in locked.lines:
            line.accepted_amount, line.reason = line.amount, None
    else:
        partial = _partial(locked, lines or [])
        for line in locked.lines:
            accepted, why = partial.get(line.id, (line.amount, ""))
            line.accepted_amount, line.reason = accepted, (why or None)
    if target in CLAIM_DECIDED:
        locked.accepted_amount = money(sum((line.accepted_amount for line in locked.lines), ZERO))
        locked.decided_at, locked.decided_by_id = now, actor.id
    from_status = locked.status
    locked.status = target
    db.session.flush()
    log.info("warranty claim %s %s -> %s by %s", locked.number, from_status, target, _who(actor))
    return locked


def reconcile(claim: WarrantyClaim) -> dict:
    """The claim against its lines, exactly (Decimal): claimed, accepted, what the manufacturer did not pay, and
    whether the claim's own totals agree with its lines."""
    claimed = sum((line.amount for line in claim.lines), ZERO)
    accepted = sum((line.accepted_amount or ZERO for line in claim.lines), ZERO)
    decided = claim.status in CLAIM_DECIDED
    return {
        "claimed": money(claimed),
        "accepted": money(accepted) if decided else None,
        "written_off": money(claimed - accepted) if decided else None,
        "lines": len(claim.lines),
        "lines_reduced": sum(
            1 for ln in claim.lines if ln.accepted_amount is not None and ln.accepted_amount < ln.amount
        ),
        "balanced": money(claimed) == claim.claimed_amount
        and (not decided or money(accepted) == claim.accepted_amount),
    }


def search_claims(supplier_id: int | None = None, period: str | None = None, status: str | None = None) -> sa.Select:
    query = sa.select(WarrantyClaim).order_by(WarrantyClaim.period.desc(), WarrantyClaim.id.desc())
    if supplier_id:
        query = query.where(WarrantyClaim.supplier_id == supplier_id)
    if period:
        query = query.where(WarrantyClaim.period == period)
    if status:
        query = query.where(WarrantyClaim.status == status)
    return query


# ---------------------------------------------------------------- one view with the parts' supplier claims


def all_claims(supplier_id: int | None = None) -> list[dict]:
    """The warranty claims and the supplier claims for returned parts (parts package) together, newest first."""
    rows = []
    query = search_claims(supplier_id).where(WarrantyClaim.status != "cancelled")
    for claim in db.session.scalars(query.limit(500)):
        rows.append(
            {
                "kind": "warranty",
                "id": claim.id,
                "number": claim.number,
                "supplier_id": claim.supplier_id,
                "supplier": claim.supplier.name,
                "period": claim.period,
                "status": claim.status,
                "claimed_amount": claim.claimed_amount,
                "accepted_amount": claim.accepted_amount,
                "at": claim.submitted_at or claim.created_at,
            }
        )
    parts_query = sa.select(SupplierClaim).order_by(SupplierClaim.id.desc()).limit(500)
    if supplier_id:
        parts_query = parts_query.where(SupplierClaim.supplier_id == supplier_id)
    for claim in db.session.scalars(parts_query):
        rows.append(
            {
                "kind": "part",
                "id": claim.id,
                "number": claim.number,
                "supplier_id": claim.supplier_id,
                "supplier": claim.supplier.name,
                "period": claim.created_at.strftime("%Y-%m") if claim.created_at else "",
                "status": claim.status,
                "claimed_amount": claim.claimed_amount,
                "accepted_amount": claim.accepted_amount,
                "at": claim.created_at,
                "return_order_id": claim.return_order_id,
            }
        )
    rows.sort(key=lambda r: (r["at"] is not None, r["at"]), reverse=True)
    return rows


def acceptance_by_supplier(start=None, end=None) -> list[dict]:
    """Per supplier, over the decided claims of both kinds (decided from *start* until before *end* when given):
    claims, claimed, accepted and the acceptance rate (the share of the claimed amount accepted)."""
    decided_w = (
        sa.select(
            WarrantyClaim.supplier_id.label("supplier_id"),
            WarrantyClaim.claimed_amount.label("claimed"),
            WarrantyClaim.accepted_amount.label("accepted"),
        )
        .where(WarrantyClaim.status.in_(CLAIM_DECIDED))
    )
    decided_p = sa.select(
        SupplierClaim.supplier_id.label("supplier_id"),
        SupplierClaim.claimed_amount.label("claimed"),
        sa.func.coalesce(SupplierClaim.accepted_amount, 0).label("accepted"),
    ).where(SupplierClaim.status.in_(("accepted", "rejected")))
    if start is not None:
        decided_w = decided_w.where(WarrantyClaim.decided_at >= start)
        decided_p = decided_p.where(SupplierClaim.decided_at >= start)
    if end is not None:
        decided_w = decided_w.where(WarrantyClaim.decided_at < end)
        decided_p = decided_p.where(SupplierClaim.decided_at < end)
    both = sa.union_all(decided_w, decided_p).subquery()
    query = (
        sa.select(
            Supplier.id,
            Supplier.name,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(both.c.claimed), 0),
            sa.func.coalesce(sa.func.sum(both.c.accepted), 0),
        )
        .join(both, both.c.supplier_id == Supplier.id)
        .group_by(Supplier.id, Supplier.name)
        .order_by(Supplier.name)
    )
    answer = []
    for sid, name, count, claimed, accepted in db.session.execute(query):
        claimed, accepted = money(claimed), money(accepted)
        rate = (accepted / claimed).quantize(Decimal("0.0001")) if claimed else None
        answer.append(
            {
                "supplier_id": sid,
                "supplier": name,
                "claims": count,
                "claimed": claimed,
                "accepted": accepted,
                "rate": rate,
            }
        )
    return answer


# ---------------------------------------------------------------- export

CSV_HEADER = (
    "claim",
    "supplier",
    "period",
    "request",
    "equipment_serial",
    "kind",
    "code",
    "name",
    "quantity",
    "hours",
    "old_serial",
    "new_serial",
    "amount",
    "accepted_amount",
    "reason",
)


def claim_csv(claim: WarrantyClaim) -> bytes:
    """The claim's lines as UTF-8 CSV with a BOM, every cell neutralised, and a total row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for ln in claim.lines:
        writer.writerow(
            [
                neutralise_cell(v)
                for v in (
                    claim.number,
                    claim.supplier.name,
                    claim.period,
                    ln.request_number,
                    ln.equipment_serial,
                    ln.kind,
                    ln.code,
                    ln.name_zh,
                    ln.quantity,
                    ln.hours,
                    ln.old_serial,
                    ln.new_serial,
                    ln.amount,
                    "" if ln.accepted_amount is None else ln.accepted_amount,
                    ln.reason,
                )
            ]
        )
    writer.writerow(
        [
            neutralise_cell(v)
            for v in (
                claim.number,
                claim.supplier.name,
                claim.period,
                "total",
                "",
                "",
                "",
                "",
                "",
                sum((ln.hours for ln in claim.lines), ZERO),
                "",
                "",
                claim.claimed_amount,
                "" if claim.accepted_amount is None else claim.accepted_amount,
                claim.reason,
            )
        ]
    )
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")
