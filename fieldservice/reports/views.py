"""The customer's page behind the QR code (no login), and the printable work order for staff."""

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from fieldservice.appointments import operations as appointments
from fieldservice.auth.permissions import can, require
from fieldservice.core.errors import ApiError, ValidationFailed
from fieldservice.core.links import customer_page_url
from fieldservice.core.pdf import render_pdf
from fieldservice.core.public import json_error, public_post, read_body, wants_json
from fieldservice.core.qr import qr_data_url, qr_png
from fieldservice.core.ratelimit import allow
from fieldservice.extensions import csrf, db
from fieldservice.reports import operations as ops
from fieldservice.reports.models import CustomerRating, ServiceReport
from fieldservice.reports.permissions import CUSTOMER_LINK_MANAGE, WORK_ORDER_PRINT
from fieldservice.requests.models import ServiceRequest
from fieldservice.requests.operations import get_visible_request
from fieldservice.requests.panels import request_panels

bp = Blueprint(
    "reports", __name__, template_folder="templates", static_folder="static", static_url_path="/static/reports"
)

# Public routes: per client address, page views, writes, and wrong tokens (a guessing attack) each have a budget.
VIEW_LIMIT = (120, 60)
WRITE_LIMIT = (20, 600)
MISS_LIMIT = (30, 600)
# Asking for a fresh link: per address (429 past it), and per request whatever the address (past it the answer is
# the same as ever but nothing is sent: nobody can flood a customer's phone).
FRESH_LIMIT = (5, 3600)
FRESH_PER_REQUEST = (3, 86400)


def _client() -> str:
    # remote_addr is the client's own address, or the one a trusted proxy reported (FIELDSERVICE_PROXIES): a header
    # the client sets itself must not buy it a fresh budget.
    return (request.remote_addr or "?")[:64]


def _limited(kind: str, limit: tuple[int, int]):
    if not allow(f"r:{kind}:{_client()}", *limit):
        abort(429)


def _link_or_404(token: str):
    """The presented token's link and its state; a wrong token is a plain 404 (and counts as a guess)."""
    _limited("view", VIEW_LIMIT)
    link, state = ops.find_link(token)
    if link is None:
        _limited("miss", MISS_LIMIT)
        abort(404)
    return link, state


def _request_or_404(token: str):
    """The request of a valid token; wrong, expired and revoked tokens alike are a plain 404."""
    link, state = _link_or_404(token)
    if state != ops.VALID:
        abort(404)
    return db.session.get(ServiceRequest, link.request_id)


def _no_store(response: Response) -> Response:
    # The page is one customer's: never in a shared cache, never indexed.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _link_gone_page(token: str, state: str, status: int = 410, **context) -> Response:
    """The page of an expired or revoked link: nothing about the request, a form to ask for a new link."""
    html = render_template("reports/link_expired.html", token=token, state=state, **context)
    return _no_store(Response(html, status=status))


@bp.route("/r/<token>")
def customer_page(token: str):
    link, state = _link_or_404(token)
    if state != ops.VALID:
        return _link_gone_page(token, state)
    sr = db.session.get(ServiceRequest, link.request_id)
    reports = ops.reports_of(sr)
    rated = {
        r.visit_id: r for r in db.session.scalars(db.select(CustomerRating).where(CustomerRating.request_id == sr.id))
    }
    response = Response(
        render_template(
            "reports/customer_page.html",
            sr=sr,
            token=token,
            steps=ops.progress(sr),
            reports=reports,
            rated=rated,
            unrated=[r for r in reports if r.visit_id not in rated],
            appointment=_booked(sr),
        )
    )
    return _no_store(response)


def _booked(sr):
    """The window agreed for the visit, when one is booked (kept, missed and cancelled ones are history)."""
    current = appointments.current_appointment(sr.id)
    return current if current is not None and current.status == appointments.BOOKED else None


@bp.route("/r/<token>/appointment/change", methods=["POST"])
@csrf.exempt
def customer_appointment_change(token: str):
    """The customer asks for another window: the dispatcher sees a flag and an event; nothing moves by itself."""
    sr = _request_or_404(token)
    _limited("write", WRITE_LIMIT)

    def ask(data):
        note = data.get("note")
        if note is not None and not isinstance(note, str):
            raise ValidationFailed("validation_failed", "Some fields are not valid: note.", {"note": "Not a text."})
        appointments.ask_for_another_window(sr, note)

    return public_post(
        ask,
        url_for("reports.customer_page", token=token),
        lambda _result: {"change_requested": True},
        _("We have passed on your request for another time; the service team will call you."),
    )


@bp.route("/r/<token>.pdf")
def customer_pdf(token: str):
    sr = _request_or_404(token)
    visit_id = request.args.get("visit", type=int)
    query = db.select(ServiceReport).where(ServiceReport.request_id == sr.id)
    query = (
        query.where(ServiceReport.visit_id == visit_id) if visit_id else query.order_by(ServiceReport.visit_id.desc())
    )
    report = db.session.scalars(query.limit(1)).first()
    if report is None:
        abort(404)
    response = Response(report.pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{sr.number}-{report.visit_id}.pdf"'
    return _no_store(response)


@bp.route("/r/<token>/qr.png")
def customer_qr(token: str):
    _request_or_404(token)
    return _no_store(Response(qr_png(customer_page_url(token)), mimetype="image/png"))


@bp.route("/r/<token>/fresh-link", methods=["POST"])
@csrf.exempt
def customer_fresh_link(token: str):
    """An expired or revoked link's owner asks for a new one, sent to a phone number on record for the request."""
    link, state = _link_or_404(token)
    if state == ops.VALID:
        return redirect(url_for("reports.customer_page", token=token))
    _limited("fresh", FRESH_LIMIT)
    try:
        phone = read_body().get("phone")
    except ApiError as exc:
        return json_error(exc.status, exc.code, exc.message)
    if not isinstance(phone, str) or not phone.strip() or len(phone) > 40:
        message = _("Enter a phone number.")
        if wants_json():
            return json_error(422, "validation_failed", "Enter a phone number.", {"phone": message})
        return _link_gone_page(token, state, status=422, error=message)
    # The same answer whether the number matched, did not, or the request's daily budget is spent: no oracle.
    if allow(f"r:fresh-request:{link.request_id}", *FRESH_PER_REQUEST):
        ops.send_fresh_link(link, phone)
        db.session.commit()
    if wants_json():
        return {"message": "If this number is on record for the request, a new link has been sent to it."}, 202
    return _link_gone_page(token, state, status=200, asked=True)


@bp.route("/r/<token>/rating", methods=["POST"])
@csrf.exempt
def customer_rating(token: str):
    """API.md: POST /r/<token>/rating {score: 1-5, comment?}; also the page's form."""
    sr = _request_or_404(token)
    _limited("write", WRITE_LIMIT)
    return public_post(
        lambda data: ops.rate_visit(sr, _int_or_none(data.get("visit_id")), data.get("score"), data.get("comment")),
        url_for("reports.customer_page", token=token),
        lambda rating: {"visit_id": rating.visit_id, "score": rating.score, "comment": rating.comment},
        _("Thank you for your rating!"),
        status=201,
    )


@bp.route("/r/<token>/urge", methods=["POST"])
@csrf.exempt
def customer_urge(token: str):
    sr = _request_or_404(token)
    _limited("write", WRITE_LIMIT)
    return public_post(
        lambda data: ops.urge_from_customer(sr, data.get("note")),
        url_for("reports.customer_page", token=token),
        lambda _result: {"status": sr.status, "urged": True},
        _("We have passed on your reminder to the service team."),
    )


def _int_or_none(value):
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


@bp.route("/requests/<int:request_id>/work-order.pdf")
@require(WORK_ORDER_PRINT)
def work_order_pdf(request_id: int):
    """The printable work order with the customer's QR code, for engineers who leave paper on site."""
    sr = get_visible_request(request_id, current_user)
    urls = ops.urls_for(sr)
    db.session.commit()
    pdf = render_pdf("reports/work_order_pdf.html", sr=sr, qr=qr_data_url(urls["url"]), urls=urls)
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{sr.number}-work-order.pdf"'
    return response


def _link_panel(sr) -> dict:
    return {}


request_panels.add("reports/_request_link_panel.html", _link_panel, WORK_ORDER_PRINT)


@bp.route("/requests/<int:request_id>/customer-link")
@require(WORK_ORDER_PRINT)
def customer_link(request_id: int):
    """The request's customer link and its QR code, to read out or send; showing it issues it."""
    sr = get_visible_request(request_id, current_user)
    urls = ops.urls_for(sr)
    link = ops.current_link(sr)
    db.session.commit()
    return render_template(
        "reports/customer_link.html",
        sr=sr,
        urls=urls,
        qr=qr_data_url(urls["url"]),
        expires_at=ops.link_expires_at(link, sr),
        days=current_app.config["FIELDSERVICE_PUBLIC_LINK_DAYS"],
        can_revoke=can(current_user, CUSTOMER_LINK_MANAGE),
    )


@bp.route("/requests/<int:request_id>/customer-link/revoke", methods=["POST"])
@require(CUSTOMER_LINK_MANAGE)
def revoke_customer_link(request_id: int):
    sr = get_visible_request(request_id, current_user)
    ops.revoke_customer_link(sr, current_user)
    db.session.commit()
    flash(_("The old customer link no longer works; this is the new one."), "success")
    return redirect(url_for("reports.customer_link", request_id=request_id))


@bp.app_context_processor
def _public_base():
    return {"public_base_url": current_app.config["FIELDSERVICE_PUBLIC_URL"]}
