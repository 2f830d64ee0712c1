"""E-service reports (电子服务报告), the customer's QR link, ratings and urging from the customer's page."""

import base64
import hashlib
import hmac
import json
import logging
import re
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale

from fieldservice.billing.charges import compute_charges
from fieldservice.core.errors import Conflict, NotFound, ValidationFailed
from fieldservice.core.links import customer_page_url, public_url
from fieldservice.core.models import conflict_insert, utcnow
from fieldservice.core.pdf import render_pdf
from fieldservice.extensions import db
from fieldservice.knowledge.models import Entry
from fieldservice.parts.models import VisitPart
from fieldservice.reports import signals
from fieldservice.reports.models import CustomerLink, CustomerRating, ServiceReport
from fieldservice.requests.models import Attachment, RequestEvent, ServiceRequest, Visit
from fieldservice.requests.operations import add_event, perform

log = logging.getLogger("fieldservice.reports")

TOKEN_BYTES = 24  # 192 bits: well past the 128 bits an unguessable link needs
VALID, EXPIRED, REVOKED = "valid", "expired", "revoked"


# ---------------------------------------------------------------- the customer's link
#
# Only a link's SHA-256 is stored. Its token is derived, HMAC-SHA256(SECRET_KEY, request id, serial), so that the
# link can be shown again whenever staff or a message need it (the console, the printed work order, the QR image,
# the outbox when it sends, #21's request page from the moment the request exists) without being kept anywhere:
# the database, a backup or a log of SQL opens no customer's page. Revoking a request's links makes the next one
# shown the next serial; a link expires FIELDSERVICE_PUBLIC_LINK_DAYS after the later of its issue and the
# request's closing (never while the request is open). Changing SECRET_KEY changes every derived token: links
# issued before keep working by their stored hash until they expire, and the app issues the next serial when it
# shows one again.


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def derive_token(request_id: int, serial: int) -> str:
    """The token of link *serial* of a request: an HMAC of the site's secret, never stored."""
    key = current_app.config["SECRET_KEY"]
    key = key if isinstance(key, bytes) else key.encode("utf-8")
    message = f"fieldservice-customer-link:{request_id}:{serial}".encode("ascii")
    digest = hmac.new(key, message, hashlib.sha256).digest()[:TOKEN_BYTES]
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def link_expires_at(link: CustomerLink, sr: ServiceRequest) -> datetime | None:
    """When *link* stops opening the page: days after the later of its issue and the request's closing."""
    if sr.closed_at is None:
        return None
    days = timedelta(days=current_app.config["FIELDSERVICE_PUBLIC_LINK_DAYS"])
    return max(link.created_at, sr.closed_at) + days


def link_state(link: CustomerLink, sr: ServiceRequest, now: datetime | None = None) -> str:
    if link.revoked_at is not None:
        return REVOKED
    expires = link_expires_at(link, sr)
    return EXPIRED if expires is not None and (now or utcnow()) >= expires else VALID


def _links(sr: ServiceRequest) -> list[CustomerLink]:
    query = sa.select(CustomerLink).where(CustomerLink.request_id == sr.id).order_by(CustomerLink.serial.desc())
    # populate_existing: a revocation in this transaction updated the rows behind the session's back.
    return list(db.session.scalars(query.execution_options(populate_existing=True)))


def current_link(sr: ServiceRequest) -> CustomerLink | None:
    """The request's link current_token would show (None before one is issued)."""
    return next((link for link in _links(sr) if link.serial > 0 and link_state(link, sr) == VALID), None)


def current_token(sr: ServiceRequest) -> str:
    """The token of the request's current link, issued on first need (and again once revoked or expired)."""
    return _current_token(sr, _links(sr))


def current_tokens(requests) -> dict[int, str]:
    """current_token of many requests (an engineer's jobs), their links read in one query: {request id: token}."""
    requests = list(requests)
    links: dict[int, list[CustomerLink]] = {}
    if requests:
        query = (
            sa.select(CustomerLink)
            .where(CustomerLink.request_id.in_([sr.id for sr in requests]))
            .order_by(CustomerLink.request_id, CustomerLink.serial.desc())
        )
        for link in db.session.scalars(query.execution_options(populate_existing=True)):
            links.setdefault(link.request_id, []).append(link)
    return {sr.id: _current_token(sr, links.get(sr.id, [])) for sr in requests}


def _current_token(sr: ServiceRequest, links: list[CustomerLink]) -> str:
    latest = next((link for link in links if link.serial > 0), None)
    if latest is not None and link_state(latest, sr) == VALID:
        token = derive_token(sr.id, latest.serial)
        if hmac.compare_digest(_hash(token), latest.token_hash):
            return token
        # SECRET_KEY changed since it was issued: that link stays valid by its hash, the next one is shown.
    return _issue(sr, (links[0].serial if links else 0) + 1)


def _issue(sr: ServiceRequest, serial: int) -> str:
    token = derive_token(sr.id, serial)
    # Issued by a concurrent transaction meanwhile: the same serial derives the same token, nothing to add.
    db.session.execute(
        conflict_insert(CustomerLink)
        .values(request_id=sr.id, serial=serial, token_hash=_hash(token), created_at=utcnow())
        .on_conflict_do_nothing(index_elements=[CustomerLink.request_id, CustomerLink.serial])
    )
    return token


def find_link(token: str) -> tuple[CustomerLink | None, str | None]:
    """The link a presented token is, and its state (valid, expired, revoked); (None, None) for a wrong one."""
    if not token or len(token) > 64:
        return None, None
    link = db.session.scalar(sa.select(CustomerLink).where(CustomerLink.token_hash == _hash(token)))
    if link is None:
        return None, None
    return link, link_state(link, db.session.get(ServiceRequest, link.request_id))


def request_for_token(token: str) -> ServiceRequest | None:
    """The request a valid customer token opens, or None (wrong, altered, revoked and expired alike)."""
    link, state = find_link(token)
    return db.session.get(ServiceRequest, link.request_id) if state == VALID else None


def urls_for(sr: ServiceRequest) -> dict:
    """The customer's page, PDF and QR links of the request's current link."""
    token = current_token(sr)
    return {
        "url": customer_page_url(token),
        "pdf_url": public_url(f"/r/{token}.pdf"),
        "qr_url": public_url(f"/r/{token}/qr.png"),
    }


def _revoke_all(sr: ServiceRequest, now: datetime) -> int:
    return db.session.execute(
        sa.update(CustomerLink)
        .where(CustomerLink.request_id == sr.id, CustomerLink.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount


def revoke_customer_link(sr: ServiceRequest, actor) -> dict:
    """Revoke every link of the request (one leaked, or went to the wrong person) and issue the next: its URLs."""
    revoked = _revoke_all(sr, utcnow())
    urls = urls_for(sr)
    add_event(sr, "customer_link_revoked", actor, sr.status, sr.status, data={"revoked": revoked})
    log.info("customer links of %s revoked by %s (%s), a new one issued", sr.number, actor.username, revoked)
    return urls


def _digits(phone: str | None) -> str:
    digits = re.sub(r"\D", "", phone or "")
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


def phones_on_record(sr: ServiceRequest) -> list[str]:
    """The numbers the request's customer may ask a fresh link for: the request's contact, the customer's own and
    their contacts'."""
    numbers = [sr.contact_phone, sr.customer.phone, *(contact.phone for contact in sr.customer.contacts)]
    return [number for number in numbers if number and len(_digits(number)) >= 7]


def send_fresh_link(link: CustomerLink, phone: str) -> bool:
    """A customer holding an expired or revoked link asks for a new one: when *phone* is a number on record for
    that request, the request's current link (issued when none is valid) goes to that number through the outbox
    (the fresh_link_requested signal). Nothing is revoked: whoever holds an old link cannot take the customer's
    working one away. The caller answers the same either way: the page is no phone-number oracle."""
    sr = db.session.get(ServiceRequest, link.request_id)
    wanted = _digits(phone)
    matched = None
    for number in phones_on_record(sr):
        # Every number compared, in constant time each.
        if hmac.compare_digest(_digits(number).encode(), wanted.encode()) and matched is None:
            matched = number
    if matched is None:
        log.info("fresh link for %s asked with a number not on record", sr.number)
        return False
    current_token(sr)
    serial = current_link(sr).serial
    event = add_event(
        sr, "customer_link_sent", None, sr.status, sr.status, data={"serial": serial}, actor_label="customer"
    )
    signals.fresh_link_requested.send(sr, phone=matched, event_id=event.id)
    log.info("customer link %s of %s sent again to a number on record", serial, sr.number)
    return True


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
    # The report is a document in the site's language (its PDF is stored), whoever's request ran the job: an
    # engineer's phone in English syncing a visit must not make the customer's report English.
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        content = build_content(visit)
        digest = _content_hash(content)
    report = db.session.scalar(sa.select(ServiceReport).where(ServiceReport.visit_id == visit_id))
    if report is not None and report.content_hash == digest:
        return report
    # In a child process that exits: a worker rendering reports in itself keeps what WeasyPrint allocates.
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        pdf = render_pdf("reports/report_pdf.html", in_child=True, r=content)
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
        sa.select(RequestEvent).where(RequestEvent.request_id == sr.id).order_by(RequestEvent.at, RequestEvent.id)
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
