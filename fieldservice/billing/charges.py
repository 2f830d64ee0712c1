"""What a visit costs and who pays it, and the invoices customers ask for.

Charging methods (what the coverage pays):
- covered: everything (labour, visit fee, parts, other costs);
- labour_only: labour and the visit fee; the customer pays parts and other costs;
- per_visit: nothing; the customer pays a fixed fee per visit, which includes the labour, plus parts and costs;
- time_and_materials: nothing; the customer pays labour at the rate, the visit fee, parts and costs.
A warranty pays labour, the visit fee and parts, not other costs (travel, tolls...). Without coverage the work is
time and materials at the site's standard rates.
"""

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from fieldservice.billing.models import Invoice
from fieldservice.contracts.models import Agreement
from fieldservice.core.clock import today
from fieldservice.core.errors import Conflict, ValidationFailed
from fieldservice.core.models import check_version, utcnow
from fieldservice.core.numbering import next_number
from fieldservice.extensions import db
from fieldservice.parts.models import Part, VisitPart
from fieldservice.requests.models import ProblemType
from fieldservice.requests.operations import add_event
from fieldservice.requests.states import note_data
from fieldservice.settlement.operations import (
    awaiting_verification,
    labour_lines,
    money,
    standard_labour_rate,
    verified_visit_ids,
)

log = logging.getLogger("fieldservice.billing")

ZERO = Decimal("0.00")
# The site's standard rates for work no agreement sets a price for (config can override them); the labour rate
# is settlement's, which values the engineers' work by the same standard.
STANDARD_VISIT_FEE = Decimal("80.00")

# Per charging method: which kinds of line the coverage pays.
COVERED_KINDS = {
    "covered": {"labour", "visit_fee", "part", "cost"},
    "labour_only": {"labour", "visit_fee"},
    "per_visit": set(),
    "time_and_materials": set(),
    "warranty": {"labour", "visit_fee", "part"},
}


class ChargeLine(NamedTuple):
    label: str
    qty: Decimal
    unit_price: Decimal
    amount: Decimal
    covered_amount: Decimal


@dataclass
class Charges:
    lines: list[ChargeLine]
    total: Decimal
    covered: Decimal
    customer_amount: Decimal
    charging_method: str = "time_and_materials"
    coverage_label: str | None = None
    visit_id: int | None = None


@dataclass
class ChargeTerms:
    method: str  # a charging method, or "warranty"
    labour_rate: Decimal
    visit_fee: Decimal
    label: str | None = None
    notes: list[str] = field(default_factory=list)


def standard_rates() -> tuple[Decimal, Decimal]:
    config = current_app.config
    return (
        standard_labour_rate(),
        money(config.get("CONTRACTS_VISIT_FEE", STANDARD_VISIT_FEE)),
    )


def service_item_of(request) -> str | None:
    """The kind of work a request is (its problem type's category), matched against an agreement's service items."""
    return db.session.scalar(sa.select(ProblemType.category).where(ProblemType.code == request.problem_type))


def charge_terms(request) -> ChargeTerms:
    """The rates and charging method for *request*, from the coverage stored on it at intake."""
    labour_rate, visit_fee = standard_rates()
    if request.coverage == "agreement" and request.agreement_id is not None:
        agreement = db.session.get(Agreement, request.agreement_id)
        if agreement is not None:
            terms = ChargeTerms(
                agreement.charging_method,
                money(agreement.labour_rate),
                money(agreement.visit_fee),
                f"{agreement.number} {agreement.name}",
            )
            item = service_item_of(request)
            if agreement.service_items and item and item not in agreement.service_items:
                # Work outside the agreement's service items is charged, at the agreement's rates.
                terms.method = "time_and_materials"
                terms.notes.append(_("This kind of work is not a service item of the agreement."))
            return terms
    if request.coverage == "warranty":
        return ChargeTerms("warranty", labour_rate, visit_fee, _("Warranty"))
    return ChargeTerms("time_and_materials", labour_rate, visit_fee, None)


def _part_lines_of(visit) -> list[tuple[str, object, object]]:
    """Parts used on *visit*: (name, qty, unit price at the time of use)."""
    query = (
        sa.select(Part.name, VisitPart.qty, VisitPart.unit_price)
        .join(Part, Part.id == VisitPart.part_id)
        .where(VisitPart.visit_id == visit.id)
        .order_by(VisitPart.line_no)
    )
    return [tuple(row) for row in db.session.execute(query)]


def compute_charges(visit, part_lines=None, terms: ChargeTerms | None = None) -> Charges:
    """The lines of *visit* and what its coverage pays.

    *part_lines* are (name, qty, unit_price) tuples; without them, the parts recorded on the visit.
    """
    terms = terms or charge_terms(visit.request)
    covered_kinds = COVERED_KINDS[terms.method]
    raw: list[tuple[str, str, Decimal, Decimal]] = []  # kind, label, qty, unit price
    items = labour_lines(visit.id, terms.labour_rate) if visit.id is not None else []
    if items:
        # Labour by the standard: each repair item's standard hours at the rate, or its fixed price.
        for item in items:
            label = item.label_en if str(get_locale()) == "en" else item.label_zh
            unit_price = ZERO if terms.method == "per_visit" else item.unit_price
            raw.append(("labour", f"{item.code} {label}", item.qty, unit_price))
    else:
        hours = Decimal(visit.labour_hours or 0)
        if terms.method == "per_visit":
            raw.append(("labour", _("Labour (included in the visit fee)"), hours, ZERO))
        else:
            raw.append(("labour", _("Labour"), hours, terms.labour_rate))
    if terms.visit_fee > 0:
        raw.append(("visit_fee", _("Visit fee"), Decimal(1), terms.visit_fee))
    for name, qty, unit_price in part_lines if part_lines is not None else _part_lines_of(visit):
        if Decimal(qty) <= 0 or Decimal(unit_price) < 0:
            raise ValidationFailed(
                "invalid_part_line", f"Part line {name!r} needs a positive quantity and a price."
            )
        raw.append(("part", str(name), Decimal(qty), money(unit_price)))
    for cost in visit.costs:
        raw.append(("cost", cost_label(cost.kind, cost.note), Decimal(1), money(cost.amount)))

    lines = []
    for kind, label, qty, unit_price in raw:
        amount = money(qty * unit_price)
        lines.append(ChargeLine(label, qty, unit_price, amount, amount if kind in covered_kinds else ZERO))
    total = sum((line.amount for line in lines), ZERO)
    covered = sum((line.covered_amount for line in lines), ZERO)
    return Charges(
        lines=lines,
        total=total,
        covered=covered,
        customer_amount=total - covered,
        charging_method=terms.method,
        coverage_label=terms.label,
        visit_id=visit.id,
    )


COST_KINDS = {
    "travel": _l("Travel"),
    "toll": _l("Tolls and parking"),
    "accommodation": _l("Accommodation"),
    "material": _l("Consumables"),
    "fee": _l("Fee"),
    "other": _l("Other cost"),
}


def cost_label(kind: str, note: str | None = None) -> str:
    label = str(COST_KINDS[kind]) if kind in COST_KINDS else kind
    return f"{label} ({note})" if note else label


@dataclass
class RequestCharges:
    request_id: int
    visits: list[Charges]
    total: Decimal
    covered: Decimal
    customer_amount: Decimal


def request_charges(
    request, part_lines_by_visit: dict | None = None, *, verified_only: bool = False
) -> RequestCharges:
    """The charges of every visit of *request*, and their sums; *verified_only*: of the visits a manager verified
    (核销) only, the ones an issued invoice counts."""
    terms = charge_terms(request)
    verified = verified_visit_ids(request.id) if verified_only else None
    per_visit = [
        compute_charges(v, (part_lines_by_visit or {}).get(v.id), terms=terms)
        for v in request.visits
        if v.finished_at and (verified is None or v.id in verified)
    ]
    return RequestCharges(
        request_id=request.id,
        visits=per_visit,
        total=sum((c.total for c in per_visit), ZERO),
        covered=sum((c.covered for c in per_visit), ZERO),
        customer_amount=sum((c.customer_amount for c in per_visit), ZERO),
    )


# --- invoices ------------------------------------------------------------------------------------------------------

# action -> (states it may start from, the state it leads to)
INVOICE_TRANSITIONS = {
    "issue": ({"requested"}, "issued"),
    "cancel": ({"requested"}, "cancelled"),
}


def _actor_name(actor) -> str:
    return actor.username if actor is not None else "customer"


def request_invoice(request, data: dict, actor) -> Invoice:
    """Record a customer's request for an invoice of what they pay on *request* (actor None: the customer)."""
    if not request.visits:
        raise ValidationFailed("nothing_to_invoice", "No visit has been recorded on this request yet.")
    amount = request_charges(request).customer_amount
    if amount <= 0:
        raise ValidationFailed(
            "nothing_to_invoice", "The customer owes nothing on this request: it is covered."
        )
    live = sa.select(Invoice.number, Invoice.status).where(
        Invoice.request_id == request.id, Invoice.status != "cancelled"
    )
    if db.session.execute(live).first() is not None:
        raise Conflict("invoice_exists", "An invoice was already requested for this service request.")
    invoice = Invoice(
        request_id=request.id,
        customer_id=request.customer_id,
        amount=amount,
        requested_by_id=actor.id if actor is not None else None,
        **{k: data.get(k) for k in ("title", "tax_id", "email", "note")},
    )
    db.session.add(invoice)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "invoice_exists", "An invoice was already requested for this service request."
        ) from exc
    add_event(
        request,
        "invoice_requested",
        actor,
        request.status,
        request.status,
        data=note_data("invoice_requested", amount=f"¥{amount}"),
    )
    log.info("invoice %s requested for request %s by %s", invoice.id, request.id, _actor_name(actor))
    return invoice


def perform_invoice(
    invoice: Invoice, action: str, actor, version: int | None, reason: str | None = None
) -> Invoice:
    """Issue or cancel an invoice (the transition table says from which states)."""
    check_version(invoice, version)
    sources, target = INVOICE_TRANSITIONS[action]
    if invoice.status not in sources:
        raise Conflict("illegal_transition", f"An invoice that is {invoice.status} cannot be {target}.")
    if action == "cancel" and not reason:
        raise ValidationFailed(
            "reason_required", "Say why it is cancelled.", {"reason": "Say why it is cancelled."}
        )
    amount = invoice.amount
    if action == "issue":
        # Only verified visits (核销) are invoiced: none may still wait, and the amount is theirs.
        if awaiting_verification(invoice.request_id):
            raise Conflict(
                "visits_not_verified",
                "A visit of this request waits for verification: only verified visits are invoiced.",
            )
        amount = request_charges(invoice.request, verified_only=True).customer_amount
        if amount <= 0:
            raise Conflict(
                "nothing_to_invoice", "The verified visits of this request leave the customer nothing to pay."
            )
    # Take the number before touching the invoice: its UPDATE would autoflush a half-made change (two versions).
    number = next_number(f"INV-{today().year}") if action == "issue" else None
    invoice.status = target
    if action == "issue":
        invoice.amount = amount
        invoice.number = number
        invoice.issued_at = utcnow()
        invoice.issued_by_id = actor.id
    else:
        invoice.note = "\n".join(filter(None, [invoice.note, reason]))
    db.session.flush()
    log.info("invoice %s %s by %s", invoice.id, target, _actor_name(actor))
    return invoice
