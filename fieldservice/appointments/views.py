"""The appointment on the console's request page: the current window, its history and the booking form."""

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from fieldservice.appointments import operations as ops
from fieldservice.appointments.calendar import USUAL_LENGTH
from fieldservice.appointments.forms import AppointmentForm
from fieldservice.appointments.models import BOOKED
from fieldservice.appointments.permissions import APPOINTMENTS_BOOK, SCHEDULE_READ
from fieldservice.appointments.schedule import day_bounds, schedule_data
from fieldservice.appointments.states import STATUS_LABELS, warning_label
from fieldservice.auth.permissions import require
from fieldservice.console.navigation import add_nav
from fieldservice.core.clock import site_zone
from fieldservice.core.errors import ApiError
from fieldservice.core.forms import apply_api_error
from fieldservice.core.models import utcnow
from fieldservice.engineers.models import Engineer
from fieldservice.engineers.operations import engineer_for_user, zones
from fieldservice.extensions import db
from fieldservice.requests.operations import get_visible_request
from fieldservice.requests.panels import request_panels
from fieldservice.requests.permissions import REQUESTS_READ
from fieldservice.requests.states import ASSIGNED, AWAITING, DISPATCH, LOCKED
from fieldservice.requests.views import render_detail

bp = Blueprint(
    "appointments",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/appointments",
)

add_nav("appointments.board", _l("Schedule board"), SCHEDULE_READ, order=13, group="dispatch")

# The board's day runs from 06:00 to 22:00 at the site: what lies outside is clipped to the edges.
BOARD_FROM, BOARD_HOURS = 6, 16


def may_book(sr, user) -> bool:
    if str(user.role) in DISPATCH:
        return sr.status in (AWAITING, LOCKED, ASSIGNED)
    mine = engineer_for_user(user)
    return mine is not None and sr.status == ASSIGNED and sr.engineer_id == mine.id


def _form(sr, formdata=None) -> AppointmentForm:
    form = AppointmentForm(formdata=formdata)
    engineers = db.session.execute(
        sa.select(Engineer.id, Engineer.name).where(Engineer.active).order_by(Engineer.name)
    ).all()
    form.engineer_id.choices = [(None, _("The assigned engineer"))] + [(i, name) for i, name in engineers]
    if formdata is None:
        form.version.data = sr.version
        current = ops.current_appointments([sr.id]).get(sr.id)
        window = None
        if current is not None and current.status == BOOKED:
            window = (current.starts_at, current.ends_at)
        elif sr.engineer is not None:
            # Nothing booked: offer the assigned engineer's first free slot of the usual length.
            window = ops.earliest_free_window(sr.engineer, USUAL_LENGTH, utcnow(), customer=sr.customer)
            form.proposed = window
        if window is not None:
            local_start, local_end = (t.astimezone(site_zone()) for t in window)
            form.day.data, form.start.data, form.end.data = local_start.date(), local_start.time(), local_end.time()
    return form


def _panel(sr) -> dict:
    return {
        "appointments": ops.history(sr.id),
        "form": g.get("appointment_form") or (_form(sr) if may_book(sr, current_user) else None),
        "status_labels": STATUS_LABELS,
    }


request_panels.add("appointments/_request_panel.html", _panel, REQUESTS_READ)


def _show_refusal(form: AppointmentForm, exc: ApiError) -> int:
    if exc.code == "double_booked":
        form.form_errors.append(
            _("The engineer has request %(number)s booked at that time (travel included).", number=exc.extra["number"])
        )
        return exc.status
    return apply_api_error(form, exc)


@bp.route("/requests/<int:request_id>/appointment", methods=["POST"])
@require(APPOINTMENTS_BOOK)
def book(request_id: int):
    """Book or change the window from the request page; a refusal shows on the form."""
    sr = get_visible_request(request_id, current_user)
    form = _form(sr, formdata=request.form)
    if form.validate_on_submit():
        try:
            version = int(form.version.data) if form.version.data else None
            sr, warnings = ops.book_appointment(sr, form.payload(), current_user, version)
            db.session.commit()
        except ApiError as exc:
            db.session.rollback()
            status = _show_refusal(form, exc)
        else:
            flash(_("Appointment booked."), "success")
            for warning in warnings:
                flash(warning_label(warning["code"]), "warning")
            return redirect(url_for("requests.detail", request_id=sr.id) + "#appointment")
    else:
        status = 422
    g.appointment_form = form
    return render_detail(get_visible_request(request_id, current_user), status=status)


# ---------------------------------------------------------------- the schedule board


def _day_arg(value: str | None) -> date:
    try:
        return date.fromisoformat(value) if value else utcnow().astimezone(site_zone()).date()
    except ValueError:
        return utcnow().astimezone(site_zone()).date()


def _placed(first: datetime, start: str, end: str) -> dict:
    """Where a span sits on the day's bar, in percent of the shown hours (clipped to them)."""
    span = BOARD_HOURS * 3600

    def offset(value: str) -> float:
        seconds = (datetime.fromisoformat(value) - first).total_seconds()
        return min(max(seconds / span, 0.0), 1.0) * 100

    left = offset(start)
    return {"left": round(left, 2), "width": round(max(offset(end) - left, 0.5), 2)}


@bp.route("/schedule")
@require(SCHEDULE_READ)
def board():
    """One day per engineer: shifts, leave and appointments on a bar; the requests without a window beside."""
    day = _day_arg(request.args.get("date"))
    zone = request.args.get("zone") or None
    data = schedule_data(day, 1, zone=zone)
    first = day_bounds(day, 1)[0] + timedelta(hours=BOARD_FROM)
    for row in data["engineers"]:
        row["bars"] = (
            [{"kind": "shift", **_placed(first, s["start"], s["end"])} for s in row["shifts"]]
            + [{"kind": "leave", **_placed(first, s["start"], s["end"])} for s in row["leave"]]
            + [{"kind": "appointment", "a": a, **_placed(first, a["start"], a["end"])} for a in row["appointments"]]
        )
    return render_template(
        "appointments/board.html",
        day=day,
        zone=zone,
        zones=zones(),
        data=data,
        hours=[BOARD_FROM + h for h in range(BOARD_HOURS + 1)],
        status_labels=STATUS_LABELS,
        previous=day - timedelta(days=1),
        next=day + timedelta(days=1),
    )
