"""The unit's public page behind its QR label (no login: /e/<token>), and the console's label pages."""

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from fieldservice.auth.permissions import require
from fieldservice.console.navigation import add_nav
from fieldservice.core.errors import ApiError, TooManyRequests
from fieldservice.core.public import read_body
from fieldservice.core.qr import qr_data_url, qr_png
from fieldservice.core.ratelimit import add, seconds_left, window_start
from fieldservice.customers.models import Equipment
from fieldservice.customers.panels import customer_panels, equipment_panels
from fieldservice.extensions import csrf, db
from fieldservice.requests.operations import problem_types
from fieldservice.selfservice import operations as ops
from fieldservice.selfservice import sheets
from fieldservice.selfservice.models import EquipmentLabel, LabelSheet
from fieldservice.selfservice.permissions import LABELS_MANAGE

bp = Blueprint(
    "selfservice",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/selfservice",
)

add_nav("selfservice.labels", _l("QR labels"), LABELS_MANAGE, order=27, group="customers")

# The public routes' budgets, (hits, seconds), each counted in Redis (core.ratelimit) so that every web process
# shares them: per client address, per label (whoever scans it), per phone number (nobody floods a phone).
LIMITS = {
    "view": (120, 60),
    "miss": (30, 600),  # wrong tokens: a guessing attack
    "code-address": (10, 3600),
    "code-token": (20, 3600),
    "code-phone": (3, 600),
    "code-phone-day": (10, 86400),
    "write-address": (20, 3600),
    "write-token": (20, 3600),
    "write-phone": (10, 3600),
    "urge-token": (5, 3600),
}
LIMIT_MESSAGE = "Too many attempts from here. Please wait a while and try again, or call the service hotline."


def _client() -> str:
    # remote_addr: the client's own, or what a trusted proxy reported (FIELDSERVICE_PROXIES).
    return (request.remote_addr or "?")[:64]


def _limit(kind: str, subject: str) -> None:
    """Count one hit on *kind*'s budget for *subject*; past it a 429 with the time to wait."""
    hits, seconds = LIMITS[kind]
    window = window_start(seconds)
    if add(f"e:{kind}:{subject}", seconds, window=window) > hits:
        raise TooManyRequests("too_many_requests", LIMIT_MESSAGE, retry_after=seconds_left(window, seconds))


def _equipment_or_404(token: str) -> Equipment:
    """The unit a label opens; a wrong or revoked label is a plain 404 (and counts as a guess)."""
    try:
        _limit("view", _client())
        equipment = ops.equipment_for_token(token)
        if equipment is None:
            _limit("miss", _client())
    except TooManyRequests as exc:
        abort(Response(render_template("core/error.html", status=429, message=_(exc.message)), 429, _retry(exc)))
    if equipment is None:
        abort(404)
    return equipment


def _retry(exc: TooManyRequests) -> dict:
    return {"Retry-After": str(exc.retry_after or 60)}


def _no_store(response: Response) -> Response:
    # One customer's unit: never in a shared cache, never indexed, the token never sent on as a referrer.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _json_error(exc: ApiError) -> Response:
    """The API's error format, its words in the customer's language (the page shows them as they come)."""
    body = {
        "error": {
            "code": exc.code,
            "message": _(exc.message),
            "fields": {name: _(message) for name, message in (exc.fields or {}).items()},
        }
    }
    response = current_app.json.response(body)
    response.status_code = exc.status
    if isinstance(exc, TooManyRequests):
        response.headers.update(_retry(exc))
    return _no_store(response)


def _locale() -> str:
    return "en" if str(get_locale()) == "en" else "zh_Hans"


@bp.route("/e/<token>")
def equipment_page(token: str):
    equipment = _equipment_or_404(token)
    locale = "en" if _locale() == "en" else "zh"
    page = ops.page_of(equipment)
    html = render_template(
        "selfservice/equipment_page.html",
        token=token,
        problem_types=[(p.code, p.label(locale)) for p in problem_types()],
        symptoms=ops.common_symptoms(equipment),
        **page,
    )
    return _no_store(Response(html))


@bp.route("/e/<token>/qr.png")
def equipment_qr(token: str):
    _equipment_or_404(token)
    return _no_store(Response(qr_png(ops.label_urls(token)["url"]), mimetype="image/png"))


@bp.route("/e/<token>/code", methods=["POST"])
@csrf.exempt
def send_code(token: str):
    """API.md: POST /e/<token>/code {phone}: a one-time code to that phone (10 minutes, 5 tries)."""
    equipment = _equipment_or_404(token)
    try:
        data = read_body()
        phone = ops.normalize_phone(data.get("phone"))
        _limit("code-address", _client())
        _limit("code-token", token)
        if phone is not None:
            _limit("code-phone", phone)
            _limit("code-phone-day", phone)
        ops.send_code(equipment, data.get("phone"), _locale())
    except ApiError as exc:
        db.session.rollback()
        return _json_error(exc)
    db.session.commit()
    return _no_store(current_app.json.response({"sent": True, "expires_in": int(ops.CODE_TTL.total_seconds())})), 202


def _write_limits(token: str, data: dict) -> None:
    _limit("write-address", _client())
    _limit("write-token", token)
    phone = ops.normalize_phone(data.get("phone"))
    if phone is not None:
        _limit("write-phone", phone)


@bp.route("/e/<token>/requests", methods=["POST"])
@csrf.exempt
def report_fault(token: str):
    """API.md: POST /e/<token>/requests → 201 {number, url}, or 200 with the unit's open request it was added to."""
    equipment = _equipment_or_404(token)
    try:
        data = read_body()
        _write_limits(token, data)
        sr, created = ops.report_fault(equipment, data)
        url = ops.progress_url(sr)
    except ApiError as exc:
        db.session.rollback()
        return _json_error(exc)
    db.session.commit()
    body = {"number": sr.number, "url": url, "created": created}
    return _no_store(current_app.json.response(body)), 201 if created else 200


@bp.route("/e/<token>/follow", methods=["POST"])
@csrf.exempt
def follow(token: str):
    """Follow my request: the phone's code opens the progress page of the unit's request that has that number."""
    equipment = _equipment_or_404(token)
    try:
        data = read_body()
        _write_limits(token, data)
        sr = ops.follow_request(equipment, data.get("phone"), data.get("code"))
        url = ops.progress_url(sr)
    except ApiError as exc:
        db.session.rollback()
        return _json_error(exc)
    db.session.commit()
    return _no_store(current_app.json.response({"number": sr.number, "url": url}))


@bp.route("/e/<token>/urge", methods=["POST"])
@csrf.exempt
def urge(token: str):
    """Remind the service team of one of the unit's open requests (a form on the page)."""
    equipment = _equipment_or_404(token)
    try:
        data = read_body()
        _limit("write-address", _client())
        _limit("urge-token", token)
        request_id = data.get("request_id")
        request_id = int(request_id) if isinstance(request_id, str) and request_id.isdigit() else request_id
        ops.urge(equipment, request_id, data.get("note") or None)
    except ApiError as exc:
        db.session.rollback()
        if request.is_json:
            return _json_error(exc)
        flash(_(exc.message), "error")
        return redirect(url_for("selfservice.equipment_page", token=token) + "#open")
    db.session.commit()
    if request.is_json:
        return _no_store(current_app.json.response({"urged": True}))
    flash(_("We have passed on your reminder to the service team."), "success")
    return redirect(url_for("selfservice.equipment_page", token=token) + "#open")


# ---------------------------------------------------------------- console: labels


def _equipment(equipment_id: int) -> Equipment:
    equipment = db.session.get(Equipment, equipment_id)
    if equipment is None:
        abort(404)
    return equipment


@bp.route("/equipment/<int:equipment_id>/label")
@require(LABELS_MANAGE)
def label(equipment_id: int):
    """The unit's label: its QR code and page, print it, issue a new one (the old sticker stops working)."""
    equipment = _equipment(equipment_id)
    current = ops.current_label(equipment)
    urls = ops.label_urls(ops.label_token(equipment)) if current is not None else None
    return render_template(
        "selfservice/label.html",
        equipment=equipment,
        current=current,
        urls=urls,
        qr=qr_data_url(urls["url"]) if urls else None,
        issued=db.session.scalar(
            sa.select(sa.func.count()).select_from(EquipmentLabel).where(EquipmentLabel.equipment_id == equipment.id)
        ),
    )


@bp.route("/equipment/<int:equipment_id>/label", methods=["POST"])
@require(LABELS_MANAGE)
def issue_label(equipment_id: int):
    equipment = _equipment(equipment_id)
    had = ops.current_label(equipment) is not None
    ops.issue_label(equipment, current_user)
    db.session.commit()
    flash(
        _("A new label was issued: the old one no longer opens the unit's page.") if had else _("Label issued."),
        "success",
    )
    return redirect(url_for("selfservice.label", equipment_id=equipment_id))


@bp.route("/equipment/<int:equipment_id>/label/revoke", methods=["POST"])
@require(LABELS_MANAGE)
def revoke_label(equipment_id: int):
    equipment = _equipment(equipment_id)
    ops.revoke_labels(equipment)
    db.session.commit()
    flash(_("The label was revoked: scanning it now finds nothing."), "success")
    return redirect(url_for("selfservice.label", equipment_id=equipment_id))


@bp.route("/equipment/<int:equipment_id>/label.pdf")
@require(LABELS_MANAGE)
def label_pdf(equipment_id: int):
    """One label to print (issued first when the unit has none)."""
    equipment = _equipment(equipment_id)
    pdf = sheets.render_labels(sheets.label_rows([equipment.id]))
    db.session.commit()
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="label-{equipment.id}.pdf"'
    return response


@bp.route("/labels")
@require(LABELS_MANAGE)
def labels():
    """Label sheets: print every unit without a label; the sheets printed lately and how far they are."""
    recent = db.session.scalars(sa.select(LabelSheet).order_by(LabelSheet.id.desc()).limit(20)).all()
    return render_template("selfservice/labels.html", sheets=recent, unlabelled=len(ops.unlabelled_equipment_ids()))


@bp.route("/labels", methods=["POST"])
@require(LABELS_MANAGE)
def new_sheet():
    """A sheet for a customer's units, a selection of them, or the units without a label (the job prints it)."""
    form = request.form
    ids = [int(v) for v in form.getlist("equipment_id") if v.isdigit()]
    customer_id = form.get("customer_id", type=int)
    args = {
        "customer_id": customer_id,
        "equipment_ids": ids if form.get("scope") == "selected" else None,
        "unlabelled": form.get("scope") == "unlabelled",
    }
    try:
        sheet = sheets.request_sheet(args, current_user)
        db.session.commit()
    except ApiError as exc:
        db.session.rollback()
        flash(_(exc.message), "error")
        back = url_for("customers.detail", customer_id=customer_id) if customer_id else url_for("selfservice.labels")
        return redirect(back)
    return redirect(url_for("selfservice.sheet", sheet_id=sheet.id))


@bp.route("/labels/<int:sheet_id>")
@require(LABELS_MANAGE)
def sheet(sheet_id: int):
    label_sheet = db.session.get(LabelSheet, sheet_id)
    if label_sheet is None:
        abort(404)
    return render_template("selfservice/sheet.html", sheet=label_sheet)


@bp.route("/labels/<int:sheet_id>/progress")
@require(LABELS_MANAGE)
def sheet_progress(sheet_id: int):
    """The sheet's progress for the page's script: {status, done, total, pdf_url}."""
    label_sheet = db.session.get(LabelSheet, sheet_id)
    if label_sheet is None:
        abort(404)
    done = label_sheet.status == sheets.DONE
    return {
        "status": label_sheet.status,
        "done": label_sheet.done,
        "total": label_sheet.total,
        "pdf_url": sheets.pdf_path(label_sheet) if done else None,
    }


@bp.route("/labels/<int:sheet_id>.pdf")
@require(LABELS_MANAGE)
def sheet_pdf(sheet_id: int):
    label_sheet = db.session.get(LabelSheet, sheet_id)
    if label_sheet is None or label_sheet.status != sheets.DONE:
        abort(404)
    response = Response(label_sheet.pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="labels-{sheet_id}.pdf"'
    return response


# ---------------------------------------------------------------- panels on the customers' pages


def _equipment_panel(equipment: Equipment) -> dict:
    return {"label": ops.current_label(equipment)}


def _customer_panel(customer) -> dict:
    units = db.session.scalars(
        sa.select(Equipment).where(Equipment.customer_id == customer.id).order_by(Equipment.id)
    ).all()
    labelled = set(
        db.session.scalars(
            sa.select(EquipmentLabel.equipment_id).where(
                EquipmentLabel.equipment_id.in_([u.id for u in units]), EquipmentLabel.revoked_at.is_(None)
            )
        )
    )
    return {"units": units, "labelled": labelled}


equipment_panels.add("selfservice/_equipment_panel.html", _equipment_panel, LABELS_MANAGE)
customer_panels.add("selfservice/_customer_panel.html", _customer_panel, LABELS_MANAGE)
