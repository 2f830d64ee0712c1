"""E-service reports (电子服务报告), the customer's QR link, ratings and urging from the customer's page."""

import base64
import hashlib
import hmac
import json
import logging
import secrets
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from fieldservice.billing.charges import compute_charges
from fieldservice.core.errors import Conflict, NotFound, ValidationFailed
from fieldservice.core.links import customer_page_url, public_url
from fieldservice.core.models import conflict_insert, utcnow
from fieldservice.core.pdf import render_pdf
from fieldservice.core.qr import qr_data_url
from fieldservice.extensions import db
from fieldservice.knowledge.models import Entry
from fieldservice.parts.models import VisitPart
from fieldservice.reports.models import CustomerLink, CustomerRating, ServiceReport
from fieldservice.requests.models import Attachment, RequestEvent, ServiceRequest, Visit
from fieldservice.requests.operations import add_event, perform

log = logging.getLogger("fieldservice.reports")

TOKEN_BYTES = 24  # 192 bits: well past the 128 bits an unguessable link needs


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def link_for(sr: ServiceRequest) -> CustomerLink:
    """The request's customer link, made on first use (race-safe: one link per request)."""
    link = _stored_link(sr)
    if link is not None:
        return link
    token = secrets.token_urlsafe(TOKEN_BYTES)
    # Made by a concurrent transaction meanwhile: nothing is inserted, and the read below finds that one.
    link = db.session.scalar(
        conflict_insert(CustomerLink)
        .values(request_id=sr.id, token=token, token_hash=_hash(token), created_at=utcnow())
        .on_conflict_do_nothing(index_elements=[CustomerLink.request_id])
        .returning(CustomerLink)
    )
    return link if link is not None else _stored_link(sr)


def _stored_link(sr: ServiceRequest) -> CustomerLink | None:
    return db.session.scalar(sa.select(CustomerLink).where(CustomerLink.request_id == sr.id))


def request_for_token(token: str) -> ServiceRequest | None:
    """The request a customer token opens, or None (wrong, altered or foreign tokens all look the same)."""
    if not token or len(token) > 64:
        return None
    link = db.session.scalar(sa.select(CustomerLink).where(CustomerLink.token_hash == _hash(token)))
    if link is None or not hmac.compare_digest(link.token.encode(), token.encode()):
        return None
    return db.session.get(ServiceRequest, link.request_id)


def urls_for(sr: ServiceRequest) -> dict:
    token = link_for(sr).token
    return {
        "url": customer_page_url(token),
        "pdf_url": public_url(f"/r/{token}.pdf"),
        "qr_url": public_url(f"/r/{token}/qr.png"),
    }


# ---------------------------------------------------------------- the report's content


def _mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    digits = phone.strip()
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 8 else digits


def _money(value) -> str:
    return str(Decimal(value).quantize(Decimal("0.01")))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _data_url(attachment: Attachment | None) -> str | None:
    if attachment is None:
        return None
    return f"data:{attachment.content_type};base64," + base64.b64encode(attachment.data).decode("ascii")


def _part_lines(visit: Visit) -> list[dict]:
    rows = db.session.scalars(sa.select(VisitPart).where(VisitPart.visit_id == visit.id).order_by(VisitPart.line_no))
    return [
        {
            "part_number": row.part.part_number,
            "name": row.part.name,
            "qty": row.qty,
            "unit_price": _money(row.unit_price),
            "old_serial": row.old_serial,
            "new_serial": row.new_serial,
        }
        for row in rows
    ]


def _charges(visit: Visit) -> dict | None:
    charges = compute_charges(visit)
    return {
        "lines": [
            {
                "label": str(line.label),
                "qty": str(line.qty.normalize()) if isinstance(line.qty, Decimal) else str(line.qty),
                "unit_price": _money(line.unit_price),
                "amount": _money(line.amount),
                "covered": _money(line.covered_amount),
            }
            for line in charges.lines
        ],
        "total": _money(charges.total),
        "covered": _money(charges.covered),
        "customer_amount": _money(charges.customer_amount),
        "coverage": str(charges.coverage_label or ""),
        "charging_method": charges.charging_method,
    }


def _fault_title(visit: Visit) -> str | None:
    if visit.fault_id is None:
        return None
    entry = db.session.get(Entry, visit.fault_id)
    return getattr(entry, "symptom", None) if entry is not None else None


def build_content(visit: Visit) -> dict:
    """Everything the report shows, as plain JSON data (the page and the PDF render the same dict)."""
    sr = visit.request
    equipment = sr.equipment
    product = sr.product or (equipment.product if equipment else None)
    signature = db.session.get(Attachment, visit.signature_id) if visit.signature_id else None
    visit_no = db.session.scalar(
        sa.select(sa.func.count()).select_from(Visit).where(Visit.request_id == sr.id, Visit.id <= visit.id)
    )
    return {
        "request": {
            "number": sr.number,
            "problem_type": sr.problem_type,
            "description": sr.description,
            "priority": sr.priority,
            "logged_at": _iso(sr.created_at),
        },
        "customer": {
            "name": sr.customer.name,
            "address": sr.customer.address,
            "phone": _mask_phone(sr.customer.phone),
        },
        "equipment": {
            "product": product.name if product else None,
            "model": product.model if product else None,
            "serial_number": equipment.serial_number if equipment else None,
            "warranty_until": equipment.warranty_until.isoformat() if equipment and equipment.warranty_until else None,
        },
        "visit": {
            "id": visit.id,
            "number": visit_no,
            "arrived_at": _iso(visit.arrived_at),
            "finished_at": _iso(visit.finished_at),
            "labour_hours": _money(visit.labour_hours),
            "fault": visit.fault or _fault_title(visit),
            "cause": visit.cause,
            "solution": visit.solution,
            "outcome": visit.outcome,
            "photo_count": len(visit.photos),
        },
        "engineer": visit.engineer.name if visit.engineer else None,
        "parts": _part_lines(visit),
        "costs": [{"kind": c.kind, "amount": _money(c.amount), "note": c.note} for c in visit.costs],
        "charges": _charges(visit),
        "signature": _data_url(signature),
    }


def _content_hash(content: dict) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def build_report(visit_id: int) -> ServiceReport | None:
    """Build or refresh the report of a finished visit; unchanged data leaves it as it is (idempotent)."""
    # The visit's row lock makes two runs of this job (a retry beside a slow first run) take turns: the second
    # finds the report the first made and leaves it as it is.
    visit = db.session.get(Visit, visit_id, with_for_update=True)
    if visit is None:
        return None
    content = build_content(visit)
    digest = _content_hash(content)
    report = db.session.scalar(sa.select(ServiceReport).where(ServiceReport.visit_id == visit_id))
    if report is not None and report.content_hash == digest:
        return report
    urls = urls_for(visit.request)
    # In a child process that exits: a worker rendering reports in itself grows by about 38 MB a report.
    pdf = render_pdf("reports/report_pdf.html", in_child=True, r=content, qr=qr_data_url(urls["url"]), urls=urls)
    if report is None:
        report = ServiceReport(request_id=visit.request_id, visit_id=visit_id, revision=1)
        db.session.add(report)
    else:
        report.revision += 1
    report.content, report.content_hash = content, digest
    report.pdf, report.pdf_size, report.generated_at = pdf, len(pdf), utcnow()
    db.session.flush()
    log.info(
        "report for visit %s of %s built (revision %s, %s bytes)",
        visit_id,
        visit.request.number,
        report.revision,
        len(pdf),
    )
    return report


def visits_without_report(limit: int = 500) -> list[int]:
    """Ids of visits that have no report yet (the reconciler queues their report again)."""
    query = (
        sa.select(Visit.id)
        .outerjoin(ServiceReport, ServiceReport.visit_id == Visit.id)
        .where(ServiceReport.id.is_(None))
        .order_by(Visit.id)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def reports_of(sr: ServiceRequest) -> list[ServiceReport]:
    return list(
        db.session.scalars(
            sa.select(ServiceReport).where(ServiceReport.request_id == sr.id).order_by(ServiceReport.visit_id)
        )
    )


def latest_report(sr: ServiceRequest) -> ServiceReport | None:
    return db.session.scalar(
        sa.select(ServiceReport).where(ServiceReport.request_id == sr.id).order_by(ServiceReport.visit_id.desc())
    )


# ---------------------------------------------------------------- the customer's page


PROGRESS = {
    # timeline action (and target state) -> the step the customer sees
    "create": "logged",
    "assign": "assigned",
    "claim": "assigned",
    "accept": "accepted",
    "depart": "on_the_way",
    "arrive": "arrived",
    "visit": "visited",
    "revisit": "revisited",
    "cancel": "cancelled",
    "hand_back": "reassigning",
    "release": "reassigning",
    "urge": "urged",
}


def progress(sr: ServiceRequest) -> list[dict]:
    """The request's timeline in plain words for the customer: what happened and when, no internal notes."""
    events = db.session.scalars(
        sa.select(RequestEvent).where(RequestEvent.request_id == sr.id).order_by(RequestEvent.id)
    ).all()
    steps = []
    for event in events:
        step = PROGRESS.get(event.action)
        if step is None:
            continue
        if step == "visited":
            step = "resolved" if event.to_status == "resolved" else "not_fixed_yet"
        if step == "revisited" and event.to_status != "revisited":
            step = "reopened"
        detail = (event.data or {}).get("engineer_name") if step == "assigned" else None
        steps.append({"step": step, "at": event.at, "detail": detail})
    return steps


def rate_visit(sr: ServiceRequest, visit_id: int | None, score, comment: str | None) -> CustomerRating:
    """The customer's 1-5 rating of a finished visit, once per visit."""
    fields = {}
    try:
        score = int(score)
    except (TypeError, ValueError):
        score = None
    if score is None or not 1 <= score <= 5:
        fields["score"] = "Give a score from 1 to 5."
    if comment is not None and len(comment) > 1000:
        fields["comment"] = "At most 1000 characters."
    if fields:
        raise ValidationFailed("validation_failed", "Some fields are not valid.", fields)
    query = sa.select(Visit).where(Visit.request_id == sr.id)
    visit = db.session.scalar(query.where(Visit.id == visit_id) if visit_id else query.order_by(Visit.id.desc()))
    if visit is None:
        raise NotFound("no_visit", "There is no finished visit to rate yet.")
    if db.session.scalar(sa.select(CustomerRating.id).where(CustomerRating.visit_id == visit.id)):
        raise Conflict("already_rated", "This visit has been rated already. Thank you!")
    rating = CustomerRating(request_id=sr.id, visit_id=visit.id, score=score, comment=(comment or "").strip() or None)
    try:
        with db.session.begin_nested():
            db.session.add(rating)
    except sa.exc.IntegrityError as exc:
        raise Conflict("already_rated", "This visit has been rated already. Thank you!") from exc

    add_event(
        sr,
        "customer_rating",
        None,
        sr.status,
        sr.status,
        note=rating.comment,
        data={"score": score, "visit_id": visit.id},
        actor_label="customer",
    )
    log.info("customer rated visit %s of %s: %s", visit.id, sr.number, score)
    return rating


def urge_from_customer(sr: ServiceRequest, note: str | None) -> ServiceRequest:
    if note is not None and len(note) > 500:
        raise ValidationFailed("validation_failed", "Some fields are not valid.", {"note": "At most 500 characters."})
    return perform(sr, "urge", None, None, note=(note or "").strip() or "customer urged from the QR page")
