"""The customer's page behind the QR code (no login), and the printable work order for staff."""

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from fieldservice.auth.permissions import require
from fieldservice.core.errors import ApiError
from fieldservice.core.pdf import render_pdf
from fieldservice.core.qr import qr_data_url, qr_png
from fieldservice.core.ratelimit import allow
from fieldservice.extensions import csrf, db
from fieldservice.reports import operations as ops
from fieldservice.reports.models import CustomerRating, ServiceReport
from fieldservice.reports.permissions import WORK_ORDER_PRINT
from fieldservice.requests.operations import get_visible_request

bp = Blueprint(
    "reports", __name__, template_folder="templates", static_folder="static", static_url_path="/static/reports"
)

# Public routes: per client address, page views, writes, and wrong tokens (a guessing attack) each have a budget.
VIEW_LIMIT = (120, 60)
WRITE_LIMIT = (20, 600)
MISS_LIMIT = (30, 600)


def _client() -> str:
    # remote_addr is the client's own address, or the one a trusted proxy reported (FIELDSERVICE_PROXIES): a header
    # the client sets itself must not buy it a fresh budget.
    return (request.remote_addr or "?")[:64]


def _limited(kind: str, limit: tuple[int, int]):
    if not allow(f"r:{kind}:{_client()}", *limit):
        abort(429)


def _request_or_404(token: str):
    _limited("view", VIEW_LIMIT)
    sr = ops.request_for_token(token)
    if sr is None:
        _limited("miss", MISS_LIMIT)
        abort(404)
    return sr


def _no_store(response: Response) -> Response:
    # The page is one customer's: never in a shared cache, never indexed.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/r/<token>")
def customer_page(token: str):
    sr = _request_or_404(token)
    reports = ops.reports_of(sr)
    rated = {
        r.visit_id: r
        for r in db.session.scalars(db.select(CustomerRating).where(CustomerRating.request_id == sr.id))
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
        )
    )
    return _no_store(response)


@bp.route("/r/<token>.pdf")
def customer_pdf(token: str):
    sr = _request_or_404(token)
    visit_id = request.args.get("visit", type=int)
    query = db.select(ServiceReport).where(ServiceReport.request_id == sr.id)
    query = (
        query.where(ServiceReport.visit_id == visit_id)
        if visit_id
        else query.order_by(ServiceReport.visit_id.desc())
    )
    report = db.session.scalars(query.limit(1)).first()
    if report is None:
        abort(404)
    response = Response(report.pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{sr.number}-{report.visit_id}.pdf"'
    return _no_store(response)


@bp.route("/r/<token>/qr.png")
def customer_qr(token: str):
    sr = _request_or_404(token)
    return _no_store(Response(qr_png(ops.urls_for(sr)["url"]), mimetype="image/png"))


def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


@bp.route("/r/<token>/rating", methods=["POST"])
@csrf.exempt
def customer_rating(token: str):
    """API.md: POST /r/<token>/rating {score: 1-5, comment?}; also the page's form."""
    sr = _request_or_404(token)
    _limited("write", WRITE_LIMIT)
    data = request.get_json(silent=True) if request.is_json else request.form
    if request.is_json and not isinstance(data, dict):
        return _json_error(400, "malformed_json", "The request body is not valid JSON.")
    try:
        rating = ops.rate_visit(
            sr, _int_or_none(data.get("visit_id")), data.get("score"), data.get("comment")
        )
    except ApiError as exc:
        db.session.rollback()
        if _wants_json():
            return _json_error(exc.status, exc.code, exc.message, exc.fields)
        flash(_(exc.message), "error")
        return redirect(url_for("reports.customer_page", token=token))
    db.session.commit()
    if _wants_json():
        return {"visit_id": rating.visit_id, "score": rating.score, "comment": rating.comment}, 201
    flash(_("Thank you for your rating!"), "success")
    return redirect(url_for("reports.customer_page", token=token))


@bp.route("/r/<token>/urge", methods=["POST"])
@csrf.exempt
def customer_urge(token: str):
    sr = _request_or_404(token)
    _limited("write", WRITE_LIMIT)
    data = request.get_json(silent=True) if request.is_json else request.form
    try:
        ops.urge_from_customer(sr, (data or {}).get("note"))
    except ApiError as exc:
        db.session.rollback()
        if _wants_json():
            return _json_error(exc.status, exc.code, exc.message, exc.fields)
        flash(_(exc.message), "error")
        return redirect(url_for("reports.customer_page", token=token))
    db.session.commit()
    if _wants_json():
        return {"status": sr.status, "urged": True}, 200
    flash(_("We have passed on your reminder to the service team."), "success")
    return redirect(url_for("reports.customer_page", token=token))


def _int_or_none(value):
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _json_error(status: int, code: str, message: str, fields=None):
    return {"error": {"code": code, "message": message, "fields": fields or {}}}, status


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


@bp.app_context_processor
def _public_base():
    return {"public_base_url": current_app.config["FIELDSERVICE_PUBLIC_URL"]}
