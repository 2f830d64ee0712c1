"""Console pages for complaints: list, intake form, detail with the timeline and the handling forms."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from fieldservice.auth.models import ROLE_LABELS
from fieldservice.auth.permissions import require
from fieldservice.complaints import operations as ops
from fieldservice.complaints.forms import ACTION_FORMS, ComplaintForm
from fieldservice.complaints.models import Complaint
from fieldservice.complaints.permissions import COMPLAINTS
from fieldservice.complaints.schemas import ACTION_ARGS, ComplaintArgs
from fieldservice.complaints.states import (
    ACTION_KINDS,
    ACTION_LABELS,
    CHANNELS,
    SEVERITIES,
    STATUS_LABELS,
    STATUSES,
    TYPES,
    UNCLOSED,
    action_note,
    label,
)
from fieldservice.console.navigation import add_home_card, add_nav
from fieldservice.core.errors import ApiError
from fieldservice.core.forms import apply_api_error
from fieldservice.core.models import utcnow
from fieldservice.customers.forms import load_form
from fieldservice.customers.panels import customer_panels
from fieldservice.extensions import db

bp = Blueprint("complaints", __name__, template_folder="templates")

PER_PAGE = 25

add_nav("complaints.index", _l("Complaints"), COMPLAINTS, order=45, group="care")


def _escalated_card() -> dict:
    late = ops.count(ops.filter_complaints(escalated=True))
    return {
        "label": _("Complaints past due"),
        "value": late,
        "url": url_for("complaints.index", escalated="true"),
        "tone": "bad" if late else "good",
    }


add_home_card("complaints_escalated", COMPLAINTS, _escalated_card, order=30)
customer_panels.add(
    "complaints/_customer_panel.html",
    lambda customer: {
        "complaints": db.session.scalars(ops.filter_complaints(customer_id=customer.id).limit(10)).all()
    },
    COMPLAINTS,
)


@bp.app_context_processor
def _labels():
    return {
        "complaint_labels": {
            "status": STATUS_LABELS,
            "kind": TYPES,
            "severity": SEVERITIES,
            "channel": CHANNELS,
            "action": ACTION_LABELS,
            "step": ACTION_KINDS,
        },
        "complaint_label": label,
        "complaint_note": action_note,
    }


def _handler_choices() -> list[tuple[str, str]]:
    return [("", _("Nobody yet"))] + [
        (str(u.id), _("%(name)s (%(role)s)", name=u.display_name, role=ROLE_LABELS.get(u.role, u.role)))
        for u in ops.handlers()
    ]


def _flag(value: str | None) -> bool | None:
    return {"true": True, "false": False}.get(value or "")


@bp.route("/complaints")
@require(COMPLAINTS)
def index():
    filters = {
        "status": request.args.get("status") if request.args.get("status") in STATUSES else None,
        "kind": request.args.get("kind") if request.args.get("kind") in TYPES else None,
        "severity": request.args.get("severity") if request.args.get("severity") in SEVERITIES else None,
        "escalated": _flag(request.args.get("escalated")),
        "q": request.args.get("q", "").strip() or None,
    }
    page = max(request.args.get("page", 1, type=int), 1)
    pagination = db.paginate(ops.filter_complaints(**filters), page=page, per_page=PER_PAGE, error_out=False)
    return render_template(
        "complaints/list.html",
        complaints=pagination.items,
        total=pagination.total,
        page=page,
        per_page=PER_PAGE,
        filters=filters,
        statuses=STATUSES,
        by_kind=ops.counts_by("kind"),
        now=utcnow(),
        unclosed=UNCLOSED,
    )


@bp.route("/complaints/new", methods=["GET", "POST"])
@require(COMPLAINTS)
def new():
    form = ComplaintForm(
        data={k: request.args[k] for k in ("request_id", "customer_id") if k in request.args}
    )
    form.handler_id.choices = _handler_choices()
    status = 200
    if form.validate_on_submit():
        data = load_form(form, ComplaintArgs())
        status = 422
        if data is not None:
            try:
                complaint = ops.create_complaint(data, current_user)
                db.session.commit()
            except ApiError as exc:
                db.session.rollback()
                status = apply_api_error(form, exc)
            else:
                flash(_("Complaint %(number)s logged.", number=complaint.number), "success")
                return redirect(url_for("complaints.detail", complaint_id=complaint.id))
    elif form.is_submitted():
        status = 422
    return render_template("complaints/form.html", form=form), status


def _action_form(action: str, complaint: Complaint, formdata=None):
    form = ACTION_FORMS[action](formdata=formdata, data={"version": complaint.version})
    if action == "assign":
        form.handler_id.choices = _handler_choices()[1:]
        if formdata is None and complaint.handler_id:
            form.handler_id.data = str(complaint.handler_id)
    return form


def _render_detail(complaint: Complaint, failed: str | None = None, form=None, status: int = 200):
    allowed = ops.allowed_actions(complaint, current_user)
    forms = {action: _action_form(action, complaint) for action in allowed}
    if failed:
        forms[failed] = form
    return render_template(
        "complaints/detail.html",
        complaint=complaint,
        forms=forms,
        failed=failed,
        events=ops.timeline(complaint),
        now=utcnow(),
    ), status


@bp.route("/complaints/<int:complaint_id>")
@require(COMPLAINTS)
def detail(complaint_id: int):
    return _render_detail(ops.get_complaint(complaint_id))


@bp.route("/complaints/<int:complaint_id>/do/<action>", methods=["POST"])
@require(COMPLAINTS)
def act(complaint_id: int, action: str):
    """Take one action from the detail page; a refusal re-renders the page with the reason on the form."""
    if action not in ACTION_FORMS:
        abort(404)
    complaint = ops.get_complaint(complaint_id)
    form = _action_form(action, complaint, formdata=request.form)
    data = load_form(form, ACTION_ARGS[action]()) if form.validate_on_submit() else None
    if data is None:
        return _render_detail(complaint, action, form, 422)
    try:
        ops.perform(complaint, action, current_user, data.pop("version"), **data)
        db.session.commit()
    except ApiError as exc:
        db.session.rollback()
        status = apply_api_error(form, exc)
        complaint = ops.get_complaint(complaint_id)
        if exc.code == "stale_version":
            form.version.data = complaint.version
        return _render_detail(complaint, action, form, status)
    flash(_("%(action)s: done.", action=label(ACTION_LABELS, action)), "success")
    return redirect(url_for("complaints.detail", complaint_id=complaint_id))
