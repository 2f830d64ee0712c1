"""The appointment rules (DOMAIN.md "Appointments"): the only writers of appointments. They flush, never commit.

Booking locks the request row, then the engineer's row (SELECT ... FOR UPDATE): two bookings for one engineer
wait for each other, so the overlap check of the second sees the first. Every change is a timeline event of the
request (a code with its parameters in `data`, labelled through the requests catalog's add_action_labels).
"""

import logging
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from fieldservice.appointments.calendar import NEIGHBOURS, Calendars, travel
from fieldservice.appointments.models import BOOKED, CANCELLED, KEPT, LONGEST_WINDOW, MISSED, Appointment
from fieldservice.core.errors import Conflict, Forbidden, ValidationFailed
from fieldservice.core.models import check_version, transaction_cache, utcnow
from fieldservice.customers.models import Customer
from fieldservice.engineers import schedule
from fieldservice.engineers.models import Engineer, EngineerLeave
from fieldservice.engineers.operations import engineer_for_user
from fieldservice.extensions import db
from fieldservice.requests import signals
from fieldservice.requests.models import ServiceRequest
from fieldservice.requests.operations import add_event, lock_requests, perform
from fieldservice.requests.states import ASSIGNED, AWAITING, DISPATCH, ENGINEER, LOCKED, UNOWNED, add_action_labels
from fieldservice.requests.states import CANCELLED as REQUEST_CANCELLED

log = logging.getLogger("fieldservice.appointments")

# The sweep marks a booked appointment missed this long after its window ended with nobody on site.
MISSED_AFTER = timedelta(minutes=30)

BOOKED_EVENT, CHANGED_EVENT = "appointment_booked", "appointment_changed"
KEPT_EVENT, MISSED_EVENT, CANCELLED_EVENT = "appointment_kept", "appointment_missed", "appointment_cancelled"
ASKED_EVENT = "appointment_change_asked"

add_action_labels(
    {
        BOOKED_EVENT: _l("Appointment booked"),
        CHANGED_EVENT: _l("Appointment changed"),
        KEPT_EVENT: _l("Appointment kept"),
        MISSED_EVENT: _l("Appointment missed"),
        CANCELLED_EVENT: _l("Appointment cancelled"),
        ASKED_EVENT: _l("Customer asked for another window"),
    }
)

# Warnings: the booking stands, the caller is told.
WARNING_MESSAGES = {
    "past_required_by": "The window ends after the customer's required date.",
    "past_resolution_due": "The window ends after the request's resolution due time.",
}


def _who(actor) -> str:
    return getattr(actor, "username", None) or "system"


# ---------------------------------------------------------------- reading


def current_appointments(request_ids) -> dict[int, Appointment]:
    """The latest appointment row of each request (booked, or how the last one ended), in one query."""
    request_ids = list(set(request_ids))
    if not request_ids:
        return {}
    latest = (
        sa.select(sa.func.max(Appointment.id))
        .where(Appointment.request_id.in_(request_ids))
        .group_by(Appointment.request_id)
        .scalar_subquery()
    )
    rows = db.session.scalars(sa.select(Appointment).where(Appointment.id.in_(latest)))
    return {row.request_id: row for row in rows}


def current_appointment(request_id: int) -> Appointment | None:
    return current_appointments([request_id]).get(request_id)


def history(request_id: int) -> list[Appointment]:
    return list(
        db.session.scalars(sa.select(Appointment).where(Appointment.request_id == request_id).order_by(Appointment.id))
    )


def _booked_of(request_id: int) -> Appointment | None:
    known = transaction_cache(_BOOKED_OF)
    if request_id in known:
        appointment = known[request_id]
        return appointment if appointment is not None and appointment.status == BOOKED else None
    return db.session.scalar(
        sa.select(Appointment).where(Appointment.request_id == request_id, Appointment.status == BOOKED)
    )


def preload_booked(request_ids) -> None:
    """Read the booked window of each of *request_ids* in one query, for the rest of the transaction: a batch of
    the engineer's ops (arrive, visit) asks once, not once per op. Booking in the same transaction keeps it right
    (book() notes its new window; a window closed since shows in its status)."""
    request_ids = set(request_ids)
    if not request_ids:
        return
    known = transaction_cache(_BOOKED_OF)
    with db.session.no_autoflush:
        rows = db.session.scalars(
            sa.select(Appointment).where(Appointment.request_id.in_(request_ids), Appointment.status == BOOKED)
        )
        found = {row.request_id: row for row in rows}
    for request_id in request_ids:
        known[request_id] = found.get(request_id)


_BOOKED_OF = "appointments_booked_of"


def as_dict(appointment: Appointment | None) -> dict | None:
    """The request's `appointment` object of API.md."""
    if appointment is None:
        return None
    return {
        "start": appointment.starts_at.isoformat(),
        "end": appointment.ends_at.isoformat(),
        "status": appointment.status,
        "engineer_id": appointment.engineer_id,
        "reschedules": appointment.reschedules,
        "change_requested": appointment.change_requested_at is not None and appointment.status == BOOKED,
    }


# ---------------------------------------------------------------- booking


def _travel(a: Customer | None, b: Customer | None) -> timedelta:
    """Straight-line travel time between two customers at the configured speed; none when a place is unknown."""
    if a is None or b is None:
        return timedelta(0)
    return travel((a.lat, a.lng), (b.lat, b.lng))


def _check_window(start: datetime, end: datetime, now: datetime) -> None:
    fields = {}
    if end <= start:
        fields["end"] = "The window ends after it starts."
    elif end - start > LONGEST_WINDOW:
        fields["end"] = "A window is at most 12 hours."
    if end <= now:
        fields["start"] = "The window is over already."
    if fields:
        raise ValidationFailed(
            "validation_failed", "Some fields are not valid: " + ", ".join(sorted(fields)) + ".", fields
        )


def _check_calendar(engineer: Engineer, start: datetime, end: datetime) -> None:
    """Inside one of the engineer's shifts, and no leave during the window (422 naming `start`)."""
    shift = schedule.shift_at(engineer, start)
    if shift is None or end > shift[1]:
        raise ValidationFailed(
            "outside_shift",
            "The window is not inside the engineer's working hours.",
            {"start": "Outside the engineer's shift."},
        )
    on_leave = db.session.scalar(
        sa.select(EngineerLeave.id).where(
            EngineerLeave.engineer_id == engineer.id, EngineerLeave.starts_at < end, EngineerLeave.ends_at > start
        )
    )
    if on_leave is not None:
        raise ValidationFailed(
            "on_leave", "The engineer is on leave during this window.", {"start": "The engineer is on leave."}
        )


def _check_overlap(sr: ServiceRequest, engineer: Engineer, start: datetime, end: datetime) -> None:
    """No other booked appointment of the engineer closer than the drive between the two customers (409)."""
    others = db.session.scalars(
        sa.select(Appointment)
        .where(
            Appointment.engineer_id == engineer.id,
            Appointment.status == BOOKED,
            Appointment.request_id != sr.id,
            Appointment.starts_at < end + NEIGHBOURS,
            Appointment.ends_at > start - NEIGHBOURS,
        )
        .options(joinedload(Appointment.request).joinedload(ServiceRequest.customer))
        .order_by(Appointment.starts_at)
    )
    for other in others:
        travel = _travel(sr.customer, other.request.customer)
        if other.starts_at < end + travel and start < other.ends_at + travel:
            raise Conflict(
                "double_booked",
                f"The engineer has request {other.request.number} booked at {other.starts_at.isoformat()}–"
                f"{other.ends_at.isoformat()} (travel {int(travel.total_seconds() // 60)} min).",
                {"request_id": other.request_id},
                number=other.request.number,
            )


def _warnings(sr: ServiceRequest, end: datetime) -> list[dict]:
    codes = []
    if end > sr.required_by:
        codes.append("past_required_by")
    if end > sr.resolution_due:
        codes.append("past_resolution_due")
    return [{"code": code, "message": WARNING_MESSAGES[code]} for code in codes]


def _lock_engineer(engineer_id: int) -> Engineer | None:
    """The engineer's row, held until commit: bookings for one engineer queue here (the overlap check)."""
    return db.session.scalar(
        sa.select(Engineer)
        .where(Engineer.id == engineer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _check_who(sr: ServiceRequest, actor, engineer_id: int | None) -> None:
    role = str(actor.role) if actor is not None else None
    if role in DISPATCH:
        return
    if role == ENGINEER:
        mine = engineer_for_user(actor)
        if mine is None or sr.engineer_id != mine.id or sr.status != ASSIGNED:
            raise Forbidden("not_assigned_engineer", "Only the engineer assigned to this request may book it.")
        if engineer_id is not None and engineer_id != mine.id:
            raise Forbidden("forbidden", "An engineer books appointments for themselves only.")
        return
    raise Forbidden("forbidden", f"Your role ({role}) may not book appointments.")


def book_appointment(
    sr: ServiceRequest, data: dict, actor, version: int | None = None, *, now: datetime | None = None
) -> tuple[ServiceRequest, list[dict]]:
    """Book the request's visit window, or change it (data: start, end, engineer_id?, reason?, note?).

    With engineer_id on an unassigned request (dispatcher, manager) it assigns first, through the loop's assign.
    Refusals change nothing: 403 who, 409 stale_version / illegal state / double_booked, 422 the fields or the
    calendar (outside_shift, on_leave). Returns the request and the warnings (past its due times)."""
    now = now or utcnow()
    start, end = data["start"].astimezone(UTC), data["end"].astimezone(UTC)
    engineer_id = data.get("engineer_id")
    reason = (data.get("reason") or "").strip() or None
    note = (data.get("note") or "").strip() or None
    sr = lock_requests([sr.id])[sr.id]
    check_version(sr, version)
    _check_who(sr, actor, engineer_id)
    _check_window(start, end, now)
    if sr.status in (AWAITING, LOCKED):
        if engineer_id is None:
            raise ValidationFailed(
                "validation_failed",
                "The request has no engineer: name one to assign and book in one step.",
                {"engineer_id": "Required while the request is unassigned."},
            )
    elif sr.status != ASSIGNED:
        raise Conflict(
            "illegal_transition", f"A request that is {sr.status} takes no appointment.", current_status=sr.status
        )
    elif engineer_id is not None and engineer_id != sr.engineer_id:
        raise ValidationFailed(
            "validation_failed",
            "The request is assigned to another engineer: hand it back or reassign it first.",
            {"engineer_id": "Not the assigned engineer."},
        )
    engineer = _lock_engineer(engineer_id or sr.engineer_id)
    if engineer is None or not engineer.active:
        raise ValidationFailed(
            "validation_failed", "No active engineer with this id.", {"engineer_id": "No such engineer."}
        )
    current = _booked_of(sr.id)
    if current is not None and (current.starts_at, current.ends_at, current.engineer_id) == (start, end, engineer.id):
        return sr, _warnings(sr, end)  # the same window again (a replayed offline op): nothing to change
    # A missed window booked again for the same engineer is a change too (改约): it needs the reason, and counts.
    missed = None
    if current is None:
        latest = current_appointments([sr.id]).get(sr.id)
        if latest is not None and latest.status == MISSED and latest.engineer_id == engineer.id:
            missed = latest
    if (current is not None or missed is not None) and reason is None:
        raise ValidationFailed(
            "reason_required", "Changing an appointment needs a reason.", {"reason": "Say why the window changes."}
        )
    _check_calendar(engineer, start, end)
    _check_overlap(sr, engineer, start, end)
    warnings = _warnings(sr, end)

    if sr.status != ASSIGNED:
        sr = perform(sr, "assign", actor, None, now=now, engineer_id=engineer.id, reason=reason or note)
    reschedules = missed.reschedules + 1 if missed is not None else 0
    if current is not None:
        current.status, current.closed_at = CANCELLED, now
        reschedules = current.reschedules + 1
        db.session.flush()  # the partial unique index: one booked row per request
    appointment = Appointment(
        request_id=sr.id,
        engineer_id=engineer.id,
        starts_at=start,
        ends_at=end,
        status=BOOKED,
        reschedules=reschedules,
        set_by_id=actor.id if actor is not None else None,
        reason=reason,
        note=note,
        created_at=now,
    )
    db.session.add(appointment)
    db.session.flush()
    known = transaction_cache(_BOOKED_OF)
    if sr.id in known:
        known[sr.id] = appointment
    add_event(
        sr,
        CHANGED_EVENT if current is not None or missed is not None else BOOKED_EVENT,
        actor,
        sr.status,
        sr.status,
        note=reason or note,
        data={
            "appointment_id": appointment.id,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "engineer_id": engineer.id,
            "engineer_name": engineer.name,
            "reschedules": reschedules,
            "warnings": [w["code"] for w in warnings],
        },
        at=now,
    )
    # The appointment is part of the request (its `appointment` object): the request's version moves with it, so
    # a board or a form that read the old window gets 409 stale_version instead of overwriting the new one.
    sr.updated_at = now
    db.session.flush()
    log.info(
        "appointment of %s %s by %s: %s..%s", sr.number, "changed" if current else "booked", _who(actor), start, end
    )
    return sr, warnings


# ---------------------------------------------------------------- proposing a window


def earliest_free_window(
    engineer: Engineer,
    length: timedelta,
    not_before: datetime,
    customer: Customer | None = None,
    horizon: timedelta = schedule.HORIZON,
) -> tuple[datetime, datetime] | None:
    """The first window of *length* from *not_before* inside one of the engineer's shifts, off leave, and clear of
    their booked appointments with the drive from and to *customer* (what book_appointment would accept)."""
    calendars = Calendars.load([engineer.id], not_before, not_before + horizon)
    place = (customer.lat, customer.lng) if customer is not None else None
    return calendars.first_window(engineer, length, not_before, place)


# ---------------------------------------------------------------- what the loop's steps do to it


def _close(appointment: Appointment, status: str, sr: ServiceRequest, event: str, actor, at: datetime, note=None):
    appointment.status, appointment.closed_at = status, at
    db.session.flush()
    add_event(
        sr,
        event,
        actor,
        sr.status,
        sr.status,
        note=note,
        data={
            "appointment_id": appointment.id,
            "start": appointment.starts_at.isoformat(),
            "end": appointment.ends_at.isoformat(),
            "engineer_id": appointment.engineer_id,
        },
        at=at,
    )


def _on_event(sr, event=None, **_kw) -> None:
    """Arriving on site keeps the appointment."""
    if event is None or event.action != "arrive":
        return
    appointment = _booked_of(sr.id)
    if appointment is not None:
        _close(appointment, KEPT, sr, KEPT_EVENT, None, event.at)


def _on_visit(visit, request=None, **_kw) -> None:
    """A visit recorded without the arrive step keeps it too."""
    appointment = _booked_of(request.id)
    if appointment is not None:
        _close(appointment, KEPT, request, KEPT_EVENT, None, visit.arrived_at)


def _booked_in_batch(new_rows: list) -> set[int]:
    """The requests with a booked window when a batch of changes (requests.signals: new_rows) began, read once per
    batch: a batch (the sweep's locks and releases) books nothing, so a request not in it has no window to close."""
    cache = transaction_cache(_BATCH_BOOKED)
    if cache.get("batch") is not new_rows:
        cache["batch"] = new_rows
        with db.session.no_autoflush:
            cache["ids"] = set(
                db.session.scalars(sa.select(Appointment.request_id).where(Appointment.status == BOOKED))
            )
    return cache["ids"]


_BATCH_BOOKED = "appointments_booked_in_batch"


def _on_status(sr, event=None, new_rows=None, **_kw) -> None:
    """The engineer let go of the job (hand back, release) or the request was cancelled: the window is off."""
    if event is None or event.action == "visit" or event.to_status not in UNOWNED | {REQUEST_CANCELLED}:
        return
    if new_rows is not None and sr.id not in _booked_in_batch(new_rows):
        return
    appointment = _booked_of(sr.id)
    if appointment is not None:
        _close(appointment, CANCELLED, sr, CANCELLED_EVENT, None, event.at, note=event.note)


def _answer_appointments(request_ids) -> dict[int, dict]:
    return {request_id: as_dict(row) for request_id, row in current_appointments(request_ids).items()}


signals.appointments_wanted.connect(_answer_appointments)
signals.event_added.connect(_on_event)
signals.visit_recorded.connect(_on_visit)
signals.status_changed.connect(_on_status)


# ---------------------------------------------------------------- the customer


def ask_for_another_window(sr: ServiceRequest, note: str | None, *, now: datetime | None = None) -> Appointment:
    """The customer, from the QR page, asks for another window: a flag and an event, not a change (409 when there
    is no booked appointment)."""
    now = now or utcnow()
    sr = lock_requests([sr.id])[sr.id]
    appointment = _booked_of(sr.id)
    if appointment is None:
        raise Conflict("no_appointment", "There is no booked appointment to change.")
    note = (note or "").strip()[:500] or None
    appointment.change_requested_at, appointment.change_request_note = now, note
    db.session.flush()
    add_event(
        sr,
        ASKED_EVENT,
        None,
        sr.status,
        sr.status,
        note=note,
        data={"appointment_id": appointment.id},
        at=now,
        actor_label="customer",
    )
    return appointment


# ---------------------------------------------------------------- the sweep


def sweep_appointments(now: datetime) -> int:
    """Booked windows that ended MISSED_AFTER ago with nobody on site become missed. Only due rows; idempotent."""
    due = db.session.scalars(
        sa.select(Appointment)
        .where(Appointment.status == BOOKED, Appointment.ends_at <= now - MISSED_AFTER)
        .order_by(Appointment.id)
        .with_for_update(skip_locked=True)
    ).all()
    for appointment in due:
        sr = db.session.get(ServiceRequest, appointment.request_id)
        _close(appointment, MISSED, sr, MISSED_EVENT, None, now)
    return len(due)
