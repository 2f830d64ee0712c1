"""Console pages: engineers (list, profile, forms, leave), the dispatch board, automatic dispatch,
performance."""

from datetime import date

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.routing import BuildError

from fieldservice.auth.permissions import can, require
from fieldservice.console.navigation import add_home_card, add_nav
from fieldservice.core.errors import ApiError, Conflict
from fieldservice.core.forms import apply_api_error
from fieldservice.core.models import utcnow
from fieldservice.customers.categories import CATEGORIES, category_label
from fieldservice.customers.forms import load_form
from fieldservice.engineers import dispatch, performance, schedule
from fieldservice.engineers import operations as ops
from fieldservice.engineers.api import search_engineers
from fieldservice.engineers.forms import AssignForm, AutoDispatchForm, LeaveForm, engineer_form, local_to_iso
from fieldservice.engineers.permissions import (
    DISPATCH,
    DISPATCH_LOCKED,
    ENGINEERS_PERFORMANCE,
    ENGINEERS_READ,
    ENGINEERS_WRITE,
)
from fieldservice.engineers.schemas import EngineerArgs, EngineerUpdateArgs, LeaveArgs
from fieldservice.extensions import db

bp = Blueprint("engineers", __name__, template_folder="templates")

PER_PAGE = 25
# The board shows the most urgent requests; the rest wait below the fold as a count (auto dispatch takes them
# all).
BOARD_ROWS = 100

add_nav("engineers.board", _l("Dispatch board"), DISPATCH, order=12)
add_nav("engineers.index", _l("Engineers"), ENGINEERS_READ, order=30)
add_nav("engineers.team_performance", _l("Performance"), ENGINEERS_PERFORMANCE, order=70)


def _waiting_card() -> dict:
    from fieldservice.requests.models import ServiceRequest

    waiting = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(ServiceRequest)
        .where(ServiceRequest.status.in_((dispatch.AWAITING, dispatch.LOCKED)))
    )
    return {
        "label": _("Waiting for an engineer"),
        "value": waiting,
        "url": url_for("engineers.board"),
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


@bp.app_template_global()
def skill_labels(codes) -> str:
    return "、".join(category_label(c) for c in codes)


def _weekday_labels(engineer) -> str:
    from fieldservice.engineers.forms import WEEKDAYS

    return " ".join(str(label) for day, label in WEEKDAYS if day in engineer.weekdays)


# Engineers --------------------------------------------------------------------------------------------------


def _on_leave_now(engineers) -> set[int]:
    now = utcnow()
    return {
        e.id for e in engineers if schedule.on_leave([(lv.starts_at, lv.ends_at) for lv in e.leaves], now)
    }


@bp.route("/engineers")
@require(ENGINEERS_READ)
def index():
    args = {
        "q": request.args.get("q", "").strip(),
        "zone": request.args.get("zone") or None,
        "skill": request.args.get("skill") or None,
    }
    page = max(request.args.get("page", 1, type=int), 1)
    pagination = db.paginate(search_engineers(args), page=page, per_page=PER_PAGE, error_out=False)
    engineers = pagination.items
    return render_template(
        "engineers/list.html",
        engineers=engineers,
        loads=ops.open_load(e.id for e in engineers),
        on_leave=_on_leave_now(engineers),
        total=pagination.total,
        page=page,
        per_page=PER_PAGE,
        args=args,
        zones=dispatch.zones_and_categories()[0],
        categories=CATEGORIES,
        weekday_labels=_weekday_labels,
        can_write=can(current_user, ENGINEERS_WRITE),
    )


def _save(form, schema, save, extra=None):
    """Load *form* through the API's *schema* and run *save(data)*, committing once. (saved, status)."""
    if not form.validate_on_submit():
        return None, 422 if form.errors else 200
    data = load_form(form, schema, extra)
    if data is None:
        return None, 422
    try:
        saved = save(data)
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        form.form_errors.append(_("Someone else changed this record meanwhile. Reload it and try again."))
        return None, 409
    except ApiError as exc:
        db.session.rollback()
        return None, apply_api_error(form, exc)
    return saved, 200


def _profile_extra(form) -> dict:
    """The list fields, which load_form would send as they are but an empty list must still count."""
    return {"skills": form.skills.data or [], "work_days": form.work_days.data or [1, 2, 3, 4, 5]}


@bp.route("/engineers/new", methods=["GET", "POST"])
@require(ENGINEERS_WRITE)
def new_engineer():
    form = engineer_form()
    engineer, status = _save(
        form, EngineerArgs(), lambda data: ops.create_engineer(data, current_user), extra=_profile_extra(form)
    )
    if engineer is not None:
        flash(
            _(
                "Engineer %(name)s created, with the login %(username)s.",
                name=engineer.name,
                username=engineer.user.username,
            ),
            "success",
        )
        return redirect(url_for("engineers.profile", engineer_id=engineer.id))
    return render_template("engineers/form.html", form=form, engineer=None), status


@bp.route("/engineers/<int:engineer_id>/edit", methods=["GET", "POST"])
@require(ENGINEERS_WRITE)
def edit_engineer(engineer_id: int):
    engineer = ops.get_engineer(engineer_id)
    form = engineer_form(engineer)
    extra = _profile_extra(form) if request.method == "POST" else None
    saved, status = _save(
        form,
        EngineerUpdateArgs(),
        lambda data: ops.update_engineer(engineer, data, current_user),
        extra=extra,
    )
    if saved is not None:
        flash(_("Engineer %(name)s saved.", name=saved.name), "success")
        return redirect(url_for("engineers.profile", engineer_id=saved.id))
    if status == 409:
        # Show what is stored now, with the version the next save must send.
        db.session.refresh(engineer)
        errors = form.form_errors
        form = engineer_form(engineer)
        form.version.data = engineer.version
        form.form_errors.extend(errors)
    return render_template("engineers/form.html", form=form, engineer=engineer), status


def _render_profile(engineer, leave_form, status=200):
    from fieldservice.requests.models import ServiceRequest

    jobs = db.session.scalars(
        sa.select(ServiceRequest)
        .where(ServiceRequest.engineer_id == engineer.id, ServiceRequest.status.in_(ops.LOAD_STATUSES))
        .order_by(ServiceRequest.required_by)
    ).all()
    start, end = performance.period_bounds(None, None)
    now = utcnow()
    return render_template(
        "engineers/profile.html",
        engineer=engineer,
        load=ops.open_load([engineer.id])[engineer.id],
        jobs=jobs,
        leave_form=leave_form,
        figures=performance.engineer_performance(engineer, start, end),
        period=(start, end),
        on_duty=schedule.on_duty(engineer, now),
        available_from=schedule.engineer_available_from(engineer, now),
        on_leave=engineer.id in _on_leave_now([engineer]),
        weekday_labels=_weekday_labels(engineer),
        can_write=can(current_user, ENGINEERS_WRITE),
        now=now,
    ), status


@bp.route("/engineers/<int:engineer_id>")
@require(ENGINEERS_READ)
def profile(engineer_id: int):
    return _render_profile(ops.get_engineer(engineer_id), LeaveForm(formdata=None))


@bp.route("/engineers/<int:engineer_id>/leaves", methods=["POST"])
@require(ENGINEERS_WRITE)
def add_leave(engineer_id: int):
    engineer = ops.get_engineer(engineer_id)
    form = LeaveForm()
    extra = {"starts_at": local_to_iso(form.starts_at.data), "ends_at": local_to_iso(form.ends_at.data)}
    if None in extra.values():
        # Let the schema say "required" for the empty ones.
        extra = {k: v for k, v in extra.items() if v is not None}
    leave, status = _save(
        form, LeaveArgs(), lambda data: ops.add_leave(engineer, data, current_user), extra=extra
    )
    if leave is not None:
        flash(_("Leave recorded."), "success")
        return redirect(url_for("engineers.profile", engineer_id=engineer.id))
    return _render_profile(engineer, form, status)


@bp.route("/engineers/<int:engineer_id>/leaves/<int:leave_id>/delete", methods=["POST"])
@require(ENGINEERS_WRITE)
def remove_leave(engineer_id: int, leave_id: int):
    engineer = ops.get_engineer(engineer_id)
    ops.remove_leave(engineer, leave_id, current_user)
    db.session.commit()
    flash(_("Leave removed."), "success")
    return redirect(url_for("engineers.profile", engineer_id=engineer.id))


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
        "engineers/performance.html",
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
    return [
        s
        for s in dispatch.suggestions(a, row, limit=8)
        if a.skilled[row, a.roster.engineers.index(s.engineer)]
    ]


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
                    "why_none": None
                    if any(o.eligible for o in options)
                    else dispatch.unassigned_reason(a, i)[1],
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
        return render_template("engineers/_board.html", **context), status
    return render_template(
        "engineers/board.html",
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
    return render_template("engineers/_board.html", **board_context(_filters()))


@bp.route("/dispatch/requests/<int:request_id>/assign", methods=["POST"])
@require(DISPATCH)
def assign(request_id: int):
    """Assign one request by hand, through the same operation as the API (409 when someone was quicker)."""
    from fieldservice.requests.operations import get_request, perform

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
            render_template("engineers/_board.html", **board_context(_filters())),
            200,
            {"X-Assign-Status": str(status)},
        )
    if status != 200:
        return _render_board(status)
    return redirect(url_for("engineers.board", **{k: v for k, v in _filters().items() if v}))


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
    from fieldservice.engineers.models import Engineer
    from fieldservice.requests.models import ServiceRequest

    ids = [a["request_id"] for a in result["assignments"]] + [u["request_id"] for u in result["unassigned"]]
    requests = {
        sr.id: sr for sr in db.session.scalars(sa.select(ServiceRequest).where(ServiceRequest.id.in_(ids)))
    }
    engineer_ids = [a["engineer_id"] for a in result["assignments"]]
    engineers = {
        e.id: e for e in db.session.scalars(sa.select(Engineer).where(Engineer.id.in_(engineer_ids)))
    }
    return {
        "assignments": [
            {**a, "sr": requests[a["request_id"]], "engineer": engineers[a["engineer_id"]]}
            for a in result["assignments"]
        ],
        "unassigned": [{**u, "sr": requests[u["request_id"]]} for u in result["unassigned"]],
    }
