"""Console pages of the callback desk: the queue, the call page (survey and failed attempts), follow-ups."""

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from fieldservice.auth.permissions import can, require
from fieldservice.console.navigation import add_home_card, add_nav
from fieldservice.console.panels import home_panels
from fieldservice.core.errors import ApiError
from fieldservice.core.forms import apply_api_error
from fieldservice.core.models import utcnow
from fieldservice.extensions import db
from fieldservice.requests.operations import get_visible_request, surveys, timeline
from fieldservice.requests.states import RESOLVED
from fieldservice.revisits import operations as ops
from fieldservice.revisits.forms import (
    REASON_LABELS,
    SCORE_LABELS,
    AttemptForm,
    FollowUpCloseForm,
    SurveyForm,
    version_of,
)
from fieldservice.revisits.models import FollowUp
from fieldservice.revisits.permissions import CALLBACK_QUEUE, FOLLOW_UPS

bp = Blueprint("revisits", __name__, template_folder="templates")

PER_PAGE = 25

add_nav("revisits.index", _l("Callbacks"), CALLBACK_QUEUE, order=40, group="care")
add_nav("revisits.follow_ups", _l("Follow-ups"), FOLLOW_UPS, order=41, group="care")


def _count(query) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))


def _due_card() -> dict:
    late = _count(ops.queue(overdue=True))
    return {
        "label": _("Callbacks overdue"),
        "value": late,
        "url": url_for("revisits.index", overdue="true"),
        "tone": "bad" if late else "good",
    }


def _follow_up_card() -> dict:
    open_ = _count(ops.follow_ups())
    return {
        "label": _("Low-score follow-ups open"),
        "value": open_,
        "url": url_for("revisits.follow_ups"),
        "tone": "warn" if open_ else "good",
    }


add_home_card("callbacks_overdue", CALLBACK_QUEUE, _due_card, order=20)


def _home_calls(user) -> dict:
    """The callback agent's next calls: the oldest resolutions first."""
    query = ops.queue()
    requests = db.session.scalars(query.limit(8)).all()
    return {"entries": ops.queue_entries(requests), "total": _count(query)}


home_panels.add("revisits/_home_calls.html", _home_calls, CALLBACK_QUEUE)
add_home_card("follow_ups_open", FOLLOW_UPS, _follow_up_card, order=21)


@bp.app_template_global()
def callback_reason_label(reason: str) -> str:
    return str(REASON_LABELS.get(reason, reason))


@bp.app_template_global()
def score_label(name: str) -> str:
    return str(SCORE_LABELS.get(name, name))


def _flag(value: str | None) -> bool | None:
    return {"true": True, "false": False}.get(value or "")


@bp.route("/revisits")
@require(CALLBACK_QUEUE)
def index():
    q = request.args.get("q", "").strip()
    overdue = _flag(request.args.get("overdue"))
    page = max(request.args.get("page", 1, type=int), 1)
    pagination = db.paginate(ops.queue(q, overdue), page=page, per_page=PER_PAGE, error_out=False)
    return render_template(
        "revisits/queue.html",
        entries=ops.queue_entries(pagination.items),
        total=pagination.total,
        page=page,
        per_page=PER_PAGE,
        q=q,
        overdue=overdue,
        can_follow_ups=can(current_user, FOLLOW_UPS),
    )


def _render_call(sr, survey_form=None, attempt_form=None, status: int = 200):
    version = {"version": sr.version}
    entry = ops.queue_entries([sr])[0]
    return render_template(
        "revisits/call.html",
        sr=sr,
        entry=entry,
        waiting=sr.status == RESOLVED,
        survey_form=survey_form or SurveyForm(formdata=None, data=version),
        attempt_form=attempt_form or AttemptForm(formdata=None, data=version),
        attempts=ops.attempts_of(sr),
        surveys=surveys(sr),
        unreachable=ops.is_unreachable(sr),
        events=timeline(sr),
        now=utcnow(),
    ), status


@bp.route("/revisits/<int:request_id>")
@require(CALLBACK_QUEUE)
def call(request_id: int):
    return _render_call(get_visible_request(request_id, current_user))


def _refused(sr, exc: ApiError, form, **forms):
    """Put the refusal on *form* and show the call page again with the request as it is now."""
    db.session.rollback()
    # The API names scores "scores.attitude"; on the form each score is its own field.
    exc.fields = {name.removeprefix("scores."): message for name, message in exc.fields.items()}
    status = apply_api_error(form, exc)
    sr = get_visible_request(sr.id, current_user)
    if exc.code == "stale_version":
        form.version.data = sr.version
    return _render_call(sr, status=status, **forms)


@bp.route("/revisits/<int:request_id>/survey", methods=["POST"])
@require(CALLBACK_QUEUE)
def record_survey(request_id: int):
    sr = get_visible_request(request_id, current_user)
    form = SurveyForm()
    if not form.validate_on_submit():
        return _render_call(sr, survey_form=form, status=422)
    try:
        sr = ops.record_survey(sr, form.payload(), current_user, version_of(form))
        db.session.commit()
    except ApiError as exc:
        return _refused(sr, exc, form, survey_form=form)
    if sr.status == RESOLVED:
        flash(_("Survey recorded."), "success")
    elif sr.closed_at is not None:
        flash(_("Survey recorded: %(number)s is closed.", number=sr.number), "success")
    else:
        flash(_("Survey recorded: %(number)s goes back for assignment.", number=sr.number), "warning")
    return redirect(url_for("revisits.index"))


@bp.route("/revisits/<int:request_id>/attempts", methods=["POST"])
@require(CALLBACK_QUEUE)
def record_attempt(request_id: int):
    sr = get_visible_request(request_id, current_user)
    form = AttemptForm()
    if not form.validate_on_submit():
        return _render_call(sr, attempt_form=form, status=422)
    data = {"reason": form.reason.data, "note": form.note.data, "version": version_of(form)}
    try:
        _attempt, closing = ops.record_attempt(sr, data, current_user)
        db.session.commit()
    except ApiError as exc:
        return _refused(sr, exc, form, attempt_form=form)
    if closing is not None:
        flash(
            _(
                "%(number)s closed: the customer could not be reached after %(n)s attempts.",
                number=sr.number,
                n=closing.attempts,
            ),
            "warning",
        )
        return redirect(url_for("revisits.index"))
    flash(_("Attempt recorded."), "success")
    return redirect(url_for("revisits.call", request_id=sr.id))


@bp.route("/revisits/unreachable")
@require(CALLBACK_QUEUE)
def unreachable():
    page = max(request.args.get("page", 1, type=int), 1)
    pagination = db.paginate(ops.unreachable_closings(), page=page, per_page=PER_PAGE, error_out=False)
    return render_template(
        "revisits/unreachable.html",
        closings=pagination.items,
        total=pagination.total,
        page=page,
        per_page=PER_PAGE,
    )


def _render_follow_ups(forms: dict | None = None, status: int = 200):
    state = request.args.get("status", "open")
    page = max(request.args.get("page", 1, type=int), 1)
    query = ops.follow_ups(None if state == "all" else state)
    pagination = db.paginate(query, page=page, per_page=PER_PAGE, error_out=False)
    forms = forms or {}
    for item in pagination.items:
        forms.setdefault(item.id, FollowUpCloseForm(formdata=None, data={"version": item.version}))
    return render_template(
        "revisits/follow_ups.html",
        items=pagination.items,
        forms=forms,
        total=pagination.total,
        page=page,
        per_page=PER_PAGE,
        state=state,
    ), status


@bp.route("/revisits/follow-ups")
@require(FOLLOW_UPS)
def follow_ups():
    return _render_follow_ups()


@bp.route("/revisits/follow-ups/<int:follow_up_id>/close", methods=["POST"])
@require(FOLLOW_UPS)
def close_follow_up(follow_up_id: int):
    follow_up = ops.get_follow_up(follow_up_id)
    form = FollowUpCloseForm()
    if not form.validate_on_submit():
        return _render_follow_ups({follow_up.id: form}, 422)
    try:
        ops.close_follow_up(
            follow_up, {"outcome": form.outcome.data, "version": version_of(form)}, current_user
        )
        db.session.commit()
    except ApiError as exc:
        db.session.rollback()
        status = apply_api_error(form, exc)
        form.version.data = db.session.get(FollowUp, follow_up_id).version
        return _render_follow_ups({follow_up_id: form}, status)
    flash(_("Follow-up closed."), "success")
    return redirect(url_for("revisits.follow_ups"))
