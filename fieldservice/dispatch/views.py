"""Console pages: the dispatch board, automatic dispatch, performance; the dispatch panel of an engineer's
profile."""

from datetime import date

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.routing import BuildError

from fieldservice.auth.permissions import can, require
from fieldservice.console.navigation import add_home_card, add_nav
from fieldservice.core.errors import ApiError, Conflict
from fieldservice.core.models import utcnow
from fieldservice.dispatch import operations as dispatch
from fieldservice.dispatch import performance
from fieldservice.dispatch.forms import AssignForm, AutoDispatchForm
from fieldservice.dispatch.permissions import DISPATCH, DISPATCH_LOCKED, ENGINEERS_PERFORMANCE
from fieldservice.engineers.models import Engineer
from fieldservice.engineers.panels import engineer_panels
from fieldservice.engineers.permissions import ENGINEERS_READ
from fieldservice.extensions import db
from fieldservice.requests.models import ServiceRequest
from fieldservice.requests.operations import get_request, perform

bp = Blueprint("dispatch", __name__, template_folder="templates")

# The board shows the most urgent requests; the rest wait below the fold as a count (auto dispatch takes them
# all).
BOARD_ROWS = 100

add_nav("dispatch.board", _l("Dispatch board"), DISPATCH, order=12, group="dispatch")
add_nav("dispatch.team_performance", _l("Performance"), ENGINEERS_PERFORMANCE, order=70, group="analytics")


def _waiting_card() -> dict:
    waiting = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(ServiceRequest)
        .where(ServiceRequest.status.in_((dispatch.AWAITING, dispatch.LOCKED)))
    )
    return {
        "label": _("Waiting for an engineer"),
        "value": waiting,
        "url": url_for("dispatch.board"),
        "tone": "warn" if waiting else "good",
    }


add_home_card("dispatch_waiting", DISPATCH, _waiting_card, order=11)


@bp.app_template_global()
def request_link(sr) -> str | None:
    """The console page of a service request, when the requests domain serves one."""
    try:
        return url_for("requests.detail", request_id=sr.id)
    except BuildError:
        return None


def _profile_panel(engineer) -> dict:
    """The engineer's recent figures and the jobs they hold, on their profile page."""
    start, end = performance.period_bounds(None, None)
    return {
        "jobs": dispatch.held_jobs(engineer),
        "figures": performance.engineer_performance(engineer, start, end),
        "period": (start, end),
    }


engineer_panels.add("dispatch/_engineer_panel.html", _profile_panel, ENGINEERS_READ)


# Performance ------------------------------------------------------------------------------------------------


def _date_arg(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


@bp.route("/engineers/performance")
@require(ENGINEERS_PERFORMANCE)
def team_performance():
    start, end = performance.period_bounds(_date_arg("from"), _date_arg("to"))
    if end < start:
        start, end = end, start
    zone = request.args.get("zone") or None
    report = performance.team_performance(start, end, zone=zone)
    return render_template(
        "dispatch/performance.html",
        report=report,
        start=start,
        end=end,
        zone=zone,
        zones=dispatch.zones_and_categories()[0],
    )


# The dispatch board -----------------------------------------------------------------------------------------


def _filters() -> dict:
    return {"zone": request.values.get("zone") or None, "category": request.values.get("category") or None}


def _options(a, row: int) -> list:
    """The engineers offered for a request: eligible ones best first, then skilled ones that break a rule."""
    return [s for s in dispatch.suggestions(a, row, limit=8) if a.skilled[row, a.roster.engineers.index(s.engineer)]]


def board_context(filters: dict) -> dict:
    """Everything the board shows: urgent requests with their candidates, and the engineers with load and
    skills."""
    now = utcnow()
    jobs = dispatch.board_jobs(**filters)
    shown = jobs[:BOARD_ROWS]
    roster = dispatch.load_roster(now)
    rows = []
    if shown:
        a = dispatch.assess(shown, roster)
        for i, job in enumerate(shown):
            options = _options(a, i)
            rows.append(
                {
                    "job": job,
                    "sr": job.request,
                    "hours_left": float(a.hours_left[i]),
                    "options": options,
                    "why_none": None if any(o.eligible for o in options) else dispatch.unassigned_reason(a, i)[1],
                    "may_assign": job.request.status != dispatch.LOCKED or can(current_user, DISPATCH_LOCKED),
                }
            )
    engineers = [
        {
            "engineer": e,
            "load": int(roster.load[i]),
            "cap": int(roster.cap[i]),
            "on_leave": bool(roster.on_leave[i]),
            "on_duty": roster.available_at[i] <= now.timestamp(),
        }
        for i, e in enumerate(roster.engineers)
        if (not filters["zone"] or e.zone == filters["zone"])
        and (not filters["category"] or filters["category"] in e.skill_categories)
    ]
    zones, categories = dispatch.zones_and_categories()
    return {
        "rows": rows,
        "hidden": len(jobs) - len(shown),
        "engineers": engineers,
        "filters": filters,
        "zones": zones,
        "categories": categories,
        "now": now,
        "assign_form": AssignForm(formdata=None),
    }


def _render_board(status: int = 200, result=None, applied=False):
    filters = _filters()
    context = board_context(filters)
    if request.headers.get("HX-Request") and not result:
        return render_template("dispatch/_board.html", **context), status
    return render_template(
        "dispatch/board.html",
        auto_form=AutoDispatchForm(formdata=None),
        result=result,
        applied=applied,
        **context,
    ), status


@bp.route("/dispatch")
@require(DISPATCH)
def board():
    return _render_board()


@bp.route("/dispatch/board")
@require(DISPATCH)
def board_partial():
    """The board's lists alone: htmx refreshes them every half minute and after an assignment."""
    return render_template("dispatch/_board.html", **board_context(_filters()))


@bp.route("/dispatch/requests/<int:request_id>/assign", methods=["POST"])
@require(DISPATCH)
def assign(request_id: int):
    """Assign one request by hand, through the same operation as the API (409 when someone was quicker)."""
    form = AssignForm()
    sr = get_request(request_id)
    status = 200
    try:
        version = int(form.version.data) if form.version.data else None
        engineer_id = int(request.form.get("engineer_id") or 0) or None
        perform(sr, "assign", current_user, version, engineer_id=engineer_id)
        db.session.commit()
        flash(_("%(number)s assigned to %(name)s.", number=sr.number, name=sr.engineer.name), "success")
    except (ApiError, ValueError) as exc:
        db.session.rollback()
        status = exc.status if isinstance(exc, ApiError) else 422
        message = (
            _("Someone else changed this request meanwhile: the board now shows it as it is.")
            if (isinstance(exc, Conflict))
            else (exc.message if isinstance(exc, ApiError) else _("Choose an engineer."))
        )
        flash(_("%(number)s was not assigned: %(message)s", number=sr.number, message=message), "error")
    if request.headers.get("HX-Request"):
        # htmx swaps only 2xx answers: the refusal is in the flash message of the refreshed board.
        return (
            render_template("dispatch/_board.html", **board_context(_filters())),
            200,
            {"X-Assign-Status": str(status)},
        )
    if status != 200:
        return _render_board(status)
    return redirect(url_for("dispatch.board", **{k: v for k, v in _filters().items() if v}))


@bp.route("/dispatch/auto", methods=["POST"])
@require(DISPATCH)
def auto():
    """Propose (apply=0) or run (apply=1) automatic dispatch over the awaiting requests in the filter."""
    form = AutoDispatchForm()
    apply = form.apply.data == "1"
    filters = _filters()
    request_ids = None
    if any(filters.values()):
        request_ids = [j.request.id for j in dispatch.board_jobs(include_locked=False, **filters)]
    if request_ids == []:
        result = {"assignments": [], "unassigned": []}
    else:
        result = dispatch.auto_dispatch(request_ids, current_user, apply=apply)
    if apply:
        db.session.commit()
    else:
        db.session.rollback()
    return _render_board(result=_describe(result), applied=apply)


def _describe(result: dict) -> dict:
    """The result with the requests and engineers it names, for the page."""
    ids = [a["request_id"] for a in result["assignments"]] + [u["request_id"] for u in result["unassigned"]]
    requests = {sr.id: sr for sr in db.session.scalars(sa.select(ServiceRequest).where(ServiceRequest.id.in_(ids)))}
    engineer_ids = [a["engineer_id"] for a in result["assignments"]]
    engineers = {e.id: e for e in db.session.scalars(sa.select(Engineer).where(Engineer.id.in_(engineer_ids)))}
    return {
        "assignments": [
            {**a, "sr": requests[a["request_id"]], "engineer": engineers[a["engineer_id"]]}
            for a in result["assignments"]
        ],
        "unassigned": [{**u, "sr": requests[u["request_id"]]} for u in result["unassigned"]],
    }
