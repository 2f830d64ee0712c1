"""The appointment on the console's request page: the current window, its history and the booking form."""

from datetime import date, datetime, time, timedelta

import marshmallow as ma
import sqlalchemy as sa
from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import format_date, format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from fieldservice.appointments import operations as ops
from fieldservice.appointments.calendar import USUAL_LENGTH
from fieldservice.appointments.forms import AppointmentForm
from fieldservice.appointments.models import BOOKED, KEPT
from fieldservice.appointments.permissions import APPOINTMENTS_BOOK, SCHEDULE_READ
from fieldservice.appointments.schedule import schedule_data
from fieldservice.appointments.schemas import BoardBookArgs
from fieldservice.appointments.states import STATUS_LABELS, warning_label
from fieldservice.auth.models import User
from fieldservice.auth.permissions import can, require
from fieldservice.console.navigation import add_nav
from fieldservice.core.clock import site_zone
from fieldservice.core.errors import ApiError
from fieldservice.core.forms import apply_api_error
from fieldservice.core.headers import page_policy_with_images
from fieldservice.core.models import utcnow
from fieldservice.customers.categories import category_label
from fieldservice.customers.models import Customer
from fieldservice.engineers.models import Engineer, EngineerSkill
from fieldservice.engineers.operations import engineer_for_user, zones
from fieldservice.extensions import db
from fieldservice.requests.models import RequestEvent, ServiceRequest
from fieldservice.requests.operations import get_visible_request
from fieldservice.requests.panels import request_panels
from fieldservice.requests.permissions import REQUESTS_READ
from fieldservice.requests.states import ASSIGNED, AWAITING, DISPATCH, LOCKED, action_label
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
        day = date.fromisoformat(value) if value else None
    except ValueError:
        day = None
    if day is None or not date(1900, 1, 1) <= day <= date(2999, 12, 31):
        return utcnow().astimezone(site_zone()).date()
    return day


def _segments(first: date, days: int, start: str, end: str) -> list[dict]:
    """Where a span sits on the board, in percent of the shown hours: one piece per day it touches (each day
    shows BOARD_FROM to BOARD_FROM + BOARD_HOURS, site time; what lies outside is clipped)."""
    zone = site_zone()
    a, b = datetime.fromisoformat(start), datetime.fromisoformat(end)
    total = days * BOARD_HOURS * 3600
    pieces = []
    for index in range(days):
        shown_from = datetime.combine(first + timedelta(days=index), time(BOARD_FROM), tzinfo=zone)
        shown_to = shown_from + timedelta(hours=BOARD_HOURS)
        lo, hi = max(a, shown_from), min(b, shown_to)
        if hi <= lo:
            continue
        offset = index * BOARD_HOURS * 3600 + (lo - shown_from).total_seconds()
        width = (hi - lo).total_seconds()
        pieces.append({"left": round(offset / total * 100, 2), "width": round(max(width / total * 100, 0.5), 2)})
    return pieces


def _skills() -> list[tuple[str, str]]:
    """The skill filter's choices: the categories engineers have, by their label."""
    codes = db.session.scalars(sa.select(EngineerSkill.category).distinct())
    return sorted(((code, category_label(code)) for code in codes), key=lambda c: c[1])


@bp.route("/schedule")
@require(SCHEDULE_READ)
def board():
    """A day or a week per engineer: shifts, leave and appointments on a bar; the requests without a window
    beside, to drag onto an engineer's row (assign and book); booked windows to drag or resize (change)."""
    day = _day_arg(request.args.get("date"))
    days = 7 if request.args.get("days") == "7" else 1
    zone = request.args.get("zone") or None
    skill = request.args.get("skill") or None
    data = schedule_data(day, days, zone=zone, skill=skill)
    for row in data["engineers"]:
        bars = []
        for kind in ("shift", "leave"):
            for span in row["shifts" if kind == "shift" else "leave"]:
                bars += [{"kind": kind, **piece} for piece in _segments(day, days, span["start"], span["end"])]
        for a in row["appointments"]:
            pieces = _segments(day, days, a["start"], a["end"])
            local_start = datetime.fromisoformat(a["start"]).astimezone(site_zone())
            local_end = datetime.fromisoformat(a["end"]).astimezone(site_zone())
            # What board.js moves from: the window's day on the board and its site-time minutes of the day.
            a["day_index"] = (local_start.date() - day).days
            a["start_minutes"] = local_start.hour * 60 + local_start.minute
            a["end_minutes"] = a["start_minutes"] + int((local_end - local_start).total_seconds() // 60)
            if pieces:
                bars.append({"kind": "appointment", "a": a, **pieces[0]})
        row["bars"] = bars
    day_labels = [format_date(day + timedelta(days=i), "EEE MM-dd") for i in range(days)]
    tiles = current_app.config["FIELDSERVICE_MAP_TILES"]
    page = render_template(
        "appointments/board.html",
        day=day,
        days=days,
        day_labels=day_labels,
        zone=zone,
        skill=skill,
        zones=zones(),
        skills=_skills(),
        data=data,
        hours=[BOARD_FROM + h for h in range(0, BOARD_HOURS + 1, 2 if days == 1 else 8)],
        board_from=BOARD_FROM,
        board_hours=BOARD_HOURS,
        status_labels=STATUS_LABELS,
        may_move=can(current_user, APPOINTMENTS_BOOK),
        previous=day - timedelta(days=days),
        next=day + timedelta(days=days),
        map_data=_map_data(day, data),
        tiles=tiles,
    )
    # The map's tiles come from their own server: that origin, and no other, may serve this page's images.
    return page, 200, {"Content-Security-Policy": page_policy_with_images(tiles)}


def _map_data(day: date, data: dict) -> dict:
    """The map of the board's first day: the open requests (with a window that day, or none yet) and the
    engineers (where they were last seen that day: the customer of their last kept appointment, else home), each
    engineer's route through the day (home, then the day's appointments in time order)."""
    zone = site_zone()
    requests, engineers = [], []
    for row in data["engineers"]:
        todays = [a for a in row["appointments"] if datetime.fromisoformat(a["start"]).astimezone(zone).date() == day]
        route = [[row["lat"], row["lng"]]] if row["lat"] is not None and row["lng"] is not None else []
        seen = route[0] if route else None
        for a in todays:
            if a["lat"] is None or a["lng"] is None:
                continue
            route.append([a["lat"], a["lng"]])
            if a["status"] == KEPT:
                seen = [a["lat"], a["lng"]]
            if a["status"] == BOOKED:
                requests.append(
                    {
                        "id": a["request_id"],
                        "number": a["number"],
                        "customer": a["customer"],
                        "at": [a["lat"], a["lng"]],
                        "booked": True,
                    }
                )
        engineers.append({"id": row["id"], "name": row["name"], "at": seen, "route": route})
    waiting = {sr["id"]: sr for sr in data["unscheduled"]}
    if waiting:
        places = db.session.execute(
            sa.select(ServiceRequest.id, Customer.lat, Customer.lng)
            .join(Customer, Customer.id == ServiceRequest.customer_id)
            .where(ServiceRequest.id.in_(list(waiting)), Customer.lat.is_not(None), Customer.lng.is_not(None))
        )
        for request_id, lat, lng in places:
            sr = waiting[request_id]
            requests.append(
                {
                    "id": request_id,
                    "number": sr["number"],
                    "customer": sr["customer"]["name"],
                    "at": [lat, lng],
                    "booked": False,
                }
            )
    return {"requests": requests, "engineers": [e for e in engineers if e["at"] is not None or e["route"]]}


def _stale_message(sr_id: int) -> str:
    """Who changed the request last, when and how: what the dispatcher needs to see instead of a silent
    overwrite."""
    event = db.session.scalar(
        sa.select(RequestEvent).where(RequestEvent.request_id == sr_id).order_by(RequestEvent.id.desc()).limit(1)
    )
    if event is None:
        return _("Someone else changed this request meanwhile: the schedule board now shows it as it is.")
    who = None
    if event.actor_id is not None:
        who = db.session.scalar(sa.select(User.name).where(User.id == event.actor_id)) or None
        who = who or db.session.scalar(sa.select(User.username).where(User.id == event.actor_id))
    return _(
        "%(who)s changed this request at %(when)s (%(what)s): the schedule board now shows it as it is.",
        who=who or _("the system"),
        when=format_datetime(event.at, "MM-dd HH:mm"),
        what=action_label(event.action),
    )


def _error_text(exc: ApiError) -> str:
    if exc.code == "double_booked":
        return _(
            "The engineer has request %(number)s booked at that time (travel included).", number=exc.extra["number"]
        )
    if exc.fields:
        return " ".join(_(message) for message in exc.fields.values())
    return _(exc.message)


@bp.route("/schedule/book", methods=["POST"])
@require(APPOINTMENTS_BOOK)
def board_book():
    """The board's drops, as JSON (CSRF in the X-CSRFToken header): a request dropped on an engineer's row at a
    time (assign and book), or a booked window moved or resized (a change: the reason is required). Answers 200
    or API.md's error body with a message for people; a stale version says who changed the request."""
    try:
        args = BoardBookArgs().load(request.get_json(silent=True) or {})
    except ma.ValidationError as exc:
        fields = {k: " ".join(v) if isinstance(v, list) else str(v) for k, v in exc.messages.items()}
        text = _("Some fields are not valid: %(fields)s.", fields=", ".join(sorted(fields)))
        return jsonify(code="validation_failed", message=text, fields=fields), 422
    sr = get_visible_request(args["request_id"], current_user)
    zone = site_zone()
    data = {
        "start": datetime.combine(args["date"], args["start"], tzinfo=zone),
        "end": datetime.combine(args["date"], args["end"], tzinfo=zone),
        "engineer_id": args["engineer_id"],
        "reason": args["reason"],
    }
    try:
        sr, warnings = ops.book_appointment(sr, data, current_user, args["version"])
        db.session.commit()
    except ApiError as exc:
        db.session.rollback()
        if exc.code == "stale_version":
            # The board is out of date: it reloads to show the request as it is, with who changed it on top.
            text = _stale_message(sr.id)
            flash(text, "error")
            return jsonify(code=exc.code, message=text, fields=exc.fields, reload=True), exc.status
        return jsonify(code=exc.code, message=_error_text(exc), fields=exc.fields), exc.status
    flash(_("%(number)s: appointment booked.", number=sr.number), "success")
    for warning in warnings:
        flash(warning_label(warning["code"]), "warning")
    return jsonify(request_id=sr.id, version=sr.version, warnings=[w["code"] for w in warnings])
